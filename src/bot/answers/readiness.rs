//! The chat text of a [`ReadinessReport`].

use super::phrases::{live_line, running_phrase};
use crate::bot::outcomes::{describe_request, describe_stored_request};
use crate::command::reports::{BuildOutcome, PendingApproval, ReadinessReport, TargetReadiness};
use crate::governance::describe_lock;
use crate::timefmt::{ago, utc};

/// "Readiness of billionmail (I only looked; nothing was started):" and one bullet each for
/// the newest build, what runs where, locks, approvals waiting and deploy memory.
pub fn render_readiness(r: &ReadinessReport) -> String {
    let service = &r.query.service;
    let scope = r
        .query
        .environment
        .as_ref()
        .map(|e| format!(" for {e}"))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "Readiness of {service}{scope} (I only looked; nothing was started):"
    )];
    lines.push(build_line(r));
    lines.push("• Runs where:".into());
    lines.extend(r.targets.iter().map(target_line));
    if r.locks.is_empty() {
        lines.push(format!("• Locks: none cover {service}{scope}."));
    } else {
        lines.push("• Locks:".into());
        lines.extend(r.locks.iter().map(|l| format!("  🔒 {}", describe_lock(l))));
    }
    for f in &r.freezes {
        lines.push(format!("• {}", super::phrases::freeze_line(f, r.as_of)));
    }
    if r.pending_approvals.is_empty() {
        lines.push("• Approvals waiting: none.".into());
    } else {
        lines.push("• Approvals waiting:".into());
        lines.extend(r.pending_approvals.iter().map(approval_line));
    }
    for facts in &r.memory {
        if let Some(summary) = facts.summary(r.as_of) {
            lines.push(format!(
                "• ⚠ Deploy memory ({}): {summary}.",
                facts.environment
            ));
        }
    }
    lines.join("\n")
}

/// "• Newest build: 2.4.0 (run 5, for staging by alice 3 min ago): passed every stage."
fn build_line(r: &ReadinessReport) -> String {
    let Some(newest) = &r.newest_build else {
        return format!(
            "• Newest build: none on record; no deploy of {} has run through Deckhand yet.",
            r.query.service
        );
    };
    let run = &newest.run;
    let outcome = match &newest.outcome {
        BuildOutcome::InProgress => "in progress".to_string(),
        BuildOutcome::Passed => "passed every stage".to_string(),
        BuildOutcome::Stopped {
            status,
            stage: Some(stage),
        } => format!("{} at {stage}", status.as_str()),
        BuildOutcome::Stopped {
            status,
            stage: None,
        } => status.as_str().to_string(),
    };
    let mut line = format!(
        "• Newest build: {} (run {}, for {} by {} {}): {outcome}.",
        run.version.as_deref().unwrap_or("no version reported"),
        run.id,
        run.environment,
        run.requested_by,
        ago(run.started_at)
    );
    if let Some(good) = &r.last_good_build {
        line.push_str(&format!(
            " Last good build: {} (run {}, {}).",
            good.version.as_deref().unwrap_or_default(),
            good.run_id,
            ago(good.started_at)
        ));
    }
    line
}

/// "  staging: 2.4.0 (deployed by alice 2 min ago, run 4); ⏳ run 6 is deploying … (by bob)".
fn target_line(t: &TargetReadiness) -> String {
    let mut line = match &t.live {
        Some(l) => format!("  {}: {}", t.environment, live_line(l)),
        None => format!("  {}: not deployed", t.environment),
    };
    if let Some(r) = &t.running {
        line.push_str(&format!(
            "; ⏳ {} (by {})",
            running_phrase(r),
            r.requested_by
        ));
    }
    line
}

/// "  ⏳ request 3: deploy billionmail (latest build) to production, direct (asked by alice
/// 2 min ago; 0 of 1 approval; expires 2026-11-23 18:53 UTC)".
fn approval_line(a: &PendingApproval) -> String {
    format!(
        "  ⏳ request {}: {} (asked by {} {}; {} of {} approval{}; expires {})",
        a.id,
        describe_stored_request(a.action, a.plan.as_deref(), || describe_request(
            a.action,
            &a.service,
            &a.environment,
            a.version.as_deref(),
            a.strategy.as_str(),
            a.percent
        )),
        a.requested_by,
        ago(a.created_at),
        a.approvals,
        a.required,
        if a.required == 1 { "" } else { "s" },
        utc(a.expires_at)
    )
}
