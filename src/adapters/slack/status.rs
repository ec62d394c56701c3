//! One status message per run, edited in place. Edits are coalesced: the editor keeps only the
//! latest wanted text and sends at most one `chat.update` per interval, so a burst of output
//! lines costs a handful of calls. Rate limits wait for `Retry-After`, other failures back off,
//! and the final text is retried until it is delivered (or Slack says it never can be).

use super::web_api::{ApiError, MessageRef, Retry, WebApi};
use slack_morphism::prelude::*;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    content: SlackMessageContent,
    last: bool,
}

/// Edits one message; dropping it without [`StatusEditor::finish`] stops after the current edit.
pub struct StatusEditor {
    tx: watch::Sender<Wanted>,
    task: JoinHandle<()>,
}

/// Where the status message lives.
#[derive(Debug, Clone)]
pub struct StatusMessage {
    /// Channel id.
    pub channel: String,
    /// The message's ts.
    pub ts: String,
    /// Its thread (a final state that cannot be edited in is posted there instead).
    pub thread_ts: String,
}

impl StatusEditor {
    /// Starts editing `message`, which currently shows `shown`. Attempts are at least
    /// `interval` apart.
    pub fn start(
        api: WebApi,
        message: StatusMessage,
        shown: SlackMessageContent,
        interval: Duration,
    ) -> StatusEditor {
        let (tx, rx) = watch::channel(Wanted {
            content: shown.clone(),
            last: false,
        });
        let task = tokio::spawn(edit_loop(api, message, shown, rx, interval));
        StatusEditor { tx, task }
    }

    /// Asks for `content` to be shown (replacing any edit not sent yet).
    pub fn show(&self, content: SlackMessageContent) {
        self.tx.send_replace(Wanted {
            content,
            last: false,
        });
    }

    /// Shows the final `content`; the returned task ends once it is delivered or given up.
    pub fn finish(self, content: SlackMessageContent) -> JoinHandle<()> {
        self.tx.send_replace(Wanted {
            content,
            last: true,
        });
        self.task
    }
}

async fn edit_loop(
    api: WebApi,
    message: StatusMessage,
    mut delivered: SlackMessageContent,
    mut rx: watch::Receiver<Wanted>,
    interval: Duration,
) {
    // Earliest time of the next attempt (pacing, Retry-After, back-off).
    let mut not_before: Option<Instant> = None;
    let mut final_failures = 0u32;
    let mut backoff = Retry::PERSISTENT.first_backoff;
    let mut retry_now = false;
    loop {
        if !retry_now && rx.changed().await.is_err() {
            // The run's worker is gone without a final state (shutdown); nothing more to send.
            return;
        }
        retry_now = false;
        if let Some(at) = not_before {
            tokio::time::sleep_until(at).await;
        }
        let wanted = rx.borrow_and_update().clone();
        if wanted.content == delivered {
            if wanted.last {
                return;
            }
            continue;
        }
        let request = SlackApiChatUpdateRequest::new(
            message.channel.clone().into(),
            wanted.content.clone(),
            message.ts.clone().into(),
        );
        let result: Result<MessageRef, ApiError> = api.call("chat.update", &request).await;
        let attempted = Instant::now();
        not_before = Some(attempted + interval);
        let e = match result {
            Ok(_) => {
                delivered = wanted.content;
                backoff = Retry::PERSISTENT.first_backoff;
                if wanted.last {
                    return;
                }
                continue;
            }
            Err(e) => e,
        };
        if wanted.last {
            final_failures += 1;
        }
        let give_up_final =
            wanted.last && (!e.is_transient() || final_failures >= Retry::PERSISTENT.attempts);
        if give_up_final {
            tracing::warn!(error = %e, ts = %message.ts, "final state could not be edited in; posting it instead");
            post_instead(&api, &message, wanted.content).await;
            return;
        }
        if !e.is_transient() {
            // This edit cannot succeed (e.g. the message is not editable); the next state
            // may, and the final one falls back to a new message.
            tracing::warn!(error = %e, ts = %message.ts, "status edit refused; waiting for the next state");
            continue;
        }
        let wait = match e {
            ApiError::RateLimited(after) => after,
            _ => {
                let b = backoff;
                backoff = (backoff * 2).min(Retry::PERSISTENT.max_backoff);
                b
            }
        };
        tracing::warn!(error = %e, ts = %message.ts, wait_ms = wait.as_millis() as u64, "status edit failed; will send the latest state again");
        not_before = Some(attempted + wait.max(interval));
        // Whatever is wanted by then (maybe newer) is sent next.
        retry_now = true;
    }
}

async fn post_instead(api: &WebApi, message: &StatusMessage, content: SlackMessageContent) {
    let request = SlackApiChatPostMessageRequest::new(message.channel.clone().into(), content)
        .with_thread_ts(message.thread_ts.clone().into());
    let posted: Result<MessageRef, ApiError> = api
        .call_with_retry("chat.postMessage", &request, Retry::PERSISTENT)
        .await;
    if let Err(e) = posted {
        tracing::error!(error = %e, ts = %message.ts, "final run state could not be delivered to Slack");
    }
}
