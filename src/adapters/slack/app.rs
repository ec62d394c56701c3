//! What Deckhand does with Slack events, whichever transport delivered them: mentions, direct
//! messages and replies in its threads become messages for the shared intake; slash commands
//! open a thread; button clicks become typed [`Click`]s that go through the same governance
//! as typed replies ([`Bot::click`]).

use super::render;
use super::surface::SlackSurface;
use super::threads::{SlackThread, PLATFORM};
use super::web_api::{MessageRef, Retry, WebApi};
use crate::adapters::delivery::intake::{Claim, Clicked, Intake};
use crate::adapters::delivery::outbox::Outbox;
use crate::bot::Bot;
use crate::chat::Click;
use serde::Deserialize;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// Fields of an event that slack-morphism's typed models do not all expose.
#[derive(Debug, Default, Deserialize)]
pub struct EventMeta {
    /// Set when a bot (any bot) posted the message.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// `bot_message`, `message_changed`, ... (absent for plain user messages).
    #[serde(default)]
    pub subtype: Option<String>,
}

impl EventMeta {
    /// Reads the meta fields of `payload.event` from a raw `event_callback` JSON value.
    pub fn of_callback(payload: &serde_json::Value) -> EventMeta {
        payload
            .get("event")
            .and_then(|e| EventMeta::deserialize(e).ok())
            .unwrap_or_default()
    }
}

/// The Slack side of Deckhand, shared by the Events API and Socket Mode transports.
pub struct SlackApp {
    intake: Intake<SlackSurface>,
    api: WebApi,
    /// The bot's own user id (`U…`), from `auth.test`.
    bot_user: String,
}

/// A message for the bot, extracted from an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// Where it continues.
    pub thread: SlackThread,
    /// Slack user id.
    pub user: String,
    /// Text without the bot mention, entities decoded.
    pub text: String,
}

