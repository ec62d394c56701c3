//! Governance: who may do what (people, roles, per-environment policies), locks and freezes,
//! and per-person rate limits. Adapter-independent: the bot asks, governance answers with a
//! permission or a refusal the user can act on.

pub mod freeze;
mod rate;

pub use crate::nlu::lock_words::{parse_lock_details, LockDetails};
pub use freeze::{FreezeSpan, FreezeWindow};
pub use rate::RateLimiter;

use crate::config::Config;
use crate::store::LockRecord;
use crate::timefmt::{ago, utc};
use std::sync::Arc;
use std::time::Duration;

/// Something a policy grants to roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    /// Deploy a service.
    Deploy,
    /// Roll a service back.
    Rollback,
    /// Lock or unlock.
    Lock,
    /// Approve or reject a request.
    Approve,
}

impl Verb {
    /// The verb and its preposition in a refusal ("deploy" "to", "roll back" "in").
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Verb::Deploy => ("deploy", "to"),
            Verb::Rollback => ("roll back", "in"),
            Verb::Lock => ("lock or unlock", ""),
            Verb::Approve => ("approve requests", "for"),
        }
    }
}

/// Who is acting: the platform identity and, when the config knows it, the person and roles.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// `platform:id`.
    pub identity: String,
    /// The person, when the identity is mapped.
    pub person: Option<String>,
    /// The person's roles.
    pub roles: Vec<String>,
}

impl Actor {
    /// The person's name, or the raw identity for strangers.
    pub fn name(&self) -> &str {
        self.person.as_deref().unwrap_or(&self.identity)
    }
}

/// Policy decisions for one config.
pub struct Governance {
    config: Arc<Config>,
    limiter: RateLimiter,
    windows: Vec<FreezeWindow>,
}

impl Governance {
    /// Governance for this config.
    pub fn new(config: Arc<Config>) -> Governance {
        let limiter = RateLimiter::new(
            config.governance.rate_limit_actions,
            Duration::from_secs(config.governance.rate_limit_window_secs),
        );
        let windows = freeze::windows_of(&config);
        Governance {
            config,
            limiter,
            windows,
        }
    }

    /// The configured window that refuses this deploy (or rollback) now, if any.
    pub fn freeze_in_force(
        &self,
        service: &str,
        environment: &str,
        rollback: bool,
        now_ms: i64,
    ) -> Option<FreezeSpan> {
        freeze::blocking_window(&self.windows, environment, service, rollback, now_ms)
    }

    /// The zone `person` set for themselves, if any (else times are in the config's).
    pub fn own_timezone(&self, person: Option<&str>) -> Option<&str> {
        person
            .and_then(|p| self.config.people.get(p))
            .and_then(|p| p.timezone.as_deref())
    }

    /// Resolves a platform user to an actor.
    pub fn actor(&self, platform: &str, user: &str) -> Actor {
        // Always the thread's platform: a user id containing ':' must not name another platform.
        let identity = format!("{platform}:{user}");
        match self.config.person(&identity) {
            Some((name, p)) => Actor {
                identity,
                person: Some(name.to_string()),
                roles: p.roles.clone(),
            },
            None => Actor {
                identity,
                person: None,
                roles: Vec::new(),
            },
        }
    }

    /// The actor for a person by name (their first identity), e.g. a requester whose
    /// permissions are re-checked when their approved request finally runs.
    pub fn actor_for_person(&self, person: &str) -> Actor {
        match self.config.people.get(person) {
            Some(p) => Actor {
                identity: p.identities.first().cloned().unwrap_or_default(),
                person: Some(person.to_string()),
                roles: p.roles.clone(),
            },
            None => Actor {
                identity: person.to_string(),
                person: None,
                roles: Vec::new(),
            },
        }
    }

