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

impl StatusEditor {
    /// Starts editing message `ts` in `channel`, which currently shows `shown`.
    pub fn start(
        api: WebApi,
        channel: String,
        ts: String,
        shown: SlackMessageContent,
        interval: Duration,
    ) -> StatusEditor {
        let (tx, rx) = watch::channel(Wanted {
            content: shown.clone(),
            last: false,
        });
        let task = tokio::spawn(edit_loop(api, channel, ts, shown, rx, interval));
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
    channel: String,
    ts: String,
    mut delivered: SlackMessageContent,
    mut rx: watch::Receiver<Wanted>,
    interval: Duration,
) {
    let mut last_edit: Option<Instant> = None;
    let mut failures = 0u32;
    let mut backoff = Retry::PERSISTENT.first_backoff;
    let mut retry_now = false;
    loop {
        if !retry_now && rx.changed().await.is_err() {
            // The run's worker is gone without a final state (shutdown); nothing more to send.
            return;
        }
        retry_now = false;
        if let Some(at) = last_edit {
            tokio::time::sleep_until(at + interval).await;
        }
        let wanted = rx.borrow_and_update().clone();
        if wanted.content == delivered {
            if wanted.last {
                return;
            }
            continue;
        }
        let request = SlackApiChatUpdateRequest::new(
            channel.clone().into(),
            wanted.content.clone(),
            ts.clone().into(),
        );
        let result: Result<MessageRef, ApiError> = api.call("chat.update", &request).await;
        last_edit = Some(Instant::now());
        match result {
            Ok(_) => {
                delivered = wanted.content;
                failures = 0;
                backoff = Retry::PERSISTENT.first_backoff;
                if wanted.last {
                    return;
                }
            }
            Err(e) if e.is_transient() && failures + 1 < Retry::PERSISTENT.attempts => {
                failures += 1;
                let wait = match e {
                    ApiError::RateLimited(after) => after,
                    _ => {
                        let b = backoff;
                        backoff = (backoff * 2).min(Retry::PERSISTENT.max_backoff);
                        b
                    }
                };
                tracing::warn!(error = %e, channel = %channel, ts = %ts, wait_ms = wait.as_millis() as u64, "status edit failed; will send the latest state again");
                tokio::time::sleep(wait).await;
                // Whatever is wanted by then (maybe newer) is sent next.
                retry_now = true;
                last_edit = None;
            }
            Err(e) => {
                tracing::error!(error = %e, channel = %channel, ts = %ts, final_state = wanted.last, "status message could not be edited; giving up on it");
                return;
            }
        }
    }
}
