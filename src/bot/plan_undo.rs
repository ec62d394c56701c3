//! "roll back the whole plan", "roll back plan 3", "undo the plan": the steps a plan
//! deployed, undone in reverse order as a plan of rollbacks (one message, one approval where
//! a policy needs it, like any plan), asked as yes/no first. A step whose service runs
//! something else by then (a later deploy) is refused when it is due, never rolled back.

use super::plan_text::step_version;
use super::plans::confirm;
use super::{Bot, Out};
use crate::command::{Command, EnvName, PlanSpec, RunCommand, ServiceName, Undo};
use crate::dialogue::{PendingPlan, Session};
use crate::governance::Actor;
use crate::origin::Origin;
use crate::store::{PlanStatus, StepStatus};

/// Whether `text` asks to roll a plan back: Some(None) for the thread's latest plan,
/// Some(Some(id)) for plan `id`.
pub(super) fn asks_plan_rollback(text: &str) -> Option<Option<i64>> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && *w != "deckhand" && *w != "please")
        .collect();
    let verb = match words.as_slice() {
        ["roll", "back", ..] => 2,
        ["rollback" | "revert" | "undo", ..] => 1,
        _ => return None,
    };
    let rest = &words[verb..];
    let at = rest.iter().position(|w| *w == "plan")?;
    let lead = rest[..at].iter().all(|w| {
        matches!(
            *w,
            "the" | "whole" | "entire" | "that" | "this" | "last" | "all" | "of"
        )
    });
    let id = match &rest[at + 1..] {
        [] => None,
        [n] => Some(n.parse::<i64>().ok()?),
        _ => return None,
    };
    lead.then_some(id)
}

/// The rollback plan's steps as commands: each rolls back to the release shown (the one
/// before, when none could be shown).
pub(super) fn undo_spec(config: &crate::config::Config, pending: &PendingPlan) -> Option<PlanSpec> {
    let of = pending.rollback_of?;
    let mut steps = Vec::new();
    for (i, (service, environment, _)) in pending.steps.iter().enumerate() {
        steps.push(RunCommand {
            service: ServiceName::resolve(config, service).ok()?,
            environment: EnvName::resolve(config, environment).ok()?,
            version: pending.undo_to.get(i).cloned().flatten(),
            strategy: None,
            percent: None,
        });
    }
    Some(PlanSpec {
        steps,
        rollback_of: Some(Undo {
            plan: of,
            versions: pending.steps.iter().map(|s| s.2.clone()).collect(),
        }),
    })
}

impl Bot {
    /// "roll back the whole plan": the question, or why there is nothing to roll back.
    pub(super) async fn plan_rollback_asked(
        &self,
        id: Option<i64>,
        user: &str,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let store = self.store();
        let found = match id {
            Some(id) => store.plan(id).await,
            None => {
                store
                    .latest_plan_from(&Origin::Thread(out.thread.clone()))
                    .await
            }
        };
        let plan = match found {
            Ok(Some(p)) => p,
            Ok(None) => {
                let text = match id {
                    Some(id) => format!("There is no plan #{id}; nothing was rolled back."),
                    None => "No plan ran in this thread; say \"roll back plan N\" for another one. Nothing was rolled back.".into(),
                };
                return out.reply(session, text);
            }
            Err(e) => return out.reply(session, super::fault("reading the plan", &e)),
        };
        if plan.status == PlanStatus::Running {
            return out.reply(
                session,
                format!("Plan #{} is still running; say \"cancel\" to stop it first. Nothing was rolled back.", plan.id),
            );
        }
        let mut steps = Vec::new();
        let mut undo_to = Vec::new();
        for s in plan.steps.iter().rev() {
            let Some(run_id) = s.run_id.filter(|_| s.status == StepStatus::Succeeded) else {
                continue;
            };
            // What the run put there; a plan of rollbacks is not undone again.
            let version = match store.run(run_id).await {
                Ok(Some(r)) if r.action == crate::store::Action::Deploy => r.version,
                Ok(_) => continue,
                Err(e) => return out.reply(session, super::fault("reading the plan", &e)),
            };
            let Some(version) = version.or_else(|| step_version(s)) else {
                continue;
            };
            // Where the step goes back to, read now: shown in the question and pinned, so
            // the yes goes exactly there (None when the target runs something else by now).
            let to = match store
                .live_versions(Some(&s.service), Some(&s.environment))
                .await
            {
                Ok(live) if live.first().and_then(|d| d.version.as_deref()) == Some(&version) => {
                    match store.rollback_target(&s.service, &s.environment).await {
                        Ok(to) => to,
                        Err(e) => return out.reply(session, super::fault("reading the plan", &e)),
                    }
                }
                Ok(_) => None,
                Err(e) => return out.reply(session, super::fault("reading the plan", &e)),
            };
            undo_to.push(to);
            steps.push((s.service.clone(), s.environment.clone(), version));
        }
        if steps.is_empty() {
            return out.reply(
                session,
                format!("Plan #{} deployed nothing that a rollback could take back; nothing was rolled back.", plan.id),
            );
        }
        let pending = PendingPlan {
            requested_by: user.to_string(),
            steps,
            rollback_of: Some(plan.id),
            strategies: Vec::new(),
            undo_to,
        };
        let Some(spec) = undo_spec(&self.config, &pending) else {
            return out.reply(session, "The plan names a service or environment the config no longer has; nothing was rolled back.".into());
        };
        match self.commander.check(&Command::Plan(spec), actor).await {
            Ok(Ok(_)) => {}
            Ok(Err(refusal)) => return out.refuse(session, &refusal),
            Err(e) => return out.reply(session, super::fault("checking the rollback", &e)),
        }
        let list: Vec<String> = pending
            .steps
            .iter()
            .enumerate()
            .zip(&pending.undo_to)
            .map(|((i, (s, e, v)), to)| match to {
                Some(to) => format!("{}. {s} in {e} (from {v} back to {to})", i + 1),
                None => format!("{}. {s} in {e} (taking back {v})", i + 1),
            })
            .collect();
        let text = format!(
            "Roll back plan #{} in reverse order: {}? Each goes back to the release before; a service that runs something else by then is left as it is. [yes/no]",
            plan.id,
            list.join(", ")
        );
        session.pending_plan = Some(pending);
        confirm(session, out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::asks_plan_rollback;

    #[test]
    fn asks_for_a_plans_rollback_in_its_phrasings_only() {
        let latest = [
            "roll back the whole plan",
            "roll back the plan",
            "Roll back the entire plan please",
            "rollback the plan",
            "undo the plan",
            "revert that plan",
            "@deckhand roll back the last plan",
            "undo plan",
        ];
        for t in latest {
            assert_eq!(asks_plan_rollback(t), Some(None), "{t}");
        }
        for (t, id) in [
            ("roll back plan 3", 3),
            ("roll back plan #12", 12),
            ("undo plan 7", 7),
            ("revert the plan 2", 2),
        ] {
            assert_eq!(asks_plan_rollback(t), Some(Some(id)), "{t}");
        }
        // Service rollbacks and other sentences about plans are not it.
        let not = [
            "roll back billionmail",
            "roll back billionmail in staging",
            "roll back",
            "what is the plan",
            "roll back the plan tomorrow",
            "roll back plan three",
            "roll back plan 3 and 4",
            "don't roll back the plan",
            "roll back billionmail plan",
            "update the plan",
        ];
        for t in not {
            assert_eq!(asks_plan_rollback(t), None, "{t}");
        }
    }
}
