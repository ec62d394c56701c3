//! A real `deckhand serve` with the REST API on (no chat platform), and a small HTTP client
//! for it: JSON requests with a bearer token, and a Server-Sent Events reader.
#![allow(dead_code)]

use super::{config_in, temp_dir};
use deckhand::adapters::serve::{Secrets, Server};
use deckhand::bot::Bot;
use deckhand::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The tokens of the example config's API callers (plus carol's and dave's, added here).
pub const ALICE: &str = "dkh_alice_test_token";
pub const BOB: &str = "dkh_bob_test_token";
pub const CAROL: &str = "dkh_carol_test_token";
pub const DAVE: &str = "dkh_dave_test_token";

/// The tokens' environment variables, as handed to the server.
pub fn token_env() -> BTreeMap<String, String> {
    [
        ("DECKHAND_API_TOKEN_ALICE", ALICE),
        ("DECKHAND_API_TOKEN_BOB", BOB),
        ("DECKHAND_API_TOKEN_CAROL", CAROL),
        ("DECKHAND_API_TOKEN_DAVE", DAVE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// An `api:` section with a token for each of these people.
pub fn api_for(people: &[&str]) -> deckhand::config::ApiConfig {
    deckhand::config::ApiConfig {
        tokens: people
            .iter()
            .map(|p| deckhand::config::ApiToken {
                person: p.to_string(),
                token_env: Some(format!("DECKHAND_API_TOKEN_{}", p.to_uppercase())),
                token_sha256: None,
            })
            .collect(),
    }
}

/// A served API.
pub struct ApiRig {
    pub server: Server,
    pub bot: Arc<Bot>,
    pub base: String,
    pub http: reqwest::Client,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Answer {
    /// The problem's kind (error answers).
    pub fn kind(&self) -> &str {
        self.body["kind"].as_str().unwrap_or("")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

impl ApiRig {
    /// Serves examples/deckhand.yaml without its Slack section, with a fresh store (`url`,
    /// or SQLite in a temp dir), after `tweak`.
    pub async fn start(tag: &str, url: Option<String>, tweak: impl FnOnce(&mut Config)) -> ApiRig {
        let dir = temp_dir(tag);
        let mut config = config_in("examples/deckhand.yaml", &dir);
        config.slack = None;
        config.discord = None;
        if let Some(url) = url {
            config.store.url = url;
        }
        if let Some(api) = config.api.as_mut() {
            for person in ["carol", "dave"] {
                api.tokens.push(deckhand::config::ApiToken {
                    person: person.into(),
                    token_env: Some(format!("DECKHAND_API_TOKEN_{}", person.to_uppercase())),
                    token_sha256: None,
                });
            }
        }
        tweak(&mut config);
        let bot = Arc::new(Bot::new(config).await.unwrap());
        let secrets = Secrets {
            api_env: Some(token_env()),
            ..Secrets::default()
        };
        let server = Server::start(bot.clone(), "127.0.0.1:0", secrets)
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        ApiRig {
            server,
            bot,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request; `token` None sends none.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let raw = resp.text().await.unwrap();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            raw,
        }
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None).await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// Reads a run's event stream to its end (the server closes it after `finished`).
    pub async fn events(&self, run: i64, token: &str, last_event_id: Option<u64>) -> Vec<SseEvent> {
        let mut req = self
            .http
            .get(format!("{}/api/v1/runs/{run}/events", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let mut resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert!(resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("text/event-stream"));
        let mut text = String::new();
        let read = async {
            while let Some(chunk) = resp.chunk().await.unwrap() {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the stream ends after `finished`");
        parse_sse(&text)
    }
}

/// Parses an event stream (blank-line separated; `id:`, `event:`, `data:` fields; `:` comments).
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let (mut id, mut event, mut data) = (None, String::from("message"), Vec::new());
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = value.parse().ok(),
                "event" => event = value.to_string(),
                "data" => data.push(value.to_string()),
                _ => {}
            }
        }
        if !data.is_empty() {
            out.push(SseEvent {
                id,
                event,
                data: serde_json::from_str(&data.join("\n")).unwrap(),
            });
        }
    }
    out
}
