//! Phrases several answers share: a live release, a run in progress, a run's description.

use crate::chat::RunStatus;
use crate::command::reports::{LiveRelease, RunSummary};
use crate::store::Action;
use crate::timefmt::ago;

/// Why a live release may not be healthy: "its verify failed", "its checks are still
/// running"; None when the checks after the switch passed.
pub(super) fn live_note(l: &LiveRelease) -> Option<String> {
    let stage = l.failed_stage.as_deref();
    match (l.checks, stage) {
        (RunStatus::Succeeded, _) => None,
        (RunStatus::Running, _) => Some("its checks are still running".into()),
        (RunStatus::Failed, Some(s)) => Some(format!("its {s} failed")),
        (RunStatus::Failed, None) => Some("its run failed".into()),
        (RunStatus::Cancelled, Some(s)) => Some(format!("its {s} was cancelled")),
        (RunStatus::Cancelled, None) => {
            Some("its run was cancelled before its checks finished".into())
        }
        (RunStatus::Interrupted, _) => Some("Deckhand stopped before its checks finished".into()),
    }
}

/// "3.2.0-rc.1 is live (its verify failed)" / "3.1.0 is live".
pub(super) fn live_phrase(l: &LiveRelease) -> String {
    let version = l.version.as_deref().unwrap_or("an unknown version");
    match live_note(l) {
        Some(note) => format!("{version} is live ({note})"),
        None => format!("{version} is live"),
    }
}

/// "3.1.0 (deployed by alice 2 min ago, run 4)", or for a release whose checks did not pass
/// "3.2.0-rc.1 is live (its verify failed; deployed by alice 2 min ago, run 5)".
pub(super) fn live_line(l: &LiveRelease) -> String {
    let by = format!(
        "{} by {} {}, run {}",
        if l.action == Action::Rollback {
            "rolled back"
        } else {
            "deployed"
        },
        l.requested_by,
        ago(l.switched_at),
        l.run_id
    );
    let version = l.version.as_deref().unwrap_or("unknown version");
    match live_note(l) {
        None => format!("{version} ({by})"),
        Some(note) => format!("{version} is live ({note}; {by})"),
    }
}

/// "run 7 is deploying 2.4.0 now": a run in progress, for a target's line.
pub(super) fn running_phrase(r: &RunSummary) -> String {
    format!(
        "run {} is {} {} now",
        r.id,
        if r.action == Action::Rollback {
            "rolling back"
        } else {
            "deploying"
        },
        r.version.as_deref().unwrap_or("the latest build"),
    )
}

/// "deploy billionmail 2.4.0 to staging" / "rollback billionmail 2.3.1 in staging".
pub(super) fn describe_run(r: &RunSummary) -> String {
    format!(
        "{} {}{} {} {}",
        r.action.as_str(),
        r.service,
        r.version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        if r.action == Action::Deploy {
            "to"
        } else {
            "in"
        },
        r.environment
    )
}

/// "🧊 production is frozen now: weekend, until Mon 7 Dec 2026 08:00 CET" or "next freeze of
/// production: weekend, Fri 4 Dec 2026 16:00 CET to Mon 7 Dec 2026 08:00 CET".
pub(crate) fn freeze_line(f: &crate::governance::FreezeSpan, now: i64) -> String {
    let scope = match &f.services {
        Some(list) => format!("{} in {}", list.join(", "), f.environment),
        None => f.environment.clone(),
    };
    let rollbacks = match f.rollbacks {
        crate::config::RollbackRule::Allow => "rollbacks allowed",
        crate::config::RollbackRule::Deny => "rollbacks frozen too",
    };
    if f.from <= now {
        format!(
            "🧊 {scope} is frozen now: {}, until {} ({rollbacks})",
            f.reason,
            crate::timefmt::zoned(f.until, &f.tz)
        )
    } else {
        format!(
            "🧊 next freeze of {scope}: {}, {} to {} ({rollbacks})",
            f.reason,
            crate::timefmt::zoned(f.from, &f.tz),
            crate::timefmt::zoned(f.until, &f.tz)
        )
    }
}
