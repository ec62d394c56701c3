//! Locks and freezes: "lock staging", "unlock payments-api in production".

use super::{ago, fault, timefmt_span, utc, Bot, Out};
use crate::dialogue::{Request, Session};
use crate::governance::{describe_lock, Actor, Verb};
use crate::nlu::Intent;
use crate::nlu::LockDetails;
use crate::store::LockRecord;
use std::time::Duration;

/// Shortest and longest lock a duration may ask for; longer freezes are unlocked by hand.
const MIN_LOCK: Duration = Duration::from_secs(60);
const MAX_LOCK: Duration = Duration::from_secs(90 * 86_400);

impl Bot {
    /// The (environment, service, "scope in words") of a lock request, when `actor` may lock
    /// there; otherwise the refusal has been sent and recorded.
    async fn lock_scope_allowed(
        &self,
        req: &Request,
        intent: Intent,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) -> Option<(String, Option<String>, String)> {
        let environment = req.environment.clone().unwrap_or_default();
        let service = req.service.clone();
        let scope = match &service {
            Some(s) => format!("{s} in {environment}"),
            None => environment.clone(),
        };
        match self
            .governance
            .authorize(actor, Verb::Lock, service.as_deref(), &environment)
        {
            Ok(()) => Some((environment, service, scope)),
            Err(refusal) => {
                self.refuse(actor, intent, &scope, refusal, session, out)
                    .await;
                None
            }
        }
    }

    /// The question before a lock or unlock ("Lock staging for 2 h (reason: ...)? [yes/no]"),
    /// or why it cannot be done (not permitted, already locked, not locked, bad duration).
    pub(super) async fn lock_confirmation(
        &self,
        req: &Request,
        actor: &Actor,
    ) -> Result<Result<String, String>, crate::store::StoreError> {
        let environment = req.environment.clone().unwrap_or_default();
        let service = req.service.clone();
        let scope = match &service {
            Some(s) => format!("{s} in {environment}"),
            None => environment.clone(),
        };
        if let Err(refusal) =
            self.governance
                .authorize(actor, Verb::Lock, service.as_deref(), &environment)
        {
            self.audit.note(actor.name(), "refusal", &scope, serde_json::json!({"intent": req.intent.as_str(), "identity": actor.identity, "reason": refusal})).await;
            return Ok(Err(refusal));
        }
        let now = crate::clock::now_ms();
        let locks = self.store.active_locks(Some(&environment), now).await?;
        let own = locks.iter().find(|l| l.service == service);
        let details = req.lock.clone().unwrap_or_default();
        if req.intent == Intent::Unlock {
            return Ok(match own {
                Some(l) => Ok(format!(
                    "Unlock {scope}? [yes/no]\nIt {}.",
                    describe_lock(l).trim_start_matches(&format!("{scope} "))
                )),
                None => Err(not_locked_text(&scope, &locks)),
            });
        }
        if let Some(l) = own {
            return Ok(Err(format!("Already locked: {}.", describe_lock(l))));
        }
        if let Some(refusal) = duration_refusal(&details) {
            return Ok(Err(refusal));
        }
        let duration = match &details.duration_text {
            Some(d) => format!("for {d}"),
            None => "until someone unlocks it".into(),
        };
        let reason = match &details.reason {
            Some(r) => format!(" (reason: {r})"),
            None => " (no reason given)".into(),
        };
        Ok(Ok(format!("Lock {scope} {duration}{reason}? [yes/no]")))
    }

