//! The one place a [`Refusal`] becomes the sentence a chat user reads.

use crate::command::Refusal;
use crate::dialogue::join_choices;
use crate::governance::{describe_lock, lock_scope, Verb};
use crate::store::{ApprovalStatus, Decision, LockRecord};
use crate::timefmt::{ago, span, utc};
use std::time::Duration;

/// "someone with the role `approver`", or "someone else" when any role may.
pub(super) fn roles_text(roles: &Option<Vec<String>>) -> String {
    match roles {
        Some(r) if !r.is_empty() => format!(
            "someone with the role {}",
            join_choices(&r.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>())
        ),
        _ => "someone else".to_string(),
    }
}

/// "production is frozen (weekend) from … until …": what is refused and what still goes.
fn frozen(w: &crate::governance::FreezeSpan, verb: Verb) -> String {
    let scope = match &w.services {
        Some(list) => format!("{} in {}", join_choices(list), w.environment),
        None => w.environment.clone(),
    };
    let rollbacks = match (verb, w.rollbacks) {
        (_, crate::config::RollbackRule::Deny) => "Rollbacks are frozen too.",
        _ => "Rollbacks still go through.",
    };
    format!(
        "{scope} is frozen: {} (from {} until {}, {}). Nothing was run; try again after the window closes. {rollbacks}",
        w.reason,
        crate::timefmt::zoned(w.from, &w.tz),
        crate::timefmt::zoned(w.until, &w.tz),
        ago_or_in(w.until),
    )
}

/// "closes in 2 days" for a time ahead.
fn ago_or_in(until: i64) -> String {
    let left = (until - crate::clock::now_ms()).max(0) as u64;
    format!("closes in {}", span(Duration::from_millis(left)))
}

