//! What `/metrics` and `/readyz` read from the store at scrape time: finished runs for the
//! DORA measures, pending approvals, runs in progress, the newest successful deploy per target,
//! and whether every embedded migration is applied. Read from the store (not counted in the
//! process) so every replica reports the same values.

use super::{get, migrate, Action, Store, StoreError};
use crate::pipeline::RunStatus;
use sqlx::any::AnyRow;

/// A finished deploy or rollback run, as the DORA measures read it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// The run.
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// How it ended (never `running`).
    pub status: RunStatus,
    /// Whether its automatic rollback restored the previous release.
    pub rolled_back: bool,
    /// Whether its main phase switched the target (a row in `live_releases`): a failure
    /// after a switch changed what users run; one before it (build, test) did not.
    pub switched: bool,
    /// When it started, unix ms.
    pub started_at: i64,
    /// When it ended, unix ms.
    pub finished_at: i64,
    /// When the first main-phase stage that did not succeed ended, unix ms.
    pub failed_at: Option<i64>,
}

impl FinishedRun {
    fn from_row(row: &AnyRow) -> Result<FinishedRun, sqlx::Error> {
        let status: String = get(row, "status")?;
        let action: String = get(row, "action")?;
        Ok(FinishedRun {
            id: get(row, "id")?,
            action: Action::parse(&action).unwrap_or(Action::Deploy),
            service: get(row, "service")?,
            environment: get(row, "environment")?,
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Interrupted),
            rolled_back: get::<i64>(row, "rolled_back")? != 0,
            switched: get::<i64>(row, "switches")? > 0,
            started_at: get(row, "started_at")?,
            finished_at: get(row, "finished_at")?,
            failed_at: get(row, "failed_at")?,
        })
    }
}

/// Approval requests still waiting in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// The environment.
    pub environment: String,
    /// How many wait (not expired).
    pub count: i64,
    /// When the oldest was made, unix ms.
    pub oldest_created_at: i64,
}

/// A count or time per target or environment (`service` empty when per environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetValue {
    /// Service (empty for a per-environment value).
    pub service: String,
    /// Environment.
    pub environment: String,
    /// The value (a count, or unix ms).
    pub value: i64,
}

/// Whether the schema in the database is the one this binary embeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// Embedded migrations (versions) not applied successfully.
    pub missing: Vec<i64>,
    /// How many the binary embeds.
    pub embedded: usize,
}

impl Store {
    /// Deploy and rollback runs that ended at or after `since` (unix ms), oldest first.
    pub async fn finished_runs_since(&self, since: i64) -> Result<Vec<FinishedRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.action, r.service, r.environment, r.status, r.rolled_back, r.started_at, r.finished_at,
                    CAST((SELECT COUNT(*) FROM live_releases l WHERE l.run_id = r.id AND l.phase = 'main') AS BIGINT) AS switches,
                    (SELECT MIN(s.finished_at) FROM stage_results s WHERE s.run_id = r.id AND s.phase = 'main' AND s.status <> 'succeeded') AS failed_at
             FROM runs r WHERE r.status <> 'running' AND r.finished_at IS NOT NULL AND r.finished_at >= $1
             ORDER BY r.id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        super::decode_all(&rows, FinishedRun::from_row)
    }

    /// Approval requests still pending (and not expired) at `now`, per environment.
    pub async fn pending_approval_summary(
        &self,
        now: i64,
    ) -> Result<Vec<PendingSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT environment, CAST(COUNT(*) AS BIGINT) AS n, MIN(created_at) AS oldest
             FROM approvals WHERE status = 'pending' AND expires_at > $1
             GROUP BY environment ORDER BY environment",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        super::decode_all(&rows, |r| {
            Ok(PendingSummary {
                environment: get(r, "environment")?,
                count: get(r, "n")?,
                oldest_created_at: get(r, "oldest")?,
            })
        })
    }

    /// When each target's newest successful deploy ended (unix ms).
    pub async fn last_successful_deploys(&self) -> Result<Vec<TargetValue>, StoreError> {
        let rows = sqlx::query(
            "SELECT service, environment, MAX(finished_at) AS at FROM runs
             WHERE action = 'deploy' AND status = 'succeeded' AND finished_at IS NOT NULL
             GROUP BY service, environment ORDER BY service, environment",
        )
        .fetch_all(&self.pool)
        .await?;
        super::decode_all(&rows, |r| {
            Ok(TargetValue {
                service: get(r, "service")?,
                environment: get(r, "environment")?,
                value: get(r, "at")?,
            })
        })
    }

    /// How many runs are in progress per environment (every process's).
    pub async fn running_by_environment(&self) -> Result<Vec<TargetValue>, StoreError> {
        let rows = sqlx::query(
            "SELECT environment, CAST(COUNT(*) AS BIGINT) AS n FROM runs WHERE status = 'running'
             GROUP BY environment ORDER BY environment",
        )
        .fetch_all(&self.pool)
        .await?;
        super::decode_all(&rows, |r| {
            Ok(TargetValue {
                service: String::new(),
                environment: get(r, "environment")?,
                value: get(r, "n")?,
            })
        })
    }

    /// Compares the migrations applied in the database with the ones this binary embeds; an
    /// error means the store does not answer.
    pub async fn schema_state(&self) -> Result<SchemaState, StoreError> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        let migrator = migrate::migrator(self.backend);
        let missing = migrator
            .migrations
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        Ok(SchemaState {
            missing,
            embedded: migrator.migrations.len(),
        })
    }
}
