//! One background run: executes the stages of a phase, records results, reports typed
//! progress, and runs the automatic rollback when a deploy fails. No sentence is composed
//! here: the outcome is facts (see [`super::events`]).

use super::events::{Progress, RollbackOutcome, RunOutcome, StageFailure, StageRef};
use super::handle::Reporter;
use super::stage::{self, StageEnd, StageJob, StageOutcome};
use super::status::{Phase, RunStatus, StageState};
use crate::audit::{Audit, AuditEvent};
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
    pub(super) metrics: crate::metrics::Metrics,
    pub(super) report: Reporter,
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

fn stage_state(end: StageEnd) -> StageState {
    match end {
        StageEnd::Succeeded => StageState::Succeeded,
        StageEnd::Failed(_) => StageState::Failed,
        StageEnd::TimedOut => StageState::TimedOut,
        StageEnd::Cancelled => StageState::Cancelled,
    }
}

/// The automatic rollback's stages with their environment, and the version it restores.
type RollbackPlan = ((Vec<Stage>, BTreeMap<String, String>), String);

impl RunJob {
    /// What the automatic rollback would run, or why it does not run.
    fn rollback_plan(
        &mut self,
        r: &RunRecord,
        failed_stage: &str,
        switched: bool,
    ) -> Result<RollbackPlan, RollbackOutcome> {
        if r.action != Action::Deploy || !self.auto_rollback {
            return Err(RollbackOutcome::NotRequested);
        }
        if let Some(first_change) = &self.rollback_from {
            let pos = |name: &str| self.stage_names.iter().position(|s| s == name);
            // A stage that reported `::live` changed the target, wherever it is.
            if !switched && pos(failed_stage) < pos(first_change) {
                return Err(RollbackOutcome::NotNeeded {
                    first_change: first_change.clone(),
                });
            }
        }
        let target = self.previous.clone();
        let stages = self
            .rollback_stages
            .take()
            .ok_or(RollbackOutcome::NoPipeline)?;
        Ok((stages, target.ok_or(RollbackOutcome::NoTarget)?))
    }

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
        env.push(("DECKHAND_STRATEGY".into(), r.strategy.as_str().into()));
        env.push((
            "DECKHAND_CANARY_PERCENT".into(),
            r.percent.map(|p| p.to_string()).unwrap_or_default(),
        ));
        env.push(("DECKHAND_RUN_ID".into(), r.id.to_string()));
        env.push(("DECKHAND_ACTION".into(), action.as_str().into()));
        env
    }

    /// Runs one phase's stages in order; `version` is updated from `::version` facts.
    /// Returns how it ended and whether the target was switched during it.
    async fn run_phase(
        &mut self,
        spec: &PhaseSpec<'_>,
        version: &mut Option<String>,
    ) -> (PhaseEnd, bool) {
        let mut switched = false;
        for (index, stage) in spec.stages.iter().enumerate() {
            let at = StageRef {
                phase: spec.phase,
                index,
                name: stage.name.clone(),
            };
            if *self.cancel.borrow() {
                // Cancelled between stages: the next one never starts.
                self.report.report(Progress::StageSkipped(at));
                let end = PhaseEnd::Stopped {
                    stage: stage.name.clone(),
                    end: StageEnd::Cancelled,
                };
                return (end, switched);
            }
            self.begin_stage(&at).await;
            let (outcome, live_reported) = self.run_stage(spec, &at, stage, version).await;
            switched |= live_reported;
            self.take_version(stage, &outcome, version).await;
            self.record_stage(&at, &outcome).await;
            if outcome.end != StageEnd::Succeeded {
                let end = PhaseEnd::Stopped {
                    stage: stage.name.clone(),
                    end: outcome.end,
                };
                return (end, switched);
            }
            // The pipeline's switching stage succeeding is the switch, unless it said so.
            if !switched && spec.switch_stage == Some(stage.name.as_str()) {
                switched = self
                    .switch(spec.phase, spec.action, version.as_deref())
                    .await;
            }
        }
        (PhaseEnd::Completed, switched)
    }

    /// Records how far the run got (it survives a crash of this process, see
    /// `bot::recovery`) and reports the stage as started.
    async fn begin_stage(&self, at: &StageRef) {
        if let Err(e) = self
            .store
            .set_run_stage(self.record.id, at.phase, &at.name)
            .await
        {
            tracing::warn!(error = %e, "could not record the stage being run");
        }
        self.report.report(Progress::StageStarted(at.clone()));
    }

    /// Runs one stage through its kind's runner, streaming its lines as progress and
    /// recording `::live` switches as they are reported; returns its outcome and whether it
    /// reported a switch.
    async fn run_stage(
        &self,
        spec: &PhaseSpec<'_>,
        at: &StageRef,
        stage: &Stage,
        version: &Option<String>,
    ) -> (StageOutcome, bool) {
        let mut env = self.base_env(spec.action, version.as_deref(), spec.env);
        env.push(("DECKHAND_STAGE".into(), stage.name.clone()));
        let mut cancel = self.cancel.clone();
        let (fact_tx, fact_rx) = mpsc::unbounded_channel();
        let run_id = self.record.id;
        let store = self.store.clone();
        let job = StageJob {
            cwd: &self.config.base_dir,
            env: &env,
            timeout: Duration::from_secs(stage.timeout_secs),
            on_spawn: Some(Box::new(move |pgid| {
                tokio::spawn(async move {
                    if let Err(e) = store.set_run_pgid(run_id, Some(i64::from(pgid))).await {
                        tracing::warn!(error = %e, "could not record the stage's process group");
                    }
                });
            })),
            fact_tx: Some(fact_tx),
        };
        let mut on_line = |line: &str| {
            self.report.report(Progress::StageOutput {
                stage: at.clone(),
                line: line.to_string(),
            });
        };
        let runner = stage::runner(&stage.kind);
        let stage_run = runner.run(job, &mut cancel, &mut on_line);
        // The fact channel closes when the stage ends, so both finish together.
        tokio::join!(
            stage_run,
            self.record_live_facts(spec.phase, spec.action, version.clone(), fact_rx)
        )
    }

    /// Takes the version a stage reported with `::version` (when it is safe).
    async fn take_version(
        &self,
        stage: &Stage,
        outcome: &StageOutcome,
        version: &mut Option<String>,
    ) {
        for (key, value) in &outcome.facts {
            if key != "version" {
                continue;
            }
            if !safe_version(value) {
                tracing::warn!(stage = %stage.name, value = %value, "ignored unsafe ::version fact");
                continue;
            }
            *version = Some(value.clone());
            if let Err(e) = self.store.set_run_version(self.record.id, value).await {
                tracing::error!(error = %e, "could not store the reported version");
            }
        }
    }

    /// Reports a finished stage, then stores and audits its result.
    async fn record_stage(&self, at: &StageRef, outcome: &StageOutcome) {
        let state = stage_state(outcome.end);
        self.metrics
            .stage_finished(&self.record.service, at, state, outcome.duration);
        self.report.report(Progress::StageFinished {
            stage: at.clone(),
            state,
            duration: outcome.duration,
            tail: outcome.tail.clone(),
        });
        let record = StageRecord {
            run_id: self.record.id,
            phase: at.phase,
            position: at.index as i64,
            name: at.name.clone(),
            status: state,
            exit_code: match outcome.end {
                StageEnd::Succeeded => Some(0),
                StageEnd::Failed(code) => code.map(i64::from),
                _ => None,
            },
            duration_ms: outcome.duration.as_millis() as i64,
            log_tail: outcome.tail.join("\n"),
            finished_at: crate::store::now_ms(),
        };
        let event = AuditEvent::StageFinished {
            run: self.record.id,
            stage: record.name.clone(),
            phase: at.phase,
            status: state,
            exit_code: record.exit_code,
            duration_ms: Some(record.duration_ms),
        };
        self.audit.log("deckhand", event).await;
        if let Err(e) = self.store.record_stage(&record).await {
            tracing::error!(error = %e, stage = %at.name, "could not store the stage result");
        }
        tracing::info!(stage = %at.name, phase = at.phase.as_str(), state = state.as_str(), ms = record.duration_ms, "stage finished");
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
        let outcome = self.execute_stages().await;
        heartbeat.abort();
        // Awaited so no heartbeat query is still in flight when shutdown closes the store.
        let _ = heartbeat.await;
        self.finish(outcome).await;
    }

    /// Runs the main phase (and the automatic rollback when it fails) and works out how the
    /// run ended.
    async fn execute_stages(&mut self) -> RunOutcome {
        let r = self.record.clone();
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
        let (end, switched) = self.run_phase(&spec, &mut version).await;
        self.settle(Phase::Main, &end).await;
        let mut outcome = RunOutcome {
            status: RunStatus::Succeeded,
            version,
            failure: None,
            rollback: RollbackOutcome::NotRequested,
            rolled_back: false,
            switched,
            live: None,
            rollback_target: None,
            error: None,
        };
        if let PhaseEnd::Stopped { stage, end } = end {
            let timeout = stages
                .iter()
                .find(|s| s.name == stage)
                .map(|s| Duration::from_secs(s.timeout_secs))
                .unwrap_or_default();
            self.stopped(
                &mut outcome,
                StageFailure {
                    stage,
                    end,
                    timeout,
                },
            )
            .await;
        }
        outcome
    }

    /// Fills in the outcome of a run a stage stopped: cancelled, or failed (then the
    /// automatic rollback runs when the environment asks for it).
    async fn stopped(&mut self, outcome: &mut RunOutcome, failure: StageFailure) {
        outcome.error = Some(failure.stored_error());
        if failure.end == StageEnd::Cancelled {
            outcome.status = RunStatus::Cancelled;
            outcome.failure = Some(failure);
            return;
        }
        outcome.status = RunStatus::Failed;
        let r = self.record.clone();
        outcome.rollback = self
            .auto_rollback(&r, &failure.stage, outcome.switched)
            .await;
        outcome.rolled_back = matches!(outcome.rollback, RollbackOutcome::Restored { .. });
        if r.action == Action::Deploy {
            outcome.rollback_target =
                match self.store.rollback_target(&r.service, &r.environment).await {
                    Ok(target) => target,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the rollback target");
                        None
                    }
                };
        }
        outcome.failure = Some(failure);
    }

    /// Stores, audits and reports the end of the run, with what is live once it is stored
    /// (a run that succeeded without reporting a switch switched at its end).
    async fn finish(&self, mut outcome: RunOutcome) {
        let r = &self.record;
        let mut record = r.clone();
        record.version = outcome.version.clone();
        if let Err(e) = self
            .store
            .finish_run(
                &record,
                outcome.status,
                outcome.rolled_back,
                outcome.error.as_deref(),
            )
            .await
        {
            tracing::error!(error = %e, "could not store the run result");
        }
        tracing::info!(status = outcome.status.as_str(), "run finished");
        let took = crate::store::now_ms().saturating_sub(r.started_at).max(0);
        self.metrics
            .run_finished(r, &outcome, Duration::from_millis(took as u64));
        outcome.live = self.live_release().await;
        let live = outcome.live.as_ref().and_then(|d| d.version.clone());
        let event = AuditEvent::RunFinished {
            run: r.id,
            status: outcome.status,
            version: outcome.version.clone(),
            rolled_back: outcome.rolled_back,
            error: outcome.error.clone(),
            live,
        };
        self.audit.log("deckhand", event).await;
        self.report.finish(outcome);
    }

    /// Runs the rollback pipeline after a failed deploy when the environment asks for it.
    async fn auto_rollback(
        &mut self,
        r: &RunRecord,
        failed_stage: &str,
        switched: bool,
    ) -> RollbackOutcome {
        let ((stages, env), target) = match self.rollback_plan(r, failed_stage, switched) {
            Ok(plan) => plan,
            Err(not_run) => return not_run,
        };
        self.report.report(Progress::RollbackStarted {
            stages: stages.iter().map(|s| s.name.clone()).collect(),
        });
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
        let (end, _) = self.run_phase(&spec, &mut version).await;
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
            PhaseEnd::Completed => RollbackOutcome::Restored { version: restored },
            PhaseEnd::Stopped { stage, .. } => RollbackOutcome::Failed {
                version: restored,
                stage,
            },
        }
    }
}
