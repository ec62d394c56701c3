//! The question before an action ("Deploy billionmail (2.3.1) to staging, direct? [yes/no]"),
//! rendered from the command layer's [`Plan`] with what the user should know first (deploy
//! memory, what is live, approvals needed), or the refusal when it could not run anyway.

use super::{resolve, Bot};
use crate::command::{LockPlan, Plan, Refusal, RunPlan};
use crate::dialogue::{render, Flow, Request, Session};
use crate::governance::Actor;
use crate::nlu::Intent;
use crate::store::{Action, StoreError};
use std::collections::BTreeMap;

/// Why no question is asked: a refusal from the command layer, or the dialogue's own reply
/// (nothing to promote).
pub(super) enum NoQuestion {
    /// The command layer refused.
    Refused(Refusal),
    /// A reply about the request itself.
    Reply(String),
}

impl Bot {
    /// The confirmation text, or why the request cannot go ahead.
    pub(super) async fn confirmation(
        &self,
        req: &Request,
        actor: &Actor,
        session: &mut Session,
    ) -> Result<Result<String, NoQuestion>, StoreError> {
        let command = match resolve(req, &self.config) {
            Some(Ok(c)) => c,
            Some(Err(refusal)) => return Ok(Err(NoQuestion::Refused(refusal))),
            None => {
                return Ok(Err(NoQuestion::Reply(super::fault(
                    "preparing the confirmation",
                    &format!("`{}` is not an action", req.intent.as_str()),
                ))))
            }
        };
        // Refuse before asking "yes/no" for something that could not run anyway. A request is
        // counted against the rate limit once, however often its details are corrected.
        let checked = session.pending.as_ref().is_some_and(|p| p.checked);
        let plan = if checked {
            self.commander.recheck(&command, actor).await
        } else {
            self.commander.check(&command, actor).await
        };
        if let (Ok(Ok(_)), Some(p)) = (&plan, session.pending.as_mut()) {
            p.checked = true;
        }
        let plan = match plan {
            Ok(Ok(plan)) => plan,
            Ok(Err(refusal)) => return Ok(Err(NoQuestion::Refused(refusal))),
            Err(crate::command::CommandError::Store(e)) => return Err(e),
        };
        if let crate::command::Command::Schedule(spec) = &command {
            return Ok(Ok(self.schedule_question(spec)));
        }
        match plan {
            Plan::Lock(lock) => Ok(Ok(lock_question(&lock))),
            Plan::Run(plan) => Ok(self
                .run_question(req, &plan, session)
                .await?
                .map_err(NoQuestion::Reply)),
            Plan::Stop(_) | Plan::Steps(_) | Plan::Direct => {
                Ok(Err(NoQuestion::Reply(super::fault(
                    "preparing the confirmation",
                    &"the request has no question to ask",
                ))))
            }
        }
    }

    async fn run_question(
        &self,
        req: &Request,
        plan: &RunPlan,
        session: &mut Session,
    ) -> Result<Result<String, String>, StoreError> {
        let mut req = req.clone();
        let promoted_from = match self.promotion(&mut req, session).await? {
            Ok(source) => source,
            Err(refusal) => return Ok(Err(refusal)),
        };
        // What the plan settled is what a "yes" runs: the recommended strategy when none was
        // asked for, a rollback's target version.
        if let Some(p) = session.pending.as_mut() {
            p.slots.strategy = plan.run.strategy.or(p.slots.strategy);
            p.slots.percent = plan.run.percent;
            if plan.action == Action::Rollback {
                p.slots.version = plan.run.version.clone();
            }
        }
        let flow = self
            .dialogue
            .flows()
            .get(req.intent)
            .expect("confirmed intents have flows");
        let vars = vars(&req, plan, flow);
        let mut text = match &promoted_from {
            Some(source) => format!(
                "Promote {} {} (what {source} runs) to {}, {}? [yes/no]",
                vars["service"], vars["version"], vars["environment"], vars["strategy"]
            ),
            None => render(flow.confirm.as_deref().unwrap_or_default(), &vars),
        };
        for n in notes(plan) {
            text.push('\n');
            text.push_str(&n);
        }
        Ok(Ok(text))
    }
}

