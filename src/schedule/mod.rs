//! Schedules: stored commands that fire at a time ("deploy billionmail to staging at 18:00")
//! or at each time a cron line matches in a zone. Every replica ticks; a fire is claimed with
//! a unique insert and the schedule moved on in the same transaction
//! (`Store::claim_and_advance`), so it runs at most once on one PostgreSQL however many
//! processes tick, and exactly once unless the process dies while firing it (the fire is then
//! recorded as `claimed`, never run twice). At fire time the command goes through the command layer like any
//! other: the person's roles, locks and freeze windows are checked then, not when it was
//! scheduled. A fire due longer ago than the grace period (the process was down) is reported
//! as missed and not run: a deploy meant for 18:00 must not happen at 09:00 the next day.

use crate::command::{Command, Commander, Outcome, Refusal};
use crate::origin::ThreadKey;
use crate::pipeline::ProgressSink;
use crate::store::{FireOutcome, NewSchedule, ScheduleKind, ScheduleRecord, StoreError};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// How late a fire may still run (default for `Scheduler::new`).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5 * 60);

/// What one fire did, for the surface that reports it to the schedule's thread.
#[derive(Debug)]
pub struct Fire {
    /// The schedule, as it was when it fired.
    pub schedule: ScheduleRecord,
    /// When it was due, unix ms.
    pub due_at: i64,
    /// What happened.
    pub result: FireResult,
}

/// The result of a fire.
#[derive(Debug)]
pub enum FireResult {
    /// Due longer ago than the grace period: not run.
    Missed {
        /// How late the tick came.
        late_by: Duration,
    },
    /// Cancelled between the claim and the fire: not run.
    Cancelled,
    /// The stored command no longer reads (a release changed its format): not run.
    Unreadable(String),
    /// The command layer's answer.
    Fired(Box<Outcome>),
}

/// Why a schedule could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The time is past.
    #[error("that time is already past")]
    InThePast,
    /// The cron line or zone does not read.
    #[error("{0}")]
    BadRecurrence(String),
    /// The command cannot be stored (a query).
    #[error("only deploys, rollbacks, locks and unlocks can be scheduled")]
    NotSchedulable,
}

/// The next time `cron` matches after `after_ms`, in `tz`.
pub fn next_match(cron: &str, tz: &str, after_ms: i64) -> Result<i64, ScheduleError> {
    let line = crate::governance::freeze::five_field_cron(cron)
        .map_err(|e| ScheduleError::BadRecurrence(format!("`{cron}` is not a cron line: {e}")))?;
    let zone = TimeZone::get(tz)
        .map_err(|_| ScheduleError::BadRecurrence(format!("unknown time zone `{tz}`")))?;
    let start = Timestamp::from_millisecond(after_ms)
        .map_err(|_| ScheduleError::BadRecurrence("time out of range".into()))?
        .to_zoned(zone);
    let next = line
        .find_next_occurrence(&start, false)
        .map_err(|e| ScheduleError::BadRecurrence(format!("`{cron}` never matches: {e}")))?;
    Ok(next.timestamp().as_millisecond())
}

/// Fires the due schedules of one store for one replica.
#[derive(Clone)]
pub struct Scheduler {
    commander: Commander,
    replica: String,
    grace: Duration,
}

impl Scheduler {
    /// A scheduler for `commander`'s store; `replica` names this process in the claims.
    pub fn new(commander: Commander, replica: impl Into<String>, grace: Duration) -> Scheduler {
        Scheduler {
            commander,
            replica: replica.into(),
            grace,
        }
    }

    /// Stores `command` to run as `created_by` once at `at_ms`, reported to `report_to`.
    /// Permission is checked at fire time, when it counts.
    pub async fn once(
        &self,
        command: &Command,
        created_by: &str,
        at_ms: i64,
        tz: &str,
        report_to: ThreadKey,
    ) -> Result<ScheduleRecord, ScheduleError> {
        let now = crate::clock::now_ms();
        if at_ms <= now {
            return Err(ScheduleError::InThePast);
        }
        self.store(
            ScheduleKind::Once,
            None,
            command,
            created_by,
            at_ms,
            tz,
            report_to,
        )
        .await
    }

    /// Stores `command` to run as `created_by` at each time `cron` matches in `tz`.
    pub async fn recurring(
        &self,
        command: &Command,
        created_by: &str,
        cron: &str,
        tz: &str,
        report_to: ThreadKey,
    ) -> Result<ScheduleRecord, ScheduleError> {
        let first = next_match(cron, tz, crate::clock::now_ms())?;
        let cron = Some(cron.to_string());
        self.store(
            ScheduleKind::Cron,
            cron,
            command,
            created_by,
            first,
            tz,
            report_to,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &self,
        kind: ScheduleKind,
        cron: Option<String>,
        command: &Command,
        created_by: &str,
        first: i64,
        tz: &str,
        report_to: ThreadKey,
    ) -> Result<ScheduleRecord, ScheduleError> {
        if matches!(command, Command::Query(_)) {
            return Err(ScheduleError::NotSchedulable);
        }
        let serialised =
            serde_json::to_string(command).map_err(|_| ScheduleError::NotSchedulable)?;
        let store = self.commander.store();
        let id = store
            .create_schedule(&NewSchedule {
                kind,
                cron,
                tz: tz.to_string(),
                next_fire_at: first,
                command: serialised,
                created_by: created_by.to_string(),
                report_to,
                created_at: crate::clock::now_ms(),
            })
            .await?;
        let record = store.schedule(id).await?;
        // Just inserted in this store: absent only if the row was deleted under us.
        record.ok_or(ScheduleError::Store(StoreError::Query(
            sqlx::Error::RowNotFound,
        )))
    }

    /// Fires every schedule due now that this replica wins the claim for; every run reports
    /// to `progress`.
    pub async fn tick(&self, progress: Arc<dyn ProgressSink>) -> Result<Vec<Fire>, StoreError> {
        self.tick_with(&|_| Some(progress.clone())).await
    }

    /// [`Scheduler::tick`] with the progress of each fire's run going where `progress_for`
    /// says (its schedule's thread). A schedule `progress_for` has no answer for (its
    /// thread's platform is not connected to this process) is left for a process that can
    /// report it. A store error on one fire is logged and the others still fire; only the
    /// list of due schedules failing is an error.
    pub async fn tick_with(
        &self,
        progress_for: &(dyn Fn(&ScheduleRecord) -> Option<Arc<dyn ProgressSink>> + Send + Sync),
    ) -> Result<Vec<Fire>, StoreError> {
        let now = crate::clock::now_ms();
        let store = self.commander.store();
        let mut fires = Vec::new();
        for s in store.due_schedules(now).await? {
            let Some(progress) = progress_for(&s) else {
                continue;
            };
            match self.fire_one(s, now, progress).await {
                Ok(Some(fire)) => fires.push(fire),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "a schedule's fire failed in the store"),
            }
        }
        Ok(fires)
    }

