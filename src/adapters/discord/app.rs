//! What Deckhand does with Discord interactions and messages, whichever way they came in
//! (gateway or HTTP interactions endpoint). Payloads are read as JSON with only the fields
//! needed, so minimal and full payloads alike are understood.

use super::commands;
use super::render;
use super::rest::DiscordRest;
use super::surface::DiscordSurface;
use super::threads::{DiscordThread, DIRECT, PLATFORM};
use crate::adapters::delivery::intake::{Claim, Clicked, Intake};
use crate::adapters::delivery::outbox::Outbox;
use crate::bot::Bot;
use crate::chat::{Click, ThreadKey};
use serde_json::{json, Value};
use std::sync::Arc;

/// Interaction types.
const PING: u64 = 1;
const COMMAND: u64 = 2;
const COMPONENT: u64 = 3;
const AUTOCOMPLETE: u64 = 4;

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Who sent an interaction (guild member or DM user).
pub fn interaction_user(i: &Value) -> Option<&str> {
    str_at(i, &["member", "user", "id"]).or_else(|| str_at(i, &["user", "id"]))
}

/// `/deploy service:billionmail environment:staging`, as typed.
fn typed_command(data: &Value) -> String {
    let mut out = format!(
        "/{}",
        data.get("name").and_then(|n| n.as_str()).unwrap_or("?")
    );
    for o in data
        .get("options")
        .and_then(|o| o.as_array())
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(v)) = (o.get("name").and_then(|n| n.as_str()), o.get("value")) {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            out.push_str(&format!(" {n}:{v}"));
        }
    }
    out
}

/// The immediate answer to an interaction (Discord wants one within 3 seconds): PONG,
/// "thinking…" for commands, a silent acknowledgement for clicks, or autocomplete choices.
pub fn immediate_response(bot: &Bot, interaction: &Value) -> Option<Value> {
    match interaction.get("type").and_then(|t| t.as_u64())? {
        PING => Some(json!({ "type": 1 })),
        COMMAND => Some(json!({ "type": 5 })),
        COMPONENT => Some(json!({ "type": 6 })),
        AUTOCOMPLETE => Some(commands::autocomplete(
            bot.config(),
            interaction.get("data").unwrap_or(&Value::Null),
        )),
        _ => None,
    }
}

/// Does this interaction need work after the immediate answer?
pub fn needs_work(interaction: &Value) -> bool {
    matches!(
        interaction.get("type").and_then(|t| t.as_u64()),
        Some(COMMAND) | Some(COMPONENT)
    )
}

/// The Discord side of Deckhand.
pub struct DiscordApp {
    intake: Intake<DiscordSurface>,
    rest: DiscordRest,
    /// The application id (interaction webhooks).
    application_id: String,
    /// The bot's own user id.
    bot_user: String,
}

impl DiscordApp {
    /// The app for one bot user and application.
    pub fn new(
        bot: Arc<Bot>,
        outbox: Outbox<DiscordSurface>,
        rest: DiscordRest,
        application_id: String,
        bot_user: String,
    ) -> DiscordApp {
        DiscordApp {
            intake: Intake::new(bot, outbox, PLATFORM),
            rest,
            application_id,
            bot_user,
        }
    }

    /// The bot.
    pub fn bot(&self) -> &Arc<Bot> {
        self.intake.bot()
    }

    /// The REST client.
    pub fn rest(&self) -> &DiscordRest {
        &self.rest
    }

    /// The shared intake: turn locks, background handlers, the bot and the outbox.
    pub fn intake(&self) -> &Intake<DiscordSurface> {
        &self.intake
    }

    /// The key of the conversation in channel `channel` (of `guild`, if any): a thread keeps
    /// its own key; `None` for an ordinary guild channel (a thread must be started there).
    async fn existing_thread(
        &self,
        guild: Option<&str>,
        channel: &str,
        hint: Option<&Value>,
    ) -> Option<ThreadKey> {
        let Some(guild) = guild else {
            return Some(DiscordThread::new(DIRECT, channel, channel).key());
        };
        if let Ok(Some(key)) = self.bot().store().find_thread(PLATFORM, channel).await {
            return Some(key);
        }
        // The interaction's partial channel says what it is; otherwise ask Discord.
        let (kind, parent) = match hint {
            Some(c) if c.get("type").is_some() => (
                c.get("type").and_then(|t| t.as_u64()).unwrap_or(0),
                c.get("parent_id")
                    .and_then(|p| p.as_str())
                    .map(str::to_string),
            ),
            _ => match self.rest.channel(channel).await {
                Ok(info) => (u64::from(info.kind), info.parent_id),
                Err(e) => {
                    tracing::warn!(channel, error = %e, "cannot read the channel");
                    (0, None)
                }
            },
        };
        match (kind, parent) {
            (10..=12, Some(parent)) => Some(DiscordThread::new(guild, &parent, channel).key()),
            _ => None,
        }
    }

