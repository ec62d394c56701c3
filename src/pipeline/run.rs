//! One background run: executes the stages of a phase, records results, reports progress,
//! and runs the automatic rollback when a deploy fails.

use super::{run_stage, Phase, StageCommand, StageEnd, StageLine};
use crate::audit::Audit;
use crate::chat::{BotEvent, EventSink, RunStatus, StageState};
use crate::config::{Config, Stage};
use crate::store::{Action, RunRecord, StageRecord, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A version reported by a stage must be as safe as one typed in chat.
pub(super) fn safe_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 100
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// Everything one background run needs.
pub(super) struct RunJob {
    pub(super) config: Arc<Config>,
    pub(super) store: Store,
    pub(super) audit: Audit,
    pub(super) sink: Arc<dyn EventSink>,
    pub(super) record: RunRecord,
    pub(super) stages: Vec<Stage>,
    pub(super) rollback_stages: Option<(Vec<Stage>, BTreeMap<String, String>)>,
    pub(super) pipeline_env: BTreeMap<String, String>,
    pub(super) auto_rollback: bool,
    /// The first stage that changes the target; failures before it need no rollback.
    pub(super) rollback_from: Option<String>,
    /// The stage whose success counts as the switch in the main phase (`rollback_from` of
    /// the pipeline the main phase runs).
    pub(super) switch_stage: Option<String>,
    /// The same for the automatic rollback's pipeline.
    pub(super) rollback_switch_stage: Option<String>,
    pub(super) stage_names: Vec<String>,
    /// What an automatic rollback restores: the newest release that passed its checks.
    pub(super) previous: Option<String>,
    pub(super) cancel: watch::Receiver<bool>,
}

/// How the stages of one phase went.
pub(super) enum PhaseEnd {
    Completed,
    Stopped { stage: String, end: StageEnd },
}

impl PhaseEnd {
    /// How the switches of the phase are settled: the outcome and the stage that did not
    /// succeed.
    pub(super) fn settlement(&self) -> (RunStatus, Option<&str>) {
        match self {
            PhaseEnd::Completed => (RunStatus::Succeeded, None),
            PhaseEnd::Stopped {
                stage,
                end: StageEnd::Cancelled,
            } => (RunStatus::Cancelled, Some(stage)),
            PhaseEnd::Stopped { stage, .. } => (RunStatus::Failed, Some(stage)),
        }
    }
}

/// One phase to run: its stages, their extra environment, and the stage that switches.
struct PhaseSpec<'a> {
    phase: Phase,
    action: Action,
    stages: &'a [Stage],
    env: &'a BTreeMap<String, String>,
    switch_stage: Option<&'a str>,
}

/// How the automatic rollback went, for the run's final sentence.
struct RollbackEnd {
    /// It restored the previous release and its checks passed.
    restored: bool,
    /// It ran and did not succeed.
    failed: bool,
    /// The sentence tail (starts with "." or ";").
    tail: String,
}

