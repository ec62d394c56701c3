//! The consistency checks behind [`Config::problems`], one function per config section.
//!
//! Each check appends its problems to `out`; the order of the calls is the order the problems
//! are reported in.

use super::{is_safe_name, normalize_term, Config, Policy, StageKind};
use std::collections::HashMap;

/// Every consistency problem in `config`, in a stable order (empty when it is valid).
pub(super) fn problems(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    validate_basics(config, &mut out);
    validate_store(config, &mut out);
    validate_serve(config, &mut out);
    validate_api(config, &mut out);
    validate_slack(config, &mut out);
    validate_discord(config, &mut out);
    validate_services(config, &mut out);
    validate_people(config, &mut out);
    validate_times(config, &mut out);
    validate_jobs(config, &mut out);
    validate_dependencies(config, &mut out);
    validate_policies(config, &mut out);
    validate_memory(config, &mut out);
    validate_pipelines(config, &mut out);
    out
}

/// The top-level lists, the session and the NLU thresholds.
fn validate_basics(config: &Config, out: &mut Vec<String>) {
    if config.services.is_empty() {
        out.push("`services` is empty: add at least one service".into());
    }
    if config.environments.is_empty() {
        out.push("`environments` is empty: add at least one environment".into());
    }
    if config.session.ttl_secs == 0 {
        out.push("session.ttl_secs must be greater than 0".into());
    }
    if config.session.max_history == 0 {
        out.push("session.max_history must be greater than 0".into());
    }
    if !(0.0..=1.0).contains(&config.nlu.threshold) {
        out.push(format!(
            "nlu.threshold must be between 0 and 1, got {}",
            config.nlu.threshold
        ));
    }
    for (name, v) in [
        ("nlu.semantic_accept", config.nlu.semantic_accept),
        (
            "nlu.semantic_accept_query",
            config.nlu.semantic_accept_query,
        ),
        ("nlu.semantic_margin", config.nlu.semantic_margin),
    ] {
        if !(0.0..=1.0).contains(&v) {
            out.push(format!("{name} must be between 0 and 1, got {v}"));
        }
    }
}

/// The store URL scheme.
fn validate_store(config: &Config, out: &mut Vec<String>) {
    if !(config.store.url.starts_with("sqlite:")
        || config.store.url.starts_with("postgres://")
        || config.store.url.starts_with("postgresql://"))
    {
        out.push(format!(
            "store.url `{}` is not supported: use sqlite://PATH or postgres://USER@HOST/DB",
            config.store.url
        ));
    }
}

/// The listen address and the intake limit.
fn validate_serve(config: &Config, out: &mut Vec<String>) {
    if config.serve.listen.parse::<std::net::SocketAddr>().is_err() {
        out.push(format!(
            "serve.listen `{}` is not an address: use HOST:PORT, e.g. 127.0.0.1:3000",
            config.serve.listen
        ));
    }
    if config.serve.max_pending_events == 0 {
        out.push(
            "serve.max_pending_events is 0, which would refuse every event: give at least 1 (the default is 2000)"
                .into(),
        );
    }
}

/// The API section, when there is one: each token names a known person and exactly one of
/// `token_env` and `token_sha256`.
fn validate_api(config: &Config, out: &mut Vec<String>) {
    let Some(api) = &config.api else { return };
    let mut seen = std::collections::HashSet::new();
    for (i, t) in api.tokens.iter().enumerate() {
        let source = t
            .token_env
            .clone()
            .or(t.token_sha256.as_ref().map(|h| h.to_lowercase()));
        if let Some(source) = source.filter(|s| !seen.insert(s.clone())) {
            out.push(format!(
                "api.tokens[{i}] ({}): `{source}` is already another token's: one token stands for one person",
                t.person
            ));
        }
        let at = format!("api.tokens[{i}] ({})", t.person);
        if !config.people.contains_key(&t.person) {
            out.push(format!(
                "{at}: `{}` is not a person under `people`",
                t.person
            ));
        }
        match (&t.token_env, &t.token_sha256) {
            (Some(_), Some(_)) | (None, None) => out.push(format!(
                "{at}: give exactly one of `token_env` (an environment variable holding the token) and `token_sha256`"
            )),
            (Some(var), None) => {
                let valid = !var.is_empty()
                    && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !var.starts_with(|c: char| c.is_ascii_digit());
                if !valid {
                    out.push(format!("{at}: token_env `{var}` is not an environment variable name"));
                }
            }
            (None, Some(hash)) => {
                if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                    out.push(format!("{at}: token_sha256 must be 64 hex digits (the SHA-256 of the token)"));
                }
            }
        }
    }
}

