//! Platform-neutral chat types: what adapters hand to the bot and what the bot hands back.

mod stage_line;

use crate::config::Strategy;
use crate::nlu::{Intent, SlotKind};
pub use crate::origin::ThreadKey;
use crate::pipeline::Phase;
pub use crate::pipeline::{RunStatus, StageState};
use crate::store::Action;
use serde::Serialize;
pub use stage_line::{format_duration, stage_label, StageLine};

/// A normalized message from any adapter.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it was said.
    pub thread: ThreadKey,
    /// Who said it, as `platform:id` or a console name.
    pub user: String,
    /// The text, with any bot mention already stripped by the adapter.
    pub text: String,
    /// Platform event id, for de-duplicating retried deliveries.
    pub event_id: Option<String>,
}

/// A button press, already mapped from the platform payload; adapters hand it to
/// [`crate::bot::Bot::click`] instead of typing words for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    /// "Confirm" under a yes/no question.
    Confirm,
    /// "Cancel" under a yes/no question.
    Cancel,
    /// "Approve" on approval request N.
    Approve(i64),
    /// "Reject" on approval request N.
    Reject(i64),
}

/// What the bot says or reports; adapters render these.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BotEvent {
    /// A plain answer.
    Reply {
        /// Conversation.
        thread: ThreadKey,
        /// Text to show.
        text: String,
        /// Intent the bot understood, if any.
        intent: Option<Intent>,
        /// When the reply is a refusal: its kind (`not_permitted`, `locked`, ...), so scripts
        /// and tests need not read the sentence.
        #[serde(skip_serializing_if = "Option::is_none")]
        refusal: Option<crate::command::RefusalKind>,
    },
    /// A question for a missing slot.
    Prompt {
        /// Conversation.
        thread: ThreadKey,
        /// Text to show.
        text: String,
        /// Intent being filled.
        intent: Intent,
        /// The slot asked for.
        slot: SlotKind,
        /// Valid answers.
        choices: Vec<String>,
    },
    /// A yes/no confirmation before an action.
    Confirm {
        /// Conversation.
        thread: ThreadKey,
        /// Text to show.
        text: String,
        /// Intent to confirm.
        intent: Intent,
    },
    /// A request waits for approval; platforms with buttons show Approve/Reject.
    ApprovalRequest {
        /// Conversation.
        thread: ThreadKey,
        /// Store id of the request (what a button click names).
        approval_id: i64,
        /// Text to show.
        text: String,
        /// Person who asked.
        requested_by: String,
        /// Approvals needed.
        required: i64,
    },
    /// A run began.
    RunStarted {
        /// Conversation.
        thread: ThreadKey,
        /// Store id of the run.
        run_id: i64,
        /// Deploy or rollback.
        action: Action,
        /// Service name.
        service: String,
        /// Environment name.
        environment: String,
        /// Version requested, if any.
        version: Option<String>,
        /// Strategy.
        strategy: Strategy,
    },
    /// A stage started, logged a line, or finished.
    Progress {
        /// Conversation.
        thread: ThreadKey,
        /// Store id of the run.
        run_id: i64,
        /// Stage name.
        stage: String,
        /// Main pipeline or automatic rollback.
        phase: Phase,
        /// State of the stage after this event.
        state: StageState,
        /// Output line, for log events.
        line: Option<String>,
        /// Compact line for the whole run (`build ✓ 1.2s → test ⏳`).
        summary: String,
    },
    /// A plan moved: its one message (posted once, then edited), a line per step. The
    /// plan's closing summary follows as a [`BotEvent::Reply`].
    PlanProgress {
        /// Conversation.
        thread: ThreadKey,
        /// Store id of the plan.
        plan_id: i64,
        /// The whole message: a line per step.
        text: String,
        /// The plan on one line (`plan #3: 1. redis ✓ · 2. billionmail ⏳ build`).
        line: String,
        /// The plan has ended (this is its final state).
        ended: bool,
    },
    /// A run ended.
    RunFinished {
        /// Conversation.
        thread: ThreadKey,
        /// Store id of the run.
        run_id: i64,
        /// Final status.
        status: RunStatus,
        /// Version live after the run, if known.
        version: Option<String>,
        /// Final compact stage line.
        summary: String,
        /// Human sentence about the outcome.
        text: String,
    },
}

impl BotEvent {
    /// The conversation this event belongs to.
    pub fn thread(&self) -> &ThreadKey {
        match self {
            BotEvent::Reply { thread, .. }
            | BotEvent::Prompt { thread, .. }
            | BotEvent::Confirm { thread, .. }
            | BotEvent::ApprovalRequest { thread, .. }
            | BotEvent::RunStarted { thread, .. }
            | BotEvent::Progress { thread, .. }
            | BotEvent::PlanProgress { thread, .. }
            | BotEvent::RunFinished { thread, .. } => thread,
        }
    }
}

/// Receives everything the bot emits; each adapter implements it (posting, editing, printing).
pub trait EventSink: Send + Sync {
    /// Delivers one event. Must not block: adapters queue and deliver asynchronously.
    fn emit(&self, event: BotEvent);
}

/// A sink that forwards events into a tokio channel (used by the console adapter and tests).
pub struct ChannelSink(pub tokio::sync::mpsc::UnboundedSender<BotEvent>);

impl EventSink for ChannelSink {
    fn emit(&self, event: BotEvent) {
        // A closed receiver means the adapter is shutting down; nothing left to show.
        let _ = self.0.send(event);
    }
}
