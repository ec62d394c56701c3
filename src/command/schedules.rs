//! Commands stored to run later ("deploy billionmail to staging at 18:00"), cancelling them,
//! and what a schedule does when it fires.
//!
//! At scheduling only what cannot change by itself is checked: the names, the time, and the
//! person's role for the command. Locks, freezes, busy targets and roles are checked again
//! when it fires, through the same plan as any other command. A deploy that needs approval
//! gets its approval request now, bound to the schedule and due by the fire time: approving
//! it approves that fire only (the decision does not start a run), and without it the fire is
//! refused as not approved.

use super::{
    Actor, ApprovalTicket, Command, CommandResult, Commander, Origin, Outcome, Plan, Progress,
    Refusal, Report,
};
use crate::audit::AuditEvent;
use crate::governance::{FreezeSpan, Verb};
use crate::store::{
    Action, ApprovalStatus, LockRecord, NewSchedule, ScheduleKind, ScheduleRecord, StoreError,
};
use serde::{Deserialize, Serialize};

/// How far ahead a one-off schedule may be set.
pub const MAX_AHEAD_MS: i64 = 90 * 86_400_000;

/// A command to run once at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// What runs: a deploy, rollback, lock or unlock. (Stored as `scheduled`: `command` is
    /// the tag of the enclosing [`Command`].)
    #[serde(rename = "scheduled")]
    pub command: Box<Command>,
    /// When, unix ms.
    pub at: i64,
    /// The zone it was said in (times are shown in it).
    pub tz: String,
}

/// Which schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRef {
    /// Its id.
    pub id: i64,
}

/// Which schedules a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedulesQuery {
    /// Also the ones done or cancelled.
    pub all: bool,
    /// At most this many (newest first).
    pub limit: u32,
}

/// A schedule as reported: the stored record with its command read back.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleEntry {
    /// The stored schedule.
    pub record: ScheduleRecord,
    /// The command it runs (None: it no longer reads).
    pub command: Option<Command>,
    /// Its bound approval request and where that stands.
    pub approval: Option<(i64, ApprovalStatus)>,
}

impl ScheduleEntry {
    /// "deploy billionmail 2.4.0 to staging", "lock staging".
    pub fn what(&self) -> String {
        match &self.command {
            Some(c) => describe_command(c),
            None => "a command that no longer reads".into(),
        }
    }
}

/// A command in a few words, for schedule listings and fire reports.
pub fn describe_command(c: &Command) -> String {
    match c {
        Command::Deploy(r) => match &r.version {
            Some(v) => format!("deploy {} {v} to {}", r.service, r.environment),
            None => format!("deploy {} to {}", r.service, r.environment),
        },
        Command::Rollback(r) => match &r.version {
            Some(v) => format!("roll back {} in {} to {v}", r.service, r.environment),
            None => format!("roll back {} in {}", r.service, r.environment),
        },
        Command::Lock(l) => format!("lock {}", l.target.scope()),
        Command::Unlock(t) => format!("unlock {}", t.scope()),
        other => other.verb().to_string(),
    }
}

/// A schedule stored.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleReport {
    /// The schedule.
    pub schedule: ScheduleEntry,
    /// The approval request it needs before it fires, bound to it.
    pub approval: Option<ApprovalTicket>,
    /// A freeze window that will refuse it at that time, as things stand.
    pub freeze_then: Option<FreezeSpan>,
    /// A lock that will refuse it at that time, as things stand.
    pub lock_then: Option<LockRecord>,
}

/// A schedule cancelled.
#[derive(Debug, Clone, Serialize)]
pub struct UnscheduleReport {
    /// The schedule, as it was.
    pub schedule: ScheduleEntry,
    /// Its approval request, withdrawn with it.
    pub approval_withdrawn: Option<i64>,
}

/// Schedules, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SchedulesReport {
    /// The schedules.
    pub schedules: Vec<ScheduleEntry>,
}

