//! The governed side of the bot: permission and lock checks before anything runs, deploy
//! memory, refusals. Approvals live in `approvals.rs`, locks in `locks.rs`.

use super::{fault, Bot, Out};
use crate::dialogue::{join_choices, Request, Session};
use crate::governance::{blocking_lock, describe_lock, lock_scope, Actor, Verb};
use crate::memory::{Facts, Recommendation};
use crate::nlu::Intent;
use crate::store::{Action, StoreError};

pub(super) fn verb_of(intent: Intent) -> Verb {
    if intent == Intent::Rollback {
        Verb::Rollback
    } else {
        Verb::Deploy
    }
}

/// "deploy billionmail (latest build) to production, canary 10%".
pub(super) fn describe_request(
    action: Action,
    service: &str,
    environment: &str,
    version: Option<&str>,
    strategy: &str,
    percent: Option<i64>,
) -> String {
    let strategy = match percent {
        Some(p) => format!("{strategy} {p}%"),
        None => strategy.to_string(),
    };
    match action {
        Action::Deploy => format!(
            "deploy {service} ({}) to {environment}, {strategy}",
            version.unwrap_or("latest build")
        ),
        Action::Rollback => format!(
            "roll back {service} in {environment} to {}",
            version.unwrap_or("the previous release")
        ),
    }
}

pub(super) fn roles_text(roles: &Option<Vec<String>>) -> String {
    match roles {
        Some(r) if !r.is_empty() => format!(
            "someone with the role {}",
            join_choices(&r.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>())
        ),
        _ => "someone else".to_string(),
    }
}

impl Bot {
    /// Whether `actor` may run `req` now: their role, then locks. Err is the refusal.
    pub(super) async fn precheck(
        &self,
        actor: &Actor,
        req: &Request,
    ) -> Result<Result<(), String>, StoreError> {
        let (service, environment) = (
            req.service.as_deref().unwrap_or_default(),
            req.environment.as_deref().unwrap_or_default(),
        );
        if let Err(refusal) =
            self.governance
                .authorize(actor, verb_of(req.intent), Some(service), environment)
        {
            return Ok(Err(refusal));
        }
        let locks = self
            .store
            .active_locks(Some(environment), crate::clock::now_ms())
            .await?;
        if let Some(lock) = blocking_lock(&locks, service, environment) {
            return Ok(Err(format!(
                "{}. Nothing was run. Ask {} or someone allowed to lock to say \"unlock {}\" when it is safe.",
                describe_lock(lock),
                lock.holder,
                lock_scope(lock).replace(" in ", " ")
            )));
        }
        Ok(Ok(()))
    }

    /// Whether `actor` may stop run `id`: they asked for it, or may deploy/roll back there.
    pub(super) async fn may_stop(&self, actor: &Actor, id: i64) -> Result<(), String> {
        let run = match self.store.run(id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(format!("run {id} is not on record")),
            Err(e) => return Err(fault("reading the run", &e)),
        };
        if actor.person.as_deref() == Some(run.requested_by.as_str()) {
            return Ok(());
        }
        let verb = if run.action == Action::Rollback {
            Verb::Rollback
        } else {
            Verb::Deploy
        };
        self.governance
            .authorize(actor, verb, Some(&run.service), &run.environment)
            .map_err(|why| format!("You can't stop run {id} ({}): {why}", run.describe()))
    }

    /// Deploy memory for a service in an environment.
    pub(super) async fn memory(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<(Facts, Option<Recommendation>), StoreError> {
        crate::command::reports::memory(&self.config, &self.store, service, environment).await
    }

    /// Records a refusal in the audit log and tells the user.
    pub(super) async fn refuse(
        &self,
        actor: &Actor,
        intent: Intent,
        subject: &str,
        text: String,
        session: &mut Session,
        out: &Out,
    ) {
        self.audit.note(actor.name(), "refusal", subject, serde_json::json!({"intent": intent.as_str(), "identity": actor.identity, "reason": text})).await;
        out.reply(session, text);
    }
}