    /// Claims and fires one due schedule; None when another replica has it or it was
    /// cancelled meanwhile.
    async fn fire_one(
        &self,
        s: ScheduleRecord,
        now: i64,
        progress: Arc<dyn ProgressSink>,
    ) -> Result<Option<Fire>, StoreError> {
        let Some(due_at) = s.next_fire_at else {
            return Ok(None);
        };
        let next = match (&s.kind, &s.cron) {
            (ScheduleKind::Cron, Some(cron)) => next_match(cron, &s.tz, now.max(due_at)).ok(),
            _ => None,
        };
        let store = self.commander.store();
        if !store
            .claim_and_advance(s.id, due_at, next, &self.replica, now)
            .await?
        {
            return Ok(None);
        }
        let result = self.run(&s, due_at, now, progress).await?;
        Ok(Some(self.fire(s, due_at, result)))
    }

    fn fire(&self, schedule: ScheduleRecord, due_at: i64, result: FireResult) -> Fire {
        Fire {
            schedule,
            due_at,
            result,
        }
    }

    /// Runs one claimed fire and records its outcome.
    async fn run(
        &self,
        s: &ScheduleRecord,
        due_at: i64,
        now: i64,
        progress: Arc<dyn ProgressSink>,
    ) -> Result<FireResult, StoreError> {
        let store = self.commander.store();
        let late = Duration::from_millis((now - due_at).max(0) as u64);
        if late > self.grace {
            let detail = format!("due {} ago; not run", crate::timefmt::span(late));
            store
                .finish_fire(s.id, due_at, FireOutcome::Missed, &detail, None)
                .await?;
            self.audited(s, due_at, FireOutcome::Missed).await;
            return Ok(FireResult::Missed { late_by: late });
        }
        let command = match serde_json::from_str::<Command>(&s.command) {
            Ok(c) => c,
            Err(e) => {
                let detail = format!("the stored command does not read: {e}");
                store
                    .finish_fire(s.id, due_at, FireOutcome::Failed, &detail, None)
                    .await?;
                return Ok(FireResult::Unreadable(detail));
            }
        };
        let outcome = match self.commander.fire(s, command, progress).await {
            Ok(o) => o,
            Err(e) => {
                store
                    .finish_fire(s.id, due_at, FireOutcome::Failed, &e.to_string(), None)
                    .await?;
                return Err(match e {
                    crate::command::CommandError::Store(e) => e,
                });
            }
        };
        let (kind, detail, run) = recorded(&outcome);
        store.finish_fire(s.id, due_at, kind, &detail, run).await?;
        self.audited(s, due_at, kind).await;
        Ok(FireResult::Fired(Box::new(outcome)))
    }
}

impl Scheduler {
    /// The fire in the audit trail (the command it ran is audited as any other).
    async fn audited(&self, s: &ScheduleRecord, due_at: i64, outcome: FireOutcome) {
        self.commander
            .audit()
            .log(
                &s.created_by,
                crate::audit::AuditEvent::ScheduleFired {
                    schedule: s.id,
                    due_at,
                    outcome: outcome.as_str().to_string(),
                },
            )
            .await;
    }
}

/// How an outcome is recorded with its fire.
fn recorded(outcome: &Outcome) -> (FireOutcome, String, Option<i64>) {
    match outcome {
        Outcome::Started(s) => (FireOutcome::Started, String::new(), Some(s.run_id.0)),
        Outcome::AwaitingApproval(t) => (
            FireOutcome::AwaitingApproval,
            format!("approval #{}", t.id),
            None,
        ),
        Outcome::Refused(r) => (FireOutcome::Refused, refusal_detail(r), None),
        Outcome::Answer(_) => (FireOutcome::Done, String::new(), None),
    }
}

fn refusal_detail(r: &Refusal) -> String {
    r.kind().as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_match_follows_the_zone() {
        let after: i64 = "2026-12-02T17:30:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        let berlin = next_match("0 6 * * 1-5", "Europe/Berlin", after).unwrap();
        let want: i64 = "2026-12-03T05:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        assert_eq!(berlin, want);
        assert!(matches!(
            next_match("61 * * * *", "UTC", after),
            Err(ScheduleError::BadRecurrence(_))
        ));
        assert!(matches!(
            next_match("0 6 * * *", "Mars/Olympus", after),
            Err(ScheduleError::BadRecurrence(_))
        ));
    }
}
