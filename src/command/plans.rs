//! Plans: several deploys one after another ("update billionmail and redis", redis first).
//!
//! The plan is checked as a whole when it is asked for (the person's role for every step).
//! When any step's policy needs approvals, one request covers the whole plan (as many
//! approvals as its strictest step needs, from people who may approve every such step), and
//! the plan starts once it is approved. It is stored with its steps and run by one task:
//! each step goes through the same checks as a single deploy when it is due (roles, locks,
//! freezes, busy targets, deploy memory), and a step that is refused or whose run does not
//! succeed stops the rest, which are recorded as skipped. "cancel" in the thread stops the
//! running step's run, and with it the plan. The steps' runs report through the plan (one
//! message, a line per step: [`crate::pipeline::PlanProgress`]). A restart marks a running
//! plan interrupted.

use super::plan_watch::{PlanWatch, StepSink};
use super::{Actor, Command, CommandResult, Commander, Origin, Outcome, Plan, Progress, Refusal};
use super::{Report, RunCommand};
use crate::audit::AuditEvent;
use crate::pipeline::RunStatus;
use crate::store::{
    Action, ApprovalStatus, NewStep, PlanRecord, PlanStatus, StepStatus, StoreError,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::watch;

/// Deploys (or, for a plan's undoing, rollbacks) to run in this order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// The steps, in order.
    pub steps: Vec<RunCommand>,
    /// The undoing of plan `rollback_of`: every step is a rollback to the release before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<Undo>,
}

/// What a rollback plan undoes: the plan, and the version each of its steps takes back (a
/// step whose service runs something else by then, someone's later deploy, is refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    /// The plan undone.
    pub plan: i64,
    /// Per step, the version it rolls back from.
    pub versions: Vec<String>,
}

impl PlanSpec {
    /// Deploy, or rollback for a plan's undoing.
    pub fn action(&self) -> Action {
        match self.rollback_of {
            Some(_) => Action::Rollback,
            None => Action::Deploy,
        }
    }
}

/// A plan that started.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStarted {
    /// The plan as stored (every step pending).
    pub plan: PlanRecord,
    /// The plan once it has ended (None until then).
    #[serde(skip)]
    pub done: watch::Receiver<Option<PlanRecord>>,
}

impl PlanStarted {
    /// Waits for the plan to end; None if its task went away.
    pub async fn finished(&self) -> Option<PlanRecord> {
        let mut done = self.done.clone();
        let ended = done.wait_for(|p| p.is_some()).await.ok()?;
        ended.clone()
    }
}

impl Commander {
    /// Whether `actor` may run every step of `spec`; the first refusal, naming its step.
    pub(super) async fn verify_plan(&self, spec: &PlanSpec, actor: &Actor) -> Result<(), Refusal> {
        if spec.steps.is_empty() {
            return Err(Refusal::CannotStart {
                reason: "the plan has no steps".into(),
            });
        }
        for run in &spec.steps {
            let (service, environment) = (run.service.as_str(), run.environment.as_str());
            if let Err(denial) = self.governance.authorize(
                actor,
                match spec.action() {
                    Action::Deploy => crate::governance::Verb::Deploy,
                    Action::Rollback => crate::governance::Verb::Rollback,
                },
                Some(service),
                environment,
            ) {
                return Err(self
                    .refused(
                        "plan",
                        &format!("{service}/{environment}"),
                        actor,
                        denial.into(),
                    )
                    .await);
            }
        }
        Ok(())
    }

