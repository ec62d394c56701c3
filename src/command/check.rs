//! Before anything happens: admission (the rate limit), permission and lock checks, and the
//! plan a person confirms (deploy memory's recommendation, what is live, the rollback target,
//! approvals needed; the lock or the runs a "yes" would affect).

use super::{
    Actor, Command, CommandResult, Commander, LockSpec, LockTarget, Refusal, RunCommand, StopTarget,
};
use crate::governance::{blocking_lock, Denial, Verb};
use crate::memory::{Facts, Recommendation};
use crate::nlu::version_order_key;
use crate::store::{Action, Deployment, LockRecord, RunRecord, StoreError};
use std::time::Duration;

/// Shortest and longest lock a duration may ask for; longer freezes are unlocked by hand.
pub(super) const MIN_LOCK: Duration = Duration::from_secs(60);
pub(super) const MAX_LOCK: Duration = Duration::from_secs(90 * 86_400);

/// What a command would do, for the person to confirm.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A deploy or rollback.
    Run(Box<RunPlan>),
    /// A lock or unlock.
    Lock(Box<LockPlan>),
    /// Stopping runs.
    Stop(StopPlan),
    /// A plan's steps that deploy memory has something to say about.
    Steps(Vec<StepNote>),
    /// Nothing to show beforehand (decisions, withdrawals).
    Direct,
}

/// Deploy memory's word on one step of a plan: the recommended strategy applies to the step
/// when none was asked for, as for a single deploy.
#[derive(Debug, Clone)]
pub struct StepNote {
    /// The step's service.
    pub service: String,
    /// The recommendation.
    pub recommendation: crate::memory::Recommendation,
}

/// A deploy or rollback as it would run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Deploy or rollback.
    pub action: Action,
    /// The command with what the plan settled: the strategy (asked, recommended or the
    /// environment's default) and, for a rollback, the target version.
    pub run: RunCommand,
    /// The strategy that runs.
    pub strategy: crate::config::Strategy,
    /// Deploy memory's recommendation (its strategy applies when none was asked for).
    pub recommendation: Option<Recommendation>,
    /// The live release, when its checks did not pass (a deploy's warning).
    pub live_unhealthy: Option<Deployment>,
    /// For a rollback: the version live now.
    pub current: Option<String>,
    /// Approvals needed before it runs.
    pub approvals_required: u32,
    /// Roles that may approve.
    pub approver_roles: Option<Vec<String>>,
}

impl RunPlan {
    /// The command as planned.
    pub fn command(&self) -> Command {
        Command::for_action(self.action, self.run.clone())
    }
}

/// A lock or unlock as it would happen.
#[derive(Debug, Clone)]
pub struct LockPlan {
    /// What it covers.
    pub target: LockTarget,
    /// For a lock: the spec; for an unlock: None.
    pub spec: Option<LockSpec>,
    /// For an unlock: the lock that would be lifted.
    pub existing: Option<LockRecord>,
}

/// The runs and plans a "yes" would stop.
#[derive(Debug, Clone)]
pub struct StopPlan {
    /// The runs, in progress, that the person may stop (not a plan's steps).
    pub runs: Vec<RunRecord>,
    /// The plans, running, that the person may stop.
    pub plans: Vec<crate::store::PlanRecord>,
}

impl From<Denial> for Refusal {
    fn from(d: Denial) -> Refusal {
        match d {
            Denial::UnknownIdentity { identity, verb } => {
                Refusal::UnknownIdentity { identity, verb }
            }
            Denial::NotPermitted {
                person,
                verb,
                service,
                environment,
                needed,
                held,
            } => Refusal::NotPermitted {
                person,
                verb,
                service,
                environment,
                needed,
                held,
            },
        }
    }
}

fn verb_of(action: Action) -> Verb {
    match action {
        Action::Deploy => Verb::Deploy,
        Action::Rollback => Verb::Rollback,
    }
}

impl Commander {
    /// The rate limit: every command a person asks for counts once.
    pub(super) async fn admit(&self, command: &Command, actor: &Actor) -> Result<(), Refusal> {
        if !command.is_rate_limited() {
            return Ok(());
        }
        match self.governance.check_rate(actor) {
            Ok(()) => Ok(()),
            Err(r) => {
                let refusal = Refusal::RateLimited {
                    retry_in: r.retry_in,
                    limit: r.limit,
                    window: r.window,
                };
                Err(self
                    .refused(command.verb(), "rate limit", actor, refusal)
                    .await)
            }
        }
    }

