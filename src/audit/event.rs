//! Every kind of audit entry as a typed event (vector's named events): each variant carries
//! its details, names its kind once, and is written as one audit row and one `tracing` event
//! by [`super::Audit::log`]. A misspelt kind cannot exist.

use serde::Serialize;
use serde_json::Value;

/// One thing worth recording in the tamper-evident log.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum AuditEvent {
    /// A governed command was accepted for checking (a deploy or rollback request).
    Command {
        /// `service/environment`.
        #[serde(skip)]
        subject: String,
        /// The command as stored (typed fields, serialised).
        command: Value,
        /// Platform identity of the actor.
        identity: String,
        /// Where it came from.
        origin: String,
    },
    /// A command was refused; nothing happened.
    Refusal {
        /// What was refused (`service/environment`, `approval 3`, `run 7`, ...).
        #[serde(skip)]
        subject: String,
        /// What was asked (`deploy`, `lock`, `approve`, ...).
        intent: String,
        /// Platform identity of the actor.
        identity: String,
        /// The refusal with its facts (`{"kind": "not_permitted", ...}`).
        refusal: Value,
    },
    /// An approval request was created.
    ApprovalRequested {
        /// Request id.
        #[serde(skip)]
        approval: i64,
        /// Approvals needed.
        required: u32,
        /// `service/environment`.
        request: String,
        /// Expiry, unix ms.
        expires_at: i64,
    },
    /// Someone decided on a request.
    ApprovalDecision {
        /// Request id.
        #[serde(skip)]
        approval: i64,
        /// `approve` or `reject`.
        decision: crate::store::Decision,
        /// Platform identity of the decider.
        identity: String,
    },
    /// A request got enough approvals.
    ApprovalApproved {
        /// Request id.
        #[serde(skip)]
        approval: i64,
        /// Approvals counted.
        approvals: i64,
    },
    /// A request was rejected.
    ApprovalRejected {
        /// Request id.
        #[serde(skip)]
        approval: i64,
    },
    /// A request ran out of time.
    ApprovalExpired {
        /// Request id.
        #[serde(skip)]
        approval: i64,
        /// Who had asked.
        requested_by: String,
    },
    /// The requester withdrew a request.
    ApprovalWithdrawn {
        /// Request id.
        #[serde(skip)]
        approval: i64,
    },
    /// An approved request could not start (refused again, or the executor said no).
    ApprovalNotStarted {
        /// Request id.
        #[serde(skip)]
        approval: i64,
        /// Why: the refusal with its facts.
        refusal: Value,
    },
    /// A lock or freeze was put in place.
    LockCreated {
        /// `staging` or `payments-api in production`.
        #[serde(skip)]
        scope: String,
        /// Lock id.
        lock: i64,
        /// Why.
        reason: String,
        /// Until, unix ms (None: until unlocked).
        expires_at: Option<i64>,
    },
    /// A lock was lifted.
    LockReleased {
        /// `staging` or `payments-api in production`.
        #[serde(skip)]
        scope: String,
        /// Lock id.
        lock: i64,
        /// Who had held it.
        holder: String,
        /// Why it had been set.
        reason: String,
    },
    /// A run began.
    RunStarted {
        /// Run id.
        #[serde(skip)]
        run: i64,
        /// Deploy or rollback.
        action: crate::store::Action,
        /// Service.
        service: String,
        /// Environment.
        environment: String,
        /// Version asked for (None: the latest build).
        version: Option<String>,
        /// Strategy.
        strategy: crate::config::Strategy,
        /// Canary percent.
        percent: Option<u8>,
        /// Where it was asked for (the origin, e.g. `slack:T1/C1:1700000000.1`, `api:alice`).
        thread: String,
    },
    /// A stage ended.
    StageFinished {
        /// Run id.
        #[serde(skip)]
        run: i64,
        /// Stage name.
        stage: String,
        /// Main or rollback phase.
        phase: crate::pipeline::Phase,
        /// How it ended.
        status: crate::pipeline::StageState,
        /// Exit code, when it exited.
        exit_code: Option<i64>,
        /// How long it took.
        duration_ms: Option<i64>,
    },
    /// A run ended.
    RunFinished {
        /// Run id.
        #[serde(skip)]
        run: i64,
        /// Final status.
        status: crate::pipeline::RunStatus,
        /// Version reported.
        version: Option<String>,
        /// Whether the automatic rollback ran and restored the previous release.
        rolled_back: bool,
        /// The failure, if any.
        error: Option<String>,
        /// Version live after the run.
        live: Option<String>,
    },
    /// Someone stopped a run.
    RunCancelled {
        /// Run id.
        #[serde(skip)]
        run: i64,
        /// Platform identity of who stopped it.
        identity: String,
    },
    /// A command was stored to run later.
    ScheduleCreated {
        /// Schedule id.
        #[serde(skip)]
        schedule: i64,
        /// The command it will run (serialised).
        command: Value,
        /// When it fires first, unix ms.
        fires_at: i64,
        /// Where it was asked.
        origin: String,
    },
    /// A schedule was cancelled before it fired.
    ScheduleCancelled {
        /// Schedule id.
        #[serde(skip)]
        schedule: i64,
    },
    /// A schedule fired: its command goes through the command layer now.
    ScheduleFired {
        /// Schedule id.
        #[serde(skip)]
        schedule: i64,
        /// When it was due, unix ms.
        due_at: i64,
        /// What became of it (`started`, `refused`, `missed`, ...).
        outcome: String,
    },
    /// A plan started.
    PlanStarted {
        /// Plan id.
        #[serde(skip)]
        plan: i64,
        /// Its steps, in order.
        steps: Value,
        /// Where it was asked.
        origin: String,
    },
    /// A plan ended.
    PlanFinished {
        /// Plan id.
        #[serde(skip)]
        plan: i64,
        /// `succeeded` or `failed`.
        status: String,
    },
    /// Someone stopped a plan: its running step's run is cancelled, the rest will not run.
    PlanCancelled {
        /// Plan id.
        #[serde(skip)]
        plan: i64,
        /// Platform identity of who stopped it.
        identity: String,
    },
    /// A run was found interrupted after a restart.
    RunInterrupted {
        /// Run id.
        #[serde(skip)]
        run: i64,
        /// The facts found (stage, phase, switch state, what is live, who was told).
        facts: Value,
    },
}