    /// The step whose policy needs the most approvals, and how many (0: none needs any).
    pub(super) fn plan_gate<'a>(&self, spec: &'a PlanSpec) -> Option<(&'a RunCommand, u32)> {
        spec.steps
            .iter()
            .map(|r| {
                let n = self
                    .governance
                    .approvals_required(r.service.as_str(), r.environment.as_str());
                (r, n)
            })
            .filter(|(_, n)| *n > 0)
            .fold(
                None,
                |best: Option<(&RunCommand, u32)>, (r, n)| match best {
                    Some((_, m)) if m >= n => best,
                    _ => Some((r, n)),
                },
            )
    }

    /// Every step of `spec` that needs approval, with its approver roles.
    pub(super) fn plan_gates(&self, spec: &PlanSpec) -> Vec<super::Gate> {
        spec.steps
            .iter()
            .filter(|r| {
                self.governance
                    .approvals_required(r.service.as_str(), r.environment.as_str())
                    > 0
            })
            .map(|r| super::Gate {
                service: r.service.to_string(),
                environment: r.environment.to_string(),
                approver_roles: self
                    .governance
                    .approver_roles(r.service.as_str(), r.environment.as_str()),
            })
            .collect()
    }

    /// Asks for the plan's approval when a step needs one, or stores the plan and starts it.
    pub(super) async fn start_plan(
        &self,
        spec: PlanSpec,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        if let Err(refusal) = self.verify_plan(&spec, actor).await {
            return Ok(Outcome::Refused(refusal));
        }
        if let Some((gate, required)) = self.plan_gate(&spec) {
            if let Some(refusal) = self.open_request_in(origin).await? {
                let refusal = self
                    .refused(
                        "plan",
                        &Command::Plan(spec.clone()).subject(),
                        actor,
                        refusal,
                    )
                    .await;
                return Ok(Outcome::Refused(refusal));
            }
            let ticket = self
                .create_approval(
                    spec.action(),
                    gate.clone(),
                    required,
                    actor,
                    origin,
                    super::runs::Binding::Plan(&spec),
                )
                .await?;
            return Ok(Outcome::AwaitingApproval(ticket));
        }
        let started = self
            .launch_plan(spec, actor, origin, progress, None)
            .await?;
        Ok(Outcome::Answer(Report::PlanStarted(Box::new(started))))
    }

    /// Stores the plan and starts its task; `approval` is the request that approved it
    /// (it covers the steps that need approval).
    pub(super) async fn launch_plan(
        &self,
        spec: PlanSpec,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
        approval: Option<i64>,
    ) -> CommandResult<PlanStarted> {
        let steps: Vec<NewStep> = spec
            .steps
            .iter()
            .map(|r| NewStep {
                command: serde_json::to_string(&Command::for_action(spec.action(), r.clone()))
                    .unwrap_or_default(),
                service: r.service.to_string(),
                environment: r.environment.to_string(),
            })
            .collect();
        let now = crate::clock::now_ms();
        let id = self
            .store
            .create_plan(actor.name(), origin, &steps, now)
            .await?;
        self.audit
            .log(
                actor.name(),
                AuditEvent::PlanStarted {
                    plan: id,
                    steps: serde_json::to_value(&spec.steps).unwrap_or_default(),
                    origin: origin.to_string(),
                },
            )
            .await;
        let plan = self
            .store
            .plan(id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        let (tx, done) = watch::channel(None);
        let me = self.clone();
        let (actor, origin) = (actor.clone(), origin.clone());
        let watch = PlanWatch::new(plan.clone(), progress);
        self.plans.insert(id, watch.clone());
        watch.show();
        // A shutdown waits for the whole plan, as for a single run.
        let held = self.executor.hold();
        tokio::spawn(async move {
            let ended = tokio::select! {
                ended = me.run_steps(&watch, &spec, &actor, &origin, approval) => ended,
                never = me.beat(id) => match never {},
            };
            me.plans.remove(id);
            let _ = tx.send(ended);
            drop(held);
        });
        Ok(PlanStarted { plan, done })
    }

    /// Beats plan `id`'s heartbeat while it runs (dropped when it ends), so a process on
    /// another host does not take it as interrupted.
    async fn beat(&self, id: i64) -> std::convert::Infallible {
        let every = std::time::Duration::from_millis(crate::store::RUN_LEASE_MS as u64 / 3);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.store.plan_heartbeat(id, crate::clock::now_ms()).await {
                tracing::warn!(plan_id = id, error = %e, "could not beat the plan's heartbeat");
            }
        }
    }

    /// Runs the steps in order; the plan as it ended (None: the store failed).
    async fn run_steps(
        &self,
        watch: &PlanWatch,
        spec: &PlanSpec,
        actor: &Actor,
        origin: &Origin,
        approval: Option<i64>,
    ) -> Option<PlanRecord> {
        let action = spec.action();
        let id = watch.id();
        let mut stopped: Option<String> = None;
        let mut end = PlanStatus::Succeeded;
        for (i, run) in spec.steps.iter().cloned().enumerate() {
            let position = i as i64 + 1;
            let undoes = spec.rollback_of.as_ref().and_then(|u| u.versions.get(i));
            let service = run.service.to_string();
            if stopped.is_none() && watch.is_cancelled() {
                (stopped, end) = (Some(PLAN_CANCELLED.into()), PlanStatus::Cancelled);
            }
            if stopped.is_none() && self.executor.is_closing() {
                (stopped, end) = (Some(SHUTTING_DOWN.into()), PlanStatus::Interrupted);
            }
            let (status, run_id, detail) = match &stopped {
                Some(why) => (StepStatus::Skipped, None, why.clone()),
                None => match self
                    .step(
                        watch,
                        position,
                        (action, run, undoes),
                        actor,
                        origin,
                        approval,
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(plan_id = id, error = %e, "a plan step failed in the store");
                        (StepStatus::Failed, None, e.to_string())
                    }
                },
            };
            let at = crate::clock::now_ms();
            if let Err(e) = self
                .store
                .set_step(id, position, status, run_id, &detail, at)
                .await
            {
                tracing::error!(plan_id = id, error = %e, "could not record a plan step");
            }
            watch.set_step(position, status, run_id, &detail, at);
            if stopped.is_none() && status != StepStatus::Succeeded {
                (stopped, end) = self.why_stopped(watch, position, &service, &detail);
            }
        }
        let status = end;
        let now = crate::clock::now_ms();
        match self.store.finish_plan(id, status, now).await {
            Ok(true) => {
                self.audit
                    .log(
                        actor.name(),
                        AuditEvent::PlanFinished {
                            plan: id,
                            status: status.as_str().to_string(),
                        },
                    )
                    .await;
            }
            Ok(false) => {}
            Err(e) => tracing::error!(plan_id = id, error = %e, "could not end the plan"),
        }
        let ended = self.store.plan(id).await.ok().flatten();
        watch.finish(ended.clone(), status, now);
        ended
    }

    /// Why the plan stops after step `position` did not succeed: someone stopped the plan
    /// (or the step's run), a shutdown cancelled the run, or the step failed on its own.
    fn why_stopped(
        &self,
        watch: &PlanWatch,
        position: i64,
        service: &str,
        detail: &str,
    ) -> (Option<String>, PlanStatus) {
        if detail == TAKEN_OVER {
            return (Some(TAKEN_OVER.into()), PlanStatus::Interrupted);
        }
        let by_cancel = detail == CANCELLED || detail == PLAN_CANCELLED;
        if by_cancel && !watch.is_cancelled() && self.executor.is_closing() {
            return (Some(SHUTTING_DOWN.into()), PlanStatus::Interrupted);
        }
        if by_cancel {
            return (Some(PLAN_CANCELLED.into()), PlanStatus::Cancelled);
        }
        (
            Some(format!("step {position} ({service}) did not succeed")),
            PlanStatus::Failed,
        )
    }

    /// One step: checked now like a single deploy, then run to its end. A step whose policy
    /// needs approval runs only when the plan's approval covers it (counted again now).
    async fn step(
        &self,
        watch: &PlanWatch,
        position: i64,
        (action, run, undoes): (Action, RunCommand, Option<&String>),
        actor: &Actor,
        origin: &Origin,
        approval: Option<i64>,
    ) -> CommandResult<(StepStatus, Option<i64>, String)> {
        let id = watch.id();
        // Undoing a plan takes back only what the plan put there: a later deploy stays.
        if let Some(undone) = undoes {
            let live = self.live_version(&run).await?;
            if live.as_ref() != Some(undone) {
                return Ok((
                    StepStatus::Refused,
                    None,
                    format!(
                        "{} runs {} now, not the plan's {undone}; left as it is",
                        run.environment,
                        live.as_deref().unwrap_or("nothing known")
                    ),
                ));
            }
        }
        // Someone may have deployed it since the plan was asked: never go back to an older
        // release, nor redeploy the same one, in the name of an update.
        if let (Action::Deploy, Some(pinned)) = (action, run.version.as_deref()) {
            let live = self.live_version(&run).await?;
            if let Some(live) = live.filter(|l| !crate::versions::is_newer(pinned, Some(l))) {
                return Ok((
                    StepStatus::Refused,
                    None,
                    format!(
                        "{} already runs {live} (the plan had {pinned})",
                        run.environment
                    ),
                ));
            }
        }
        let command = Command::for_action(action, run);
        let planned = match self.plan(&command, actor).await? {
            Ok(Plan::Run(p)) => p,
            Ok(_) => return Ok((StepStatus::Refused, None, "not a run".into())),
            Err(refusal) => return Ok((StepStatus::Refused, None, refusal_detail(&refusal))),
        };
        let progress: Progress = Arc::new(StepSink::new(
            watch.clone(),
            position,
            self.executor.clone(),
        ));
        let (service, environment) = (
            planned.run.service.as_str(),
            planned.run.environment.as_str(),
        );
        let required = self.governance.approvals_required(service, environment);
        // Stopped while this step was being checked: it never starts.
        if watch.is_cancelled() {
            return Ok((StepStatus::Skipped, None, PLAN_CANCELLED.into()));
        }
        // Recorded before the run exists, so a restart in between knows the step may have
        // started a run (it is never taken for one that did not run).
        let at = crate::clock::now_ms();
        if !self.store.claim_step(id, position, at).await? {
            return Ok((StepStatus::Skipped, None, TAKEN_OVER.into()));
        }
        watch.set_step(position, StepStatus::Running, None, "", at);
        let outcome = if required == 0 {
            self.request_run(action, planned.run.clone(), actor, origin, progress)
                .await?
        } else if self.covers(approval, required, &planned.run).await? {
            self.start_run(action, planned.run.clone(), actor.name(), origin, progress)
                .await?
        } else {
            let why = match approval {
                Some(a) => format!("{service} in {environment} needs {required} approval(s), which the plan's approval (request #{a}) does not cover"),
                None => format!("{service} in {environment} needs {required} approval(s), and the plan was not approved"),
            };
            return Ok((StepStatus::Refused, None, why));
        };
        let started = match outcome {
            Outcome::Started(s) => s,
            Outcome::Refused(refusal) => {
                return Ok((StepStatus::Refused, None, refusal_detail(&refusal)))
            }
            Outcome::AwaitingApproval(t) => {
                // The policy changed after the plan was checked: the request it filed is
                // withdrawn (it must not deploy later, outside the plan) and the plan stops.
                let closed = self
                    .store
                    .close_approval(t.id, ApprovalStatus::Cancelled, crate::clock::now_ms())
                    .await;
                if let Err(e) = &closed {
                    tracing::error!(plan_id = id, approval_id = t.id, error = %e, "could not withdraw a step's approval request");
                }
                let detail = match closed {
                    Ok(_) => format!("needs approval now (request #{} withdrawn)", t.id),
                    Err(_) => format!(
                        "needs approval now; request #{} could not be withdrawn, reject it",
                        t.id
                    ),
                };
                return Ok((StepStatus::Refused, None, detail));
            }
            Outcome::Answer(_) => return Ok((StepStatus::Refused, None, "no run".into())),
        };
        let run_id = started.run_id.0;
        // The run has started: whatever the store says, the step follows it to its end.
        let at = crate::clock::now_ms();
        if let Err(e) = self
            .store
            .set_step(id, position, StepStatus::Running, Some(run_id), "", at)
            .await
        {
            tracing::error!(plan_id = id, run_id, error = %e, "could not record a running plan step");
        }
        watch.set_step(position, StepStatus::Running, Some(run_id), "", at);
        let end = started.handle.finished().await;
        Ok(match end.status {
            RunStatus::Succeeded => (StepStatus::Succeeded, Some(run_id), String::new()),
            RunStatus::Cancelled => (StepStatus::Failed, Some(run_id), CANCELLED.into()),
            other => (
                StepStatus::Failed,
                Some(run_id),
                end.error.unwrap_or_else(|| other.as_str().to_string()),
            ),
        })
    }

    /// The version the step's target runs now, as the store knows it.
    async fn live_version(&self, run: &RunCommand) -> Result<Option<String>, StoreError> {
        Ok(self
            .store
            .live_versions(Some(run.service.as_str()), Some(run.environment.as_str()))
            .await?
            .into_iter()
            .next()
            .and_then(|d| d.version))
    }

    /// Whether the plan's approval request was approved with at least `required` approvals
    /// from people who may approve this step (counted now, not when they decided: only who
    /// may approve `run` today, never the requester, counts).
    async fn covers(
        &self,
        approval: Option<i64>,
        required: u32,
        run: &RunCommand,
    ) -> CommandResult<bool> {
        let Some(id) = approval else {
            return Ok(false);
        };
        let Some(request) = self.store.approval(id).await? else {
            return Ok(false);
        };
        if request.status != ApprovalStatus::Approved {
            return Ok(false);
        }
        let (service, environment) = (run.service.as_str(), run.environment.as_str());
        let approvals = self
            .store
            .decisions(id)
            .await?
            .iter()
            .filter(|d| d.decision == crate::store::Decision::Approve)
            .filter(|d| d.person != request.requested_by)
            .filter(|d| {
                let actor = self.governance.actor_for_person(&d.person);
                self.governance
                    .authorize(
                        &actor,
                        crate::governance::Verb::Approve,
                        Some(service),
                        environment,
                    )
                    .is_ok()
            })
            .count();
        Ok(approvals >= required as usize)
    }

    /// Whether `actor` may stop `plan`: they asked for it, or may deploy (roll back) where
    /// its current step goes; otherwise that permission refusal.
    pub(super) fn may_stop_plan(&self, actor: &Actor, plan: &PlanRecord) -> Result<(), Refusal> {
        if actor.person.as_deref() == Some(plan.requested_by.as_str()) {
            return Ok(());
        }
        let current = plan
            .steps
            .iter()
            .find(|s| matches!(s.status, StepStatus::Running | StepStatus::Pending))
            .or(plan.steps.last());
        let Some(step) = current else {
            return Ok(());
        };
        let verb = match serde_json::from_str::<Command>(&step.command) {
            Ok(Command::Rollback(_)) => crate::governance::Verb::Rollback,
            _ => crate::governance::Verb::Deploy,
        };
        self.governance
            .authorize(actor, verb, Some(&step.service), &step.environment)
            .map_err(|denial| Refusal::CannotStopPlan {
                plan: plan.id,
                requested_by: plan.requested_by.clone(),
                step: format!("{} → {}", step.service, step.environment),
                because: Box::new(denial.into()),
            })
    }

    /// Stops plan `id` if it is still running here: no further step starts and the running
    /// step's run is cancelled. False when it had ended.
    pub(super) async fn cancel_plan(&self, id: i64, actor: &Actor) -> bool {
        let Some(watch) = self.plans.get(id).filter(PlanWatch::has_step_to_stop) else {
            return false;
        };
        watch.cancel();
        if let Some(run) = watch.running_run() {
            self.executor.cancel_run(run);
        }
        self.audit
            .log(
                actor.name(),
                AuditEvent::PlanCancelled {
                    plan: id,
                    identity: actor.identity.clone(),
                },
            )
            .await;
        true
    }

    /// Marks plans a dead process left running as interrupted (at start-up).
    pub async fn interrupt_plans(&self) -> Result<Vec<i64>, StoreError> {
        self.store.interrupt_plans(crate::clock::now_ms()).await
    }
}

/// A refusal as a step's detail: its kind, and the lock or run it names.
fn refusal_detail(r: &Refusal) -> String {
    match r {
        Refusal::Locked { lock } => format!("locked by {}: {}", lock.holder, lock.reason),
        Refusal::Busy { run } => format!("busy: run {} is in progress", run.id),
        Refusal::Frozen { window, .. } => format!("frozen: {}", window.reason),
        other => other.kind().as_str().replace('_', " "),
    }
}

/// The detail of a step whose run was cancelled (the plan ends cancelled).
const CANCELLED: &str = "cancelled";
/// Why a step did not run after someone stopped the plan.
const PLAN_CANCELLED: &str = "the plan was cancelled";
/// Why a step did not run after another process marked its plan interrupted.
const TAKEN_OVER: &str = "the plan was marked interrupted (its process seemed gone)";
/// Why a step did not run during a shutdown.
const SHUTTING_DOWN: &str = "Deckhand was shutting down";