    /// The plan of a command, or why it cannot be done (permission, locks, nothing to roll
    /// back, already locked, ...).
    pub(super) async fn plan(
        &self,
        command: &Command,
        actor: &Actor,
    ) -> CommandResult<Result<Plan, Refusal>> {
        let plan = match command {
            Command::Deploy(_) | Command::Rollback(_) => self
                .run_plan(command, actor)
                .await?
                .map(|p| Plan::Run(Box::new(p))),
            Command::Lock(spec) => self
                .lock_plan(spec, actor)
                .await?
                .map(|p| Plan::Lock(Box::new(p))),
            Command::Unlock(target) => self
                .unlock_plan(target, actor)
                .await?
                .map(|p| Plan::Lock(Box::new(p))),
            Command::Stop(target) => self.stop_plan(target, actor).await?.map(Plan::Stop),
            Command::Schedule(spec) => self
                .verify_schedule(spec, actor)
                .await
                .map(|()| Plan::Direct),
            Command::Plan(spec) => match self.verify_plan(spec, actor).await {
                Ok(()) => Ok(Plan::Steps(self.plan_notes(spec).await?)),
                Err(refusal) => Err(refusal),
            },
            Command::Decide(_)
            | Command::Withdraw(_)
            | Command::Unschedule(_)
            | Command::Query(_) => Ok(Plan::Direct),
        };
        Ok(plan)
    }

    /// Whether `actor` may run this deploy or rollback now: their role, then locks.
    pub(super) async fn verify_run(
        &self,
        action: Action,
        run: &RunCommand,
        actor: &Actor,
    ) -> CommandResult<Result<(), Refusal>> {
        let (service, environment) = (run.service.as_str(), run.environment.as_str());
        if let Err(denial) =
            self.governance
                .authorize(actor, verb_of(action), Some(service), environment)
        {
            return Ok(Err(denial.into()));
        }
        let now = crate::clock::now_ms();
        let rollback = action == Action::Rollback;
        if let Some(window) = self
            .governance
            .freeze_in_force(service, environment, rollback, now)
        {
            return Ok(Err(Refusal::Frozen {
                window: Box::new(window),
                verb: verb_of(action),
            }));
        }
        let locks = self.store.active_locks(Some(environment), now).await?;
        if let Some(lock) = blocking_lock(&locks, service, environment, rollback) {
            return Ok(Err(Refusal::Locked {
                lock: Box::new(lock.clone()),
            }));
        }
        Ok(Ok(()))
    }

    async fn run_plan(
        &self,
        command: &Command,
        actor: &Actor,
    ) -> CommandResult<Result<RunPlan, Refusal>> {
        let Some((action, run)) = command.run() else {
            unreachable!("run_plan is only called for deploys and rollbacks")
        };
        if let Err(refusal) = self.verify_run(action, run, actor).await? {
            return Ok(Err(self
                .refused(command.verb(), &command.subject(), actor, refusal)
                .await));
        }
        let (service, environment) = (run.service.as_str(), run.environment.as_str());
        let mut run = run.clone();
        let mut plan = RunPlan {
            action,
            strategy: self.default_strategy(&run),
            run: run.clone(),
            recommendation: None,
            live_unhealthy: None,
            current: None,
            approvals_required: self.governance.approvals_required(service, environment),
            approver_roles: self.governance.approver_roles(service, environment),
        };
        match action {
            Action::Deploy => {
                if let (_, Some(rec)) = self.memory(service, environment).await? {
                    // The person's explicit strategy wins; the warning stays.
                    if run.strategy.is_none() {
                        run.strategy = Some(rec.strategy);
                        run.percent = rec.percent;
                    }
                    plan.recommendation = Some(rec);
                }
                let live = self
                    .store
                    .live_versions(Some(service), Some(environment))
                    .await?;
                plan.live_unhealthy = live.into_iter().next().filter(|d| d.live_note().is_some());
            }
            Action::Rollback => match self.rollback_target(&run).await? {
                Ok((current, target)) => {
                    plan.current = current;
                    run.version = Some(target);
                }
                Err(refusal) => return Ok(Err(refusal)),
            },
        }
        plan.strategy = self.default_strategy(&run);
        plan.run = run;
        Ok(Ok(plan))
    }

