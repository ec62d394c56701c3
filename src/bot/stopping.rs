//! Stopping runs: "cancel" in a run's thread, or "stop run 12" / "cancel run 12" from any
//! thread. Both ask "Stop run N (...)? [yes/no]" first; the command layer checks who may stop
//! it, when asked and again on "yes". In a thread running a plan, "cancel" stops the plan:
//! whichever step is running when the "yes" comes, and every step after it.

use super::outcomes;
use super::{fault, Bot, Out};
use crate::chat::{BotEvent, Incoming};
use crate::command::{ApprovalRef, Command, Origin, Outcome, Plan, RefusalKind, RunId, StopTarget};
use crate::dialogue::{Session, StopAsked};
use crate::governance::Actor;
use crate::nlu::Intent;
use crate::timefmt::ago;

impl Bot {
    /// Asks whether to stop the runs of this thread, or the run named; nothing stops yet. A
    /// bare "cancel" from the requester first withdraws their pending approval request.
    pub(super) async fn ask_to_stop(
        &self,
        named: Option<i64>,
        msg: &Incoming,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let origin = Origin::Thread(msg.thread.clone());
        if named.is_none() {
            let withdraw = Command::Withdraw(ApprovalRef::LatestFrom {
                origin: origin.clone(),
            });
            match self.apply(withdraw, actor, session, out).await {
                Some(Outcome::Refused(r))
                    if matches!(
                        r.kind(),
                        RefusalKind::NoApprovalHere | RefusalKind::NothingToWithdraw
                    ) => {}
                Some(outcome) => return outcomes::show(&outcome, session, out),
                None => return,
            }
        }
        let target = match named {
            Some(id) => StopTarget::Run { id: RunId(id) },
            None => StopTarget::From { origin },
        };
        let plan = match self.commander.check(&Command::Stop(target), actor).await {
            Ok(Ok(Plan::Stop(plan))) => plan,
            Ok(Ok(_)) => return,
            Ok(Err(refusal)) => {
                return outcomes::show(&Outcome::Refused(refusal), session, out);
            }
            Err(e) => return out.reply(session, fault("reading the run", &e)),
        };
        let mut described: Vec<String> = plan.plans.iter().map(plan_being_stopped).collect();
        described.extend(plan.runs.iter().map(|r| {
            format!(
                "run {} ({}, started by {} {})",
                r.id,
                r.describe(),
                r.requested_by,
                ago(r.started_at)
            )
        }));
        let _ = session.take_stop_of(&msg.user);
        session.pending_stop.push(StopAsked {
            runs: plan.runs.iter().map(|r| r.id).collect(),
            plans: plan.plans.iter().map(|p| p.id).collect(),
            asked_by: msg.user.clone(),
        });
        let text = format!("Stop {}? [yes/no]", described.join(" and "));
        session.record("deckhand", &text);
        out.sink.emit(BotEvent::Confirm {
            thread: out.thread.clone(),
            text,
            intent: Intent::Cancel,
        });
    }

    /// The explicit yes to "Stop run N?": stops what the person may still stop.
    pub(super) async fn stop_runs(
        &self,
        asked: StopAsked,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let origin = Origin::Thread(out.thread.clone());
        let command = Command::Stop(StopTarget::Runs {
            ids: asked.runs.into_iter().map(RunId).collect(),
            plans: asked.plans,
        });
        match self
            .commander
            .apply_confirmed(command, actor, &origin, out.progress())
            .await
        {
            Ok(outcome) => outcomes::show(&outcome, session, out),
            Err(e) => out.reply(session, fault("stopping the run", &e)),
        }
    }
}

/// "plan #2 (step 2 of 3: billionmail → staging, asked by alice; the steps after it would not
/// run)" in a stop question.
fn plan_being_stopped(p: &crate::store::PlanRecord) -> String {
    use crate::store::StepStatus;
    let now = p
        .steps
        .iter()
        .find(|s| matches!(s.status, StepStatus::Running | StepStatus::Pending));
    let at = match now {
        Some(s) => format!(
            "step {} of {}: {} → {}",
            s.position,
            p.steps.len(),
            s.service,
            s.environment
        ),
        None => format!("{} steps", p.steps.len()),
    };
    format!(
        "plan #{} ({at}, asked by {}; no step after it would run)",
        p.id, p.requested_by
    )
}
