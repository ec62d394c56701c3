//! The command layer: every surface (chat, slash commands and buttons, REST API, CLI, MCP,
//! webhooks, schedules) hands Deckhand a typed [`Command`] with an [`Actor`] and an
//! [`Origin`]; one entry point, [`Commander::apply`], checks it (rate limit, roles, locks and
//! freezes, approvals, deploy memory), applies it, records the audit trail, and answers with an
//! [`Outcome`]. A refusal is a value ([`Refusal`]), rendered to words only at each surface's
//! edge.
//!
//! Chat asks "are you sure?" first: [`Commander::check`] (counts towards the rate limit and
//! returns a [`Plan`] with what the person should know), then, on "yes",
//! [`Commander::apply_confirmed`] (checks permissions and locks again, does not count twice).
//! Every other surface calls [`Commander::apply`], which is both in one.
//!
//! # Layout
//! - `names`: [`ServiceName`], [`EnvName`]: names checked against the config.
//! - `refusal`: [`Refusal`] and [`RefusalKind`].
//! - `check`: admission (rate limit), permission and lock checks, the plan of a deploy or
//!   rollback (deploy memory, rollback target, approvals needed).
//! - `runs`: a checked deploy or rollback either waits for approval or starts.
//! - `approvals`: decisions (four-eyes, single use), withdrawal, expiry.
//! - `locks`: locks and freezes.
//! - `stop`: stopping runs.
//! - `reports`: typed answers to the read-only commands.

mod approvals;
mod check;
mod locks;
mod names;
mod plan_watch;
mod plans;
mod query;
mod refusal;
pub mod reports;
mod runs;
mod schedules;
mod stop;

pub use crate::governance::Actor;
pub use crate::origin::Origin;
pub use approvals::{
    plan_of_request, ApprovalTicket, DecisionReport, DecisionResult, Expired, Gate,
};
pub use check::{LockPlan, Plan, RunPlan, StepNote, StopPlan};
pub use locks::{LockReport, UnlockReport};
pub use names::{EnvName, ServiceName};
pub use plans::{PlanSpec, PlanStarted, Undo};
pub use query::Query;
pub use refusal::{Refusal, RefusalKind};
pub use schedules::{
    describe_command, ScheduleEntry, ScheduleRef, ScheduleReport, ScheduleSpec, SchedulesQuery,
    SchedulesReport, UnscheduleReport, MAX_AHEAD_MS,
};
pub use stop::{EndedPlan, StopReport};

use crate::audit::{Audit, AuditEvent};
use crate::config::{Config, Strategy};
use crate::governance::Governance;
use crate::pipeline::Executor;
use crate::store::{Action, Decision, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Where a started run reports its progress (typed events; each surface renders them).
pub type Progress = Arc<dyn crate::pipeline::ProgressSink>;

/// Something a person (or a configured CI/agent identity) asked Deckhand to do.
///
/// It serialises for storage (an approval keeps the command it waits on). Names read back
/// are resolved again against the config before anything acts on them; a surface that
/// accepts JSON from outside resolves names itself rather than deserialising a `Command`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Deploy a version of a service to an environment.
    Deploy(RunCommand),
    /// Roll a service back in an environment (to a named version, or the previous release).
    Rollback(RunCommand),
    /// Lock (freeze) an environment, or one service in it.
    Lock(LockSpec),
    /// Lift the lock of an environment, or of one service in it.
    Unlock(LockTarget),
    /// Stop runs in progress.
    Stop(StopTarget),
    /// Approve or reject an approval request.
    Decide(Decide),
    /// The requester withdraws their own pending approval request.
    Withdraw(ApprovalRef),
    /// Store a command to run once at a time.
    Schedule(ScheduleSpec),
    /// Cancel a schedule before it fires.
    Unschedule(ScheduleRef),
    /// Deploy several services one after another.
    Plan(PlanSpec),
    /// A question (status, history, explain, context, readiness); never stored, so it is
    /// not serialised.
    #[serde(skip)]
    Query(Query),
}

/// A deploy's or rollback's target and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunCommand {
    /// The service.
    pub service: ServiceName,
    /// The environment.
    pub environment: EnvName,
    /// The version (None: the latest build; for a rollback, the previous good release).
    pub version: Option<String>,
    /// The strategy (None: deploy memory's recommendation, else the environment's default).
    pub strategy: Option<Strategy>,
    /// Canary percent.
    pub percent: Option<u8>,
}

