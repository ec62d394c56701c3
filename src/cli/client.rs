//! The HTTP side of the CLI: one [`Client`] per invocation, bearer token from the
//! environment or a file (never printed, never in an error), JSON in and out, and RFC 9457
//! problem details turned into [`ClientError`]s.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// How long a request (not an event stream) may take before the server counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An API token. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The token in `DECKHAND_TOKEN`, or the first line of `file` when one is given.
    pub fn load(file: Option<&Path>) -> Result<Option<Token>, ClientError> {
        let raw = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                ClientError::TokenFile(format!("cannot read {}: {}", path.display(), e.kind()))
            })?,
            None => match std::env::var("DECKHAND_TOKEN") {
                Ok(t) => t,
                Err(_) => return Ok(None),
            },
        };
        let token = raw.lines().next().unwrap_or_default().trim().to_string();
        Ok((!token.is_empty()).then_some(Token(token)))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// An RFC 9457 problem the server answered with.
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    /// HTTP status.
    #[serde(default)]
    pub status: u16,
    /// Short title ("Locked").
    #[serde(default)]
    pub title: String,
    /// The human sentence.
    #[serde(default)]
    pub detail: Option<String>,
    /// The refusal kind (`locked`, `not_permitted`, ...) or `unauthorized`, `bad_request`,
    /// `not_found`, `internal`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The problem as the server sent it (printed as is with `--json`).
    #[serde(skip)]
    pub raw: Value,
    /// Seconds to wait, from `Retry-After` (429).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// The sentence to print: `detail`, else the title, else the status.
    pub fn sentence(&self) -> String {
        let mut s = match (&self.detail, self.title.is_empty()) {
            (Some(d), _) if !d.is_empty() => d.clone(),
            (_, false) => self.title.clone(),
            _ => format!("HTTP {}", self.status),
        };
        if let Some(secs) = self.retry_after {
            s.push_str(&format!(" (retry after {secs} s)"));
        }
        s
    }
}

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `--server` is not a usable URL.
    #[error("the server URL {0:?} is not an http:// or https:// URL")]
    BadServer(String),
    /// The token file cannot be read (its content is never shown).
    #[error("token file: {0}")]
    TokenFile(String),
    /// No connection, a timeout, or the stream broke.
    #[error("cannot reach the Deckhand server at {server}: {reason}")]
    Unreachable {
        /// The base URL.
        server: String,
        /// What went wrong (without the token).
        reason: String,
    },
    /// 401: no token, or one the server does not know.
    #[error("not authorised: {} (set DECKHAND_TOKEN or --token-file)", .0.sentence())]
    Unauthorized(Box<Problem>),
    /// A refusal or another 4xx problem.
    #[error("{}", .0.sentence())]
    Refused(Box<Problem>),
    /// A 5xx, or an answer that is not Deckhand's JSON.
    #[error("the server answered {status}: {detail}")]
    Server {
        /// HTTP status.
        status: u16,
        /// What it said.
        detail: String,
        /// The problem, when it sent one.
        problem: Option<Box<Problem>>,
    },
}

impl ClientError {
    /// The problem the server answered with, if any (for `--json`).
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Unauthorized(p) | ClientError::Refused(p) => Some(p.as_ref()),
            ClientError::Server { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }
}

/// A Deckhand server's API, as one caller.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port` without a trailing slash.
    server: String,
    token: Option<Token>,
}

impl Client {
    /// A client of `server` (a base URL such as `http://127.0.0.1:3000`).
    pub fn new(server: &str, token: Option<Token>) -> Result<Client, ClientError> {
        let server = server.trim_end_matches('/').to_string();
        let valid = reqwest::Url::parse(&server)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !valid {
            return Err(ClientError::BadServer(server));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("deckhand-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                server: server.clone(),
                reason: format!("cannot set up HTTP: {e}"),
            })?;
        Ok(Client {
            http,
            server,
            token,
        })
    }

