//! The plan question's texts and its keeping: the order line, deploy memory's notes above
//! the question, the replies to an order that cannot be followed, how to ask again, and
//! whose open question holds a thread.

use crate::dialogue::{PendingPlan, Session};
use crate::plan::OrderError;

/// An order that cannot be followed, said in the plan request itself: nothing is pending,
/// so the way out is asking again.
pub(super) fn request_order_error(e: &OrderError, names: &[&str]) -> String {
    match e {
        OrderError::NotInPlan(n) => format!(
            "`{n}` is not among the updates ({}), so I can't put it in the order you asked; nothing was deployed. Ask again with an order of those, or without one.",
            names.join(", ")
        ),
        OrderError::Contradiction(loop_) => format!(
            "That order contradicts itself or what the services need ({}); nothing was deployed. Ask again with another order.",
            loop_.join(" → ")
        ),
        OrderError::Cycle(_) => order_error(e, names),
    }
}

pub(super) fn order_error(e: &OrderError, names: &[&str]) -> String {
    match e {
        OrderError::NotInPlan(n) => format!(
            "`{n}` is not in this plan ({}); nothing was changed. Say \"yes\", or an order of those, e.g. \"yes but {} first\".",
            names.join(", "),
            names.last().copied().unwrap_or_default()
        ),
        OrderError::Contradiction(loop_) => format!(
            "That order contradicts itself or what the services need ({}); nothing was changed. Say the order again.",
            loop_.join(" → ")
        ),
        OrderError::Cycle(c) => format!(
            "The services' depends_on has a cycle ({}); fix the config. Nothing was deployed.",
            c.join(" → ")
        ),
    }
}

/// How to ask for a plan again: "update redis and billionmail in staging".
pub(super) fn asked_again(p: &PendingPlan) -> String {
    if let Some(id) = p.rollback_of {
        return format!("roll back plan {id}");
    }
    let names: Vec<&str> = p.steps.iter().map(|(s, _, _)| s.as_str()).collect();
    let env = p
        .steps
        .first()
        .map(|(_, e, _)| e.as_str())
        .unwrap_or("staging");
    let names = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    };
    format!("update {names} in {env}")
}

/// Drops `user`'s own open plan question, saying so: something else was asked, so a later
/// "yes" (meant for that) cannot start the plan.
pub(super) fn drop_own_plan_question(session: &mut Session, user: &str, out: &super::Out) {
    if session
        .pending_plan
        .as_ref()
        .is_some_and(|p| p.requested_by == user)
    {
        session.pending_plan = None;
        out.reply(
            session,
            "(I dropped the plan question above; nothing was deployed. Ask again to update.)"
                .into(),
        );
    }
}

/// The answer to a plan request in a thread where another person's question is open (their
/// request or plan waiting for their answer): theirs stays, nothing of this one is done.
pub(super) fn waiting_for_someone_else(session: &Session, user: &str) -> Option<String> {
    let what = match (&session.pending, &session.pending_plan) {
        (Some(p), _) if p.requested_by != user => (
            p.requested_by.clone(),
            crate::dialogue::describe(p.intent, &p.slots),
        ),
        (_, Some(p)) if p.requested_by != user => (p.requested_by.clone(), "a plan".to_string()),
        _ => return None,
    };
    let (owner, asked) = what;
    Some(format!(
        "This thread is waiting for {owner} to answer ({asked}); only {owner} can confirm, change or cancel it. Start your own request in another thread; nothing was deployed."
    ))
}

/// The plan's question with deploy memory's notes above its last line: the strategy a step
/// will use instead of its environment's.
pub(super) fn with_notes(text: &str, notes: &[crate::command::StepNote]) -> String {
    let (head, question) = text.rsplit_once('\n').unwrap_or(("", text));
    let lines: Vec<String> = notes
        .iter()
        .map(|n| {
            let r = &n.recommendation;
            let how = match r.percent {
                Some(p) => format!("{} {p}%", r.strategy.as_str()),
                None => r.strategy.as_str().to_string(),
            };
            // The reason starts with the service's name.
            format!("⚠ {}. Its step runs {how}.", r.reason)
        })
        .collect();
    match head.is_empty() {
        true => format!("{}\n{question}", lines.join("\n")),
        false => format!("{head}\n{}\n{question}", lines.join("\n")),
    }
}

/// "Update in this order: 1. redis 7.2.5, 2. billionmail 2.4.0?"
pub(super) fn order_line(steps: &[(String, String, String)]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, (s, _, v))| format!("{}. {s} {v}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}
