//! One status message per run, edited in place. Edits are coalesced: the editor keeps only the
//! latest wanted content and sends at most one edit per interval, so a burst of output lines
//! costs a handful of calls. Rate limits wait as long as the platform asks, other failures back
//! off, and the final state is retried until delivered, or posted as a new message when the
//! platform says the message can never be edited.

use super::{Persistence, SendError, Surface};
use crate::chat::ThreadKey;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Attempts to deliver a final state before posting it as a new message instead.
const FINAL_ATTEMPTS: u32 = 40;
/// First back-off after a failed edit; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest back-off between edit attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq)]
struct Wanted<C> {
    content: C,
    last: bool,
}

/// Edits one message; dropping it without [`StatusEditor::finish`] stops after the current edit.
pub struct StatusEditor<S: Surface> {
    tx: watch::Sender<Wanted<S::Content>>,
    task: JoinHandle<()>,
}

impl<S: Surface> StatusEditor<S> {
    /// Starts editing message `id` in `thread`, which currently shows `shown`. Attempts are at
    /// least `interval` apart.
    pub fn start(
        surface: Arc<S>,
        thread: ThreadKey,
        id: String,
        shown: S::Content,
        interval: Duration,
    ) -> StatusEditor<S> {
        let (tx, rx) = watch::channel(Wanted {
            content: shown.clone(),
            last: false,
        });
        let task = tokio::spawn(edit_loop(surface, thread, id, shown, rx, interval));
        StatusEditor { tx, task }
    }

    /// Asks for `content` to be shown (replacing any edit not sent yet).
    pub fn show(&self, content: S::Content) {
        self.tx.send_replace(Wanted {
            content,
            last: false,
        });
    }

    /// Shows the final `content`; the returned task ends once it is delivered or given up.
    pub fn finish(self, content: S::Content) -> JoinHandle<()> {
        self.tx.send_replace(Wanted {
            content,
            last: true,
        });
        self.task
    }
}

async fn edit_loop<S: Surface>(
    surface: Arc<S>,
    thread: ThreadKey,
    id: String,
    mut delivered: S::Content,
    mut rx: watch::Receiver<Wanted<S::Content>>,
    interval: Duration,
) {
    // Earliest time of the next attempt (pacing, Retry-After, back-off).
    let mut not_before: Option<Instant> = None;
    let mut final_failures = 0u32;
    let mut backoff = FIRST_BACKOFF;
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
        let result = surface
            .edit_once(&thread, &id, wanted.content.clone())
            .await;
        let attempted = Instant::now();
        not_before = Some(attempted + interval);
        let e = match result {
            Ok(()) => {
                delivered = wanted.content;
                backoff = FIRST_BACKOFF;
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
        let permanent = matches!(e, SendError::Permanent(_));
        if wanted.last && (permanent || final_failures >= FINAL_ATTEMPTS) {
            tracing::warn!(error = %e, id = %id, "final state could not be edited in; posting it instead");
            if let Err(e) = surface
                .post(&thread, wanted.content, Persistence::MustArrive)
                .await
            {
                tracing::error!(error = %e, id = %id, "final run state could not be delivered");
            }
            return;
        }
        if permanent {
            // This edit cannot succeed (e.g. the message is not editable); the next state
            // may, and the final one falls back to a new message.
            tracing::warn!(error = %e, id = %id, "status edit refused; waiting for the next state");
            continue;
        }
        let wait = match e {
            SendError::RateLimited(after) => after,
            _ => {
                let b = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                b
            }
        };
        tracing::warn!(error = %e, id = %id, wait_ms = wait.as_millis() as u64, "status edit failed; will send the latest state again");
        not_before = Some(attempted + wait.max(interval));
        // Whatever is wanted by then (maybe newer) is sent next.
        retry_now = true;
    }
}