impl Bot {
    /// "Schedule: deploy billionmail 2.4.0 to staging at Thu 3 Dec 2026 18:00 UTC (in 7 h)?"
    fn schedule_question(&self, spec: &crate::command::ScheduleSpec) -> String {
        let now = crate::clock::now_ms();
        let wait = std::time::Duration::from_millis((spec.at - now).max(0) as u64);
        let mut text = format!(
            "Schedule: {} at {} (in {})? It runs as you; roles, locks and freezes are checked again then. [yes/no]",
            crate::command::describe_command(&spec.command),
            crate::timefmt::zoned(spec.at, &spec.tz),
            crate::timefmt::span(wait),
        );
        if let Some((_, run)) = spec.command.run() {
            let governance = self.commander.governance();
            let (service, environment) = (run.service.as_str(), run.environment.as_str());
            let n = governance.approvals_required(service, environment);
            if n > 0 {
                text.push_str(&format!(
                    "\nIt needs {n} approval{} from someone else{} before then; the request is posted when you confirm.",
                    if n == 1 { "" } else { "s" },
                    governance
                        .approver_roles(service, environment)
                        .map(|r| format!(" with the role {}", r.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(" or ")))
                        .unwrap_or_default(),
                ));
            }
            let rollback = spec
                .command
                .run()
                .is_some_and(|(a, _)| a == Action::Rollback);
            if let Some(w) = governance.freeze_in_force(service, environment, rollback, spec.at) {
                text.push_str(&format!(
                    "\n⚠ {environment} is frozen then ({}, until {}): as things stand it would be refused.",
                    w.reason,
                    crate::timefmt::zoned(w.until, &w.tz)
                ));
            }
        }
        text
    }
}

/// "Lock staging for 2 h (reason: incident)? [yes/no]" or "Unlock staging? [yes/no] ...".
fn lock_question(plan: &LockPlan) -> String {
    let scope = plan.target.scope();
    if let Some(l) = &plan.existing {
        return format!(
            "Unlock {scope}? [yes/no]\nIt {}.",
            crate::governance::describe_lock(l).trim_start_matches(&format!("{scope} "))
        );
    }
    let spec = plan
        .spec
        .clone()
        .unwrap_or_else(|| crate::command::LockSpec::plain(plan.target.clone(), None, None));
    let rollbacks = match spec.rollback_rule() {
        crate::config::RollbackRule::Allow => "rollbacks still go through",
        crate::config::RollbackRule::Deny => "rollbacks refused too",
    };
    let duration = match (&spec.duration_text, spec.window) {
        (Some(w), Some(window)) if window.from > crate::clock::now_ms() => {
            format!("{w} (deploys refused then; {rollbacks})")
        }
        (Some(w), Some(_)) => w.clone(),
        (Some(d), None) => format!("for {d}"),
        (None, _) => "until someone unlocks it".into(),
    };
    let reason = match &spec.reason {
        Some(r) => format!(" (reason: {r})"),
        None => " (no reason given)".into(),
    };
    format!("Lock {scope} {duration}{reason}? [yes/no]")
}

/// What to say under the question: deploy memory (whose recommended strategy applies when
/// none was asked for), a live release whose checks failed, approvals needed.
fn notes(plan: &RunPlan) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    if let Some(rec) = &plan.recommendation {
        notes.push(format!("⚠ {}", rec.reason));
    }
    if let Some(d) = &plan.live_unhealthy {
        if !notes.iter().any(|n| n.contains(&d.live_phrase())) {
            notes.push(format!("⚠ Now: {}.", d.live_phrase_on()));
        }
    }
    let n = plan.approvals_required;
    if n > 0 {
        let roles = plan
            .approver_roles
            .as_ref()
            .map(|r| {
                let names: Vec<String> = r.iter().map(|x| format!("`{x}`")).collect();
                format!(" with the role {}", names.join(" or "))
            })
            .unwrap_or_default();
        notes.push(format!(
            "After you confirm, {n} approval{} from someone else{roles} is needed before it runs.",
            if n == 1 { "" } else { "s" },
        ));
    }
    notes
}

/// The template's values: names, version (or the flow's default), strategy, and for a
/// rollback the current and target versions.
fn vars(req: &Request, plan: &RunPlan, flow: &Flow) -> BTreeMap<&'static str, String> {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("service", plan.run.service.to_string());
    vars.insert("environment", plan.run.environment.to_string());
    for (k, v) in &flow.defaults {
        if let Some(key) = ["version", "strategy", "percent"]
            .into_iter()
            .find(|n| n == k)
        {
            vars.insert(key, v.clone());
        }
    }
    // A promotion fills the version in after the plan; a rollback's target comes from it.
    let version = match req.intent {
        Intent::Rollback => plan.run.version.clone(),
        _ => req.version.clone(),
    };
    if let Some(v) = version {
        vars.insert("version", v);
    }
    vars.insert(
        "strategy",
        match plan.run.percent {
            Some(p) => format!("{} {p}%", plan.strategy),
            None => plan.strategy.to_string(),
        },
    );
    if req.intent == Intent::Rollback {
        vars.insert(
            "current",
            plan.current
                .clone()
                .unwrap_or_else(|| "the current release".into()),
        );
    }
    vars
}
