//! Pipeline executor: turns a confirmed deploy or rollback into a run whose stages execute in
//! order (each through its kind's [`stage::StageRunner`]), reporting typed progress into a
//! [`ProgressSink`] and results into the store. It knows nothing of chat: surfaces render the
//! events. Chat text never reaches a command line: stages get validated values as
//! `DECKHAND_*` variables.

mod events;
mod handle;
mod run;
pub mod stage;
mod status;
mod switch;
#[cfg(test)]
mod tests;

pub use events::{
    PlanProgress, Progress, ProgressSink, RollbackOutcome, RunEvent, RunFacts, RunOutcome,
    StageFailure, StageRef,
};
pub use handle::{Follow, RunHandle};
pub use stage::{run_stage, StageCommand, StageEnd, StageOutcome, LOG_TAIL_LINES};
pub use status::{Phase, RunStatus, StageState};

use crate::audit::{Audit, AuditEvent};
use crate::config::{Config, Environment, Pipeline, Stage};
use crate::metrics::Metrics;
use crate::origin::Origin;
use crate::store::{Action, NewRun, RunRecord, Store, StoreError};
use handle::Reporter;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tracing::Instrument;

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another run holds the target.
    #[error("run {} ({} by {}) is already in progress for {} in {}", .0.id, .0.action.as_str(), .0.requested_by, .0.service, .0.environment)]
    Busy(Box<RunRecord>),
    /// The service or environment is not in the config (resolution should have caught it).
    #[error("`{0}` is not configured")]
    Unknown(String),
    /// The service's pipeline has no rollback pipeline.
    #[error("{0} has no rollback pipeline configured; add `rollback:` to its pipeline")]
    NoRollback(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// How many runs' handles (with their event journals) the executor keeps after they end.
pub const RECENT_RUNS: usize = 32;

struct ActiveRun {
    origin: Origin,
    cancel: watch::Sender<bool>,
}

/// Starts runs and keeps track of the ones in progress.
#[derive(Clone)]
pub struct Executor {
    config: Arc<Config>,
    store: Store,
    audit: Audit,
    active: Arc<Mutex<HashMap<i64, ActiveRun>>>,
    /// Handles of the runs in progress and of the latest finished ones, for followers that
    /// come later (the API's event stream).
    recent: Arc<Mutex<BTreeMap<i64, RunHandle>>>,
    /// How many run tasks have not ended yet. A count (not a list of handles) so that
    /// [`Executor::wait_idle`] can be abandoned in a `select!` and called again without
    /// forgetting a run (that once let shutdown close the store under a running run).
    tasks: Arc<watch::Sender<usize>>,
    /// Set by [`Executor::cancel_all`] (shutdown): a run that still starts afterwards (a
    /// request already being handled) is cancelled before its first stage.
    closing: Arc<std::sync::atomic::AtomicBool>,
    /// Counts finished runs and stages.
    metrics: Metrics,
}

/// Held by a run's task: counts it as unfinished and forgets it as active when it ends,
/// however it ends (also on a panic).
struct RunTaskGuard {
    run_id: i64,
    active: Arc<Mutex<HashMap<i64, ActiveRun>>>,
    tasks: Arc<watch::Sender<usize>>,
}

impl Drop for RunTaskGuard {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.run_id);
        self.tasks.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Held by work that starts runs over time (a plan): while it is held, waiting for the
/// executor to be idle (shutdown) waits for that work too.
pub struct WorkGuard {
    tasks: Arc<watch::Sender<usize>>,
}

impl Drop for WorkGuard {
    fn drop(&mut self) {
        self.tasks.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Executor {
    /// Counts `work` as unfinished until the guard is dropped (see [`Executor::wait_idle`]).
    pub fn hold(&self) -> WorkGuard {
        self.tasks.send_modify(|n| *n += 1);
        WorkGuard {
            tasks: self.tasks.clone(),
        }
    }

    /// Whether every run is being cancelled (the second signal of a shutdown): nothing new
    /// should start.
    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// An executor for this config and store.
    pub fn new(config: Arc<Config>, store: Store, audit: Audit) -> Executor {
        Executor {
            config,
            store,
            audit,
            active: Arc::default(),
            recent: Arc::default(),
            tasks: Arc::new(watch::channel(0).0),
            closing: Arc::default(),
            metrics: Metrics::new(),
        }
    }

    /// The same executor counting into `metrics` (the process's, shared with the command
    /// layer and the `/metrics` endpoint).
    pub fn with_metrics(mut self, metrics: Metrics) -> Executor {
        self.metrics = metrics;
        self
    }

    /// The metrics runs are counted into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Records the run and starts it in the background, reporting its progress into `sink`;
    /// the handle awaits or follows it.
    pub async fn start(
        &self,
        req: NewRun,
        sink: Arc<dyn ProgressSink>,
    ) -> Result<RunHandle, StartError> {
        let plan = self.plan(&req)?;
        let previous = self
            .store
            .restore_point(&req.service, &req.environment)
            .await
            .map_err(StartError::Store)?;
        let run_id = match self.store.start_run(&req).await {
            Ok(id) => id,
            Err(StoreError::Busy(run)) => return Err(StartError::Busy(run)),
            Err(e) => return Err(StartError::Store(e)),
        };
        // Counted from the moment the run exists, so a shutdown that starts now waits for it;
        // an early return below drops the guard and uncounts it.
        self.tasks.send_modify(|n| *n += 1);
        let guard = RunTaskGuard {
            run_id,
            active: self.active.clone(),
            tasks: self.tasks.clone(),
        };
        let record = self
            .store
            .run(run_id)
            .await
            .map_err(StartError::Store)?
            .ok_or(StartError::Unknown(format!("run {run_id}")))?;
        let cancel = self.register(run_id, &req.origin);
        self.audit_start(run_id, &req).await;
        let (report, handle) = Reporter::new(facts(run_id, &req), sink);
        report.report(Progress::Started {
            stages: plan.main.stages.iter().map(|s| s.name.clone()).collect(),
        });
        self.remember(&handle);
        let job = plan.into_job(self, report, record, previous, cancel);
        let span = tracing::info_span!("run", run_id, platform = %req.origin.platform(), session = %req.origin);
        tokio::spawn(
            async move {
                let _guard = guard;
                job.execute().await;
            }
            .instrument(span),
        );
        Ok(handle)
    }

    /// The pipelines a request runs, from the config.
    fn plan(&self, req: &NewRun) -> Result<RunPlan<'_>, StartError> {
        let config = &self.config;
        let service = config
            .service(&req.service)
            .ok_or_else(|| StartError::Unknown(req.service.clone()))?;
        let env = config
            .environment(&req.environment)
            .ok_or_else(|| StartError::Unknown(req.environment.clone()))?;
        let pipeline = config
            .pipelines
            .get(&service.pipeline)
            .ok_or_else(|| StartError::Unknown(service.pipeline.clone()))?;
        let rollback = pipeline
            .rollback
            .as_ref()
            .and_then(|r| config.pipelines.get(r));
        let main = match req.action {
            Action::Deploy => pipeline,
            Action::Rollback => {
                rollback.ok_or_else(|| StartError::NoRollback(req.service.clone()))?
            }
        };
        Ok(RunPlan {
            env,
            pipeline,
            main,
            // A rollback has no automatic rollback of its own.
            auto: rollback.filter(|_| req.action == Action::Deploy),
        })
    }

    /// Marks the run active (cancellable); returns its cancel signal.
    fn register(&self, run_id: i64, origin: &Origin) -> watch::Receiver<bool> {
        // Under the lock cancel_all takes: a run is either seen by it or starts cancelled.
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let closing = self.closing.load(std::sync::atomic::Ordering::SeqCst);
        let (cancel_tx, cancel_rx) = watch::channel(closing);
        active.insert(
            run_id,
            ActiveRun {
                origin: origin.clone(),
                cancel: cancel_tx,
            },
        );
        cancel_rx
    }

    async fn audit_start(&self, run_id: i64, req: &NewRun) {
        let event = AuditEvent::RunStarted {
            run: run_id,
            action: req.action,
            service: req.service.clone(),
            environment: req.environment.clone(),
            version: req.version.clone(),
            strategy: req.strategy,
            percent: req.percent,
            thread: req.origin.to_string(),
        };
        self.audit.log(&req.requested_by, event).await;
    }

    /// Ids of the runs started from this origin (a chat thread, an API client) that are
    /// still in progress.
    pub fn runs_from(&self, origin: &Origin) -> Vec<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<i64> = active
            .iter()
            .filter(|(_, r)| &r.origin == origin)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Cancels one run; false when it is no longer in progress here.
    pub fn cancel_run(&self, id: i64) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active
            .get(&id)
            .map(|r| r.cancel.send(true).is_ok())
            .unwrap_or(false)
    }

    /// Cancels every run in progress in this process, and any that starts from now on
    /// (shutdown); returns the ids of those in progress.
    pub fn cancel_all(&self) -> Vec<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        self.closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for run in active.values() {
            let _ = run.cancel.send(true);
        }
        let mut ids: Vec<i64> = active.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Keeps the handle for followers; forgets the oldest finished runs beyond
    /// [`RECENT_RUNS`].
    fn remember(&self, handle: &RunHandle) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.insert(handle.id, handle.clone());
        while recent.len() > RECENT_RUNS {
            let Some(oldest) = recent
                .iter()
                .find(|(_, h)| h.outcome().is_some())
                .map(|(id, _)| *id)
            else {
                break;
            };
            recent.remove(&oldest);
        }
    }

    /// The handle of a run started by this process, while it runs and for a while after
    /// (the latest [`RECENT_RUNS`] runs); None for older runs and other processes' runs,
    /// whose record is in the store.
    pub fn handle(&self, id: i64) -> Option<RunHandle> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Ids of runs in progress in this process.
    pub fn active_runs(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Waits until every started run has finished (its result and audit entries written).
    /// Cancellation-safe: dropping the future loses nothing, calling it again waits again.
    pub async fn wait_idle(&self) {
        let mut count = self.tasks.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

/// The facts every event of the run carries.
fn facts(run_id: i64, req: &NewRun) -> RunFacts {
    RunFacts {
        id: run_id,
        action: req.action,
        service: req.service.clone(),
        environment: req.environment.clone(),
        version: req.version.clone(),
        strategy: req.strategy,
        percent: req.percent,
        requested_by: req.requested_by.clone(),
        origin: req.origin.clone(),
    }
}

/// The config a run executes: the environment, the service's pipeline, the pipeline the main
/// phase runs (the service's, or its rollback pipeline for a rollback), and the automatic
/// rollback's pipeline for a deploy.
struct RunPlan<'c> {
    env: &'c Environment,
    pipeline: &'c Pipeline,
    main: &'c Pipeline,
    auto: Option<&'c Pipeline>,
}

impl RunPlan<'_> {
    fn into_job(
        self,
        executor: &Executor,
        report: Reporter,
        record: RunRecord,
        previous: Option<String>,
        cancel: watch::Receiver<bool>,
    ) -> run::RunJob {
        let stages_of = |p: &Pipeline| -> (Vec<Stage>, BTreeMap<String, String>) {
            (p.stages.clone(), p.env.clone())
        };
        run::RunJob {
            config: executor.config.clone(),
            store: executor.store.clone(),
            audit: executor.audit.clone(),
            metrics: executor.metrics.clone(),
            report,
            record,
            stages: self.main.stages.clone(),
            rollback_stages: self.auto.map(stages_of),
            pipeline_env: self.main.env.clone(),
            auto_rollback: self.env.auto_rollback,
            rollback_from: self.pipeline.rollback_from.clone(),
            switch_stage: self.main.rollback_from.clone(),
            rollback_switch_stage: self.auto.and_then(|p| p.rollback_from.clone()),
            stage_names: self
                .pipeline
                .stages
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            previous,
            cancel,
        }
    }
}

/// Kills the stage processes an interrupted run left behind, when they ran on this host: they
/// would otherwise keep deploying while a new run takes over the target.
pub fn stop_orphaned_stage(run: &RunRecord) {
    let host = crate::store::instance_id();
    let same_host = match (
        run.owner.as_deref().and_then(|o| o.rsplit_once(':')),
        host.rsplit_once(':'),
    ) {
        (Some((h, _)), Some((mine, _))) => h == mine,
        _ => false,
    };
    if let (true, Some(pgid)) = (
        same_host,
        run.pgid
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0),
    ) {
        // SAFETY: kill(2) on a process group id we recorded for this run's stage.
        let killed = unsafe { libc::kill(-pgid, libc::SIGKILL) } == 0;
        if killed {
            tracing::warn!(
                run_id = run.id,
                pgid,
                "stopped the stage processes left by the interrupted run"
            );
        }
    }
}
