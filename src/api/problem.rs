//! The API's one error format: RFC 9457 problem details (`application/problem+json`). A
//! refusal of the command layer becomes a problem whose `kind` is the refusal's kind and whose
//! `refusal` member carries its facts; the HTTP status says which family it belongs to.

use crate::command::{Refusal, RefusalKind};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Problem details (RFC 9457), the body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `https://deckhand.dev/problems/<kind>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, human summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened, in a sentence.
    pub detail: String,
    /// Machine-readable kind: a refusal kind (`locked`, `not_permitted`, ...) or one of
    /// `unauthorized`, `bad_request`, `not_found`, `internal`.
    pub kind: String,
    /// The refusal's facts (the lock, the roles needed and held, the busy run, suggestions),
    /// present when the command layer refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub refusal: Option<serde_json::Value>,
}

/// Why a request was not answered with a success.
#[derive(Debug)]
pub enum ApiError {
    /// The command layer refused; nothing happened.
    Refused(Box<Refusal>),
    /// No bearer token, or one that stands for nobody.
    Unauthorized,
    /// The request is malformed (body, query or path).
    BadRequest(String),
    /// The path names nothing.
    NotFound(String),
    /// Something failed below the API (the store); logged with a reference.
    Internal(String),
}

impl ApiError {
    /// The command layer answered with another kind of outcome than the endpoint's (a bug).
    pub fn unexpected() -> ApiError {
        ApiError::Internal("the command layer answered with something else".into())
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::Refused(Box::new(r))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::Internal(crate::bot::fault("answering an API request", &e))
    }
}

impl From<crate::command::CommandError> for ApiError {
    fn from(e: crate::command::CommandError) -> ApiError {
        ApiError::Internal(crate::bot::fault("answering an API request", &e))
    }
}

/// The HTTP status of a refusal kind: 403 permission, 423 locked, 429 rate limited, 409 a
/// conflict with the state of things, 422 names or values that do not resolve, 404 a thing
/// that does not exist.
pub fn status_of(kind: RefusalKind) -> StatusCode {
    use RefusalKind as K;
    match kind {
        K::NotPermitted | K::UnknownIdentity | K::OwnRequest | K::CannotStop => {
            StatusCode::FORBIDDEN
        }
        K::Locked | K::Frozen => StatusCode::LOCKED,
        K::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        K::Busy
        | K::AlreadyOn
        | K::ApprovalPending
        | K::AlreadyDecided
        | K::Closed
        | K::Expired
        | K::StaleRequest
        | K::AlreadyLocked
        | K::NotRunning
        | K::NothingRunning
        | K::NothingToRollBack
        | K::NoRollbackPipeline
        | K::CannotStart
        | K::ScheduleDone
        | K::NotApproved => StatusCode::CONFLICT,
        K::UnknownService
        | K::UnknownEnvironment
        | K::Incomplete
        | K::BadLockDuration
        | K::CannotSchedule => StatusCode::UNPROCESSABLE_ENTITY,
        K::UnknownSchedule
        | K::UnknownRun
        | K::UnknownApproval
        | K::NotLocked
        | K::NoApprovalHere
        | K::NothingToWithdraw => StatusCode::NOT_FOUND,
    }
}

/// "rate_limited" -> "Rate limited".
fn title_of(kind: &str) -> String {
    let words = kind.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Problem {
    /// A problem of `kind` with `status` and `detail`.
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("https://deckhand.dev/problems/{kind}"),
            title: title_of(kind),
            status: status.as_u16(),
            detail: detail.into(),
            kind: kind.to_string(),
            refusal: None,
        }
    }

    /// The problem a refusal is: its kind, the chat's sentence as the detail, its facts.
    pub fn of_refusal(refusal: &Refusal) -> Problem {
        let kind = refusal.kind();
        let mut p = Problem::new(
            status_of(kind),
            kind.as_str(),
            crate::bot::refusals::reply_for(refusal),
        );
        p.refusal = serde_json::to_value(refusal).ok().map(public_facts);
        p
    }
}

/// The refusal's facts without Deckhand's internals: a run's owning process, process group,
/// heartbeat and origin (chat workspace, channel and thread ids) are not for API callers.
fn public_facts(mut facts: serde_json::Value) -> serde_json::Value {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if map.contains_key("requested_by") && map.contains_key("started_at") {
                    for key in ["owner", "pgid", "heartbeat_at", "origin", "stage_phase"] {
                        map.remove(key);
                    }
                }
                map.values_mut().for_each(scrub);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    scrub(&mut facts);
    facts
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body,
        )
            .into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Refused(refusal) => {
                let mut response = Problem::of_refusal(&refusal).into_response();
                if let Refusal::RateLimited { retry_in, .. } = *refusal {
                    let secs = (retry_in.as_millis() as u64).div_ceil(1000).max(1);
                    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                        response.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                }
                response
            }
            ApiError::Unauthorized => {
                let mut response = Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "A valid API token is needed: send `Authorization: Bearer <token>` with a token from the `api.tokens` of the config.",
                )
                .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"deckhand\""),
                );
                response
            }
            ApiError::BadRequest(detail) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", detail)
                    .into_response()
            }
            ApiError::NotFound(detail) => {
                Problem::new(StatusCode::NOT_FOUND, "not_found", detail).into_response()
            }
            ApiError::Internal(detail) => {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of status codes is the mapping the API uses, kind by kind.
    #[test]
    fn every_refusal_kind_has_its_documented_status() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("### Errors")
            .nth(1)
            .and_then(|s| s.split("### ").next())
            .expect("README has the API's errors section");
        for kind in RefusalKind::ALL {
            let status = status_of(kind).as_u16();
            let row = table
                .lines()
                .find(|l| l.contains(&format!("`{}`", kind.as_str())))
                .unwrap_or_else(|| panic!("{} is not in the README's table", kind.as_str()));
            assert!(
                row.starts_with(&format!("| {status} |")),
                "{} is {status} but documented as {row}",
                kind.as_str()
            );
            assert!(matches!(status, 403 | 404 | 409 | 422 | 423 | 429));
        }
    }

    #[test]
    fn titles_read_as_words() {
        assert_eq!(title_of("rate_limited"), "Rate limited");
        assert_eq!(title_of("locked"), "Locked");
    }
}
