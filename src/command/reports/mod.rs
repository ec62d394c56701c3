//! Typed answers to the read-only commands (status, history, explain, context, readiness):
//! built from the store and the config, serialisable to JSON, rendered to text by each surface.
//!
//! Each query has a struct naming what it asks about (resolved names, so nothing here sees a
//! service the config does not know), and a builder that reads the store once and returns a
//! report of facts: versions, unix-ms timestamps, typed statuses, run ids, stage names and
//! log tails. No report holds a sentence; the chat bot renders them in `bot::answers`, a REST
//! API or MCP server serialises them.

mod context;
mod explain;
mod history;
mod readiness;
mod status;
#[cfg(test)]
mod tests;
mod updates;

pub use context::{context, memory, ContextQuery, ContextReport};
pub use explain::{explain, ExplainQuery, Explanation, FailedRun, FailedStage};
pub use history::{history, HistoryEntry, HistoryQuery, HistoryReport};
pub use readiness::{
    readiness, BuildOutcome, GoodBuild, NewestBuild, PendingApproval, ReadinessQuery,
    ReadinessReport, TargetReadiness,
};
pub use status::{status, ServiceStatus, StatusQuery, StatusReport, TargetStatus};
pub use updates::{updates, UpdateEntry, UpdatesQuery, UpdatesReport};

use crate::pipeline::RunStatus;
use crate::store::{Action, Deployment, RunRecord};
use serde::Serialize;

/// How many recent deploys of an environment deploy memory reads.
pub const MEMORY_HISTORY: i64 = 500;

/// The release a target runs now, from the switch its pipeline reported.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiveRelease {
    /// Run that switched the target to it.
    pub run_id: i64,
    /// Whether that run deployed it or rolled back to it.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version (None when the pipeline never reported one).
    pub version: Option<String>,
    /// Who asked for that run.
    pub requested_by: String,
    /// When the target switched to it, unix ms.
    pub switched_at: i64,
    /// How the checks after the switch went: `running` while the run goes on, `interrupted`
    /// when Deckhand stopped before they settled.
    pub checks: RunStatus,
    /// The stage after the switch that did not succeed.
    pub failed_stage: Option<String>,
}

impl LiveRelease {
    /// Whether the checks after the switch passed (a live release whose checks did not pass
    /// is still live, and worth a warning).
    pub fn healthy(&self) -> bool {
        self.checks == RunStatus::Succeeded
    }
}

impl From<&Deployment> for LiveRelease {
    fn from(d: &Deployment) -> LiveRelease {
        LiveRelease {
            run_id: d.run_id,
            action: d.action,
            service: d.service.clone(),
            environment: d.environment.clone(),
            version: d.version.clone(),
            requested_by: d.requested_by.clone(),
            switched_at: d.created_at,
            checks: run_status(&d.status),
            failed_stage: d.failed_stage.clone(),
        }
    }
}

/// One recorded outcome of a run for a service in an environment (a row of the history).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    /// Run that produced it.
    pub run_id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version (None when the build never reported one).
    pub version: Option<String>,
    /// How it ended.
    pub status: RunStatus,
    /// The first stage that did not succeed.
    pub failed_stage: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When it was recorded, unix ms.
    pub at: i64,
}

impl From<&Deployment> for Attempt {
    fn from(d: &Deployment) -> Attempt {
        Attempt {
            run_id: d.run_id,
            action: d.action,
            service: d.service.clone(),
            environment: d.environment.clone(),
            version: d.version.clone(),
            status: run_status(&d.status),
            failed_stage: d.failed_stage.clone(),
            requested_by: d.requested_by.clone(),
            at: d.created_at,
        }
    }
}

/// A run as the reports tell it: what it does, to what, for whom, and how it stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    /// Run id.
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version requested or produced.
    pub version: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// Start, unix ms.
    pub started_at: i64,
    /// Current status.
    pub status: RunStatus,
    /// Whether an automatic rollback ran.
    pub rolled_back: bool,
    /// Failure reason the executor recorded.
    pub error: Option<String>,
}

impl From<&RunRecord> for RunSummary {
    fn from(r: &RunRecord) -> RunSummary {
        RunSummary {
            id: r.id,
            action: r.action,
            service: r.service.clone(),
            environment: r.environment.clone(),
            version: r.version.clone(),
            requested_by: r.requested_by.clone(),
            started_at: r.started_at,
            status: r.status,
            rolled_back: r.rolled_back,
            error: r.error.clone(),
        }
    }
}

/// A stored status spelling as a [`RunStatus`]. The store writes only [`RunStatus::as_str`]
/// spellings; anything else would be a run Deckhand lost track of, hence `Interrupted`.
fn run_status(s: &str) -> RunStatus {
    RunStatus::parse(s).unwrap_or(RunStatus::Interrupted)
}

/// Whether a history row is the one that put a live release in place.
fn same_release(live: &Deployment, row: &Deployment) -> bool {
    live.run_id == row.run_id && live.action == row.action && live.version == row.version
}