    /// May `actor` do `verb` for `service` in `environment`? Err says why not, as facts.
    pub fn authorize(
        &self,
        actor: &Actor,
        verb: Verb,
        service: Option<&str>,
        environment: &str,
    ) -> Result<(), Denial> {
        let Some(person) = &actor.person else {
            return Err(Denial::UnknownIdentity {
                identity: actor.identity.clone(),
                verb,
            });
        };
        let policy = self.config.policy(service, environment);
        let allowed = match verb {
            Verb::Deploy => &policy.deploy,
            Verb::Rollback => &policy.rollback,
            Verb::Lock => &policy.lock,
            Verb::Approve => &policy.approve,
        };
        let Some(roles) = allowed else { return Ok(()) };
        if roles.iter().any(|r| actor.roles.contains(r)) {
            return Ok(());
        }
        // The service is named only when the policy that refused is the service's own.
        let service_scoped = service.filter(|s| {
            self.config
                .service(s)
                .is_some_and(|svc| svc.policies.contains_key(environment))
        });
        Err(Denial::NotPermitted {
            person: person.clone(),
            verb,
            service: service_scoped.map(str::to_string),
            environment: environment.to_string(),
            needed: roles.clone(),
            held: actor.roles.clone(),
        })
    }

    /// Approvals a deploy or rollback of `service` in `environment` needs.
    pub fn approvals_required(&self, service: &str, environment: &str) -> u32 {
        self.config
            .policy(Some(service), environment)
            .approvals
            .unwrap_or(0)
    }

    /// Roles that may approve in this scope, for the approval request text.
    pub fn approver_roles(&self, service: &str, environment: &str) -> Option<Vec<String>> {
        self.config.policy(Some(service), environment).approve
    }

    /// Counts one action for the actor; Err says when to retry.
    pub fn check_rate(&self, actor: &Actor) -> Result<(), RateLimited> {
        let key = actor
            .person
            .clone()
            .unwrap_or_else(|| actor.identity.clone());
        self.limiter
            .hit(&key, crate::clock::now_ms())
            .map_err(|retry_in| RateLimited {
                retry_in,
                limit: self.config.governance.rate_limit_actions,
                window: Duration::from_secs(self.config.governance.rate_limit_window_secs),
            })
    }
}

/// Why a person may not do something, as facts.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    /// The identity maps to no person.
    UnknownIdentity {
        /// `platform:id`.
        identity: String,
        /// What they tried.
        verb: Verb,
    },
    /// The person lacks a role the policy asks for.
    NotPermitted {
        /// Who.
        person: String,
        /// What they tried.
        verb: Verb,
        /// The service, when the refusing policy is the service's own.
        service: Option<String>,
        /// The environment.
        environment: String,
        /// Roles any of which would do.
        needed: Vec<String>,
        /// Roles held.
        held: Vec<String>,
    },
}

/// Over the rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimited {
    /// How long until one more action is allowed.
    pub retry_in: Duration,
    /// Actions allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

/// The lock that blocks deploys of `service` in `environment`, if any: an environment-wide
/// lock, or one on that service there.
pub fn blocking_lock<'a>(
    locks: &'a [LockRecord],
    service: &str,
    environment: &str,
    rollback: bool,
) -> Option<&'a LockRecord> {
    locks
        .iter()
        .filter(|l| l.environment == environment)
        .filter(|l| !rollback || l.rollbacks == crate::config::RollbackRule::Deny)
        .find(|l| l.service.as_deref().is_none_or(|s| s == service))
}

/// The scope of a lock as words: `staging` or `payments-api in production`.
pub fn lock_scope(l: &LockRecord) -> String {
    match &l.service {
        Some(s) => format!("{s} in {}", l.environment),
        None => l.environment.clone(),
    }
}

/// "staging is locked by bob since 19:20 UTC (12 min ago): incident open; until 21:20 UTC",
/// or for a window that starts later "production will be frozen by bob from … until …".
pub fn describe_lock(l: &LockRecord) -> String {
    let until = l
        .expires_at
        .map(|e| format!(", until {}", utc(e)))
        .unwrap_or_default();
    let rollbacks = match l.rollbacks {
        crate::config::RollbackRule::Allow => " (rollbacks allowed)",
        crate::config::RollbackRule::Deny => "",
    };
    match l.starts_at.filter(|s| *s > crate::clock::now_ms()) {
        Some(from) => format!(
            "{} will be frozen by {} from {}{until}{rollbacks}: {}",
            lock_scope(l),
            l.holder,
            utc(from),
            l.reason
        ),
        None => format!(
            "{} is locked by {} since {} ({}){until}{rollbacks}: {}",
            lock_scope(l),
            l.holder,
            utc(l.effective_from()),
            ago(l.effective_from()),
            l.reason
        ),
    }
}

#[cfg(test)]
mod tests;
