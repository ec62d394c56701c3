//! A local fake of the Slack Web API and Socket Mode server, speaking Slack's wire format:
//! JSON bodies with `{"ok": ...}` answers, 429 + `Retry-After`, WebSocket envelopes and acks.
//! It records every call so tests can check what Deckhand said and edited.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::fake_core::FakeCore;
pub use super::fake_core::{http_post, Failure};

/// One recorded Web API call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `chat.postMessage`, `chat.update`, ...
    pub method: String,
    /// The JSON body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// Whether the fake answered it successfully.
    pub ok: bool,
    /// The ts a successful `chat.postMessage` got.
    pub ts: Option<String>,
}

#[derive(Default)]
struct Shared {
    /// Web API calls and scripted failures (keys: `method` or `method@ts`).
    core: FakeCore<Call>,
    next_ts: AtomicU64,
    ws_url: Mutex<String>,
    sockets: Mutex<Vec<mpsc::UnboundedSender<Message>>>,
    received: Mutex<Vec<Value>>,
    responses: Mutex<Vec<Value>>,
}

/// The fake; dropped with the test's runtime.
#[derive(Clone)]
pub struct FakeSlack {
    /// `http://127.0.0.1:PORT/api` (the config's `slack.api_base_url`).
    pub api_base: String,
    /// `http://127.0.0.1:PORT/response` (for `response_url`s).
    pub response_base: String,
    shared: Arc<Shared>,
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer x"));
    let for_message = body["ts"].as_str().map(|ts| format!("{method}@{ts}"));
    let (failure, delay) = Failure::delay(
        for_message
            .and_then(|key| shared.core.next_failure(|k| k == key))
            .or_else(|| shared.core.next_failure(|k| k == method)),
    );
    let not_in_channel = method == "chat.postMessage"
        && body["channel"]
            .as_str()
            .is_some_and(|c| c.starts_with("CNOT"));
    let ok = failure.is_none() && authorized && !not_in_channel;
    let ts = {
        // Numbered under the same lock as the record, so call order and ts order agree.
        shared.core.with_log(|calls| {
            let ts = (ok && method == "chat.postMessage").then(|| {
                let n = shared.next_ts.fetch_add(1, Ordering::SeqCst) + 1;
                format!("1800000000.{n:06}")
            });
            calls.push(Call {
                method: method.clone(),
                body: body.clone(),
                at: Instant::now(),
                ok,
                ts: ts.clone(),
            });
            ts
        })
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match failure {
        Some(Failure::RateLimited(secs)) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                json!({"ok": false, "error": "ratelimited"}).to_string(),
            )
                .into_response();
        }
        Some(Failure::ServerError) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response();
        }
        Some(Failure::Refused) => {
            return axum_json(json!({"ok": false, "error": "cant_update_message"}));
        }
        Some(Failure::Slow(_)) | None => {}
    }
    if !authorized {
        return axum_json(json!({"ok": false, "error": "not_authed"}));
    }
    let answer = match method.as_str() {
        "auth.test" => json!({
            "ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "deckhand",
            "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT"
        }),
        "chat.postMessage" if not_in_channel => json!({"ok": false, "error": "not_in_channel"}),
        "chat.postMessage" => {
            let ts = ts.unwrap_or_default();
            let mut message =
                json!({"type": "message", "ts": ts, "user": "UBOT", "bot_id": "BBOT"});
            for k in ["text", "blocks", "thread_ts"] {
                if let Some(v) = body.get(k) {
                    message[k] = v.clone();
                }
            }
            json!({"ok": true, "channel": body["channel"], "ts": ts, "message": message})
        }
        "chat.update" => json!({
            "ok": true, "channel": body["channel"], "ts": body["ts"], "text": body["text"],
            "message": {"text": body["text"], "user": "UBOT"}
        }),
        "apps.connections.open" => {
            json!({"ok": true, "url": shared.ws_url.lock().unwrap().clone()})
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    axum_json(answer)
}

async fn response_url(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.responses.lock().unwrap().push(body);
    (StatusCode::OK, "ok").into_response()
}

fn axum_json(v: Value) -> Response {
    (
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

impl FakeSlack {
    /// Starts the HTTP and WebSocket listeners on free local ports.
    pub async fn start() -> FakeSlack {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/api/{method}", post(api))
            .route("/response/{*rest}", post(response_url))
            .with_state(shared.clone());
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = http.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(http, router).await.unwrap() });

        let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
        *shared.ws_url.lock().unwrap() = format!("ws://{}/link", ws.local_addr().unwrap());
        let ws_shared = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = ws.accept().await {
                let shared = ws_shared.clone();
                tokio::spawn(async move {
                    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    let (mut write, mut read) = socket.split();
                    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
                    shared.sockets.lock().unwrap().push(tx);
                    let writer = tokio::spawn(async move {
                        while let Some(m) = rx.recv().await {
                            let close = matches!(m, Message::Close(_));
                            if write.send(m).await.is_err() || close {
                                break;
                            }
                        }
                    });
                    while let Some(Ok(m)) = read.next().await {
                        if let Message::Text(t) = m {
                            if let Ok(v) = serde_json::from_str::<Value>(&t) {
                                shared.received.lock().unwrap().push(v);
                            }
                        }
                    }
                    writer.abort();
                });
            }
        });
        FakeSlack {
            api_base: format!("http://127.0.0.1:{port}/api"),
            response_base: format!("http://127.0.0.1:{port}/response"),
            shared,
        }
    }

    /// Makes the next calls of `method` fail as listed, in order.
    pub fn fail_next(&self, method: &str, failures: &[Failure]) {
        self.shared.core.fail_next(method, failures);
    }

    /// Makes the next calls of `method` about message `ts` fail as listed.
    pub fn fail_next_for(&self, method: &str, ts: &str, failures: &[Failure]) {
        self.fail_next(&format!("{method}@{ts}"), failures);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.core.calls()
    }

    /// Successful calls of `method`, bodies only.
    pub fn bodies(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.ok)
            .map(|c| c.body)
            .collect()
    }

    /// Successful `chat.postMessage` texts in a thread (`None`: top level).
    pub fn posts_in(&self, thread_ts: Option<&str>) -> Vec<Value> {
        self.bodies("chat.postMessage")
            .into_iter()
            .filter(|b| b.get("thread_ts").and_then(|t| t.as_str()) == thread_ts)
            .collect()
    }

    /// The ts the fake will give the `n`-th successful post (1-based, in arrival order).
    pub fn ts_of_post(&self, n: u64) -> String {
        format!("1800000000.{n:06}")
    }

    /// Closes the latest Socket Mode connection from the server side.
    pub fn drop_socket(&self) {
        self.send_frame(Message::Close(None));
    }

    /// Waits until `check` holds, or panics with `what` after `limit`.
    pub async fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&FakeSlack) -> bool) {
        self.shared.core.wait_for(what, limit, || check(self)).await;
    }

    /// The ts the fake will give the next successful post.
    pub fn next_ts(&self) -> String {
        self.ts_of_post(self.shared.next_ts.load(Ordering::SeqCst) + 1)
    }

    /// Socket Mode connections opened so far.
    pub fn socket_count(&self) -> usize {
        self.shared.sockets.lock().unwrap().len()
    }

    /// Sends a frame on the latest Socket Mode connection.
    pub fn send_frame(&self, frame: Message) {
        let sockets = self.shared.sockets.lock().unwrap();
        sockets
            .last()
            .expect("no Socket Mode connection")
            .send(frame)
            .unwrap();
    }

    /// Frames the client sent (acks).
    pub fn received(&self) -> Vec<Value> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Bodies posted to response URLs.
    pub fn responses(&self) -> Vec<Value> {
        self.shared.responses.lock().unwrap().clone()
    }
}
