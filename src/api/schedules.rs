//! Schedules: `POST /schedules` (a deploy or rollback at a time), `GET /schedules`,
//! `GET /schedules/{id}` (with its fires), `DELETE /schedules/{id}`. Stored and cancelled
//! through the command layer, so roles, approvals bound to the schedule and the audit trail
//! are chat's; the fire is checked again when it comes.

use super::auth::Caller;
use super::extract::{limit, Body, Params, PathParams};
use super::problem::{ApiError, Problem};
use super::runs::{notify_target, run_command, Answer, RunRequest};
use super::views::ApprovalView;
use super::ApiState;
use crate::bot::approval_request_event;
use crate::command::{
    Command, Outcome, Query, Report, ScheduleEntry, ScheduleRef, ScheduleSpec, SchedulesQuery,
};
use crate::origin::Origin;
use crate::store::{ApprovalStatus, ScheduleKind};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A deploy or rollback to run later.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// `deploy` or `rollback`.
    pub action: crate::store::Action,
    /// When, RFC 3339 (`2026-12-04T18:00:00+01:00`); at most 90 days ahead.
    pub at: String,
    /// The zone its times are shown in (IANA name; default: the caller's, else the config's).
    #[serde(default)]
    pub tz: Option<String>,
    /// Service (name or alias).
    pub service: String,
    /// Environment (name or alias).
    pub environment: String,
    /// Version (deploy: default the latest build when it fires; rollback: the previous good
    /// release then).
    #[serde(default)]
    pub version: Option<String>,
    /// Strategy (default: deploy memory's recommendation then, else the environment's).
    #[serde(default)]
    pub strategy: Option<crate::config::Strategy>,
    /// Canary percent, 1 to 100.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub percent: Option<u8>,
    /// A chat channel the fire's result (and the approval request) is posted in.
    #[serde(default)]
    pub notify: Option<super::runs::Notify>,
}

impl ScheduleRequest {
    fn run(&self) -> RunRequest {
        RunRequest {
            service: self.service.clone(),
            environment: self.environment.clone(),
            version: self.version.clone(),
            strategy: self.strategy,
            percent: self.percent,
            notify: self.notify.clone(),
        }
    }
}

/// A schedule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleView {
    /// Id.
    pub id: i64,
    /// `once` or `cron` (a config job).
    pub kind: ScheduleKind,
    /// The cron line of a recurring one.
    pub cron: Option<String>,
    /// The zone its times are read and shown in.
    pub tz: String,
    /// The next fire, unix ms (None: done or cancelled).
    pub next_fire_at: Option<i64>,
    /// What it runs, in words.
    pub what: String,
    /// What it runs, as the command layer stores it.
    #[schema(value_type = Object)]
    pub command: Option<serde_json::Value>,
    /// The person it runs as.
    pub created_by: String,
    /// When it was made, unix ms.
    pub created_at: i64,
    /// When it was cancelled, unix ms.
    pub cancelled_at: Option<i64>,
    /// The config job it stands for.
    pub job: Option<String>,
    /// The approval request bound to it.
    pub approval: Option<i64>,
    /// Where that request stands.
    pub approval_status: Option<ApprovalStatus>,
}

impl From<&ScheduleEntry> for ScheduleView {
    fn from(e: &ScheduleEntry) -> ScheduleView {
        let r = &e.record;
        ScheduleView {
            id: r.id,
            kind: r.kind,
            cron: r.cron.clone(),
            tz: r.tz.clone(),
            next_fire_at: r.next_fire_at,
            what: e.what(),
            command: e
                .command
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok()),
            created_by: r.created_by.clone(),
            created_at: r.created_at,
            cancelled_at: r.cancelled_at,
            job: r.job.clone(),
            approval: e.approval.map(|(id, _)| id),
            approval_status: e.approval.map(|(_, s)| s),
        }
    }
}

/// One fire of a schedule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FireView {
    /// When it was due, unix ms.
    pub due_at: i64,
    /// The process that ran it.
    pub claimed_by: String,
    /// `started`, `awaiting_approval`, `refused`, `missed`, `failed`, `done` or `claimed`.
    pub outcome: String,
    /// The refusal kind, the approval request, or why it was missed.
    pub detail: String,
    /// The run it started.
    pub run_id: Option<i64>,
}

/// A schedule with its fires.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleDetail {
    /// The schedule.
    #[serde(flatten)]
    pub schedule: ScheduleView,
    /// Its fires, oldest first.
    pub fires: Vec<FireView>,
}

/// A schedule stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleCreated {
    /// The schedule.
    pub schedule: ScheduleView,
    /// The approval request it needs before it fires (decide it with
    /// `POST /approvals/{id}/decision`).
    pub approval: Option<ApprovalView>,
    /// Set when a freeze window already covers the fire time (it would be refused then).
    pub frozen_then: Option<String>,
    /// Set when a lock already covers the fire time.
    pub locked_then: Option<String>,
}

/// Schedules, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleList {
    /// The schedules.
    pub schedules: Vec<ScheduleView>,
}

