//! Row types of the store.

use super::get;
use crate::config::Strategy;
use crate::origin::{Origin, ThreadKey};
use crate::pipeline::{Phase, RunStatus, StageState};
use serde::Serialize;
use sqlx::any::AnyRow;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Build and release a version.
    Deploy,
    /// Return to an earlier version.
    Rollback,
}

impl Action {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "deploy" => Some(Action::Deploy),
            "rollback" => Some(Action::Rollback),
            _ => None,
        }
    }

    /// Reads a stored action. Rows are only written from the enum; any other spelling reads
    /// as a deploy, as it always has.
    fn from_stored(s: &str) -> Action {
        Action::parse(s).unwrap_or(Action::Deploy)
    }
}

/// A confirmed, fully resolved request to run a pipeline: what the executor starts and the store records.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Deploy or rollback.
    pub action: Action,
    /// Service name.
    pub service: String,
    /// Environment name.
    pub environment: String,
    /// Requested version (None = latest build / previous release).
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<u8>,
    /// Who asked.
    pub requested_by: String,
    /// Where the request came from (and where a chat surface sends progress).
    pub origin: Origin,
}

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Id (also `DECKHAND_RUN_ID`).
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service name.
    pub service: String,
    /// Environment name.
    pub environment: String,
    /// Version requested or produced.
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<i64>,
    /// Who asked.
    pub requested_by: String,
    /// Where the request came from.
    pub origin: Origin,
    /// Current status.
    pub status: RunStatus,
    /// Whether an automatic rollback ran.
    pub rolled_back: bool,
    /// Failure reason.
    pub error: Option<String>,
    /// Start, unix ms.
    pub started_at: i64,
    /// End, unix ms.
    pub finished_at: Option<i64>,
    /// Owning process, `host:pid`.
    pub owner: Option<String>,
    /// Last heartbeat of the owner, unix ms.
    pub heartbeat_at: Option<i64>,
    /// Process group of the stage running now.
    pub pgid: Option<i64>,
    /// The stage running now (or last started), for recovery after a crash.
    pub stage: Option<String>,
    /// Its phase, `main` or `rollback`.
    pub stage_phase: Option<Phase>,
}

impl RunRecord {
    /// "deploy billionmail 2.4.0 to staging" / "rollback billionmail 2.3.1 in staging".
    pub fn describe(&self) -> String {
        format!(
            "{} {}{} {} {}",
            self.action.as_str(),
            self.service,
            self.version
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            if self.action == Action::Deploy {
                "to"
            } else {
                "in"
            },
            self.environment
        )
    }

    pub(crate) fn from_row(r: &AnyRow) -> Result<RunRecord, sqlx::Error> {
        let status: String = get(r, "status")?;
        Ok(RunRecord {
            id: get(r, "id")?,
            action: Action::from_stored(&get::<String>(r, "action")?),
            service: get(r, "service")?,
            environment: get(r, "environment")?,
            version: get(r, "version")?,
            // Written from a `Strategy`; an unknown spelling (a downgrade) reads as the default.
            strategy: Strategy::parse(&get::<String>(r, "strategy")?).unwrap_or_default(),
            percent: get(r, "percent")?,
            requested_by: get(r, "requested_by")?,
            origin: Origin::from_key(ThreadKey {
                platform: get(r, "platform")?,
                channel: get(r, "channel")?,
                thread: get(r, "thread")?,
            }),
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Interrupted),
            rolled_back: get::<i64>(r, "rolled_back")? != 0,
            error: get(r, "error")?,
            started_at: get(r, "started_at")?,
            finished_at: get(r, "finished_at")?,
            owner: get(r, "owner")?,
            heartbeat_at: get(r, "heartbeat_at")?,
            pgid: get(r, "pgid")?,
            stage: get(r, "stage")?,
            stage_phase: get::<Option<String>>(r, "stage_phase")?
                .as_deref()
                .and_then(Phase::parse),
        })
    }
}

/// A finished stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    /// Run it belongs to.
    pub run_id: i64,
    /// Main pipeline or automatic rollback.
    pub phase: Phase,
    /// Position within its phase.
    pub position: i64,
    /// Stage name.
    pub name: String,
    /// Outcome (succeeded, failed, timed out, cancelled).
    pub status: StageState,
    /// Exit code, when the process exited.
    pub exit_code: Option<i64>,
    /// Wall time.
    pub duration_ms: i64,
    /// Last output lines.
    pub log_tail: String,
    /// End, unix ms.
    pub finished_at: i64,
}

impl StageRecord {
    pub(crate) fn from_row(r: &AnyRow) -> Result<StageRecord, sqlx::Error> {
        Ok(StageRecord {
            run_id: get(r, "run_id")?,
            // Both written from the enums; anything else is a row this version did not write.
            phase: Phase::parse(&get::<String>(r, "phase")?).unwrap_or(Phase::Main),
            position: get(r, "position")?,
            name: get(r, "name")?,
            status: StageState::parse(&get::<String>(r, "status")?).unwrap_or(StageState::Failed),
            exit_code: get(r, "exit_code")?,
            duration_ms: get(r, "duration_ms")?,
            log_tail: get(r, "log_tail")?,
            finished_at: get(r, "finished_at")?,
        })
    }
}

/// An outcome of a run for one service and environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// Run that produced it.
    pub run_id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service name.
    pub service: String,
    /// Environment name.
    pub environment: String,
    /// Version (None when the build never reported one).
    pub version: Option<String>,
    /// `succeeded`, `failed`, `cancelled` or `interrupted`.
    pub status: String,
    /// Who asked.
    pub requested_by: String,
    /// When, unix ms (for a live release: when the target switched to it).
    pub created_at: i64,
    /// The first stage that did not succeed (for a live release: after the switch).
    pub failed_stage: Option<String>,
}

impl Deployment {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Deployment, sqlx::Error> {
        Ok(Deployment {
            run_id: get(r, "run_id")?,
            action: Action::from_stored(&get::<String>(r, "action")?),
            service: get(r, "service")?,
            environment: get(r, "environment")?,
            version: get(r, "version")?,
            status: get(r, "status")?,
            requested_by: get(r, "requested_by")?,
            created_at: get(r, "created_at")?,
            failed_stage: get(r, "failed_stage")?,
        })
    }

    /// For a live release, why it may not be healthy: "its verify failed", "its checks are
    /// still running"; None when the checks after the switch passed.
    pub fn live_note(&self) -> Option<String> {
        let stage = self.failed_stage.as_deref();
        match (self.status.as_str(), stage) {
            ("succeeded", _) => None,
            ("running", _) => Some("its checks are still running".into()),
            ("failed", Some(s)) => Some(format!("its {s} failed")),
            ("failed", None) => Some("its run failed".into()),
            ("cancelled", Some(s)) => Some(format!("its {s} was cancelled")),
            ("cancelled", None) => Some("its run was cancelled before its checks finished".into()),
            _ => Some("Deckhand stopped before its checks finished".into()),
        }
    }

    /// "3.2.0-rc.1 is live (its verify failed)" / "3.1.0 is live".
    pub fn live_phrase(&self) -> String {
        self.phrase(String::new())
    }

    /// "3.2.0-rc.1 is live on staging (its verify failed)".
    pub fn live_phrase_on(&self) -> String {
        self.phrase(format!(" on {}", self.environment))
    }

    fn phrase(&self, place: String) -> String {
        let version = self.version.as_deref().unwrap_or("an unknown version");
        match self.live_note() {
            Some(note) => format!("{version} is live{place} ({note})"),
            None => format!("{version} is live{place}"),
        }
    }
}
