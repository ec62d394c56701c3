//! Schedules in the thread: what a stored schedule says back, the listing, a cancellation,
//! and the report of a fire. Times are shown in the zone the schedule was made in (the
//! person's own, else the config's), with the zone named.

use super::refusals::reply_for;
use crate::command::{ScheduleEntry, ScheduleReport, SchedulesReport, UnscheduleReport};
use crate::schedule::{Fire, FireResult};
use crate::store::{ApprovalStatus, NewSchedule, ScheduleKind};
use crate::timefmt::{span, zoned};
use std::time::Duration;

/// "in 7 h" / "5 min ago".
fn from_now(at: i64) -> String {
    let now = crate::clock::now_ms();
    if at >= now {
        format!("in {}", span(Duration::from_millis((at - now) as u64)))
    } else {
        format!("{} ago", span(Duration::from_millis((now - at) as u64)))
    }
}

/// "Thu 3 Dec 2026 18:00 UTC (in 7 h)".
fn when(at: i64, tz: &str) -> String {
    format!("{} ({})", zoned(at, tz), from_now(at))
}

/// The reply to a stored schedule.
pub(super) fn scheduled(r: &ScheduleReport) -> String {
    let s = &r.schedule;
    let Some(at) = s.record.next_fire_at else {
        return format!("Schedule #{} is stored but will not fire.", s.record.id);
    };
    let mut text = format!(
        "⏰ Scheduled #{}: {} at {}, as {}. Roles, locks and freezes are checked again then, and the result is posted here. Say \"cancel schedule {}\" to drop it.",
        s.record.id,
        s.what(),
        when(at, &s.record.tz),
        s.record.created_by,
        s.record.id,
    );
    if let Some(t) = &r.approval {
        text.push_str(&format!(
            "\n🔐 It needs {} approval{} from someone else by {} (request #{}, posted below); without it, it will not run.",
            t.required,
            if t.required == 1 { "" } else { "s" },
            zoned(at, &s.record.tz),
            t.id
        ));
    }
    if let Some(w) = &r.freeze_then {
        text.push_str(&format!(
            "\n⚠ As things stand it will be refused then: {} is frozen from {} to {} ({}).",
            w.environment,
            zoned(w.from, &w.tz),
            zoned(w.until, &w.tz),
            w.reason
        ));
    }
    if let Some(l) = &r.lock_then {
        text.push_str(&format!(
            "\n⚠ As things stand it will be refused then: {}.",
            crate::governance::describe_lock(l)
        ));
    }
    text
}

/// The reply to a cancelled schedule.
pub(super) fn unscheduled(u: &UnscheduleReport) -> String {
    let mut text = format!(
        "OK, schedule #{} ({}) is cancelled; it will not run.",
        u.schedule.record.id,
        u.schedule.what()
    );
    if let Some(a) = u.approval_withdrawn {
        text.push_str(&format!(" Its approval request #{a} is withdrawn too."));
    }
    text
}

/// One line of the listing.
fn line(s: &ScheduleEntry) -> String {
    let r = &s.record;
    let time = match (r.next_fire_at, r.kind, &r.cron) {
        (Some(at), ScheduleKind::Cron, Some(cron)) => format!(
            "{}, next {}",
            crate::nlu::time_words::describe_cron(cron),
            when(at, &r.tz)
        ),
        (Some(at), _, _) => when(at, &r.tz),
        (None, _, _) if r.cancelled_at.is_some() => format!(
            "cancelled by {}",
            r.cancelled_by.as_deref().unwrap_or("someone")
        ),
        (None, _, _) => "done".into(),
    };
    let approval = match s.approval {
        Some((id, ApprovalStatus::Approved)) => format!(", approved (#{id})"),
        Some((id, ApprovalStatus::Pending)) => format!(", awaiting approval #{id}"),
        Some((id, status)) => format!(", approval #{id} {}", status.as_str()),
        None => String::new(),
    };
    let job = r
        .job
        .as_ref()
        .map(|j| format!(" [job `{j}`]"))
        .unwrap_or_default();
    format!(
        "#{} {}: {time}, as {}{approval}{job}",
        r.id,
        s.what(),
        r.created_by
    )
}