    /// The strategy asked for, else the environment's default.
    pub(super) fn default_strategy(&self, run: &RunCommand) -> crate::config::Strategy {
        run.strategy.unwrap_or_else(|| {
            self.config
                .environment(run.environment.as_str())
                .map(|e| e.default_strategy)
                .unwrap_or_default()
        })
    }

    /// A rollback's (current, target) versions, or why there is nothing to roll back.
    pub(super) async fn rollback_target(
        &self,
        run: &RunCommand,
    ) -> CommandResult<Result<(Option<String>, String), Refusal>> {
        let (service, environment) = (run.service.as_str(), run.environment.as_str());
        let live = self
            .store
            .live_versions(Some(service), Some(environment))
            .await?;
        let current = live.first().and_then(|d| d.version.clone());
        let target = match &run.version {
            Some(v) => Some(v.clone()),
            None => self.store.rollback_target(service, environment).await?,
        };
        let Some(target) = target else {
            return Ok(Err(Refusal::NothingToRollBack {
                service: service.to_string(),
                environment: environment.to_string(),
                current,
            }));
        };
        // `2.4.1` asked while `v2.4.1` runs is the same release: name the live tag.
        if let Some(c) = current
            .as_ref()
            .filter(|c| **c == target || version_order_key(c) == version_order_key(&target))
        {
            return Ok(Err(Refusal::AlreadyOn {
                service: service.to_string(),
                environment: environment.to_string(),
                version: c.clone(),
            }));
        }
        Ok(Ok((current, target)))
    }

    /// Deploy memory for a service in an environment.
    /// Deploy memory's recommendations for the deploy steps of a plan that ask no strategy.
    async fn plan_notes(&self, spec: &super::PlanSpec) -> Result<Vec<StepNote>, StoreError> {
        let mut notes = Vec::new();
        if spec.rollback_of.is_some() {
            return Ok(notes);
        }
        for run in spec.steps.iter().filter(|r| r.strategy.is_none()) {
            if let (_, Some(recommendation)) = self
                .memory(run.service.as_str(), run.environment.as_str())
                .await?
            {
                notes.push(StepNote {
                    service: run.service.to_string(),
                    recommendation,
                });
            }
        }
        Ok(notes)
    }

