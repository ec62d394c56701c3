//! What the executor reports while a run goes: typed facts pushed into a [`ProgressSink`]
//! (after ripgrep's `Sink`), never sentences. Each surface renders them in its own words: the
//! chat side turns them into `BotEvent`s (`bot::progress`), an API could stream them as JSON.

use super::stage::StageEnd;
use super::status::{Phase, RunStatus, StageState};
use crate::config::Strategy;
use crate::origin::Origin;
use crate::store::{Action, Deployment};
use std::sync::Arc;
use std::time::Duration;

/// The facts of a run every event carries, so one sink can serve every run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    /// Store id of the run.
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service name.
    pub service: String,
    /// Environment name.
    pub environment: String,
    /// Version requested (None = latest build / previous release).
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<u8>,
    /// Who asked.
    pub requested_by: String,
    /// Where the request came from.
    pub origin: Origin,
}

/// One stage of a run: which phase, where in it, and its configured name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRef {
    /// Main pipeline or automatic rollback.
    pub phase: Phase,
    /// Position within the phase (0-based).
    pub index: usize,
    /// The stage's name from the config.
    pub name: String,
}

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The run was recorded and its task started; `stages` are the main pipeline's stage names.
    Started {
        /// Stage names of the main phase, in order.
        stages: Vec<String>,
    },
    /// A stage began executing.
    StageStarted(StageRef),
    /// A stage printed a line (`::key value` facts are not lines).
    StageOutput {
        /// The stage.
        stage: StageRef,
        /// The line, without its newline.
        line: String,
    },
    /// A stage ended.
    StageFinished {
        /// The stage.
        stage: StageRef,
        /// How it ended.
        state: StageState,
        /// Its wall time.
        duration: Duration,
        /// Its last output lines.
        tail: Vec<String>,
    },
    /// The run was cancelled before this stage could start; it never ran.
    StageSkipped(StageRef),
    /// The automatic rollback begins after a failed deploy, with these stage names.
    RollbackStarted {
        /// Stage names of the rollback phase, in order.
        stages: Vec<String>,
    },
    /// The run ended (always the last event of a run).
    Finished(Box<RunOutcome>),
}

/// A [`Progress`] event with the run it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// The run.
    pub run: Arc<RunFacts>,
    /// What happened.
    pub progress: Progress,
}

/// The stage that stopped a run, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFailure {
    /// Its name.
    pub stage: String,
    /// How it ended (never `Succeeded`).
    pub end: StageEnd,
    /// Its configured time limit (what a timeout exceeded).
    pub timeout: Duration,
}

impl StageFailure {
    /// The failure as stored with the run (`error` column) and shown by status and history:
    /// "build failed (exit 3)", "verify timed out after 30s", "cancelled during deploy".
    pub fn stored_error(&self) -> String {
        let stage = &self.stage;
        match self.end {
            StageEnd::Cancelled => format!("cancelled during {stage}"),
            StageEnd::TimedOut => format!("{stage} timed out after {}s", self.timeout.as_secs()),
            StageEnd::Failed(Some(code)) => format!("{stage} failed (exit {code})"),
            StageEnd::Failed(None) | StageEnd::Succeeded => format!("{stage} failed"),
        }
    }
}

/// What the automatic rollback after a failed deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    /// Not applicable: the run was a rollback, did not fail, or the environment has no
    /// automatic rollback.
    NotRequested,
    /// The failure came before the pipeline's first changing stage, so nothing changed.
    NotNeeded {
        /// The pipeline's `rollback_from` stage.
        first_change: String,
    },
    /// The pipeline has no rollback pipeline.
    NoPipeline,
    /// No earlier release passed its checks, so there is nothing to restore.
    NoTarget,
    /// It ran and restored this version.
    Restored {
        /// The version now live.
        version: String,
    },
    /// It ran and failed.
    Failed {
        /// The version it tried to restore.
        version: String,
        /// The rollback stage that did not succeed.
        stage: String,
    },
}

/// How a run ended: what [`super::RunHandle::finished`] returns and the last event's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Final status.
    pub status: RunStatus,
    /// The run's version after its stages (requested, or reported by a `::version` fact).
    pub version: Option<String>,
    /// The stage that stopped the run, when one did.
    pub failure: Option<StageFailure>,
    /// What the automatic rollback did.
    pub rollback: RollbackOutcome,
    /// Whether the automatic rollback restored the previous release.
    pub rolled_back: bool,
    /// Whether the run switched its target (a `::live` fact or its switching stage succeeded).
    pub switched: bool,
    /// The release live on the target once the run's result was stored (for a stopped run:
    /// what it left behind).
    pub live: Option<Deployment>,
    /// For a failed deploy: the release a manual rollback would return to.
    pub rollback_target: Option<String>,
    /// The error stored with the run (see [`StageFailure::stored_error`]).
    pub error: Option<String>,
}

impl RunOutcome {
    /// The outcome of a run whose task ended without reporting one (it panicked): the store
    /// still says `running` until recovery marks it interrupted.
    pub(super) fn lost() -> RunOutcome {
        RunOutcome {
            status: RunStatus::Interrupted,
            version: None,
            failure: None,
            rollback: RollbackOutcome::NotRequested,
            rolled_back: false,
            switched: false,
            live: None,
            rollback_target: None,
            error: None,
        }
    }
}

/// Where a plan stands, each time one of its steps moves: what a surface shows as the plan's
/// one message (a line per step).
#[derive(Debug, Clone)]
pub struct PlanProgress {
    /// The plan as it stands (steps with their status, run and detail).
    pub plan: crate::store::PlanRecord,
    /// What the running step is doing ("build"), when a step is running.
    pub activity: Option<String>,
    /// The last output lines of the step that failed, when one did.
    pub failure_tail: Vec<String>,
    /// The run of the step that failed and how it ended (what its automatic rollback did,
    /// what it left live), when one did.
    pub failed_run: Option<(Arc<RunFacts>, RunOutcome)>,
    /// This is the plan's final state (told once).
    pub ended: bool,
}

/// Receives the progress of runs. Must not block: implementations queue or forward.
pub trait ProgressSink: Send + Sync {
    /// Delivers one event.
    fn report(&self, event: &RunEvent);

    /// A plan moved (a step started or ended, or the plan ended). The runs of its steps
    /// report here instead of through [`ProgressSink::report`]: a plan is one message.
    fn plan(&self, _progress: &PlanProgress) {}
}
