//! A running plan's live state: the plans this process runs (what "cancel" stops), each
//! plan as its task sees it (told to the plan's progress sink at every move), and the sink its
//! steps' runs report to instead of posting messages of their own.

use super::{Origin, Progress};
use crate::pipeline::{Phase, PlanProgress, ProgressSink, RunEvent, RunStatus};
use crate::store::{PlanRecord, PlanStatus, StepStatus};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Output lines of a failed step kept for the plan's closing message.
const TAIL: usize = 10;

/// The plans this process is running, by id: what "cancel" in their thread stops.
#[derive(Clone, Default)]
pub(super) struct ActivePlans(Arc<Mutex<HashMap<i64, PlanWatch>>>);

impl ActivePlans {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, PlanWatch>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, id: i64) -> Option<PlanWatch> {
        self.lock().get(&id).cloned()
    }

    /// Registers a plan whose task has started.
    pub(super) fn insert(&self, id: i64, watch: PlanWatch) {
        self.lock().insert(id, watch);
    }

    /// Forgets a plan whose task has ended.
    pub(super) fn remove(&self, id: i64) {
        self.lock().remove(&id);
    }

    /// Plan `id` as it stands, while it runs here.
    pub(super) fn current(&self, id: i64) -> Option<PlanRecord> {
        self.get(id).map(|w| w.lock().plan.clone())
    }

    /// The running plans asked for from `origin`, as they stand.
    pub(super) fn asked_from(&self, origin: &Origin) -> Vec<PlanRecord> {
        let mut plans: Vec<PlanRecord> = self
            .lock()
            .values()
            .map(|w| w.lock().plan.clone())
            .filter(|p| &p.origin == origin)
            .collect();
        plans.sort_by_key(|p| p.id);
        plans
    }
}

/// The plan as its task sees it, told to the plan's progress sink at every move.
#[derive(Clone)]
pub(super) struct PlanWatch {
    state: Arc<Mutex<PlanProgress>>,
    progress: Progress,
    /// Someone stopped the plan: no further step starts, a starting one is cancelled.
    cancelled: Arc<AtomicBool>,
}

impl PlanWatch {
    pub(super) fn new(plan: PlanRecord, progress: Progress) -> PlanWatch {
        PlanWatch {
            state: Arc::new(Mutex::new(PlanProgress {
                plan,
                activity: None,
                failure_tail: Vec::new(),
                failed_run: None,
                ended: false,
            })),
            progress,
            cancelled: Arc::default(),
        }
    }

    /// Stops the plan: no further step starts (the caller cancels the running step's run).
    pub(super) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether someone stopped the plan.
    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Whether a step is still running or to come (a plan closing has none: too late to stop).
    pub(super) fn has_step_to_stop(&self) -> bool {
        self.lock()
            .plan
            .steps
            .iter()
            .any(|s| matches!(s.status, StepStatus::Running | StepStatus::Pending))
    }

    /// Step `position`'s run has started (its id is known before the store records it).
    pub(super) fn started_run(&self, position: i64, run_id: i64) {
        let mut p = self.lock();
        if let Some(step) = p.plan.steps.iter_mut().find(|s| s.position == position) {
            step.status = StepStatus::Running;
            step.run_id = Some(run_id);
        }
    }