/// Filters of `GET /schedules`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SchedulesParams {
    /// Also the ones done or cancelled (default: only those still to fire).
    pub all: Option<bool>,
    /// At most this many, newest first (1 to 500, default 50).
    pub limit: Option<u32>,
}

/// Schedule a deploy or rollback.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleRequest,
    responses(
        (status = 201, description = "Stored; roles, locks and freezes are checked again when it fires", body = ScheduleCreated),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An approval request is already open in the notify thread", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown names, a bad field, or a time past or too far ahead", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_schedule(
    State(state): State<ApiState>,
    caller: Caller,
    Body(req): Body<ScheduleRequest>,
) -> Answer<(StatusCode, Json<ScheduleCreated>)> {
    let run = run_command(&state, &req.run())?;
    let at = req
        .at
        .parse::<jiff::Timestamp>()
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "at `{}` is not an RFC 3339 time (e.g. `2026-12-04T18:00:00+01:00`)",
                req.at
            ))
        })?
        .as_millisecond();
    let governance = state.commander.governance();
    let tz = req
        .tz
        .clone()
        .or_else(|| {
            governance
                .own_timezone(caller.0.person.as_deref())
                .map(str::to_string)
        })
        .unwrap_or_else(|| state.commander.config().timezone.clone());
    let notify = req
        .notify
        .as_ref()
        .map(|n| notify_target(&state, n))
        .transpose()?;
    let origin = match &notify {
        Some((_, thread)) => Origin::Thread(thread.clone()),
        None => caller.origin(),
    };
    let command = Command::Schedule(ScheduleSpec {
        command: Box::new(Command::for_action(req.action, run)),
        at,
        tz,
    });
    let outcome = state
        .commander
        .apply(command, &caller.0, &origin, state.progress())
        .await?;
    let report = match outcome {
        Outcome::Answer(Report::Scheduled(r)) => r,
        Outcome::Refused(refusal) => return Err(refusal.into()),
        _ => return Err(ApiError::unexpected()),
    };
    if let (Some((outlet, thread)), Some(ticket)) = (&notify, &report.approval) {
        outlet
            .sink
            .emit(approval_request_event(ticket, thread.clone()));
    }
    let approval = match &report.approval {
        Some(t) => match state.commander.store().approval(t.id).await {
            Ok(Some(record)) => Some(ApprovalView::new(&record, 0)),
            _ => Some(ApprovalView::requested(t)),
        },
        None => None,
    };
    Ok((
        StatusCode::CREATED,
        Json(ScheduleCreated {
            schedule: ScheduleView::from(&report.schedule),
            approval,
            frozen_then: report.freeze_then.as_ref().map(|w| w.reason.clone()),
            locked_then: report
                .lock_then
                .as_ref()
                .map(crate::governance::describe_lock),
        }),
    ))
}

/// List schedules.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(SchedulesParams),
    responses(
        (status = 200, description = "Schedules, newest first", body = ScheduleList),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_schedules(
    State(state): State<ApiState>,
    caller: Caller,
    Params(q): Params<SchedulesParams>,
) -> Answer<Json<ScheduleList>> {
    let query = SchedulesQuery {
        all: q.all.unwrap_or(false),
        limit: limit(q.limit, 50, 500)?,
    };
    match state
        .report(&caller, Command::Query(Query::Schedules(query)))
        .await?
    {
        Report::Schedules(r) => Ok(Json(ScheduleList {
            schedules: r.schedules.iter().map(ScheduleView::from).collect(),
        })),
        _ => Err(ApiError::unexpected()),
    }
}

/// One schedule with its fires.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule and its fires", body = ScheduleDetail),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_schedule(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(id): PathParams<i64>,
) -> Answer<Json<ScheduleDetail>> {
    let store = state.commander.store();
    let Some(record) = store.schedule(id).await? else {
        return Err(crate::command::Refusal::UnknownSchedule { schedule: id }.into());
    };
    let entry = state.commander.entry(record).await?;
    let fires = store
        .schedule_fires(id)
        .await?
        .into_iter()
        .map(|(due_at, claimed_by, outcome, detail, run_id)| FireView {
            due_at,
            claimed_by,
            outcome,
            detail,
            run_id,
        })
        .collect();
    Ok(Json(ScheduleDetail {
        schedule: ScheduleView::from(&entry),
        fires,
    }))
}

/// Cancel a schedule before it fires (its creator, or anyone allowed to run its command).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Cancelled (a pending approval request bound to it is withdrawn)", body = ScheduleView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such schedule", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already fired or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A config job (changed in the config), or the id is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_schedule(
    State(state): State<ApiState>,
    caller: Caller,
    PathParams(id): PathParams<i64>,
) -> Answer<Json<ScheduleView>> {
    match state
        .report(&caller, Command::Unschedule(ScheduleRef { id }))
        .await?
    {
        Report::Unscheduled(u) => {
            let mut view = ScheduleView::from(&u.schedule);
            view.next_fire_at = None;
            view.cancelled_at = Some(crate::clock::now_ms());
            if u.approval_withdrawn.is_some() {
                view.approval_status = Some(ApprovalStatus::Cancelled);
            }
            Ok(Json(view))
        }
        _ => Err(ApiError::unexpected()),
    }
}