/// The text a chat user sees for a refusal.
pub fn reply_for(refusal: &Refusal) -> String {
    match refusal {
        Refusal::UnknownIdentity { identity, verb } => format!(
            "I don't know who `{identity}` is, so I can't let you {}. Ask an admin to add `{identity}` to a person under `people` in the Deckhand config.",
            verb.words().0
        ),
        Refusal::NotPermitted { .. } => not_permitted(refusal),
        Refusal::Locked { lock } => format!(
            "{}. Nothing was run. Ask {} or someone allowed to lock to say \"unlock {}\" when it is safe.",
            describe_lock(lock),
            lock.holder,
            lock_scope(lock).replace(" in ", " ")
        ),
        Refusal::RateLimited {
            retry_in,
            limit,
            window,
        } => format!(
            "Slow down: you've sent {limit} commands in the last {}. Try again in {}.",
            span(*window),
            // Rounded up: "try again in 60 s" must not be a second too early.
            span(Duration::from_secs(
                (retry_in.as_millis() as u64).div_ceil(1000).max(1)
            ))
        ),
        Refusal::Busy { run } => format!(
            "{} in {} is busy: run {} ({} {} by {}, started {}) is in progress. Wait for it to finish, or say \"cancel\" in its thread.",
            run.service,
            run.environment,
            run.id,
            run.action.as_str(),
            run.version.as_deref().unwrap_or("latest build"),
            run.requested_by,
            ago(run.started_at),
        ),
        Refusal::NothingToRollBack {
            service,
            environment,
            current,
        } => match current {
            Some(c) => format!("{service} has no earlier successful deploy in {environment} to roll back to (it is on {c}). Name a version, e.g. \"rollback {service} in {environment} to 1.2.3\"."),
            None => format!("{service} has no successful deploy in {environment} on record, so there is nothing to roll back to."),
        },
        Refusal::AlreadyOn {
            service,
            environment,
            version,
        } => format!("{service} is already on {version} in {environment}; nothing to roll back."),
        Refusal::NoRollbackPipeline { service } => format!(
            "I can't start that: {service} has no rollback pipeline configured; add `rollback:` to its pipeline."
        ),
        Refusal::CannotStart { reason } => format!("I can't start that: {reason}."),
        Refusal::Frozen { window, verb } => frozen(window, *verb),
        Refusal::ApprovalPending {
            approval,
            requested_by,
        } => format!(
            "Request #{approval} is still waiting for approval in this thread; one request per thread keeps \"approve\" unambiguous. {requested_by} can say \"cancel\" to withdraw it, or ask in another thread."
        ),
        Refusal::OwnRequest {
            decision,
            approver_roles,
            ..
        } => match decision {
            Decision::Approve => format!(
                "You can't approve your own request (four-eyes rule): {} must. To withdraw it, say \"cancel\".",
                roles_text(approver_roles)
            ),
            Decision::Reject => "To withdraw your own request, say \"cancel\".".to_string(),
        },
        Refusal::AlreadyDecided { approval } => {
            format!("You already decided on request #{approval}; your first decision stands.")
        }
        Refusal::Closed { .. } => closed(refusal),
        Refusal::Expired {
            approval,
            expired_at,
            requested_by,
        } => format!(
            "Request #{approval} expired at {}, so nothing ran; {requested_by} can ask again.",
            utc(*expired_at)
        ),
        Refusal::StaleRequest { approval, reason } => format!(
            "Request #{approval} can't run as it was asked: {reason}; nothing ran. Ask again."
        ),
        Refusal::UnknownApproval { approval } => {
            format!("There is no approval request #{approval}.")
        }
        Refusal::NoApprovalHere => "There is no approval request in this thread.".into(),
        Refusal::NothingToWithdraw { approval } => {
            format!("Request #{approval} is not a pending request of yours; nothing to withdraw.")
        }
        Refusal::UnknownRun { run } => format!("There is no run {run}; nothing to stop."),
        Refusal::NotRunning { run } => format!(
            "Run {} ({}) is not running (it is {}); nothing to stop.",
            run.id,
            run.describe(),
            run.status.as_str()
        ),
        Refusal::NothingRunning => "There's nothing to cancel in this thread.".into(),
        Refusal::PlanElsewhere { plan, owner } => format!(
            "Plan #{plan} of this thread runs in another Deckhand process ({owner}), and only that process can stop it; nothing was stopped from here. Say \"cancel\" again in a moment (it may reach that process), or stop it on {owner}."
        ),
        Refusal::CannotStop { run, because } => format!(
            "You can't stop run {} ({}): {}",
            run.id,
            run.describe(),
            reply_for(because)
        ),
        Refusal::CannotStopPlan {
            plan,
            requested_by,
            step,
            because,
        } => format!(
            "You can't stop plan #{plan} ({step}, asked by {requested_by}): {}",
            reply_for(because)
        ),
        Refusal::AlreadyLocked { lock } => format!("Already locked: {}.", describe_lock(lock)),
        Refusal::NotLocked { scope, others } => not_locked(scope, others),
        Refusal::BadLockDuration { asked, min, max } => format!(
            "A lock can last from {} to {} ({asked} asked); nothing was locked. Leave the duration out to lock until someone unlocks.",
            span(*min),
            span(*max),
        ),
        Refusal::UnknownService { name, suggestions } => format!(
            "I don't know a service called `{name}`. Known services: {}.",
            join_choices(suggestions)
        ),
        Refusal::UnknownEnvironment { name, suggestions } => format!(
            "I don't know an environment called `{name}`. Known environments: {}.",
            join_choices(suggestions)
        ),
        Refusal::Incomplete { .. } => {
            "That request is missing a service or environment; please ask again.".into()
        }
        Refusal::CannotSchedule { reason } => {
            format!("I can't schedule that: {reason}. Nothing was scheduled.")
        }
        Refusal::UnknownSchedule { schedule } => format!(
            "There is no schedule #{schedule}. Say \"list schedules\" to see the ones waiting."
        ),
        Refusal::ScheduleDone {
            schedule,
            cancelled_at,
        } => match cancelled_at {
            Some(at) => format!(
                "Schedule #{schedule} was already cancelled at {}; nothing changed.",
                utc(*at)
            ),
            None => format!("Schedule #{schedule} has already fired; nothing changed."),
        },
        Refusal::NotApproved { approval, status } => match status {
            ApprovalStatus::Approved => format!(
                "Request #{approval} was approved, but the policy now needs more approvals than it got, so nothing ran."
            ),
            ApprovalStatus::Rejected => {
                format!("Request #{approval} was rejected, so nothing ran.")
            }
            ApprovalStatus::Cancelled => {
                format!("Request #{approval} was withdrawn, so nothing ran.")
            }
            ApprovalStatus::Pending | ApprovalStatus::Expired => format!(
                "Request #{approval} was not approved by the scheduled time, so nothing ran."
            ),
        },
    }
}