    /// Work for a command or click, after the immediate answer went out.
    pub async fn on_interaction(&self, interaction: Value) {
        let Some(user) = interaction_user(&interaction).map(str::to_string) else {
            tracing::warn!("interaction without a user ignored");
            return;
        };
        let id = str_at(&interaction, &["id"]).unwrap_or("").to_string();
        // Claimed before any side effect (a thread, a decision), so a replayed or redelivered
        // interaction does nothing twice; the bot is then handed no event id.
        match self.intake.claim(&format!("interaction:{id}")).await {
            Claim::New => {}
            Claim::Seen => return,
            Claim::Unknown(text) => return self.cannot_tell(&interaction, text).await,
        }
        match interaction.get("type").and_then(|t| t.as_u64()) {
            Some(COMMAND) => self.on_command(&interaction, &user).await,
            Some(COMPONENT) => self.on_click(&interaction, &user).await,
            _ => {}
        }
    }

    async fn on_command(&self, interaction: &Value, user: &str) {
        let data = interaction.get("data").cloned().unwrap_or(Value::Null);
        let token = str_at(interaction, &["token"]).unwrap_or("");
        let guild = str_at(interaction, &["guild_id"]);
        let Some(channel) = str_at(interaction, &["channel_id"])
            .or_else(|| str_at(interaction, &["channel", "id"]))
        else {
            return;
        };
        let typed = typed_command(&data);
        let asked = format!("<@{user}> asked: `{}`", typed.replace('`', "'"));
        let request = match commands::request(self.bot().config(), &data) {
            Ok(r) => r,
            Err(reply) => {
                self.edit_original(token, &format!("{asked}\n{reply}"))
                    .await;
                return;
            }
        };
        let key = match self
            .existing_thread(guild, channel, interaction.get("channel"))
            .await
        {
            Some(key) => {
                self.edit_original(token, &asked).await;
                key
            }
            None => {
                // A channel: the answer becomes the first message of a new thread.
                let first = format!("{asked} — continuing in the thread.");
                let Some(message) = self.edit_original(token, &first).await else {
                    return;
                };
                let name = render::head(typed.trim_start_matches('/'), 90);
                match self.rest.start_thread(channel, &message, &name).await {
                    Ok(thread) => {
                        DiscordThread::new(guild.unwrap_or(DIRECT), channel, &thread).key()
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a thread");
                        let why = format!(
                            "{asked}\nI could not open a thread here ({e}). Give me the *Create Public Threads* and *Send Messages in Threads* permissions, or use the command inside a thread."
                        );
                        self.edit_original(token, &why).await;
                        return;
                    }
                }
            }
        };
        self.intake
            .structured(key, user, typed, request, None)
            .await;
    }

    /// The store could not tell whether the interaction is new, so nothing is done: say so,
    /// in the command's deferred answer or in the clicked message's thread.
    async fn cannot_tell(&self, interaction: &Value, text: String) {
        let token = str_at(interaction, &["token"]).unwrap_or("");
        if interaction.get("type").and_then(|t| t.as_u64()) == Some(COMMAND) {
            self.edit_original(token, &text).await;
            return;
        }
        let Some(channel) = str_at(interaction, &["channel_id"]) else {
            return;
        };
        let body = render::message(&text, json!([]));
        if let Err(e) = self.rest.post(channel, &body).await {
            tracing::warn!(error = %e, "cannot say that the click was not acted on");
        }
    }

    /// Edits the deferred answer; returns the message id.
    async fn edit_original(&self, token: &str, content: &str) -> Option<String> {
        let body = render::message(content, json!([]));
        match self
            .rest
            .edit_original(&self.application_id, token, &body)
            .await
        {
            Ok(m) => Some(m.id),
            Err(e) => {
                tracing::warn!(error = %e, "cannot edit the interaction's answer");
                None
            }
        }
    }

    async fn on_click(&self, interaction: &Value, user: &str) {
        let custom_id = str_at(interaction, &["data", "custom_id"]).unwrap_or("");
        let Some(message) = interaction.get("message") else {
            return;
        };
        let message_id = str_at(message, &["id"]).unwrap_or("").to_string();
        let shown = str_at(message, &["content"]).unwrap_or("").to_string();
        let Some(channel) =
            str_at(message, &["channel_id"]).or_else(|| str_at(interaction, &["channel_id"]))
        else {
            return;
        };
        let guild = str_at(interaction, &["guild_id"]);
        let Some(key) = self
            .existing_thread(guild, channel, interaction.get("channel"))
            .await
        else {
            tracing::debug!(channel, "click outside Deckhand's threads ignored");
            return;
        };
        let Some(click) = click_of(custom_id) else {
            return;
        };
        let on = Clicked {
            message_id: &message_id,
            shown: &shown,
        };
        self.intake.click(key, user, click, on, None).await;
    }

