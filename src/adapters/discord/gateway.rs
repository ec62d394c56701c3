//! The gateway: a serenity client that receives messages (mentions, DMs, replies in
//! Deckhand's threads) and, unless the application has an interactions endpoint URL,
//! interactions. Needs the privileged *Message Content* intent to read message text.

use super::app::{immediate_response, needs_work, DiscordApp};
use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Message, Ready};
use serenity::async_trait;
use std::sync::Arc;

struct Handler {
    app: Arc<DiscordApp>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord gateway ready");
    }

    async fn message(&self, _ctx: Context, message: Message) {
        match serde_json::to_value(&message) {
            Ok(v) => {
                let app = self.app.clone();
                self.app.spawn(async move { app.on_message(v).await });
            }
            Err(e) => tracing::warn!(error = %e, "cannot read a gateway message"),
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let v = match serde_json::to_value(&interaction) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a gateway interaction");
                return;
            }
        };
        let Some(answer) = immediate_response(self.app.bot(), &v) else {
            return;
        };
        let id = v.get("id").and_then(|i| i.as_str()).unwrap_or("");
        let token = v.get("token").and_then(|t| t.as_str()).unwrap_or("");
        // Acknowledge first: Discord allows 3 seconds.
        if let Err(e) = self.app.rest().respond(id, token, &answer).await {
            tracing::warn!(error = %e, "cannot acknowledge an interaction");
            return;
        }
        if needs_work(&v) {
            let app = self.app.clone();
            self.app.spawn(async move { app.on_interaction(v).await });
        }
    }
}

/// The intents Deckhand asks for; `MESSAGE_CONTENT` must also be enabled for the bot in the
/// developer portal.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
}

/// Runs the gateway client until the process ends (serenity reconnects by itself).
pub async fn run(app: Arc<DiscordApp>) {
    let builder =
        serenity::client::ClientBuilder::new_with_http(app.rest().gateway_http(), intents());
    let mut client = match builder.event_handler(Handler { app }).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the Discord gateway client");
            return;
        }
    };
    if let Err(e) = client.start().await {
        tracing::error!(error = %e, "Discord gateway stopped");
    }
}
