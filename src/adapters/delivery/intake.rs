//! The inbound half shared by the platform adapters: a message or a button click, already
//! mapped from the platform's payload to a thread, a user and text or a [`Click`], becomes one
//! turn of the bot. The adapters keep only that mapping (and their platform's own side
//! effects, such as opening a thread for a slash command).
//!
//! One turn per thread at a time ([`TurnLocks`]), so a click is checked against the question
//! that is open when it is answered; every turn ends with [`Outbox::turn_done`], which retires
//! the buttons the turn answered.

use super::outbox::Outbox;
use super::turns::{Full, Handlers, TurnLocks};
use super::Surface;
use crate::bot::{Bot, Structured};
use crate::chat::{Click, EventSink, Incoming, ThreadKey};
use crate::nlu::Intent;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How long a click on a question waits for the thread's queued posts before it is judged
/// (the question's own post may still be on its way back from the platform).
const SETTLE: Duration = Duration::from_secs(10);

/// The answer to a click that could not be matched to the open question in [`SETTLE`].
const CLICK_NOT_JUDGED: &str = "I couldn't tell yet whether that button belongs to the question open in this thread (the platform is slow to answer my posts), so nothing was done. Click it again in a moment, or reply \"yes\" or \"no\".";

/// What a person is told when Deckhand is too busy to take their request (the intake holds
/// `serve.max_pending_events` already); nothing of the request was recorded.
pub const BUSY: &str =
    "Deckhand is too busy to take this right now, so nothing was done. Please try again in a moment.";

/// A clicked button's message, as the platform reports it.
#[derive(Debug, Clone, Copy)]
pub struct Clicked<'a> {
    /// The platform's id of the message that carries the button.
    pub message_id: &'a str,
    /// The message's text as the platform shows it (what a stale button is retired with).
    pub shown: &'a str,
}

/// Turns messages and clicks into bot turns for one platform.
pub struct Intake<S: Surface> {
    bot: Arc<Bot>,
    outbox: Outbox<S>,
    /// The platform name in thread keys and delivery records (`slack`, `discord`).
    platform: &'static str,
    turns: TurnLocks,
    handlers: Handlers,
}

/// Whether a platform event is new, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First delivery: act on it.
    New,
    /// Seen before (a retry or replay): do nothing.
    Seen,
    /// The store could not tell: do nothing, and tell the user this text (it names a log
    /// reference), since acting twice is worse than asking them to repeat.
    Unknown(String),
}

impl<S: Surface> Intake<S> {
    /// The intake of `platform`, answering through `outbox`.
    pub fn new(bot: Arc<Bot>, outbox: Outbox<S>, platform: &'static str) -> Intake<S> {
        Intake {
            outbox,
            platform,
            turns: TurnLocks::default(),
            handlers: Handlers::with_limit(bot.config().serve.max_pending_events),
            bot,
        }
    }

    /// The bot the turns go to.
    pub fn bot(&self) -> &Arc<Bot> {
        &self.bot
    }

    /// The outbox the turns answer through (flushed at shutdown).
    pub fn outbox(&self) -> &Outbox<S> {
        &self.outbox
    }