    /// A gateway message: handled when it is in one of Deckhand's threads, in a DM, or
    /// mentions the bot; bots (including itself) are ignored.
    pub async fn on_message(&self, message: Value) {
        if message
            .get("author")
            .and_then(|a| a.get("bot"))
            .and_then(|b| b.as_bool())
            == Some(true)
        {
            return;
        }
        let Some(user) = str_at(&message, &["author", "id"]).map(str::to_string) else {
            return;
        };
        if user == self.bot_user {
            return;
        }
        let (Some(id), Some(channel)) =
            (str_at(&message, &["id"]), str_at(&message, &["channel_id"]))
        else {
            return;
        };
        // Only what people type (default messages and replies), not pins, joins or other
        // system messages.
        let kind = message.get("type").and_then(|t| t.as_u64()).unwrap_or(0);
        if kind != 0 && kind != 19 {
            return;
        }
        let content = str_at(&message, &["content"]).unwrap_or("");
        let mentioned = content.contains(&format!("<@{}>", self.bot_user))
            || content.contains(&format!("<@!{}>", self.bot_user));
        let guild = str_at(&message, &["guild_id"]);
        let text = clean_text(content, &self.bot_user);
        if text.is_empty() && !mentioned {
            // Attachments only, or no Message Content intent: nothing to read.
            return;
        }
        let text = if text.is_empty() {
            "help".to_string()
        } else {
            text
        };
        let event_id = format!("message:{id}");
        // A known thread, or a DM.
        let known = match guild {
            None => Some(DiscordThread::new(DIRECT, channel, channel).key()),
            Some(_) => self
                .bot()
                .store()
                .find_thread(PLATFORM, channel)
                .await
                .ok()
                .flatten(),
        };
        if let Some(key) = known {
            // Nothing happens before the bot's turn: the bot claims the event.
            self.intake.message(key, &user, text, Some(event_id)).await;
            return;
        }
        // Claimed here, before the reply that opens a thread, and only for messages addressed
        // to the bot (the gateway sees every message).
        if !mentioned {
            return;
        }
        match self.intake.claim(&event_id).await {
            Claim::New => {}
            Claim::Seen => return,
            Claim::Unknown(text) => {
                // No thread yet: answer in the channel the mention came from.
                let body = render::message(&text, json!([]));
                if let Err(e) = self.rest.post(channel, &body).await {
                    tracing::warn!(error = %e, "cannot say that the mention was not acted on");
                }
                return;
            }
        }
        let key = match self.existing_thread(guild, channel, None).await {
            Some(key) => key,
            None => match self
                .thread_for_mention(guild, channel, id, &user, &text)
                .await
            {
                Some(key) => key,
                None => return,
            },
        };
        self.intake.message(key, &user, text, None).await;
    }

    /// A mention in an ordinary channel: the bot's first reply (to message `id`) starts a
    /// thread, where the conversation continues; `None` (logged) when either step fails.
    async fn thread_for_mention(
        &self,
        guild: Option<&str>,
        channel: &str,
        id: &str,
        user: &str,
        text: &str,
    ) -> Option<ThreadKey> {
        let mut first = render::message(
            &format!(
                "<@{user}> asked: {} — continuing in the thread.",
                render::head(text, 300)
            ),
            json!([]),
        );
        first["message_reference"] = json!({ "message_id": id, "fail_if_not_exists": false });
        let posted = match self.rest.post(channel, &first).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot answer in the channel");
                return None;
            }
        };
        match self
            .rest
            .start_thread(channel, &posted.id, &render::head(text, 90))
            .await
        {
            Ok(thread) => Some(DiscordThread::new(guild.unwrap_or(DIRECT), channel, &thread).key()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a thread");
                None
            }
        }
    }
}

/// The [`Click`] a button's `custom_id` stands for; `None` (logged) for a button Deckhand did
/// not post.
fn click_of(custom_id: &str) -> Option<Click> {
    let approval_id = |rest: &str| rest.parse::<i64>().ok();
    if custom_id == render::CONFIRM {
        Some(Click::Confirm)
    } else if custom_id == render::CANCEL {
        Some(Click::Cancel)
    } else if let Some(rest) = custom_id.strip_prefix(render::APPROVE) {
        approval_id(rest).map(Click::Approve)
    } else if let Some(rest) = custom_id.strip_prefix(render::REJECT) {
        approval_id(rest).map(Click::Reject)
    } else {
        tracing::debug!(custom_id, "unknown button ignored");
        None
    }
}

/// Removes mentions of the bot (`<@id>`, `<@!id>`) and squeezes spaces.
pub fn clean_text(text: &str, bot_user: &str) -> String {
    text.replace(&format!("<@!{bot_user}>"), " ")
        .replace(&format!("<@{bot_user}>"), " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_removed() {
        assert_eq!(clean_text("<@42> deploy  x", "42"), "deploy x");
        assert_eq!(clean_text("hey <@!42> status", "42"), "hey status");
        assert_eq!(clean_text("<@7> hi", "42"), "<@7> hi");
    }

    #[test]
    fn commands_are_echoed_as_typed() {
        let data = json!({"name": "deploy", "options": [
            {"type": 3, "name": "service", "value": "billionmail"},
            {"type": 3, "name": "environment", "value": "staging"}]});
        assert_eq!(
            typed_command(&data),
            "/deploy service:billionmail environment:staging"
        );
    }
}