/// What a lock covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LockTarget {
    /// The environment.
    pub environment: EnvName,
    /// One service in it (None: the whole environment).
    pub service: Option<ServiceName>,
}

impl LockTarget {
    /// `staging` or `payments-api in production`.
    pub fn scope(&self) -> String {
        match &self.service {
            Some(s) => format!("{s} in {}", self.environment),
            None => self.environment.to_string(),
        }
    }
}

/// A lock to put in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockSpec {
    /// What it covers.
    pub target: LockTarget,
    /// How long (None: until someone unlocks).
    #[serde(default, with = "opt_secs")]
    pub duration: Option<Duration>,
    /// The duration as the person wrote it ("2 h"), for messages.
    pub duration_text: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// A window with its own start ("from Friday 16:00 to Monday 08:00") or end ("until
    /// 18:00"); it replaces `duration`, and `duration_text` then words the window.
    #[serde(default)]
    pub window: Option<LockWindow>,
    /// Whether rollbacks go through (default: a window lets them, a plain lock does not).
    #[serde(default)]
    pub rollbacks: Option<crate::config::RollbackRule>,
}

/// When a lock with its own start holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LockWindow {
    /// Starts, unix ms.
    pub from: i64,
    /// Ends, unix ms (after `from`).
    pub until: i64,
}

impl LockWindow {
    /// The rollback rule of a window asked for at `now` when the person said none: a freeze
    /// that starts later is planned (like the config's windows) and lets rollbacks through; a
    /// lock in force now is an incident and stops them. Decided once, when it is asked for, so
    /// the confirmation and the stored lock agree even if the start passes before "yes".
    pub fn default_rollbacks(&self, now: i64) -> crate::config::RollbackRule {
        use crate::config::RollbackRule;
        if self.from > now {
            RollbackRule::Allow
        } else {
            RollbackRule::Deny
        }
    }
}

impl LockSpec {
    /// A lock of `target` for `duration` (None: until lifted), as said.
    pub fn plain(
        target: LockTarget,
        duration: Option<Duration>,
        reason: Option<String>,
    ) -> LockSpec {
        LockSpec {
            target,
            duration,
            duration_text: duration.map(crate::timefmt::span),
            reason,
            window: None,
            rollbacks: None,
        }
    }

    /// Whether rollbacks go through this lock: as decided when it was asked for (see
    /// [`LockWindow::default_rollbacks`]); a lock that says nothing stops them.
    pub fn rollback_rule(&self) -> crate::config::RollbackRule {
        self.rollbacks.unwrap_or(crate::config::RollbackRule::Deny)
    }
}

/// A run, by its store id (also `DECKHAND_RUN_ID`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Which runs to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum StopTarget {
    /// One run, by id.
    Run {
        /// The run.
        id: RunId,
    },
    /// These runs and plans (a confirmed "Stop run 3 and plan #2?").
    Runs {
        /// The runs.
        ids: Vec<RunId>,
        /// The plans (their running step's run, and the steps after it).
        #[serde(default)]
        plans: Vec<i64>,
    },
    /// The runs in progress that were started from this origin (a chat thread's "cancel").
    From {
        /// The origin.
        origin: Origin,
    },
}

/// Which approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum ApprovalRef {
    /// By id (a button, the REST API).
    Id {
        /// The request.
        id: i64,
    },
    /// The newest request made from this origin ("approve" typed in its thread).
    LatestFrom {
        /// The origin.
        origin: Origin,
    },
}

/// A decision on an approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decide {
    /// Which request.
    pub approval: ApprovalRef,
    /// Approve or reject.
    pub decision: Decision,
}

impl Command {
    /// The deploy or rollback inside, with its action.
    pub fn run(&self) -> Option<(Action, &RunCommand)> {
        match self {
            Command::Deploy(r) => Some((Action::Deploy, r)),
            Command::Rollback(r) => Some((Action::Rollback, r)),
            _ => None,
        }
    }

    /// Builds the deploy or rollback command for an action.
    pub fn for_action(action: Action, run: RunCommand) -> Command {
        match action {
            Action::Deploy => Command::Deploy(run),
            Action::Rollback => Command::Rollback(run),
        }
    }

