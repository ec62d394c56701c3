//! Why a command was not carried out, as facts: each surface renders a [`Refusal`] at its
//! own edge (chat as a sentence, REST as problem details, MCP as a tool error), and tests
//! assert its [`RefusalKind`] rather than its wording.

use crate::governance::{FreezeSpan, Verb};
use crate::store::{ApprovalStatus, LockRecord, RunRecord};
use serde::Serialize;
use std::time::Duration;

/// A command that was refused; nothing happened because of it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The platform identity maps to no person in the config.
    UnknownIdentity {
        /// `platform:id`.
        identity: String,
        /// What they tried (`deploy`, `lock or unlock`, ...).
        verb: Verb,
    },
    /// The person lacks a role the policy asks for.
    NotPermitted {
        /// Who asked.
        person: String,
        /// What they tried.
        verb: Verb,
        /// The service, when the policy is the service's own.
        service: Option<String>,
        /// The environment.
        environment: String,
        /// Roles any of which would do (empty: nobody may).
        needed: Vec<String>,
        /// Roles the person holds.
        held: Vec<String>,
    },
    /// A lock or freeze covers the target.
    Locked {
        /// The lock.
        lock: Box<LockRecord>,
    },
    /// A freeze window from the config is open over the target.
    Frozen {
        /// The window's opening in force.
        window: Box<FreezeSpan>,
        /// What was refused: `deploy` or `rollback`.
        verb: Verb,
    },
    /// Too many actions in the window.
    RateLimited {
        /// How long until one more is allowed.
        #[serde(with = "secs")]
        retry_in: Duration,
        /// Actions allowed per window.
        limit: u32,
        /// The window.
        #[serde(with = "secs")]
        window: Duration,
    },
    /// Another run holds the target.
    Busy {
        /// The run in progress.
        run: Box<RunRecord>,
    },
    /// No earlier good release to roll back to.
    NothingToRollBack {
        /// Service.
        service: String,
        /// Environment.
        environment: String,
        /// What is live now, if anything.
        current: Option<String>,
    },
    /// The target already runs that version.
    AlreadyOn {
        /// Service.
        service: String,
        /// Environment.
        environment: String,
        /// The version live.
        version: String,
    },
    /// The service's pipeline has no rollback pipeline.
    NoRollbackPipeline {
        /// Service.
        service: String,
    },
    /// A request in the same thread still waits for approval.
    ApprovalPending {
        /// Its id.
        approval: i64,
        /// Who asked for it.
        requested_by: String,
    },
    /// The requester tried to decide on their own request (four-eyes rule).
    OwnRequest {
        /// The request.
        approval: i64,
        /// What they tried.
        decision: crate::store::Decision,
        /// Roles that may approve it.
        approver_roles: Option<Vec<String>>,
    },
    /// The person already decided on this request.
    AlreadyDecided {
        /// The request.
        approval: i64,
    },
    /// The request is no longer pending.
    Closed {
        /// The request.
        approval: i64,
        /// How it was closed.
        status: ApprovalStatus,
        /// Who approved (for `approved`) or rejected (for `rejected`) it.
        deciders: Vec<String>,
        /// When it left `pending`, unix ms.
        decided_at: Option<i64>,
        /// Its expiry, unix ms.
        expires_at: i64,
        /// Who asked.
        requested_by: String,
        /// The run it started, if any.
        run_id: Option<i64>,
    },
    /// The request ran out of time (just now closed as expired).
    Expired {
        /// The request.
        approval: i64,
        /// When it expired, unix ms.
        expired_at: i64,
        /// Who asked.
        requested_by: String,
    },
    /// A stored request can no longer run as stored (the config changed, or it cannot be
    /// read); nothing ran.
    StaleRequest {
        /// The request.
        approval: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// There is no approval request with that id.
    UnknownApproval {
        /// The id asked for.
        approval: i64,
    },
    /// The thread (origin) has no approval request to decide on.
    NoApprovalHere,
    /// The request is not the person's own pending request.
    NothingToWithdraw {
        /// The request.
        approval: i64,
    },
    /// There is no run with that id.
    UnknownRun {
        /// The id asked for.
        run: i64,
    },
    /// The run is not in progress (here).
    NotRunning {
        /// The run.
        run: Box<RunRecord>,
    },
    /// Nothing is running in the place asked about.
    NothingRunning,
    /// Nothing runs here, but a plan of this thread runs in another Deckhand process (kind
    /// `nothing_running`: this process cannot stop it).
    PlanElsewhere {
        /// The plan.
        plan: i64,
        /// The process that runs it (`host:pid`).
        owner: String,
    },
    /// The person may not stop this run.
    CannotStop {
        /// The run.
        run: Box<RunRecord>,
        /// Why (a permission refusal).
        because: Box<Refusal>,
    },
    /// The person may not stop this plan (kind `cannot_stop`, as for a run).
    CannotStopPlan {
        /// The plan.
        plan: i64,
        /// Who asked for it.
        requested_by: String,
        /// The step going (or next), as "billionmail → staging".
        step: String,
        /// Why (a permission refusal).
        because: Box<Refusal>,
    },
    /// The scope already has its own lock.
    AlreadyLocked {
        /// The lock.
        lock: Box<LockRecord>,
    },
    /// The scope has no lock of its own.
    NotLocked {
        /// `staging` or `payments-api in production`.
        scope: String,
        /// The locks that do exist in that environment.
        others: Vec<LockRecord>,
    },
    /// A lock duration outside the allowed range.
    BadLockDuration {
        /// The duration asked for, as the user wrote it.
        asked: String,
        /// Shortest allowed.
        #[serde(with = "secs")]
        min: Duration,
        /// Longest allowed.
        #[serde(with = "secs")]
        max: Duration,
    },
    /// No service by that name in the config.
    UnknownService {
        /// The name given.
        name: String,
        /// Configured names close to it.
        suggestions: Vec<String>,
    },
    /// No environment by that name in the config.
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// Configured names close to it.
        suggestions: Vec<String>,
    },
    /// The request lacks a service or an environment.
    Incomplete {
        /// What is missing (`service`, `environment`).
        missing: &'static str,
    },
    /// The executor could not start the run for a configuration reason.
    CannotStart {
        /// The executor's reason.
        reason: String,
    },
    /// The command cannot be stored to run later (the time is past, too far ahead, or the
    /// command is not one that can wait).
    CannotSchedule {
        /// Why.
        reason: String,
    },
    /// No schedule by that id.
    UnknownSchedule {
        /// The id given.
        schedule: i64,
    },
    /// The schedule has fired for the last time or was cancelled.
    ScheduleDone {
        /// The schedule.
        schedule: i64,
        /// When it was cancelled, if it was.
        cancelled_at: Option<i64>,
    },
    /// A scheduled deploy whose approval was not given by its fire time: not run.
    NotApproved {
        /// The approval request bound to the schedule.
        approval: i64,
        /// Where it stands.
        status: ApprovalStatus,
    },
}

