//! `explain`: the last failed run of a service, the stage that failed with its log tail,
//! what its target runs now, and deploy memory.

use super::{context::memory, LiveRelease, RunSummary};
use crate::command::{EnvName, ServiceName};
use crate::config::Config;
use crate::memory::Facts;
use crate::pipeline::StageState;
use crate::store::{StageRecord, Store, StoreError};
use serde::Serialize;

/// What `explain` asks about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ExplainQuery {
    /// The service whose last failure to explain.
    pub service: ServiceName,
    /// Only failures in this environment.
    pub environment: Option<EnvName>,
}

/// The answer to `explain`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The question.
    pub query: ExplainQuery,
    /// When the report was read, unix ms.
    pub as_of: i64,
    /// The newest failed or interrupted run in scope; None when there is none on record.
    pub failed_run: Option<FailedRun>,
}

/// A run that failed (or was interrupted), and where that left its target.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailedRun {
    /// The run.
    pub run: RunSummary,
    /// The first stage of its main phase that did not succeed; None when the run failed
    /// before any stage result was recorded.
    pub failed_stage: Option<FailedStage>,
    /// What the run's target runs now.
    pub live: Option<LiveRelease>,
    /// When the live release's checks did not pass: the release a rollback would return to.
    pub rollback_target: Option<String>,
    /// Deploy memory of the run's target.
    pub memory: Facts,
}

/// A stage that did not succeed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailedStage {
    /// Stage name.
    pub name: String,
    /// How it ended.
    pub state: StageState,
    /// Exit code, when its process exited.
    pub exit_code: Option<i64>,
    /// Its last output lines (may be empty).
    pub log_tail: String,
}

impl From<&StageRecord> for FailedStage {
    fn from(s: &StageRecord) -> FailedStage {
        FailedStage {
            name: s.name.clone(),
            state: s.status,
            exit_code: s.exit_code,
            log_tail: s.log_tail.clone(),
        }
    }
}

/// Builds the `explain` report.
pub async fn explain(
    config: &Config,
    store: &Store,
    q: &ExplainQuery,
) -> Result<Explanation, StoreError> {
    let as_of = crate::clock::now_ms();
    let environment = q.environment.as_ref().map(EnvName::as_str);
    let failed_run = match store
        .last_failed_run(q.service.as_str(), environment)
        .await?
    {
        None => None,
        Some((run, stages)) => {
            let live = store
                .live_versions(Some(&run.service), Some(&run.environment))
                .await?
                .first()
                .map(LiveRelease::from);
            let rollback_target = match &live {
                Some(l) if !l.healthy() => {
                    store
                        .rollback_target(&run.service, &run.environment)
                        .await?
                }
                _ => None,
            };
            let (memory, _) = memory(config, store, &run.service, &run.environment).await?;
            Some(FailedRun {
                failed_stage: stages
                    .iter()
                    .filter(|s| s.phase == crate::pipeline::Phase::Main)
                    .find(|s| s.status != crate::pipeline::StageState::Succeeded)
                    .map(FailedStage::from),
                run: RunSummary::from(&run),
                live,
                rollback_target,
                memory,
            })
        }
    };
    Ok(Explanation {
        query: q.clone(),
        as_of,
        failed_run,
    })
}
