//! Store side of schedules: the stored commands, their next fire time, and the claims that
//! make each fire run exactly once across replicas (graphile-worker's trick: a fire is the
//! insert of its `(schedule_id, fire_at)` row; a replica whose insert conflicts skips it).

use super::{get, Store, StoreError};
use crate::origin::ThreadKey;
use serde::Serialize;
use sqlx::any::AnyRow;

/// Whether a schedule fires once or recurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// At one time.
    Once,
    /// At each time its cron line matches.
    Cron,
}

impl ScheduleKind {
    fn as_str(self) -> &'static str {
        match self {
            ScheduleKind::Once => "once",
            ScheduleKind::Cron => "cron",
        }
    }
}

/// What became of one fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FireOutcome {
    /// Claimed, not finished yet (or the replica died while firing).
    Claimed,
    /// The command started a run.
    Started,
    /// The command is waiting for an approval.
    AwaitingApproval,
    /// The command layer refused it at fire time (a lock, a freeze, a role).
    Refused,
    /// Due longer ago than the grace period (the process was down): reported, not run.
    Missed,
    /// The store failed while firing.
    Failed,
    /// Done, with an answer (a lock or unlock put in place).
    Done,
}

impl FireOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FireOutcome::Claimed => "claimed",
            FireOutcome::Started => "started",
            FireOutcome::AwaitingApproval => "awaiting_approval",
            FireOutcome::Refused => "refused",
            FireOutcome::Missed => "missed",
            FireOutcome::Failed => "failed",
            FireOutcome::Done => "done",
        }
    }
}

/// A schedule to store.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// Once or recurring.
    pub kind: ScheduleKind,
    /// The cron line, for a recurring one.
    pub cron: Option<String>,
    /// The zone it was said in / the cron line is read in.
    pub tz: String,
    /// The first fire, unix ms.
    pub next_fire_at: i64,
    /// The command, serialised.
    pub command: String,
    /// The person it runs as.
    pub created_by: String,
    /// Where fires are reported.
    pub report_to: ThreadKey,
    /// When, unix ms.
    pub created_at: i64,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScheduleRecord {
    /// Id.
    pub id: i64,
    /// Once or recurring.
    pub kind: ScheduleKind,
    /// The cron line, for a recurring one.
    pub cron: Option<String>,
    /// Its zone.
    pub tz: String,
    /// The next fire, unix ms (None: done or cancelled).
    pub next_fire_at: Option<i64>,
    /// The command, serialised (JSON).
    pub command: String,
    /// The person it runs as.
    pub created_by: String,
    /// Where fires are reported: platform, channel, thread.
    #[schema(value_type = Object)]
    pub report_to: ThreadKey,
    /// When it was made, unix ms.
    pub created_at: i64,
    /// When it was cancelled, unix ms.
    pub cancelled_at: Option<i64>,
    /// Who cancelled it.
    pub cancelled_by: Option<String>,
    /// The approval request bound to it (a scheduled deploy that needs approval).
    pub approval_id: Option<i64>,
    /// The config job it stands for (`jobs:`), if any.
    pub job: Option<String>,
}

const COLUMNS: &str = "SELECT id, kind, cron, tz, next_fire_at, command, created_by, platform, channel, thread, created_at, cancelled_at, cancelled_by, approval_id, job FROM schedules";

fn from_row(r: &AnyRow) -> Result<ScheduleRecord, sqlx::Error> {
    let kind: String = get(r, "kind")?;
    Ok(ScheduleRecord {
        id: get(r, "id")?,
        kind: if kind == "cron" {
            ScheduleKind::Cron
        } else {
            ScheduleKind::Once
        },
        cron: get(r, "cron")?,
        tz: get(r, "tz")?,
        next_fire_at: get(r, "next_fire_at")?,
        command: get(r, "command")?,
        created_by: get(r, "created_by")?,
        report_to: ThreadKey::new(
            &get::<String>(r, "platform")?,
            &get::<String>(r, "channel")?,
            &get::<String>(r, "thread")?,
        ),
        created_at: get(r, "created_at")?,
        cancelled_at: get(r, "cancelled_at")?,
        cancelled_by: get(r, "cancelled_by")?,
        approval_id: get(r, "approval_id")?,
        job: get(r, "job")?,
    })
}

impl Store {
    /// Stores a schedule; returns its id.
    pub async fn create_schedule(&self, s: &NewSchedule) -> Result<i64, StoreError> {
        let row = self.insert_schedule(s, None).await?;
        // Without a job name nothing can conflict.
        let row = row.ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        Ok(get(&row, "id")?)
    }

