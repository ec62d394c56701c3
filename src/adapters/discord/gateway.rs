//! The gateway: a serenity client that receives messages (mentions, DMs, replies in
//! Deckhand's threads) and, unless the application has an interactions endpoint URL,
//! interactions. Needs the privileged *Message Content* intent to read message text.
//!
//! Events are taken raw: a payload that serenity's typed models reject (older or newer
//! fields) still arrives, as `Unknown`, and goes through the same JSON reading as the HTTP
//! endpoint's.

use super::app::{immediate_response, needs_work, DiscordApp};
use crate::adapters::adapter::Connection;
use serde_json::Value;
use serenity::all::{
    ConnectionStage, Context, Event, EventHandler, GatewayIntents, Interaction, RawEventHandler,
    ShardManager, ShardStageUpdateEvent,
};
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
        Event::InteractionCreate(e) => {
            // serenity's serialized interactions leave out the `type` tag; restore it.
            let kind = match &e.interaction {
                Interaction::Ping(_) => 1,
                Interaction::Command(_) => 2,
                Interaction::Component(_) => 3,
                Interaction::Autocomplete(_) => 4,
                Interaction::Modal(_) => 5,
                _ => 0,
            };
            let mut v = serde_json::to_value(&e.interaction).ok()?;
            v.as_object_mut()?.insert("type".into(), kind.into());
            Some(Inbound::Interaction(v))
        }
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
                self.app
                    .intake()
                    .spawn(async move { app.on_message(v).await });
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
                    self.app
                        .intake()
                        .spawn(async move { app.on_interaction(v).await });
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

/// Keeps `connection` in step with the shard's connection stage (Deckhand runs one shard).
struct StageWatch {
    connection: Connection,
}

#[async_trait]
impl EventHandler for StageWatch {
    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        let up = event.new == ConnectionStage::Connected;
        if up != self.connection.is_up() {
            tracing::info!(stage = %event.new, "Discord gateway connection changed");
        }
        self.connection.set(up);
    }
}

/// Starts the gateway client (serenity reconnects by itself); returns its shard manager, to
/// stop it, and its task. `connection` is up while the shard is connected.
pub async fn start(
    app: Arc<DiscordApp>,
    connection: Connection,
) -> Result<(Arc<ShardManager>, tokio::task::JoinHandle<()>), serenity::Error> {
    let builder =
        serenity::client::ClientBuilder::new_with_http(app.rest().gateway_http(), intents());
    let mut client = builder
        .raw_event_handler(Handler { app })
        .event_handler(StageWatch {
            connection: connection.clone(),
        })
        .await?;
    let shards = client.shard_manager.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = client.start().await {
            tracing::error!(error = %e, "Discord gateway stopped; check the token and that the Message Content intent is enabled");
        }
        connection.set(false);
    });
    Ok((shards, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serenity::model::event::GatewayEvent;

    /// A payload serenity's models accept whole: the interaction reaches the app with its type.
    #[test]
    fn typed_interactions_keep_their_type() {
        let frame = serde_json::json!({"op": 0, "s": 1, "t": "INTERACTION_CREATE", "d": {
            "id": "1", "application_id": "2", "type": 2, "token": "t", "version": 1,
            "guild_id": "3", "channel_id": "4", "locale": "en-US", "app_permissions": "0",
            "entitlements": [], "authorizing_integration_owners": {}, "attachment_size_limit": 1,
            "member": {"user": {"id": "5", "username": "a", "discriminator": "0", "global_name": null, "avatar": null},
                       "roles": [], "permissions": "0", "joined_at": "2026-01-01T00:00:00+00:00",
                       "deaf": false, "mute": false, "flags": 0},
            "data": {"id": "6", "name": "deploy", "type": 1,
                     "options": [{"type": 3, "name": "service", "value": "billionmail"}]}}});
        let GatewayEvent::Dispatch(_, event) = serde_json::from_value(frame).unwrap() else {
            panic!("not a dispatch");
        };
        assert!(matches!(event, Event::InteractionCreate(_)), "{event:?}");
        let Some(Inbound::Interaction(v)) = inbound(&event) else {
            panic!("not handed to the app");
        };
        assert_eq!(v["type"], 2);
        assert_eq!(v["member"]["user"]["id"], "5");
        assert_eq!(v["data"]["options"][0]["value"], "billionmail");
    }
}
