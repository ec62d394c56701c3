//! The Discord REST calls Deckhand makes, over `reqwest` with a configurable base URL (tests
//! use a local fake). Rate limits are respected the way Discord documents them: a 429 waits
//! `retry_after` (per route, or for everything when `global`), and a route whose
//! `X-RateLimit-Remaining` reached 0 waits `X-RateLimit-Reset-After` before the next call.
//! Bodies are plain JSON and only the fields Deckhand needs are read back, so an answer with
//! new or missing fields never turns a delivered message into an error.

use crate::adapters::delivery::SendError;
use crate::metrics::{CallStatus, Metrics, RetryReason};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Discord's API version in the path.
const API: &str = "/api/v10";
/// 429s waited out per call before giving up.
const MAX_RATE_LIMITED: u32 = 5;

/// A message's ids, as read back from Discord.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageIds {
    /// Message id.
    pub id: String,
    /// Channel it is in.
    pub channel_id: String,
}

/// A channel's kind and place.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelInfo {
    /// Channel id.
    pub id: String,
    /// 0 text, 1 DM, 11 public thread, 12 private thread, ...
    #[serde(rename = "type")]
    pub kind: u8,
    /// Its guild (absent for DMs).
    #[serde(default)]
    pub guild_id: Option<String>,
    /// For threads: the channel they belong to.
    #[serde(default)]
    pub parent_id: Option<String>,
}

impl ChannelInfo {
    /// Is it a thread?
    pub fn is_thread(&self) -> bool {
        matches!(self.kind, 10..=12)
    }
}

/// Discord's REST API for one bot.
#[derive(Clone)]
pub struct DiscordRest {
    client: reqwest::Client,
    base: String,
    token: String,
    /// Earliest time of the next call per route bucket ("" = global).
    not_before: Arc<Mutex<HashMap<String, Instant>>>,
    /// Counts calls, rate limits and retries.
    metrics: Option<Metrics>,
}

/// The platform label of Discord's metrics.
const PLATFORM: &str = "discord";

/// A call's route for the metrics: method and path with ids and tokens replaced, so the
/// label stays bounded (`PATCH /channels/{id}/messages/{id}`).
fn route_label(method: &Method, path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let tokened = matches!(parts.first(), Some(&"webhooks") | Some(&"interactions"));
    let shape: Vec<&str> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if tokened && i == 2 {
                "{token}"
            } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                p
            }
        })
        .collect();
    format!("{method} /{}", shape.join("/"))
}

fn id(s: &str) -> Result<&str, SendError> {
    if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(SendError::Permanent(format!("`{s}` is not a Discord id")))
    }
}

/// Interaction tokens go into paths; they are long but URL-safe.
fn token_part(s: &str) -> Result<&str, SendError> {
    let safe = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if safe && s.bytes().any(|b| b != b'.') && s.len() <= 500 {
        Ok(s)
    } else {
        Err(SendError::Permanent("malformed interaction token".into()))
    }
}

/// Interaction callbacks and webhooks are exempt from the global rate limit.
fn exempt_from_global(path: &str) -> bool {
    path.starts_with("/interactions/") || path.starts_with("/webhooks/")
}

/// The rate-limit bucket of a call: method and path up to its major parameter (Discord limits
/// per channel, per webhook/interaction token).
fn bucket(method: &Method, path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let major = match parts.first() {
        Some(&"channels") | Some(&"guilds") => {
            parts.iter().take(2).copied().collect::<Vec<_>>().join("/")
        }
        Some(&"webhooks") | Some(&"interactions") => {
            parts.iter().take(3).copied().collect::<Vec<_>>().join("/")
        }
        _ => path.to_string(),
    };
    let shape: Vec<&str> = parts
        .iter()
        .skip(major.split('/').count())
        .map(|p| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                p
            }
        })
        .collect();
    format!("{method} {major}/{}", shape.join("/"))
}

/// A call that got no answer.
fn no_answer(e: reqwest::Error) -> SendError {
    // The URL can hold an interaction token: never let it reach a log.
    let e = e.without_url();
    if e.is_connect() {
        SendError::Transient(format!("cannot reach Discord: {e}"))
    } else {
        SendError::Unknown(format!("no answer from Discord: {e}"))
    }
}

fn header_secs(headers: &reqwest::header::HeaderMap, name: &str) -> Option<Duration> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(600.0)))
}

