//! Store side of plans: a plan and its ordered steps, each step's outcome as it runs, and the
//! plans a dead process left running (marked interrupted at the next start).

use super::{get, Store, StoreError};
use crate::origin::{Origin, ThreadKey};
use crate::pipeline::RunStatus;
use serde::Serialize;

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Its steps are going.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed or was refused; the rest were skipped.
    Failed,
    /// The process stopped while it was running.
    Interrupted,
    /// Someone cancelled the running step's run; the rest were skipped.
    Cancelled,
}

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started yet.
    Pending,
    /// Its run is going.
    Running,
    /// Its run succeeded.
    Succeeded,
    /// Its run failed or was cancelled.
    Failed,
    /// The checks when it was due refused it (a lock, a role, a busy target).
    Refused,
    /// Not run: an earlier step did not succeed.
    Skipped,
}

macro_rules! spelled {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }

            /// Reads the stored spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}

spelled!(PlanStatus { Running => "running", Succeeded => "succeeded", Failed => "failed", Interrupted => "interrupted", Cancelled => "cancelled" });
spelled!(StepStatus { Pending => "pending", Running => "running", Succeeded => "succeeded", Failed => "failed", Refused => "refused", Skipped => "skipped" });

impl StepStatus {
    /// The (start, end) times a step moving to this status at `at` gets: a running step
    /// started then, an ended one ended then, a pending one neither.
    fn times(self, at: i64) -> (Option<i64>, Option<i64>) {
        match self {
            StepStatus::Pending => (None, None),
            StepStatus::Running => (Some(at), None),
            _ => (None, Some(at)),
        }
    }
}

/// A step to store.
#[derive(Debug, Clone)]
pub struct NewStep {
    /// The deploy, serialised.
    pub command: String,
    /// Its service.
    pub service: String,
    /// Its environment.
    pub environment: String,
}

/// A stored step.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepRecord {
    /// 1, 2, ... in the order they run.
    pub position: i64,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// The deploy, serialised.
    pub command: String,
    /// Where it stands.
    pub status: StepStatus,
    /// Its run.
    pub run_id: Option<i64>,
    /// Why it was refused, failed or skipped.
    pub detail: String,
    /// When its run started (unix ms; None: it never started).
    pub started_at: Option<i64>,
    /// When it ended (unix ms).
    pub finished_at: Option<i64>,
}

impl StepRecord {
    /// How long the step took, once it started and ended.
    pub fn took(&self) -> Option<std::time::Duration> {
        let (from, to) = (self.started_at?, self.finished_at?);
        Some(std::time::Duration::from_millis((to - from).max(0) as u64))
    }
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanRecord {
    /// Id.
    pub id: i64,
    /// Who asked.
    pub requested_by: String,
    /// Where it was asked.
    #[schema(value_type = Object)]
    pub origin: Origin,
    /// Where it stands.
    pub status: PlanStatus,
    /// When it was made, unix ms.
    pub created_at: i64,
    /// When it ended, unix ms.
    pub finished_at: Option<i64>,
    /// The last sign of life of the process running it, unix ms (None: from before plans
    /// beat; see [`Store::interrupt_plans`]).
    pub heartbeat_at: Option<i64>,
    /// Its steps in order.
    pub steps: Vec<StepRecord>,
}

impl PlanRecord {
    /// When the plan last showed life: its own heartbeat, or a step starting or ending (or
    /// its making), whichever is latest.
    pub fn last_sign_of_life(&self) -> i64 {
        self.steps
            .iter()
            .flat_map(|s| [s.started_at, s.finished_at])
            .flatten()
            .chain(self.heartbeat_at)
            .fold(self.created_at, i64::max)
    }
}

fn bad(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unknown {column} `{value}`").into(),
    }
}

