//! Stopping runs: by id from anywhere, or the runs an origin started. The person who asked
//! for a run may stop it, as may anyone allowed to deploy or roll back there.

use super::{Actor, CommandResult, Commander, Outcome, Refusal, Report, StopTarget};
use crate::audit::AuditEvent;
use crate::governance::Verb;
use crate::store::{Action, PlanRecord, RunRecord};
use serde::Serialize;

/// Runs and plans being stopped.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StopReport {
    /// The runs told to stop (empty: they had all finished already).
    pub stopped: Vec<i64>,
    /// The plans stopped: their running step's run is cancelled and no later step starts.
    pub plans: Vec<i64>,
    /// Plans asked about that had ended (or were closing, every step done) by the time of
    /// the stop: nothing of them was stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended_plans: Vec<EndedPlan>,
}

/// A plan a stop came too late for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndedPlan {
    /// The plan.
    pub plan: i64,
    /// How it ended, as stored (`succeeded`, `failed`, ...; `running` while it closes).
    pub status: String,
}

/// What a stop target names, still going in this process.
pub(super) struct StopCandidates {
    /// Runs that are not a plan's steps.
    pub runs: Vec<i64>,
    /// Plans, as they stand.
    pub plans: Vec<PlanRecord>,
}

impl Commander {
    /// The runs and plans a stop target names, in progress in this process; or why there are
    /// none. A thread's "cancel" names its plans rather than their steps' runs: stopping a
    /// plan also keeps its later steps from starting.
    pub(super) async fn stop_candidates(
        &self,
        target: &StopTarget,
    ) -> CommandResult<Result<StopCandidates, Refusal>> {
        let active = self.executor.active_runs();
        let (runs, plans) = match target {
            StopTarget::Run { id } if active.contains(&id.0) => (vec![id.0], Vec::new()),
            StopTarget::Run { id } => {
                let id = &id.0;
                return Ok(Err(match self.store.run(*id).await? {
                    Some(r) => Refusal::NotRunning { run: Box::new(r) },
                    None => Refusal::UnknownRun { run: *id },
                }));
            }
            StopTarget::Runs { ids, plans } => (
                ids.iter().map(|r| r.0).collect(),
                plans
                    .iter()
                    .filter_map(|p| self.plans.current(*p))
                    .collect(),
            ),
            StopTarget::From { origin } => {
                let plans = self.plans.asked_from(origin);
                let steps: Vec<i64> = plans
                    .iter()
                    .flat_map(|p| p.steps.iter().filter_map(|s| s.run_id))
                    .collect();
                let mut runs = self.executor.runs_from(origin);
                runs.retain(|r| !steps.contains(r));
                (runs, plans)
            }
        };
        Ok(Ok(StopCandidates { runs, plans }))
    }

    /// Whether `actor` may stop run `id`: they asked for it, or may deploy/roll back there.
    pub(super) async fn may_stop(
        &self,
        actor: &Actor,
        id: i64,
    ) -> CommandResult<Result<RunRecord, Refusal>> {
        let Some(run) = self.store.run(id).await? else {
            return Ok(Err(Refusal::UnknownRun { run: id }));
        };
        if actor.person.as_deref() == Some(run.requested_by.as_str()) {
            return Ok(Ok(run));
        }
        let verb = match run.action {
            Action::Rollback => Verb::Rollback,
            Action::Deploy => Verb::Deploy,
        };
        Ok(
            match self
                .governance
                .authorize(actor, verb, Some(&run.service), &run.environment)
            {
                Ok(()) => Ok(run),
                Err(denial) => Err(Refusal::CannotStop {
                    run: Box::new(run),
                    because: Box::new(denial.into()),
                }),
            },
        )
    }

    /// Stops what the person may still stop (permission checked again: the question may have
    /// been answered by someone else).
    pub(super) async fn stop(&self, target: &StopTarget, actor: &Actor) -> CommandResult<Outcome> {
        let candidates = match self.stop_candidates(target).await? {
            Ok(c) => c,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        };
        let mut stopped = Vec::new();
        let mut plans = Vec::new();
        let mut ended_plans = Vec::new();
        let mut refusal = None;
        for plan in &candidates.plans {
            match self.may_stop_plan(actor, plan) {
                Ok(()) => match self.cancel_plan(plan.id, actor).await {
                    true => plans.push(plan.id),
                    false => ended_plans.push(self.ended_plan(plan.id).await?),
                },
                Err(why) => refusal = Some(why),
            }
        }
        if let StopTarget::Runs { plans: asked, .. } = target {
            for id in asked {
                if !candidates.plans.iter().any(|p| p.id == *id) {
                    ended_plans.push(self.ended_plan(*id).await?);
                }
            }
        }
        for id in candidates.runs {
            let allowed = match self.may_stop(actor, id).await? {
                Ok(_) => true,
                Err(why) => {
                    refusal = Some(why);
                    false
                }
            };
            if allowed && self.executor.cancel_run(id) {
                self.audit
                    .log(
                        actor.name(),
                        AuditEvent::RunCancelled {
                            run: id,
                            identity: actor.identity.clone(),
                        },
                    )
                    .await;
                stopped.push(id);
            }
        }
        if let (true, Some(why)) = (stopped.is_empty() && plans.is_empty(), refusal) {
            // Not permitted is not "already finished".
            return Ok(Outcome::Refused(
                self.refused("cancel", "cancel", actor, why).await,
            ));
        }
        Ok(Outcome::Answer(Report::Stopping(StopReport {
            stopped,
            plans,
            ended_plans,
        })))
    }

    /// A plan a stop came too late for, with its stored status.
    async fn ended_plan(&self, id: i64) -> CommandResult<EndedPlan> {
        let status = match self.store.plan(id).await? {
            Some(p) => p.status.as_str().to_string(),
            None => "unknown".to_string(),
        };
        Ok(EndedPlan { plan: id, status })
    }
}
