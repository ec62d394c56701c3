//! The API's resource shapes (what JSON clients read), built from store records. Reports of
//! the command layer (status, history, context, decisions, locks) are served as they are.

use crate::config::Strategy;
use crate::pipeline::{Phase, RunStatus, StageState};
use crate::store::{Action, ApprovalRecord, ApprovalStatus, LockRecord, RunRecord, StageRecord};
use serde::Serialize;
use utoipa::ToSchema;

/// A run (deploy or rollback), as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    /// Run id (also `DECKHAND_RUN_ID` in its stages).
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version requested or produced (None: the latest build, not yet reported).
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<i64>,
    /// Who asked.
    pub requested_by: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Whether an automatic rollback restored the previous release.
    pub rolled_back: bool,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Start, unix ms.
    pub started_at: i64,
    /// End, unix ms.
    pub finished_at: Option<i64>,
    /// The stage running now (or last started).
    pub stage: Option<String>,
}

impl From<&RunRecord> for RunView {
    fn from(r: &RunRecord) -> RunView {
        RunView {
            id: r.id,
            action: r.action,
            service: r.service.clone(),
            environment: r.environment.clone(),
            version: r.version.clone(),
            strategy: r.strategy,
            percent: r.percent,
            requested_by: r.requested_by.clone(),
            status: r.status,
            rolled_back: r.rolled_back,
            error: r.error.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            stage: r.stage.clone(),
        }
    }
}

impl RunView {
    /// A run that has just started, from its facts (when the store cannot be read back).
    pub fn starting(f: &crate::pipeline::RunFacts) -> RunView {
        RunView {
            id: f.id,
            action: f.action,
            service: f.service.clone(),
            environment: f.environment.clone(),
            version: f.version.clone(),
            strategy: f.strategy,
            percent: f.percent.map(i64::from),
            requested_by: f.requested_by.clone(),
            status: RunStatus::Running,
            rolled_back: false,
            error: None,
            started_at: crate::clock::now_ms(),
            finished_at: None,
            stage: None,
        }
    }
}

/// A finished stage of a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageView {
    /// Main pipeline or automatic rollback.
    pub phase: Phase,
    /// Position within its phase (0-based).
    pub position: i64,
    /// Stage name.
    pub name: String,
    /// How it ended.
    pub status: StageState,
    /// Exit code, when the process exited.
    pub exit_code: Option<i64>,
    /// Wall time, milliseconds.
    pub duration_ms: i64,
    /// Its last output lines.
    pub log_tail: String,
    /// End, unix ms.
    pub finished_at: i64,
}

impl From<&StageRecord> for StageView {
    fn from(s: &StageRecord) -> StageView {
        StageView {
            phase: s.phase,
            position: s.position,
            name: s.name.clone(),
            status: s.status,
            exit_code: s.exit_code,
            duration_ms: s.duration_ms,
            log_tail: s.log_tail.clone(),
            finished_at: s.finished_at,
        }
    }
}

/// Links to a resource and what can be done with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Links {
    /// The resource itself.
    #[serde(rename = "self")]
    pub self_: String,
    /// Its event stream (runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<String>,
    /// Where to post a decision (approval requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

impl Links {
    /// The links of a run.
    pub fn run(id: i64) -> Links {
        Links {
            self_: format!("/api/v1/runs/{id}"),
            events: Some(format!("/api/v1/runs/{id}/events")),
            decision: None,
        }
    }

    /// The links of an approval request.
    pub fn approval(id: i64) -> Links {
        Links {
            self_: format!("/api/v1/approvals/{id}"),
            events: None,
            decision: Some(format!("/api/v1/approvals/{id}/decision")),
        }
    }
}

/// A run with its finished stages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunView,
    /// Its finished stages, in order (main phase, then rollback).
    pub stages: Vec<StageView>,
    /// Links.
    pub links: Links,
}

/// Runs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunList {
    /// The runs.
    pub runs: Vec<RunView>,
}

