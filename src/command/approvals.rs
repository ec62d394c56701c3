//! Approval requests: deciding (four-eyes, single use: only the decision that moves a request
//! out of `pending` starts its run), withdrawing, expiring. A request stores its serialised
//! [`Command`], so what runs is exactly what was asked for.

use super::EnvName;
use super::{
    Actor, ApprovalRef, Command, CommandResult, Commander, Decide, Outcome, Progress, Refusal,
    Report, RunCommand, ServiceName,
};
use crate::audit::AuditEvent;
use crate::config::Config;
use crate::governance::Verb;
use crate::origin::Origin;
use crate::store::{Action, ApprovalRecord, ApprovalStatus, Decision, DecisionRecord, StoreError};
use serde::Serialize;
use std::time::Duration;

/// A request stored to wait for approvals.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalTicket {
    /// Its id (what "approve", a button or the API names).
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// What runs when it is approved (strategy settled).
    pub run: RunCommand,
    /// Who asked.
    pub requested_by: String,
    /// Where it was asked.
    pub origin: Origin,
    /// Approvals needed.
    pub required: u32,
    /// Roles that may approve.
    pub approver_roles: Option<Vec<String>>,
    /// Deploy memory's warning, if any.
    pub note: Option<String>,
    /// How long it waits.
    #[serde(skip)]
    pub timeout: Duration,
    /// When it expires, unix ms.
    pub expires_at: i64,
    /// For a plan: its steps in order (the request covers all of them; `run` is the step
    /// that needs the most approvals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<RunCommand>>,
    /// For a plan: every step that needs approval, with the roles that may approve it (an
    /// approver must be allowed to approve each of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<Gate>,
}

/// A plan step that needs approval, and who may give it.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    /// Its service.
    pub service: String,
    /// Its environment.
    pub environment: String,
    /// Roles that may approve it (None: anyone other than the requester).
    pub approver_roles: Option<Vec<String>>,
}

/// A decision that was recorded, and what followed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionReport {
    /// The request.
    pub approval: i64,
    /// Approve or reject.
    pub decision: Decision,
    /// Who decided.
    pub by: String,
    /// Who had asked.
    pub requested_by: String,
    /// Deploy or rollback.
    pub action: Action,
    /// What was asked for.
    pub run: RunCommand,
    /// What followed.
    pub result: DecisionResult,
    /// The request was made for a schedule (approving it approves that fire).
    pub for_schedule: bool,
    /// The request was made for a plan: its steps (`run` is the one needing most approvals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<RunCommand>>,
}

/// What followed a recorded decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DecisionResult {
    /// More approvals are needed.
    Waiting {
        /// Approvals so far.
        approvals: i64,
        /// Approvals needed.
        required: i64,
    },
    /// The request is rejected and will not run.
    Rejected,
    /// Approved for a schedule: its run starts when the schedule fires (checked again then).
    Scheduled {
        /// The schedule.
        schedule: i64,
        /// When it fires, unix ms (None: it was cancelled or has fired).
        fires_at: Option<i64>,
    },
    /// Approved: the plan it was asked for started (its steps are checked as they come).
    PlanStarted {
        /// The plan as stored.
        plan: crate::store::PlanRecord,
    },
    /// Approved, and its run started.
    Started {
        /// The run.
        run_id: super::RunId,
    },
    /// Approved, but the checks made again refused it (permission, a new lock).
    Refused {
        /// Why.
        #[schema(value_type = Object)]
        refusal: Refusal,
    },
    /// Approved, but the executor did not start it (busy target, ...).
    DidNotStart {
        /// Why.
        #[schema(value_type = Object)]
        refusal: Refusal,
    },
}

/// The steps of the plan a stored request was made for; None for a single run's request.
pub fn plan_of_request(a: &ApprovalRecord) -> Option<Vec<RunCommand>> {
    match serde_json::from_str::<super::Command>(a.command.as_deref()?).ok()? {
        super::Command::Plan(spec) => Some(spec.steps),
        _ => None,
    }
}

/// A request the sweeper closed as expired, for its origin to be told.
#[derive(Debug, Clone)]
pub struct Expired {
    /// The request as it was.
    pub approval: ApprovalRecord,
    /// For a plan's request: its steps (the request's own fields are only its strictest step).
    pub plan: Option<Vec<RunCommand>>,
}

