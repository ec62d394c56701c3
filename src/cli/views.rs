//! The API's JSON as the CLI reads it: only the fields it prints, everything optional that
//! the contract allows to be null, unknown fields ignored (a newer server adds fields).

use serde::Deserialize;
use std::collections::BTreeMap;

/// A run (`RunView`), optionally with its stages (`GET /runs/{id}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RunView {
    /// Run id.
    pub id: i64,
    /// `deploy` or `rollback`.
    pub action: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version requested or produced.
    pub version: Option<String>,
    /// `direct`, `canary`, `blue-green`.
    pub strategy: Option<String>,
    /// Canary percent.
    pub percent: Option<u8>,
    /// Who asked.
    pub requested_by: String,
    /// `running`, `succeeded`, `failed`, `cancelled`, `interrupted`.
    pub status: String,
    /// Whether an automatic rollback ran.
    pub rolled_back: bool,
    /// Failure reason.
    pub error: Option<String>,
    /// Start, unix ms.
    pub started_at: i64,
    /// End, unix ms.
    pub finished_at: Option<i64>,
    /// Stages (only in `GET /runs/{id}`).
    pub stages: Vec<StageView>,
}

/// One stored stage of a run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StageView {
    /// `main` or `rollback`.
    pub phase: String,
    /// Position in its phase, from 0.
    pub position: u32,
    /// Stage name.
    pub name: String,
    /// How it ended.
    pub status: String,
    /// Exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// How long it took.
    pub duration_ms: Option<u64>,
    /// The last lines of its output.
    pub log_tail: Option<String>,
}

/// An approval request (`ApprovalView`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApprovalView {
    /// Request id.
    pub id: i64,
    /// `deploy` or `rollback`.
    pub action: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version.
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// `pending`, `approved`, `rejected`, `expired`, `withdrawn`.
    pub status: String,
    /// Approvals needed.
    pub required: u32,
    /// Approvals so far.
    pub approvals: u32,
    /// Roles that may approve.
    pub approver_roles: Option<Vec<String>>,
    /// Expiry, unix ms.
    pub expires_at: i64,
    /// The run it started, once approved.
    pub run_id: Option<i64>,
}

/// A lock (`LockView`; the store's `holder` spelling is read too).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LockView {
    /// Lock id.
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Service, or none for the whole environment.
    pub service: Option<String>,
    /// Who holds it.
    #[serde(alias = "holder")]
    pub locked_by: String,
    /// Why.
    pub reason: Option<String>,
    /// Until, unix ms (none: until unlocked).
    pub expires_at: Option<i64>,
    /// From, unix ms, for a freeze window that has not started yet.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// `allow` when rollbacks go through it.
    #[serde(default)]
    pub rollbacks: Option<String>,
}

/// `POST /locks`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LockReportView {
    /// The lock now in place.
    pub lock: LockView,
}

/// The data of a run event on `GET /runs/{id}/events`; which fields are set depends on
/// the event type.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventData {
    /// `main` or `rollback`.
    pub phase: Option<String>,
    /// Stage position in its phase.
    pub index: Option<u32>,
    /// Stage name.
    pub name: Option<String>,
    /// An output line (`output`).
    pub line: Option<String>,
    /// Stage or run status (`stage_finished`, `finished`).
    pub status: Option<String>,
    /// Exit code (`stage_finished`).
    pub exit_code: Option<i32>,
    /// Duration (`stage_finished`).
    pub duration_ms: Option<u64>,
    /// Why a stage was skipped (`stage_skipped`).
    pub reason: Option<String>,
    /// Version (`finished`).
    pub version: Option<String>,
    /// Whether an automatic rollback ran (`finished`).
    pub rolled_back: Option<bool>,
    /// Failure reason (`finished`).
    pub error: Option<String>,
    /// The run (`started`).
    pub run_id: Option<i64>,
    /// Deploy or rollback (`started`).
    pub action: Option<String>,
    /// Service (`started`).
    pub service: Option<String>,
    /// Environment (`started`).
    pub environment: Option<String>,
    /// Strategy (`started`).
    pub strategy: Option<String>,
    /// Who asked (`started`).
    pub requested_by: Option<String>,
    /// Stage names of the phase that begins (`started`, `rollback_started`).
    pub stages: Option<Vec<String>>,
    /// For a failed deploy, the release a manual rollback returns to (`finished`).
    pub rollback_target: Option<String>,
    /// The run as a view, if the server sends one (`started`, `finished`).
    pub run: Option<RunView>,
}

