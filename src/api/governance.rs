//! Locks and approvals: `GET/POST/DELETE /locks`, `GET /approvals`, `GET /approvals/{id}`,
//! `POST /approvals/{id}/decision`. Decisions go through the command layer: four-eyes,
//! approver roles and single use apply to an API caller as to anyone.

use super::auth::Caller;
use super::extract::{limit, Body, Params, PathParams};
use super::problem::{ApiError, Problem};
use super::runs::Answer;
use super::views::{ApprovalList, ApprovalView, LockList, LockView};
use super::ApiState;
use crate::bot::{report_text, ChatProgress};
use crate::chat::BotEvent;
use crate::command::{
    ApprovalRef, Command, Decide, DecisionReport, EnvName, LockReport, LockSpec, LockTarget,
    LockWindow, Outcome, Refusal, Report, ServiceName, UnlockReport,
};
use crate::config::RollbackRule;
use crate::governance::parse_lock_details;
use crate::store::{ApprovalStatus, Decision};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Filter of `GET /locks`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LocksQuery {
    /// Only locks in this environment (name or alias).
    pub environment: Option<String>,
}

/// List the locks in force.
#[utoipa::path(get, path = "/api/v1/locks", tag = "locks", params(LocksQuery),
    responses(
        (status = 200, description = "Locks in force, then freeze windows that start later", body = LockList),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_locks(
    State(state): State<ApiState>,
    _caller: Caller,
    Params(q): Params<LocksQuery>,
) -> Answer<Json<LockList>> {
    let environment = q
        .environment
        .map(|e| EnvName::resolve(state.commander.config(), &e))
        .transpose()?;
    let (store, env, now) = (
        state.commander.store(),
        environment.as_ref().map(EnvName::as_str),
        crate::clock::now_ms(),
    );
    let mut locks = store.active_locks(env, now).await?;
    locks.extend(store.scheduled_locks(env, now).await?);
    Ok(Json(LockList {
        locks: locks.iter().map(LockView::from).collect(),
    }))
}

/// A lock to put in place.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// Environment (name or alias).
    pub environment: String,
    /// One service in it (default: the whole environment).
    #[serde(default)]
    pub service: Option<String>,
    /// How long, e.g. `2h`, `30m`, `1h30` (default: until unlocked).
    #[serde(default)]
    pub duration: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// A freeze window that starts later: its start, RFC 3339 (`2026-12-04T16:00:00+01:00`);
    /// needs `until` and no `duration`.
    #[serde(default)]
    pub from: Option<String>,
    /// The end of the window, RFC 3339 (with `from`, or alone for a lock from now until then).
    #[serde(default)]
    pub until: Option<String>,
    /// Whether rollbacks go through: `allow` or `deny` (default: `allow` for a window whose
    /// `from` is later than now, `deny` for a lock in force now, with or without `until`).
    #[serde(default)]
    pub rollbacks: Option<RollbackRule>,
}

/// An RFC 3339 instant as unix ms; Err names the field.
fn instant(field: &str, text: &str) -> Result<i64, ApiError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "{field} `{text}` is not an RFC 3339 time (e.g. `2026-12-04T16:00:00+01:00`)"
            ))
        })
}

/// The window of a lock request: `from`/`until` read, ordered, not both with a duration.
fn window_of(req: &LockRequest) -> Result<Option<LockWindow>, ApiError> {
    if req.from.is_none() && req.until.is_none() {
        return Ok(None);
    }
    if req.duration.is_some() {
        return Err(ApiError::BadRequest(
            "give either `duration` or `from`/`until`, not both".into(),
        ));
    }
    let Some(until) = req.until.as_deref() else {
        return Err(ApiError::BadRequest("`from` needs `until`".into()));
    };
    let until = instant("until", until)?;
    let now = crate::clock::now_ms();
    let from = match req.from.as_deref() {
        Some(f) => instant("from", f)?,
        None => now,
    };
    if until <= from.max(now) {
        return Err(ApiError::BadRequest(
            "`until` must be after `from` and after now".into(),
        ));
    }
    Ok(Some(LockWindow { from, until }))
}

fn target(
    state: &ApiState,
    environment: &str,
    service: Option<&str>,
) -> Result<LockTarget, ApiError> {
    let config = state.commander.config();
    Ok(LockTarget {
        environment: EnvName::resolve(config, environment)?,
        service: service
            .map(|s| ServiceName::resolve(config, s))
            .transpose()?,
    })
}