/// The command a stored request waits on, its names resolved again against today's config
/// (requests stored before commands were are read from their columns).
/// A request made for a schedule stores the schedule's command: it approves that fire, and
/// never starts a run itself.
pub(super) fn is_for_schedule(a: &ApprovalRecord) -> bool {
    a.command
        .as_deref()
        .and_then(|c| serde_json::from_str::<Command>(c).ok())
        .is_some_and(|c| matches!(c, Command::Schedule(_)))
}

/// The plan a request was made for, its names resolved again (None: not a plan's request).
fn stored_plan(config: &Config, a: &ApprovalRecord) -> Option<Result<super::PlanSpec, Refusal>> {
    let Ok(Command::Plan(spec)) = serde_json::from_str::<Command>(a.command.as_deref()?) else {
        return None;
    };
    let spec_rest = super::PlanSpec {
        steps: Vec::new(),
        ..spec.clone()
    };
    let stale = |name: &str| Refusal::StaleRequest {
        approval: a.id,
        reason: format!("`{name}` is no longer configured"),
    };
    let mut steps = Vec::new();
    for run in spec.steps {
        let service = match ServiceName::resolve(config, run.service.as_str()) {
            Ok(s) => s,
            Err(_) => return Some(Err(stale(run.service.as_str()))),
        };
        let environment = match EnvName::resolve(config, run.environment.as_str()) {
            Ok(e) => e,
            Err(_) => return Some(Err(stale(run.environment.as_str()))),
        };
        steps.push(RunCommand {
            service,
            environment,
            ..run
        });
    }
    if steps.is_empty() {
        return Some(Err(Refusal::StaleRequest {
            approval: a.id,
            reason: "its plan has no steps".into(),
        }));
    }
    Some(Ok(super::PlanSpec { steps, ..spec_rest }))
}

fn stored_command(config: &Config, a: &ApprovalRecord) -> Result<(Action, RunCommand), Refusal> {
    let stale = |reason: &str| Refusal::StaleRequest {
        approval: a.id,
        reason: reason.to_string(),
    };
    let (action, run) = match a.command.as_deref() {
        Some(cmd) => match serde_json::from_str::<Command>(cmd) {
            Ok(c) => {
                let inner = match &c {
                    Command::Schedule(spec) => spec.command.as_ref(),
                    other => other,
                };
                match inner.run() {
                    Some((action, run)) => (action, run.clone()),
                    None => return Err(stale("it does not hold a deploy or rollback")),
                }
            }
            Err(_) => return Err(stale("its stored command cannot be read")),
        },
        None => (
            a.action,
            RunCommand {
                service: ServiceName::trusted(&a.service),
                environment: EnvName::trusted(&a.environment),
                version: a.version.clone(),
                strategy: Some(a.strategy),
                percent: a.percent.and_then(|p| u8::try_from(p).ok()),
            },
        ),
    };
    // The config may have changed since: a name that no longer resolves runs nowhere.
    let service = ServiceName::resolve(config, run.service.as_str())
        .map_err(|_| stale(&format!("`{}` is no longer configured", run.service)))?;
    let environment = EnvName::resolve(config, run.environment.as_str())
        .map_err(|_| stale(&format!("`{}` is no longer configured", run.environment)))?;
    Ok((
        action,
        RunCommand {
            service,
            environment,
            ..run
        },
    ))
}

impl Commander {
    /// The request a decision or withdrawal is about; Err when there is none.
    async fn find_approval(
        &self,
        r: &ApprovalRef,
    ) -> CommandResult<Result<ApprovalRecord, Refusal>> {
        let found = match r {
            ApprovalRef::Id { id } => self.store.approval(*id).await?,
            ApprovalRef::LatestFrom { origin } => self.store.latest_approval_from(origin).await?,
        };
        Ok(found.ok_or(match r {
            ApprovalRef::Id { id } => Refusal::UnknownApproval { approval: *id },
            ApprovalRef::LatestFrom { .. } => Refusal::NoApprovalHere,
        }))
    }

