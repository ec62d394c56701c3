//! The chat rendering of run progress: turns the executor's typed events into today's
//! `BotEvent::{RunStarted, Progress, RunFinished}`, keeping each run's stage line and
//! composing the closing sentence. Runs from other origins (API, schedules) are not chat's.

use crate::chat::{stage_label, BotEvent, EventSink, StageLine, ThreadKey};
use crate::pipeline::{
    Progress, ProgressSink, RollbackOutcome, RunEvent, RunFacts, RunOutcome, RunStatus, StageEnd,
    StageFailure, StageRef, StageState,
};
use crate::store::Action;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A [`ProgressSink`] that posts to the chat thread each run came from (or to one given
/// thread, for runs asked for elsewhere: the API's `notify`).
pub struct ChatProgress {
    sink: Arc<dyn EventSink>,
    /// Where every run's progress goes, whatever its origin.
    thread: Option<ThreadKey>,
    /// The stage line of each run in progress, by run id.
    lines: Mutex<HashMap<i64, StageLine>>,
}

impl ChatProgress {
    /// Progress rendered into this adapter's sink.
    pub fn new(sink: Arc<dyn EventSink>) -> ChatProgress {
        ChatProgress {
            sink,
            thread: None,
            lines: Mutex::default(),
        }
    }

    /// Progress of every run it is given, rendered into `thread` (runs started by the API
    /// with `notify`).
    pub fn in_thread(sink: Arc<dyn EventSink>, thread: ThreadKey) -> ChatProgress {
        ChatProgress {
            sink,
            thread: Some(thread),
            lines: Mutex::default(),
        }
    }

    /// Applies `change` to the run's stage line and returns it rendered.
    fn update(&self, run: i64, change: impl FnOnce(&mut StageLine)) -> String {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let line = lines.entry(run).or_default();
        change(line);
        line.render()
    }

    fn emit_progress(
        &self,
        thread: &ThreadKey,
        run: &RunFacts,
        at: &StageRef,
        state: StageState,
        line: Option<String>,
        summary: String,
    ) {
        self.sink.emit(BotEvent::Progress {
            thread: thread.clone(),
            run_id: run.id,
            stage: at.name.clone(),
            phase: at.phase,
            state,
            line,
            summary,
        });
    }
}

impl ProgressSink for ChatProgress {
    fn report(&self, event: &RunEvent) {
        let run = &event.run;
        let Some(thread) = self.thread.as_ref().or(run.origin.thread()) else {
            return;
        };
        match &event.progress {
            Progress::Started { stages } => self.started(thread, run, stages),
            Progress::StageStarted(at) => {
                let summary = self.update(run.id, |l| {
                    l.set(at.phase, at.index, StageState::Running, None)
                });
                self.emit_progress(thread, run, at, StageState::Running, None, summary);
            }
            Progress::StageOutput { stage, line } => {
                let summary = self.update(run.id, |_| {});
                let line = Some(line.clone());
                self.emit_progress(thread, run, stage, StageState::Running, line, summary);
            }
            Progress::StageFinished {
                stage,
                state,
                duration,
                ..
            } => {
                let summary = self.update(run.id, |l| {
                    l.set(stage.phase, stage.index, *state, Some(*duration))
                });
                self.emit_progress(thread, run, stage, *state, None, summary);
            }
            // Shown in the final line only, as "deploy ⊘ 0.0s": nothing ran to report on.
            Progress::StageSkipped(at) => {
                self.update(run.id, |l| {
                    l.set(
                        at.phase,
                        at.index,
                        StageState::Cancelled,
                        Some(Duration::ZERO),
                    )
                });
            }
            Progress::RollbackStarted { stages } => {
                self.update(run.id, |l| l.begin_rollback(stages));
            }
            Progress::Finished(outcome) => self.finished(thread, run, outcome),
        }
    }

    fn plan(&self, progress: &crate::pipeline::PlanProgress) {
        let plan = &progress.plan;
        let Some(thread) = self.thread.as_ref().or(plan.origin.thread()) else {
            return;
        };
        let ended = progress.ended;
        self.sink.emit(BotEvent::PlanProgress {
            thread: thread.clone(),
            plan_id: plan.id,
            text: super::plan_text::plan_message(progress),
            line: super::plan_text::plan_line(plan),
            ended,
        });
        if ended {
            self.sink.emit(BotEvent::Reply {
                thread: thread.clone(),
                text: super::plan_text::closing(progress),
                intent: None,
                refusal: None,
            });
        }
    }
}

impl ChatProgress {
    fn started(&self, thread: &ThreadKey, run: &RunFacts, stages: &[String]) {
        let labels: Vec<String> = stages
            .iter()
            .map(|s| stage_label(s, run.strategy, run.percent))
            .collect();
        self.update(run.id, |l| *l = StageLine::new(&labels));
        self.sink.emit(BotEvent::RunStarted {
            thread: thread.clone(),
            run_id: run.id,
            action: run.action,
            service: run.service.clone(),
            environment: run.environment.clone(),
            version: run.version.clone(),
            strategy: run.strategy,
        });
    }

    fn finished(&self, thread: &ThreadKey, run: &RunFacts, outcome: &RunOutcome) {
        let summary = {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            lines.remove(&run.id).unwrap_or_default().render()
        };
        self.sink.emit(BotEvent::RunFinished {
            thread: thread.clone(),
            run_id: run.id,
            status: outcome.status,
            version: outcome
                .version
                .clone()
                .filter(|_| outcome.status == RunStatus::Succeeded),
            summary,
            text: finished_text(run, outcome),
        });
    }
}

/// The closing sentence of a run: "payments-api 2.4.0 is live on staging", "Deploy of … failed:
/// build failed (exit 3); rolled back to 2.3.1. Say \"explain payments-api\" for the log."
pub fn finished_text(run: &RunFacts, outcome: &RunOutcome) -> String {
    let version = outcome.version.as_deref();
    let (service, env) = (&run.service, &run.environment);
    let what = match run.action {
        Action::Deploy => format!(
            "Deploy of {service} {}to {env}",
            version.map(|v| format!("{v} ")).unwrap_or_default(),
        ),
        Action::Rollback => format!("Rollback of {service} in {env}"),
    };
    // After a failure, say what the target runs when this run may have changed it.
    let tell_live = outcome.switched || run.action == Action::Rollback;
    let Some(failure) = &outcome.failure else {
        return match run.action {
            Action::Deploy => format!(
                "{service} {} is live on {env}",
                version.unwrap_or("(unknown version)")
            ),
            Action::Rollback => format!(
                "{service} is back on {} in {env}",
                version.unwrap_or("the previous release")
            ),
        };
    };
    if failure.end == StageEnd::Cancelled {
        let live = live_sentence(run, outcome, tell_live);
        return format!("{what} was cancelled during {}.{live}", failure.stage);
    }
    let (restored, rollback_failed) = match &outcome.rollback {
        RollbackOutcome::Restored { .. } => (true, false),
        RollbackOutcome::Failed { .. } => (false, true),
        _ => (false, false),
    };
    let live = live_sentence(run, outcome, (tell_live || rollback_failed) && !restored);
    let hint = next_step_hint(run, outcome, outcome.switched && !restored);
    format!(
        "{what} failed: {}{}{live} {hint}",
        failure_reason(failure),
        rollback_tail(run, &outcome.rollback)
    )
}

/// "build failed (exit 3)", "verify timed out after 30s".
fn failure_reason(failure: &StageFailure) -> String {
    let stage = &failure.stage;
    match failure.end {
        StageEnd::TimedOut => format!("{stage} timed out after {}s", failure.timeout.as_secs()),
        StageEnd::Failed(Some(code)) => format!("{stage} failed (exit {code})"),
        _ => format!("{stage} failed"),
    }
}

/// What the automatic rollback did, as the rest of the failure sentence (starts with "." or ";").
fn rollback_tail(run: &RunFacts, rollback: &RollbackOutcome) -> String {
    let (service, env) = (&run.service, &run.environment);
    match rollback {
        RollbackOutcome::NotRequested => ".".into(),
        RollbackOutcome::NotNeeded { first_change } => format!("; {env} had not changed yet (the failure came before {first_change}), so no rollback was needed."),
        RollbackOutcome::NoPipeline => "; no rollback pipeline is configured.".into(),
        RollbackOutcome::NoTarget => format!(
            "; there is no earlier successful deploy of {service} in {env} to roll back to."
        ),
        RollbackOutcome::Restored { version } => format!("; rolled back to {version}."),
        RollbackOutcome::Failed { version, stage } => format!("; the automatic rollback to {version} also failed at {stage}, so check {env} by hand."),
    }
}

/// " 3.2.0-rc.1 is live on dev (its verify failed)." when `tell`; "still" when an earlier
/// run put it there.
fn live_sentence(run: &RunFacts, outcome: &RunOutcome, tell: bool) -> String {
    let Some(live) = outcome.live.as_ref().filter(|_| tell) else {
        return String::new();
    };
    let phrase = live.live_phrase_on();
    if live.run_id == run.id {
        format!(" {phrase}.")
    } else {
        format!(" {}.", phrase.replacen(" is live", " is still live", 1))
    }
}

/// How to roll back when the run left a release live that did not pass its checks, and
/// where the log is.
fn next_step_hint(run: &RunFacts, outcome: &RunOutcome, left_live: bool) -> String {
    let explain = format!("\"explain {}\" for the log.", run.service);
    match &outcome.rollback_target {
        Some(target) if left_live && run.action == Action::Deploy => format!(
            "Say \"rollback {} in {}\" to return to {target}, or {explain}",
            run.service, run.environment
        ),
        _ => format!("Say {explain}"),
    }
}

#[cfg(test)]
mod tests;