impl Store {
    /// Stores a plan with its steps (all pending), running; returns its id.
    pub async fn create_plan(
        &self,
        requested_by: &str,
        origin: &Origin,
        steps: &[NewStep],
        now: i64,
    ) -> Result<i64, StoreError> {
        let key = origin.to_key();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("INSERT INTO plans (requested_by, owner, platform, channel, thread, status, created_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, 'running', $6, $6) RETURNING id")
            .bind(requested_by)
            .bind(super::instance_id())
            .bind(key.platform)
            .bind(key.channel)
            .bind(key.thread)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = get(&row, "id")?;
        for (i, s) in steps.iter().enumerate() {
            sqlx::query("INSERT INTO plan_steps (plan_id, position, command, service, environment) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(i as i64 + 1)
                .bind(&s.command)
                .bind(&s.service)
                .bind(&s.environment)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Records where a step stands at `at`: a running step's start, an ended step's end.
    pub async fn set_step(
        &self,
        plan_id: i64,
        position: i64,
        status: StepStatus,
        run_id: Option<i64>,
        detail: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let (started, finished) = status.times(at);
        sqlx::query("UPDATE plan_steps SET status = $1, run_id = COALESCE($2, run_id), detail = $3, started_at = COALESCE($4, started_at), finished_at = COALESCE($5, finished_at) WHERE plan_id = $6 AND position = $7")
            .bind(status.as_str())
            .bind(run_id)
            .bind(detail)
            .bind(started)
            .bind(finished)
            .bind(plan_id)
            .bind(position)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that this process still runs plan `id` (see [`Store::interrupt_plans`]).
    pub async fn plan_heartbeat(&self, id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE plans SET heartbeat_at = $1 WHERE id = $2 AND status = 'running'")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The running plans asked from `origin` that another process owns: (id, owner).
    pub async fn running_plans_elsewhere(
        &self,
        origin: &Origin,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let key = origin.to_key();
        let rows = sqlx::query("SELECT id, owner FROM plans WHERE status = 'running' AND platform = $1 AND channel = $2 AND thread = $3 AND owner <> $4 ORDER BY id")
            .bind(key.platform)
            .bind(key.channel)
            .bind(key.thread)
            .bind(super::instance_id())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((get(r, "id")?, get(r, "owner")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Marks step `position` running if it is still pending and its plan is still running
    /// and owned by this process; false otherwise (another process took the plan as
    /// interrupted, so the step must not start).
    pub async fn claim_step(
        &self,
        plan_id: i64,
        position: i64,
        at: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE plan_steps SET status = 'running', started_at = $1 WHERE plan_id = $2 AND position = $3 AND status = 'pending' AND EXISTS (SELECT 1 FROM plans WHERE id = $2 AND status = 'running' AND owner = $4)")
            .bind(at)
            .bind(plan_id)
            .bind(position)
            .bind(super::instance_id())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Ends a running plan; false when it had ended already.
    pub async fn finish_plan(
        &self,
        id: i64,
        status: PlanStatus,
        at: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE plans SET status = $1, finished_at = $2 WHERE id = $3 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// One plan with its steps.
    pub async fn plan(&self, id: i64) -> Result<Option<PlanRecord>, StoreError> {
        let Some(row) = sqlx::query("SELECT id, requested_by, platform, channel, thread, status, created_at, finished_at, heartbeat_at FROM plans WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let status: String = get(&row, "status")?;
        let steps = sqlx::query("SELECT position, service, environment, command, status, run_id, detail, started_at, finished_at FROM plan_steps WHERE plan_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let status: String = get(r, "status")?;
                Ok(StepRecord {
                    position: get(r, "position")?,
                    service: get(r, "service")?,
                    environment: get(r, "environment")?,
                    command: get(r, "command")?,
                    status: StepStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
                    run_id: get(r, "run_id")?,
                    detail: get(r, "detail")?,
                    started_at: get(r, "started_at")?,
                    finished_at: get(r, "finished_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(PlanRecord {
            id: get(&row, "id")?,
            requested_by: get(&row, "requested_by")?,
            origin: Origin::from_key(ThreadKey::new(
                &get::<String>(&row, "platform")?,
                &get::<String>(&row, "channel")?,
                &get::<String>(&row, "thread")?,
            )),
            status: PlanStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
            created_at: get(&row, "created_at")?,
            finished_at: get(&row, "finished_at")?,
            heartbeat_at: get(&row, "heartbeat_at")?,
            steps,
        }))
    }

    /// Plans newest first with a step deploying `service` (None: any) to `environment`
    /// (None: any): the running ones, or (with `all`) any, at most `limit`. The scope is
    /// matched in the query, so only the plans shown are read.
    pub async fn plans(
        &self,
        all: bool,
        service: Option<&str>,
        environment: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PlanRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT id FROM plans WHERE id IN (SELECT plan_id FROM plan_steps WHERE 1 = 1",
        );
        let mut n = 0;
        for (column, value) in [("service", service), ("environment", environment)] {
            if value.is_some() {
                n += 1;
                sql.push_str(&format!(" AND {column} = ${n}"));
            }
        }
        sql.push(')');
        if !all {
            sql.push_str(" AND status = 'running'");
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut query = sqlx::query(&sql);
        for value in [service, environment].into_iter().flatten() {
            query = query.bind(value);
        }
        let ids: Vec<i64> = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| get(r, "id"))
            .collect::<Result<_, _>>()?;
        let mut plans = Vec::new();
        for id in ids {
            if let Some(p) = self.plan(id).await? {
                plans.push(p);
            }
        }
        Ok(plans)
    }

    /// The newest plan asked for in the thread `origin` stands for.
    pub async fn latest_plan_from(
        &self,
        origin: &Origin,
    ) -> Result<Option<PlanRecord>, StoreError> {
        let key = origin.to_key();
        let row = sqlx::query("SELECT id FROM plans WHERE platform = $1 AND channel = $2 AND thread = $3 ORDER BY id DESC LIMIT 1")
            .bind(&key.platform)
            .bind(&key.channel)
            .bind(&key.thread)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => self.plan(get(&r, "id")?).await,
            None => Ok(None),
        }
    }

    /// The steps of plan `id` that were running when its process died, set from what their
    /// runs' records say (the runs were recovered first): a run that succeeded before the
    /// step's record caught up is a succeeded step (an undo takes it back), one that ended
    /// otherwise a failed step; a run still open, or a step stopped before its run was
    /// recorded, failed as interrupted (its run id, if any, stays for the run's recovery).
    async fn settle_running_steps(&self, id: i64) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "SELECT position, run_id FROM plan_steps WHERE plan_id = $1 AND status = 'running'",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let (position, run_id): (i64, Option<i64>) = (get(r, "position")?, get(r, "run_id")?);
            let run = match run_id {
                Some(run) => self.run(run).await?,
                None => None,
            };
            let (status, detail, finished) = match &run {
                Some(run) if run.status == RunStatus::Succeeded => {
                    (StepStatus::Succeeded, String::new(), run.finished_at)
                }
                Some(run) if run.status == RunStatus::Running => (
                    StepStatus::Failed,
                    "interrupted while running".to_string(),
                    None,
                ),
                Some(run) => (
                    StepStatus::Failed,
                    format!("its run ended {}", run.status.as_str()),
                    run.finished_at,
                ),
                None if run_id.is_some() => (
                    StepStatus::Failed,
                    "interrupted while running".to_string(),
                    None,
                ),
                None => (
                    StepStatus::Failed,
                    "interrupted while starting (see history for a run it may have started)"
                        .to_string(),
                    None,
                ),
            };
            sqlx::query("UPDATE plan_steps SET status = $1, detail = $2, finished_at = $3 WHERE plan_id = $4 AND position = $5")
                .bind(status.as_str())
                .bind(&detail)
                .bind(finished)
                .bind(id)
                .bind(position)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Marks plan `id` of `owner` interrupted in one statement, only if it still runs there
    /// and has not beaten since the lease (a beat in between keeps it).
    async fn take_over_silent_plan(
        &self,
        id: i64,
        owner: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE plans SET status = 'interrupted', finished_at = $1 WHERE id = $2 AND status = 'running' AND owner = $3 AND COALESCE(heartbeat_at, created_at) < $4")
            .bind(now)
            .bind(id)
            .bind(owner)
            .bind(now - super::RUN_LEASE_MS)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether plan `id`, owned on another host, shows no life for [`super::RUN_LEASE_MS`]:
    /// no heartbeat of its own, no step started or ended in that time and its running step's
    /// run (if any) has no fresh heartbeat.
    async fn plan_lease_lapsed(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let Some(plan) = self.plan(id).await? else {
            return Ok(false);
        };
        let last = plan.last_sign_of_life();
        if now - last <= super::RUN_LEASE_MS {
            return Ok(false);
        }
        for step in plan
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Running)
        {
            let Some(run) = step.run_id else { continue };
            if let Some(r) = self.run(run).await? {
                let beats = r
                    .heartbeat_at
                    .is_some_and(|hb| now - hb <= super::RUN_LEASE_MS);
                if r.status == RunStatus::Running && beats {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Marks the plans left running by a process of this host that is gone (or by this
    /// process, at its start) as interrupted; their unfinished steps are skipped. A plan of a
    /// process on another host counts as gone once its lease lapsed (see
    /// [`Store::plan_lease_lapsed`]), as a run's does. Returns their ids.
    pub async fn interrupt_plans(&self, at: i64) -> Result<Vec<i64>, StoreError> {
        let me = super::instance_id();
        let host = me
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default();
        let rows = sqlx::query("SELECT id, owner FROM plans WHERE status = 'running'")
            .fetch_all(&self.pool)
            .await?;
        let mut ids = Vec::new();
        for r in &rows {
            let (id, owner): (i64, String) = (get(r, "id")?, get(r, "owner")?);
            // The plan first, conditionally: a step claims only while its plan runs, so once
            // this wins no step of it starts, and losing it (the owner finished, or beat
            // meanwhile) leaves its steps alone.
            let taken = match owner.rsplit_once(':') {
                Some((h, pid)) if h == host => {
                    let gone = owner == me
                        || pid
                            .parse::<i32>()
                            .map_or(true, |p| !super::process_alive(p));
                    gone && self.finish_plan(id, PlanStatus::Interrupted, at).await?
                }
                _ => {
                    self.plan_lease_lapsed(id, at).await?
                        && self.take_over_silent_plan(id, &owner, at).await?
                }
            };
            if !taken {
                continue;
            }
            self.settle_running_steps(id).await?;
            sqlx::query("UPDATE plan_steps SET status = 'skipped', detail = 'the plan was interrupted' WHERE plan_id = $1 AND status = 'pending'")
                .bind(id)
                .execute(&self.pool)
                .await?;
            ids.push(id);
        }
        Ok(ids)
    }
}
