//! The HTTP interactions endpoint: Discord POSTs signed interactions to `deckhand serve`.
//! The signature is checked on the raw body before anything is parsed; the immediate answer
//! (PONG, deferred "thinking…", click acknowledgement, autocomplete) is the HTTP response, and
//! the work runs in the background, so Discord's 3-second limit holds.

use super::app::{immediate_response, needs_work, DiscordApp};
use super::signature::DiscordVerifier;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::sync::Arc;

/// The path served (set it as the application's Interactions Endpoint URL).
pub const INTERACTIONS_PATH: &str = "/discord/interactions";

struct Endpoint {
    app: Arc<DiscordApp>,
    verifier: DiscordVerifier,
}

/// The Discord route, verifying with `verifier`.
pub fn routes(app: Arc<DiscordApp>, verifier: DiscordVerifier) -> Router {
    Router::new()
        .route(INTERACTIONS_PATH, post(interactions))
        .with_state(Arc::new(Endpoint { app, verifier }))
}

async fn interactions(
    State(ep): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(e) = ep.verifier.verify(
        h("x-signature-timestamp"),
        h("x-signature-ed25519"),
        &body,
        crate::clock::wall_secs(),
    ) {
        tracing::warn!(error = %e, "Discord request refused");
        return (
            StatusCode::UNAUTHORIZED,
            format!("invalid request signature: {e}\n"),
        )
            .into_response();
    }
    let interaction: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("body is not JSON: {e}\n")).into_response()
        }
    };
    let Some(answer) = immediate_response(ep.app.bot(), &interaction) else {
        return (StatusCode::BAD_REQUEST, "unknown interaction type\n").into_response();
    };
    if needs_work(&interaction) {
        let app = ep.app.clone();
        let taken = ep
            .app
            .intake()
            .try_spawn(async move { app.on_interaction(interaction).await });
        if taken.is_err() {
            // Discord does not send an interaction again: tell the person (only them).
            let busy = serde_json::json!({
                "type": 4,
                "data": {"content": crate::adapters::delivery::BUSY, "flags": 64},
            });
            return (
                [(header::CONTENT_TYPE, "application/json")],
                busy.to_string(),
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}