    /// "lock staging", "freeze payments-api in production for 2 hours while ...", confirmed.
    pub(super) async fn lock(
        &self,
        req: &Request,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let Some((environment, service, scope)) = self
            .lock_scope_allowed(req, Intent::Lock, actor, session, out)
            .await
        else {
            return;
        };
        let now = crate::clock::now_ms();
        let existing = match self.store.active_locks(Some(&environment), now).await {
            Ok(l) => l,
            Err(e) => return out.reply(session, fault("reading locks", &e)),
        };
        if let Some(l) = existing.iter().find(|l| l.service == service) {
            return out.reply(session, format!("Already locked: {}.", describe_lock(l)));
        }
        let details = req.lock.clone().unwrap_or_default();
        if let Some(refusal) = duration_refusal(&details) {
            return out.reply(session, refusal);
        }
        let lock = LockRecord {
            id: 0,
            environment: environment.clone(),
            service: service.clone(),
            holder: actor.name().into(),
            reason: details
                .reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
            created_at: now,
            expires_at: details.duration.map(|d| now + d.as_millis() as i64),
        };
        let id = match self.store.create_lock(&lock).await {
            Ok(id) => id,
            Err(e) => return out.reply(session, fault("creating the lock", &e)),
        };
        self.audit
            .note(actor.name(), "lock.created", &scope, serde_json::json!({"lock": id, "reason": lock.reason, "expires_at": lock.expires_at}))
            .await;
        let until = match (details.duration, &details.duration_text) {
            (Some(d), Some(text)) => {
                format!("for {text} (until {})", utc(now + d.as_millis() as i64))
            }
            (Some(d), None) => format!(
                "for {} (until {})",
                timefmt_span(d),
                utc(now + d.as_millis() as i64)
            ),
            (None, _) => "until someone unlocks it".into(),
        };
        out.reply(
            session,
            format!("🔒 Locked {scope} {until}: {}. Deploys and rollbacks there are refused; \"unlock {}\" lifts it.", lock.reason, scope.replace(" in ", " ")),
        );
    }

    /// "unlock staging", "unlock payments-api in production".
    pub(super) async fn unlock(
        &self,
        req: &Request,
        actor: &Actor,
        session: &mut Session,
        out: &Out,
    ) {
        let Some((environment, service, scope)) = self
            .lock_scope_allowed(req, Intent::Unlock, actor, session, out)
            .await
        else {
            return;
        };
        let now = crate::clock::now_ms();
        let locks = match self.store.active_locks(Some(&environment), now).await {
            Ok(l) => l,
            Err(e) => return out.reply(session, fault("reading locks", &e)),
        };
        let (mine, others): (Vec<&LockRecord>, Vec<&LockRecord>) =
            locks.iter().partition(|l| l.service == service);
        if mine.is_empty() {
            let _ = others;
            return out.reply(session, not_locked_text(&scope, &locks));
        }
        let mut lifted = Vec::new();
        for l in mine {
            match self.store.release_lock(l.id, actor.name(), now).await {
                Ok(true) => {
                    self.audit.note(actor.name(), "lock.released", &scope, serde_json::json!({"lock": l.id, "holder": l.holder, "reason": l.reason})).await;
                    lifted.push(format!(
                        "locked by {} since {} ({}): {}",
                        l.holder,
                        utc(l.created_at),
                        ago(l.created_at),
                        l.reason
                    ));
                }
                Ok(false) => {}
                Err(e) => return out.reply(session, fault("releasing the lock", &e)),
            }
        }
        out.reply(
            session,
            format!("🔓 Unlocked {scope} ({}).", lifted.join("; ")),
        );
    }
}

/// Why a lock of this duration is refused, if it is.
fn duration_refusal(details: &LockDetails) -> Option<String> {
    let d = details
        .duration
        .filter(|d| *d < MIN_LOCK || *d > MAX_LOCK)?;
    Some(format!(
        "A lock can last from {} to {} ({} asked); nothing was locked. Leave the duration out to lock until someone unlocks.",
        timefmt_span(MIN_LOCK),
        timefmt_span(MAX_LOCK),
        details.duration_text.clone().unwrap_or_else(|| timefmt_span(d))
    ))
}

/// "staging is not locked", naming the locks that do exist there.
fn not_locked_text(scope: &str, locks: &[LockRecord]) -> String {
    let others: Vec<&LockRecord> = locks.iter().collect();
    if others.is_empty() {
        format!("{scope} is not locked; nothing to unlock.")
    } else {
        format!(
            "{scope} has no lock of its own; nothing to unlock. Active locks: {}.",
            others
                .iter()
                .map(|l| describe_lock(l))
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}
