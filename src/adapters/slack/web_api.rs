//! A small Slack Web API client: JSON POSTs to `{base_url}/{method}` with the bot token,
//! typed with slack-morphism's request/response models. The base URL is configurable so tests
//! talk to a local fake Slack. Rate limits (HTTP 429 + `Retry-After`) and transient failures are
//! retried here, so callers see only outcomes.

use crate::metrics::{CallStatus, Metrics, RetryReason};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Why a Web API call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// HTTP 429: Slack asks to wait this long.
    #[error("Slack rate limit: retry after {0:?}")]
    RateLimited(Duration),
    /// A non-2xx status other than 429.
    #[error("Slack answered HTTP {0}")]
    Status(u16),
    /// `{"ok": false, "error": "..."}`.
    #[error("Slack refused the call: {0}")]
    Slack(String),
    /// The request never left (connection refused, DNS, TLS): safe to send again.
    #[error("cannot reach Slack: {0}")]
    Unreachable(String),
    /// The request may have been sent but no answer came: Slack may have acted on it.
    #[error("no answer from Slack: {0}")]
    Transport(String),
    /// Slack answered `ok` but not in the expected shape (not retried: the call took effect).
    #[error("unexpected answer from Slack: {0}")]
    Answer(String),
}

/// What `chat.postMessage` and `chat.update` answer that Deckhand uses.
#[derive(Debug, serde::Deserialize)]
pub struct MessageRef {
    /// The message's timestamp id.
    pub ts: String,
}

/// What `auth.test` answers that Deckhand uses.
#[derive(Debug, serde::Deserialize)]
pub struct AuthInfo {
    /// The bot's user id.
    pub user_id: String,
    /// Its workspace.
    pub team_id: String,
}

/// What `apps.connections.open` answers.
#[derive(Debug, serde::Deserialize)]
pub struct SocketUrl {
    /// WebSocket URL for Socket Mode.
    pub url: String,
}

impl ApiError {
    /// Worth trying again (the same request may succeed later).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::RateLimited(_) | ApiError::Unreachable(_) | ApiError::Transport(_) => true,
            ApiError::Status(s) => *s >= 500,
            ApiError::Answer(_) => false,
            ApiError::Slack(code) => matches!(
                code.as_str(),
                "ratelimited" | "internal_error" | "fatal_error" | "service_unavailable"
            ),
        }
    }
}

pub use crate::adapters::delivery::retry::Retry;

/// The Web API client.
#[derive(Clone)]
pub struct WebApi {
    base_url: String,
    token: String,
    http: Client<Https, Full<Bytes>>,
    /// Counts calls, rate limits and retries.
    metrics: Option<Metrics>,
}

/// The platform label of Slack's metrics.
const PLATFORM: &str = "slack";

impl ApiError {
    /// How the call went, for the metrics.
    fn call_status(&self) -> CallStatus {
        match self {
            ApiError::RateLimited(_) => CallStatus::RateLimited,
            ApiError::Status(code) => CallStatus::of_http(*code),
            ApiError::Slack(_) => CallStatus::Refused,
            ApiError::Unreachable(_) | ApiError::Transport(_) => CallStatus::NoAnswer,
            ApiError::Answer(_) => CallStatus::Ok,
        }
    }

    /// Why it is tried again, for the metrics.
    fn retry_reason(&self) -> RetryReason {
        match self {
            ApiError::RateLimited(_) => RetryReason::RateLimited,
            ApiError::Slack(code) if code == "ratelimited" => RetryReason::RateLimited,
            ApiError::Transport(_) => RetryReason::NoAnswer,
            _ => RetryReason::Transient,
        }
    }
}

impl std::fmt::Debug for WebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("WebApi")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// One HTTP client for the process (HTTPS with the webpki roots, plain HTTP for local fakes).
fn http_client() -> Client<Https, Full<Bytes>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https)
}

impl WebApi {
    /// A client for `base_url` (e.g. `https://slack.com/api`) using `token`.
    pub fn new(base_url: &str, token: &str) -> WebApi {
        WebApi {
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: http_client(),
            metrics: None,
        }
    }