fn verb_of(c: &Command) -> Option<(Verb, Option<&str>, &str)> {
    match c {
        Command::Deploy(r) => Some((
            Verb::Deploy,
            Some(r.service.as_str()),
            r.environment.as_str(),
        )),
        Command::Rollback(r) => Some((
            Verb::Rollback,
            Some(r.service.as_str()),
            r.environment.as_str(),
        )),
        Command::Lock(l) => Some((
            Verb::Lock,
            l.target.service.as_ref().map(|s| s.as_str()),
            l.target.environment.as_str(),
        )),
        Command::Unlock(t) => Some((
            Verb::Lock,
            t.service.as_ref().map(|s| s.as_str()),
            t.environment.as_str(),
        )),
        _ => None,
    }
}

impl Commander {
    /// Stores a command to run once at `spec.at` as `actor`, reported where it was asked.
    pub(super) async fn schedule(
        &self,
        spec: &ScheduleSpec,
        actor: &Actor,
        origin: &Origin,
    ) -> CommandResult<Outcome> {
        if let Err(refusal) = self.verify_schedule(spec, actor).await {
            return Ok(Outcome::Refused(refusal));
        }
        let now = crate::clock::now_ms();
        let Some((_, service, environment)) = verb_of(&spec.command) else {
            unreachable!("verify_schedule refuses commands that cannot wait")
        };
        let run = spec.command.run().map(|(a, r)| (a, r.clone()));
        let required = match &run {
            Some((_, r)) => self
                .governance
                .approvals_required(r.service.as_str(), r.environment.as_str()),
            None => 0,
        };
        let mut spec = spec.clone();
        if required > 0 {
            if let Some(refusal) = self.open_request_in(origin).await? {
                let subject = spec.command.subject();
                let refusal = self.refused("schedule", &subject, actor, refusal).await;
                return Ok(Outcome::Refused(refusal));
            }
            // What is approved is what runs: the version and strategy are settled now.
            match self.pinned(&spec.command).await? {
                Ok(c) => *spec.command = c,
                Err(refusal) => return Ok(Outcome::Refused(refusal)),
            }
        }
        let spec = &spec;
        let run = spec.command.run().map(|(a, r)| (a, r.clone()));
        let id = self
            .store
            .create_schedule(&NewSchedule {
                kind: ScheduleKind::Once,
                cron: None,
                tz: spec.tz.clone(),
                next_fire_at: spec.at,
                command: serde_json::to_string(&*spec.command).unwrap_or_default(),
                created_by: actor.name().to_string(),
                report_to: origin.to_key(),
                created_at: now,
            })
            .await?;
        self.audit
            .log(
                actor.name(),
                AuditEvent::ScheduleCreated {
                    schedule: id,
                    command: serde_json::to_value(&*spec.command).unwrap_or_default(),
                    fires_at: spec.at,
                    origin: origin.to_string(),
                },
            )
            .await;
        let approval = match run {
            Some((action, r)) if required > 0 => {
                let ticket = self
                    .create_approval(
                        action,
                        r,
                        required,
                        actor,
                        origin,
                        super::runs::Binding::Schedule(spec),
                    )
                    .await?;
                self.store.bind_approval(id, ticket.id).await?;
                Some(ticket)
            }
            _ => None,
        };
        let rollback = matches!(*spec.command, Command::Rollback(_));
        let freeze_then = match (&*spec.command, service) {
            (Command::Deploy(_) | Command::Rollback(_), Some(s)) => self
                .governance
                .freeze_in_force(s, environment, rollback, spec.at),
            _ => None,
        };
        let lock_then = match (&*spec.command, service) {
            (Command::Deploy(_) | Command::Rollback(_), Some(s)) => {
                let locks = self.store.active_locks(Some(environment), spec.at).await?;
                crate::governance::blocking_lock(&locks, s, environment, rollback).cloned()
            }
            _ => None,
        };
        let schedule = self.entry(self.stored(id).await?).await?;
        Ok(Outcome::Answer(Report::Scheduled(Box::new(
            ScheduleReport {
                schedule,
                approval,
                freeze_then,
                lock_then,
            },
        ))))
    }

