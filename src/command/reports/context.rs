//! `context`: deploy memory of one service in one environment as data, for a caller (an
//! agent, a dashboard) deciding how to deploy: failure rate, the stages that failed, services
//! that failed around the same time, and the strategy the config's rules recommend.

use super::MEMORY_HISTORY;
use crate::command::{EnvName, ServiceName};
use crate::config::Config;
use crate::memory::{facts, recommend, Facts, Recommendation};
use crate::store::{Store, StoreError};
use serde::Serialize;

/// What `context` asks about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContextQuery {
    /// Service.
    pub service: ServiceName,
    /// Environment.
    pub environment: EnvName,
}

/// The answer to `context`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContextReport {
    /// The question.
    pub query: ContextQuery,
    /// When the report was read, unix ms.
    pub as_of: i64,
    /// Failures among the deploys considered, from 0 to 1; None with no deploy on record.
    pub failure_rate: Option<f64>,
    /// What the recent deploys show.
    pub facts: Facts,
    /// The strategy the config's rules suggest for the next deploy, if any rule matches.
    pub recommendation: Option<Recommendation>,
}

/// Builds the `context` report.
pub async fn context(
    config: &Config,
    store: &Store,
    q: &ContextQuery,
) -> Result<ContextReport, StoreError> {
    let as_of = crate::clock::now_ms();
    let (facts, recommendation) =
        memory(config, store, q.service.as_str(), q.environment.as_str()).await?;
    Ok(ContextReport {
        query: q.clone(),
        as_of,
        failure_rate: (facts.considered > 0)
            .then(|| facts.failures as f64 / facts.considered as f64),
        facts,
        recommendation,
    })
}

/// Deploy memory for a service in an environment: the facts of its recent deploys and the
/// recommendation the config's rules make from them.
pub async fn memory(
    config: &Config,
    store: &Store,
    service: &str,
    environment: &str,
) -> Result<(Facts, Option<Recommendation>), StoreError> {
    let history = store.deploy_outcomes(environment, MEMORY_HISTORY).await?;
    let f = facts(&history, service, environment, &config.memory);
    let rec = recommend(&f, &config.memory);
    Ok((f, rec))
}
