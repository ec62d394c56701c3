//! Names checked against the config: a [`ServiceName`] or [`EnvName`] exists only for a
//! service or environment the config declares, so nothing below the command layer sees a name
//! that does not resolve.

use super::Refusal;
use crate::config::Config;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A configured service's canonical name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct ServiceName(String);

/// A configured environment's canonical name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct EnvName(String);

impl ServiceName {
    /// The service named `name` (canonical name or alias), or a refusal naming the closest
    /// configured services.
    pub fn resolve(config: &Config, name: &str) -> Result<ServiceName, Refusal> {
        let wanted = name.trim().to_lowercase();
        config
            .services
            .iter()
            .find(|s| s.name == wanted || s.aliases.iter().any(|a| a.to_lowercase() == wanted))
            .map(|s| ServiceName(s.name.clone()))
            .ok_or_else(|| Refusal::UnknownService {
                name: name.to_string(),
                suggestions: suggestions(&wanted, config.services.iter().map(|s| s.name.as_str())),
            })
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read back from the store, where only resolved names are written.
    pub(crate) fn trusted(name: &str) -> ServiceName {
        ServiceName(name.to_string())
    }
}

impl EnvName {
    /// The environment named `name` (canonical name or alias), or a refusal naming the
    /// configured environments.
    pub fn resolve(config: &Config, name: &str) -> Result<EnvName, Refusal> {
        let wanted = name.trim().to_lowercase();
        config
            .environments
            .iter()
            .find(|e| e.name == wanted || e.aliases.iter().any(|a| a.to_lowercase() == wanted))
            .map(|e| EnvName(e.name.clone()))
            .ok_or_else(|| Refusal::UnknownEnvironment {
                name: name.to_string(),
                suggestions: suggestions(
                    &wanted,
                    config.environments.iter().map(|e| e.name.as_str()),
                ),
            })
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read back from the store, where only resolved names are written.
    pub(crate) fn trusted(name: &str) -> EnvName {
        EnvName(name.to_string())
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Configured names close to `wanted` (shared prefix or small edit distance), best first;
/// all of them when none is close, so the caller always learns what exists.
fn suggestions<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let all: Vec<&str> = names.collect();
    let mut close: Vec<(usize, &str)> = all
        .iter()
        .map(|n| (crate::nlu::damerau_levenshtein(wanted, n), *n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3) || n.starts_with(wanted) || wanted.starts_with(n))
        .collect();
    close.sort();
    if close.is_empty() {
        return all.into_iter().map(String::from).collect();
    }
    close.into_iter().map(|(_, n)| n.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_prefer_close_names_and_fall_back_to_all() {
        let names = ["billionmail", "wix-backend", "redis"];
        assert_eq!(
            suggestions("billionmial", names.into_iter()),
            ["billionmail"]
        );
        assert_eq!(suggestions("zzz", names.into_iter()).len(), 3);
    }
}
