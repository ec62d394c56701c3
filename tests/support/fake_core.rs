//! What the platform fakes share: the call log, the scripted failures (rate limits, server
//! errors, refusals) keyed by what they apply to, one `wait_for`, and the HTTP client the rigs
//! post platform payloads with. Each fake only adds its platform's wire format.
#![allow(dead_code)]

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A scripted failure for one call; each fake answers it in its platform's wire format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// HTTP 429 asking to wait this many seconds.
    RateLimited(f64),
    /// HTTP 500.
    ServerError,
    /// A refusal that retrying will not change (Slack `cant_update_message`, Discord 403).
    Refused,
    /// Accepted and recorded at once (so the message is on screen), answered this many
    /// seconds later.
    Slow(f64),
}

impl Failure {
    /// How long to hold back the answer of an accepted call, for [`Failure::Slow`].
    pub fn delay(failure: Option<Failure>) -> (Option<Failure>, Option<std::time::Duration>) {
        match failure {
            Some(Failure::Slow(secs)) => (None, Some(std::time::Duration::from_secs_f64(secs))),
            other => (other, None),
        }
    }
}

/// The call log and failure script of one fake; `C` is the fake's own call record.
pub struct FakeCore<C> {
    calls: Mutex<Vec<C>>,
    script: Mutex<HashMap<String, VecDeque<Failure>>>,
}

impl<C> Default for FakeCore<C> {
    fn default() -> Self {
        FakeCore {
            calls: Mutex::new(Vec::new()),
            script: Mutex::new(HashMap::new()),
        }
    }
}

impl<C: Clone + Debug> FakeCore<C> {
    /// Appends a call to the log.
    pub fn record(&self, call: C) {
        self.calls.lock().unwrap().push(call);
    }

    /// Runs `f` with the log locked, so a fake can number a call and record it atomically
    /// (call order and id order then agree).
    pub fn with_log<R>(&self, f: impl FnOnce(&mut Vec<C>) -> R) -> R {
        f(&mut self.calls.lock().unwrap())
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<C> {
        self.calls.lock().unwrap().clone()
    }

    /// Makes the next calls that `key` applies to fail as listed, in order.
    pub fn fail_next(&self, key: &str, failures: &[Failure]) {
        self.script
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .extend(failures.iter().copied());
    }

    /// Takes the next scripted failure of the first key (with failures left) that `applies`
    /// accepts; each fake decides how its keys match a call.
    pub fn next_failure(&self, applies: impl Fn(&str) -> bool) -> Option<Failure> {
        let mut script = self.script.lock().unwrap();
        script
            .iter_mut()
            .find(|(key, queue)| !queue.is_empty() && applies(key))
            .and_then(|(_, queue)| queue.pop_front())
    }

    /// Waits until `check` holds, or panics naming `what` with the log after `limit`. It
    /// polls because a check may read state outside the log (sockets, response URLs).
    pub async fn wait_for(&self, what: &str, limit: Duration, check: impl Fn() -> bool) {
        let deadline = Instant::now() + limit;
        while !check() {
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; calls so far:\n{:#?}",
                    self.calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// POSTs `body` to `url` with `headers`; returns the status, the `Retry-After` header and the
/// body text.
pub async fn http_post_retry_after(
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, Option<String>, String) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::post(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        String::from_utf8_lossy(&text).into_owned(),
    )
}

/// POSTs `body` to `url` with `headers`; returns the status and body text.
pub async fn http_post(url: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, String) {
    let (status, _, text) = http_post_retry_after(url, headers, body).await;
    (status, text)
}