    /// Runs `work` (one event's handling) in the background, counted until it ends, so
    /// shutdown and tests can wait for it with [`Intake::idle`].
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handlers.spawn(work);
    }

    /// Runs `work` in the background unless `serve.max_pending_events` events are being handled
    /// already; then nothing of the event is started or recorded, the refusal is counted
    /// (`deckhand_events_shed_total`) and the caller refuses the request (503 with
    /// `Retry-After`, or a private "too busy" answer where the platform does not resend).
    pub fn try_spawn<F>(&self, work: F) -> Result<(), Full>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let result = self.handlers.try_spawn(work);
        if let Err(full) = result {
            self.bot.metrics().event_shed(self.platform);
            tracing::warn!(
                platform = self.platform,
                limit = full.limit,
                "intake full: request refused, nothing of it recorded"
            );
        }
        result
    }

    /// Waits until no handler runs (or `limit` passes); false on timeout.
    pub async fn idle(&self, limit: Duration) -> bool {
        self.handlers.idle(limit).await
    }

    /// Shutdown, after intake stopped: waits for the handlers already started (warns when
    /// some outlive `limit`).
    pub async fn finish_handlers(&self, limit: Duration) {
        if !self.idle(limit).await {
            tracing::warn!(
                platform = self.platform,
                "some events were still being handled at shutdown"
            );
        }
    }

    /// Shutdown, last step: delivers what is queued (final run states included); false (and
    /// a warning) when something was not delivered within `limit`.
    pub async fn drain(&self, limit: Duration) -> bool {
        let delivered = self.outbox.flush(limit).await;
        if !delivered {
            tracing::warn!(
                platform = self.platform,
                "some messages were not delivered before shutdown"
            );
        }
        delivered
    }

    /// Waits until every handler ended and everything queued is delivered (tests).
    pub async fn settle(&self, limit: Duration) -> bool {
        self.idle(limit).await && self.outbox.flush(limit).await
    }

    /// Claims platform event `event_id` for an adapter that must act on it before the bot
    /// does (open a thread, post a slash command's echo, decide an approval); false when it
    /// was seen before. The adapter then hands the bot no event id: each event is claimed
    /// once, here or in [`Bot::handle`], and with the same rule: when the store cannot tell
    /// whether the event is new, it is not acted on (acting twice is worse than asking the
    /// user to repeat).
    pub async fn claim(&self, event_id: &str) -> Claim {
        match self.bot.first_delivery(self.platform, event_id).await {
            Ok(true) => Claim::New,
            Ok(false) => {
                tracing::info!(event_id, "duplicate delivery ignored");
                Claim::Seen
            }
            Err(e) => Claim::Unknown(crate::bot::fault("checking for a repeated delivery", &e)),
        }
    }

    /// Says `text` in `thread` (what an adapter tells the user when it could not act).
    pub fn tell(&self, thread: &ThreadKey, text: String) {
        self.sink().emit(crate::chat::BotEvent::Reply {
            thread: thread.clone(),
            text,
            intent: None,
            refusal: None,
        });
    }

    /// A message from `user` in `thread`, in its turn. `event_id` lets the bot ignore a
    /// redelivery; `None` when the adapter claimed the event already (or it cannot repeat).
    pub async fn message(
        &self,
        thread: ThreadKey,
        user: &str,
        text: String,
        event_id: Option<String>,
    ) {
        let _turn = self.turns.lock(&thread).await;
        let span = tracing::info_span!("turn", platform = self.platform, session = %thread);
        async {
            self.join(&thread).await;
            // A bare mention asks for help.
            let text = if text.is_empty() {
                "help".to_string()
            } else {
                text
            };
            let incoming = Incoming {
                thread: thread.clone(),
                user: user.to_string(),
                text,
                event_id,
            };
            let intent = self.bot.handle(incoming, self.sink()).await;
            self.done(&thread, user, intent).await;
        }
        .instrument(span)
        .await
    }

    /// A request that arrives structured (a slash command's options), in its turn: it enters
    /// the dialogue without an NLU pass. `typed` is what the thread's history records.
    pub async fn structured(
        &self,
        thread: ThreadKey,
        user: &str,
        typed: String,
        request: Structured,
        event_id: Option<String>,
    ) {
        let _turn = self.turns.lock(&thread).await;
        let span = tracing::info_span!("turn", platform = self.platform, session = %thread);
        async {
            self.join(&thread).await;
            let incoming = Incoming {
                thread: thread.clone(),
                user: user.to_string(),
                text: typed,
                event_id,
            };
            let intent = self
                .bot
                .handle_structured(incoming, request, self.sink())
                .await;
            self.done(&thread, user, intent).await;
        }
        .instrument(span)
        .await
    }

    /// A click by `user` on a button of message `on` in `thread`, in its turn. A Confirm or
    /// Cancel under a question that is no longer open only retires the stale buttons; an
    /// approval button is tracked so its message shows the outcome.
    pub async fn click(
        &self,
        thread: ThreadKey,
        user: &str,
        click: Click,
        on: Clicked<'_>,
        event_id: Option<String>,
    ) {
        let _turn = self.turns.lock(&thread).await;
        match click {
            Click::Confirm | Click::Cancel => {
                let open = self.outbox.is_open_confirmation(&thread, on.message_id);
                if !open && !self.outbox.settled(&thread, SETTLE).await {
                    // The platform has not answered the thread's posts yet, so which message is
                    // the open question is unknown: neither act nor retire, and say so.
                    tracing::warn!(thread = %thread, "click not judged: the thread's posts are still unanswered");
                    self.sink().emit(crate::chat::BotEvent::Reply {
                        thread: thread.clone(),
                        text: CLICK_NOT_JUDGED.into(),
                        intent: None,
                        refusal: None,
                    });
                    return;
                }
                if !open && !self.outbox.is_open_confirmation(&thread, on.message_id) {
                    self.outbox.retire_stale(&thread, on.message_id, on.shown);
                    return;
                }
            }
            Click::Approve(approval_id) | Click::Reject(approval_id) => {
                self.outbox
                    .track_approval(&thread, approval_id, on.message_id, on.shown);
            }
        }
        let span = tracing::info_span!("turn", platform = self.platform, session = %thread);
        async {
            self.join(&thread).await;
            let intent = self
                .bot
                .click(thread.clone(), user, click, event_id, self.sink())
                .await;
            self.done(&thread, user, intent).await;
        }
        .instrument(span)
        .await
    }

    /// Records that the bot takes part in `thread` (so plain replies there reach it).
    async fn join(&self, thread: &ThreadKey) {
        if let Err(e) = self
            .bot
            .store()
            .join_thread(thread, crate::clock::now_ms())
            .await
        {
            tracing::warn!(error = %e, "cannot record the thread");
        }
    }

    /// Ends a turn: the outbox retires what it answered.
    async fn done(&self, thread: &ThreadKey, user: &str, intent: Intent) {
        let awaiting = self.bot.awaiting_confirmation(thread).await;
        self.outbox.turn_done(thread, user, intent, awaiting);
    }

    /// The outbox, as the sink the bot answers into.
    pub fn sink(&self) -> Arc<dyn EventSink> {
        Arc::new(self.outbox.clone())
    }
}
