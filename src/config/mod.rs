//! Configuration: loading `deckhand.yaml`, validating it and looking things up in it.

mod schema;
mod warnings;

pub use schema::{
    Config, DialogueConfig, DiscordConfig, Environment, GovernanceConfig, MemoryConfig, MemoryRule,
    NluConfig, Person, Pipeline, Policy, ServeConfig, Service, SessionConfig, SlackConfig,
    SlackTransport, Stage, StageKind, StoreConfig, Strategy,
};

use std::collections::HashMap;
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
        let mut out = Vec::new();
        if self.services.is_empty() {
            out.push("`services` is empty: add at least one service".into());
        }
        if self.environments.is_empty() {
            out.push("`environments` is empty: add at least one environment".into());
        }
        if self.session.ttl_secs == 0 {
            out.push("session.ttl_secs must be greater than 0".into());
        }
        if self.session.max_history == 0 {
            out.push("session.max_history must be greater than 0".into());
        }
        if !(0.0..=1.0).contains(&self.nlu.threshold) {
            out.push(format!(
                "nlu.threshold must be between 0 and 1, got {}",
                self.nlu.threshold
            ));
        }
        for (name, v) in [
            ("nlu.semantic_accept", self.nlu.semantic_accept),
            ("nlu.semantic_accept_query", self.nlu.semantic_accept_query),
            ("nlu.semantic_margin", self.nlu.semantic_margin),
        ] {
            if !(0.0..=1.0).contains(&v) {
                out.push(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if !(self.store.url.starts_with("sqlite:")
            || self.store.url.starts_with("postgres://")
            || self.store.url.starts_with("postgresql://"))
        {
            out.push(format!(
                "store.url `{}` is not supported: use sqlite://PATH or postgres://USER@HOST/DB",
                self.store.url
            ));
        }
        if self.serve.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push(format!(
                "serve.listen `{}` is not an address: use HOST:PORT, e.g. 127.0.0.1:3000",
                self.serve.listen
            ));
        }
        if let Some(slack) = &self.slack {
            if !(slack.api_base_url.starts_with("https://")
                || slack.api_base_url.starts_with("http://"))
            {
                out.push(format!(
                    "slack.api_base_url `{}` must start with https:// (or http:// for a local fake)",
                    slack.api_base_url
                ));
            }
            if !(1_000..=60_000).contains(&slack.edit_interval_ms) {
                out.push("slack.edit_interval_ms must be between 1000 (Slack allows about one edit per second) and 60000".into());
            }
        }
        if let Some(discord) = &self.discord {
            if !(discord.api_base_url.starts_with("https://")
                || discord.api_base_url.starts_with("http://"))
            {
                out.push(format!(
                    "discord.api_base_url `{}` must start with https:// (or http:// for a local fake)",
                    discord.api_base_url
                ));
            }
            if !discord.gateway && !discord.interactions_endpoint {
                out.push("discord: enable `gateway`, `interactions_endpoint` or both".into());
            }
            if discord
                .guild_id
                .as_deref()
                .is_some_and(|g| g.parse::<u64>().is_err())
            {
                out.push("discord.guild_id must be a numeric guild id".into());
            }
            if !(1_000..=60_000).contains(&discord.edit_interval_ms) {
                out.push("discord.edit_interval_ms must be between 1000 (at most one edit per second) and 60000".into());
            }
            // Discord allows 25 choices per option (services use autocomplete instead).
            if self.environments.len() > 25 {
                out.push("discord: at most 25 environments can be offered as choices".into());
            }
        }
        let mut seen_names: HashMap<&str, &str> = HashMap::new();
        for (name, what) in self
            .services
            .iter()
            .map(|s| (s.name.as_str(), "service"))
            .chain(
                self.environments
                    .iter()
                    .map(|e| (e.name.as_str(), "environment")),
            )
        {
            if let Some(prev) = seen_names.insert(name, what) {
                out.push(format!(
                    "`{name}` is defined twice (as {prev} and as {what})"
                ));
            }
        }
        let mut orders: HashMap<u32, &str> = HashMap::new();
        for e in &self.environments {
            if let Some(prev) = orders.insert(e.order, &e.name) {
                out.push(format!(
                    "environments `{prev}` and `{}` have the same order {}",
                    e.name, e.order
                ));
            }
        }
        // Every name and alias must point at exactly one thing, or "deploy stage" is ambiguous.
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut claim = |term: &str, owner: String, out: &mut Vec<String>| {
            let key = normalize_term(term);
            if key.is_empty() {
                out.push(format!("{owner} has an empty name or alias"));
                return;
            }
            if let Some(prev) = seen.get(&key) {
                if *prev != owner {
                    out.push(format!("`{term}` is used by both {prev} and {owner}"));
                }
            } else {
                seen.insert(key, owner);
            }
        };
        for s in &self.services {
            if !is_safe_name(&s.name) {
                out.push(format!(
                    "service name `{}` must be lowercase letters, digits, `.`, `_` or `-`",
                    s.name
                ));
            }
            let owner = format!("service `{}`", s.name);
            claim(&s.name, owner.clone(), &mut out);
            for a in &s.aliases {
                claim(a, owner.clone(), &mut out);
            }
            if !self.pipelines.contains_key(&s.pipeline) {
                out.push(format!(
                    "service `{}` uses pipeline `{}`, which is not defined under `pipelines`",
                    s.name, s.pipeline
                ));
            }
        }
        for e in &self.environments {
            if !is_safe_name(&e.name) {
                out.push(format!(
                    "environment name `{}` must be lowercase letters, digits, `.`, `_` or `-`",
                    e.name
                ));
            }
            let owner = format!("environment `{}`", e.name);
            claim(&e.name, owner.clone(), &mut out);
            for a in &e.aliases {
                claim(a, owner.clone(), &mut out);
            }
        }
        let mut identities: HashMap<&str, &str> = HashMap::new();
        for (name, person) in &self.people {
            if person.identities.is_empty() {
                out.push(format!(
                    "person `{name}` has no identities (e.g. `console:{name}`)"
                ));
            }
            for id in &person.identities {
                match id.split_once(':') {
                    Some((platform, rest)) if !platform.is_empty() && !rest.is_empty() => {}
                    _ => out.push(format!(
                        "identity `{id}` of person `{name}` must look like `platform:id`"
                    )),
                }
                if let Some(other) = identities.insert(id, name) {
                    out.push(format!(
                        "identity `{id}` belongs to both `{other}` and `{name}`"
                    ));
                }
            }
        }
        for s in &self.services {
            for env in s.policies.keys() {
                if self.environment(env).is_none() {
                    out.push(format!(
                        "service `{}` has a policy for unknown environment `{env}`",
                        s.name
                    ));
                }
            }
        }
        let mut scopes: Vec<(String, Policy)> = self
            .environments
            .iter()
            .map(|e| (e.name.clone(), e.policy.clone()))
            .collect();
        for s in &self.services {
            for env in s.policies.keys() {
                scopes.push((
                    format!("{} in {env}", s.name),
                    self.policy(Some(&s.name), env),
                ));
            }
        }
        for (scope, policy) in scopes {
            let needed = policy.approvals.unwrap_or(0) as usize;
            if needed == 0 {
                continue;
            }
            match &policy.approve {
                None => out.push(format!(
                    "{scope} needs {needed} approval(s) but its policy names no `approve` roles: anyone known could approve; list the roles"
                )),
                Some(roles) => {
                    let eligible = self.people.values().filter(|p| p.roles.iter().any(|r| roles.contains(r))).count();
                    // The requester never approves their own request, so one more is needed when they are eligible.
                    if eligible < needed {
                        out.push(format!(
                            "{scope} needs {needed} approval(s) from {} but only {eligible} person(s) have those roles",
                            roles.join("/")
                        ));
                    }
                }
            }
        }
        if self.governance.approval_timeout_secs == 0 {
            out.push("governance.approval_timeout_secs must be greater than 0".into());
        }
        if self.governance.rate_limit_actions == 0 || self.governance.rate_limit_window_secs == 0 {
            out.push(
                "governance.rate_limit_actions and rate_limit_window_secs must be greater than 0"
                    .into(),
            );
        }
        if self.memory.window == 0 {
            out.push("memory.window must be greater than 0".into());
        }
        for r in &self.memory.rules {
            if r.min_failures == 0 || r.min_failures > self.memory.window {
                out.push(format!(
                    "memory rule min_failures {} must be between 1 and memory.window ({})",
                    r.min_failures, self.memory.window
                ));
            }
            if r.percent.is_some_and(|p| p == 0 || p > 100) {
                out.push("memory rule percent must be between 1 and 100".into());
            }
        }
        for (name, p) in &self.pipelines {
            if p.stages.is_empty() {
                out.push(format!("pipeline `{name}` has no stages"));
            }
            let mut stage_names: Vec<&str> = Vec::new();
            for st in &p.stages {
                if stage_names.contains(&st.name.as_str()) {
                    out.push(format!(
                        "pipeline `{name}` has two stages named `{}`",
                        st.name
                    ));
                }
                stage_names.push(&st.name);
                if st.name.trim().is_empty() {
                    out.push(format!("pipeline `{name}` has a stage without a name"));
                }
                match &st.kind {
                    StageKind::Process { command } if command.trim().is_empty() => {
                        out.push(format!(
                            "stage `{}` of pipeline `{name}` has an empty command",
                            st.name
                        ));
                    }
                    StageKind::Process { .. } => {}
                }
                if st.timeout_secs == 0 {
                    out.push(format!(
                        "stage `{}` of pipeline `{name}` has timeout_secs 0",
                        st.name
                    ));
                }
            }
            for key in p.env.keys() {
                let ok = !key.is_empty()
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !key.starts_with("DECKHAND_");
                if !ok {
                    out.push(format!(
                        "pipeline `{name}` env key `{key}` must be letters, digits or `_` and not start with DECKHAND_"
                    ));
                }
            }
            if let Some(from) = &p.rollback_from {
                if !p.stages.iter().any(|st| &st.name == from) {
                    out.push(format!("pipeline `{name}` has rollback_from `{from}`, which is not one of its stages"));
                }
            }
            if let Some(rb) = &p.rollback {
                match self.pipelines.get(rb) {
                    None => out.push(format!(
                        "pipeline `{name}` names rollback pipeline `{rb}`, which is not defined"
                    )),
                    Some(r) if r.rollback.is_some() => out.push(format!(
                        "rollback pipeline `{rb}` must not have a rollback of its own"
                    )),
                    Some(_) => {}
                }
            }
        }
        out
    }

    /// The service with this canonical name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
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
