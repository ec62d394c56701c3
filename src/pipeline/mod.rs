//! Pipeline executor: turns a confirmed deploy or rollback into a run whose stages execute in
//! order as child processes, reporting progress into an [`EventSink`] and results into the store.
//! Chat text never reaches a command line: stages get validated values as `DECKHAND_*` variables.

mod progress;
mod stage;

pub use progress::{format_duration, Phase, StageLine};
pub use stage::{run_stage, StageCommand, StageEnd, StageOutcome, LOG_TAIL_LINES};

use crate::audit::Audit;
use crate::chat::{BotEvent, EventSink, RunStatus, StageState, ThreadKey};
use crate::config::{Config, Stage, Strategy};
use crate::store::{Action, NewRun, RunRecord, StageRecord, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// A confirmed, fully resolved request to run a pipeline.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Deploy or rollback.
    pub action: Action,
    /// Configured service name.
    pub service: String,
    /// Configured environment name.
    pub environment: String,
    /// Validated version, or None for "latest build" / "previous release".
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<u8>,
    /// Who asked.
    pub requested_by: String,
    /// Where progress goes.
    pub thread: ThreadKey,
}

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

struct ActiveRun {
    thread: ThreadKey,
    cancel: watch::Sender<bool>,
}

/// Starts runs and keeps track of the ones in progress.
#[derive(Clone)]
pub struct Executor {
    config: Arc<Config>,
    store: Store,
    audit: Audit,
    active: Arc<Mutex<HashMap<i64, ActiveRun>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// A version reported by a stage must be as safe as one typed in chat.
fn safe_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 100
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

impl Executor {
    /// An executor for this config and store.
    pub fn new(config: Arc<Config>, store: Store, audit: Audit) -> Executor {
        Executor {
            config,
            store,
            audit,
            active: Arc::default(),
            tasks: Arc::default(),
        }
    }