    /// What was asked, as one word for the audit log (`deploy`, `lock`, `approve`, ...).
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Deploy(_) => "deploy",
            Command::Rollback(_) => "rollback",
            Command::Lock(_) => "lock",
            Command::Unlock(_) => "unlock",
            Command::Stop(_) => "cancel",
            Command::Decide(d) => d.decision.as_str(),
            Command::Withdraw(_) => "withdraw",
            Command::Schedule(_) => "schedule",
            Command::Unschedule(_) => "unschedule",
            Command::Plan(_) => "plan",
            Command::Query(_) => "query",
        }
    }

    /// What the audit log says the command is about.
    fn subject(&self) -> String {
        match self {
            Command::Deploy(r) | Command::Rollback(r) => {
                format!("{}/{}", r.service, r.environment)
            }
            Command::Lock(l) => l.target.scope(),
            Command::Unlock(t) => t.scope(),
            Command::Stop(_) | Command::Withdraw(_) => "cancel".into(),
            Command::Schedule(s) => s.command.subject(),
            Command::Unschedule(r) => format!("schedule {}", r.id),
            Command::Plan(p) => p
                .steps
                .iter()
                .map(|r| format!("{}/{}", r.service, r.environment))
                .collect::<Vec<_>>()
                .join(", "),
            Command::Query(_) => "query".into(),
            Command::Decide(d) => match &d.approval {
                ApprovalRef::Id { id } => format!("approval {id}"),
                ApprovalRef::LatestFrom { .. } => "approval".into(),
            },
        }
    }

    /// Whether the command counts towards the person's rate limit (withdrawing a request
    /// of one's own does not: it only undoes).
    fn is_rate_limited(&self) -> bool {
        !matches!(self, Command::Withdraw(_) | Command::Query(_))
    }
}

/// What a command led to.
#[derive(Debug)]
pub enum Outcome {
    /// A run started.
    Started(Started),
    /// The command waits for approval.
    AwaitingApproval(ApprovalTicket),
    /// A typed answer.
    Answer(Report),
    /// Refused; nothing happened.
    Refused(Refusal),
}

/// A run that started.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// The run's id.
    pub run_id: RunId,
    /// Deploy or rollback.
    pub action: Action,
    /// What runs.
    pub command: RunCommand,
    /// Await the run's outcome or subscribe to its progress.
    #[serde(skip)]
    pub handle: crate::pipeline::RunHandle,
}

/// A typed answer; surfaces render it (chat as text, the API as JSON).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "report", rename_all = "snake_case")]
pub enum Report {
    /// A decision on an approval request was recorded.
    Decided(DecisionReport),
    /// A lock is in place.
    Locked(LockReport),
    /// Locks were lifted.
    Unlocked(UnlockReport),
    /// Runs are being stopped.
    Stopping(StopReport),
    /// The requester's pending request was withdrawn.
    Withdrawn {
        /// The request.
        approval: i64,
        /// The schedule that waited on it, cancelled with it.
        schedule: Option<i64>,
    },
    /// What is live where.
    Status(Box<reports::StatusReport>),
    /// The latest deployments.
    History(Box<reports::HistoryReport>),
    /// Why the last failed run failed.
    Explanation(Box<reports::Explanation>),
    /// Deploy memory for one target.
    Context(Box<reports::ContextReport>),
    /// Whether a service is ready to go out.
    Readiness(Box<reports::ReadinessReport>),
    /// A command was stored to run later.
    Scheduled(Box<ScheduleReport>),
    /// A schedule was cancelled.
    Unscheduled(Box<UnscheduleReport>),
    /// The schedules.
    Schedules(Box<SchedulesReport>),
    /// Newer versions and where they could go.
    Updates(Box<reports::UpdatesReport>),
    /// A plan started.
    PlanStarted(Box<PlanStarted>),
}

/// A fault below the command layer (the store failed): nothing the person did wrong.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a check, decision or run start reports for one step of work.
pub type CommandResult<T> = Result<T, CommandError>;

/// Checks and applies commands: the one place governance, locks, rate limits, approvals,
/// deploy memory and audit happen, for every surface alike.
#[derive(Clone)]
pub struct Commander {
    config: Arc<Config>,
    store: Store,
    executor: Executor,
    governance: Arc<Governance>,
    audit: Audit,
    plans: plan_watch::ActivePlans,
}

impl Commander {
    /// A command layer over this config, store and executor.
    pub fn new(config: Arc<Config>, store: Store, executor: Executor, audit: Audit) -> Commander {
        let governance = Arc::new(Governance::new(config.clone()));
        Commander {
            config,
            store,
            executor,
            governance,
            audit,
            plans: plan_watch::ActivePlans::default(),
        }
    }

    /// The config in use.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The store in use.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The executor in use.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The policies in use.
    pub fn governance(&self) -> &Governance {
        &self.governance
    }

