//! The chat text of a [`StatusReport`].

use super::phrases::{freeze_line, live_line, running_phrase};
use crate::command::reports::{StatusReport, TargetStatus};
use crate::governance::describe_lock;
use crate::timefmt::ago;

/// "billionmail:\n  staging: 2.4.0 (deployed by alice 2 min ago, run 4)\n🔒 …".
pub fn render_status(r: &StatusReport) -> String {
    let mut lines = Vec::new();
    if r.services.is_empty() && !r.any_lock_active && r.freezes.is_empty() && r.plans.is_empty() {
        lines.push(
            "Nothing has been deployed through Deckhand yet. Try \"deploy billionmail to staging\"."
                .to_string(),
        );
    }
    for s in &r.services {
        lines.push(format!("{}:", s.service));
        for t in &s.targets {
            let mut line = target_line(t);
            let live = t.live.as_ref().and_then(|l| l.version.as_deref());
            if let (Some(newest), Some(live)) = (&s.newest, live) {
                if crate::versions::is_newer(newest, Some(live)) {
                    line.push_str(&format!("; {newest} available"));
                }
            }
            lines.push(line);
            if let Some(summary) = t.memory.summary(r.as_of) {
                lines.push(format!("    ⚠ {summary}"));
            }
        }
        if let Some(p) = &s.newest_problem {
            lines.push(format!("    ⚠ can't tell what is new: {p}"));
        }
    }
    for l in &r.locks {
        lines.push(format!("🔒 {}", describe_lock(l)));
    }
    for f in &r.freezes {
        lines.push(freeze_line(f, r.as_of));
    }
    for p in &r.plans {
        lines.push(crate::bot::plan_text::plan_line(p));
    }
    lines.join("\n")
}

/// "  staging: 2.4.0 (…); last attempt: deploy 2.5.0 failed 3 min ago; ⏳ run 9 is …".
fn target_line(t: &TargetStatus) -> String {
    let mut line = match &t.live {
        Some(l) => format!("  {}: {}", t.environment, live_line(l)),
        None => format!("  {}: not deployed", t.environment),
    };
    if let Some(a) = &t.unsettled_attempt {
        line.push_str(&format!(
            "; last attempt: {} {} {} {}",
            a.action.as_str(),
            a.version.as_deref().unwrap_or("(no version)"),
            a.status.as_str(),
            ago(a.at)
        ));
    }
    if let Some(r) = &t.running {
        line.push_str(&format!(
            "; ⏳ {} (by {}, started {})",
            running_phrase(r),
            r.requested_by,
            ago(r.started_at)
        ));
    }
    line
}