/// The Slack section, when there is one.
fn validate_slack(config: &Config, out: &mut Vec<String>) {
    if let Some(slack) = &config.slack {
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
}

/// The Discord section, when there is one.
fn validate_discord(config: &Config, out: &mut Vec<String>) {
    if let Some(discord) = &config.discord {
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
        if config.environments.len() > 25 {
            out.push("discord: at most 25 environments can be offered as choices".into());
        }
    }
}

/// Service and environment names: unique, safe, unambiguous aliases, known pipelines.
fn validate_services(config: &Config, out: &mut Vec<String>) {
    let mut seen_names: HashMap<&str, &str> = HashMap::new();
    for (name, what) in config
        .services
        .iter()
        .map(|s| (s.name.as_str(), "service"))
        .chain(
            config
                .environments
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
    for e in &config.environments {
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
    for s in &config.services {
        if !is_safe_name(&s.name) {
            out.push(format!(
                "service name `{}` must be lowercase letters, digits, `.`, `_` or `-`",
                s.name
            ));
        }
        let owner = format!("service `{}`", s.name);
        claim(&s.name, owner.clone(), out);
        for a in &s.aliases {
            claim(a, owner.clone(), out);
        }
        if !config.pipelines.contains_key(&s.pipeline) {
            out.push(format!(
                "service `{}` uses pipeline `{}`, which is not defined under `pipelines`",
                s.name, s.pipeline
            ));
        }
    }
    for e in &config.environments {
        if !is_safe_name(&e.name) {
            out.push(format!(
                "environment name `{}` must be lowercase letters, digits, `.`, `_` or `-`",
                e.name
            ));
        }
        let owner = format!("environment `{}`", e.name);
        claim(&e.name, owner.clone(), out);
        for a in &e.aliases {
            claim(a, owner.clone(), out);
        }
    }
}

/// People: each has well-formed identities that belong to no one else.
fn validate_people(config: &Config, out: &mut Vec<String>) {
    let mut identities: HashMap<&str, &str> = HashMap::new();
    for (name, person) in &config.people {
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
}

/// The `jobs:` list: unique names, a cron line and zone that read, a declared person,
/// exactly one deploy or rollback whose names resolve, a known platform to notify.
fn validate_jobs(config: &Config, out: &mut Vec<String>) {
    use crate::governance::freeze::{five_field_cron, zone};
    let mut names = std::collections::BTreeSet::new();
    for (i, job) in config.jobs.iter().enumerate() {
        let at = format!("job {} (`{}`)", i + 1, job.name);
        if job.name.trim().is_empty() {
            out.push(format!("job {}: the name is empty", i + 1));
        }
        if !names.insert(job.name.as_str()) {
            out.push(format!("{at}: the name is used twice"));
        }
        if let Err(e) = five_field_cron(&job.cron) {
            out.push(format!("{at}: `{}` is not a cron line: {e}", job.cron));
        }
        if let Some(Err(e)) = job.tz.as_deref().map(zone) {
            out.push(format!("{at}: {e}"));
        }
        if !config.people.contains_key(&job.run_as) {
            out.push(format!("{at}: run_as `{}` is not in people", job.run_as));
        }
        match job.target() {
            None => out.push(format!("{at}: give exactly one of deploy or rollback")),
            Some((_, run)) => {
                if config.service_named(&run.service).is_none() {
                    out.push(format!("{at}: unknown service `{}`", run.service));
                }
                if config.environment_named(&run.environment).is_none() {
                    out.push(format!("{at}: unknown environment `{}`", run.environment));
                }
            }
        }
        if let Some(n) = &job.notify {
            if !["console", "slack", "discord"].contains(&n.platform.as_str()) {
                out.push(format!(
                    "{at}: notify.platform `{}` is not console, slack or discord",
                    n.platform
                ));
            }
        }
    }
}

/// `depends_on`: every name a configured service, no cycle (a plan could not be ordered).
fn validate_dependencies(config: &Config, out: &mut Vec<String>) {
    let mut pairs = Vec::new();
    for s in &config.services {
        let mut deps = Vec::new();
        for d in &s.depends_on {
            match config.service_named(d) {
                Some(dep) => deps.push(dep.name.clone()),
                None => out.push(format!(
                    "service `{}`: depends_on names unknown service `{d}`",
                    s.name
                )),
            }
        }
        pairs.push((s.name.clone(), deps));
    }
    if let Some(cycle) = crate::plan::Dependencies::new(pairs).cycle() {
        out.push(format!(
            "services: depends_on has a cycle: {}",
            cycle.join(" → ")
        ));
    }
}

/// Time zones (the config's and each person's) and freeze windows.
fn validate_times(config: &Config, out: &mut Vec<String>) {
    use crate::governance::freeze::{zone, FreezeWindow};
    if let Err(e) = zone(&config.timezone) {
        out.push(format!("timezone: {e}"));
    }
    for (name, person) in &config.people {
        if let Some(Err(e)) = person.timezone.as_deref().map(zone) {
            out.push(format!("person `{name}`: {e}"));
        }
    }
    for env in &config.environments {
        for (i, w) in env.windows.iter().enumerate() {
            if let Err(e) = FreezeWindow::parse(&env.name, w, &config.timezone) {
                out.push(format!("environment `{}` window {}: {e}", env.name, i + 1));
            }
            for s in w.services.iter().flatten() {
                if config.service(s).is_none() {
                    out.push(format!(
                        "environment `{}` window {}: unknown service `{s}`",
                        env.name,
                        i + 1
                    ));
                }
            }
        }
    }
}

/// Policies: overrides name known environments, and approvals can be given by enough people; governance limits.
fn validate_policies(config: &Config, out: &mut Vec<String>) {
    for s in &config.services {
        for env in s.policies.keys() {
            if config.environment(env).is_none() {
                out.push(format!(
                    "service `{}` has a policy for unknown environment `{env}`",
                    s.name
                ));
            }
        }
    }
    let mut scopes: Vec<(String, Policy)> = config
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.policy.clone()))
        .collect();
    for s in &config.services {
        for env in s.policies.keys() {
            scopes.push((
                format!("{} in {env}", s.name),
                config.policy(Some(&s.name), env),
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
                let eligible = config.people.values().filter(|p| p.roles.iter().any(|r| roles.contains(r))).count();
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
    if config.governance.approval_timeout_secs == 0 {
        out.push("governance.approval_timeout_secs must be greater than 0".into());
    }
    if config.governance.rate_limit_actions == 0 || config.governance.rate_limit_window_secs == 0 {
        out.push(
            "governance.rate_limit_actions and rate_limit_window_secs must be greater than 0"
                .into(),
        );
    }
}

/// The failure-memory window and rules.
fn validate_memory(config: &Config, out: &mut Vec<String>) {
    if config.memory.window == 0 {
        out.push("memory.window must be greater than 0".into());
    }
    for r in &config.memory.rules {
        if r.min_failures == 0 || r.min_failures > config.memory.window {
            out.push(format!(
                "memory rule min_failures {} must be between 1 and memory.window ({})",
                r.min_failures, config.memory.window
            ));
        }
        if r.percent.is_some_and(|p| p == 0 || p > 100) {
            out.push("memory rule percent must be between 1 and 100".into());
        }
    }
}

/// Pipelines: stages, env keys and rollback references.
fn validate_pipelines(config: &Config, out: &mut Vec<String>) {
    for (name, p) in &config.pipelines {
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
                out.push(format!(
                    "pipeline `{name}` has rollback_from `{from}`, which is not one of its stages"
                ));
            }
        }
        if let Some(rb) = &p.rollback {
            match config.pipelines.get(rb) {
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
}