/// A lock or freeze.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockView {
    /// Id.
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Service (None: the whole environment).
    pub service: Option<String>,
    /// Who holds it.
    pub holder: String,
    /// Why.
    pub reason: String,
    /// Since, unix ms.
    pub created_at: i64,
    /// Until, unix ms (None: until unlocked).
    pub expires_at: Option<i64>,
    /// From, unix ms, for a freeze window that has not started yet.
    pub starts_at: Option<i64>,
    /// Whether rollbacks go through it.
    pub rollbacks: crate::config::RollbackRule,
}

impl From<&LockRecord> for LockView {
    fn from(l: &LockRecord) -> LockView {
        LockView {
            id: l.id,
            environment: l.environment.clone(),
            service: l.service.clone(),
            holder: l.holder.clone(),
            reason: l.reason.clone(),
            created_at: l.created_at,
            expires_at: l.expires_at,
            starts_at: l.starts_at,
            rollbacks: l.rollbacks,
        }
    }
}

/// Locks in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockList {
    /// The locks.
    pub locks: Vec<LockView>,
}

/// An approval request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalView {
    /// Id.
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version.
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<i64>,
    /// Who asked.
    pub requested_by: String,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Approvals needed.
    pub required: i64,
    /// Approvals so far.
    pub approvals: i64,
    /// Deploy memory's note shown with it (empty: none).
    pub note: String,
    /// Created, unix ms.
    pub created_at: i64,
    /// Expires, unix ms.
    pub expires_at: i64,
    /// When it left `pending`.
    pub decided_at: Option<i64>,
    /// The run it started.
    pub run_id: Option<i64>,
    /// For a request made for a plan: every step it approves, in order (the fields above
    /// are its step that needs the most approvals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<crate::command::RunCommand>>,
    /// Links.
    pub links: Links,
}

impl ApprovalView {
    /// The view of a stored request with its approval count.
    pub fn new(a: &ApprovalRecord, approvals: i64) -> ApprovalView {
        ApprovalView {
            id: a.id,
            action: a.action,
            service: a.service.clone(),
            environment: a.environment.clone(),
            version: a.version.clone(),
            strategy: a.strategy,
            percent: a.percent,
            requested_by: a.requested_by.clone(),
            status: a.status,
            required: a.required,
            approvals,
            note: a.note.clone(),
            created_at: a.created_at,
            expires_at: a.expires_at,
            decided_at: a.decided_at,
            run_id: a.run_id,
            plan: crate::command::plan_of_request(a),
            links: Links::approval(a.id),
        }
    }
}

impl ApprovalView {
    /// A request just made, from its ticket (when the store cannot be read back).
    pub fn requested(t: &crate::command::ApprovalTicket) -> ApprovalView {
        ApprovalView {
            id: t.id,
            action: t.action,
            service: t.run.service.to_string(),
            environment: t.run.environment.to_string(),
            version: t.run.version.clone(),
            strategy: t.run.strategy.unwrap_or_default(),
            percent: t.run.percent.map(i64::from),
            requested_by: t.requested_by.clone(),
            status: ApprovalStatus::Pending,
            required: i64::from(t.required),
            approvals: 0,
            note: t.note.clone().unwrap_or_default(),
            created_at: crate::clock::now_ms(),
            expires_at: t.expires_at,
            decided_at: None,
            run_id: None,
            plan: t.plan.clone(),
            links: Links::approval(t.id),
        }
    }
}

/// Approval requests, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalList {
    /// The requests.
    pub approvals: Vec<ApprovalView>,
}

/// What a deploy or rollback request led to (`202 Accepted`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Accepted {
    /// The run started.
    Started {
        /// The run.
        run: RunView,
        /// Links.
        links: Links,
    },
    /// The request waits for approval.
    AwaitingApproval {
        /// The approval request.
        approval: ApprovalView,
        /// Links.
        links: Links,
    },
}
