//! The read-only questions: status, history, explain, context (deploy memory) and readiness,
//! answered with the command layer's typed reports, as JSON.

use super::auth::Caller;
use super::extract::{limit, Params, PathParams};
use super::problem::{ApiError, Problem};
use super::runs::Answer;
use super::ApiState;
use crate::command::reports::{
    ContextQuery, ContextReport, ExplainQuery, Explanation, HistoryQuery, HistoryReport,
    ReadinessQuery, ReadinessReport, StatusQuery, StatusReport,
};
use crate::command::{EnvName, Query, Report, ServiceName};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

/// An optional environment filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentQuery {
    /// Only this environment (name or alias).
    pub environment: Option<String>,
}

/// A required environment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequiredEnvironment {
    /// The environment (name or alias).
    pub environment: String,
}

/// Filters of a history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only this environment (name or alias).
    pub environment: Option<String>,
    /// At most this many entries (default 10, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Filters of the history of every service.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AllHistoryParams {
    /// Only this service (name or alias).
    pub service: Option<String>,
    /// Only this environment (name or alias).
    pub environment: Option<String>,
    /// At most this many entries (default 10, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

fn env(state: &ApiState, name: Option<&str>) -> Result<Option<EnvName>, ApiError> {
    name.map(|e| EnvName::resolve(state.commander.config(), e))
        .transpose()
        .map_err(Into::into)
}

fn service(state: &ApiState, name: &str) -> Result<ServiceName, ApiError> {
    ServiceName::resolve(state.commander.config(), name).map_err(Into::into)
}

async fn ask(state: &ApiState, q: Query) -> Result<Report, ApiError> {
    Ok(state.commander.query(&q).await?)
}

/// What is live where for one service, what is running, and the locks.
#[utoipa::path(get, path = "/api/v1/services/{service}/status", tag = "services",
    params(("service" = String, Path, description = "Service name or alias"), EnvironmentQuery),
    responses(
        (status = 200, description = "Status", body = StatusReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn service_status(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(name): PathParams<String>,
    Params(q): Params<EnvironmentQuery>,
) -> Answer<Json<StatusReport>> {
    let query = StatusQuery {
        service: Some(service(&state, &name)?),
        environment: env(&state, q.environment.as_deref())?,
    };
    match ask(&state, Query::Status(query)).await? {
        Report::Status(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// What is live where for every service.
#[utoipa::path(get, path = "/api/v1/status", tag = "services", params(EnvironmentQuery),
    responses(
        (status = 200, description = "Status", body = StatusReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn status_all(
    State(state): State<ApiState>,
    _caller: Caller,
    Params(q): Params<EnvironmentQuery>,
) -> Answer<Json<StatusReport>> {
    let query = StatusQuery {
        service: None,
        environment: env(&state, q.environment.as_deref())?,
    };
    match ask(&state, Query::Status(query)).await? {
        Report::Status(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// Filters of `GET /updates`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UpdatesParams {
    /// Only this environment (name or alias; default: every one).
    pub environment: Option<String>,
    /// Only this service (name or alias; default: all).
    pub service: Option<String>,
}

/// What newer versions could go out where: each service's newest version (from its
/// `versions` command, else its newest good build) against what runs in each environment.
#[utoipa::path(get, path = "/api/v1/updates", tag = "services", params(UpdatesParams),
    responses(
        (status = 200, description = "One entry per service and environment", body = crate::command::reports::UpdatesReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn updates(
    State(state): State<ApiState>,
    _caller: Caller,
    Params(q): Params<UpdatesParams>,
) -> Answer<Json<crate::command::reports::UpdatesReport>> {
    let services = match q.service.as_deref() {
        Some(name) => Some(vec![service(&state, name)?]),
        None => None,
    };
    let query = crate::command::reports::UpdatesQuery {
        services,
        environment: env(&state, q.environment.as_deref())?,
    };
    match ask(&state, Query::Updates(query)).await? {
        Report::Updates(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// The latest deployments of one service.
#[utoipa::path(get, path = "/api/v1/services/{service}/history", tag = "services",
    params(("service" = String, Path, description = "Service name or alias"), HistoryParams),
    responses(
        (status = 200, description = "History, newest first", body = HistoryReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment, or a bad limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn service_history(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(name): PathParams<String>,
    Params(q): Params<HistoryParams>,
) -> Answer<Json<HistoryReport>> {
    let query = HistoryQuery {
        service: Some(service(&state, &name)?),
        environment: env(&state, q.environment.as_deref())?,
        limit: limit(q.limit, 10, 100)?,
    };
    match ask(&state, Query::History(query)).await? {
        Report::History(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// The latest deployments of every service.
#[utoipa::path(get, path = "/api/v1/history", tag = "services", params(AllHistoryParams),
    responses(
        (status = 200, description = "History, newest first", body = HistoryReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment, or a bad limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn history_all(
    State(state): State<ApiState>,
    _caller: Caller,
    Params(q): Params<AllHistoryParams>,
) -> Answer<Json<HistoryReport>> {
    let query = HistoryQuery {
        service: q
            .service
            .as_deref()
            .map(|s| service(&state, s))
            .transpose()?,
        environment: env(&state, q.environment.as_deref())?,
        limit: limit(q.limit, 10, 100)?,
    };
    match ask(&state, Query::History(query)).await? {
        Report::History(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// Why the last failed run of a service failed.
#[utoipa::path(get, path = "/api/v1/services/{service}/explain", tag = "services",
    params(("service" = String, Path, description = "Service name or alias"), EnvironmentQuery),
    responses(
        (status = 200, description = "Explanation (failed_run is null when nothing failed)", body = Explanation),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn service_explain(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(name): PathParams<String>,
    Params(q): Params<EnvironmentQuery>,
) -> Answer<Json<Explanation>> {
    let query = ExplainQuery {
        service: service(&state, &name)?,
        environment: env(&state, q.environment.as_deref())?,
    };
    match ask(&state, Query::Explain(query)).await? {
        Report::Explanation(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// Deploy memory for a service in an environment: failure rate, failed stages, co-deploy
/// failures, the recommended strategy and why.
#[utoipa::path(get, path = "/api/v1/services/{service}/context", tag = "services",
    params(("service" = String, Path, description = "Service name or alias"), RequiredEnvironment),
    responses(
        (status = 200, description = "Deploy memory", body = ContextReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment, or no environment given", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn service_context(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(name): PathParams<String>,
    Params(q): Params<RequiredEnvironment>,
) -> Answer<Json<ContextReport>> {
    let service = service(&state, &name)?;
    let environment = EnvName::resolve(state.commander.config(), &q.environment)?;
    let query = ContextQuery {
        service,
        environment,
    };
    match ask(&state, Query::Context(query)).await? {
        Report::Context(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}

/// Whether a service is ready to go out: newest build, targets, locks, approvals waiting.
#[utoipa::path(get, path = "/api/v1/services/{service}/readiness", tag = "services",
    params(("service" = String, Path, description = "Service name or alias"), EnvironmentQuery),
    responses(
        (status = 200, description = "Readiness", body = ReadinessReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn service_readiness(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(name): PathParams<String>,
    Params(q): Params<EnvironmentQuery>,
) -> Answer<Json<ReadinessReport>> {
    let query = ReadinessQuery {
        service: service(&state, &name)?,
        environment: env(&state, q.environment.as_deref())?,
    };
    match ask(&state, Query::Readiness(query)).await? {
        Report::Readiness(r) => Ok(Json(*r)),
        _ => Err(ApiError::unexpected()),
    }
}
