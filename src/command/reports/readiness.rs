//! `readiness` ("is billionmail ready", "can I deploy billionmail"): the newest build, what
//! runs where, locks that cover the service, approval requests waiting, and deploy memory.
//! Reads only; nothing is started.

use super::{context::memory, LiveRelease, RunSummary};
use crate::command::{EnvName, ServiceName};
use crate::config::{Config, Strategy};
use crate::memory::Facts;
use crate::pipeline::RunStatus;
use crate::store::{Action, ApprovalRecord, Decision, LockRecord, Store, StoreError};
use serde::Serialize;

/// What `readiness` asks about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReadinessQuery {
    /// The service to check.
    pub service: ServiceName,
    /// One environment (locks, approvals and memory are then limited to it), or all.
    pub environment: Option<EnvName>,
}

/// The answer to `readiness`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReadinessReport {
    /// The question.
    pub query: ReadinessQuery,
    /// When the report was read, unix ms.
    pub as_of: i64,
    /// The newest deploy run of the service, in any environment; None before its first.
    pub newest_build: Option<NewestBuild>,
    /// When the newest run built nothing usable: the newest one that did.
    pub last_good_build: Option<GoodBuild>,
    /// Every configured environment, in config order (what runs where is always shown).
    pub targets: Vec<TargetReadiness>,
    /// Active locks covering the service in scope, then those that start later.
    pub locks: Vec<LockRecord>,
    /// Freeze windows from the config covering the service, per environment in scope: the one
    /// open now, else the next.
    pub freezes: Vec<crate::governance::FreezeSpan>,
    /// Approval requests for the service in scope still waiting, oldest first.
    pub pending_approvals: Vec<PendingApproval>,
    /// Deploy memory per environment in scope, in config order.
    pub memory: Vec<Facts>,
}

/// The newest deploy run of a service and how far it got.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewestBuild {
    /// The run.
    pub run: RunSummary,
    /// How it stands.
    pub outcome: BuildOutcome,
}

/// How far the newest deploy run got.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BuildOutcome {
    /// Its stages are still running.
    InProgress,
    /// Every stage succeeded.
    Passed,
    /// It ended without passing (failed, cancelled or interrupted).
    Stopped {
        /// How it ended.
        status: RunStatus,
        /// The first stage of its main phase that did not succeed, if one was recorded.
        stage: Option<String>,
    },
}

/// A deploy run that built a version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GoodBuild {
    /// Run id.
    pub run_id: i64,
    /// The version it built.
    pub version: Option<String>,
    /// Start, unix ms.
    pub started_at: i64,
}

/// The service in one environment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetReadiness {
    /// Environment.
    pub environment: String,
    /// What runs there now.
    pub live: Option<LiveRelease>,
    /// The run in progress there.
    pub running: Option<RunSummary>,
}

/// An approval request still waiting for decisions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingApproval {
    /// Request id.
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version (None: the latest build, or the previous release for a rollback).
    pub version: Option<String>,
    /// Strategy asked for.
    pub strategy: Strategy,
    /// Canary percent.
    pub percent: Option<i64>,
    /// Who asked.
    pub requested_by: String,
    /// For a plan's request: every step it approves, in order (the fields above are its
    /// strictest step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<crate::command::RunCommand>>,
    /// When, unix ms.
    pub created_at: i64,
    /// When it expires, unix ms.
    pub expires_at: i64,
    /// Approvals needed.
    pub required: i64,
    /// Approvals given so far.
    pub approvals: usize,
}

/// Builds the `readiness` report.
pub async fn readiness(
    config: &Config,
    store: &Store,
    q: &ReadinessQuery,
) -> Result<ReadinessReport, StoreError> {
    let service = q.service.as_str();
    let environment = q.environment.as_ref().map(EnvName::as_str);
    let now = crate::clock::now_ms();
    let (newest_build, last_good_build) = builds(config, store, service).await?;
    let live = store.live_versions(Some(service), None).await?;
    let running = store.running_runs().await?;
    let targets = config
        .environment_names()
        .into_iter()
        .map(|env| TargetReadiness {
            live: live
                .iter()
                .find(|d| d.environment == env)
                .map(LiveRelease::from),
            running: running
                .iter()
                .find(|r| r.service == service && r.environment == env)
                .map(RunSummary::from),
            environment: env,
        })
        .collect();
    let mut locks = store.active_locks(environment, now).await?;
    // Freeze windows said in chat that start later matter to "can I deploy?" too.
    locks.extend(store.scheduled_locks(environment, now).await?);
    locks.retain(|l| l.service.is_none() || l.service.as_deref() == Some(service));
    let mut pending_approvals = Vec::new();
    for a in store.pending_approvals(service, environment, now).await? {
        pending_approvals.push(pending(store, a).await?);
    }
    let envs: Vec<String> = match environment {
        Some(e) => vec![e.to_string()],
        None => config.environment_names(),
    };
    let mut memories = Vec::new();
    for env in &envs {
        memories.push(memory(config, store, service, env).await?.0);
    }
    let freezes = crate::governance::freeze::spans_in_scope(config, &envs, Some(service), now);
    Ok(ReadinessReport {
        query: q.clone(),
        as_of: now,
        newest_build,
        last_good_build,
        targets,
        locks,
        freezes,
        pending_approvals,
        memory: memories,
    })
}

/// The newest build, and the last good one when the newest built nothing usable (no version,
/// or it failed at the pipeline's first stage, the build).
async fn builds(
    config: &Config,
    store: &Store,
    service: &str,
) -> Result<(Option<NewestBuild>, Option<GoodBuild>), StoreError> {
    let Some(newest) = store.newest_build(service).await? else {
        return Ok((None, None));
    };
    let r = &newest.run;
    let outcome = match r.status {
        RunStatus::Running => BuildOutcome::InProgress,
        RunStatus::Succeeded => BuildOutcome::Passed,
        status => BuildOutcome::Stopped {
            status,
            stage: newest.failed_stage.clone(),
        },
    };
    let built =
        r.version.is_some() && newest.failed_stage.as_deref() != first_stage(config, service);
    let good = if built {
        None
    } else {
        store
            .newest_good_build(service)
            .await?
            .filter(|g| g.id != r.id)
            .map(|g| GoodBuild {
                run_id: g.id,
                version: g.version,
                started_at: g.started_at,
            })
    };
    Ok((
        Some(NewestBuild {
            run: RunSummary::from(r),
            outcome,
        }),
        good,
    ))
}

/// The first stage of a service's pipeline (its build).
fn first_stage<'a>(config: &'a Config, service: &str) -> Option<&'a str> {
    let pipeline = &config.service(service)?.pipeline;
    Some(
        config
            .pipelines
            .get(pipeline)?
            .stages
            .first()?
            .name
            .as_str(),
    )
}

/// A pending request with the approvals given so far.
async fn pending(store: &Store, a: ApprovalRecord) -> Result<PendingApproval, StoreError> {
    let approvals = store
        .decisions(a.id)
        .await?
        .iter()
        .filter(|d| d.decision == Decision::Approve)
        .count();
    Ok(PendingApproval {
        plan: crate::command::plan_of_request(&a),
        id: a.id,
        action: a.action,
        // Stored from `Strategy::as_str`; an unreadable one is what a request without a
        // strategy means, as when the request is decided.
        strategy: a.strategy,
        service: a.service,
        environment: a.environment,
        version: a.version,
        percent: a.percent,
        requested_by: a.requested_by,
        created_at: a.created_at,
        expires_at: a.expires_at,
        required: a.required,
        approvals,
    })
}
