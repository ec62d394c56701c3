//! Builds and requests of one service, for the readiness answer: the newest deploy runs and
//! the approval requests still waiting.

use super::governance::ApprovalRecord;
use super::records::RunRecord;
use super::{decode_all, Store, StoreError, RUN_COLUMNS};
use crate::pipeline::{Phase, StageState};

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
            .find(|s| s.phase == Phase::Main && s.status != StageState::Succeeded)
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
        decode_all(&rows, ApprovalRecord::from_row)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::super::{Action, NewApproval, NewRun, StageRecord, Store};
    use crate::config::Strategy;
    use crate::origin::ThreadKey;
    use crate::pipeline::RunStatus;

    async fn run(s: &Store, env: &str, version: Option<&str>, stages: &[(&str, &str)]) -> i64 {
        let id = s
            .start_run(&NewRun {
                action: Action::Deploy,
                service: "billionmail".into(),
                environment: env.into(),
                version: version.map(str::to_string),
                strategy: Strategy::Direct,
                percent: None,
                requested_by: "alice".into(),
                origin: ThreadKey::new("console", "console", "t1").into(),
            })
            .await
            .unwrap();
        for (i, (name, status)) in stages.iter().enumerate() {
            s.record_stage(&StageRecord {
                run_id: id,
                phase: crate::pipeline::Phase::Main,
                position: i as i64,
                name: (*name).into(),
                status: crate::pipeline::StageState::parse(status).unwrap(),
                exit_code: None,
                duration_ms: 1,
                log_tail: String::new(),
                finished_at: 0,
            })
            .await
            .unwrap();
        }
        let ok = stages.iter().all(|(_, st)| *st == "succeeded");
        let record = s.run(id).await.unwrap().unwrap();
        let status = if ok {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        s.finish_run(&record, status, false, None).await.unwrap();
        id
    }

    #[tokio::test]
    async fn newest_and_last_good_builds() {
        for t in testing::all().await {
            let s = &t.store;
            assert!(s.newest_build("billionmail").await.unwrap().is_none());
            run(
                s,
                "staging",
                Some("2.4.0"),
                &[("build", "succeeded"), ("test", "succeeded")],
            )
            .await;
            let tested = run(
                s,
                "dev",
                Some("2.5.0"),
                &[("build", "succeeded"), ("test", "failed")],
            )
            .await;
            assert_eq!(
                s.newest_good_build("billionmail")
                    .await
                    .unwrap()
                    .map(|r| r.id),
                Some(tested),
                "a build that failed its tests still built: {}",
                t.backend
            );
            let broken = run(s, "dev", None, &[("build", "failed")]).await;
            let newest = s.newest_build("billionmail").await.unwrap().unwrap();
            assert_eq!(newest.run.id, broken);
            assert_eq!(newest.failed_stage.as_deref(), Some("build"));
            assert_eq!(
                s.newest_good_build("billionmail")
                    .await
                    .unwrap()
                    .map(|r| r.id),
                Some(tested)
            );
            assert!(s.newest_build("redis").await.unwrap().is_none());
            t.cleanup().await;
        }
    }

    #[tokio::test]
    async fn pending_approvals_of_a_service() {
        for t in testing::all().await {
            let s = &t.store;
            let ask = |env: &str, expires_at: i64| NewApproval {
                action: Action::Deploy,
                service: "billionmail".into(),
                environment: env.into(),
                version: None,
                strategy: crate::config::Strategy::Direct,
                percent: None,
                requested_by: "alice".into(),
                origin: ThreadKey::new("console", "console", "t1").into(),
                command: String::new(),
                required: 1,
                note: String::new(),
                created_at: 0,
                expires_at,
            };
            let prod = s.create_approval(&ask("production", 10_000)).await.unwrap();
            let stale = s.create_approval(&ask("production", 500)).await.unwrap();
            let stg = s.create_approval(&ask("staging", 10_000)).await.unwrap();
            let decided = s.create_approval(&ask("staging", 10_000)).await.unwrap();
            s.close_approval(decided, crate::store::ApprovalStatus::Approved, 900)
                .await
                .unwrap();
            let ids = |v: Vec<super::ApprovalRecord>| v.iter().map(|a| a.id).collect::<Vec<_>>();
            assert_eq!(
                ids(s
                    .pending_approvals("billionmail", None, 1_000)
                    .await
                    .unwrap()),
                vec![prod, stg],
                "expired ({stale}) and decided requests are not waiting: {}",
                t.backend
            );
            assert_eq!(
                ids(s
                    .pending_approvals("billionmail", Some("staging"), 1_000)
                    .await
                    .unwrap()),
                vec![stg]
            );
            assert!(s
                .pending_approvals("redis", None, 1_000)
                .await
                .unwrap()
                .is_empty());
            t.cleanup().await;
        }
    }
}