/// The kind of a refusal, for tests, metrics and status-code mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// See [`Refusal::UnknownIdentity`].
    UnknownIdentity,
    /// See [`Refusal::NotPermitted`].
    NotPermitted,
    /// See [`Refusal::Locked`].
    Locked,
    /// See [`Refusal::RateLimited`].
    RateLimited,
    /// See [`Refusal::Busy`].
    Busy,
    /// See [`Refusal::NothingToRollBack`].
    NothingToRollBack,
    /// See [`Refusal::AlreadyOn`].
    AlreadyOn,
    /// See [`Refusal::NoRollbackPipeline`].
    NoRollbackPipeline,
    /// See [`Refusal::ApprovalPending`].
    ApprovalPending,
    /// See [`Refusal::OwnRequest`].
    OwnRequest,
    /// See [`Refusal::AlreadyDecided`].
    AlreadyDecided,
    /// See [`Refusal::Closed`].
    Closed,
    /// See [`Refusal::Expired`].
    Expired,
    /// See [`Refusal::StaleRequest`].
    StaleRequest,
    /// See [`Refusal::UnknownApproval`].
    UnknownApproval,
    /// See [`Refusal::NoApprovalHere`].
    NoApprovalHere,
    /// See [`Refusal::NothingToWithdraw`].
    NothingToWithdraw,
    /// See [`Refusal::UnknownRun`].
    UnknownRun,
    /// See [`Refusal::NotRunning`].
    NotRunning,
    /// See [`Refusal::NothingRunning`].
    NothingRunning,
    /// See [`Refusal::CannotStop`].
    CannotStop,
    /// See [`Refusal::AlreadyLocked`].
    AlreadyLocked,
    /// See [`Refusal::NotLocked`].
    NotLocked,
    /// See [`Refusal::BadLockDuration`].
    BadLockDuration,
    /// See [`Refusal::UnknownService`].
    UnknownService,
    /// See [`Refusal::UnknownEnvironment`].
    UnknownEnvironment,
    /// See [`Refusal::Incomplete`].
    Incomplete,
    /// See [`Refusal::CannotStart`].
    CannotStart,
    /// See [`Refusal::Frozen`].
    Frozen,
    /// See [`Refusal::CannotSchedule`].
    CannotSchedule,
    /// See [`Refusal::UnknownSchedule`].
    UnknownSchedule,
    /// See [`Refusal::ScheduleDone`].
    ScheduleDone,
    /// See [`Refusal::NotApproved`].
    NotApproved,
}

