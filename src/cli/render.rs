//! Human output of the CLI: short lines and aligned tables of the facts (ids, statuses,
//! versions, stage lines). Every function returns text; the commands print it.

use super::sse::SseEvent;
use super::views::{ApprovalView, EventData, LockView, RunView, StageView};
use crate::timefmt::utc;

/// Columns padded to their widest cell, two spaces apart, no trailing spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// "1.2 s", "850 ms", "2 min 05 s".
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// A value or "-".
pub fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

/// "billionmail 2.4.0" or "billionmail" without a version.
fn subject(service: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{service} {v}"),
        None => service.to_string(),
    }
}

/// "deploy billionmail 2.4.0 to staging (canary 10%)".
pub fn run_summary(r: &RunView) -> String {
    let strategy = match (r.strategy.as_deref(), r.percent) {
        (Some(s), Some(p)) => format!(" ({s} {p}%)"),
        (Some(s), None) => format!(" ({s})"),
        _ => String::new(),
    };
    format!(
        "{} {} {} {}{strategy}",
        r.action,
        subject(&r.service, r.version.as_deref()),
        if r.action == "rollback" { "in" } else { "to" },
        r.environment
    )
}

/// The answer to a started deploy or rollback.
pub fn run_started(r: &RunView) -> String {
    format!(
        "run {} started: {}\n  follow it: deckhand runs logs {} --follow\n",
        r.id,
        run_summary(r),
        r.id
    )
}

/// The answer to a request that waits for approval.
pub fn approval_waiting(a: &ApprovalView) -> String {
    let who = match &a.approver_roles {
        Some(roles) if !roles.is_empty() => format!(" from {}", roles.join(" or ")),
        _ => String::new(),
    };
    format!(
        "approval {} waiting for approval: {} {} {} {} (needs {} approval{}{who}; expires {})\n  approve it: deckhand approve {}\n",
        a.id,
        a.action,
        subject(&a.service, a.version.as_deref()),
        if a.action == "rollback" { "in" } else { "to" },
        a.environment,
        a.required,
        if a.required == 1 { "" } else { "s" },
        utc(a.expires_at),
        a.id
    )
}

/// `runs show`: the run's facts, then one line per stage.
pub fn run_detail(r: &RunView) -> String {
    let mut out = format!("run {}  {}  {}\n", r.id, run_summary(r), r.status);
    out.push_str(&format!("  requested by  {}\n", r.requested_by));
    out.push_str(&format!("  started       {}\n", utc(r.started_at)));
    if let Some(end) = r.finished_at {
        let took = duration((end - r.started_at).max(0) as u64);
        out.push_str(&format!("  finished      {} (took {took})\n", utc(end)));
    }
    if r.rolled_back {
        out.push_str("  rolled back   yes\n");
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("  error         {e}\n"));
    }
    if !r.stages.is_empty() {
        let rows: Vec<Vec<String>> = r.stages.iter().map(stage_row).collect();
        out.push('\n');
        out.push_str(&table(
            &["PHASE", "#", "STAGE", "STATUS", "EXIT", "TIME"],
            &rows,
        ));
    }
    out
}

fn stage_row(s: &StageView) -> Vec<String> {
    vec![
        s.phase.clone(),
        (s.position + 1).to_string(),
        s.name.clone(),
        s.status.clone(),
        or_dash(s.exit_code.map(|c| c.to_string()).as_deref()),
        or_dash(s.duration_ms.map(duration).as_deref()),
    ]
}

/// `runs logs` without `--follow`: each stored stage's status line and log tail.
pub fn stage_logs(r: &RunView) -> String {
    let mut out = String::new();
    for s in &r.stages {
        out.push_str(&stage_line(
            &s.phase,
            &s.name,
            &stage_end(&s.status, s.exit_code, s.duration_ms),
        ));
        for line in s.log_tail.as_deref().unwrap_or_default().lines() {
            out.push_str(&output_line(&s.name, line));
        }
    }
    if r.status == "running" {
        out.push_str(&format!(
            "run {} is still running (deckhand runs logs {} --follow streams it)\n",
            r.id, r.id
        ));
    } else {
        out.push_str(&run_finished_line(r));
    }
    out
}

/// "succeeded (exit 0, 1.2 s)".
fn stage_end(status: &str, exit: Option<i32>, ms: Option<u64>) -> String {
    let facts: Vec<String> = exit
        .map(|c| format!("exit {c}"))
        .into_iter()
        .chain(ms.map(duration))
        .collect();
    if facts.is_empty() {
        status.to_string()
    } else {
        format!("{status} ({})", facts.join(", "))
    }
}

/// "stage build: started", "rollback stage restore: failed (exit 1, 2.0 s)".
fn stage_line(phase: &str, name: &str, what: &str) -> String {
    let prefix = if phase == "rollback" {
        "rollback stage"
    } else {
        "stage"
    };
    format!("{prefix} {name}: {what}\n")
}

/// "  build | compiling...".
fn output_line(stage: &str, line: &str) -> String {
    format!("  {stage} | {line}\n")
}

/// "run 7 succeeded: deploy billionmail 2.4.0 to staging", with the error and rollback.
pub fn run_finished_line(r: &RunView) -> String {
    let mut s = format!("run {} {}: {}", r.id, r.status, run_summary(r));
    if r.rolled_back {
        s.push_str("; rolled back");
    }
    if let Some(e) = &r.error {
        s.push_str(&format!("; {e}"));
    }
    s + "\n"
}