    /// Records the run and starts it in the background; returns its id.
    pub async fn start(
        &self,
        req: RunRequest,
        sink: Arc<dyn EventSink>,
    ) -> Result<i64, StartError> {
        let service = self
            .config
            .service(&req.service)
            .ok_or_else(|| StartError::Unknown(req.service.clone()))?;
        let env = self
            .config
            .environment(&req.environment)
            .ok_or_else(|| StartError::Unknown(req.environment.clone()))?;
        let pipeline = self
            .config
            .pipelines
            .get(&service.pipeline)
            .ok_or_else(|| StartError::Unknown(service.pipeline.clone()))?;
        let rollback = pipeline
            .rollback
            .as_ref()
            .and_then(|r| self.config.pipelines.get(r));
        let (stages, rollback_stages, pipeline_env) = match req.action {
            Action::Deploy => (
                pipeline.stages.clone(),
                rollback.map(|p| (p.stages.clone(), p.env.clone())),
                pipeline.env.clone(),
            ),
            Action::Rollback => {
                let rb = rollback.ok_or_else(|| StartError::NoRollback(req.service.clone()))?;
                (rb.stages.clone(), None, rb.env.clone())
            }
        };
        let previous = self
            .store
            .live_versions(Some(&req.service), Some(&req.environment))
            .await
            .map_err(StartError::Store)?
            .into_iter()
            .next()
            .and_then(|d| d.version);
        let new = NewRun {
            action: req.action,
            service: req.service.clone(),
            environment: req.environment.clone(),
            version: req.version.clone(),
            strategy: req.strategy,
            percent: req.percent,
            requested_by: req.requested_by.clone(),
            thread: req.thread.clone(),
        };
        let run_id = match self.store.start_run(&new).await {
            Ok(id) => id,
            Err(StoreError::Busy(run)) => return Err(StartError::Busy(run)),
            Err(e) => return Err(StartError::Store(e)),
        };
        let record = self
            .store
            .run(run_id)
            .await
            .map_err(StartError::Store)?
            .ok_or(StartError::Unknown(format!("run {run_id}")))?;
        let (cancel_tx, cancel_rx) = watch::channel(false);
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                run_id,
                ActiveRun {
                    thread: req.thread.clone(),
                    cancel: cancel_tx,
                },
            );
        self.audit
            .note(
                &req.requested_by,
                "run.started",
                &format!("run {run_id}"),
                serde_json::json!({
                    "action": req.action.as_str(), "service": req.service, "environment": req.environment,
                    "version": req.version, "strategy": req.strategy.as_str(), "percent": req.percent,
                    "thread": req.thread.to_string(),
                }),
            )
            .await;
        sink.emit(BotEvent::RunStarted {
            thread: req.thread.clone(),
            run_id,
            action: req.action.as_str().into(),
            service: req.service.clone(),
            environment: req.environment.clone(),
            version: req.version.clone(),
            strategy: req.strategy.as_str().into(),
        });
        let job = RunJob {
            config: self.config.clone(),
            store: self.store.clone(),
            audit: self.audit.clone(),
            sink,
            record,
            stages,
            rollback_stages,
            pipeline_env,
            auto_rollback: env.auto_rollback,
            rollback_from: pipeline.rollback_from.clone(),
            stage_names: pipeline.stages.iter().map(|s| s.name.clone()).collect(),
            previous,
            cancel: cancel_rx,
        };
        let active = self.active.clone();
        let span = tracing::info_span!("run", run_id, platform = %req.thread.platform, session = %req.thread);
        let handle = tokio::spawn(
            async move {
                job.execute().await;
                active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&run_id);
            }
            .instrument(span),
        );
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
        Ok(run_id)
    }

    /// Cancels the runs started from this thread; returns their ids.
    pub fn cancel_in_thread(&self, thread: &ThreadKey) -> Vec<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids = Vec::new();
        for (id, run) in active.iter() {
            if &run.thread == thread {
                let _ = run.cancel.send(true);
                ids.push(*id);
            }
        }
        ids.sort_unstable();
        ids
    }

    /// Ids of the runs started from this thread that are still in progress.
    pub fn runs_in_thread(&self, thread: &ThreadKey) -> Vec<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<i64> = active
            .iter()
            .filter(|(_, r)| &r.thread == thread)
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

    /// Cancels every run in progress in this process; returns their ids.
    pub fn cancel_all(&self) -> Vec<i64> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        for run in active.values() {
            let _ = run.cancel.send(true);
        }
        let mut ids: Vec<i64> = active.keys().copied().collect();
        ids.sort_unstable();
        ids
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

    /// Waits until every started run has finished.
    pub async fn wait_idle(&self) {
        loop {
            let pending: Vec<JoinHandle<()>> =
                std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
            if pending.is_empty() {
                return;
            }
            for t in pending {
                let _ = t.await;
            }
        }
    }
}

/// Everything one background run needs.
struct RunJob {
    config: Arc<Config>,
    store: Store,
    audit: Audit,
    sink: Arc<dyn EventSink>,
    record: RunRecord,
    stages: Vec<Stage>,
    rollback_stages: Option<(Vec<Stage>, std::collections::BTreeMap<String, String>)>,
    pipeline_env: std::collections::BTreeMap<String, String>,
    auto_rollback: bool,
    /// The first stage that changes the target; failures before it need no rollback.
    rollback_from: Option<String>,
    stage_names: Vec<String>,
    previous: Option<String>,
    cancel: watch::Receiver<bool>,
}

/// How the stages of one phase went.
enum PhaseEnd {
    Completed,
    Stopped { stage: String, end: StageEnd },
}