impl Refusal {
    /// Its kind.
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::UnknownIdentity { .. } => RefusalKind::UnknownIdentity,
            Refusal::NotPermitted { .. } => RefusalKind::NotPermitted,
            Refusal::Locked { .. } => RefusalKind::Locked,
            Refusal::RateLimited { .. } => RefusalKind::RateLimited,
            Refusal::Busy { .. } => RefusalKind::Busy,
            Refusal::NothingToRollBack { .. } => RefusalKind::NothingToRollBack,
            Refusal::AlreadyOn { .. } => RefusalKind::AlreadyOn,
            Refusal::NoRollbackPipeline { .. } => RefusalKind::NoRollbackPipeline,
            Refusal::ApprovalPending { .. } => RefusalKind::ApprovalPending,
            Refusal::OwnRequest { .. } => RefusalKind::OwnRequest,
            Refusal::AlreadyDecided { .. } => RefusalKind::AlreadyDecided,
            Refusal::Closed { .. } => RefusalKind::Closed,
            Refusal::Expired { .. } => RefusalKind::Expired,
            Refusal::StaleRequest { .. } => RefusalKind::StaleRequest,
            Refusal::UnknownApproval { .. } => RefusalKind::UnknownApproval,
            Refusal::NoApprovalHere => RefusalKind::NoApprovalHere,
            Refusal::NothingToWithdraw { .. } => RefusalKind::NothingToWithdraw,
            Refusal::UnknownRun { .. } => RefusalKind::UnknownRun,
            Refusal::NotRunning { .. } => RefusalKind::NotRunning,
            Refusal::NothingRunning | Refusal::PlanElsewhere { .. } => RefusalKind::NothingRunning,
            Refusal::CannotStop { .. } | Refusal::CannotStopPlan { .. } => RefusalKind::CannotStop,
            Refusal::AlreadyLocked { .. } => RefusalKind::AlreadyLocked,
            Refusal::NotLocked { .. } => RefusalKind::NotLocked,
            Refusal::BadLockDuration { .. } => RefusalKind::BadLockDuration,
            Refusal::UnknownService { .. } => RefusalKind::UnknownService,
            Refusal::UnknownEnvironment { .. } => RefusalKind::UnknownEnvironment,
            Refusal::Incomplete { .. } => RefusalKind::Incomplete,
            Refusal::CannotStart { .. } => RefusalKind::CannotStart,
            Refusal::Frozen { .. } => RefusalKind::Frozen,
            Refusal::CannotSchedule { .. } => RefusalKind::CannotSchedule,
            Refusal::UnknownSchedule { .. } => RefusalKind::UnknownSchedule,
            Refusal::ScheduleDone { .. } => RefusalKind::ScheduleDone,
            Refusal::NotApproved { .. } => RefusalKind::NotApproved,
        }
    }
}

impl Refusal {
    /// Whether the audit log keeps it: a person tried something the rules stopped (roles,
    /// locks, the rate limit, four-eyes, one request per thread). Facts about the world
    /// (nothing to roll back, not locked) are answers, not attempts worth recording.
    pub fn is_audited(&self) -> bool {
        matches!(
            self,
            Refusal::UnknownIdentity { .. }
                | Refusal::NotPermitted { .. }
                | Refusal::Locked { .. }
                | Refusal::Frozen { .. }
                | Refusal::RateLimited { .. }
                | Refusal::ApprovalPending { .. }
                | Refusal::OwnRequest { .. }
                | Refusal::CannotStop { .. }
                | Refusal::CannotStopPlan { .. }
        )
    }
}

impl RefusalKind {
    /// Every kind, for tables and exhaustive tests (`the_list_of_kinds_is_complete` keeps it so).
    pub const ALL: [RefusalKind; 33] = [
        RefusalKind::UnknownIdentity,
        RefusalKind::NotPermitted,
        RefusalKind::Locked,
        RefusalKind::RateLimited,
        RefusalKind::Busy,
        RefusalKind::NothingToRollBack,
        RefusalKind::AlreadyOn,
        RefusalKind::NoRollbackPipeline,
        RefusalKind::ApprovalPending,
        RefusalKind::OwnRequest,
        RefusalKind::AlreadyDecided,
        RefusalKind::Closed,
        RefusalKind::Expired,
        RefusalKind::StaleRequest,
        RefusalKind::UnknownApproval,
        RefusalKind::NoApprovalHere,
        RefusalKind::NothingToWithdraw,
        RefusalKind::UnknownRun,
        RefusalKind::NotRunning,
        RefusalKind::NothingRunning,
        RefusalKind::CannotStop,
        RefusalKind::AlreadyLocked,
        RefusalKind::NotLocked,
        RefusalKind::BadLockDuration,
        RefusalKind::UnknownService,
        RefusalKind::UnknownEnvironment,
        RefusalKind::Incomplete,
        RefusalKind::CannotStart,
        RefusalKind::Frozen,
        RefusalKind::CannotSchedule,
        RefusalKind::UnknownSchedule,
        RefusalKind::ScheduleDone,
        RefusalKind::NotApproved,
    ];