/// What a stream reader remembers between events: the run its `started` event described
/// (the `finished` event names only the outcome).
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    run: Option<RunView>,
}

/// The line(s) an event of the run stream prints, or None for events with nothing to say.
pub fn event_text(ev: &SseEvent, state: &mut StreamState) -> Option<String> {
    let d: EventData = serde_json::from_str(&ev.data).unwrap_or_default();
    let phase = d.phase.as_deref().unwrap_or("main");
    let name = d.name.as_deref().unwrap_or("?");
    match ev.event.as_str() {
        "started" => {
            let run = d.started_run();
            let text = format!("run {} started: {}\n", run.id, run_summary(&run));
            state.run = Some(run);
            Some(text)
        }
        "stage_started" => Some(stage_line(phase, name, "started")),
        "output" => Some(output_line(name, d.line.as_deref().unwrap_or_default())),
        "stage_finished" => Some(stage_line(
            phase,
            name,
            &stage_end(
                d.status.as_deref().unwrap_or("finished"),
                d.exit_code,
                d.duration_ms,
            ),
        )),
        "stage_skipped" => Some(stage_line(
            phase,
            name,
            &match d.reason.as_deref() {
                Some(r) => format!("skipped ({r})"),
                None => "skipped".into(),
            },
        )),
        "rollback_started" => Some(match d.stages.as_deref() {
            Some(stages) if !stages.is_empty() => {
                format!("automatic rollback started: {}\n", stages.join(", "))
            }
            _ => "automatic rollback started\n".into(),
        }),
        "finished" => {
            let mut r = d.run.or_else(|| state.run.clone()).unwrap_or_default();
            // The event's own fields are the outcome; the run as first seen predates them.
            r.status = d.status.unwrap_or(r.status);
            r.error = d.error.or(r.error);
            r.rolled_back = d.rolled_back.unwrap_or(r.rolled_back);
            r.version = d.version.or(r.version);
            let mut text = if r.service.is_empty() {
                format!("run {}\n", r.status)
            } else {
                run_finished_line(&r)
            };
            if let Some(target) = d.rollback_target {
                text.push_str(&format!("  a rollback would return to {target}\n"));
            }
            Some(text)
        }
        _ => None,
    }
}

/// `runs list`.
pub fn runs_table(runs: &[RunView]) -> String {
    if runs.is_empty() {
        return "no runs\n".into();
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.action.clone(),
                r.service.clone(),
                r.environment.clone(),
                or_dash(r.version.as_deref()),
                r.status.clone(),
                r.requested_by.clone(),
                utc(r.started_at),
            ]
        })
        .collect();
    table(
        &[
            "ID", "ACTION", "SERVICE", "ENV", "VERSION", "STATUS", "BY", "STARTED",
        ],
        &rows,
    )
}

/// `approvals`.
pub fn approvals_table(list: &[ApprovalView], status: &str) -> String {
    if list.is_empty() {
        return format!("no {status} approval requests\n");
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.action.clone(),
                a.service.clone(),
                a.environment.clone(),
                or_dash(a.version.as_deref()),
                a.requested_by.clone(),
                format!("{}/{}", a.approvals, a.required),
                a.status.clone(),
                utc(a.expires_at),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "ACTION",
            "SERVICE",
            "ENV",
            "VERSION",
            "BY",
            "APPROVALS",
            "STATUS",
            "EXPIRES",
        ],
        &rows,
    )
}

/// "staging" or "payments-api in production".
pub fn scope(environment: &str, service: Option<&str>) -> String {
    match service {
        Some(s) => format!("{s} in {environment}"),
        None => environment.to_string(),
    }
}

/// "until 2026-12-02 05:00 UTC" or "until unlocked".
fn until(expires_at: Option<i64>) -> String {
    match expires_at {
        Some(ms) => format!("until {}", utc(ms)),
        None => "until unlocked".into(),
    }
}

/// One lock in a sentence.
pub fn lock_line(l: &LockView) -> String {
    let state = match l.starts_at {
        Some(from) => format!("will be frozen by {} from {}", l.locked_by, utc(from)),
        None => format!("locked by {}", l.locked_by),
    };
    let rollbacks = match l.rollbacks.as_deref() {
        Some("allow") => " (rollbacks allowed)",
        _ => "",
    };
    format!(
        "{} {state} {}{rollbacks} (lock {}){}\n",
        scope(&l.environment, l.service.as_deref()),
        until(l.expires_at),
        l.id,
        l.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    )
}

/// `locks`.
pub fn locks_table(locks: &[LockView]) -> String {
    if locks.is_empty() {
        return "no active locks\n".into();
    }
    let rows: Vec<Vec<String>> = locks
        .iter()
        .map(|l| {
            vec![
                l.id.to_string(),
                l.environment.clone(),
                or_dash(l.service.as_deref()),
                l.locked_by.clone(),
                l.starts_at.map(utc).unwrap_or_else(|| "-".into()),
                l.expires_at.map(utc).unwrap_or_else(|| "unlocked".into()),
                or_dash(l.reason.as_deref()),
            ]
        })
        .collect();
    table(
        &["ID", "ENV", "SERVICE", "BY", "FROM", "UNTIL", "REASON"],
        &rows,
    )
}

#[cfg(test)]
mod tests;
