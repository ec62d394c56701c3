//! The one place a command's [`Outcome`] becomes what the thread sees: a reply, an approval
//! request (with buttons where the platform has them), or nothing (a started run reports
//! itself through its progress).

use super::refusals::{reply_for, roles_text};
use super::Out;
use crate::chat::{BotEvent, ThreadKey};
use crate::command::{
    ApprovalTicket, DecisionReport, DecisionResult, LockReport, Outcome, Report, RunCommand,
    StopReport, UnlockReport,
};
use crate::dialogue::Session;
use crate::store::Action;
use crate::timefmt::{ago, span, utc};
use std::time::Duration;

/// "deploy billionmail (latest build) to production, canary 10%".
pub(crate) fn describe_request(
    action: Action,
    service: &str,
    environment: &str,
    version: Option<&str>,
    strategy: &str,
    percent: Option<i64>,
) -> String {
    let strategy = match percent {
        Some(p) => format!("{strategy} {p}%"),
        None => strategy.to_string(),
    };
    match action {
        Action::Deploy => format!(
            "deploy {service} ({}) to {environment}, {strategy}",
            version.unwrap_or("latest build")
        ),
        Action::Rollback => format!(
            "roll back {service} in {environment} to {}",
            version.unwrap_or("the previous release")
        ),
    }
}

/// "1. redis 7.2.5 → production, 2. billionmail 2.4.0 → production" (a plan's undoing: "1.
/// roll back billionmail in production, …").
pub(crate) fn plan_steps_text(action: Action, steps: &[RunCommand]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, r)| match action {
            Action::Rollback => format!("{}. roll back {} in {}", i + 1, r.service, r.environment),
            Action::Deploy => format!(
                "{}. {} {} → {}{}",
                i + 1,
                r.service,
                r.version.as_deref().unwrap_or("latest build"),
                r.environment,
                step_strategy(r)
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// " (canary 10%)" for a step pinned to a strategy other than direct (deploy memory's, or
/// its environment's): an approver sees how each step will go.
fn step_strategy(r: &RunCommand) -> String {
    match (r.strategy, r.percent) {
        (None | Some(crate::config::Strategy::Direct), _) => String::new(),
        (Some(s), Some(p)) => format!(" ({} {p}%)", s.as_str()),
        (Some(s), None) => format!(" ({})", s.as_str()),
    }
}

/// What asking for a plan is: "run" it, or "undo" it.
fn plan_verb(action: Action) -> &'static str {
    match action {
        Action::Deploy => "run",
        Action::Rollback => "undo",
    }
}

/// What a stored request asks for: [`describe_request`] for one run, "run a plan (1. redis
/// 7.2.5 → production, …)" for a plan's.
pub(crate) fn describe_stored_request(
    action: Action,
    plan: Option<&[RunCommand]>,
    single: impl FnOnce() -> String,
) -> String {
    match plan {
        Some(steps) => format!(
            "{} a plan ({})",
            plan_verb(action),
            plan_steps_text(action, steps)
        ),
        None => single(),
    }
}

/// [`describe_request`] for a command whose strategy is settled.
pub(super) fn describe_run(action: Action, run: &RunCommand) -> String {
    describe_request(
        action,
        run.service.as_str(),
        run.environment.as_str(),
        run.version.as_deref(),
        run.strategy.unwrap_or_default().as_str(),
        run.percent.map(i64::from),
    )
}

/// Shows an outcome in the thread.
pub(super) fn show(outcome: &Outcome, session: &mut Session, out: &Out) {
    match outcome {
        Outcome::Started(_) => {}
        Outcome::AwaitingApproval(ticket) => request_approval(ticket, session, out),
        Outcome::Answer(report @ Report::Scheduled(r)) => {
            out.reply(session, report_text(report));
            if let Some(ticket) = &r.approval {
                request_approval(ticket, session, out);
            }
        }
        // The plan reports itself: one message, edited as it moves.
        Outcome::Answer(Report::PlanStarted(_)) => {}
        Outcome::Answer(report) => out.reply(session, report_text(report)),
        Outcome::Refused(refusal) => out.refuse(session, refusal),
    }
}

/// Posts the approval request of a ticket made in this thread (kept in its history).
fn request_approval(ticket: &ApprovalTicket, session: &mut Session, out: &Out) {
    let event = approval_request_in_thread(ticket, out.thread.clone());
    if let BotEvent::ApprovalRequest { text, .. } = &event {
        session.record("deckhand", text);
    }
    out.sink.emit(event);
}

/// The text of an outcome that is a reply (the approval request's text for a ticket).
pub(super) fn text_of(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Started(_) => None,
        Outcome::AwaitingApproval(t) => Some(approval_request(t, REPLY_HINT)),
        Outcome::Answer(r) => Some(report_text(r)),
        Outcome::Refused(r) => Some(reply_for(r)),
    }
}

/// The refusal's kind, when the outcome is one.
pub(super) fn refusal_kind(outcome: &Outcome) -> Option<crate::command::RefusalKind> {
    match outcome {
        Outcome::Refused(r) => Some(r.kind()),
        _ => None,
    }
}

