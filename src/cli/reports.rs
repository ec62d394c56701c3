//! Human output of the read-only reports (status, history, context) and of approval
//! decisions.

use super::render::{lock_line, or_dash, table};
use super::views::{ContextView, DecisionView, HistoryView, StatusView, TargetView};
use crate::timefmt::{utc, zoned};

/// `status`: one row per service and environment, then the locks in scope.
pub fn status(s: &StatusView) -> String {
    let rows: Vec<Vec<String>> = s
        .services
        .iter()
        .flat_map(|svc| {
            svc.targets
                .iter()
                // Environments where the service has nothing to show are left out.
                .filter(|t| {
                    t.live.is_some() || t.running.is_some() || t.unsettled_attempt.is_some()
                })
                .map(move |t| target_row(&svc.service, t))
        })
        .collect();
    let mut out = if rows.is_empty() {
        "nothing is deployed or running in scope\n".to_string()
    } else {
        table(
            &[
                "SERVICE", "ENV", "LIVE", "SINCE", "CHECKS", "RUNNING", "NOTE",
            ],
            &rows,
        )
    };
    for l in &s.locks {
        out.push_str(&lock_line(l));
    }
    for f in &s.freezes {
        let scope = match &f.services {
            Some(list) => format!("{} in {}", list.join(", "), f.environment),
            None => f.environment.clone(),
        };
        out.push_str(&format!(
            "freeze {scope}: {} to {} ({}; {})\n",
            zoned(f.from, &f.tz),
            zoned(f.until, &f.tz),
            f.reason,
            if f.rollbacks == "deny" {
                "rollbacks refused too"
            } else {
                "rollbacks allowed"
            }
        ));
    }
    out
}

fn target_row(service: &str, t: &TargetView) -> Vec<String> {
    let (live, since, checks) = match &t.live {
        Some(l) => (
            or_dash(l.version.as_deref()),
            utc(l.switched_at),
            match &l.failed_stage {
                Some(stage) => format!("{} ({stage})", l.checks),
                None => l.checks.clone(),
            },
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    let running = match &t.running {
        Some(r) => format!("run {} {}", r.id, or_dash(r.version.as_deref())),
        None => "-".into(),
    };
    let note = match &t.unsettled_attempt {
        Some(a) => format!(
            "{} {} {} (run {}{})",
            a.action,
            or_dash(a.version.as_deref()),
            a.status,
            a.run_id,
            a.failed_stage
                .as_deref()
                .map(|s| format!(", at {s}"))
                .unwrap_or_default()
        ),
        None => String::new(),
    };
    vec![
        service.to_string(),
        t.environment.clone(),
        live,
        since,
        checks,
        running,
        note,
    ]
}

/// `history`: newest first, the entries live now marked.
pub fn history(h: &HistoryView) -> String {
    if h.entries.is_empty() {
        return "nothing on record in scope\n".into();
    }
    let rows: Vec<Vec<String>> = h
        .entries
        .iter()
        .map(|e| {
            vec![
                e.run_id.to_string(),
                utc(e.at),
                e.action.clone(),
                e.service.clone(),
                e.environment.clone(),
                or_dash(e.version.as_deref()),
                match &e.failed_stage {
                    Some(stage) => format!("{} ({stage})", e.status),
                    None => e.status.clone(),
                },
                e.requested_by.clone(),
                if e.live_now.is_some() { "live" } else { "" }.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "RUN", "WHEN", "ACTION", "SERVICE", "ENV", "VERSION", "STATUS", "BY", "",
        ],
        &rows,
    )
}

/// "verify ×2, test ×1", most frequent first.
fn counts(map: &std::collections::BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = v.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// `context`: deploy memory of one target and the recommended strategy.
pub fn context(c: &ContextView) -> String {
    let f = &c.facts;
    let mut out = format!(
        "{} in {} (last {} deploy{})\n",
        f.service,
        f.environment,
        f.considered,
        if f.considered == 1 { "" } else { "s" }
    );
    let rate = match c.failure_rate {
        Some(r) => format!("{:.0}% ({} of {})", r * 100.0, f.failures, f.considered),
        None => "no deploys on record".into(),
    };
    let rows = vec![
        vec!["failure rate".to_string(), rate],
        vec![
            "last success".into(),
            f.last_success_at.map(utc).unwrap_or_else(|| "never".into()),
        ],
        vec!["failing stages".into(), counts(&f.failing_stages)],
        vec!["co-failures".into(), counts(&f.co_failures)],
        vec![
            "live problem".into(),
            f.live_problem.clone().unwrap_or_else(|| "none".into()),
        ],
        vec![
            "recommended".into(),
            match &c.recommendation {
                Some(r) => match r.percent {
                    Some(p) => format!("{} {p}%: {}", r.strategy, r.reason),
                    None => format!("{}: {}", r.strategy, r.reason),
                },
                None => "no rule applies (the environment's default)".into(),
            },
        ],
    ];
    for row in rows {
        out.push_str(&format!("  {:<15} {}\n", row[0], row[1]));
    }
    out
}

/// What an approval decision did; the second value is true when the approved request was
/// refused or did not start (the CLI then exits 3).
pub fn decision(d: &DecisionView) -> (String, bool) {
    let verb = if d.decision == "reject" {
        "rejected"
    } else {
        "approved"
    };
    let head = format!("approval {} {verb} by {}", d.approval, d.by);
    let kind = |v: &serde_json::Value| {
        v.get("refusal")
            .and_then(|r| r.get("kind"))
            .and_then(|k| k.as_str())
            .unwrap_or("refused")
            .replace('_', " ")
    };
    let r = &d.result;
    match r.get("result").and_then(|v| v.as_str()).unwrap_or_default() {
        "waiting" => (
            format!(
                "{head}: {} of {} approvals, waiting for more\n",
                r.get("approvals").and_then(|v| v.as_i64()).unwrap_or(0),
                r.get("required").and_then(|v| v.as_i64()).unwrap_or(0)
            ),
            false,
        ),
        "started" => (
            format!(
                "{head}: run {} started\n  follow it: deckhand runs logs {} --follow\n",
                r.get("run_id").map(|v| v.to_string()).unwrap_or_default(),
                r.get("run_id").map(|v| v.to_string()).unwrap_or_default()
            ),
            false,
        ),
        "rejected" => (format!("{head}; it will not run\n"), false),
        "refused" => (format!("{head}, but it was refused: {}\n", kind(r)), true),
        "did_not_start" => (format!("{head}, but it did not start: {}\n", kind(r)), true),
        other => (format!("{head} ({other})\n"), false),
    }
}
