//! Discord as a delivery [`Surface`]: JSON message bodies posted and edited over REST.

use super::render;
use super::rest::DiscordRest;
use super::threads::DiscordThread;
use crate::adapters::delivery::{
    with_retries_observed, BoxFut, Persistence, RunView, SendError, Surface,
};
use crate::chat::{StageState, ThreadKey};
use crate::pipeline::Phase;
use serde_json::Value;

/// Posts and edits Discord messages.
pub struct DiscordSurface {
    rest: DiscordRest,
}

impl DiscordSurface {
    /// A surface using `rest`.
    pub fn new(rest: DiscordRest) -> DiscordSurface {
        DiscordSurface { rest }
    }
}

fn channel_of(key: &ThreadKey) -> Result<String, SendError> {
    DiscordThread::from_key(key)
        .map(|t| t.thread)
        .ok_or_else(|| SendError::Permanent(format!("{key} is not a Discord thread")))
}

impl Surface for DiscordSurface {
    type Content = Value;

    fn plain(&self, text: &str) -> Value {
        render::message(text, serde_json::json!([]))
    }

    fn confirm(&self, text: &str) -> Value {
        render::confirm(text)
    }

    fn approval(&self, text: &str, approval_id: i64, note: Option<&str>) -> Value {
        match note {
            Some(note) => render::approval(&format!("{text}\n{note}"), approval_id),
            None => render::approval(text, approval_id),
        }
    }

    fn shown(&self, text: &str) -> String {
        text.to_string()
    }

    fn answered(&self, shown: &str, outcome: &str) -> Value {
        render::answered(shown, outcome)
    }

    fn status(&self, view: &RunView) -> Value {
        render::message(&render::status_text(view), serde_json::json!([]))
    }

    fn failure_note(
        &self,
        stage: &str,
        phase: Phase,
        state: StageState,
        lines: &[String],
    ) -> Value {
        render::message(
            &render::failure_note(stage, phase, state, lines),
            serde_json::json!([]),
        )
    }

    fn mention(&self, user: &str) -> String {
        format!("<@{user}>")
    }

    fn name(&self, identity: &str, person: &str) -> String {
        match identity.strip_prefix("discord:") {
            Some(u) => format!("<@{u}>"),
            None => person.to_string(),
        }
    }

    fn marks(&self) -> [&'static str; 4] {
        ["✅", "❌", "✖️", "⌛"]
    }

    fn post<'a>(
        &'a self,
        thread: &'a ThreadKey,
        content: Value,
        persistence: Persistence,
    ) -> BoxFut<'a, Result<String, SendError>> {
        Box::pin(async move {
            let channel = channel_of(thread)?;
            let posted = with_retries_observed(
                persistence.retry(),
                |e| self.retrying(e),
                || self.rest.post(&channel, &content),
            )
            .await?;
            Ok(posted.id)
        })
    }

    fn edit_once<'a>(
        &'a self,
        thread: &'a ThreadKey,
        id: &'a str,
        content: Value,
    ) -> BoxFut<'a, Result<(), SendError>> {
        Box::pin(async move {
            let channel = channel_of(thread)?;
            self.rest.edit(&channel, id, &content).await
        })
    }

    fn retrying(&self, error: &SendError) {
        if let Some(m) = self.rest.metrics() {
            m.platform_retry("discord", error.retry_reason());
        }
    }
}