    pub(super) async fn memory(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<(Facts, Option<Recommendation>), StoreError> {
        super::reports::memory(&self.config, &self.store, service, environment).await
    }

    /// May `actor` lock or unlock this scope? The refusal is audited.
    pub(super) async fn verify_lock(
        &self,
        command: &str,
        target: &LockTarget,
        actor: &Actor,
    ) -> Result<(), Refusal> {
        let service = target.service.as_ref().map(|s| s.as_str());
        match self
            .governance
            .authorize(actor, Verb::Lock, service, target.environment.as_str())
        {
            Ok(()) => Ok(()),
            Err(denial) => Err(self
                .refused(command, &target.scope(), actor, denial.into())
                .await),
        }
    }

    async fn lock_plan(
        &self,
        spec: &LockSpec,
        actor: &Actor,
    ) -> CommandResult<Result<LockPlan, Refusal>> {
        if let Err(refusal) = self.verify_lock("lock", &spec.target, actor).await {
            return Ok(Err(refusal));
        }
        if let Some(l) = self.clashing_lock(spec).await? {
            return Ok(Err(Refusal::AlreadyLocked { lock: Box::new(l) }));
        }
        if let Some(refusal) = duration_refusal(spec) {
            return Ok(Err(refusal));
        }
        Ok(Ok(LockPlan {
            target: spec.target.clone(),
            spec: Some(spec.clone()),
            existing: None,
        }))
    }

    async fn unlock_plan(
        &self,
        target: &LockTarget,
        actor: &Actor,
    ) -> CommandResult<Result<LockPlan, Refusal>> {
        if let Err(refusal) = self.verify_lock("unlock", target, actor).await {
            return Ok(Err(refusal));
        }
        let locks = self.liftable_locks(target).await?;
        Ok(match to_lift(&locks, target).first() {
            Some(l) => Ok(LockPlan {
                target: target.clone(),
                spec: None,
                existing: Some((*l).clone()),
            }),
            None => Err(Refusal::NotLocked {
                scope: target.scope(),
                others: locks,
            }),
        })
    }

    /// The scope's own lock (in force, or a window that starts later) whose time overlaps the
    /// lock `spec` asks for, if any: two locks of one scope at once would make "unlock"
    /// ambiguous.
    pub(super) async fn clashing_lock(
        &self,
        spec: &LockSpec,
    ) -> Result<Option<LockRecord>, StoreError> {
        let now = crate::clock::now_ms();
        let (start, end) = match spec.window {
            Some(w) => (w.from.max(now), Some(w.until)),
            None => (now, spec.duration.map(|d| now + d.as_millis() as i64)),
        };
        let service = spec.target.service.as_ref().map(|s| s.as_str());
        let locks = self.liftable_locks(&spec.target).await?;
        Ok(locks
            .into_iter()
            .filter(|l| l.service.as_deref() == service)
            .find(|l| {
                let starts_before_end = end.is_none_or(|e| l.effective_from() < e);
                let ends_after_start = l.expires_at.is_none_or(|x| x > start);
                starts_before_end && ends_after_start
            }))
    }

    /// The locks "unlock" may lift in the target's environment: those in force, then freeze
    /// windows that start later.
    pub(super) async fn liftable_locks(
        &self,
        target: &LockTarget,
    ) -> Result<Vec<LockRecord>, StoreError> {
        let (env, now) = (target.environment.as_str(), crate::clock::now_ms());
        let mut locks = self.store.active_locks(Some(env), now).await?;
        locks.extend(self.store.scheduled_locks(Some(env), now).await?);
        Ok(locks)
    }

    async fn stop_plan(
        &self,
        target: &StopTarget,
        actor: &Actor,
    ) -> CommandResult<Result<StopPlan, Refusal>> {
        let candidates = match self.stop_candidates(target).await? {
            Ok(c) => c,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut runs = Vec::new();
        let mut plans = Vec::new();
        let mut refusal = None;
        for plan in candidates.plans {
            match self.may_stop_plan(actor, &plan) {
                Ok(()) => plans.push(plan),
                Err(why) => refusal = Some(why),
            }
        }
        for id in candidates.runs {
            match self.may_stop(actor, id).await? {
                Ok(run) => runs.push(run),
                Err(why) => refusal = Some(why),
            }
        }
        if runs.is_empty() && plans.is_empty() {
            return Ok(Err(match refusal {
                Some(why) => self.refused("cancel", "cancel", actor, why).await,
                None => self.nothing_running_here(target).await?,
            }));
        }
        Ok(Ok(StopPlan { runs, plans }))
    }
}

impl Commander {
    /// Why nothing can be stopped: nothing runs, or what runs is a plan of another process.
    async fn nothing_running_here(&self, target: &StopTarget) -> CommandResult<Refusal> {
        let StopTarget::From { origin } = target else {
            return Ok(Refusal::NothingRunning);
        };
        Ok(
            match self.store.running_plans_elsewhere(origin).await?.first() {
                Some((plan, owner)) => Refusal::PlanElsewhere {
                    plan: *plan,
                    owner: owner.clone(),
                },
                None => Refusal::NothingRunning,
            },
        )
    }
}

/// What "unlock" lifts, of `locks` (in force first, then scheduled): the scope's own locks in
/// force; when none is, the scope's soonest freeze window that starts later. Never both, so
/// lifting an incident lock leaves next weekend's planned freeze in place.
pub(super) fn to_lift<'a>(locks: &'a [LockRecord], target: &LockTarget) -> Vec<&'a LockRecord> {
    let service = target.service.as_ref().map(|s| s.as_str());
    let now = crate::clock::now_ms();
    let own = || {
        locks
            .iter()
            .filter(move |l| l.service.as_deref() == service)
    };
    let in_force: Vec<&LockRecord> = own().filter(|l| l.effective_from() <= now).collect();
    if !in_force.is_empty() {
        return in_force;
    }
    own()
        .min_by_key(|l| l.effective_from())
        .into_iter()
        .collect()
}

/// Why a lock of this duration is refused, if it is.
pub(super) fn duration_refusal(spec: &LockSpec) -> Option<Refusal> {
    let length = match spec.window {
        // What remains of it from now: a window said with its start already past holds from now.
        Some(w) => Some(Duration::from_millis(
            (w.until - w.from.max(crate::clock::now_ms())).max(0) as u64,
        )),
        None => spec.duration,
    };
    let d = length.filter(|d| *d < MIN_LOCK || *d > MAX_LOCK)?;
    Some(Refusal::BadLockDuration {
        asked: spec
            .duration_text
            .clone()
            .unwrap_or_else(|| crate::timefmt::span(d)),
        min: MIN_LOCK,
        max: MAX_LOCK,
    })
}
