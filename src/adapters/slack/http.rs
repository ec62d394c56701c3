//! The Events API transport: Slack POSTs signed requests to `deckhand serve`. Every request's
//! signature is checked against the raw body before anything is parsed; the answer goes back
//! at once and the work runs in the background, so Slack's 3-second limit is always met.

use super::app::{EventMeta, SlackApp};
use super::signature::SlackVerifier;
use crate::adapters::delivery::BUSY;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// Paths served (also written in the app manifest).
pub const EVENTS_PATH: &str = "/slack/events";
/// Slash commands.
pub const COMMANDS_PATH: &str = "/slack/commands";
/// Button clicks.
pub const INTERACTIVITY_PATH: &str = "/slack/interactivity";

struct Endpoint {
    app: Arc<SlackApp>,
    verifier: SlackVerifier,
}

/// The Slack routes, verifying with `verifier`.
pub fn routes(app: Arc<SlackApp>, verifier: SlackVerifier) -> Router {
    let state = Arc::new(Endpoint { app, verifier });
    Router::new()
        .route(EVENTS_PATH, post(events))
        .route(COMMANDS_PATH, post(commands))
        .route(INTERACTIVITY_PATH, post(interactivity))
        .with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The 401 for a request whose signature does not verify; `None` when it verifies.
fn refusal(endpoint: &Endpoint, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let result = endpoint.verifier.verify(
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        body,
        crate::clock::wall_secs(),
    );
    let e = result.err()?;
    tracing::warn!(error = %e, "Slack request refused");
    Some(
        (
            StatusCode::UNAUTHORIZED,
            format!("invalid Slack request signature: {e}\n"),
        )
            .into_response(),
    )
}

/// Seconds a refused webhook request is asked to wait before it is sent again.
const RETRY_AFTER_SECS: &str = "1";

/// The answer when the intake is full: 503 with `Retry-After`, nothing recorded.
fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS)],
        format!("{BUSY}\n"),
    )
        .into_response()
}

fn bad_request(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "{what}");
    (StatusCode::BAD_REQUEST, format!("{what}: {e}\n")).into_response()
}

async fn events(State(ep): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = refusal(&ep, &headers, &body) {
        return refused;
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request("body is not JSON", e),
    };
    let event = match SlackPushEvent::deserialize(&value) {
        Ok(e) => e,
        Err(e) => {
            // Signed by Slack but not understood: answering an error would only make Slack
            // redeliver it, so acknowledge and log.
            tracing::warn!(error = %e, "Events API payload not understood; acknowledged and ignored");
            return StatusCode::OK.into_response();
        }
    };
    match event {
        SlackPushEvent::UrlVerification(v) => {
            let body = serde_json::json!({ "challenge": v.challenge }).to_string();
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        SlackPushEvent::EventCallback(callback) => {
            if let Some(n) = header(&headers, "x-slack-retry-num") {
                // Handled once anyway: the store remembers event ids.
                tracing::info!(event_id = %callback.event_id.0, retry = n, reason = header(&headers, "x-slack-retry-reason").unwrap_or(""), "Slack redelivered an event");
            }
            let meta = EventMeta::of_callback(&value);
            let app = ep.app.clone();
            match ep
                .app
                .intake()
                .try_spawn(async move { app.on_event(callback, meta).await })
            {
                Ok(()) => StatusCode::OK.into_response(),
                // Nothing of it was recorded: Slack retries it, up to three times.
                Err(_) => busy(),
            }
        }
        SlackPushEvent::AppRateLimited(r) => {
            tracing::warn!(team = %r.team_id, "Slack is rate-limiting event deliveries to this app");
            StatusCode::OK.into_response()
        }
    }
}

async fn commands(State(ep): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = refusal(&ep, &headers, &body) {
        return refused;
    }
    let command: SlackCommandEvent = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return bad_request("not a slash command", e),
    };
    let app = ep.app.clone();
    match ep
        .app
        .intake()
        .try_spawn(async move { app.on_command(command).await })
    {
        // An empty 200 shows nothing; the bot answers in the thread it opens.
        Ok(()) => StatusCode::OK.into_response(),
        // Slack does not send a slash command again: tell the person (only them).
        Err(_) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"response_type": "ephemeral", "text": BUSY}).to_string(),
        )
            .into_response(),
    }
}

/// Decodes `payload=<json>` from an interactivity request body.
pub fn interaction_payload(body: &[u8]) -> Result<SlackInteractionEvent, String> {
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("not a form: {e}"))?;
    let payload = form
        .into_iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or("no `payload` field")?;
    serde_json::from_str(&payload).map_err(|e| format!("payload is not an interaction: {e}"))
}

async fn interactivity(
    State(ep): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&ep, &headers, &body) {
        return refused;
    }
    let event = match interaction_payload(&body) {
        Ok(e) => e,
        Err(e) => return bad_request("not an interaction", e),
    };
    let app = ep.app.clone();
    match ep
        .app
        .intake()
        .try_spawn(async move { app.on_interaction(event).await })
    {
        Ok(()) => StatusCode::OK.into_response(),
        // Slack marks the click as failed, so the person sees nothing was done.
        Err(_) => busy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped app manifest must point Slack at the paths served here and ask for the
    /// scopes and events the adapter relies on.
    #[test]
    fn the_app_manifest_matches_what_is_served() {
        let m: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../../../examples/slack-app-manifest.yaml"))
                .unwrap();
        let settings = &m["settings"];
        let events_url = settings["event_subscriptions"]["request_url"]
            .as_str()
            .unwrap();
        assert!(events_url.ends_with(EVENTS_PATH));
        let interactivity = settings["interactivity"]["request_url"].as_str().unwrap();
        assert!(interactivity.ends_with(INTERACTIVITY_PATH));
        let commands = m["features"]["slash_commands"].as_sequence().unwrap();
        let names: Vec<&str> = commands
            .iter()
            .map(|c| c["command"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["/deploy", "/rollback", "/deckhand"]);
        for c in commands {
            assert!(c["url"].as_str().unwrap().ends_with(COMMANDS_PATH));
        }
        let events: Vec<&str> = settings["event_subscriptions"]["bot_events"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        for e in [
            "app_mention",
            "message.channels",
            "message.groups",
            "message.im",
        ] {
            assert!(events.contains(&e), "{e}");
        }
        let scopes: Vec<&str> = m["oauth_config"]["scopes"]["bot"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        for s in [
            "app_mentions:read",
            "channels:history",
            "im:history",
            "chat:write",
            "commands",
        ] {
            assert!(scopes.contains(&s), "{s}");
        }
    }
}