impl RunJob {
    fn base_env(
        &self,
        action: Action,
        version: Option<&str>,
        extra: &BTreeMap<String, String>,
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
    /// Returns how it ended and whether the target was switched during it.
    async fn run_phase(
        &mut self,
        spec: &PhaseSpec<'_>,
        version: &mut Option<String>,
        line: &mut StageLine,
    ) -> (PhaseEnd, bool) {
        let (phase, action, extra_env) = (spec.phase, spec.action, spec.env);
        let mut switched = false;
        for (i, stage) in spec.stages.iter().enumerate() {
            if *self.cancel.borrow() {
                // Cancelled between stages: the next one never starts.
                line.set(phase, i, StageState::Cancelled, Some(Duration::ZERO));
                let end = PhaseEnd::Stopped {
                    stage: stage.name.clone(),
                    end: StageEnd::Cancelled,
                };
                return (end, switched);
            }
            // How far the run got survives a crash of this process (see bot::recovery).
            if let Err(e) = self
                .store
                .set_run_stage(self.record.id, phase.as_str(), &stage.name)
                .await
            {
                tracing::warn!(error = %e, "could not record the stage being run");
            }
            line.set(phase, i, StageState::Running, None);
            self.emit_progress(&stage.name, phase, StageState::Running, None, line.render());
            let mut env = self.base_env(action, version.as_deref(), extra_env);
            env.push(("DECKHAND_STAGE".into(), stage.name.clone()));
            let mut cancel = self.cancel.clone();
            let (fact_tx, fact_rx) = mpsc::unbounded_channel();
            let (outcome, live_reported) = {
                let sink = self.sink.clone();
                let thread = self.record.thread.clone();
                let run_id = self.record.id;
                let summary = line.render();
                let stage_run = run_stage(
                    StageCommand {
                        command: &stage.command,
                        cwd: &self.config.base_dir,
                        env: &env,
                        timeout: Duration::from_secs(stage.timeout_secs),
                        on_spawn: Some(Box::new({
                            let store = self.store.clone();
                            move |pgid| {
                                tokio::spawn(async move {
                                    if let Err(e) =
                                        store.set_run_pgid(run_id, Some(i64::from(pgid))).await
                                    {
                                        tracing::warn!(error = %e, "could not record the stage's process group");
                                    }
                                });
                            }
                        })),
                        fact_tx: Some(fact_tx),
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
                );
                // The fact channel closes when the stage ends, so both finish together.
                tokio::join!(
                    stage_run,
                    self.record_live_facts(phase, action, version.clone(), fact_rx)
                )
            };
            switched |= live_reported;
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
                let end = PhaseEnd::Stopped {
                    stage: stage.name.clone(),
                    end: outcome.end,
                };
                return (end, switched);
            }
            // The pipeline's switching stage succeeding is the switch, unless it said so.
            if !switched && spec.switch_stage == Some(stage.name.as_str()) {
                switched = self.switch(phase, action, version.as_deref()).await;
            }
        }
        (PhaseEnd::Completed, switched)
    }

    pub(super) async fn execute(mut self) {
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
        // Awaited so no heartbeat query is still in flight when shutdown closes the store.
        let _ = heartbeat.await;
    }

    async fn execute_stages(&mut self) {
        let r = self.record.clone();
        let labels: Vec<String> = self.stages.iter().map(|s| self.label(s)).collect();
        let mut line = StageLine::new(&labels);
        let mut version = r.version.clone();
        let stages = std::mem::take(&mut self.stages);
        let env = self.pipeline_env.clone();
        let switch_stage = self.switch_stage.clone();
        let spec = PhaseSpec {
            phase: Phase::Main,
            action: r.action,
            stages: &stages,
            env: &env,
            switch_stage: switch_stage.as_deref(),
        };
        let (end, switched) = self.run_phase(&spec, &mut version, &mut line).await;
        self.settle(Phase::Main, &end).await;
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
        // After a failure, say what the target runs when this run may have changed it.
        let tell_live = switched || r.action == Action::Rollback;
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
            } => {
                let live = match tell_live {
                    true => self.live_sentence().await.unwrap_or_default(),
                    false => String::new(),
                };
                (
                    RunStatus::Cancelled,
                    false,
                    Some(format!("cancelled during {stage}")),
                    format!("{what} was cancelled during {stage}.{live}"),
                )
            }
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
                let rb = self.auto_rollback(&r, &stage, switched, &mut line).await;
                let live = match (tell_live || rb.failed) && !rb.restored {
                    true => self.live_sentence().await.unwrap_or_default(),
                    false => String::new(),
                };
                let hint = self.next_step_hint(&r, switched && !rb.restored).await;
                let text = format!("{what} failed: {why}{}{live} {hint}", rb.tail);
                (RunStatus::Failed, rb.restored, Some(why), text)
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
        let live = self
            .store
            .live_versions(Some(&r.service), Some(&r.environment))
            .await
            .ok()
            .and_then(|l| l.into_iter().next())
            .and_then(|d| d.version);
        self.audit
            .note(
                "deckhand",
                "run.finished",
                &format!("run {}", r.id),
                serde_json::json!({"status": status.as_str(), "version": version, "rolled_back": rolled_back, "error": error, "live": live}),
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
    async fn auto_rollback(
        &mut self,
        r: &RunRecord,
        failed_stage: &str,
        switched: bool,
        line: &mut StageLine,
    ) -> RollbackEnd {
        let not_run = |tail: String| RollbackEnd {
            restored: false,
            failed: false,
            tail,
        };
        if r.action != Action::Deploy || !self.auto_rollback {
            return not_run(".".into());
        }
        if let Some(first_change) = &self.rollback_from {
            let pos = |name: &str| self.stage_names.iter().position(|s| s == name);
            // A stage that reported `::live` changed the target, wherever it is.
            if !switched && pos(failed_stage) < pos(first_change) {
                return not_run(format!("; {} had not changed yet (the failure came before {first_change}), so no rollback was needed.", r.environment));
            }
        }
        let Some((stages, env)) = self.rollback_stages.take() else {
            return not_run("; no rollback pipeline is configured.".into());
        };
        let Some(target) = self.previous.clone() else {
            return not_run(format!(
                "; there is no earlier successful deploy of {} in {} to roll back to.",
                r.service, r.environment
            ));
        };
        line.begin_rollback(&stages.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
        let mut version = Some(target.clone());
        // Once started, the rollback runs to the end: stopping it half-way would leave the
        // environment worse off than either version. A "cancel" now only affects the deploy.
        let (_never, uncancellable) = watch::channel(false);
        let cancel = std::mem::replace(&mut self.cancel, uncancellable);
        let switch_stage = self.rollback_switch_stage.clone();
        let spec = PhaseSpec {
            phase: Phase::Rollback,
            action: Action::Rollback,
            stages: &stages,
            env: &env,
            switch_stage: switch_stage.as_deref(),
        };
        let (end, _) = self.run_phase(&spec, &mut version, line).await;
        self.settle(Phase::Rollback, &end).await;
        self.cancel = cancel;
        let restored = version.unwrap_or(target);
        let status = match end {
            PhaseEnd::Completed => RunStatus::Succeeded,
            PhaseEnd::Stopped { .. } => RunStatus::Failed,
        };
        if let Err(e) = self
            .store
            .record_auto_rollback(r, Some(&restored), status)
            .await
        {
            tracing::error!(error = %e, "could not store the automatic rollback");
        }
        match end {
            PhaseEnd::Completed => RollbackEnd {
                restored: true,
                failed: false,
                tail: format!("; rolled back to {restored}."),
            },
            PhaseEnd::Stopped { stage, .. } => RollbackEnd {
                restored: false,
                failed: true,
                tail: format!("; the automatic rollback to {restored} also failed at {stage}, so check {} by hand.", r.environment),
            },
        }
    }
}
