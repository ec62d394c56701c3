//! Governance: who may do what (people, roles, per-environment policies), locks and freezes,
//! and per-person rate limits. Adapter-independent: the bot asks, governance answers with a
//! permission or a refusal the user can act on.

mod rate;

pub use crate::nlu::lock_words::{parse_lock_details, LockDetails};
pub use rate::RateLimiter;

use crate::config::Config;
use crate::store::LockRecord;
use crate::timefmt::{ago, span as timefmt_span, utc};
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
    fn words(self) -> (&'static str, &'static str) {
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
}

impl Governance {
    /// Governance for this config.
    pub fn new(config: Arc<Config>) -> Governance {
        let limiter = RateLimiter::new(
            config.governance.rate_limit_actions,
            Duration::from_secs(config.governance.rate_limit_window_secs),
        );
        Governance { config, limiter }
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

    /// May `actor` do `verb` for `service` in `environment`? Err is the refusal to show.
    pub fn authorize(
        &self,
        actor: &Actor,
        verb: Verb,
        service: Option<&str>,
        environment: &str,
    ) -> Result<(), String> {
        let (what, prep) = verb.words();
        let Some(person) = &actor.person else {
            return Err(format!(
                "I don't know who `{}` is, so I can't let you {what}. Ask an admin to add `{}` to a person under `people` in the Deckhand config.",
                actor.identity, actor.identity
            ));
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
        let needed = match roles.as_slice() {
            [] => "a role, but none is allowed to".to_string(),
            [one] => format!("the role `{one}`"),
            many => format!(
                "one of the roles {}",
                many.iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let scope = match service {
            Some(s)
                if self
                    .config
                    .service(s)
                    .is_some_and(|svc| svc.policies.contains_key(environment)) =>
            {
                format!("{s} in {environment}")
            }
            _ => environment.to_string(),
        };
        let has = if actor.roles.is_empty() {
            format!("{person} has no roles")
        } else {
            format!("{person} has: {}", actor.roles.join(", "))
        };
        let service_scoped = scope.contains(" in ");
        let target = match (verb, service_scoped) {
            // "deploy payments-api to production" reads better than "deploy to payments-api in production".
            (Verb::Deploy, true) => scope.replacen(" in ", " to ", 1),
            (Verb::Rollback, true) | (Verb::Lock, _) => scope,
            _ if prep.is_empty() => scope,
            _ => format!("{prep} {scope}"),
        };
        Err(format!(
            "{person} may not {what} {target}: that needs {needed} ({has}). Nothing was run."
        ))
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

    /// Counts one action intent for the actor; Err is the refusal with when to retry.
    pub fn check_rate(&self, actor: &Actor) -> Result<(), String> {
        let key = actor
            .person
            .clone()
            .unwrap_or_else(|| actor.identity.clone());
        self.limiter
            .hit(&key, crate::clock::now_ms())
            .map_err(|retry| {
                format!(
                    "Slow down: you've sent {} commands in the last {}. Try again in {}.",
                    self.config.governance.rate_limit_actions,
                    timefmt_span(Duration::from_secs(
                        self.config.governance.rate_limit_window_secs
                    )),
                    // Rounded up: "try again in 60 s" must not be a second too early.
                    timefmt_span(Duration::from_secs(
                        (retry.as_millis() as u64).div_ceil(1000).max(1)
                    ))
                )
            })
    }
}

/// The lock that blocks deploys of `service` in `environment`, if any: an environment-wide
/// lock, or one on that service there.
pub fn blocking_lock<'a>(
    locks: &'a [LockRecord],
    service: &str,
    environment: &str,
) -> Option<&'a LockRecord> {
    locks
        .iter()
        .filter(|l| l.environment == environment)
        .find(|l| l.service.as_deref().is_none_or(|s| s == service))
}

/// The scope of a lock as words: `staging` or `payments-api in production`.
pub fn lock_scope(l: &LockRecord) -> String {
    match &l.service {
        Some(s) => format!("{s} in {}", l.environment),
        None => l.environment.clone(),
    }
}

/// "staging is locked by bob since 19:20 UTC (12 min ago): incident open; until 21:20 UTC".
pub fn describe_lock(l: &LockRecord) -> String {
    let until = l
        .expires_at
        .map(|e| format!(", until {}", utc(e)))
        .unwrap_or_default();
    format!(
        "{} is locked by {} since {} ({}){until}: {}",
        lock_scope(l),
        l.holder,
        utc(l.created_at),
        ago(l.created_at),
        l.reason
    )
}

#[cfg(test)]
mod tests;