    /// A deploy or rollback with its version and strategy settled, for an approval given now
    /// to mean exactly what runs later: the strategy asked for or the environment's, a
    /// deploy's newest listed version when none was named, a rollback's target now.
    async fn pinned(&self, command: &Command) -> CommandResult<Result<Command, Refusal>> {
        let Some((action, run)) = command.run() else {
            return Ok(Ok(command.clone()));
        };
        let mut run = run.clone();
        run.strategy = Some(self.default_strategy(&run));
        if run.version.is_none() {
            match action {
                Action::Deploy => {
                    let newest =
                        crate::versions::available(&self.config, &self.store, run.service.as_str())
                            .await;
                    match newest {
                        Ok(Some(a)) if a.newest().is_some() => {
                            run.version = a.newest().map(str::to_string)
                        }
                        Err(crate::versions::VersionsError::Store(e)) => return Err(e.into()),
                        other => {
                            let why = match other {
                                Err(e) => e.to_string(),
                                _ => format!("no versions of {} are listed", run.service),
                            };
                            return Ok(Err(Refusal::CannotSchedule {
                                reason: format!(
                                    "an approval given now must say which version runs, and I can't tell the newest ({why}); name the version, e.g. `deploy {} 2.4.0 to {} at 18:00`",
                                    run.service, run.environment
                                ),
                            }));
                        }
                    }
                }
                Action::Rollback => match self.rollback_target(&run).await? {
                    Ok((_, target)) => run.version = Some(target),
                    Err(refusal) => return Ok(Err(refusal)),
                },
            }
        }
        Ok(Ok(Command::for_action(action, run)))
    }

    /// Whether `spec` may be stored: a command that can wait, a time ahead (at most 90
    /// days), a known zone, and the person's role for the command (checked again when it
    /// fires: a schedule nobody may run is refused while the person can still act on it).
    pub(super) async fn verify_schedule(
        &self,
        spec: &ScheduleSpec,
        actor: &Actor,
    ) -> Result<(), Refusal> {
        let now = crate::clock::now_ms();
        let cannot = |reason: &str| {
            Err(Refusal::CannotSchedule {
                reason: reason.to_string(),
            })
        };
        let Some((verb, service, environment)) = verb_of(&spec.command) else {
            return cannot("only deploys, rollbacks, locks and unlocks can be scheduled");
        };
        if spec.at <= now {
            return cannot("that time is already past");
        }
        if spec.at - now > MAX_AHEAD_MS {
            return cannot("a schedule can be at most 90 days ahead");
        }
        if jiff::tz::TimeZone::get(&spec.tz).is_err() {
            return cannot(&format!("`{}` is not a time zone", spec.tz));
        }
        if let Err(denial) = self.governance.authorize(actor, verb, service, environment) {
            let subject = spec.command.subject();
            return Err(self
                .refused("schedule", &subject, actor, denial.into())
                .await);
        }
        Ok(())
    }

