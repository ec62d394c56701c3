//! A checked deploy or rollback: checked again, recorded, then either stored as an approval
//! request (when the policy needs approvals) or started.

use super::{
    Actor, ApprovalTicket, Command, CommandResult, Commander, Origin, Outcome, Progress, Refusal,
    RunCommand, Started,
};
use crate::audit::AuditEvent;
use crate::pipeline::StartError;
use crate::store::{Action, NewApproval, NewRun};
use std::time::Duration;

/// What an approval request approves.
#[derive(Clone, Copy)]
pub(super) enum Binding<'a> {
    /// The run itself: approving it starts it.
    Run,
    /// One fire of this schedule (the run is the schedule's command).
    Schedule(&'a super::ScheduleSpec),
    /// This whole plan (the run is the plan's step that needs the most approvals).
    Plan(&'a super::PlanSpec),
}

impl Commander {
    /// A planned deploy or rollback (checked just now): records it, and asks for approval or
    /// starts it.
    pub(super) async fn request_run(
        &self,
        action: Action,
        mut run: RunCommand,
        actor: &Actor,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        // The record says what will run: the strategy settled, not left to a default.
        run.strategy = Some(self.default_strategy(&run));
        let command = Command::for_action(action, run.clone());
        self.audit
            .log(
                actor.name(),
                AuditEvent::Command {
                    subject: command.subject(),
                    command: serde_json::to_value(&command).unwrap_or_default(),
                    identity: actor.identity.clone(),
                    origin: origin.to_string(),
                },
            )
            .await;
        let (service, environment) = (run.service.as_str(), run.environment.as_str());
        let required = self.governance.approvals_required(service, environment);
        if required == 0 {
            return self
                .start_run(action, run, actor.name(), origin, progress)
                .await;
        }
        // Only a chat thread needs it; the API and MCP decide by id.
        if let Some(refusal) = self.open_request_in(origin).await? {
            let refusal = self
                .refused(command.verb(), &command.subject(), actor, refusal)
                .await;
            return Ok(Outcome::Refused(refusal));
        }
        let ticket = self
            .create_approval(action, run, required, actor, origin, Binding::Run)
            .await?;
        Ok(Outcome::AwaitingApproval(ticket))
    }

    /// Stores an approval request for a run (or for the schedule or plan it stands for, see
    /// [`Binding`]); it waits the configured timeout, or until a scheduled run's fire time.
    pub(super) async fn create_approval(
        &self,
        action: Action,
        mut run: RunCommand,
        required: u32,
        actor: &Actor,
        origin: &Origin,
        binding: Binding<'_>,
    ) -> CommandResult<ApprovalTicket> {
        let (service, environment) = (run.service.to_string(), run.environment.to_string());
        let note = match (action, self.memory(&service, &environment).await?) {
            (Action::Deploy, (_, Some(rec))) => Some(rec.reason),
            _ => None,
        };
        let strategy = self.default_strategy(&run);
        run.strategy = Some(strategy);
        let now = crate::clock::now_ms();
        let timeout = match binding {
            Binding::Schedule(spec) => Duration::from_millis((spec.at - now).max(0) as u64),
            _ => Duration::from_secs(self.config.governance.approval_timeout_secs),
        };
        let command = match binding {
            // The schedule's command: approving it approves that fire, and starts nothing.
            Binding::Schedule(spec) => Command::Schedule(super::ScheduleSpec {
                command: Box::new(Command::for_action(action, run.clone())),
                ..spec.clone()
            }),
            // The whole plan: approving it starts the plan, whose steps it covers.
            Binding::Plan(spec) => Command::Plan(spec.clone()),
            Binding::Run => Command::for_action(action, run.clone()),
        };
        let new = NewApproval {
            action,
            service: service.clone(),
            environment: environment.clone(),
            version: run.version.clone(),
            strategy,
            percent: run.percent,
            requested_by: actor.name().into(),
            origin: origin.clone(),
            command: serde_json::to_string(&command).unwrap_or_default(),
            required,
            note: note.clone().map(|n| format!("⚠ {n}")).unwrap_or_default(),
            created_at: now,
            expires_at: now + timeout.as_millis() as i64,
        };
        let id = self.store.create_approval(&new).await?;
        self.audit
            .log(
                actor.name(),
                AuditEvent::ApprovalRequested {
                    approval: id,
                    required,
                    request: format!("{service}/{environment}"),
                    expires_at: new.expires_at,
                },
            )
            .await;
        Ok(ApprovalTicket {
            id,
            action,
            run,
            requested_by: actor.name().into(),
            origin: origin.clone(),
            required,
            approver_roles: self.governance.approver_roles(&service, &environment),
            note,
            timeout,
            expires_at: new.expires_at,
            plan: match binding {
                Binding::Plan(spec) => Some(spec.steps.clone()),
                _ => None,
            },
            gates: match binding {
                Binding::Plan(spec) => self.plan_gates(spec),
                _ => Vec::new(),
            },
        })
    }

    /// Starts a run the checks let through; a target that is busy, or a pipeline without a
    /// rollback, is a refusal.
    pub(super) async fn start_run(
        &self,
        action: Action,
        run: RunCommand,
        requested_by: &str,
        origin: &Origin,
        progress: Progress,
    ) -> CommandResult<Outcome> {
        let strategy = self.default_strategy(&run);
        let new = NewRun {
            action,
            service: run.service.to_string(),
            environment: run.environment.to_string(),
            version: run.version.clone(),
            strategy,
            percent: run.percent,
            requested_by: requested_by.to_string(),
            origin: origin.clone(),
        };
        match self.executor.start(new, progress).await {
            Ok(handle) => Ok(Outcome::Started(Started {
                run_id: super::RunId(handle.id),
                action,
                command: run,
                handle,
            })),
            Err(StartError::Busy(r)) => Ok(Outcome::Refused(Refusal::Busy { run: r })),
            Err(StartError::NoRollback(service)) => {
                Ok(Outcome::Refused(Refusal::NoRollbackPipeline { service }))
            }
            Err(e @ StartError::Unknown(_)) => Ok(Outcome::Refused(Refusal::CannotStart {
                reason: e.to_string(),
            })),
            Err(StartError::Store(e)) => Err(e.into()),
        }
    }
}