/// "dave may not deploy to staging: that needs the role `deployer` (dave has no roles).
/// Nothing was run."
fn not_permitted(refusal: &Refusal) -> String {
    let Refusal::NotPermitted {
        person,
        verb,
        service,
        environment,
        needed,
        held,
    } = refusal
    else {
        return String::new();
    };
    let (what, prep) = verb.words();
    let needed = match needed.as_slice() {
        [] => "a role, but none is allowed to".to_string(),
        [one] => format!("the role `{one}`"),
        many => format!(
            "one of the roles {}",
            many.iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let has = if held.is_empty() {
        format!("{person} has no roles")
    } else {
        format!("{person} has: {}", held.join(", "))
    };
    let target = match (verb, service) {
        // "deploy payments-api to production" reads better than "deploy to payments-api in production".
        (Verb::Deploy, Some(s)) => format!("{s} to {environment}"),
        (Verb::Rollback, Some(s)) | (Verb::Lock, Some(s)) => format!("{s} in {environment}"),
        (Verb::Lock, None) => environment.clone(),
        (_, Some(s)) => format!("{prep} {s} in {environment}"),
        (_, None) => format!("{prep} {environment}"),
    };
    format!("{person} may not {what} {target}: that needs {needed} ({has}). Nothing was run.")
}

/// What happened to a request that is no longer pending.
fn closed(refusal: &Refusal) -> String {
    let Refusal::Closed {
        approval,
        status,
        deciders,
        decided_at,
        expires_at,
        requested_by,
        run_id,
    } = refusal
    else {
        return String::new();
    };
    let by = if deciders.is_empty() {
        "nobody".to_string()
    } else {
        deciders.join(", ")
    };
    let when = decided_at.map(utc).unwrap_or_default();
    match status {
        ApprovalStatus::Approved => format!(
            "Request #{approval} was already approved by {by} at {when}{}; nothing changed.",
            run_id
                .map(|r| format!(" and run {r} started"))
                .unwrap_or_default()
        ),
        ApprovalStatus::Rejected => {
            format!("Request #{approval} was already rejected by {by} at {when}; nothing changed.")
        }
        ApprovalStatus::Expired => format!(
            "Request #{approval} expired at {}; {requested_by} can ask again.",
            utc(*expires_at)
        ),
        ApprovalStatus::Cancelled | ApprovalStatus::Pending => {
            format!("Request #{approval} was withdrawn by {requested_by}; nothing to decide.")
        }
    }
}

/// "staging is not locked", naming the locks that do exist there.
fn not_locked(scope: &str, locks: &[LockRecord]) -> String {
    if locks.is_empty() {
        format!("{scope} is not locked; nothing to unlock.")
    } else {
        format!(
            "{scope} has no lock of its own; nothing to unlock. Active locks: {}.",
            locks
                .iter()
                .map(describe_lock)
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_permitted(
        person: &str,
        verb: Verb,
        service: Option<&str>,
        needed: &[&str],
        held: &[&str],
    ) -> Refusal {
        Refusal::NotPermitted {
            person: person.into(),
            verb,
            service: service.map(str::to_string),
            environment: "production".into(),
            needed: needed.iter().map(|r| r.to_string()).collect(),
            held: held.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn permission_refusals_read_as_before() {
        assert_eq!(
            reply_for(&not_permitted("dave", Verb::Deploy, None, &["deployer"], &[])),
            "dave may not deploy to production: that needs the role `deployer` (dave has no roles). Nothing was run."
        );
        assert_eq!(
            reply_for(&not_permitted("bob", Verb::Rollback, None, &["deployer", "oncall"], &["approver", "sre"])),
            "bob may not roll back in production: that needs one of the roles `deployer`, `oncall` (bob has: approver, sre). Nothing was run."
        );
        assert!(reply_for(&not_permitted(
            "alice",
            Verb::Deploy,
            Some("payments-api"),
            &["payments"],
            &["deployer"]
        ))
        .starts_with(
            "alice may not deploy payments-api to production: that needs the role `payments`"
        ));
        assert_eq!(
            reply_for(&not_permitted("bob", Verb::Lock, Some("payments-api"), &[], &["sre"])),
            "bob may not lock or unlock payments-api in production: that needs a role, but none is allowed to (bob has: sre). Nothing was run."
        );
        assert_eq!(
            reply_for(&not_permitted("carol", Verb::Approve, None, &["approver"], &["payments"])),
            "carol may not approve requests for production: that needs the role `approver` (carol has: payments). Nothing was run."
        );
        let stranger = Refusal::UnknownIdentity {
            identity: "console:mallory".into(),
            verb: Verb::Deploy,
        };
        assert!(reply_for(&stranger).contains("add `console:mallory` to a person under `people`"));
    }

    #[test]
    fn rate_limit_retry_is_rounded_up() {
        let r = Refusal::RateLimited {
            retry_in: Duration::from_millis(59_001),
            limit: 3,
            window: Duration::from_secs(60),
        };
        assert_eq!(
            reply_for(&r),
            "Slow down: you've sent 3 commands in the last 60 s. Try again in 60 s."
        );
    }
}