    /// A decision on a request.
    pub(super) async fn decide(
        &self,
        d: &Decide,
        actor: &Actor,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        let a = match self.find_approval(&d.approval).await? {
            Ok(a) => a,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        };
        let plan = match stored_plan(&self.config, &a) {
            Some(Ok(spec)) => Some(spec),
            Some(Err(refusal)) => return Ok(Outcome::Refused(refusal)),
            None => None,
        };
        let (action, run, gated) = match &plan {
            // A plan's request is decided by people who may approve every step needing it.
            Some(spec) => {
                let gate = self.plan_gate(spec).map(|(r, _)| r.clone());
                let run = gate.clone().unwrap_or_else(|| spec.steps[0].clone());
                let gated: Vec<RunCommand> = spec
                    .steps
                    .iter()
                    .filter(|r| {
                        self.governance
                            .approvals_required(r.service.as_str(), r.environment.as_str())
                            > 0
                    })
                    .cloned()
                    .collect();
                let gated = if gated.is_empty() {
                    vec![run.clone()]
                } else {
                    gated
                };
                (spec.action(), run, gated)
            }
            None => match stored_command(&self.config, &a) {
                Ok((action, run)) => (action, run.clone(), vec![run]),
                Err(refusal) => return Ok(Outcome::Refused(refusal)),
            },
        };
        match self.record(&a, &gated, d.decision, actor).await? {
            Err(refusal) => Ok(Outcome::Refused(refusal)),
            Ok(None) => Ok(Outcome::Refused(self.closed(&a).await?)),
            Ok(Some(result)) => {
                let result = match result {
                    Recorded::Final if is_for_schedule(&a) => {
                        let s = self.bound_schedule(a.id).await?;
                        DecisionResult::Scheduled {
                            schedule: s.as_ref().map(|s| s.id).unwrap_or_default(),
                            fires_at: s.and_then(|s| s.next_fire_at),
                        }
                    }
                    Recorded::Final => match &plan {
                        Some(spec) => self.plan_approved(&a, spec, actor, progress).await?,
                        None => self.approved(&a, action, &run, actor, progress).await?,
                    },
                    Recorded::Waiting(DecisionResult::Rejected) if is_for_schedule(&a) => {
                        // A rejected schedule will not run: it is cancelled with its request.
                        if let Some(s) = self.bound_schedule(a.id).await? {
                            self.cancel_bound(&s, actor).await?;
                        }
                        DecisionResult::Rejected
                    }
                    Recorded::Waiting(r) => r,
                };
                Ok(Outcome::Answer(Report::Decided(DecisionReport {
                    approval: a.id,
                    decision: d.decision,
                    by: actor.name().into(),
                    requested_by: a.requested_by.clone(),
                    action,
                    run,
                    result,
                    for_schedule: is_for_schedule(&a),
                    plan: plan.map(|p| p.steps),
                })))
            }
        }
    }

    /// Checks and records one decision. Ok(None): the request was closed meanwhile.
    /// `runs` are what the request approves (a plan's: every step needing approval); the
    /// decider must be allowed to approve each.
    async fn record(
        &self,
        a: &ApprovalRecord,
        runs: &[RunCommand],
        decision: Decision,
        actor: &Actor,
    ) -> CommandResult<Result<Option<Recorded>, Refusal>> {
        let now = crate::clock::now_ms();
        for run in runs {
            if let Err(refusal) = self.may_decide(a, run, decision, actor).await? {
                return Ok(Err(refusal));
            }
        }
        let record = DecisionRecord {
            person: actor.name().into(),
            identity: actor.identity.clone(),
            decision,
            decided_at: now,
        };
        if !self.store.record_decision(a.id, &record).await? {
            return Ok(Err(Refusal::AlreadyDecided { approval: a.id }));
        }
        self.audit
            .log(
                actor.name(),
                AuditEvent::ApprovalDecision {
                    approval: a.id,
                    decision,
                    identity: actor.identity.clone(),
                },
            )
            .await;
        if decision == Decision::Reject {
            if !self
                .store
                .close_approval(a.id, ApprovalStatus::Rejected, now)
                .await?
            {
                return Ok(Ok(None));
            }
            self.audit
                .log(
                    actor.name(),
                    AuditEvent::ApprovalRejected { approval: a.id },
                )
                .await;
            return Ok(Ok(Some(Recorded::Waiting(DecisionResult::Rejected))));
        }
        let approvals = self
            .store
            .decisions(a.id)
            .await?
            .iter()
            .filter(|d| d.decision == Decision::Approve)
            .count() as i64;
        // A policy tightened since the request was made applies to it too.
        let strictest = runs
            .iter()
            .map(|r| {
                self.governance
                    .approvals_required(r.service.as_str(), r.environment.as_str())
            })
            .max()
            .unwrap_or(0);
        let required = a.required.max(i64::from(strictest));
        if approvals < required {
            return Ok(Ok(Some(Recorded::Waiting(DecisionResult::Waiting {
                approvals,
                required,
            }))));
        }
        // Single use: only the decision that moves it out of `pending` starts the run.
        if !self
            .store
            .close_approval(a.id, ApprovalStatus::Approved, now)
            .await?
        {
            return Ok(Ok(None));
        }
        self.audit
            .log(
                actor.name(),
                AuditEvent::ApprovalApproved {
                    approval: a.id,
                    approvals,
                },
            )
            .await;
        Ok(Ok(Some(Recorded::Final)))
    }