/// The listing.
pub(super) fn listing(r: &SchedulesReport) -> String {
    if r.schedules.is_empty() {
        return "No schedules are waiting. Say for example \"deploy billionmail to staging at 18:00\".".into();
    }
    let mut text = format!(
        "{} schedule{}:",
        r.schedules.len(),
        if r.schedules.len() == 1 { "" } else { "s" }
    );
    for s in &r.schedules {
        text.push_str("\n• ");
        text.push_str(&line(s));
    }
    text
}

/// What the thread is told when a schedule fires (a started run then reports itself).
pub(crate) fn fire_text(fire: &Fire) -> Option<String> {
    let s = &fire.schedule;
    let what = serde_json::from_str::<crate::command::Command>(&s.command)
        .map(|c| crate::command::describe_command(&c))
        .unwrap_or_else(|_| "its command".into());
    let head = format!(
        "⏰ Schedule #{} ({what}, due {})",
        s.id,
        zoned(fire.due_at, &s.tz)
    );
    Some(match &fire.result {
        FireResult::Missed { late_by } => format!(
            "{head} was missed: Deckhand was not running then (the fire came {} late, past the grace period), so nothing ran. Schedule it again if it is still wanted.",
            span(*late_by)
        ),
        FireResult::Cancelled => return None,
        FireResult::Unreadable(detail) => format!("{head} could not run: {detail}."),
        FireResult::Fired(outcome) => match outcome.as_ref() {
            crate::command::Outcome::Started(st) => {
                format!("{head}: starting run #{}.", st.run_id)
            }
            crate::command::Outcome::AwaitingApproval(t) => {
                format!("{head}: it needs approval first (request #{}, below).", t.id)
            }
            crate::command::Outcome::Refused(r) => {
                format!("{head} was refused, nothing ran: {}", reply_for(r))
            }
            crate::command::Outcome::Answer(r) => {
                format!("{head}: {}", super::outcomes::report_text(r))
            }
        },
    })
}

/// Progress of a fire's run when its schedule reports to no chat thread (the API, a config
/// job without `notify`): the run's journal and the audit trail keep it.
struct Unwatched;

impl crate::pipeline::ProgressSink for Unwatched {
    fn report(&self, _: &crate::pipeline::RunEvent) {}
}

impl super::Bot {
    /// Fires the due schedules this process wins the claim for, and tells each schedule's
    /// thread what became of it (a started run then reports there itself; an approval
    /// request is posted with its buttons). Runs every few seconds in the background.
    pub async fn fire_schedules(&self, scheduler: &crate::schedule::Scheduler) -> usize {
        // A schedule reporting to a chat platform this process is not connected to is left
        // for one that is (several processes may share one store).
        let progress_for = |s: &crate::store::ScheduleRecord| -> Option<crate::command::Progress> {
            let origin = crate::origin::Origin::from_key(s.report_to.clone());
            match origin.thread() {
                Some(thread) => self.sink_for(&thread.platform).map(|sink| {
                    std::sync::Arc::new(super::progress::ChatProgress::new(sink))
                        as crate::command::Progress
                }),
                None => Some(std::sync::Arc::new(Unwatched)),
            }
        };
        let fires = match scheduler.tick_with(&progress_for).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "could not fire schedules");
                return 0;
            }
        };
        for fire in &fires {
            self.announce_fire(fire);
        }
        fires.len()
    }

    fn announce_fire(&self, fire: &Fire) {
        let s = &fire.schedule;
        let origin = crate::origin::Origin::from_key(s.report_to.clone());
        let Some(thread) = origin.thread() else {
            tracing::info!(schedule_id = s.id, due_at = fire.due_at, result = ?fire.result, "schedule fired");
            return;
        };
        let Some(sink) = self.sink_for(&thread.platform) else {
            tracing::warn!(
                schedule_id = s.id,
                "no adapter connected for {}; the fire's result is not posted",
                thread.platform
            );
            return;
        };
        if let Some(text) = fire_text(fire) {
            sink.emit(crate::chat::BotEvent::Reply {
                thread: thread.clone(),
                text,
                intent: None,
                refusal: match &fire.result {
                    FireResult::Fired(o) => super::outcomes::refusal_kind(o),
                    _ => None,
                },
            });
        }
        if let FireResult::Fired(outcome) = &fire.result {
            if let crate::command::Outcome::AwaitingApproval(t) = outcome.as_ref() {
                sink.emit(super::outcomes::approval_request_in_thread(
                    t,
                    thread.clone(),
                ));
            }
        }
    }
}