impl AuditEvent {
    /// The stored kind (`approval.requested`, `run.finished`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::Command { .. } => "command",
            AuditEvent::Refusal { .. } => "refusal",
            AuditEvent::ApprovalRequested { .. } => "approval.requested",
            AuditEvent::ApprovalDecision { .. } => "approval.decision",
            AuditEvent::ApprovalApproved { .. } => "approval.approved",
            AuditEvent::ApprovalRejected { .. } => "approval.rejected",
            AuditEvent::ApprovalExpired { .. } => "approval.expired",
            AuditEvent::ApprovalWithdrawn { .. } => "approval.withdrawn",
            AuditEvent::ApprovalNotStarted { .. } => "approval.not_started",
            AuditEvent::LockCreated { .. } => "lock.created",
            AuditEvent::LockReleased { .. } => "lock.released",
            AuditEvent::RunStarted { .. } => "run.started",
            AuditEvent::StageFinished { .. } => "stage.finished",
            AuditEvent::RunFinished { .. } => "run.finished",
            AuditEvent::RunCancelled { .. } => "run.cancelled",
            AuditEvent::RunInterrupted { .. } => "run.interrupted",
            AuditEvent::ScheduleCreated { .. } => "schedule.created",
            AuditEvent::ScheduleCancelled { .. } => "schedule.cancelled",
            AuditEvent::ScheduleFired { .. } => "schedule.fired",
            AuditEvent::PlanStarted { .. } => "plan.started",
            AuditEvent::PlanFinished { .. } => "plan.finished",
            AuditEvent::PlanCancelled { .. } => "plan.cancelled",
        }
    }

    /// What the entry is about (`run 7`, `approval 3`, `staging`, `billionmail/staging`).
    pub fn subject(&self) -> String {
        match self {
            AuditEvent::Command { subject, .. } | AuditEvent::Refusal { subject, .. } => {
                subject.clone()
            }
            AuditEvent::ApprovalRequested { approval, .. }
            | AuditEvent::ApprovalDecision { approval, .. }
            | AuditEvent::ApprovalApproved { approval, .. }
            | AuditEvent::ApprovalRejected { approval }
            | AuditEvent::ApprovalExpired { approval, .. }
            | AuditEvent::ApprovalWithdrawn { approval }
            | AuditEvent::ApprovalNotStarted { approval, .. } => format!("approval {approval}"),
            AuditEvent::LockCreated { scope, .. } | AuditEvent::LockReleased { scope, .. } => {
                scope.clone()
            }
            AuditEvent::RunStarted { run, .. }
            | AuditEvent::StageFinished { run, .. }
            | AuditEvent::RunFinished { run, .. }
            | AuditEvent::RunCancelled { run, .. }
            | AuditEvent::RunInterrupted { run, .. } => format!("run {run}"),
            AuditEvent::ScheduleCreated { schedule, .. }
            | AuditEvent::ScheduleCancelled { schedule }
            | AuditEvent::ScheduleFired { schedule, .. } => format!("schedule {schedule}"),
            AuditEvent::PlanStarted { plan, .. }
            | AuditEvent::PlanFinished { plan, .. }
            | AuditEvent::PlanCancelled { plan, .. } => {
                format!("plan {plan}")
            }
        }
    }

    /// The details column: the variant's fields as JSON.
    pub fn details(&self) -> Value {
        match self {
            AuditEvent::RunInterrupted { facts, .. } => facts.clone(),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_subjects_and_details_come_from_the_variant() {
        let e = AuditEvent::ApprovalDecision {
            approval: 3,
            decision: crate::store::Decision::Approve,
            identity: "console:bob".into(),
        };
        assert_eq!(e.kind(), "approval.decision");
        assert_eq!(e.subject(), "approval 3");
        assert_eq!(
            e.details(),
            serde_json::json!({"decision": "approve", "identity": "console:bob"})
        );
        let l = AuditEvent::LockCreated {
            scope: "staging".into(),
            lock: 1,
            reason: "incident".into(),
            expires_at: None,
        };
        assert_eq!(l.subject(), "staging");
        assert_eq!(
            l.details(),
            serde_json::json!({"lock": 1, "reason": "incident", "expires_at": null})
        );
    }
}