    /// Whether `actor` may decide on the request now: it is still open and in time, and they
    /// are not its requester (four eyes) and hold an approver role there.
    async fn may_decide(
        &self,
        a: &ApprovalRecord,
        run: &RunCommand,
        decision: Decision,
        actor: &Actor,
    ) -> CommandResult<Result<(), Refusal>> {
        let (service, environment) = (run.service.as_str(), run.environment.as_str());
        let subject = format!("approval {}", a.id);
        if a.status != ApprovalStatus::Pending {
            return Ok(Err(self.closed(a).await?));
        }
        if crate::clock::now_ms() >= a.expires_at {
            return Ok(Err(match self.expire(a).await? {
                false => self.closed(a).await?,
                true => Refusal::Expired {
                    approval: a.id,
                    expired_at: a.expires_at,
                    requested_by: a.requested_by.clone(),
                },
            }));
        }
        let refusal = if actor.person.as_deref() == Some(a.requested_by.as_str()) {
            Refusal::OwnRequest {
                approval: a.id,
                decision,
                approver_roles: self.governance.approver_roles(service, environment),
            }
        } else {
            match self
                .governance
                .authorize(actor, Verb::Approve, Some(service), environment)
            {
                Ok(()) => return Ok(Ok(())),
                Err(denial) => denial.into(),
            }
        };
        Ok(Err(self
            .refused(decision.as_str(), &subject, actor, refusal)
            .await))
    }

    /// The request got its last approval: check the requester's permission and the locks
    /// again (things change in 30 min), then start it.
    async fn approved(
        &self,
        a: &ApprovalRecord,
        action: Action,
        run: &RunCommand,
        actor: &Actor,
        progress: Progress,
    ) -> CommandResult<DecisionResult> {
        let run = run.clone();
        let requester = self.governance.actor_for_person(&a.requested_by);
        let not_started = |refusal: &Refusal| AuditEvent::ApprovalNotStarted {
            approval: a.id,
            refusal: serde_json::to_value(refusal).unwrap_or_default(),
        };
        if let Err(refusal) = self.verify_run(action, &run, &requester).await? {
            self.audit.log(actor.name(), not_started(&refusal)).await;
            return Ok(DecisionResult::Refused { refusal });
        }
        match self
            .start_run(action, run, &a.requested_by, &a.origin, progress)
            .await?
        {
            Outcome::Started(s) => {
                if let Err(e) = self.store.set_approval_run(a.id, s.run_id.0).await {
                    tracing::error!(error = %e, approval_id = a.id, run_id = s.run_id.0, "could not link the approval to its run");
                }
                Ok(DecisionResult::Started { run_id: s.run_id })
            }
            other => {
                let refusal = match other {
                    Outcome::Refused(r) => r,
                    // start_run only starts or refuses; anything else did not start either.
                    _ => Refusal::CannotStart {
                        reason: "the executor gave no run".into(),
                    },
                };
                self.audit.log(actor.name(), not_started(&refusal)).await;
                Ok(DecisionResult::DidNotStart { refusal })
            }
        }
    }

    /// A plan's request got its last approval: the requester's roles are checked again for
    /// every step, then the plan starts (each step is checked again when it is due).
    async fn plan_approved(
        &self,
        a: &ApprovalRecord,
        spec: &super::PlanSpec,
        actor: &Actor,
        progress: Progress,
    ) -> CommandResult<DecisionResult> {
        let requester = self.governance.actor_for_person(&a.requested_by);
        if let Err(refusal) = self.verify_plan(spec, &requester).await {
            self.audit
                .log(
                    actor.name(),
                    AuditEvent::ApprovalNotStarted {
                        approval: a.id,
                        refusal: serde_json::to_value(&refusal).unwrap_or_default(),
                    },
                )
                .await;
            return Ok(DecisionResult::Refused { refusal });
        }
        let started = self
            .launch_plan(spec.clone(), &requester, &a.origin, progress, Some(a.id))
            .await?;
        Ok(DecisionResult::PlanStarted { plan: started.plan })
    }