impl DiscordRest {
    /// A client for `base_url` (`https://discord.com`, or a local fake) with the bot token.
    pub fn new(base_url: &str, token: &str) -> DiscordRest {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "DiscordBot (https://github.com/deckhand, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        DiscordRest {
            client,
            base: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            not_before: Arc::new(Mutex::new(HashMap::new())),
            metrics: None,
        }
    }

    /// The same client counting its calls into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> DiscordRest {
        self.metrics = Some(metrics);
        self
    }

    /// The metrics the calls are counted into, if any.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    fn count(&self, route: &str, status: CallStatus) {
        if let Some(m) = &self.metrics {
            m.platform_call(PLATFORM, route, status);
        }
    }

    /// A serenity HTTP client with the same token and base (the gateway client owns one).
    /// serenity's own rate limiter cannot be combined with another base URL, so it is only
    /// used against the real Discord.
    pub fn gateway_http(&self) -> serenity::http::Http {
        let mut builder = serenity::http::HttpBuilder::new(&self.token);
        if self.base != "https://discord.com" {
            builder = builder.proxy(&self.base).ratelimiter_disabled(true);
        }
        builder.build()
    }

    fn wait_until(&self, key: &str, global: bool) -> Option<Instant> {
        let map = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        let global = if global { map.get("") } else { None };
        [global, map.get(key)].into_iter().flatten().max().copied()
    }

    fn hold(&self, key: &str, until: Instant) {
        let mut map = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.entry(key.to_string()).or_insert(until);
        *e = (*e).max(until);
    }

    /// A 429: holds the route (or everything, when `global`) for as long as Discord asks;
    /// returns that wait and whether it is global.
    fn hold_for_429(
        &self,
        key: &str,
        headers: &reqwest::header::HeaderMap,
        json: &Value,
    ) -> (Duration, bool) {
        let after = header_secs(headers, "retry-after")
            .or_else(|| {
                json.get("retry_after")
                    .and_then(|v| v.as_f64())
                    .map(|s| Duration::from_secs_f64(s.clamp(0.0, 600.0)))
            })
            .unwrap_or(Duration::from_secs(1));
        let global = headers.contains_key("x-ratelimit-global")
            || json.get("global").and_then(|g| g.as_bool()) == Some(true);
        self.hold(if global { "" } else { key }, Instant::now() + after);
        (after, global)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, SendError> {
        self.call_with(method, path, body, MAX_RATE_LIMITED).await
    }

    /// One call, waiting out at most `max_limited` rate limits.
    async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        max_limited: u32,
    ) -> Result<Value, SendError> {
        let key = bucket(&method, path);
        let url = format!("{}{API}{path}", self.base);
        let global_applies = !exempt_from_global(path);
        let route = route_label(&method, path);
        let mut limited = 0;
        loop {
            if let Some(at) = self.wait_until(&key, global_applies) {
                tokio::time::sleep_until(at).await;
            }
            let mut req = self
                .client
                .request(method.clone(), &url)
                .header("authorization", format!("Bot {}", self.token));
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(b).map_err(|e| SendError::Permanent(e.to_string()))?);
            }
            let resp = req.send().await.map_err(|e| {
                self.count(&route, CallStatus::NoAnswer);
                no_answer(e)
            })?;
            let status = resp.status().as_u16();
            self.count(&route, CallStatus::of_http(status));
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_default();
            let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status == 429 {
                let (after, global) = self.hold_for_429(&key, &headers, &json);
                limited += 1;
                if limited > max_limited {
                    return Err(SendError::RateLimited(after));
                }
                if let Some(m) = &self.metrics {
                    m.platform_retry(PLATFORM, RetryReason::RateLimited);
                }
                tracing::warn!(route = %key, wait_ms = after.as_millis() as u64, global, "Discord rate limit; waiting");
                continue;
            }
            // Out of requests in this bucket: the next call waits for the reset.
            if headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                == Some("0")
            {
                if let Some(reset) = header_secs(&headers, "x-ratelimit-reset-after") {
                    self.hold(&key, Instant::now() + reset);
                }
            }
            let message = || {
                json.get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            return match status {
                200..=299 => Ok(json),
                500..=599 => Err(SendError::Transient(format!(
                    "Discord answered {status}: {}",
                    message()
                ))),
                _ => Err(SendError::Permanent(format!(
                    "Discord answered {status}: {}",
                    message()
                ))),
            };
        }
    }

    fn read<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, SendError> {
        serde_json::from_value(v)
            .map_err(|e| SendError::Permanent(format!("unexpected answer from Discord: {e}")))
    }

    /// The bot's own user id.
    pub async fn current_user_id(&self) -> Result<String, SendError> {
        #[derive(Deserialize)]
        struct Me {
            id: String,
        }
        let me: Me = Self::read(self.call(Method::GET, "/users/@me", None).await?)?;
        Ok(me.id)
    }

    /// The application's id (for commands and interaction webhooks).
    pub async fn application_id(&self) -> Result<String, SendError> {
        #[derive(Deserialize)]
        struct App {
            id: String,
        }
        let app: App = Self::read(
            self.call(Method::GET, "/oauth2/applications/@me", None)
                .await?,
        )?;
        Ok(app.id)
    }

    /// Replaces the application's slash commands (in one guild, or globally).
    pub async fn register_commands(
        &self,
        app: &str,
        guild: Option<&str>,
        commands: &Value,
    ) -> Result<(), SendError> {
        let path = match guild {
            Some(g) => format!("/applications/{}/guilds/{}/commands", id(app)?, id(g)?),
            None => format!("/applications/{}/commands", id(app)?),
        };
        self.call(Method::PUT, &path, Some(commands))
            .await
            .map(|_| ())
    }

    /// Posts a message in a channel (or thread).
    pub async fn post(&self, channel: &str, body: &Value) -> Result<MessageIds, SendError> {
        let path = format!("/channels/{}/messages", id(channel)?);
        Self::read(self.call(Method::POST, &path, Some(body)).await?)
    }

    /// Edits one of the bot's messages.
    pub async fn edit(&self, channel: &str, message: &str, body: &Value) -> Result<(), SendError> {
        let path = format!("/channels/{}/messages/{}", id(channel)?, id(message)?);
        self.call(Method::PATCH, &path, Some(body))
            .await
            .map(|_| ())
    }

    /// Starts a thread from a message; returns the thread's channel id.
    pub async fn start_thread(
        &self,
        channel: &str,
        message: &str,
        name: &str,
    ) -> Result<String, SendError> {
        let path = format!(
            "/channels/{}/messages/{}/threads",
            id(channel)?,
            id(message)?
        );
        // Discord wants 1 to 100 characters.
        let name: String = name.trim().chars().take(100).collect();
        let name = if name.is_empty() {
            "Deckhand".to_string()
        } else {
            name
        };
        let body = serde_json::json!({ "name": name, "auto_archive_duration": 1440 });
        let thread: ChannelInfo = Self::read(self.call(Method::POST, &path, Some(&body)).await?)?;
        Ok(thread.id)
    }

    /// A channel's kind and parent.
    pub async fn channel(&self, channel: &str) -> Result<ChannelInfo, SendError> {
        let path = format!("/channels/{}", id(channel)?);
        Self::read(self.call(Method::GET, &path, None).await?)
    }

    /// Answers an interaction (acknowledgement, autocomplete choices, ...). Only useful within
    /// Discord's 3 seconds, so a rate limit is not waited out.
    pub async fn respond(
        &self,
        interaction: &str,
        token: &str,
        body: &Value,
    ) -> Result<(), SendError> {
        let path = format!(
            "/interactions/{}/{}/callback",
            id(interaction)?,
            token_part(token)?
        );
        let call = self.call_with(Method::POST, &path, Some(body), 0);
        match tokio::time::timeout(Duration::from_millis(2_500), call).await {
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(SendError::Unknown(
                "no answer within Discord's 3 seconds".into(),
            )),
        }
    }

    /// Edits the original response of an interaction; returns that message's ids. Over the
    /// endpoint the deferred answer may still be on its way to Discord, so "Unknown Webhook"
    /// (404) is retried briefly.
    pub async fn edit_original(
        &self,
        app: &str,
        token: &str,
        body: &Value,
    ) -> Result<MessageIds, SendError> {
        let path = format!(
            "/webhooks/{}/{}/messages/@original",
            id(app)?,
            token_part(token)?
        );
        let mut wait = Duration::from_millis(150);
        for _ in 0..5 {
            match self.call(Method::PATCH, &path, Some(body)).await {
                Ok(v) => return Self::read(v),
                Err(SendError::Permanent(m)) if m.contains("answered 404") => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(e),
            }
        }
        Self::read(self.call(Method::PATCH, &path, Some(body)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_major_parameters() {
        assert_eq!(
            bucket(&Method::PATCH, "/channels/12/messages/34"),
            "PATCH channels/12/messages/{id}"
        );
        assert_eq!(
            bucket(&Method::PATCH, "/channels/12/messages/99"),
            "PATCH channels/12/messages/{id}"
        );
        assert_eq!(
            bucket(&Method::POST, "/channels/13/messages"),
            "POST channels/13/messages"
        );
        assert_eq!(
            bucket(&Method::PATCH, "/webhooks/1/tok/messages/@original"),
            "PATCH webhooks/1/tok/messages/@original"
        );
    }

    #[test]
    fn metric_routes_hide_ids_and_tokens() {
        assert_eq!(
            route_label(&Method::PATCH, "/channels/12/messages/34"),
            "PATCH /channels/{id}/messages/{id}"
        );
        assert_eq!(
            route_label(&Method::PATCH, "/webhooks/1/aW50.x-y/messages/@original"),
            "PATCH /webhooks/{id}/{token}/messages/@original"
        );
        assert_eq!(
            route_label(&Method::POST, "/interactions/5/tok/callback"),
            "POST /interactions/{id}/{token}/callback"
        );
        assert_eq!(route_label(&Method::GET, "/users/@me"), "GET /users/@me");
    }

    #[test]
    fn ids_and_tokens_are_checked_before_they_reach_a_path() {
        assert!(id("123").is_ok());
        assert!(id("12/../3").is_err());
        assert!(token_part("aW50ZXJhY3Rpb24.abc-_").is_ok());
        assert!(token_part("a/b").is_err());
        assert!(token_part("..").is_err());
        assert!(exempt_from_global("/interactions/1/t/callback"));
        assert!(!exempt_from_global("/channels/1/messages"));
    }
}
