//! Health endpoints for orchestrators and the container files:
//! - `GET /healthz`: the process is alive and serving HTTP (`200 ok`).
//! - `GET /readyz`: `200` when the store answers a query, every migration this binary embeds
//!   is applied, and every configured adapter is connected to its platform; else `503`. Both
//!   answer JSON naming each check; a `503` lists what is not ready in `not_ready`.

use crate::adapters::adapter::Connection;
use crate::store::Store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How long the store may take to answer the readiness query.
const STORE_LIMIT: Duration = Duration::from_secs(2);

/// What `/readyz` checks: the store, and each configured adapter's connection by name.
#[derive(Clone)]
pub struct Readiness {
    store: Store,
    adapters: Arc<Vec<(&'static str, Connection)>>,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `store`, `migrations`, or `adapter:<name>`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The readiness answer (the `/readyz` body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether every check passed.
    pub ready: bool,
    /// The names of the checks that did not pass.
    pub not_ready: Vec<String>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

impl Readiness {
    /// Readiness over `store` and these adapters' connections.
    pub fn new(store: Store, adapters: Vec<(&'static str, Connection)>) -> Readiness {
        Readiness {
            store,
            adapters: Arc::new(adapters),
        }
    }

    /// Runs every check.
    pub async fn report(&self) -> Report {
        let mut checks = Vec::new();
        match tokio::time::timeout(STORE_LIMIT, self.store.schema_state()).await {
            Ok(Ok(schema)) => {
                checks.push(check("store", true, "answers"));
                checks.push(if schema.missing.is_empty() {
                    check(
                        "migrations",
                        true,
                        format!("all {} applied", schema.embedded),
                    )
                } else {
                    check(
                        "migrations",
                        false,
                        format!(
                            "{} of {} not applied: {:?}",
                            schema.missing.len(),
                            schema.embedded,
                            schema.missing
                        ),
                    )
                });
            }
            Ok(Err(e)) => {
                checks.push(check("store", false, e.to_string()));
                checks.push(check(
                    "migrations",
                    false,
                    "unknown: the store did not answer",
                ));
            }
            Err(_) => {
                let detail = format!("no answer within {} s", STORE_LIMIT.as_secs());
                checks.push(check("store", false, detail));
                checks.push(check(
                    "migrations",
                    false,
                    "unknown: the store did not answer",
                ));
            }
        }
        for (name, connection) in self.adapters.iter() {
            let up = connection.is_up();
            let detail = if up { "connected" } else { "not connected" };
            checks.push(check(format!("adapter:{name}"), up, detail));
        }
        let not_ready: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.clone())
            .collect();
        Report {
            ready: not_ready.is_empty(),
            not_ready,
            checks,
        }
    }
}

/// A router serving `GET /healthz` and `GET /readyz`.
pub fn routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(readiness)
}

async fn ready(State(r): State<Readiness>) -> impl IntoResponse {
    let report = r.report().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}
