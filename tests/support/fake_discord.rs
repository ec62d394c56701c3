//! A local fake of the Discord REST endpoints Deckhand uses, speaking Discord's wire format
//! (`/api/v10/...`, JSON objects with snowflake ids, 429 with `Retry-After` and `retry_after`).
//! It records every call so tests can check what Deckhand said and edited.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use super::fake_core::{Failure, FakeCore};

/// The fake bot user and application.
pub const BOT_USER: &str = "7000";
/// The fake application id.
pub const APP_ID: &str = "7100";

/// One recorded REST call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET`, `POST`, `PATCH`, `PUT`.
    pub method: String,
    /// Path after `/api/v10`.
    pub path: String,
    /// JSON body (Null when none).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// Answered successfully.
    pub ok: bool,
    /// Id of the message or thread it created, if any.
    pub created: Option<String>,
}

#[derive(Default)]
struct Shared {
    /// REST calls and scripted failures (keys: a "METHOD path" prefix).
    core: FakeCore<Call>,
    next_id: AtomicU64,
    /// Interaction token -> (channel, original message id).
    originals: Mutex<HashMap<String, (String, String)>>,
    /// Thread id -> parent channel.
    threads: Mutex<HashMap<String, String>>,
    /// Messages a thread was started from.
    thread_starts: Mutex<Vec<String>>,
    /// Calls (by prefix) to answer with `X-RateLimit-Remaining: 0` and this reset-after.
    exhausted: Mutex<HashMap<String, f64>>,
}