    /// The facts of a request that is no longer pending, read fresh.
    async fn closed(&self, a: &ApprovalRecord) -> Result<Refusal, StoreError> {
        let fresh = self
            .store
            .approval(a.id)
            .await?
            .unwrap_or_else(|| a.clone());
        let wanted = match fresh.status {
            ApprovalStatus::Rejected => Decision::Reject,
            _ => Decision::Approve,
        };
        let deciders = self
            .store
            .decisions(a.id)
            .await?
            .into_iter()
            .filter(|d| d.decision == wanted)
            .map(|d| d.person)
            .collect();
        Ok(Refusal::Closed {
            approval: a.id,
            status: fresh.status,
            deciders,
            decided_at: fresh.decided_at,
            expires_at: a.expires_at,
            requested_by: a.requested_by.clone(),
            run_id: fresh.run_id,
        })
    }

    /// Closes a request as expired; true only when this call closed it (another process or a
    /// racing approval may have got there first).
    async fn expire(&self, a: &ApprovalRecord) -> Result<bool, StoreError> {
        let closed = self
            .store
            .close_approval(a.id, ApprovalStatus::Expired, crate::clock::now_ms())
            .await?;
        if closed {
            self.audit
                .log(
                    "deckhand",
                    AuditEvent::ApprovalExpired {
                        approval: a.id,
                        requested_by: a.requested_by.clone(),
                    },
                )
                .await;
        }
        Ok(closed)
    }

    /// Expires pending requests whose time is up; returns the ones this call closed, for
    /// their origins to be told. Runs periodically (see [`Commander::sweep`]).
    pub async fn expire_approvals(&self) -> Vec<Expired> {
        let due = match self
            .store
            .expired_pending_approvals(crate::clock::now_ms())
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "could not read approval requests to expire");
                return Vec::new();
            }
        };
        let mut closed = Vec::new();
        for a in due {
            match self.expire(&a).await {
                Ok(true) => closed.push(Expired {
                    plan: plan_of_request(&a),
                    approval: a,
                }),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, approval_id = a.id, "could not expire the approval request");
                }
            }
        }
        closed
    }

    /// The periodic upkeep: expires approval requests, prunes delivery and thread records.
    /// Returns the requests that expired.
    pub async fn sweep(&self) -> Vec<Expired> {
        let expired = self.expire_approvals().await;
        let day_ago = crate::clock::now_ms() - 86_400_000;
        if let Err(e) = self.store.prune_deliveries(day_ago).await {
            tracing::warn!(error = %e, "could not prune delivered events");
        }
        let quarter_ago = crate::clock::now_ms() - 90 * 86_400_000;
        if let Err(e) = self.store.prune_threads(quarter_ago).await {
            tracing::warn!(error = %e, "could not prune bot threads");
        }
        expired
    }

    /// The requester withdraws their pending request.
    pub(super) async fn withdraw(&self, r: &ApprovalRef, actor: &Actor) -> CommandResult<Outcome> {
        let a = match self.find_approval(r).await? {
            Ok(a) => a,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        };
        if a.status != ApprovalStatus::Pending
            || actor.person.as_deref() != Some(a.requested_by.as_str())
        {
            return Ok(Outcome::Refused(Refusal::NothingToWithdraw {
                approval: a.id,
            }));
        }
        if !self
            .store
            .close_approval(a.id, ApprovalStatus::Cancelled, crate::clock::now_ms())
            .await?
        {
            // An approval or expiry won the race; say what actually happened.
            return Ok(Outcome::Refused(self.closed(&a).await?));
        }
        self.audit
            .log(
                actor.name(),
                AuditEvent::ApprovalWithdrawn { approval: a.id },
            )
            .await;
        // A schedule waiting on it will not run: it goes with its request.
        let mut schedule = None;
        if is_for_schedule(&a) {
            if let Some(s) = self.bound_schedule(a.id).await? {
                if self.cancel_bound(&s, actor).await? {
                    schedule = Some(s.id);
                }
            }
        }
        Ok(Outcome::Answer(Report::Withdrawn {
            approval: a.id,
            schedule,
        }))
    }
}

/// How a recorded decision left the request.
enum Recorded {
    /// It needs no more decisions: it is approved.
    Final,
    /// It is settled otherwise (rejected) or waits for more approvals.
    Waiting(DecisionResult),
}