    /// The run of the step that is running now, if it has one yet.
    pub(super) fn running_run(&self) -> Option<i64> {
        let p = self.lock();
        p.plan
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Running)
            .and_then(|s| s.run_id)
    }

    pub(super) fn id(&self) -> i64 {
        self.lock().plan.id
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, PlanProgress> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the sink where the plan stands; nothing more once it has ended (a step's run
    /// that outlives its record reports no second final state).
    pub(super) fn show(&self) {
        let now = self.lock().clone();
        if now.ended {
            return;
        }
        self.progress.plan(&now);
    }

    pub(super) fn set_step(
        &self,
        position: i64,
        status: StepStatus,
        run_id: Option<i64>,
        detail: &str,
        at: i64,
    ) {
        {
            let mut p = self.lock();
            if let Some(step) = p.plan.steps.iter_mut().find(|s| s.position == position) {
                step.status = status;
                step.run_id = run_id.or(step.run_id);
                step.detail = detail.to_string();
                match status {
                    StepStatus::Pending => {}
                    StepStatus::Running => step.started_at = Some(at),
                    _ => step.finished_at = Some(at),
                }
            }
            if status != StepStatus::Running {
                p.activity = None;
            }
        }
        self.show();
    }

    pub(super) fn activity(&self, activity: Option<String>) {
        let changed = {
            let mut p = self.lock();
            let changed = p.activity != activity;
            p.activity = activity;
            changed
        };
        if changed {
            self.show();
        }
    }

    /// The plan ended: the stored record when it could be read (its status set to how the
    /// task ended it, should the store have missed that), shown once as the final state.
    pub(super) fn finish(&self, stored: Option<PlanRecord>, status: PlanStatus, at: i64) {
        let last = {
            let mut p = self.lock();
            if p.ended {
                return;
            }
            if let Some(record) = stored {
                p.plan = record;
            }
            if p.plan.status == PlanStatus::Running {
                p.plan.status = status;
                p.plan.finished_at = Some(at);
            }
            p.activity = None;
            p.ended = true;
            p.clone()
        };
        self.progress.plan(&last);
    }
}

/// The progress of a step's run: folded into the plan's message (the stage it is at, the
/// output of a stage that failed) instead of a message of its own.
pub(super) struct StepSink {
    watch: PlanWatch,
    position: i64,
    executor: crate::pipeline::Executor,
}

impl StepSink {
    /// The sink for step `position` of the plan `watch` follows.
    pub(super) fn new(
        watch: PlanWatch,
        position: i64,
        executor: crate::pipeline::Executor,
    ) -> StepSink {
        StepSink {
            watch,
            position,
            executor,
        }
    }
}

impl ProgressSink for StepSink {
    fn report(&self, event: &RunEvent) {
        use crate::pipeline::Progress as P;
        match &event.progress {
            // Reported once the run is registered and before its job is spawned: the run id
            // is known to a "cancel" from now on, and a cancel that came first stops the run
            // before its first stage (the flag is set before the id is looked up).
            P::Started { .. } => {
                self.watch.started_run(self.position, event.run.id);
                if self.watch.is_cancelled() {
                    self.executor.cancel_run(event.run.id);
                }
            }
            // The rollback's own stages keep the failed stage's output.
            P::StageStarted(at) if at.phase == Phase::Main => {
                self.watch.lock().failure_tail.clear();
                self.watch.activity(Some(at.name.clone()));
            }
            P::StageOutput { line, stage } if stage.phase == Phase::Main => {
                let mut p = self.watch.lock();
                let mut tail: VecDeque<String> = std::mem::take(&mut p.failure_tail).into();
                if tail.len() == TAIL {
                    tail.pop_front();
                }
                tail.push_back(line.clone());
                p.failure_tail = tail.into();
            }
            P::RollbackStarted { .. } => self.watch.activity(Some("rolling back".into())),
            P::Finished(outcome) if outcome.status == RunStatus::Succeeded => {
                self.watch.lock().failure_tail.clear();
            }
            P::Finished(outcome) => {
                self.watch.lock().failed_run = Some((event.run.clone(), (**outcome).clone()));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Audit;
    use crate::config::{Config, Strategy};
    use crate::origin::ThreadKey;
    use crate::pipeline::Executor;
    use crate::store::{testing, Action, NewRun, NewStep};
    use std::path::Path;

    struct Quiet;
    impl ProgressSink for Quiet {
        fn report(&self, _: &RunEvent) {}
    }

    /// The window between a plan's last look at its cancel flag and its run's registration:
    /// a run started after the plan was stopped is cancelled when it is registered, before
    /// its job exists, so its first stage never runs.
    #[tokio::test]
    async fn a_run_started_after_the_plan_was_stopped_runs_no_stage() {
        let t = testing::sqlite().await.unwrap();
        let dir = std::env::temp_dir().join(format!("deckhand-plan-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("stage-ran");
        let _ = std::fs::remove_file(&marker);
        let yaml = format!(
            "services:\n  - name: web\n    pipeline: p\nenvironments:\n  - name: dev\n    order: 1\npipelines:\n  p:\n    stages:\n      - name: build\n        command: \"touch {}\"\n",
            marker.display()
        );
        let config = Config::from_yaml(&yaml, Path::new("test.yaml"), &dir).unwrap();
        let store = t.store.clone();
        let executor = Executor::new(Arc::new(config), store.clone(), Audit::new(store.clone()));
        let origin: Origin = ThreadKey::new("console", "console", "t1").into();
        let step = NewStep {
            command: "{}".into(),
            service: "web".into(),
            environment: "dev".into(),
        };
        let id = store
            .create_plan("alice", &origin, &[step], 1)
            .await
            .unwrap();
        let watch = PlanWatch::new(store.plan(id).await.unwrap().unwrap(), Arc::new(Quiet));
        watch.cancel();
        let sink = Arc::new(StepSink::new(watch.clone(), 1, executor.clone()));
        let run = NewRun {
            action: Action::Deploy,
            service: "web".into(),
            environment: "dev".into(),
            version: Some("1.0".into()),
            strategy: Strategy::Direct,
            percent: None,
            requested_by: "alice".into(),
            origin,
        };
        let handle = executor.start(run, sink).await.unwrap();
        let end = handle.finished().await;
        assert_eq!(end.status, RunStatus::Cancelled);
        // The stop knows the run from its start: a "cancel" now finds it.
        assert_eq!(watch.running_run(), Some(handle.facts().id));
        assert!(!marker.exists(), "the first stage ran");
        executor.wait_idle().await;
        t.cleanup().await;
    }
}
