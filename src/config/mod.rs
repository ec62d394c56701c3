//! Configuration: loading `deckhand.yaml`, validating it and looking things up in it.

mod jobs;
mod schema;
mod validate;
mod warnings;
mod windows;

pub use jobs::{JobConfig, JobNotify, JobRun};
pub use schema::{
    ApiConfig, ApiToken, Config, DialogueConfig, DiscordConfig, Environment, GovernanceConfig,
    MemoryConfig, MemoryRule, NluConfig, Person, Pipeline, Policy, ServeConfig, Service,
    SessionConfig, SlackConfig, SlackTransport, Stage, StageKind, StoreConfig, Strategy,
    VersionsCommand,
};
pub use windows::{FreezeWindowConfig, RollbackRule};

use std::path::{Path, PathBuf};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown/missing fields (the message names line and field).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde_yaml's message, with the location.
        message: String,
    },
    /// The file parsed but its content is inconsistent.
    #[error("{path}: invalid configuration:\n  - {}", problems.join("\n  - "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
}

/// True when `s` is safe to hand to a stage as an identifier (`^[a-z0-9][a-z0-9._-]*$`).
pub fn is_safe_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        Config::from_yaml(&text, path, &base)
    }

    /// Parses and validates YAML text; `base_dir` anchors relative paths.
    pub fn from_yaml(text: &str, path: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.base_dir = base_dir.to_path_buf();
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// Every consistency problem in the config (empty when it is valid).
    pub fn problems(&self) -> Vec<String> {
        validate::problems(self)
    }

    /// The service with this canonical name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The service with this canonical name or alias (as people write it in the config's
    /// own lists: `jobs`, `depends_on`).
    pub fn service_named(&self, name: &str) -> Option<&Service> {
        let wanted = name.trim().to_lowercase();
        self.services
            .iter()
            .find(|s| s.name == wanted || s.aliases.iter().any(|a| a.to_lowercase() == wanted))
    }

    /// The environment with this canonical name or alias.
    pub fn environment_named(&self, name: &str) -> Option<&Environment> {
        let wanted = name.trim().to_lowercase();
        self.environments
            .iter()
            .find(|e| e.name == wanted || e.aliases.iter().any(|a| a.to_lowercase() == wanted))
    }

    /// The environment with this canonical name.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The effective policy for a service in an environment (service override over environment).
    pub fn policy(&self, service: Option<&str>, environment: &str) -> Policy {
        let base = self
            .environment(environment)
            .map(|e| e.policy.clone())
            .unwrap_or_default();
        match service
            .and_then(|s| self.service(s))
            .and_then(|s| s.policies.get(environment))
        {
            Some(over) => base.overlay(over),
            None => base,
        }
    }

    /// The person a platform identity belongs to, with their roles.
    pub fn person(&self, identity: &str) -> Option<(&str, &Person)> {
        self.people
            .iter()
            .find(|(_, p)| p.identities.iter().any(|i| i == identity))
            .map(|(n, p)| (n.as_str(), p))
    }

    /// Environment names in promotion order.
    pub fn environment_names(&self) -> Vec<String> {
        let mut envs: Vec<&Environment> = self.environments.iter().collect();
        envs.sort_by_key(|e| e.order);
        envs.into_iter().map(|e| e.name.clone()).collect()
    }

    /// Service names as listed in the config.
    pub fn service_names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.name.clone()).collect()
    }

    /// The store URL with a relative SQLite path anchored at the config folder.
    pub fn store_url(&self) -> String {
        resolve_store_url(&self.store.url, &self.base_dir)
    }

    /// A pipeline env value with `./` and `../` paths anchored at the config folder.
    pub fn resolve_env_value(&self, value: &str) -> String {
        if value.starts_with("./") || value.starts_with("../") {
            self.base_dir.join(value).to_string_lossy().into_owned()
        } else {
            value.to_string()
        }
    }
}

/// Lowercases and folds separators so `Auth Service`, `auth-service` and `auth_service` collide.
pub fn normalize_term(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn resolve_store_url(url: &str, base: &Path) -> String {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_string();
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path == ":memory:" || path.is_empty() {
        return url.to_string();
    }
    let full = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        base.join(path)
    };
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    format!("sqlite://{}?{}", full.display(), query)
}

#[cfg(test)]
mod tests;