    /// Checks and applies a command in one go (every surface that does not ask "are you
    /// sure?" first).
    pub async fn apply(
        &self,
        command: Command,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        let outcome = match self.admit(&command, actor).await {
            Err(refusal) => Outcome::Refused(refusal),
            Ok(()) => self.carry_out(command, actor, origin, progress).await?,
        };
        Ok(self.counted(outcome))
    }

    /// What a command would do and what the person should know before saying yes, or why it
    /// cannot be done. Counts towards the rate limit (this is the moment a person asks).
    pub async fn check(
        &self,
        command: &Command,
        actor: &Actor,
    ) -> CommandResult<Result<Plan, Refusal>> {
        let result = match self.admit(command, actor).await {
            Err(refusal) => Err(refusal),
            Ok(()) => self.plan(command, actor).await?,
        };
        Ok(self.counted_check(result))
    }

    /// [`Commander::check`] again for a request already checked once (a correction at its
    /// confirmation): everything is checked, the rate limit is not counted twice.
    pub(crate) async fn recheck(
        &self,
        command: &Command,
        actor: &Actor,
    ) -> CommandResult<Result<Plan, Refusal>> {
        let result = self.plan(command, actor).await?;
        Ok(self.counted_check(result))
    }

    /// Applies a command the same actor has already had checked (and confirmed): everything
    /// is checked again (time has passed: roles, locks, the rollback target), except that the
    /// rate limit is not counted twice. A surface without a confirmation step calls
    /// [`Commander::apply`] instead.
    pub(crate) async fn apply_confirmed(
        &self,
        command: Command,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        let outcome = self.carry_out(command, actor, origin, progress).await?;
        Ok(self.counted(outcome))
    }

    /// The process's metrics (shared with the executor).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        self.executor.metrics()
    }

    /// The one place a refusal leaves the command layer as an outcome: counted by kind.
    fn counted(&self, outcome: Outcome) -> Outcome {
        if let Outcome::Refused(refusal) = &outcome {
            self.metrics().refused(refusal.kind());
        }
        outcome
    }

    /// The same for a check's answer.
    fn counted_check(&self, result: Result<Plan, Refusal>) -> Result<Plan, Refusal> {
        if let Err(refusal) = &result {
            self.metrics().refused(refusal.kind());
        }
        result
    }

    /// Checks (all but the rate limit) and carries out a command; refusals are returned, not
    /// counted (the public entry points count them).
    async fn carry_out(
        &self,
        command: Command,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        let command = match &command {
            Command::Deploy(_) | Command::Rollback(_) => match self.plan(&command, actor).await? {
                Ok(Plan::Run(plan)) => plan.command(),
                Ok(_) => command,
                Err(refusal) => return Ok(Outcome::Refused(refusal)),
            },
            _ => command,
        };
        let outcome = match command {
            Command::Deploy(run) => {
                self.request_run(Action::Deploy, run, actor, origin, progress)
                    .await?
            }
            Command::Rollback(run) => {
                self.request_run(Action::Rollback, run, actor, origin, progress)
                    .await?
            }
            Command::Lock(spec) => self.lock(&spec, actor).await?,
            Command::Unlock(target) => self.unlock(&target, actor).await?,
            Command::Stop(target) => self.stop(&target, actor).await?,
            Command::Decide(d) => self.decide(&d, actor, progress).await?,
            Command::Withdraw(r) => self.withdraw(&r, actor).await?,
            Command::Schedule(spec) => self.schedule(&spec, actor, origin).await?,
            Command::Unschedule(r) => self.unschedule(&r, actor).await?,
            Command::Plan(spec) => self.start_plan(spec, actor, origin, progress).await?,
            Command::Query(q) => Outcome::Answer(self.query(&q).await?),
        };
        Ok(outcome)
    }

    /// Records a refusal in the audit log when it is one worth keeping (a person tried
    /// something the rules stopped), and hands it back.
    async fn refused(
        &self,
        command_verb: &str,
        subject: &str,
        actor: &Actor,
        refusal: Refusal,
    ) -> Refusal {
        if refusal.is_audited() {
            self.audit
                .log(
                    actor.name(),
                    AuditEvent::Refusal {
                        subject: subject.to_string(),
                        intent: command_verb.to_string(),
                        identity: actor.identity.clone(),
                        refusal: serde_json::to_value(&refusal).unwrap_or_default(),
                    },
                )
                .await;
        }
        refusal
    }
}

/// `Option<Duration>` as whole seconds in JSON.
mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}
