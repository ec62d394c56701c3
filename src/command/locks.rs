//! Locks and freezes: a lock covers an environment or one service in it; deploys and
//! rollbacks there are refused until it expires or someone lifts it.

use super::check::{duration_refusal, to_lift};
use super::{Actor, CommandResult, Commander, LockSpec, LockTarget, Outcome, Refusal, Report};
use crate::audit::AuditEvent;
use crate::store::LockRecord;
use serde::Serialize;

/// A lock that is now in place.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LockReport {
    /// What it covers.
    pub target: LockTarget,
    /// The lock as stored.
    pub lock: LockRecord,
    /// The duration as the person wrote it, or the window as words, if given.
    pub duration_text: Option<String>,
    /// The window, when the lock was given a start or an end.
    pub window: Option<super::LockWindow>,
}

/// Locks that were lifted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnlockReport {
    /// What was unlocked.
    pub target: LockTarget,
    /// The locks lifted (as they were).
    pub lifted: Vec<LockRecord>,
}

impl Commander {
    /// Puts a lock in place (permission and the existing locks checked again).
    pub(super) async fn lock(&self, spec: &LockSpec, actor: &Actor) -> CommandResult<Outcome> {
        if let Err(refusal) = self.verify_lock("lock", &spec.target, actor).await {
            return Ok(Outcome::Refused(refusal));
        }
        let now = crate::clock::now_ms();
        if let Some(l) = self.clashing_lock(spec).await? {
            return Ok(Outcome::Refused(Refusal::AlreadyLocked {
                lock: Box::new(l),
            }));
        }
        if let Some(refusal) = duration_refusal(spec) {
            return Ok(Outcome::Refused(refusal));
        }
        let mut lock = LockRecord {
            id: 0,
            environment: spec.target.environment.to_string(),
            service: spec.target.service.as_ref().map(ToString::to_string),
            holder: actor.name().into(),
            reason: spec
                .reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
            created_at: now,
            expires_at: match spec.window {
                Some(w) => Some(w.until),
                None => spec.duration.map(|d| now + d.as_millis() as i64),
            },
            starts_at: spec.window.map(|w| w.from).filter(|from| *from > now),
            rollbacks: spec.rollback_rule(),
        };
        lock.id = self.store.create_lock(&lock).await?;
        self.audit
            .log(
                actor.name(),
                AuditEvent::LockCreated {
                    scope: spec.target.scope(),
                    lock: lock.id,
                    reason: lock.reason.clone(),
                    expires_at: lock.expires_at,
                },
            )
            .await;
        Ok(Outcome::Answer(Report::Locked(LockReport {
            target: spec.target.clone(),
            lock,
            duration_text: spec.duration_text.clone(),
            window: spec.window,
        })))
    }

    /// Lifts the scope's own lock(s).
    pub(super) async fn unlock(
        &self,
        target: &LockTarget,
        actor: &Actor,
    ) -> CommandResult<Outcome> {
        if let Err(refusal) = self.verify_lock("unlock", target, actor).await {
            return Ok(Outcome::Refused(refusal));
        }
        let locks = self.liftable_locks(target).await?;
        let mine = to_lift(&locks, target);
        if mine.is_empty() {
            return Ok(Outcome::Refused(Refusal::NotLocked {
                scope: target.scope(),
                others: locks.clone(),
            }));
        }
        let now = crate::clock::now_ms();
        let mut lifted = Vec::new();
        for l in mine {
            if self.store.release_lock(l.id, actor.name(), now).await? {
                self.audit
                    .log(
                        actor.name(),
                        AuditEvent::LockReleased {
                            scope: target.scope(),
                            lock: l.id,
                            holder: l.holder.clone(),
                            reason: l.reason.clone(),
                        },
                    )
                    .await;
                lifted.push(l.clone());
            }
        }
        Ok(Outcome::Answer(Report::Unlocked(UnlockReport {
            target: target.clone(),
            lifted,
        })))
    }
}
