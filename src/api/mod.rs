//! The REST API under `/api/v1` (on `deckhand serve` when the config has an `api:` section):
//! a thin client of the command layer. Every governed request goes through
//! [`Commander::apply`] as the person its bearer token stands for, so roles, locks, the rate
//! limit, approvals (four-eyes), deploy memory and the audit trail are exactly chat's; a
//! refusal is an RFC 9457 problem whose status code names its family.
//!
//! The OpenAPI 3.1 document is generated from these handlers and types
//! (`GET /api/v1/openapi.json`), so routes and spec cannot drift; `GET /api/v1/docs` renders
//! it as a self-contained page.
//!
//! # Layout
//! - `auth`: bearer tokens (SHA-256 digests) and the [`auth::Caller`] extractor.
//! - `problem`: problem details and the refusal-kind → status mapping.
//! - `extract`: JSON, query and path extractors whose rejections are problems.
//! - `views`: resource shapes (runs, stages, locks, approval requests).
//! - `runs`: deploys, rollbacks, runs, cancel; `events`: the run's SSE stream.
//! - `services`: status, history, explain, context, readiness.
//! - `governance`: locks and approvals.
//! - `schedules`: deploys and rollbacks at a time, and the config's jobs.
//! - `docs`: the HTML reference page.

pub mod auth;
mod docs;
pub mod events;
mod extract;
pub mod governance;
pub mod problem;
pub mod runs;
pub mod schedules;
pub mod services;
pub mod views;

use crate::adapters::adapter::Outlet;
use crate::command::Commander;
use crate::pipeline::{ProgressSink, RunEvent};
use auth::Tokens;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the handlers share: the command layer and the tokens.
#[derive(Clone)]
pub struct ApiState {
    /// Every governed request goes through it.
    pub(crate) commander: Commander,
    /// Who may call.
    pub(crate) tokens: Arc<Tokens>,
    /// The chat platforms a request may name in `notify`, by name.
    pub(crate) outlets: Arc<BTreeMap<String, Outlet>>,
}

impl ApiState {
    /// The API over this command layer, for these tokens.
    pub fn new(
        commander: Commander,
        tokens: Tokens,
        outlets: BTreeMap<String, Outlet>,
    ) -> ApiState {
        ApiState {
            commander,
            tokens: Arc::new(tokens),
            outlets: Arc::new(outlets),
        }
    }

    /// Where an API-started run reports: nowhere beyond its journal, which the event stream
    /// reads (the executor keeps it with the run's handle).
    fn progress(&self) -> crate::command::Progress {
        Arc::new(JournalOnly)
    }
}

impl ApiState {
    /// Applies a command that answers with a report (locks, decisions, stops), as the caller.
    async fn report(
        &self,
        caller: &auth::Caller,
        command: crate::command::Command,
    ) -> Result<crate::command::Report, problem::ApiError> {
        match self
            .commander
            .apply(command, &caller.0, &caller.origin(), self.progress())
            .await?
        {
            crate::command::Outcome::Answer(report) => Ok(report),
            crate::command::Outcome::Refused(refusal) => Err(refusal.into()),
            _ => Err(problem::ApiError::unexpected()),
        }
    }
}

/// Progress of API runs: followed through [`crate::pipeline::RunHandle::follow`].
struct JournalOnly;

impl ProgressSink for JournalOnly {
    fn report(&self, _event: &RunEvent) {}
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Deckhand API",
        version = "1",
        description = "Deploys, rollbacks, runs and their live progress, status, history and deploy memory, locks and approvals: the same actions and rules as Deckhand's chat.\n\nEvery request but the spec and this page needs `Authorization: Bearer <token>`; the token stands for one person of the config's `people:`, whose roles apply. Errors are RFC 9457 problem details (`application/problem+json`) with a `kind` (the refusal kind) and, for refusals, the refusal's facts."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "runs", description = "Deploys, rollbacks and their runs"),
        (name = "services", description = "Status, history, explain, deploy memory, readiness"),
        (name = "locks", description = "Locks and freezes"),
        (name = "approvals", description = "Approval requests and decisions (four-eyes)"),
        (name = "schedules", description = "Deploys and rollbacks at a time; config jobs"),
    )
)]
struct ApiDoc;

/// Declares the bearer scheme the operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API's routes and its OpenAPI document (the routes are the document's operations).
pub fn routes(state: ApiState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(runs::post_deploy))
        .routes(routes!(runs::post_rollback))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::cancel_run))
        .routes(routes!(events::run_events))
        .routes(routes!(services::status_all))
        .routes(routes!(services::history_all))
        .routes(routes!(services::service_status))
        .routes(routes!(services::service_history))
        .routes(routes!(services::service_explain))
        .routes(routes!(services::service_context))
        .routes(routes!(services::service_readiness))
        .routes(routes!(services::updates))
        .routes(routes!(
            governance::list_locks,
            governance::create_lock,
            governance::delete_lock
        ))
        .routes(routes!(governance::list_approvals))
        .routes(routes!(governance::get_approval))
        .routes(routes!(governance::decide))
        .routes(routes!(governance::withdraw))
        .routes(routes!(
            schedules::create_schedule,
            schedules::list_schedules
        ))
        .routes(routes!(schedules::get_schedule, schedules::delete_schedule))
        .with_state(state)
        .split_for_parts();
    (router, spec)
}

/// The API router with its document and reference page mounted (`/api/v1/openapi.json`,
/// `/api/v1/docs`, both without a token) and a problem-details 404 for unknown API paths.
pub fn router(state: ApiState) -> Router {
    let (router, spec) = routes(state);
    let json = Arc::new(spec.to_pretty_json().unwrap_or_default());
    let page = Arc::new(docs::render(
        &serde_json::from_str(&json).unwrap_or_default(),
    ));
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        json.as_bytes().to_vec(),
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/api/v1/docs",
            get(move || {
                let page = page.clone();
                async move { Html(page.as_str().to_string()) }
            }),
        )
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> problem::Problem {
    problem::Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This endpoint does not take that method; the operations are listed at /api/v1/docs.",
    )
}

async fn not_found() -> problem::ApiError {
    problem::ApiError::NotFound(
        "No such API endpoint; the operations are listed at /api/v1/docs.".into(),
    )
}
