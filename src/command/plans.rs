//! Plans: several deploys one after another ("update billionmail and redis", redis first).
//!
//! The plan is checked as a whole when it is asked for (the person's role for every step; a
//! step that would need approval is refused for now, since one approval for a whole plan is
//! not built yet), stored with its steps, and run by one task: each step goes through the
//! same plan as a single deploy when it is due (roles, locks, freezes, busy targets, deploy
//! memory), and a step that is refused or whose run does not succeed stops the rest, which
//! are recorded as skipped. "cancel" in the thread stops the running step's run, and with it
//! the plan. A restart marks a running plan interrupted.

use super::{Actor, Command, CommandResult, Commander, Origin, Outcome, Plan, Progress, Refusal};
use super::{Report, RunCommand};
use crate::audit::AuditEvent;
use crate::pipeline::RunStatus;
use crate::store::{Action, NewStep, PlanRecord, PlanStatus, StepStatus, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Deploys to run in this order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// The steps, in order.
    pub steps: Vec<RunCommand>,
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
    /// Whether `actor` may run every step of `spec` (and none needs approval); the first
    /// refusal, naming its step.
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
                crate::governance::Verb::Deploy,
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
            if self.governance.approvals_required(service, environment) > 0 {
                return Err(Refusal::CannotStart {
                    reason: format!(
                        "deploying {service} to {environment} needs approval, and a plan cannot carry one yet; deploy it on its own (`deploy {service} to {environment}`)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Stores the plan and starts its task.
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
        let steps: Vec<NewStep> = spec
            .steps
            .iter()
            .map(|r| NewStep {
                command: serde_json::to_string(&Command::Deploy(r.clone())).unwrap_or_default(),
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
        // A shutdown waits for the whole plan, as for a single run.
        let held = self.executor.hold();
        tokio::spawn(async move {
            let ended = me
                .run_steps(id, spec.steps, &actor, &origin, progress)
                .await;
            let _ = tx.send(ended);
            drop(held);
        });
        Ok(Outcome::Answer(Report::PlanStarted(Box::new(
            PlanStarted { plan, done },
        ))))
    }

    /// Runs the steps in order; the plan as it ended (None: the store failed).
    async fn run_steps(
        &self,
        id: i64,
        steps: Vec<RunCommand>,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> Option<PlanRecord> {
        let mut stopped: Option<String> = None;
        for (i, run) in steps.into_iter().enumerate() {
            let position = i as i64 + 1;
            let service = run.service.to_string();
            if stopped.is_none() && self.executor.is_closing() {
                stopped = Some("Deckhand was shutting down".into());
            }
            let (status, run_id, detail) = match &stopped {
                Some(why) => (StepStatus::Skipped, None, why.clone()),
                None => match self
                    .step(id, position, run, actor, origin, progress.clone())
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(plan_id = id, error = %e, "a plan step failed in the store");
                        (StepStatus::Failed, None, e.to_string())
                    }
                },
            };
            if let Err(e) = self
                .store
                .set_step(id, position, status, run_id, &detail)
                .await
            {
                tracing::error!(plan_id = id, error = %e, "could not record a plan step");
            }
            if stopped.is_none() && status != StepStatus::Succeeded {
                stopped = Some(format!("step {position} ({service}) did not succeed"));
            }
        }
        let status = if stopped.is_some() {
            PlanStatus::Failed
        } else {
            PlanStatus::Succeeded
        };
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
        self.store.plan(id).await.ok().flatten()
    }

    /// One step: checked now like a single deploy, then run to its end.
    async fn step(
        &self,
        id: i64,
        position: i64,
        run: RunCommand,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<(StepStatus, Option<i64>, String)> {
        // Someone may have deployed it since the plan was asked: never go back to an older
        // release, nor redeploy the same one, in the name of an update.
        if let Some(pinned) = run.version.as_deref() {
            let live = self
                .store
                .live_versions(Some(run.service.as_str()), Some(run.environment.as_str()))
                .await?
                .into_iter()
                .next()
                .and_then(|d| d.version);
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
        let command = Command::Deploy(run);
        let planned = match self.plan(&command, actor).await? {
            Ok(Plan::Run(p)) => p,
            Ok(_) => return Ok((StepStatus::Refused, None, "not a deploy".into())),
            Err(refusal) => return Ok((StepStatus::Refused, None, refusal_detail(&refusal))),
        };
        let outcome = self
            .request_run(Action::Deploy, planned.run.clone(), actor, origin, progress)
            .await?;
        let started = match outcome {
            Outcome::Started(s) => s,
            Outcome::Refused(refusal) => {
                return Ok((StepStatus::Refused, None, refusal_detail(&refusal)))
            }
            Outcome::AwaitingApproval(t) => {
                // The policy changed after the plan was checked: the request it filed is
                // withdrawn (it must not deploy later, outside the plan) and the plan stops.
                self.store
                    .close_approval(
                        t.id,
                        crate::store::ApprovalStatus::Cancelled,
                        crate::clock::now_ms(),
                    )
                    .await?;
                return Ok((StepStatus::Refused, None, "needs approval now".into()));
            }
            Outcome::Answer(_) => return Ok((StepStatus::Refused, None, "no run".into())),
        };
        let run_id = started.run_id.0;
        self.store
            .set_step(id, position, StepStatus::Running, Some(run_id), "")
            .await?;
        let end = started.handle.finished().await;
        Ok(match end.status {
            RunStatus::Succeeded => (StepStatus::Succeeded, Some(run_id), String::new()),
            other => (
                StepStatus::Failed,
                Some(run_id),
                end.error.unwrap_or_else(|| other.as_str().to_string()),
            ),
        })
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