impl super::Bot {
    /// Brings the stored schedules of the config's `jobs:` in step with it: new jobs are
    /// added, changed ones updated (their next fire recomputed), removed ones cancelled. Every
    /// replica may do it at start-up; a job is one row by its name.
    pub async fn sync_jobs(&self) {
        let config = self.commander.config().clone();
        let store = self.commander.store();
        let now = crate::clock::now_ms();
        for job in &config.jobs {
            let Some(schedule) = self.job_schedule(job, now) else {
                continue;
            };
            if let Err(e) = store.sync_job(&job.name, &schedule).await {
                tracing::error!(job = %job.name, error = %e, "could not store the job's schedule");
            }
        }
        let keep: Vec<String> = config.jobs.iter().map(|j| j.name.clone()).collect();
        match store.retire_jobs(&keep, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cancelled = n, "jobs no longer in the config were cancelled"),
            Err(e) => tracing::error!(error = %e, "could not cancel the removed jobs"),
        }
    }

    /// The schedule a job stands for (None, logged, when its names no longer resolve:
    /// validation rules that out).
    fn job_schedule(&self, job: &crate::config::JobConfig, now: i64) -> Option<NewSchedule> {
        use crate::command::{Command, EnvName, RunCommand, ServiceName};
        let config = self.commander.config();
        let (action, run) = job.target()?;
        let (Ok(service), Ok(environment)) = (
            ServiceName::resolve(config, &run.service),
            EnvName::resolve(config, &run.environment),
        ) else {
            tracing::error!(job = %job.name, "the job's service or environment does not resolve");
            return None;
        };
        let command = Command::for_action(
            action,
            RunCommand {
                service,
                environment,
                version: run.version.clone(),
                strategy: run.strategy,
                percent: None,
            },
        );
        let tz = job.tz.clone().unwrap_or_else(|| config.timezone.clone());
        let next = match crate::schedule::next_match(&job.cron, &tz, now) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(job = %job.name, error = %e, "the job's cron line does not read");
                return None;
            }
        };
        let report_to = match &job.notify {
            Some(n) => match self.channel_key(&n.platform, &n.channel) {
                Some(key) => key,
                None => {
                    // A process without that platform neither stores nor fires the job; one
                    // connected to it does (its fires are posted there).
                    tracing::debug!(job = %job.name, platform = %n.platform, "the job's notify platform is not connected here; left to a process that is");
                    return None;
                }
            },
            None => crate::chat::ThreadKey::new("schedule", "", "0"),
        };
        Some(NewSchedule {
            kind: ScheduleKind::Cron,
            cron: Some(job.cron.clone()),
            tz,
            next_fire_at: next,
            command: serde_json::to_string(&command).unwrap_or_default(),
            created_by: job.run_as.clone(),
            report_to,
            created_at: now,
        })
    }
}

impl super::Bot {
    /// "list schedules" / "cancel schedule 3", through the command layer.
    pub(super) async fn schedules_asked(
        &self,
        ask: crate::nlu::schedule_words::ScheduleAsk,
        actor: &crate::governance::Actor,
        session: &mut crate::dialogue::Session,
        out: &super::Out,
    ) {
        use crate::command::{Command, Query, ScheduleRef, SchedulesQuery};
        use crate::nlu::schedule_words::ScheduleAsk;
        let command = match ask {
            ScheduleAsk::List { all } => {
                Command::Query(Query::Schedules(SchedulesQuery { all, limit: 20 }))
            }
            ScheduleAsk::Cancel(Some(id)) => Command::Unschedule(ScheduleRef { id }),
            ScheduleAsk::Cancel(None) => {
                return out.reply(
                    session,
                    "Which schedule? Say \"cancel schedule N\" with its number; \"list schedules\" shows them.".into(),
                );
            }
        };
        let origin = crate::origin::Origin::Thread(out.thread.clone());
        match self
            .commander
            .apply(command, actor, &origin, out.progress())
            .await
        {
            Ok(outcome) => super::outcomes::show(&outcome, session, out),
            Err(e) => out.reply(session, super::fault("reading the schedules", &e)),
        }
    }
}
