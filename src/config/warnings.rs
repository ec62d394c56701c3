//! Things in a valid config that are probably mistakes: reported by `deckhand config check`
//! as warnings (the config still loads and runs).

use super::{Config, Policy};
use std::collections::{BTreeMap, BTreeSet};

impl Config {
    /// Warnings about a config that is valid but likely wrong; empty when none.
    ///
    /// A policy role that no person holds means nobody may do that action there (or, for
    /// `approve`, that nobody can approve): often a typo in a role name or a missing person.
    pub fn warnings(&self) -> Vec<String> {
        let held: BTreeSet<&str> = self
            .people
            .values()
            .flat_map(|p| p.roles.iter().map(String::as_str))
            .collect();
        // role -> where it is named ("deploy in production", "approve for billionmail in staging").
        let mut unheld: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut note = |policy: &Policy, scope: &str| {
            for (action, roles) in [
                ("deploy", &policy.deploy),
                ("rollback", &policy.rollback),
                ("lock", &policy.lock),
                ("approve", &policy.approve),
            ] {
                for role in roles.iter().flatten() {
                    if !held.contains(role.as_str()) {
                        unheld
                            .entry(role.clone())
                            .or_default()
                            .push(format!("{action} in {scope}"));
                    }
                }
            }
        };
        for e in &self.environments {
            note(&e.policy, &e.name);
        }
        for s in &self.services {
            for (env, policy) in &s.policies {
                note(policy, &format!("{env} (for {})", s.name));
            }
        }
        unheld
            .into_iter()
            .map(|(role, places)| {
                let mut places = places;
                places.dedup();
                format!(
                    "policy role `{role}` is held by nobody (people: … roles: [{role}]); it is named for: {}",
                    places.join(", ")
                )
            })
            .collect()
    }
}
