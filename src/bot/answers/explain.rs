//! The chat text of an [`Explanation`].

use super::phrases::{describe_run, live_phrase};
use crate::chat::{RunStatus, StageState};
use crate::command::reports::{Explanation, FailedRun};
use crate::timefmt::ago;

/// "Run 4 (deploy billionmail 2.4.0 to staging, asked by alice 2 min ago) failed at verify
/// (exit 1). …", with where that left the target, deploy memory and the stage's log tail.
pub fn render_explanation(e: &Explanation) -> String {
    let Some(f) = &e.failed_run else {
        let scope = e
            .query
            .environment
            .as_ref()
            .map(|env| format!(" in {env}"))
            .unwrap_or_default();
        return format!("No failed runs of {}{scope} on record.", e.query.service);
    };
    let mut text = what_happened(f);
    if f.run.rolled_back {
        text.push_str(" It was rolled back automatically.");
    }
    text.push_str(&live_after(f));
    if let Some(summary) = f.memory.summary(e.as_of) {
        text.push_str(&format!("\nDeploy memory: {summary}."));
    }
    if let Some(s) = &f.failed_stage {
        if !s.log_tail.is_empty() {
            text.push_str(&format!(
                "\nLast lines of {}:\n```\n{}\n```",
                s.name, s.log_tail
            ));
        }
    }
    text
}

/// "Run 4 (…) failed at verify (exit 1)." / "… was interrupted: …" / "… failed: <error>.".
fn what_happened(f: &FailedRun) -> String {
    let run = &f.run;
    let what = format!(
        "Run {} ({}, asked by {} {})",
        run.id,
        describe_run(run),
        run.requested_by,
        ago(run.started_at)
    );
    match (&f.failed_stage, run.status) {
        (_, RunStatus::Interrupted) => {
            format!("{what} was interrupted: Deckhand stopped while it was running.")
        }
        (Some(s), _) => format!(
            "{what} failed at {}{}.",
            s.name,
            match (s.state, s.exit_code) {
                (StageState::TimedOut, _) => " (timed out)".to_string(),
                (_, Some(code)) => format!(" (exit {code})"),
                _ => String::new(),
            }
        ),
        (None, _) => format!(
            "{what} failed: {}.",
            run.error
                .as_deref()
                .unwrap_or("no stage result was recorded")
        ),
    }
}

/// After a failed run: what its target runs now, and how to return to the last good
/// release when the run left a broken one live.
fn live_after(f: &FailedRun) -> String {
    let (service, env) = (&f.run.service, &f.run.environment);
    let Some(live) = &f.live else {
        return format!(" Nothing Deckhand deployed is live in {env}.");
    };
    let mut text = format!(" In {env}, {}.", live_phrase(live));
    if let Some(target) = &f.rollback_target {
        text.push_str(&format!(
            " Say \"rollback {service} in {env}\" to return to {target}."
        ));
    }
    text
}