    /// The snake_case name (as in JSON and the conversation tests).
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::UnknownIdentity => "unknown_identity",
            RefusalKind::NotPermitted => "not_permitted",
            RefusalKind::Locked => "locked",
            RefusalKind::RateLimited => "rate_limited",
            RefusalKind::Busy => "busy",
            RefusalKind::NothingToRollBack => "nothing_to_roll_back",
            RefusalKind::AlreadyOn => "already_on",
            RefusalKind::NoRollbackPipeline => "no_rollback_pipeline",
            RefusalKind::ApprovalPending => "approval_pending",
            RefusalKind::OwnRequest => "own_request",
            RefusalKind::AlreadyDecided => "already_decided",
            RefusalKind::Closed => "closed",
            RefusalKind::Expired => "expired",
            RefusalKind::StaleRequest => "stale_request",
            RefusalKind::UnknownApproval => "unknown_approval",
            RefusalKind::NoApprovalHere => "no_approval_here",
            RefusalKind::NothingToWithdraw => "nothing_to_withdraw",
            RefusalKind::UnknownRun => "unknown_run",
            RefusalKind::NotRunning => "not_running",
            RefusalKind::NothingRunning => "nothing_running",
            RefusalKind::CannotStop => "cannot_stop",
            RefusalKind::AlreadyLocked => "already_locked",
            RefusalKind::NotLocked => "not_locked",
            RefusalKind::BadLockDuration => "bad_lock_duration",
            RefusalKind::UnknownService => "unknown_service",
            RefusalKind::UnknownEnvironment => "unknown_environment",
            RefusalKind::Incomplete => "incomplete",
            RefusalKind::CannotStart => "cannot_start",
            RefusalKind::Frozen => "frozen",
            RefusalKind::CannotSchedule => "cannot_schedule",
            RefusalKind::UnknownSchedule => "unknown_schedule",
            RefusalKind::ScheduleDone => "schedule_done",
            RefusalKind::NotApproved => "not_approved",
        }
    }
}

/// Durations as whole seconds in JSON (rounded up: "retry in 60 s" is never early).
mod secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64((d.as_millis() as u64).div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_of_kinds_is_complete() {
        // A new kind fails to compile here until it is placed in `ALL` (its position).
        let position = |k: RefusalKind| match k {
            RefusalKind::UnknownIdentity => 0,
            RefusalKind::NotPermitted => 1,
            RefusalKind::Locked => 2,
            RefusalKind::RateLimited => 3,
            RefusalKind::Busy => 4,
            RefusalKind::NothingToRollBack => 5,
            RefusalKind::AlreadyOn => 6,
            RefusalKind::NoRollbackPipeline => 7,
            RefusalKind::ApprovalPending => 8,
            RefusalKind::OwnRequest => 9,
            RefusalKind::AlreadyDecided => 10,
            RefusalKind::Closed => 11,
            RefusalKind::Expired => 12,
            RefusalKind::StaleRequest => 13,
            RefusalKind::UnknownApproval => 14,
            RefusalKind::NoApprovalHere => 15,
            RefusalKind::NothingToWithdraw => 16,
            RefusalKind::UnknownRun => 17,
            RefusalKind::NotRunning => 18,
            RefusalKind::NothingRunning => 19,
            RefusalKind::CannotStop => 20,
            RefusalKind::AlreadyLocked => 21,
            RefusalKind::NotLocked => 22,
            RefusalKind::BadLockDuration => 23,
            RefusalKind::UnknownService => 24,
            RefusalKind::UnknownEnvironment => 25,
            RefusalKind::Incomplete => 26,
            RefusalKind::CannotStart => 27,
            RefusalKind::Frozen => 28,
            RefusalKind::CannotSchedule => 29,
            RefusalKind::UnknownSchedule => 30,
            RefusalKind::ScheduleDone => 31,
            RefusalKind::NotApproved => 32,
        };
        for (i, k) in RefusalKind::ALL.iter().enumerate() {
            assert_eq!(position(*k), i, "{k:?}");
        }
    }

    #[test]
    fn the_kind_name_is_the_json_tag() {
        let r = Refusal::RateLimited {
            retry_in: Duration::from_millis(59_001),
            limit: 5,
            window: Duration::from_secs(60),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kind"], r.kind().as_str());
        assert_eq!(v["retry_in"], 60);
        assert_eq!(
            serde_json::to_value(RefusalKind::NothingToRollBack).unwrap(),
            "nothing_to_roll_back"
        );
        for k in [
            RefusalKind::UnknownIdentity,
            RefusalKind::CannotStop,
            RefusalKind::AlreadyOn,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
