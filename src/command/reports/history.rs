//! `history`: recent deployments and rollbacks, newest first, marking the ones live now.

use super::{same_release, Attempt, LiveRelease};
use crate::command::{EnvName, ServiceName};
use crate::store::{Store, StoreError};
use serde::Serialize;

/// What `history` asks about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryQuery {
    /// One service, or all.
    pub service: Option<ServiceName>,
    /// One environment, or all.
    pub environment: Option<EnvName>,
    /// How many entries at most.
    pub limit: u32,
}

impl HistoryQuery {
    /// How many entries the chat answer shows.
    pub const DEFAULT_LIMIT: u32 = 10;
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            service: None,
            environment: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// The answer to `history`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryReport {
    /// The question.
    pub query: HistoryQuery,
    /// Newest first; empty when nothing in scope is on record.
    pub entries: Vec<HistoryEntry>,
    /// The latest plans with a step in scope, newest first.
    pub plans: Vec<crate::store::PlanRecord>,
}

/// One deployment or rollback.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// What was attempted and how it ended.
    #[serde(flatten)]
    pub attempt: Attempt,
    /// The live release this entry put in place, when its target still runs it.
    pub live_now: Option<LiveRelease>,
}

/// Builds the `history` report.
pub async fn history(store: &Store, q: &HistoryQuery) -> Result<HistoryReport, StoreError> {
    let service = q.service.as_ref().map(ServiceName::as_str);
    let environment = q.environment.as_ref().map(EnvName::as_str);
    let rows = store
        .history(service, environment, i64::from(q.limit))
        .await?;
    let live = if rows.is_empty() {
        Vec::new()
    } else {
        store.live_versions(service, environment).await?
    };
    let entries = rows
        .iter()
        .map(|d| HistoryEntry {
            attempt: Attempt::from(d),
            live_now: live
                .iter()
                .find(|l| same_release(l, d))
                .map(LiveRelease::from),
        })
        .collect();
    let plans = store.plans(true, service, environment, 5).await?;
    Ok(HistoryReport {
        query: q.clone(),
        entries,
        plans,
    })
}