impl EventData {
    /// The run a `started` event describes.
    pub fn started_run(&self) -> RunView {
        if let Some(r) = &self.run {
            return r.clone();
        }
        RunView {
            id: self.run_id.unwrap_or_default(),
            action: self.action.clone().unwrap_or_else(|| "deploy".into()),
            service: self.service.clone().unwrap_or_default(),
            environment: self.environment.clone().unwrap_or_default(),
            version: self.version.clone(),
            strategy: self.strategy.clone(),
            requested_by: self.requested_by.clone().unwrap_or_default(),
            status: "running".into(),
            ..RunView::default()
        }
    }
}

/// A release live on a target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LiveView {
    /// The run that switched to it.
    pub run_id: i64,
    /// Version.
    pub version: Option<String>,
    /// When, unix ms.
    pub switched_at: i64,
    /// How the checks after the switch went.
    pub checks: String,
    /// The check stage that did not succeed.
    pub failed_stage: Option<String>,
}

/// One history row (`Attempt` plus `live_now`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AttemptView {
    /// Run id.
    pub run_id: i64,
    /// Deploy or rollback.
    pub action: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version.
    pub version: Option<String>,
    /// How it ended.
    pub status: String,
    /// The first stage that did not succeed.
    pub failed_stage: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When, unix ms.
    pub at: i64,
    /// Set when this entry's release is live now.
    pub live_now: Option<LiveView>,
}

/// One target in a status report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TargetView {
    /// Environment.
    pub environment: String,
    /// What runs there.
    pub live: Option<LiveView>,
    /// A newer attempt that did not stick.
    pub unsettled_attempt: Option<AttemptView>,
    /// The run in progress.
    pub running: Option<RunView>,
}

/// One service in a status report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServiceView {
    /// Service.
    pub service: String,
    /// Its targets.
    pub targets: Vec<TargetView>,
}

/// `GET /status`, `GET /services/{svc}/status`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StatusView {
    /// Services in scope.
    pub services: Vec<ServiceView>,
    /// Active locks in scope.
    pub locks: Vec<LockView>,
    /// Freeze windows in scope: open now, else the next.
    pub freezes: Vec<FreezeView>,
}

/// A freeze window's opening (`status`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FreezeView {
    /// Environment.
    pub environment: String,
    /// Only these services (none: all).
    pub services: Option<Vec<String>>,
    /// Opens, unix ms.
    pub from: i64,
    /// Closes, unix ms.
    pub until: i64,
    /// Why.
    pub reason: String,
    /// The window's zone.
    pub tz: String,
    /// `allow` or `deny`.
    pub rollbacks: String,
}

/// `GET /history`, `GET /services/{svc}/history`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HistoryView {
    /// Newest first.
    pub entries: Vec<AttemptView>,
}

/// Deploy memory facts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FactsView {
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Deploys considered.
    pub considered: usize,
    /// Failures among them.
    pub failures: usize,
    /// Failed stage → count.
    pub failing_stages: BTreeMap<String, usize>,
    /// Last success, unix ms.
    pub last_success_at: Option<i64>,
    /// Other service → failures near this one's.
    pub co_failures: BTreeMap<String, usize>,
    /// A live release whose checks did not pass.
    pub live_problem: Option<String>,
}

/// A strategy recommendation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RecommendationView {
    /// Strategy.
    pub strategy: String,
    /// Canary percent.
    pub percent: Option<u8>,
    /// Why.
    pub reason: String,
}

/// `GET /services/{svc}/context`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContextView {
    /// Failure rate, 0 to 1.
    pub failure_rate: Option<f64>,
    /// The facts.
    pub facts: FactsView,
    /// The recommendation, if a rule matches.
    pub recommendation: Option<RecommendationView>,
}

/// `POST /approvals/{id}/decision`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DecisionView {
    /// Request id.
    pub approval: i64,
    /// `approve` or `reject`.
    pub decision: String,
    /// Who decided.
    pub by: String,
    /// Who asked.
    pub requested_by: String,
    /// What followed: `result` is `waiting`, `rejected`, `started`, `refused` or
    /// `did_not_start`, with its facts.
    pub result: serde_json::Value,
}
