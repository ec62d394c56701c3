//! `status`: what is live where, what is running now, attempts that did not stick, deploy
//! memory warnings and locks.

use super::{same_release, Attempt, LiveRelease, RunSummary, MEMORY_HISTORY};
use crate::command::{EnvName, ServiceName};
use crate::config::Config;
use crate::governance::freeze::spans_in_scope;
use crate::governance::FreezeSpan;
use crate::memory::{facts, Facts};
use crate::store::{LockRecord, RunRecord, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;

/// What `status` asks about; None means every service (that has something to show) or every
/// environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatusQuery {
    /// One service, or all.
    pub service: Option<ServiceName>,
    /// One environment, or all.
    pub environment: Option<EnvName>,
}

/// The answer to `status`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusReport {
    /// The question.
    pub query: StatusQuery,
    /// When the report was read, unix ms.
    pub as_of: i64,
    /// The services asked about; without a service in the query, those with a live release
    /// in scope or a run in progress, in config order.
    pub services: Vec<ServiceStatus>,
    /// Active locks covering the scope, then those made to start later.
    pub locks: Vec<LockRecord>,
    /// Whether any lock is active anywhere, in scope or not.
    pub any_lock_active: bool,
    /// Freeze windows from the config, per environment in scope: the one open now, else the
    /// next to open (for the service asked about, when one is).
    pub freezes: Vec<FreezeSpan>,
    /// Plans running with a step in scope.
    pub plans: Vec<crate::store::PlanRecord>,
}

/// One service across the environments in scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceStatus {
    /// Service.
    pub service: String,
    /// The newest version available (its `versions` command, else its newest good build).
    pub newest: Option<String>,
    /// Why the available versions could not be listed.
    pub newest_problem: Option<String>,
    /// One entry per environment in scope, in config order.
    pub targets: Vec<TargetStatus>,
}

/// One service in one environment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetStatus {
    /// Environment.
    pub environment: String,
    /// What runs there now.
    pub live: Option<LiveRelease>,
    /// The newest attempt that did not succeed and came after the live release (or with
    /// nothing live); the attempt that put the live release in place is not repeated.
    pub unsettled_attempt: Option<Attempt>,
    /// The run in progress there.
    pub running: Option<RunSummary>,
    /// Deploy memory of the target.
    pub memory: Facts,
}

/// Builds the `status` report.
pub async fn status(
    config: &Config,
    store: &Store,
    q: &StatusQuery,
) -> Result<StatusReport, StoreError> {
    let service = q.service.as_ref().map(ServiceName::as_str);
    let environment = q.environment.as_ref().map(EnvName::as_str);
    let now = crate::clock::now_ms();
    let live = store.live_versions(service, environment).await?;
    let running = store.running_runs().await?;
    let envs: Vec<String> = match environment {
        Some(e) => vec![e.to_string()],
        None => config.environment_names(),
    };
    let names = match service {
        Some(s) => vec![s.to_string()],
        None => services_with_news(config, &live, &running),
    };
    // Deploy history is read once per environment, not once per service and environment.
    let mut outcomes = HashMap::new();
    if !names.is_empty() {
        for env in &envs {
            outcomes.insert(
                env.clone(),
                store.deploy_outcomes(env, MEMORY_HISTORY).await?,
            );
        }
    }
    let mut services = Vec::new();
    for name in names {
        let mut targets = Vec::new();
        for env in &envs {
            let current = live
                .iter()
                .find(|d| d.service == name && &d.environment == env);
            let unsettled_attempt = store
                .history(Some(&name), Some(env), 3)
                .await?
                .into_iter()
                .find(|d| !current.is_some_and(|c| same_release(c, d)))
                .filter(|d| d.status != "succeeded" && current.is_none_or(|c| d.run_id >= c.run_id))
                .map(|d| Attempt::from(&d));
            let history = outcomes.get(env).map(Vec::as_slice).unwrap_or_default();
            targets.push(TargetStatus {
                environment: env.clone(),
                live: current.map(LiveRelease::from),
                unsettled_attempt,
                running: running
                    .iter()
                    .find(|r| r.service == name && &r.environment == env)
                    .map(RunSummary::from),
                memory: facts(history, &name, env, &config.memory),
            });
        }
        let (newest, newest_problem) =
            match crate::versions::available_cached(config, store, &name).await {
                Ok(a) => (a.and_then(|a| a.newest().map(str::to_string)), None),
                Err(crate::versions::VersionsError::Store(e)) => return Err(e),
                Err(e) => (None, Some(e.to_string())),
            };
        services.push(ServiceStatus {
            service: name,
            newest,
            newest_problem,
            targets,
        });
    }
    let in_scope = |l: &LockRecord| {
        service.is_none() || l.service.is_none() || l.service.as_deref() == service
    };
    let mut locks: Vec<LockRecord> = store.active_locks(environment, now).await?;
    // Freeze windows said in chat that have not started yet come after the locks in force.
    locks.extend(store.scheduled_locks(environment, now).await?);
    locks.retain(in_scope);
    let freezes = spans_in_scope(config, &envs, service, now);
    let plans = store.plans(false, service, environment, 20).await?;
    Ok(StatusReport {
        query: q.clone(),
        as_of: now,
        services,
        locks,
        freezes,
        any_lock_active: !store.active_locks(None, now).await?.is_empty(),
        plans,
    })
}

/// Configured services with a live release, in config order, then services of runs in
/// progress (a service's first deploy is news before anything is live).
fn services_with_news(
    config: &Config,
    live: &[crate::store::Deployment],
    running: &[RunRecord],
) -> Vec<String> {
    let mut names: Vec<String> = config
        .service_names()
        .into_iter()
        .filter(|s| live.iter().any(|d| &d.service == s))
        .collect();
    for r in running {
        if !names.contains(&r.service) {
            names.push(r.service.clone());
        }
    }
    names
}
