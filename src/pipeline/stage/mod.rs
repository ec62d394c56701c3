//! Stage kinds behind one trait: the run loop hands a [`StageJob`] to a [`StageRunner`] and gets
//! a runtime-neutral [`StageOutcome`] back. A new kind (HTTP check, Kubernetes rollout) is a new
//! file here, a `config::StageKind` variant and an arm in [`runner`]; the run loop is unchanged.

mod process;

pub use process::{run_stage, ProcessStage, StageCommand};

use crate::config::StageKind;
use futures_util::future::BoxFuture;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Lines of output kept for the store and failure notes.
pub const LOG_TAIL_LINES: usize = 20;

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageEnd {
    /// Exit code 0.
    Succeeded,
    /// Non-zero exit, a signal (None), or the process could not start.
    Failed(Option<i32>),
    /// The timeout elapsed.
    TimedOut,
    /// The run was cancelled.
    Cancelled,
}

/// Result of one stage.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    /// How it ended.
    pub end: StageEnd,
    /// Wall time.
    pub duration: Duration,
    /// Last lines of output.
    pub tail: Vec<String>,
    /// `::key value` facts reported by the stage.
    pub facts: Vec<(String, String)>,
}

/// What every stage kind is given to run with.
pub struct StageJob<'a> {
    /// Working directory (the config folder).
    pub cwd: &'a Path,
    /// Environment (validated `DECKHAND_*` values and the pipeline's `env:`).
    pub env: &'a [(String, String)],
    /// Time limit.
    pub timeout: Duration,
    /// Called with the OS process group once the stage has started (recorded for recovery);
    /// kinds that start no local process never call it.
    pub on_spawn: Option<Box<dyn FnOnce(u32) + Send + 'a>>,
    /// Receives each `::key value` fact as soon as the stage reports it (they are also in
    /// [`StageOutcome::facts`]), so a switch is known even if the stage never finishes.
    pub fact_tx: Option<mpsc::UnboundedSender<(String, String)>>,
}

/// Runs stages of one kind.
pub trait StageRunner: Send + Sync {
    /// Runs one stage to its end: success, failure, timeout, or `cancel` turning true.
    /// `on_line` gets every output line (facts excluded) as it comes.
    fn run<'a>(
        &'a self,
        job: StageJob<'a>,
        cancel: &'a mut watch::Receiver<bool>,
        on_line: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, StageOutcome>;
}

/// The runner for a configured stage kind.
pub fn runner(kind: &StageKind) -> Box<dyn StageRunner + '_> {
    match kind {
        StageKind::Process { command } => Box::new(ProcessStage { command }),
    }
}