/// The approval request for a ticket, posted in `thread` (a surface that is not chat, the
/// API's `notify`, posts it into a chat channel with the same Approve/Reject buttons).
pub fn approval_request_event(t: &ApprovalTicket, thread: ThreadKey) -> BotEvent {
    BotEvent::ApprovalRequest {
        thread,
        approval_id: t.id,
        // Typed replies in this channel do not reach a request made elsewhere: buttons do.
        text: approval_request(t, "Use the buttons below (or the API)"),
        requested_by: t.requested_by.clone(),
        required: i64::from(t.required),
    }
}

/// The approval request for a ticket made in `thread`, decided there by a typed reply or
/// the buttons.
pub(super) fn approval_request_in_thread(t: &ApprovalTicket, thread: ThreadKey) -> BotEvent {
    BotEvent::ApprovalRequest {
        thread,
        approval_id: t.id,
        text: approval_request(t, REPLY_HINT),
        requested_by: t.requested_by.clone(),
        required: i64::from(t.required),
    }
}

/// How a request made in a thread is decided there.
const REPLY_HINT: &str = "Reply \"approve\" or \"reject\" in this thread";

fn approval_request(t: &ApprovalTicket, how: &str) -> String {
    let what = match &t.plan {
        Some(steps) => format!(
            "{} a plan, one approval for all of it: {}",
            plan_verb(t.action),
            plan_steps_text(t.action, steps)
        ),
        None => describe_run(t.action, &t.run),
    };
    format!(
        "🔐 Approval needed (request #{}): {} asks to {}.{}\nNeeds {} approval{} from {} other than {}. {how} within {} (until {}).",
        t.id,
        t.requested_by,
        what,
        t.note.as_ref().map(|n| format!("\n⚠ {n}")).unwrap_or_default(),
        t.required,
        if t.required == 1 { "" } else { "s" },
        approvers_text(t),
        t.requested_by,
        span(t.timeout),
        utc(t.expires_at),
    )
}

/// Who may approve: the roles of the request, or, for a plan whose gated steps name
/// different roles, each step's (the approver must be allowed to approve every one).
fn approvers_text(t: &ApprovalTicket) -> String {
    let mut distinct: Vec<&Option<Vec<String>>> = Vec::new();
    for g in &t.gates {
        if !distinct.contains(&&g.approver_roles) {
            distinct.push(&g.approver_roles);
        }
    }
    if distinct.len() < 2 {
        return roles_text(&t.approver_roles);
    }
    let each: Vec<String> = t
        .gates
        .iter()
        .map(|g| {
            let roles = match &g.approver_roles {
                Some(r) if !r.is_empty() => r
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "anyone".to_string(),
            };
            format!("{roles} for {} → {}", g.service, g.environment)
        })
        .collect();
    format!(
        "someone allowed to approve every step of it ({})",
        each.join("; ")
    )
}

/// The text of a report (the answer to a question, or what an action did).
pub fn report_text(report: &Report) -> String {
    match report {
        Report::Decided(d) => decided(d),
        Report::Locked(l) => locked(l),
        Report::Unlocked(u) => unlocked(u),
        Report::Stopping(s) => stopping(s),
        Report::Withdrawn { approval, schedule } => match schedule {
            Some(s) => format!(
                "OK, request #{approval} is withdrawn and schedule #{s}, which waited on it, is cancelled; nothing ran."
            ),
            None => format!("OK, request #{approval} is withdrawn; nothing ran."),
        },
        Report::Status(r) => super::answers::render_status(r),
        Report::History(r) => super::answers::render_history(r),
        Report::Explanation(r) => super::answers::render_explanation(r),
        Report::Readiness(r) => super::answers::render_readiness(r),
        Report::Scheduled(r) => super::schedules::scheduled(r),
        Report::Unscheduled(u) => super::schedules::unscheduled(u),
        Report::Schedules(r) => super::schedules::listing(r),
        Report::Updates(r) => super::updates::render_updates(r),
        Report::PlanStarted(p) => super::plan_text::started(p),
        Report::Context(r) => {
            let (service, environment) = (&r.query.service, &r.query.environment);
            let facts = r.facts.summary(r.as_of).unwrap_or_else(|| {
                format!(
                    "Nothing in the recent deploys of {service} to {environment} calls for care."
                )
            });
            match &r.recommendation {
                Some(rec) => format!(
                    "{facts}
⚠ {}",
                    rec.reason
                ),
                None => facts,
            }
        }
    }
}

