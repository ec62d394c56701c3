//! Slack as a delivery [`Surface`]: Block Kit rendering and `chat.postMessage` / `chat.update`
//! through the Web API client.

use super::render;
use super::threads::SlackThread;
use super::web_api::{ApiError, MessageRef, WebApi};
use crate::adapters::delivery::{BoxFut, Persistence, RunView, SendError, Surface};
use crate::chat::{StageState, ThreadKey};
use crate::pipeline::Phase;
use slack_morphism::prelude::*;

/// Posts and edits Slack messages.
pub struct SlackSurface {
    api: WebApi,
}

impl SlackSurface {
    /// A surface using `api`.
    pub fn new(api: WebApi) -> SlackSurface {
        SlackSurface { api }
    }
}

fn thread_of(key: &ThreadKey) -> Result<SlackThread, SendError> {
    SlackThread::from_key(key)
        .ok_or_else(|| SendError::Permanent(format!("{key} is not a Slack thread")))
}

impl From<ApiError> for SendError {
    fn from(e: ApiError) -> SendError {
        match e {
            ApiError::RateLimited(d) => SendError::RateLimited(d),
            ApiError::Transport(e) => SendError::Unknown(format!("no answer from Slack: {e}")),
            e if e.is_transient() => SendError::Transient(e.to_string()),
            e => SendError::Permanent(e.to_string()),
        }
    }
}

impl Surface for SlackSurface {
    type Content = SlackMessageContent;

    fn plain(&self, text: &str) -> SlackMessageContent {
        render::plain(text)
    }

    fn confirm(&self, text: &str) -> SlackMessageContent {
        render::confirm(text)
    }

    fn approval(&self, text: &str, approval_id: i64, note: Option<&str>) -> SlackMessageContent {
        render::approval(text, approval_id, note)
    }

    fn shown(&self, text: &str) -> String {
        render::escape(text)
    }

    fn answered(&self, shown: &str, outcome: &str) -> SlackMessageContent {
        render::answered_mrkdwn(shown, outcome)
    }

    fn status(&self, view: &RunView) -> SlackMessageContent {
        SlackMessageContent::new().with_text(render::status_text(view))
    }

    fn failure_note(
        &self,
        stage: &str,
        phase: Phase,
        state: StageState,
        lines: &[String],
    ) -> SlackMessageContent {
        // Already escaped and within the section limit.
        SlackMessageContent::new().with_text(render::failure_note(stage, phase, state, lines))
    }

    fn mention(&self, user: &str) -> String {
        format!("<@{user}>")
    }

    fn name(&self, identity: &str, person: &str) -> String {
        match identity.strip_prefix("slack:") {
            Some(u) => format!("<@{u}>"),
            None => person.to_string(),
        }
    }

    fn marks(&self) -> [&'static str; 4] {
        [
            ":white_check_mark:",
            ":x:",
            ":heavy_multiplication_x:",
            ":hourglass:",
        ]
    }

    fn post<'a>(
        &'a self,
        thread: &'a ThreadKey,
        content: SlackMessageContent,
        persistence: Persistence,
    ) -> BoxFut<'a, Result<String, SendError>> {
        Box::pin(async move {
            let t = thread_of(thread)?;
            let mut request = SlackApiChatPostMessageRequest::new(t.channel.into(), content);
            // No thread: a new top-level message (a conversation another surface starts).
            if !t.thread_ts.is_empty() {
                request = request.with_thread_ts(t.thread_ts.into());
            }
            let posted: MessageRef = self
                .api
                .call_with_retry("chat.postMessage", &request, persistence.retry())
                .await?;
            Ok(posted.ts)
        })
    }

    fn edit_once<'a>(
        &'a self,
        thread: &'a ThreadKey,
        id: &'a str,
        content: SlackMessageContent,
    ) -> BoxFut<'a, Result<(), SendError>> {
        Box::pin(async move {
            let t = thread_of(thread)?;
            let request =
                SlackApiChatUpdateRequest::new(t.channel.into(), content, id.to_string().into());
            let _: MessageRef = self.api.call("chat.update", &request).await?;
            Ok(())
        })
    }

    fn retrying(&self, error: &SendError) {
        if let Some(m) = self.api.metrics() {
            m.platform_retry("slack", error.retry_reason());
        }
    }
}
