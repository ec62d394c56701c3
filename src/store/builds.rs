//! Builds and requests of one service, for the readiness answer: the newest deploy runs and
//! the approval requests still waiting.

use super::governance::ApprovalRecord;
use super::records::RunRecord;
use super::{Store, StoreError, RUN_COLUMNS};

/// The newest deploy run of a service, and how far it got.
#[derive(Debug, Clone)]
pub struct BuildRecord {
    /// The run.
    pub run: RunRecord,
    /// The first stage of its main phase that did not succeed.
    pub failed_stage: Option<String>,
}

impl Store {
    /// The newest deploy run of a service (any environment, running included).
    pub async fn newest_build(&self, service: &str) -> Result<Option<BuildRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE action = 'deploy' AND service = $1 ORDER BY id DESC LIMIT 1"
        ))
        .bind(service)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let run = RunRecord::from_row(&row)?;
        let failed_stage = self
            .stages(run.id)
            .await?
            .into_iter()
            .find(|s| s.phase == "main" && s.status != "succeeded")
            .map(|s| s.name);
        Ok(Some(BuildRecord { run, failed_stage }))
    }

    /// The newest deploy run of a service that built a version: its first stage succeeded
    /// and a version is known.
    pub async fn newest_good_build(&self, service: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE action = 'deploy' AND service = $1 AND version IS NOT NULL
               AND (status = 'succeeded' OR EXISTS (SELECT 1 FROM stage_results s WHERE s.run_id = runs.id
                      AND s.phase = 'main' AND s.position = 0 AND s.status = 'succeeded'))
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(service)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| RunRecord::from_row(&r))
            .transpose()
            .map_err(Into::into)
    }

    /// Approval requests for a service (optionally in one environment) still waiting for a
    /// decision at `now`, oldest first.
    pub async fn pending_approvals(
        &self,
        service: &str,
        environment: Option<&str>,
        now: i64,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{} WHERE status = 'pending' AND expires_at > $1 AND service = $2 AND ($3 IS NULL OR environment = $3) ORDER BY id",
            super::governance::APPROVAL_COLUMNS
        ))
        .bind(now)
        .bind(service)
        .bind(environment.map(str::to_string))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(ApprovalRecord::from_row)
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }
}