/// The fake.
#[derive(Clone)]
pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT` (the config's `discord.api_base_url`).
    pub base: String,
    shared: Arc<Shared>,
}

fn message(id: &str, channel: &str, body: &Value) -> Value {
    json!({
        "id": id, "channel_id": channel, "type": 0,
        "content": body.get("content").cloned().unwrap_or_else(|| json!("")),
        "components": body.get("components").cloned().unwrap_or_else(|| json!([])),
        "author": {"id": BOT_USER, "username": "deckhand", "discriminator": "0000", "avatar": null, "bot": true},
        "timestamp": "2026-11-23T21:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false
    })
}

async fn api(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().trim_start_matches("/api/v10").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = method.as_str().to_string();
    let route = format!("{method} {path}");
    let (failure, delay) = Failure::delay(shared.core.next_failure(|k| route.starts_with(k)));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut created = None;
    let answer: Option<(StatusCode, Value)> = if failure.is_some() {
        None
    } else {
        let new_id = || (shared.next_id.fetch_add(1, Ordering::SeqCst) + 5001).to_string();
        Some(match (method.as_str(), parts.as_slice()) {
            ("GET", ["users", "@me"]) => (
                StatusCode::OK,
                json!({"id": BOT_USER, "username": "deckhand", "discriminator": "0000", "avatar": null, "bot": true}),
            ),
            ("GET", ["oauth2", "applications", "@me"]) => (
                StatusCode::OK,
                json!({"id": APP_ID, "name": "Deckhand", "description": "", "bot_public": true}),
            ),
            ("PUT", ["applications", _, "guilds", _, "commands"])
            | ("PUT", ["applications", _, "commands"]) => (StatusCode::OK, body.clone()),
            ("POST", ["interactions", _, _, "callback"]) => (StatusCode::NO_CONTENT, Value::Null),
            ("PATCH", ["webhooks", _, token, "messages", "@original"]) => {
                let (channel, id) = shared
                    .originals
                    .lock()
                    .unwrap()
                    .get(*token)
                    .cloned()
                    .unwrap_or_else(|| ("0".into(), "0".into()));
                (StatusCode::OK, message(&id, &channel, &body))
            }
            ("POST", ["channels", _, "messages"]) | ("PATCH", ["channels", _, "messages", _])
                if body["content"].as_str().unwrap_or("").chars().count() > 2000 =>
            {
                (
                    StatusCode::BAD_REQUEST,
                    json!({"message": "Invalid Form Body", "code": 50035}),
                )
            }
            ("POST", ["channels", channel, "messages"]) => {
                let id = new_id();
                created = Some(id.clone());
                (StatusCode::OK, message(&id, channel, &body))
            }
            ("PATCH", ["channels", channel, "messages", id]) => {
                (StatusCode::OK, message(id, channel, &body))
            }
            ("POST", ["channels", _, "messages", from, "threads"])
                if body["name"].as_str().unwrap_or("").trim().is_empty()
                    || shared
                        .thread_starts
                        .lock()
                        .unwrap()
                        .contains(&from.to_string()) =>
            {
                (
                    StatusCode::BAD_REQUEST,
                    json!({"message": "A thread has already been created for this message, or the name is empty", "code": 160004}),
                )
            }
            ("POST", ["channels", channel, "messages", from, "threads"]) => {
                shared.thread_starts.lock().unwrap().push(from.to_string());
                let id = new_id();
                created = Some(id.clone());
                shared
                    .threads
                    .lock()
                    .unwrap()
                    .insert(id.clone(), channel.to_string());
                (
                    StatusCode::CREATED,
                    json!({"id": id, "type": 11, "guild_id": "100", "parent_id": channel, "name": body["name"]}),
                )
            }
            ("GET", ["channels", channel]) => {
                let parent = shared.threads.lock().unwrap().get(*channel).cloned();
                let v = match parent {
                    Some(p) => {
                        json!({"id": channel, "type": 11, "guild_id": "100", "parent_id": p})
                    }
                    None => json!({"id": channel, "type": 0, "guild_id": "100"}),
                };
                (StatusCode::OK, v)
            }
            _ => (
                StatusCode::NOT_FOUND,
                json!({"message": "Unknown route", "code": 0}),
            ),
        })
    };
    let (method_s, path_s) = (method.clone(), path.clone());
    shared.core.record(Call {
        method,
        path,
        body,
        at: Instant::now(),
        ok: answer.as_ref().is_some_and(|(s, _)| s.is_success()),
        created,
    });
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let exhausted = {
        let map = shared.exhausted.lock().unwrap();
        map.iter()
            .find(|(k, _)| format!("{method_s} {path_s}").starts_with(k.as_str()))
            .map(|(_, v)| *v)
    };
    match answer {
        Some((status, v)) if exhausted.is_some() && status.is_success() => (
            status,
            [
                ("content-type", "application/json".to_string()),
                ("x-ratelimit-remaining", "0".to_string()),
                (
                    "x-ratelimit-reset-after",
                    exhausted.unwrap_or(1.0).to_string(),
                ),
            ],
            v.to_string(),
        )
            .into_response(),
        None if failure == Some(Failure::ServerError) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response()
        }
        None if failure == Some(Failure::Refused) => (
            StatusCode::FORBIDDEN,
            [("content-type", "application/json")],
            json!({"message": "Missing Permissions", "code": 50013}).to_string(),
        )
            .into_response(),
        None => {
            let after = match failure {
                Some(Failure::RateLimited(secs)) => secs,
                _ => 1.0,
            };
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", after.to_string()),
                    ("x-ratelimit-scope", "user".to_string()),
                    ("content-type", "application/json".to_string()),
                ],
                json!({"message": "You are being rate limited.", "retry_after": after, "global": false}).to_string(),
            )
                .into_response()
        }
        Some((StatusCode::NO_CONTENT, _)) => StatusCode::NO_CONTENT.into_response(),
        Some((status, v)) => (
            status,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
    }
}

impl FakeDiscord {
    /// Starts the fake on a free local port.
    pub async fn start() -> FakeDiscord {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/api/v10/{*rest}", axum::routing::any(api))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeDiscord {
            base: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// Declares an interaction token: its original response is message `message` in `channel`.
    pub fn interaction(&self, token: &str, channel: &str, message: &str) {
        self.shared
            .originals
            .lock()
            .unwrap()
            .insert(token.into(), (channel.into(), message.into()));
    }

    /// Declares an existing thread of `parent`.
    pub fn thread(&self, thread: &str, parent: &str) {
        self.shared
            .threads
            .lock()
            .unwrap()
            .insert(thread.into(), parent.into());
    }

    /// Answers the next calls starting with `prefix` (e.g. `PATCH /channels/9/messages/5`)
    /// with these failures, in order.
    pub fn fail_next(&self, prefix: &str, failures: &[Failure]) {
        self.shared.core.fail_next(prefix, failures);
    }

    /// The id the fake will give the next message or thread it creates.
    pub fn next_id(&self) -> String {
        (self.shared.next_id.load(Ordering::SeqCst) + 5001).to_string()
    }

    /// Answers calls starting with `prefix` with `X-RateLimit-Remaining: 0` and
    /// `X-RateLimit-Reset-After: secs`.
    pub fn exhaust(&self, prefix: &str, secs: f64) {
        self.shared
            .exhausted
            .lock()
            .unwrap()
            .insert(prefix.into(), secs);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.core.calls()
    }

    /// Successful calls of `method` whose path starts with `prefix`.
    pub fn ok_calls(&self, method: &str, prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.ok && c.method == method && c.path.starts_with(prefix))
            .collect()
    }

    /// Messages posted in `channel`, in order.
    pub fn posts_in(&self, channel: &str) -> Vec<Call> {
        self.ok_calls("POST", &format!("/channels/{channel}/messages"))
            .into_iter()
            .filter(|c| !c.path.ends_with("/threads"))
            .collect()
    }

    /// Waits until `check` holds, or panics with `what` after `limit`.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&FakeDiscord) -> bool,
    ) {
        self.shared.core.wait_for(what, limit, || check(self)).await;
    }
}