    /// The same client counting its calls into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> WebApi {
        self.metrics = Some(metrics);
        self
    }

    /// The metrics the calls are counted into, if any.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// Counts one call's answer.
    fn count(&self, method: &str, result: Result<(), &ApiError>) {
        let Some(m) = &self.metrics else { return };
        match result {
            Ok(()) => m.platform_call(PLATFORM, method, CallStatus::Ok),
            Err(e) => {
                m.platform_call(PLATFORM, method, e.call_status());
                if matches!(e, ApiError::Slack(code) if code == "ratelimited") {
                    m.platform_rate_limited(PLATFORM, method);
                }
            }
        }
    }

    /// The same client with another token (Socket Mode's app-level token).
    pub fn with_token(&self, token: &str) -> WebApi {
        WebApi {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// Calls `method` once.
    pub async fn call<RQ: Serialize, RS: DeserializeOwned>(
        &self,
        method: &str,
        request: &RQ,
    ) -> Result<RS, ApiError> {
        let url = format!("{}/{}", self.base_url, method);
        let body = serde_json::to_vec(request).map_err(|e| ApiError::Answer(e.to_string()))?;
        let value = self.post(&url, body, true).await;
        self.count(method, value.as_ref().map(|_| ()));
        serde_json::from_value(value?).map_err(|e| ApiError::Answer(format!("{method}: {e}")))
    }

    /// Calls `method`, retrying rate limits and transient failures as `retry` allows.
    pub async fn call_with_retry<RQ: Serialize, RS: DeserializeOwned>(
        &self,
        method: &str,
        request: &RQ,
        retry: Retry,
    ) -> Result<RS, ApiError> {
        let mut backoff = retry.first_backoff;
        let mut attempt = 1;
        loop {
            match self.call(method, request).await {
                Ok(rs) => return Ok(rs),
                Err(e)
                    if attempt < retry.attempts
                        && e.is_transient()
                        && (retry.ambiguous || !matches!(e, ApiError::Transport(_))) =>
                {
                    let wait = match &e {
                        ApiError::RateLimited(after) => *after,
                        _ => {
                            let b = backoff;
                            backoff = (backoff * 2).min(retry.max_backoff);
                            b
                        }
                    };
                    if let Some(m) = &self.metrics {
                        m.platform_retry(PLATFORM, e.retry_reason());
                    }
                    tracing::warn!(method, attempt, error = %e, wait_ms = wait.as_millis() as u64, "Slack call failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// POSTs JSON to a `response_url` Slack handed us (slash commands, interactions).
    pub async fn respond(
        &self,
        response_url: &str,
        body: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Answer(e.to_string()))?;
        // response_url answers `ok` as plain text, not a JSON envelope.
        let result = self.post(response_url, bytes, false).await.map(|_| ());
        self.count("response_url", result.as_ref().copied());
        result
    }

    async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        authorized: bool,
    ) -> Result<serde_json::Value, ApiError> {
        let mut req =
            hyper::Request::post(url).header("content-type", "application/json; charset=utf-8");
        if authorized {
            req = req.header("authorization", format!("Bearer {}", self.token));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ApiError::Unreachable(format!("bad request URL {url}: {e}")))?;
        let resp = tokio::time::timeout(Duration::from_secs(30), self.http.request(req))
            .await
            .map_err(|_| ApiError::Transport("no answer within 30 s".into()))?
            .map_err(|e| {
                if e.is_connect() {
                    ApiError::Unreachable(e.to_string())
                } else {
                    ApiError::Transport(e.to_string())
                }
            })?;
        let status = resp.status().as_u16();
        if status == 429 {
            let after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            return Err(ApiError::RateLimited(Duration::from_secs(after.min(300))));
        }
        if !(200..300).contains(&status) {
            return Err(ApiError::Status(status));
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiError::Transport(e.to_string()))?
            .to_bytes();
        if !authorized {
            return Ok(serde_json::Value::Null);
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Answer(format!("not JSON: {e}")))?;
        if value.get("ok").and_then(|v| v.as_bool()) != Some(true) {
            let code = value
                .get("error")
                .and_then(|v| v.as_str())
                .unwrap_or("unknown_error");
            return Err(ApiError::Slack(code.to_string()));
        }
        Ok(value)
    }
}