fn decided(d: &DecisionReport) -> String {
    let what = describe_run(d.action, &d.run);
    match &d.result {
        DecisionResult::Waiting {
            approvals,
            required,
        } => format!(
            "👍 {} approved request #{} ({approvals} of {required}); waiting for {} more.",
            d.by,
            d.approval,
            required - approvals
        ),
        DecisionResult::Rejected => format!(
            "❌ Rejected by {}: {}'s request to {what} will not run{}.",
            d.by,
            d.requested_by,
            if d.for_schedule {
                " (its schedule is cancelled)"
            } else {
                ""
            }
        ),
        DecisionResult::Started { .. } => format!("✅ Approved by {}. Starting: {what}.", d.by),
        DecisionResult::PlanStarted { plan } => format!(
            "✅ Approved by {}. Starting plan #{} ({} step{}); each step is checked again when it starts.",
            d.by,
            plan.id,
            plan.steps.len(),
            if plan.steps.len() == 1 { "" } else { "s" }
        ),
        DecisionResult::Scheduled { schedule, fires_at } => match fires_at {
            Some(at) => format!(
                "✅ Approved by {}: schedule #{schedule} ({what}) will run at {}; everything else is checked again then.",
                d.by,
                utc(*at)
            ),
            None => format!(
                "Approved by {}, but schedule #{schedule} is no longer waiting; nothing will run.",
                d.by
            ),
        },
        DecisionResult::Refused { refusal } => format!(
            "Approved by {}, but it can't run now: {}",
            d.by,
            reply_for(refusal)
        ),
        DecisionResult::DidNotStart { refusal } => format!(
            "Approved by {}, but the run did not start: {}",
            d.by,
            reply_for(refusal)
        ),
    }
}

fn locked(l: &LockReport) -> String {
    let scope = l.target.scope();
    if let (Some(from), Some(words)) = (l.lock.starts_at, &l.duration_text) {
        return format!(
            "🧊 Freeze of {scope} set {words}: {}. Deploys there are refused from {}; rollbacks {}. \"unlock {}\" lifts it before or during the window.",
            l.lock.reason,
            utc(from),
            match l.lock.rollbacks {
                crate::config::RollbackRule::Allow => "still go through",
                crate::config::RollbackRule::Deny => "are refused too",
            },
            scope.replace(" in ", " ")
        );
    }
    let until = match l.lock.expires_at {
        Some(expires) => {
            let d = Duration::from_millis((expires - l.lock.created_at).max(0) as u64);
            match (&l.window, &l.duration_text) {
                (Some(_), Some(words)) => words.clone(),
                _ => format!(
                    "for {} (until {})",
                    l.duration_text.clone().unwrap_or_else(|| span(d)),
                    utc(expires)
                ),
            }
        }
        None => "until someone unlocks it".into(),
    };
    format!(
        "🔒 Locked {scope} {until}: {}. Deploys and rollbacks there are refused; \"unlock {}\" lifts it.",
        l.lock.reason,
        scope.replace(" in ", " ")
    )
}

fn unlocked(u: &UnlockReport) -> String {
    let lifted: Vec<String> = u
        .lifted
        .iter()
        .map(|l| {
            format!(
                "locked by {} since {} ({}): {}",
                l.holder,
                utc(l.created_at),
                ago(l.created_at),
                l.reason
            )
        })
        .collect();
    format!("🔓 Unlocked {} ({}).", u.target.scope(), lifted.join("; "))
}

fn stopping(s: &StopReport) -> String {
    let ids: Vec<String> = s.stopped.iter().map(ToString::to_string).collect();
    let runs = match ids.as_slice() {
        [] => None,
        [one] => Some(format!("Cancelling run {one}: stopping its current stage.")),
        many => Some(format!("Cancelling runs {}.", many.join(", "))),
    };
    let plans = s.plans.iter().map(|p| {
        format!("Stopping plan #{p}: its running step is cancelled and no later step will start.")
    });
    let ended = s.ended_plans.iter().map(|p| match p.status.as_str() {
        "running" => format!(
            "Plan #{} is closing: every step has ended; nothing left to stop.",
            p.plan
        ),
        status => format!(
            "Plan #{} had already ended ({status}); nothing to stop.",
            p.plan
        ),
    });
    let all: Vec<String> = plans.chain(runs).chain(ended).collect();
    match all.is_empty() {
        true => "That run has already finished; nothing to stop.".to_string(),
        false => all.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{EnvName, ServiceName};
    use crate::config::Strategy;

    fn step(service: &str, strategy: Option<Strategy>, percent: Option<u8>) -> RunCommand {
        RunCommand {
            service: ServiceName::trusted(service),
            environment: EnvName::trusted("production"),
            version: Some("1.0".into()),
            strategy,
            percent,
        }
    }

    #[test]
    fn a_plans_steps_show_the_strategies_they_are_pinned_to() {
        let steps = [
            step("redis", Some(Strategy::Direct), None),
            step("payments-api", Some(Strategy::Canary), Some(10)),
            step("billionmail", Some(Strategy::BlueGreen), None),
            step("wix-backend", None, None),
        ];
        assert_eq!(
            plan_steps_text(Action::Deploy, &steps),
            "1. redis 1.0 → production, 2. payments-api 1.0 → production (canary 10%), 3. billionmail 1.0 → production (blue-green), 4. wix-backend 1.0 → production"
        );
        assert_eq!(
            plan_steps_text(Action::Rollback, &steps[..1]),
            "1. roll back redis in production"
        );
    }
}
