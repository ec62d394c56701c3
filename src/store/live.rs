//! What each target runs: the switches pipelines reported (`live_releases`), and the answers
//! built on them (what is live, what to roll back to, what an automatic rollback restores).
//!
//! A switch is recorded the moment a stage reports it, so a run that fails (or a process that
//! dies) after the switch still leaves the truth behind: the new release is live, and its
//! `outcome` says how the checks after the switch went.

use super::records::{Action, Deployment, RunRecord};
use super::{decode_all, now_ms, Store, StoreError};
use crate::pipeline::{Phase, RunStatus};

/// Columns of a live release read as a [`Deployment`]: `status` is the outcome of the checks
/// after the switch (`running` while its run is in progress, `interrupted` when its run ended
/// without settling it).
const LIVE_COLUMNS: &str = "SELECT l.run_id, l.action, l.service, l.environment, l.version,
        COALESCE(l.outcome, CASE WHEN r.status = 'running' THEN 'running' ELSE 'interrupted' END) AS status,
        l.requested_by, l.switched_at AS created_at, l.failed_stage
     FROM live_releases l JOIN runs r ON r.id = l.run_id";

impl Store {
    /// Records that run `run` switched its target to `version` (in `phase`, doing `action`). Its outcome stays open until [`Store::settle_switches`].
    pub async fn record_switch(
        &self,
        run: &RunRecord,
        phase: Phase,
        action: Action,
        version: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO live_releases (run_id, phase, action, service, environment, version, requested_by, switched_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(run.id)
        .bind(phase.as_str())
        .bind(action.as_str())
        .bind(&run.service)
        .bind(&run.environment)
        .bind(version.map(str::to_string))
        .bind(&run.requested_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes the open switches of one phase of a run: how the stages after them ended, and
    /// the stage that did not succeed (None when they all did).
    pub async fn settle_switches(
        &self,
        run_id: i64,
        phase: Phase,
        outcome: RunStatus,
        failed_stage: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE live_releases SET outcome = $1, failed_stage = $2
             WHERE run_id = $3 AND phase = $4 AND outcome IS NULL",
        )
        .bind(outcome.as_str())
        .bind(failed_stage.map(str::to_string))
        .bind(run_id)
        .bind(phase.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The switches a run made, oldest first.
    pub async fn switches_of_run(&self, run_id: i64) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(&format!("{LIVE_COLUMNS} WHERE l.run_id = $1 ORDER BY l.id"))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, Deployment::from_row)
    }

    /// What each (service, environment) runs now: the release of its latest switch, whatever
    /// became of that run (see [`Deployment::live_note`]).
    pub async fn live_versions(
        &self,
        service: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(&format!(
            "{LIVE_COLUMNS} WHERE ($1 IS NULL OR l.service = $1) AND ($2 IS NULL OR l.environment = $2)
               AND l.id = (SELECT MAX(l2.id) FROM live_releases l2
                           WHERE l2.service = l.service AND l2.environment = l.environment)
             ORDER BY l.service, l.environment"
        ))
        .bind(service.map(str::to_string))
        .bind(environment.map(str::to_string))
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, Deployment::from_row)
    }

    /// Switches of one target, newest first.
    async fn switches(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(&format!(
            "{LIVE_COLUMNS} WHERE l.service = $1 AND l.environment = $2 ORDER BY l.id DESC LIMIT 1000"
        ))
        .bind(service)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, Deployment::from_row)
    }

    /// The version to roll back to: the newest release that passed its checks and was live
    /// before the current one was deployed (after a rollback to X, the next rollback goes to
    /// what preceded X's deploy). The current release counts whatever its checks said: a
    /// release whose verify failed is live, so rolling back from it is possible.
    pub async fn rollback_target(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows = self.switches(service, environment).await?;
        let Some(current) = rows.first().and_then(|d| d.version.clone()) else {
            return Ok(None);
        };
        let introduced = rows.iter().position(|d| {
            d.action == Action::Deploy && d.version.as_deref() == Some(current.as_str())
        });
        let before = introduced.map_or(1, |i| i + 1);
        Ok(rows
            .iter()
            .skip(before)
            .filter(|d| d.status == RunStatus::Succeeded.as_str())
            .find(|d| d.version.is_some() && d.version.as_deref() != Some(current.as_str()))
            .and_then(|d| d.version.clone()))
    }

    /// What an automatic rollback restores: the newest release of the target that passed its
    /// checks (the live one when it did).
    pub async fn restore_point(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .switches(service, environment)
            .await?
            .into_iter()
            .find(|d| d.status == RunStatus::Succeeded.as_str() && d.version.is_some())
            .and_then(|d| d.version))
    }

    /// Records the stage a run is executing now, and its phase.
    pub async fn set_run_stage(
        &self,
        run_id: i64,
        phase: Phase,
        stage: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET stage = $1, stage_phase = $2 WHERE id = $3")
            .bind(stage)
            .bind(phase.as_str())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
