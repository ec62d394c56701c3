//! Deploys, rollbacks and runs: `POST /deploys`, `POST /rollbacks`, `GET /runs`,
//! `GET /runs/{id}`, `POST /runs/{id}/cancel`. Every request goes through
//! [`crate::command::Commander::apply`] as the token's person: the same roles, locks, rate
//! limit, approvals, deploy memory and audit as chat.

use super::auth::Caller;
use super::extract::{limit, Body, Params, PathParams};
use super::problem::{ApiError, Problem};
use super::views::{Accepted, ApprovalView, Links, RunDetail, RunList, RunView, StageView};
use super::ApiState;
use crate::adapters::adapter::Outlet;
use crate::bot::{approval_request_event, ChatProgress};
use crate::chat::ThreadKey;
use crate::command::{
    Command, EnvName, Outcome, Report, RunCommand, RunId, ServiceName, StopReport, StopTarget,
};
use crate::config::Strategy;
use crate::origin::Origin;
use crate::pipeline::RunStatus;
use crate::store::{Action, RunFilter};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// A deploy or rollback to run.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Service (name or alias).
    pub service: String,
    /// Environment (name or alias).
    pub environment: String,
    /// Version (deploy: default the latest build; rollback: default the previous good release).
    #[serde(default)]
    pub version: Option<String>,
    /// Strategy (default: deploy memory's recommendation, else the environment's).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Canary percent, 1 to 100.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub percent: Option<u8>,
    /// A chat channel to post the run's progress (or the approval request) into, as well.
    #[serde(default)]
    pub notify: Option<Notify>,
}

/// A chat channel of a platform `deckhand serve` is connected to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// `slack` or `discord` (one the server is connected to).
    pub platform: String,
    /// The platform's channel id (`C0123ABC`, `381870553235193857`).
    pub channel: String,
}

/// The outbox and new thread a `notify` names, or why it cannot be used.
pub(super) fn notify_target(state: &ApiState, n: &Notify) -> Result<(Outlet, ThreadKey), ApiError> {
    let Some(outlet) = state.outlets.get(&n.platform) else {
        let connected: Vec<&str> = state.outlets.keys().map(String::as_str).collect();
        return Err(ApiError::BadRequest(format!(
            "notify.platform `{}` is not connected here (connected: {})",
            n.platform,
            if connected.is_empty() {
                "none".to_string()
            } else {
                connected.join(", ")
            }
        )));
    };
    let valid = !n.channel.is_empty()
        && n.channel.len() <= 64
        && n.channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(ApiError::BadRequest(format!(
            "notify.channel `{}` is not a channel id",
            n.channel
        )));
    }
    Ok((outlet.clone(), (outlet.channel)(&n.channel)))
}

/// The responses every governed endpoint may give besides its success.
pub(super) type Answer<T> = Result<T, ApiError>;