    /// A schedule just written, read back.
    async fn stored(&self, id: i64) -> Result<ScheduleRecord, StoreError> {
        self.store
            .schedule(id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))
    }

    /// A schedule with its command read back and its approval's state.
    pub(crate) async fn entry(&self, record: ScheduleRecord) -> Result<ScheduleEntry, StoreError> {
        let command = serde_json::from_str::<Command>(&record.command).ok();
        let approval = match record.approval_id {
            Some(id) => self.store.approval(id).await?.map(|a| (a.id, a.status)),
            None => None,
        };
        Ok(ScheduleEntry {
            record,
            command,
            approval,
        })
    }

    /// The schedules, as asked.
    pub(super) async fn schedules(&self, q: &SchedulesQuery) -> Result<Report, StoreError> {
        let limit = if q.limit == 0 { 50 } else { q.limit.min(500) };
        let mut schedules = Vec::new();
        for r in self.store.list_schedules(q.all, limit).await? {
            schedules.push(self.entry(r).await?);
        }
        Ok(Report::Schedules(Box::new(SchedulesReport { schedules })))
    }

    /// Cancels a schedule: its creator may, and so may anyone allowed to run its command
    /// there. A config job is changed in the config, not from here.
    pub(super) async fn unschedule(
        &self,
        r: &ScheduleRef,
        actor: &Actor,
    ) -> CommandResult<Outcome> {
        let Some(record) = self.store.schedule(r.id).await? else {
            return Ok(Outcome::Refused(Refusal::UnknownSchedule {
                schedule: r.id,
            }));
        };
        let done = Refusal::ScheduleDone {
            schedule: r.id,
            cancelled_at: record.cancelled_at,
        };
        if record.next_fire_at.is_none() {
            return Ok(Outcome::Refused(done));
        }
        if let Some(job) = &record.job {
            return Ok(Outcome::Refused(Refusal::CannotSchedule {
                reason: format!(
                    "schedule #{} is the config job `{job}`; change or remove it under `jobs:` in the Deckhand config",
                    r.id
                ),
            }));
        }
        let entry = self.entry(record).await?;
        let own = actor.person.as_deref() == Some(entry.record.created_by.as_str());
        if !own {
            let subject = format!("schedule {}", r.id);
            let check = entry.command.as_ref().and_then(verb_of);
            let denied: Option<Refusal> = match check {
                Some((verb, service, env)) => self
                    .governance
                    .authorize(actor, verb, service, env)
                    .err()
                    .map(Into::into),
                // A command that no longer reads: only its creator may drop it.
                None => Some(Refusal::CannotSchedule {
                    reason: format!(
                        "schedule #{} holds a command that no longer reads; only {} may cancel it",
                        r.id, entry.record.created_by
                    ),
                }),
            };
            if let Some(refusal) = denied {
                let refusal = self.refused("unschedule", &subject, actor, refusal).await;
                return Ok(Outcome::Refused(refusal));
            }
        }
        let now = crate::clock::now_ms();
        if !self.store.cancel_schedule(r.id, actor.name(), now).await? {
            // It fired or was cancelled meanwhile.
            let fresh = self.store.schedule(r.id).await?;
            return Ok(Outcome::Refused(Refusal::ScheduleDone {
                schedule: r.id,
                cancelled_at: fresh.and_then(|f| f.cancelled_at),
            }));
        }
        self.audit
            .log(
                actor.name(),
                AuditEvent::ScheduleCancelled { schedule: r.id },
            )
            .await;
        let mut approval_withdrawn = None;
        if let Some((id, ApprovalStatus::Pending)) = entry.approval {
            if self
                .store
                .close_approval(id, ApprovalStatus::Cancelled, now)
                .await?
            {
                self.audit
                    .log(actor.name(), AuditEvent::ApprovalWithdrawn { approval: id })
                    .await;
                approval_withdrawn = Some(id);
            }
        }
        Ok(Outcome::Answer(Report::Unscheduled(Box::new(
            UnscheduleReport {
                schedule: entry,
                approval_withdrawn,
            },
        ))))
    }

    /// What a schedule's fire does: its command, as the person who scheduled it, through
    /// every check of the command layer but the rate limit (counted when it was asked for).
    /// A deploy with a bound approval runs only if that approval was given, and then needs
    /// no other. Reported where it was asked, so a thread's "approve" and "cancel" reach it.
    pub async fn fire(
        &self,
        schedule: &ScheduleRecord,
        command: Command,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        let actor = self.governance.actor_for_person(&schedule.created_by);
        let origin = match Origin::from_key(schedule.report_to.clone()) {
            Origin::Thread(t) => Origin::Thread(t),
            _ => Origin::Schedule { id: schedule.id },
        };
        let (Some(approval_id), Some((action, _))) = (schedule.approval_id, command.run()) else {
            return self
                .apply_confirmed(command, &actor, &origin, progress)
                .await;
        };
        let mut status = self.store.approval(approval_id).await?.map(|a| a.status);
        if status == Some(ApprovalStatus::Pending) {
            // Its time is up; an approval landing just now wins the race and counts.
            let now = crate::clock::now_ms();
            if self
                .store
                .close_approval(approval_id, ApprovalStatus::Expired, now)
                .await?
            {
                status = Some(ApprovalStatus::Expired);
            } else {
                status = self.store.approval(approval_id).await?.map(|a| a.status);
            }
        }
        let approvals = self
            .store
            .decisions(approval_id)
            .await?
            .iter()
            .filter(|d| d.decision == crate::store::Decision::Approve)
            .count() as u32;
        let required = command.run().map_or(0, |(_, run)| {
            self.governance
                .approvals_required(run.service.as_str(), run.environment.as_str())
        });
        // A policy tightened since the approval applies to the fire too.
        if status != Some(ApprovalStatus::Approved) || approvals < required {
            let refusal = Refusal::NotApproved {
                approval: approval_id,
                status: status.unwrap_or(ApprovalStatus::Expired),
            };
            return Ok(self.counted(Outcome::Refused(refusal)));
        }
        // Approved for this fire: everything else is checked again now.
        let outcome = match self.plan(&command, &actor).await? {
            Ok(Plan::Run(plan)) => {
                let outcome = self
                    .start_run(action, plan.run.clone(), actor.name(), &origin, progress)
                    .await?;
                if let Outcome::Started(s) = &outcome {
                    if let Err(e) = self.store.set_approval_run(approval_id, s.run_id.0).await {
                        tracing::error!(error = %e, approval_id, run_id = s.run_id.0, "could not link the approval to its run");
                    }
                }
                outcome
            }
            Ok(_) => Outcome::Refused(Refusal::CannotStart {
                reason: "the schedule does not hold a deploy or rollback".into(),
            }),
            Err(refusal) => Outcome::Refused(refusal),
        };
        Ok(self.counted(outcome))
    }

    /// The approval request still open in a chat thread, as the refusal to a second one
    /// (one open request per thread keeps a typed "approve" unambiguous).
    pub(super) async fn open_request_in(
        &self,
        origin: &Origin,
    ) -> Result<Option<Refusal>, StoreError> {
        if origin.thread().is_none() {
            return Ok(None);
        }
        let open = self.store.latest_approval_from(origin).await?;
        Ok(open
            .filter(|a| {
                a.status == ApprovalStatus::Pending && crate::clock::now_ms() < a.expires_at
            })
            .map(|a| Refusal::ApprovalPending {
                approval: a.id,
                requested_by: a.requested_by,
            }))
    }

    /// Cancels the schedule a rejected or withdrawn request was bound to; true when this call
    /// cancelled it.
    pub(super) async fn cancel_bound(
        &self,
        s: &ScheduleRecord,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let cancelled = self
            .store
            .cancel_schedule(s.id, actor.name(), crate::clock::now_ms())
            .await?;
        if cancelled {
            self.audit
                .log(
                    actor.name(),
                    AuditEvent::ScheduleCancelled { schedule: s.id },
                )
                .await;
        }
        Ok(cancelled)
    }

    /// The schedule a decided approval request is bound to, if any.
    pub(super) async fn bound_schedule(
        &self,
        approval: i64,
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        self.store.schedule_for_approval(approval).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{EnvName, LockTarget};

    #[test]
    fn a_schedule_command_reads_back_as_stored() {
        let c = Command::Schedule(ScheduleSpec {
            command: Box::new(Command::Unlock(LockTarget {
                environment: EnvName::trusted("staging"),
                service: None,
            })),
            at: 1_800_000_000_000,
            tz: "Europe/Berlin".into(),
        });
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c, "{text}");
    }
}