/// Lock (freeze) an environment, or one service in it.
#[utoipa::path(post, path = "/api/v1/locks", tag = "locks", request_body = LockRequest,
    responses(
        (status = 201, description = "The lock is in place", body = LockReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted to lock there", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already locked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment or service, or a bad duration", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lock(
    State(state): State<ApiState>,
    caller: Caller,
    Body(req): Body<LockRequest>,
) -> Answer<(StatusCode, Json<LockReport>)> {
    let target = target(&state, &req.environment, req.service.as_deref())?;
    let window = window_of(&req)?;
    let (duration, duration_text) = match &req.duration {
        None => (None, None),
        Some(text) => {
            // Only a duration: anything else in the field would be dropped unread.
            let read = parse_lock_details(&format!("for {text}"));
            if read.duration.is_none()
                || read.reason.is_some()
                || read.unreadable_duration.is_some()
            {
                return Err(ApiError::BadRequest(format!(
                    "duration `{text}` is not just a duration (e.g. `2h`, `30m`, `1h30`)"
                )));
            }
            (read.duration, read.duration_text)
        }
    };
    let reason = req
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let command = Command::Lock(LockSpec {
        target,
        duration,
        duration_text,
        reason,
        rollbacks: req
            .rollbacks
            .or(window.map(|w| w.default_rollbacks(crate::clock::now_ms()))),
        window,
    });
    match state.report(&caller, command).await? {
        Report::Locked(report) => Ok((StatusCode::CREATED, Json(report))),
        _ => Err(ApiError::unexpected()),
    }
}

/// Which lock to lift.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnlockQuery {
    /// Environment (name or alias).
    pub environment: String,
    /// One service in it (default: the environment's own lock).
    pub service: Option<String>,
}

/// Lift the lock of an environment, or of one service in it.
#[utoipa::path(delete, path = "/api/v1/locks", tag = "locks", params(UnlockQuery),
    responses(
        (status = 200, description = "The locks lifted", body = UnlockReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted to unlock there", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No lock of its own there", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment or service", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_lock(
    State(state): State<ApiState>,
    caller: Caller,
    Params(q): Params<UnlockQuery>,
) -> Answer<Json<UnlockReport>> {
    let target = target(&state, &q.environment, q.service.as_deref())?;
    match state.report(&caller, Command::Unlock(target)).await? {
        Report::Unlocked(report) => Ok(Json(report)),
        _ => Err(ApiError::unexpected()),
    }
}

/// Filter of `GET /approvals`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    /// Requests in this state (default `pending`).
    #[param(inline)]
    pub status: Option<ApprovalStatus>,
    /// At most this many (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// List approval requests, newest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", params(ApprovalsQuery),
    responses(
        (status = 200, description = "Approval requests", body = ApprovalList),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_approvals(
    State(state): State<ApiState>,
    _caller: Caller,
    Params(q): Params<ApprovalsQuery>,
) -> Answer<Json<ApprovalList>> {
    let limit = limit(q.limit, 50, 200)?;
    let status = q.status.unwrap_or(ApprovalStatus::Pending);
    let rows = state
        .commander
        .store()
        .approvals_in(status, i64::from(limit))
        .await?;
    Ok(Json(ApprovalList {
        approvals: rows.iter().map(|(a, n)| ApprovalView::new(a, *n)).collect(),
    }))
}

/// One approval request.
#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals",
    params(("id" = i64, Path, description = "Approval request id")),
    responses(
        (status = 200, description = "The request", body = ApprovalView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_approval(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(id): PathParams<i64>,
) -> Answer<Json<ApprovalView>> {
    let store = state.commander.store();
    let record = store
        .approval(id)
        .await?
        .ok_or_else(|| ApiError::from(Refusal::UnknownApproval { approval: id }))?;
    let approvals = store.approval_count(id).await?;
    Ok(Json(ApprovalView::new(&record, approvals)))
}

/// A decision on an approval request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve` or `reject`.
    pub decision: Decision,
}

/// Approve or reject a request (not one's own: four-eyes). An approval that completes the
/// request starts its run; the report says which run, or why it did not start.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/decision", tag = "approvals",
    params(("id" = i64, Path, description = "Approval request id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "The decision was recorded; `result` says what followed", body = DecisionReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted, or one's own request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, closed or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn decide(
    State(state): State<ApiState>,
    caller: Caller,
    PathParams(id): PathParams<i64>,
    Body(req): Body<DecisionRequest>,
) -> Answer<Json<DecisionReport>> {
    let command = Command::Decide(Decide {
        approval: ApprovalRef::Id { id },
        decision: req.decision,
    });
    // A request asked in a chat conversation hears of the decision there, and its run
    // reports there, as if the decision had been a click.
    let chat = match state.commander.store().approval(id).await? {
        Some(a) => a.origin.thread().and_then(|t| {
            let outlet = state.outlets.get(&t.platform)?;
            Some((outlet.sink.clone(), t.clone()))
        }),
        None => None,
    };
    let progress: crate::command::Progress = match &chat {
        Some((sink, thread)) => Arc::new(ChatProgress::in_thread(sink.clone(), thread.clone())),
        None => state.progress(),
    };
    let outcome = state
        .commander
        .apply(command, &caller.0, &caller.origin(), progress)
        .await?;
    if let (Some((sink, thread)), Outcome::Answer(report)) = (&chat, &outcome) {
        sink.emit(BotEvent::Reply {
            thread: thread.clone(),
            text: report_text(report),
            intent: None,
            refusal: None,
        });
    }
    match outcome {
        Outcome::Answer(Report::Decided(report)) => Ok(Json(report)),
        Outcome::Refused(refusal) => Err(refusal.into()),
        _ => Err(ApiError::unexpected()),
    }
}

/// A request its requester withdrew.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct WithdrawnView {
    /// The request, now `withdrawn`.
    pub approval: i64,
    /// The schedule that waited on it, cancelled with it.
    pub schedule: Option<i64>,
}

/// Withdraw one's own pending request (nothing runs; approvers see it closed).
#[utoipa::path(post, path = "/api/v1/approvals/{id}/withdraw", tag = "approvals",
    params(("id" = i64, Path, description = "Approval request id")),
    responses(
        (status = 200, description = "The request is withdrawn", body = WithdrawnView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not the caller's own pending request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn withdraw(
    State(state): State<ApiState>,
    caller: Caller,
    PathParams(id): PathParams<i64>,
) -> Answer<Json<WithdrawnView>> {
    let command = Command::Withdraw(ApprovalRef::Id { id });
    match state.report(&caller, command).await? {
        Report::Withdrawn { approval, schedule } => Ok(Json(WithdrawnView { approval, schedule })),
        _ => Err(ApiError::unexpected()),
    }
}
