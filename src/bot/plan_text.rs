//! How a plan reads in chat: its one message, edited as it moves ([`plan_message`]), the
//! summary that closes it, its line in `status` and `history`.

use crate::command::{Command, PlanStarted};
use crate::store::{PlanRecord, PlanStatus, StepRecord, StepStatus};

/// The summary posted when a plan ends.
pub(super) fn summary(p: &PlanRecord) -> String {
    let lines: Vec<String> = p
        .steps
        .iter()
        .map(|s| {
            let run = run_and_time(s);
            let (mark, word) = match s.status {
                StepStatus::Succeeded => ("✓", String::new()),
                StepStatus::Failed => ("✗", format!(" failed: {}", s.detail)),
                StepStatus::Refused => ("⛔", format!(" refused: {}", s.detail)),
                StepStatus::Skipped => ("–", " skipped".to_string()),
                StepStatus::Pending | StepStatus::Running => ("?", " did not finish".to_string()),
            };
            format!("{}. {} {mark}{word}{run}", s.position, s.service)
        })
        .collect();
    let head = match p.status {
        PlanStatus::Succeeded => format!("✅ Plan #{} done", p.id),
        PlanStatus::Cancelled => format!("Plan #{} cancelled", p.id),
        _ => format!("Plan #{} stopped", p.id),
    };
    format!("{head}: {}", lines.join(" · "))
}

/// When a running plan last showed life, if that is longer ago than the lease: its process
/// may be gone (it is marked interrupted when a Deckhand process next starts).
fn silent_since(p: &PlanRecord) -> Option<i64> {
    let last = p.last_sign_of_life();
    let now = crate::clock::now_ms();
    (p.status == PlanStatus::Running && now - last > crate::store::RUN_LEASE_MS).then_some(last)
}

/// "▶ plan #1 by alice (running): 1. redis ✓ · 2. billionmail ⏳ · 3. wix-backend …", for
/// `status` and `history`.
pub(crate) fn plan_line(p: &PlanRecord) -> String {
    let steps: Vec<String> = p
        .steps
        .iter()
        .map(|s| {
            let mark = match s.status {
                StepStatus::Succeeded => "✓",
                StepStatus::Running => "⏳",
                StepStatus::Pending => "…",
                StepStatus::Failed => "✗",
                StepStatus::Refused => "⛔",
                StepStatus::Skipped => "–",
            };
            let took = took(s).map(|t| format!(" ({t})")).unwrap_or_default();
            format!("{}. {} {mark}{took}", s.position, s.service)
        })
        .collect();
    let when = match p.finished_at {
        Some(at) => format!(", {}", crate::timefmt::ago(at)),
        None => silent_since(p)
            .map(|at| format!("? last sign of life {}", crate::timefmt::ago(at)))
            .unwrap_or_default(),
    };
    format!(
        "▶ plan #{} by {} ({}{when}): {}",
        p.id,
        p.requested_by,
        p.status.as_str(),
        steps.join(" · ")
    )
}

/// How long a step that ran took: "30 s".
fn took(s: &StepRecord) -> Option<String> {
    s.run_id?;
    s.took().map(crate::timefmt::span)
}

/// " (run 12, 30 s)" for a step that ran and ended, " (run 12)" while it runs.
fn run_and_time(s: &StepRecord) -> String {
    match (s.run_id, took(s)) {
        (Some(r), Some(t)) => format!(" (run {r}, {t})"),
        (Some(r), None) => format!(" (run {r})"),
        (None, _) => String::new(),
    }
}

/// The version a stored step deploys, read from its command.
pub(super) fn step_version(s: &StepRecord) -> Option<String> {
    match serde_json::from_str::<Command>(&s.command).ok()? {
        Command::Deploy(run) => run.version,
        _ => None,
    }
}