/// Removes mentions of `bot_user` and decodes Slack's three escaped characters.
pub fn clean_text(text: &str, bot_user: &str) -> String {
    let mut out = text.to_string();
    for pattern in [format!("<@{bot_user}>"), format!("<@{bot_user}|")] {
        while let Some(start) = out.find(&pattern) {
            let end = out[start..]
                .find('>')
                .map(|i| start + i + 1)
                .unwrap_or(out.len());
            out.replace_range(start..end, " ");
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text a slash command stands for: `/deploy x y` -> `deploy x y`; `/deckhand status` ->
/// `status`; a bare `/deckhand` asks for help.
pub fn command_text(command: &str, text: &str) -> String {
    let name = command.trim_start_matches('/');
    let text = text.trim();
    match name {
        "deckhand" if text.is_empty() => "help".to_string(),
        "deckhand" => text.to_string(),
        _ if text.is_empty() => name.to_string(),
        _ => format!("{name} {text}"),
    }
}

impl SlackApp {
    /// The app; `bot_user` is the bot's own user id.
    pub fn new(
        bot: Arc<Bot>,
        outbox: Outbox<SlackSurface>,
        api: WebApi,
        bot_user: String,
    ) -> SlackApp {
        SlackApp {
            intake: Intake::new(bot, outbox, PLATFORM),
            api,
            bot_user,
        }
    }

    /// The shared intake: turn locks, background handlers, the bot and the outbox.
    pub fn intake(&self) -> &Intake<SlackSurface> {
        &self.intake
    }

    /// Decides whether an event is addressed to the bot. Mentions in channels arrive twice
    /// (`app_mention` and `message`); only `app_mention` counts, so each is handled once.
    pub async fn addressed(
        &self,
        team: &str,
        event: &SlackEventCallbackBody,
        meta: &EventMeta,
    ) -> Option<Said> {
        if meta.bot_id.is_some()
            || meta
                .subtype
                .as_deref()
                .is_some_and(|s| s != "thread_broadcast")
        {
            return None;
        }
        match event {
            SlackEventCallbackBody::AppMention(m) => {
                if m.user.0 == self.bot_user {
                    return None;
                }
                let ts = &m.origin.ts.0;
                let thread_ts = m.origin.thread_ts.as_ref().map(|t| &t.0).unwrap_or(ts);
                Some(Said {
                    thread: SlackThread::new(team, &m.channel.0, thread_ts),
                    user: m.user.0.clone(),
                    text: clean_text(m.content.text.as_deref().unwrap_or(""), &self.bot_user),
                })
            }
            SlackEventCallbackBody::Message(m) => {
                // Subtypes were checked on the raw event above (thread_broadcast is a reply).
                if m.sender.bot_id.is_some() {
                    return None;
                }
                let user = m.sender.user.as_ref()?.0.clone();
                if user == self.bot_user {
                    return None;
                }
                let channel = m.origin.channel.as_ref()?.0.clone();
                let raw = m
                    .content
                    .as_ref()
                    .and_then(|c| c.text.clone())
                    .unwrap_or_default();
                let ts = m.origin.ts.0.clone();
                let direct =
                    matches!(m.origin.channel_type, Some(SlackChannelType(ref t)) if t == "im");
                let thread_ts = m.origin.thread_ts.as_ref().map(|t| t.0.clone());
                if direct {
                    let thread =
                        SlackThread::new(team, &channel, thread_ts.as_deref().unwrap_or(&ts));
                    return Some(Said {
                        thread,
                        user,
                        text: clean_text(&raw, &self.bot_user),
                    });
                }
                // In channels: only plain replies inside threads the bot takes part in.
                let thread_ts = thread_ts.filter(|t| *t != ts)?;
                if raw.contains(&format!("<@{}", self.bot_user)) {
                    return None;
                }
                let thread = SlackThread::new(team, &channel, &thread_ts);
                match self.intake.bot().store().in_thread(&thread.key()).await {
                    Ok(true) => Some(Said {
                        thread,
                        user,
                        text: clean_text(&raw, &self.bot_user),
                    }),
                    Ok(false) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell whether the bot is in this thread; ignoring the reply");
                        None
                    }
                }
            }
            _ => None,
        }
    }

    /// Handles one Events API `event_callback` (from HTTP or Socket Mode).
    pub async fn on_event(&self, callback: SlackPushEventCallback, meta: EventMeta) {
        let event_id = callback.event_id.0.clone();
        let Some(said) = self
            .addressed(&callback.team_id.0, &callback.event, &meta)
            .await
        else {
            tracing::debug!(event_id = %event_id, "event not addressed to the bot");
            return;
        };
        self.deliver(said, Some(event_id)).await;
    }

    /// Passes a message to the bot, then lets the outbox retire answered buttons.
    pub async fn deliver(&self, said: Said, event_id: Option<String>) {
        self.intake
            .message(said.thread.key(), &said.user, said.text, event_id)
            .await;
    }

    /// A slash command: posts the command in the channel and continues in that message's thread.
    pub async fn on_command(&self, cmd: SlackCommandEvent) {
        // Socket Mode may redeliver a command; it must not open a second thread.
        match self
            .intake
            .claim(&format!("command:{}", cmd.trigger_id.0))
            .await
        {
            Claim::New => {}
            Claim::Seen => return,
            Claim::Unknown(text) => {
                // Nothing was done; only the person who typed the command is told.
                let reply = serde_json::json!({"response_type": "ephemeral", "text": text});
                if let Err(e) = self.api.respond(cmd.response_url.0.as_ref(), &reply).await {
                    tracing::warn!(error = %e, "cannot answer the slash command");
                }
                return;
            }
        }
        let text = command_text(&cmd.command.0, cmd.text.as_deref().unwrap_or(""));
        let typed = format!(
            "{} {}",
            cmd.command.0,
            cmd.text.as_deref().unwrap_or("").trim()
        );
        let shown = format!(
            "<@{}> asked: `{}`",
            cmd.user_id.0,
            render::escape(typed.trim()).replace('`', "'")
        );
        let request = SlackApiChatPostMessageRequest::new(
            cmd.channel_id.clone(),
            SlackMessageContent::new().with_text(shown),
        );
        let posted: Result<MessageRef, _> = self
            .api
            .call_with_retry("chat.postMessage", &request, Retry::NORMAL)
            .await;
        match posted {
            Ok(r) => {
                let thread = SlackThread::new(&cmd.team_id.0, &cmd.channel_id.0, &r.ts);
                let said = Said {
                    thread,
                    user: cmd.user_id.0.clone(),
                    text,
                };
                // Claimed above, before the post.
                self.deliver(said, None).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, command = %cmd.command.0, "cannot open a thread for a slash command");
                let reply = serde_json::json!({
                    "response_type": "ephemeral",
                    "text": format!("I could not post in this channel ({e}). Invite me with `/invite @Deckhand`, or send me a direct message."),
                });
                if let Err(e) = self.api.respond(cmd.response_url.0.as_ref(), &reply).await {
                    tracing::warn!(error = %e, "cannot answer the slash command either");
                }
            }
        }
    }

    /// A Block Kit interaction: Confirm/Cancel and Approve/Reject buttons.
    pub async fn on_interaction(&self, event: SlackInteractionEvent) {
        let SlackInteractionEvent::BlockActions(ba) = event else {
            tracing::debug!("interaction other than block_actions ignored");
            return;
        };
        let Some(user) = ba.user.as_ref().map(|u| u.id.0.clone()) else {
            return;
        };
        let team = ba.team.id.0.clone();
        let (message_ts, channel) = match &ba.container {
            SlackInteractionActionContainer::Message(m) => (
                m.message_ts.0.clone(),
                m.channel_id.as_ref().map(|c| c.0.clone()),
            ),
            _ => return,
        };
        let Some(channel) = channel.or_else(|| ba.channel.as_ref().map(|c| c.id.0.clone())) else {
            return;
        };
        let thread_ts = ba
            .message
            .as_ref()
            .and_then(|m| m.origin.thread_ts.as_ref().map(|t| t.0.clone()))
            .unwrap_or_else(|| message_ts.clone());
        let thread = SlackThread::new(&team, &channel, &thread_ts);
        let key = thread.key();
        // A redelivered click (Socket Mode retries) must not decide twice.
        match self
            .intake
            .claim(&format!("action:{}", ba.trigger_id.0))
            .await
        {
            Claim::New => {}
            Claim::Seen => return,
            Claim::Unknown(text) => return self.intake.tell(&key, text),
        }
        let shown = ba
            .message
            .as_ref()
            .and_then(|m| m.content.text.clone())
            .unwrap_or_default();
        let on = Clicked {
            message_id: &message_ts,
            shown: &shown,
        };
        for action in ba.actions.iter().flatten() {
            let Some(click) = click_of(action) else {
                continue;
            };
            self.intake.click(key.clone(), &user, click, on, None).await;
        }
    }
}

/// The [`Click`] a Block Kit button stands for; `None` (logged) for a button Deckhand did not
/// post or an approval button without its id.
fn click_of(action: &SlackInteractionActionInfo) -> Option<Click> {
    let approval_id = || {
        let id = action.value.as_deref().and_then(|v| v.parse().ok());
        if id.is_none() {
            tracing::warn!(value = ?action.value, "approval button without an approval id");
        }
        id
    };
    match action.action_id.0.as_str() {
        render::CONFIRM => Some(Click::Confirm),
        render::CANCEL => Some(Click::Cancel),
        render::APPROVE => approval_id().map(Click::Approve),
        render::REJECT => approval_id().map(Click::Reject),
        other => {
            tracing::debug!(action_id = other, "unknown button ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_removed_and_entities_decoded() {
        assert_eq!(
            clean_text("<@UBOT> deploy  billionmail &lt;now&gt; &amp; go", "UBOT"),
            "deploy billionmail <now> & go"
        );
        assert_eq!(
            clean_text("hey <@UBOT|deckhand> status", "UBOT"),
            "hey status"
        );
        assert_eq!(clean_text("<@UOTHER> hi", "UBOT"), "<@UOTHER> hi");
    }

    #[test]
    fn slash_commands_become_sentences() {
        assert_eq!(
            command_text("/deploy", "billionmail staging"),
            "deploy billionmail staging"
        );
        assert_eq!(
            command_text("/rollback", " payments-api "),
            "rollback payments-api"
        );
        assert_eq!(
            command_text("/deckhand", "status billionmail"),
            "status billionmail"
        );
        assert_eq!(command_text("/deckhand", ""), "help");
        assert_eq!(command_text("/status", ""), "status");
    }
}