impl RunJob {
    fn base_env(
        &self,
        action: Action,
        version: Option<&str>,
        extra: &std::collections::BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        let r = &self.record;
        let mut env: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.clone(), self.config.resolve_env_value(v)))
            .collect();
        env.push(("DECKHAND_SERVICE".into(), r.service.clone()));
        env.push(("DECKHAND_ENVIRONMENT".into(), r.environment.clone()));
        env.push((
            "DECKHAND_VERSION".into(),
            version.unwrap_or_default().to_string(),
        ));
        env.push(("DECKHAND_STRATEGY".into(), r.strategy.clone()));
        env.push((
            "DECKHAND_CANARY_PERCENT".into(),
            r.percent.map(|p| p.to_string()).unwrap_or_default(),
        ));
        env.push(("DECKHAND_RUN_ID".into(), r.id.to_string()));
        env.push(("DECKHAND_ACTION".into(), action.as_str().into()));
        env
    }

    fn label(&self, stage: &Stage) -> String {
        let r = &self.record;
        match (stage.name.as_str(), r.strategy.as_str()) {
            ("deploy", "canary") => match r.percent {
                Some(p) => format!("deploy[canary {p}%]"),
                None => "deploy[canary]".into(),
            },
            ("deploy", "blue-green") => "deploy[blue-green]".into(),
            _ => stage.name.clone(),
        }
    }

    fn emit_progress(
        &self,
        stage: &str,
        phase: Phase,
        state: StageState,
        line: Option<String>,
        summary: String,
    ) {
        self.sink.emit(BotEvent::Progress {
            thread: self.record.thread.clone(),
            run_id: self.record.id,
            stage: stage.to_string(),
            phase: phase.as_str().into(),
            state,
            line,
            summary,
        });
    }

    /// Runs one phase's stages in order; `version` is updated from `::version` facts.
    async fn run_phase(
        &mut self,
        phase: Phase,
        action: Action,
        stages: &[Stage],
        extra_env: &std::collections::BTreeMap<String, String>,
        version: &mut Option<String>,
        line: &mut StageLine,
    ) -> PhaseEnd {
        for (i, stage) in stages.iter().enumerate() {
            if *self.cancel.borrow() {
                // Cancelled between stages: the next one never starts.
                line.set(phase, i, StageState::Cancelled, Some(Duration::ZERO));
                return PhaseEnd::Stopped {
                    stage: stage.name.clone(),
                    end: StageEnd::Cancelled,
                };
            }
            line.set(phase, i, StageState::Running, None);
            self.emit_progress(&stage.name, phase, StageState::Running, None, line.render());
            let mut env = self.base_env(action, version.as_deref(), extra_env);
            env.push(("DECKHAND_STAGE".into(), stage.name.clone()));
            let mut cancel = self.cancel.clone();
            let outcome = {
                let sink = self.sink.clone();
                let thread = self.record.thread.clone();
                let run_id = self.record.id;
                let summary = line.render();
                run_stage(
                    StageCommand {
                        command: &stage.command,
                        cwd: &self.config.base_dir,
                        env: &env,
                        timeout: Duration::from_secs(stage.timeout_secs),
                        on_spawn: Some(Box::new({
                            let store = self.store.clone();
                            move |pgid| {
                                tokio::spawn(async move {
                                    if let Err(e) = store.set_run_pgid(run_id, Some(i64::from(pgid))).await {
                                        tracing::warn!(error = %e, "could not record the stage's process group");
                                    }
                                });
                            }
                        })),
                    },
                    &mut cancel,
                    |l| {
                        sink.emit(BotEvent::Progress {
                            thread: thread.clone(),
                            run_id,
                            stage: stage.name.clone(),
                            phase: phase.as_str().into(),
                            state: StageState::Running,
                            line: Some(l.to_string()),
                            summary: summary.clone(),
                        });
                    },
                )
                .await
            };
            for (key, value) in &outcome.facts {
                if key == "version" {
                    if safe_version(value) {
                        *version = Some(value.clone());
                        if let Err(e) = self.store.set_run_version(self.record.id, value).await {
                            tracing::error!(error = %e, "could not store the reported version");
                        }
                    } else {
                        tracing::warn!(stage = %stage.name, value = %value, "ignored unsafe ::version fact");
                    }
                }
            }
            let state = match outcome.end {
                StageEnd::Succeeded => StageState::Succeeded,
                StageEnd::Failed(_) => StageState::Failed,
                StageEnd::TimedOut => StageState::TimedOut,
                StageEnd::Cancelled => StageState::Cancelled,
            };
            line.set(phase, i, state, Some(outcome.duration));
            self.emit_progress(&stage.name, phase, state, None, line.render());
            let record = StageRecord {
                run_id: self.record.id,
                phase: phase.as_str().into(),
                position: i as i64,
                name: stage.name.clone(),
                status: state.as_str().into(),
                exit_code: match outcome.end {
                    StageEnd::Succeeded => Some(0),
                    StageEnd::Failed(code) => code.map(i64::from),
                    _ => None,
                },
                duration_ms: outcome.duration.as_millis() as i64,
                log_tail: outcome.tail.join("\n"),
                finished_at: crate::store::now_ms(),
            };
            self.audit
                .note(
                    "deckhand",
                    "stage.finished",
                    &format!("run {}", self.record.id),
                    serde_json::json!({
                        "stage": record.name, "phase": record.phase, "status": record.status,
                        "exit_code": record.exit_code, "duration_ms": record.duration_ms,
                    }),
                )
                .await;
            if let Err(e) = self.store.record_stage(&record).await {
                tracing::error!(error = %e, stage = %stage.name, "could not store the stage result");
            }
            tracing::info!(stage = %stage.name, phase = phase.as_str(), state = state.as_str(), ms = record.duration_ms, "stage finished");
            if outcome.end != StageEnd::Succeeded {
                return PhaseEnd::Stopped {
                    stage: stage.name.clone(),
                    end: outcome.end,
                };
            }
        }
        PhaseEnd::Completed
    }

    async fn execute(mut self) {
        let r = self.record.clone();
        // Prove to other processes that this run's owner is alive (see Store::mark_interrupted).
        let heartbeat = tokio::spawn({
            let store = self.store.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_millis(
                    crate::store::RUN_LEASE_MS as u64 / 3,
                ));
                loop {
                    every.tick().await;
                    if let Err(e) = store.heartbeat(r.id).await {
                        tracing::warn!(error = %e, "heartbeat failed");
                    }
                }
            }
        });
        self.execute_stages().await;
        heartbeat.abort();
    }

    async fn execute_stages(&mut self) {
        let r = self.record.clone();
        let labels: Vec<String> = self.stages.iter().map(|s| self.label(s)).collect();
        let mut line = StageLine::new(&labels);
        let mut version = r.version.clone();
        let stages = std::mem::take(&mut self.stages);
        let env = self.pipeline_env.clone();
        let end = self
            .run_phase(
                Phase::Main,
                r.action,
                &stages,
                &env,
                &mut version,
                &mut line,
            )
            .await;
        let mut record = r.clone();
        record.version = version.clone();
        let what = match r.action {
            Action::Deploy => format!(
                "Deploy of {} {}to {}",
                r.service,
                version
                    .as_deref()
                    .map(|v| format!("{v} "))
                    .unwrap_or_default(),
                r.environment
            ),
            Action::Rollback => format!("Rollback of {} in {}", r.service, r.environment),
        };
        let (status, rolled_back, error, text) = match end {
            PhaseEnd::Completed => {
                let text = match r.action {
                    Action::Deploy => format!(
                        "{} {} is live on {}",
                        r.service,
                        version.as_deref().unwrap_or("(unknown version)"),
                        r.environment
                    ),
                    Action::Rollback => format!(
                        "{} is back on {} in {}",
                        r.service,
                        version.as_deref().unwrap_or("the previous release"),
                        r.environment
                    ),
                };
                (RunStatus::Succeeded, false, None, text)
            }
            PhaseEnd::Stopped {
                stage,
                end: StageEnd::Cancelled,
            } => (
                RunStatus::Cancelled,
                false,
                Some(format!("cancelled during {stage}")),
                format!("{what} was cancelled during {stage}."),
            ),
            PhaseEnd::Stopped { stage, end } => {
                let why = match end {
                    StageEnd::TimedOut => {
                        let secs = stages
                            .iter()
                            .find(|s| s.name == stage)
                            .map(|s| s.timeout_secs)
                            .unwrap_or(0);
                        format!("{stage} timed out after {secs}s")
                    }
                    StageEnd::Failed(Some(code)) => format!("{stage} failed (exit {code})"),
                    _ => format!("{stage} failed"),
                };
                let (rolled_back, after) = self.auto_rollback(&r, &stage, &mut line).await;
                let text = format!(
                    "{what} failed: {why}{after} Say \"explain {}\" for the log.",
                    r.service
                );
                (RunStatus::Failed, rolled_back, Some(why), text)
            }
        };
        if let Err(e) = self
            .store
            .finish_run(&record, status, rolled_back, error.as_deref())
            .await
        {
            tracing::error!(error = %e, "could not store the run result");
        }
        tracing::info!(status = status.as_str(), "run finished");
        self.audit
            .note(
                "deckhand",
                "run.finished",
                &format!("run {}", r.id),
                serde_json::json!({"status": status.as_str(), "version": version, "rolled_back": rolled_back, "error": error}),
            )
            .await;
        self.sink.emit(BotEvent::RunFinished {
            thread: r.thread.clone(),
            run_id: r.id,
            status,
            version: if status == RunStatus::Succeeded {
                version
            } else {
                None
            },
            summary: line.render(),
            text,
        });
    }

    /// Runs the rollback pipeline after a failed deploy when the environment asks for it.
    /// Returns whether it restored the previous version and a sentence tail for the user.
    async fn auto_rollback(
        &mut self,
        r: &RunRecord,
        failed_stage: &str,
        line: &mut StageLine,
    ) -> (bool, String) {
        if r.action != Action::Deploy || !self.auto_rollback {
            return (false, ".".into());
        }
        if let Some(first_change) = &self.rollback_from {
            let pos = |name: &str| self.stage_names.iter().position(|s| s == name);
            if pos(failed_stage) < pos(first_change) {
                return (false, format!("; {} had not changed yet (the failure came before {first_change}), so no rollback was needed.", r.environment));
            }
        }
        let Some((stages, env)) = self.rollback_stages.take() else {
            return (false, "; no rollback pipeline is configured.".into());
        };
        let Some(target) = self.previous.clone() else {
            return (
                false,
                format!(
                    "; there is no earlier successful deploy of {} in {} to roll back to.",
                    r.service, r.environment
                ),
            );
        };
        line.begin_rollback(&stages.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
        let mut version = Some(target.clone());
        // Once started, the rollback runs to the end: stopping it half-way would leave the
        // environment worse off than either version. A "cancel" now only affects the deploy.
        let (_never, uncancellable) = watch::channel(false);
        let cancel = std::mem::replace(&mut self.cancel, uncancellable);
        let end = self
            .run_phase(
                Phase::Rollback,
                Action::Rollback,
                &stages,
                &env,
                &mut version,
                line,
            )
            .await;
        self.cancel = cancel;
        match end {
            PhaseEnd::Completed => {
                let restored = version.unwrap_or(target);
                if let Err(e) = self.store.record_auto_rollback(r, Some(&restored)).await {
                    tracing::error!(error = %e, "could not store the automatic rollback");
                }
                (true, format!("; rolled back to {restored}."))
            }
            PhaseEnd::Stopped { stage, .. } => {
                (false, format!("; the automatic rollback to {target} also failed at {stage}, so check {} by hand.", r.environment))
            }
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