/// Start a deploy.
#[utoipa::path(post, path = "/api/v1/deploys", tag = "runs", request_body = RunRequest,
    responses(
        (status = 202, description = "The run started, or waits for approval", body = Accepted),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted (roles needed and held)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Busy (the run), or already on that version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment (with suggestions), or a bad field", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "Locked (the lock)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn post_deploy(
    State(state): State<ApiState>,
    caller: Caller,
    Body(req): Body<RunRequest>,
) -> Answer<(StatusCode, HeaderMap, Json<Accepted>)> {
    start(&state, &caller, Action::Deploy, req).await
}

/// Start a rollback.
#[utoipa::path(post, path = "/api/v1/rollbacks", tag = "runs", request_body = RunRequest,
    responses(
        (status = 202, description = "The run started, or waits for approval", body = Accepted),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Busy, or nothing to roll back to", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment, or a bad field", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "Locked", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn post_rollback(
    State(state): State<ApiState>,
    caller: Caller,
    Body(req): Body<RunRequest>,
) -> Answer<(StatusCode, HeaderMap, Json<Accepted>)> {
    start(&state, &caller, Action::Rollback, req).await
}

/// The deploy or rollback a request names, its names resolved and its fields checked.
pub(super) fn run_command(state: &ApiState, req: &RunRequest) -> Result<RunCommand, ApiError> {
    let config = state.commander.config();
    let service = ServiceName::resolve(config, &req.service)?;
    let environment = EnvName::resolve(config, &req.environment)?;
    if let Some(v) = &req.version {
        if crate::nlu::parse_version(v).is_none() {
            return Err(ApiError::BadRequest(format!(
                "`{v}` is not a version: use a release like 2.4.0 or v2.5.0-rc.1, or a git sha"
            )));
        }
    }
    if let Some(p) = req.percent {
        if !(1..=100).contains(&p) {
            return Err(ApiError::BadRequest(format!(
                "percent {p} is out of range: give 1 to 100"
            )));
        }
    }
    Ok(RunCommand {
        service,
        environment,
        version: req.version.clone(),
        strategy: req.strategy,
        percent: req.percent,
    })
}

/// Resolves and checks the request's fields, then applies it.
async fn start(
    state: &ApiState,
    caller: &Caller,
    action: Action,
    req: RunRequest,
) -> Answer<(StatusCode, HeaderMap, Json<Accepted>)> {
    let run = run_command(state, &req)?;
    let notify = req
        .notify
        .as_ref()
        .map(|n| notify_target(state, n))
        .transpose()?;
    let progress: crate::command::Progress = match &notify {
        Some((outlet, thread)) => {
            Arc::new(ChatProgress::in_thread(outlet.sink.clone(), thread.clone()))
        }
        None => state.progress(),
    };
    // With `notify`, the request lives in that conversation: its approval request, expiry
    // notice and (approved by a click or through the API) its run report there.
    let origin = match &notify {
        Some((_, thread)) => Origin::Thread(thread.clone()),
        None => caller.origin(),
    };
    let command = Command::for_action(action, run);
    let outcome = state
        .commander
        .apply(command, &caller.0, &origin, progress)
        .await?;
    match outcome {
        Outcome::Started(started) => {
            // The run has started: whatever happens now, the answer is 202 with its id (a
            // 500 would invite a retry, that is a second deploy).
            let run = match state.commander.store().run(started.run_id.0).await {
                Ok(Some(record)) => RunView::from(&record),
                _ => RunView::starting(started.handle.facts()),
            };
            let links = Links::run(run.id);
            Ok(accepted(
                &links.self_.clone(),
                Accepted::Started { run, links },
            ))
        }
        Outcome::AwaitingApproval(ticket) => {
            if let Some((outlet, thread)) = notify {
                outlet.sink.emit(approval_request_event(&ticket, thread));
            }
            let approval = match state.commander.store().approval(ticket.id).await {
                Ok(Some(record)) => ApprovalView::new(&record, 0),
                _ => ApprovalView::requested(&ticket),
            };
            let links = Links::approval(ticket.id);
            Ok(accepted(
                &links.self_.clone(),
                Accepted::AwaitingApproval { approval, links },
            ))
        }
        Outcome::Refused(refusal) => Err(refusal.into()),
        Outcome::Answer(_) => Err(ApiError::Internal(
            "the command layer answered a run request with a report".into(),
        )),
    }
}

fn accepted(location: &str, body: Accepted) -> (StatusCode, HeaderMap, Json<Accepted>) {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, v);
    }
    (StatusCode::ACCEPTED, headers, Json(body))
}

/// Filters of `GET /runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Only this service (name or alias).
    pub service: Option<String>,
    /// Only this environment (name or alias).
    pub environment: Option<String>,
    /// Only runs in this status.
    #[param(inline)]
    pub status: Option<RunStatus>,
    /// At most this many (default 20, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// List runs, newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(RunsQuery),
    responses(
        (status = 200, description = "Runs, newest first", body = RunList),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown service or environment, or a bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_runs(
    State(state): State<ApiState>,
    _caller: Caller,
    Params(q): Params<RunsQuery>,
) -> Answer<Json<RunList>> {
    let config = state.commander.config();
    let service = q
        .service
        .map(|s| ServiceName::resolve(config, &s))
        .transpose()?;
    let environment = q
        .environment
        .map(|e| EnvName::resolve(config, &e))
        .transpose()?;
    let limit = limit(q.limit, 20, 200)?;
    let filter = RunFilter {
        service: service.map(|s| s.as_str().to_string()),
        environment: environment.map(|e| e.as_str().to_string()),
        status: q.status,
        limit: i64::from(limit),
    };
    let runs = state.commander.store().runs(&filter).await?;
    Ok(Json(RunList {
        runs: runs.iter().map(RunView::from).collect(),
    }))
}

/// One run with its finished stages (timings, exit codes, log tails).
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_run(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(id): PathParams<i64>,
) -> Answer<Json<RunDetail>> {
    let store = state.commander.store();
    let run = store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::from(crate::command::Refusal::UnknownRun { run: id }))?;
    let stages = store.stages(id).await?;
    Ok(Json(RunDetail {
        run: RunView::from(&run),
        stages: stages.iter().map(StageView::from).collect(),
        links: Links::run(id),
    }))
}

/// Cancel a run in progress (its stage process group is stopped; it ends `cancelled`).
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 202, description = "The run is being stopped", body = StopReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted to stop it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not running (here)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn cancel_run(
    State(state): State<ApiState>,
    caller: Caller,
    PathParams(id): PathParams<i64>,
) -> Answer<(StatusCode, Json<StopReport>)> {
    let command = Command::Stop(StopTarget::Run { id: RunId(id) });
    match state.report(&caller, command).await? {
        Report::Stopping(report) => Ok((StatusCode::ACCEPTED, Json(report))),
        _ => Err(ApiError::unexpected()),
    }
}