/// What a person can do about an interrupted plan: undo the steps that succeeded (a plan
/// of deploys with some done), or ask again.
pub(super) fn after_interruption(plan: &PlanRecord) -> String {
    let done = plan
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Succeeded)
        .count();
    match done > 0 && !is_rollback(plan) {
        true => format!(
            "Say \"roll back the whole plan\" to undo the {done} step(s) that succeeded, or ask again for the rest."
        ),
        false => "Ask again for what did not run.".into(),
    }
}

/// Whether the plan is a plan's undoing (its steps are rollbacks).
fn is_rollback(plan: &PlanRecord) -> bool {
    plan.steps.first().is_some_and(|s| {
        matches!(
            serde_json::from_str::<Command>(&s.command),
            Ok(Command::Rollback(_))
        )
    })
}

/// The plan's one message: a line per step, what the running step is doing, and how the
/// plan ended (edited in place as the plan moves).
pub(crate) fn plan_message(p: &crate::pipeline::PlanProgress) -> String {
    let plan = &p.plan;
    let rollback = is_rollback(plan);
    let mut text = format!(
        "{} in order (plan #{}, asked by {}):",
        if rollback {
            "Rolling back"
        } else {
            "Deploying"
        },
        plan.id,
        plan.requested_by
    );
    for s in &plan.steps {
        let version = step_version(s).map(|v| format!(" {v}")).unwrap_or_default();
        let run = run_and_time(s);
        let state = match s.status {
            StepStatus::Succeeded => "✓".to_string(),
            StepStatus::Running => match &p.activity {
                Some(stage) => format!("⏳ {stage}"),
                None => "⏳".to_string(),
            },
            StepStatus::Pending => "…".to_string(),
            StepStatus::Failed => format!("✗ {}", s.detail),
            StepStatus::Refused => format!("⛔ refused: {}", s.detail),
            StepStatus::Skipped => "– skipped".to_string(),
        };
        text.push_str(&format!(
            "\n{}. {}{version} → {} {state}{run}",
            s.position, s.service, s.environment
        ));
    }
    text.push_str(&match plan.status {
        PlanStatus::Running => {
            "\nSay \"cancel\" to stop the running step and the plan.".to_string()
        }
        PlanStatus::Succeeded => format!("\n✅ Plan #{} done.", plan.id),
        PlanStatus::Cancelled => format!("\n⊘ Plan #{} cancelled.", plan.id),
        PlanStatus::Failed => format!("\n✗ Plan #{} stopped.", plan.id),
        PlanStatus::Interrupted => format!("\n⚠ Plan #{} was interrupted.", plan.id),
    });
    text
}

/// The message posted when a plan ends: its summary, and the end of the output of the step
/// that failed.
pub(crate) fn closing(p: &crate::pipeline::PlanProgress) -> String {
    let mut text = summary(&p.plan);
    // What the failed step's run did and left behind (its rollback, what is live), as a
    // single run would say it.
    if let Some((run, outcome)) = &p.failed_run {
        text.push_str(&format!(
            "\n{}",
            super::progress::finished_text(run, outcome)
        ));
    }
    let done = p
        .plan
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Succeeded)
        .count();
    let undoable = !matches!(p.plan.status, PlanStatus::Succeeded | PlanStatus::Running);
    if undoable && done > 0 && !is_rollback(&p.plan) {
        text.push_str(&format!(
            "\nSay \"roll back the whole plan\" to undo the {done} step(s) that succeeded."
        ));
    }
    if !p.failure_tail.is_empty() {
        text.push_str(&format!(
            "\nLast output of the failed step:\n```\n{}\n```",
            p.failure_tail.join("\n")
        ));
    }
    text
}

/// The reply to a plan that started.
pub(super) fn started(p: &PlanStarted) -> String {
    let steps: Vec<String> = p
        .plan
        .steps
        .iter()
        .map(|s| format!("{}. {}", s.position, s.service))
        .collect();
    format!(
        "Deploying in order (plan #{}): {}. Each step is checked when it starts, and one that does not succeed stops the rest. Say \"cancel\" to stop the running step and the plan.",
        p.plan.id,
        steps.join(" ")
    )
}
