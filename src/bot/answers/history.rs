//! The chat text of a [`HistoryReport`].

use super::phrases::live_phrase;
use crate::chat::RunStatus;
use crate::command::reports::{HistoryEntry, HistoryReport};
use crate::timefmt::utc;

/// "Recent deployments of billionmail, newest first:" and one line per entry.
pub fn render_history(r: &HistoryReport) -> String {
    let scope = match (&r.query.service, &r.query.environment) {
        (Some(s), Some(e)) => format!(" of {s} in {e}"),
        (Some(s), None) => format!(" of {s}"),
        (None, Some(e)) => format!(" in {e}"),
        (None, None) => String::new(),
    };
    if r.entries.is_empty() && r.plans.is_empty() {
        return format!("No deployments{scope} on record yet.");
    }
    let mut lines = vec![format!("Recent deployments{scope}, newest first:")];
    lines.extend(r.entries.iter().map(entry_line));
    if !r.plans.is_empty() {
        lines.push("Plans:".into());
        lines.extend(r.plans.iter().map(crate::bot::plan_text::plan_line));
    }
    lines.join("\n")
}

/// "• 2026-11-23 18:53 UTC  billionmail 2.4.0 → staging  deploy failed at verify  (alice,
/// run 4)  ← 2.4.0 is live (its verify failed)".
fn entry_line(e: &HistoryEntry) -> String {
    let a = &e.attempt;
    let stage = match (a.status, a.failed_stage.as_deref()) {
        (RunStatus::Failed, Some(s)) => format!(" at {s}"),
        (RunStatus::Cancelled, Some(s)) => format!(" during {s}"),
        _ => String::new(),
    };
    let now = e
        .live_now
        .as_ref()
        .map(|l| format!("  ← {}", live_phrase(l)))
        .unwrap_or_default();
    format!(
        "• {}  {} {} → {}  {} {}{stage}  ({}, run {}){now}",
        utc(a.at),
        a.service,
        a.version.as_deref().unwrap_or("(no version)"),
        a.environment,
        a.action.as_str(),
        a.status.as_str(),
        a.requested_by,
        a.run_id
    )
}
