//! What the Slack and Discord adapters share. Inbound: the [`intake::Intake`] that turns a
//! message or a click into a bot turn (one turn per thread at a time, one claim per platform
//! event). Outbound: an ordered per-thread [`outbox::Outbox`], a coalescing
//! [`status::StatusEditor`] for run status messages laid out by [`markup::status_text`], the
//! [`Retry`] presets, and the [`Surface`] each platform implements to render and send messages.

pub mod in_flight;
pub mod intake;
pub mod markup;
pub mod outbox;
pub mod retry;
pub mod status;
pub mod text;
pub mod thread_key;
pub mod turns;

pub use intake::BUSY;
pub use retry::{with_retries, with_retries_observed, Retry};

use crate::chat::{RunStatus, StageState, ThreadKey};
use crate::config::Strategy;
use crate::pipeline::Phase;
use crate::store::Action;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, for the object-safe-ish [`Surface`] methods.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a post or edit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The platform asks to wait this long.
    #[error("rate limited: retry after {0:?}")]
    RateLimited(Duration),
    /// Worth trying again later; the call did not take effect.
    #[error("{0}")]
    Transient(String),
    /// No answer came: the call may or may not have taken effect. Edits can be repeated
    /// safely; a post repeated may appear twice.
    #[error("{0}")]
    Unknown(String),
    /// Will not succeed by retrying (e.g. the message cannot be edited).
    #[error("{0}")]
    Permanent(String),
}

/// How many times to try a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Ordinary messages: a few attempts; a lost answer is not retried (no duplicates).
    Normal,
    /// A run's final messages: retried for minutes, even at the risk of a duplicate.
    MustArrive,
}

impl Persistence {
    /// The retry preset a post of this persistence uses.
    pub fn retry(self) -> Retry {
        match self {
            Persistence::Normal => Retry::NORMAL,
            Persistence::MustArrive => Retry::PERSISTENT,
        }
    }
}

/// What the status message of one run shows (platforms render it).
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    /// Store id.
    pub run_id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version asked for (or reported).
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Compact stage line.
    pub summary: String,
    /// Latest output line, while running.
    pub last_line: Option<String>,
    /// Final status once finished.
    pub finished: Option<RunStatus>,
}

impl RunView {
    /// `running`, or the final status.
    pub fn state(&self) -> &'static str {
        match self.finished {
            None | Some(RunStatus::Running) => "running",
            Some(s) => s.as_str(),
        }
    }
}

/// A chat platform as the outbox sees it: how to render each kind of message, and how to post
/// and edit messages in a thread.
pub trait Surface: Send + Sync + 'static {
    /// A rendered message.
    type Content: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static;

    /// A plain answer.
    fn plain(&self, text: &str) -> Self::Content;
    /// A yes/no question with Confirm and Cancel buttons.
    fn confirm(&self, text: &str) -> Self::Content;
    /// An approval request with Approve and Reject buttons naming it; `note` is a line in the
    /// platform's own markup (approvals so far), shown under the text.
    fn approval(&self, text: &str, approval_id: i64, note: Option<&str>) -> Self::Content;
    /// A question's text as the platform shows it (what a click reads back).
    fn shown(&self, text: &str) -> String;
    /// A settled question: its `shown` text, the outcome, no buttons.
    fn answered(&self, shown: &str, outcome: &str) -> Self::Content;
    /// A run's status message.
    fn status(&self, view: &RunView) -> Self::Content;
    /// The note for a failed stage, with the end of its output.
    fn failure_note(
        &self,
        stage: &str,
        phase: Phase,
        state: StageState,
        lines: &[String],
    ) -> Self::Content;
    /// How a user id is mentioned.
    fn mention(&self, user: &str) -> String;
    /// How a decider is named in an outcome: a mention for this platform's identities.
    fn name(&self, identity: &str, person: &str) -> String;
    /// Emoji per outcome, in this platform's spelling: (ok, no, cancelled, expired).
    fn marks(&self) -> [&'static str; 4];

    /// Posts into `thread`; returns the new message's id.
    fn post<'a>(
        &'a self,
        thread: &'a ThreadKey,
        content: Self::Content,
        persistence: Persistence,
    ) -> BoxFut<'a, Result<String, SendError>>;
    /// Edits message `id` once (no retries: the caller paces and retries).
    fn edit_once<'a>(
        &'a self,
        thread: &'a ThreadKey,
        id: &'a str,
        content: Self::Content,
    ) -> BoxFut<'a, Result<(), SendError>>;
    /// Edits message `id`, retrying as [`Retry::IDEMPOTENT`] allows (an edit repeated does no
    /// harm).
    fn edit<'a>(
        &'a self,
        thread: &'a ThreadKey,
        id: &'a str,
        content: Self::Content,
    ) -> BoxFut<'a, Result<(), SendError>> {
        Box::pin(with_retries_observed(
            Retry::IDEMPOTENT,
            |e| self.retrying(e),
            move || self.edit_once(thread, id, content.clone()),
        ))
    }

    /// A call that failed with `error` is about to be sent again (the surface counts it).
    fn retrying(&self, _error: &SendError) {}
}
