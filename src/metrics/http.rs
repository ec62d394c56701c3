//! `GET /metrics`.

use super::Metrics;
use crate::store::Store;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The content type of the exposition (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct MetricsState {
    metrics: Metrics,
    store: Store,
}

/// A router serving `GET /metrics` from `metrics` and `store`.
pub fn routes(metrics: Metrics, store: Store) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState { metrics, store })
}

async fn scrape(State(s): State<MetricsState>) -> impl IntoResponse {
    let body = s.metrics.render(&s.store).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}