    /// The base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A request to `/api/v1{path}` with the token.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{}", self.server, path));
        if let Some(Token(t)) = &self.token {
            req = req.bearer_auth(t);
        }
        req
    }

    /// `GET /api/v1{path}?query`; empty query values are left out.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<Value, ClientError> {
        self.send(self.request(Method::GET, path).query(&present(query)))
            .await
    }

    /// `POST /api/v1{path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let req = self
            .request(Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(req).await
    }

    /// `DELETE /api/v1{path}?query`.
    pub async fn delete(
        &self,
        path: &str,
        query: &[(&str, Option<String>)],
    ) -> Result<Value, ClientError> {
        self.send(self.request(Method::DELETE, path).query(&present(query)))
            .await
    }

    /// Opens `GET /api/v1/runs/{id}/events`, resuming after `last_event_id`; the response
    /// body is the event stream (no overall timeout: runs take as long as they take).
    pub async fn events(
        &self,
        run_id: i64,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .request(Method::GET, &format!("/runs/{run_id}/events"))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let body = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        Err(error_from(status, &body, retry_after))
    }

    /// Sends, reads the whole answer, and sorts it into JSON or an error.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let resp = req
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let retry_after = retry_after(&resp);
        let body = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(error_from(status, &body, retry_after));
        }
        serde_json::from_slice(&body).map_err(|_| ClientError::Server {
            status: status.as_u16(),
            detail: "the answer is not JSON (is this a Deckhand server with the API on?)".into(),
            problem: None,
        })
    }

    /// A transport error, worded without the URL's query or any header.
    pub fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            server: self.server.clone(),
            reason: describe(e),
        }
    }
}

/// Why a request failed, in words (never a header, so never the token).
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection refused or no route".to_string()
    } else {
        // The chain says why; reqwest's own text is generic ("error sending request").
        let mut reason = "the request failed".to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        reason
    }
}

/// Query pairs with a value.
fn present<'a>(query: &'a [(&'a str, Option<String>)]) -> Vec<(&'a str, &'a str)> {
    query
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .collect()
}

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The error for a non-2xx answer: 401 → unauthorised, other 4xx → refused, else a server
/// error; the problem body is kept when there is one.
pub fn error_from(status: StatusCode, body: &[u8], retry_after: Option<u64>) -> ClientError {
    let problem = serde_json::from_slice::<Value>(body).ok().and_then(|raw| {
        let mut p: Problem = serde_json::from_value(raw.clone()).ok()?;
        p.raw = raw;
        if p.status == 0 {
            p.status = status.as_u16();
        }
        p.retry_after = retry_after;
        Some(p)
    });
    match (status, problem) {
        (StatusCode::UNAUTHORIZED, Some(p)) => ClientError::Unauthorized(Box::new(p)),
        (StatusCode::UNAUTHORIZED, None) => ClientError::Unauthorized(Box::new(Problem {
            status: 401,
            title: "Unauthorized".into(),
            detail: None,
            kind: Some("unauthorized".into()),
            raw: Value::Null,
            retry_after: None,
        })),
        (s, Some(p)) if s.is_client_error() => ClientError::Refused(Box::new(p)),
        (s, problem) => ClientError::Server {
            status: s.as_u16(),
            detail: match &problem {
                Some(p) => p.sentence(),
                None => String::from_utf8_lossy(body).chars().take(200).collect(),
            },
            problem: problem.map(Box::new),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_its_problem_and_retry_after() {
        let body = br#"{"type":"https://deckhand.dev/problems/rate_limited","title":"Too Many Requests","status":429,"detail":"slow down","kind":"rate_limited"}"#;
        let e = error_from(StatusCode::TOO_MANY_REQUESTS, body, Some(30));
        let ClientError::Refused(p) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(p.kind.as_deref(), Some("rate_limited"));
        assert_eq!(p.raw["status"], 429);
        assert_eq!(e.to_string(), "slow down (retry after 30 s)");
    }

    #[test]
    fn unauthorised_with_or_without_a_body_and_server_errors() {
        let e = error_from(StatusCode::UNAUTHORIZED, b"", None);
        assert!(matches!(e, ClientError::Unauthorized(_)), "{e:?}");
        assert!(e.to_string().contains("DECKHAND_TOKEN"), "{e}");
        let e = error_from(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>", None);
        assert_eq!(
            e.to_string(),
            "the server answered 502: <html>bad gateway</html>"
        );
        let e = error_from(StatusCode::NOT_FOUND, b"not json", None);
        assert!(
            matches!(e, ClientError::Server { status: 404, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn the_token_never_shows() {
        let t = Token("s3cret".into());
        let c = Client::new("http://127.0.0.1:1/", Some(t)).unwrap();
        assert_eq!(c.server(), "http://127.0.0.1:1");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(Client::new("ftp://x", None).is_err());
        assert!(Client::new("127.0.0.1:3000", None).is_err());
    }

    #[test]
    fn a_token_file_gives_its_first_line_and_an_unreadable_one_is_named_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  abc123 \nignored\n").unwrap();
        let t = Token::load(Some(&path)).unwrap().unwrap();
        assert_eq!(t.0, "abc123");
        let e = Token::load(Some(&dir.path().join("missing"))).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
