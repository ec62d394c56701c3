//! "what's new" / "any updates for billionmail in staging": for each service, the newest
//! version available (see [`crate::versions`]) against what runs in each environment. A
//! service whose versions cannot be listed says why; it is never reported as up to date.

use crate::command::{EnvName, ServiceName};
use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::versions::{available, is_newer, VersionSource};
use serde::Serialize;

/// The question.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UpdatesQuery {
    /// These services (None: all, in config order).
    #[schema(value_type = Option<Vec<String>>)]
    pub services: Option<Vec<ServiceName>>,
    /// This environment (None: every one, in promotion order).
    #[schema(value_type = Option<String>)]
    pub environment: Option<EnvName>,
}

/// What could go out where.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpdatesReport {
    /// The question.
    pub query: UpdatesQuery,
    /// One entry per service and environment asked about.
    pub entries: Vec<UpdateEntry>,
}

impl UpdatesReport {
    /// The entries with a newer version to deploy.
    pub fn updates(&self) -> impl Iterator<Item = &UpdateEntry> {
        self.entries.iter().filter(|e| e.update)
    }
}

/// One service in one environment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpdateEntry {
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// What runs there (None: never deployed through Deckhand).
    pub live: Option<String>,
    /// The newest version available (None: none found).
    pub newest: Option<String>,
    /// Where `newest` came from.
    pub source: Option<VersionSource>,
    /// Whether `newest` is newer than `live`.
    pub update: bool,
    /// Why the versions could not be listed.
    pub problem: Option<String>,
}

/// Builds the report: the versions of each service are listed once, whatever the number of
/// environments.
pub async fn updates(
    config: &Config,
    store: &Store,
    q: &UpdatesQuery,
) -> Result<UpdatesReport, StoreError> {
    let services: Vec<String> = match &q.services {
        Some(s) => s.iter().map(|s| s.to_string()).collect(),
        None => config.service_names(),
    };
    let mut environments: Vec<&crate::config::Environment> = match &q.environment {
        Some(e) => config.environment(e.as_str()).into_iter().collect(),
        None => config.environments.iter().collect(),
    };
    environments.sort_by_key(|e| e.order);
    let mut entries = Vec::new();
    for service in &services {
        let (newest, source, problem) = match available(config, store, service).await {
            Ok(Some(a)) => (a.newest().map(str::to_string), Some(a.source), None),
            Ok(None) => (None, None, None),
            Err(crate::versions::VersionsError::Store(e)) => return Err(e),
            Err(e) => (None, None, Some(e.to_string())),
        };
        for env in &environments {
            let live = store
                .live_versions(Some(service), Some(&env.name))
                .await?
                .into_iter()
                .next()
                .and_then(|d| d.version);
            let update = newest
                .as_deref()
                .is_some_and(|n| is_newer(n, live.as_deref()));
            entries.push(UpdateEntry {
                service: service.clone(),
                environment: env.name.clone(),
                live,
                newest: newest.clone(),
                source,
                update,
                problem: problem.clone(),
            });
        }
    }
    Ok(UpdatesReport {
        query: q.clone(),
        entries,
    })
}
