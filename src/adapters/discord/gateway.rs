//! The gateway: a serenity client that receives messages (mentions, DMs, replies in
//! Deckhand's threads) and, unless the application has an interactions endpoint URL,
//! interactions. Needs the privileged *Message Content* intent to read message text.
//!
//! Events are taken raw: a payload that serenity's typed models reject (older or newer
//! fields) still arrives, as `Unknown`, and goes through the same JSON reading as the HTTP
//! endpoint's.

use super::app::{immediate_response, needs_work, DiscordApp};
use serde_json::Value;
use serenity::all::{Context, Event, GatewayIntents, RawEventHandler};
use serenity::async_trait;
use std::sync::Arc;

/// What a gateway dispatch means for Deckhand.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// An interaction, as JSON.
    Interaction(Value),
    /// A message, as JSON.
    Message(Value),
}

/// Reads a dispatch, typed or not.
pub fn inbound(event: &Event) -> Option<Inbound> {
    match event {
        Event::InteractionCreate(e) => serde_json::to_value(&e.interaction)
            .ok()
            .map(Inbound::Interaction),
        Event::MessageCreate(e) => serde_json::to_value(&e.message).ok().map(Inbound::Message),
        Event::Unknown(u) if u.kind == "INTERACTION_CREATE" => {
            Some(Inbound::Interaction(u.value.clone()))
        }
        Event::Unknown(u) if u.kind == "MESSAGE_CREATE" => Some(Inbound::Message(u.value.clone())),
        Event::Ready(r) => {
            tracing::info!(user = %r.ready.user.name, guilds = r.ready.guilds.len(), "Discord gateway ready");
            None
        }
        _ => None,
    }
}

struct Handler {
    app: Arc<DiscordApp>,
}

#[async_trait]
impl RawEventHandler for Handler {
    async fn raw_event(&self, _ctx: Context, event: Event) {
        match inbound(&event) {
            Some(Inbound::Message(v)) => {
                let app = self.app.clone();
                self.app.spawn(async move { app.on_message(v).await });
            }
            Some(Inbound::Interaction(v)) => {
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
            None => {}
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
    let mut client = match builder.raw_event_handler(Handler { app }).await {
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