    /// Inserts a schedule (for `job`, unless that job has one already: None).
    async fn insert_schedule(
        &self,
        s: &NewSchedule,
        job: Option<&str>,
    ) -> Result<Option<AnyRow>, StoreError> {
        let row = sqlx::query("INSERT INTO schedules (kind, cron, tz, next_fire_at, command, created_by, platform, channel, thread, created_at, job) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (job) DO NOTHING RETURNING id")
            .bind(s.kind.as_str())
            .bind(s.cron.clone())
            .bind(&s.tz)
            .bind(s.next_fire_at)
            .bind(&s.command)
            .bind(&s.created_by)
            .bind(&s.report_to.platform)
            .bind(&s.report_to.channel)
            .bind(&s.report_to.thread)
            .bind(s.created_at)
            .bind(job)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// One schedule by id.
    pub async fn schedule(&self, id: i64) -> Result<Option<ScheduleRecord>, StoreError> {
        let row = sqlx::query(&format!("{COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Schedules still to fire, soonest first.
    pub async fn pending_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{COLUMNS} WHERE next_fire_at IS NOT NULL ORDER BY next_fire_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Schedules due at `now`, soonest first.
    pub async fn due_schedules(&self, now: i64) -> Result<Vec<ScheduleRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{COLUMNS} WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 ORDER BY next_fire_at, id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Claims the fire of `schedule_id` due at `fire_at` and moves the schedule on to `next`
    /// (None: done), in one transaction: true for exactly one caller however many replicas
    /// try, and never a claim without the move (a crash between them would block the
    /// schedule) nor a move without the claim (a lost fire). False when another replica
    /// claimed it, or it was cancelled or moved meanwhile (then nothing is written).
    pub async fn claim_and_advance(
        &self,
        schedule_id: i64,
        fire_at: i64,
        next: Option<i64>,
        replica: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query("INSERT INTO schedule_fires (schedule_id, fire_at, claimed_by, claimed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (schedule_id, fire_at) DO NOTHING")
            .bind(schedule_id)
            .bind(fire_at)
            .bind(replica)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await?;
            return Ok(false);
        }
        let moved = sqlx::query(
            "UPDATE schedules SET next_fire_at = $1 WHERE id = $2 AND next_fire_at = $3",
        )
        .bind(next)
        .bind(schedule_id)
        .bind(fire_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !moved {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records what became of a claimed fire.
    pub async fn finish_fire(
        &self,
        schedule_id: i64,
        fire_at: i64,
        outcome: FireOutcome,
        detail: &str,
        run_id: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE schedule_fires SET outcome = $1, detail = $2, run_id = $3 WHERE schedule_id = $4 AND fire_at = $5")
            .bind(outcome.as_str())
            .bind(detail)
            .bind(run_id)
            .bind(schedule_id)
            .bind(fire_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The fires of a schedule, oldest first: (fire_at, claimed_by, outcome, detail, run_id).
    pub async fn schedule_fires(
        &self,
        schedule_id: i64,
    ) -> Result<Vec<(i64, String, String, String, Option<i64>)>, StoreError> {
        let rows = sqlx::query("SELECT fire_at, claimed_by, outcome, detail, run_id FROM schedule_fires WHERE schedule_id = $1 ORDER BY fire_at")
            .bind(schedule_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "fire_at")?,
                    get(r, "claimed_by")?,
                    get(r, "outcome")?,
                    get(r, "detail")?,
                    get(r, "run_id")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Cancels a schedule still to fire; false when it was done or cancelled already.
    pub async fn cancel_schedule(&self, id: i64, by: &str, at: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE schedules SET next_fire_at = NULL, cancelled_at = $1, cancelled_by = $2 WHERE id = $3 AND next_fire_at IS NOT NULL")
            .bind(at)
            .bind(by)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Binds an approval request to a schedule: deciding it approves that fire only.
    pub async fn bind_approval(
        &self,
        schedule_id: i64,
        approval_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE schedules SET approval_id = $1 WHERE id = $2")
            .bind(approval_id)
            .bind(schedule_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The schedule an approval request is bound to, if any.
    pub async fn schedule_for_approval(
        &self,
        approval_id: i64,
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        let row = sqlx::query(&format!("{COLUMNS} WHERE approval_id = $1"))
            .bind(approval_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Schedules newest first: those still to fire, or (with `all`) every one, at most `limit`.
    pub async fn list_schedules(
        &self,
        all: bool,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let filter = if all {
            ""
        } else {
            " WHERE next_fire_at IS NOT NULL"
        };
        let rows = sqlx::query(&format!("{COLUMNS}{filter} ORDER BY id DESC LIMIT $1"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Puts the config job `name` in place as a recurring schedule, or brings its row in
    /// step (a changed cron line, zone, command or person; a job back in the config after it
    /// was removed). The next fire is kept when nothing that decides it changed, so a
    /// restart never skips or repeats one. Returns the schedule's id.
    pub async fn sync_job(&self, name: &str, s: &NewSchedule) -> Result<i64, StoreError> {
        let existing = sqlx::query(&format!("{COLUMNS} WHERE job = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = existing else {
            let row = self.insert_schedule(s, Some(name)).await?;
            return match row {
                Some(r) => Ok(get(&r, "id")?),
                // Another replica inserted it between our read and insert.
                None => Box::pin(self.sync_job(name, s)).await,
            };
        };
        let old = from_row(&row)?;
        let same = old.cron == s.cron
            && old.tz == s.tz
            && old.command == s.command
            && old.created_by == s.created_by
            && old.report_to == s.report_to
            && old.cancelled_at.is_none()
            && old.next_fire_at.is_some();
        if !same {
            sqlx::query("UPDATE schedules SET cron = $1, tz = $2, next_fire_at = $3, command = $4, created_by = $5, platform = $6, channel = $7, thread = $8, cancelled_at = NULL, cancelled_by = NULL WHERE id = $9")
                .bind(s.cron.clone())
                .bind(&s.tz)
                .bind(s.next_fire_at)
                .bind(&s.command)
                .bind(&s.created_by)
                .bind(&s.report_to.platform)
                .bind(&s.report_to.channel)
                .bind(&s.report_to.thread)
                .bind(old.id)
                .execute(&self.pool)
                .await?;
        }
        Ok(old.id)
    }

    /// Cancels the job schedules whose names are not in `keep` (jobs removed from the
    /// config); returns how many.
    pub async fn retire_jobs(&self, keep: &[String], at: i64) -> Result<u64, StoreError> {
        let rows = sqlx::query(&format!(
            "{COLUMNS} WHERE job IS NOT NULL AND next_fire_at IS NOT NULL"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut n = 0;
        for r in rows.iter().map(from_row) {
            let r = r?;
            if r.job.as_ref().is_some_and(|j| !keep.contains(j))
                && self.cancel_schedule(r.id, "config", at).await?
            {
                n += 1;
            }
        }
        Ok(n)
    }
}
