//! HTTP load on loopback: `deckhand serve` (started in-process from the library, SQLite store,
//! Slack Events API transport, a local fake Slack) under a fixed request rate over keep-alive
//! connections, with latency percentiles from every recorded sample.
//!
//! Run with `cargo bench --bench http_load` (all scenarios) or name some after `--`:
//! `cargo bench --bench http_load -- slack_mention api_deploy_locked`. Settings (environment):
//! `DECKHAND_BENCH_RATE` (requests/s, default 5000), `DECKHAND_BENCH_SECS` (measured seconds
//! per scenario, default 10), `DECKHAND_BENCH_CONNECTIONS` (default 32), `DECKHAND_BENCH_LOG`
//! (the server's log filter, default `info` as `deckhand serve`; written to a sink).
//!
//! Scenarios, and the work the server does for each request:
//! - `slack_mention`: a signed `app_mention` ("@deckhand hello") with its own event id and
//!   thread. Before the 200: HMAC-SHA256 signature check over the raw body, JSON parse, spawn.
//!   After it (same server, same cores): the de-duplication insert of the event id, the thread
//!   record, NLU and dialogue, and the reply posted to the fake Slack. The bench waits for that
//!   backlog to drain and reports how long it took, so an ack rate the background cannot keep
//!   up with shows; then each measured mention's reply delay (from when the mention was due to
//!   when its first post reached the fake Slack) and the replies per second. The bench
//!   process's peak RSS is printed at the end.
//! - `slack_chatter`: a signed channel message not addressed to the bot (the bulk of what a bot
//!   subscribed to `message.channels` receives): signature check, parse, ack, filtered out.
//! - `api_deploy_locked`: `POST /api/v1/deploys` with a bearer token while staging is locked:
//!   token check, request validation, governance (roles, rate limit), the lock lookup in the
//!   store and the audited refusal (423 problem details). Nothing runs.
//! - `metrics`: `GET /metrics` (DORA and approval figures queried from the store at scrape
//!   time) at a scrape-like rate (`DECKHAND_BENCH_METRICS_RATE`, default 50/s).
//!
//! Fairness: the load is open-loop at a fixed rate (requests are not held back because the
//! server is slow). Each connection sends its next request at its scheduled time; when the
//! previous answer came after that time, latency counts from the scheduled time (so a stall
//! shows in the percentiles instead of lowering the rate: no coordinated omission), otherwise
//! from the actual send (the client's 1 ms timer granularity is not charged to the server).
//! Requests are built and signed before each phase, so the client spends its CPU on HTTP only;
//! client and server share the machine's cores, as any loopback test does.

use deckhand::adapters::serve::{Secrets, Server};
use deckhand::adapters::slack::signature::SlackVerifier;
use deckhand::adapters::slack::SlackSecrets;
use deckhand::bot::Bot;
use deckhand::config::Config;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "http_load/load.rs"]
mod load;
use load::load;

const SIGNING_SECRET: &str = "bench-signing-secret-8f742231b10e";
const BOT_USER: &str = "UBOT";
/// A person with the deployer role (benches/http_load.yaml).
const SLACK_USER: &str = "U024BE7LH";

/// How hard and how long to push.
#[derive(Debug, Clone)]
struct Settings {
    rate: u64,
    metrics_rate: u64,
    secs: u64,
    warmup_secs: u64,
    connections: usize,
    log: String,
    scenarios: Vec<String>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Settings {
        // `cargo bench` passes `--bench`; every other word names a scenario.
        let scenarios = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        Settings {
            rate: env_or("DECKHAND_BENCH_RATE", 5000),
            metrics_rate: env_or("DECKHAND_BENCH_METRICS_RATE", 50),
            secs: env_or("DECKHAND_BENCH_SECS", 10),
            warmup_secs: env_or("DECKHAND_BENCH_WARMUP_SECS", 2),
            connections: env_or("DECKHAND_BENCH_CONNECTIONS", 32),
            log: std::env::var("DECKHAND_BENCH_LOG").unwrap_or_else(|_| "info".into()),
            scenarios,
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s == scenario)
    }
}

/// A request built ahead of its phase.
#[derive(Clone)]
struct Prepared {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Prepared {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str())
            .header(hyper::header::HOST, "127.0.0.1");
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(self.body.clone()))
            .expect("a valid request")
    }
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("a valid header value"),
    )
}

/// A minimal fake Slack Web API: `auth.test` signs the bot in, `chat.postMessage` and
/// `chat.update` succeed; posts are counted, and the time of the first post in each bench
/// thread is kept (the reply to mention `n` is posted in thread `1800000000.n`).
mod fake_slack {
    use axum::extract::{Path, State};
    use axum::routing::post;
    use axum::Router;
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// What the fake saw.
    #[derive(Default)]
    pub struct Seen {
        /// Posts, all threads.
        pub posts: AtomicU64,
        /// Mention number -> when the first reply in its thread arrived.
        pub first_reply: Mutex<HashMap<u64, Instant>>,
    }

    async fn api(
        State(seen): State<Arc<Seen>>,
        Path(method): Path<String>,
        body: axum::body::Bytes,
    ) -> axum::Json<Value> {
        let at = Instant::now();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let posts = &seen.posts;
        axum::Json(match method.as_str() {
            "auth.test" => json!({"ok": true, "url": "https://bench.slack.com/", "team": "Bench",
                "user": "deckhand", "team_id": "T1", "user_id": super::BOT_USER, "bot_id": "BBOT"}),
            "chat.postMessage" => {
                let n = posts.fetch_add(1, Ordering::Relaxed) + 1;
                let mention = body["thread_ts"]
                    .as_str()
                    .and_then(|t| t.strip_prefix("1800000000."))
                    .and_then(|n| n.parse::<u64>().ok());
                if let Some(m) = mention {
                    let mut first = seen.first_reply.lock().unwrap_or_else(|e| e.into_inner());
                    first.entry(m).or_insert(at);
                }
                let ts = format!("1900000000.{n:06}");
                json!({"ok": true, "channel": body["channel"], "ts": ts,
                    "message": {"type": "message", "ts": ts, "user": super::BOT_USER, "text": body["text"]}})
            }
            "chat.update" => json!({"ok": true, "channel": body["channel"], "ts": body["ts"]}),
            _ => json!({"ok": true}),
        })
    }

    /// Starts it on a free port: its `api_base_url` and what it sees.
    pub async fn start() -> (String, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let router = Router::new()
            .route("/api/{method}", post(api))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://{addr}/api"), seen)
    }
}

/// The server under load and what it talks to.
struct Bench {
    server: Server,
    bot: Arc<Bot>,
    seen: Arc<fake_slack::Seen>,
    _store_dir: tempfile::TempDir,
}

async fn start_server() -> Bench {
    let (api_base, seen) = fake_slack::start().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/http_load.yaml");
    let mut config = Config::load(&path).expect("benches/http_load.yaml loads");
    let store_dir = tempfile::tempdir().expect("a temp folder");
    config.store.url = format!("sqlite://{}/bench.db?mode=rwc", store_dir.path().display());
    config.slack.as_mut().expect("slack section").api_base_url = api_base;
    let bot = Arc::new(Bot::new(config).await.expect("the bot starts"));
    let secrets = Secrets {
        slack: Some(SlackSecrets {
            bot_token: "xoxb-bench".into(),
            signing_secret: Some(SIGNING_SECRET.into()),
            app_token: None,
        }),
        discord: None,
        api_env: None,
    };
    let server = Server::start(bot.clone(), "127.0.0.1:0", secrets)
        .await
        .expect("the server starts");
    Bench {
        server,
        bot,
        seen,
        _store_dir: store_dir,
    }
}

/// Which Slack event a request carries.
#[derive(Clone, Copy)]
enum SlackKind {
    Mention,
    Chatter,
}

/// Signed Events API requests, one event id (and message ts) each, numbered from `first`.
fn slack_events(kind: SlackKind, first: u64, count: u64) -> Vec<Prepared> {
    let verifier = SlackVerifier::new(SIGNING_SECRET);
    let now = deckhand::clock::wall_secs();
    (first..first + count)
        .map(|n| {
            let ts = format!("1800000000.{n:06}");
            let event = match kind {
                SlackKind::Mention => serde_json::json!({
                    "type": "app_mention", "user": SLACK_USER, "text": format!("<@{BOT_USER}> hello"),
                    "ts": ts, "channel": "C1", "event_ts": ts}),
                SlackKind::Chatter => serde_json::json!({
                    "type": "message", "user": SLACK_USER, "text": "lunch at noon?",
                    "ts": ts, "channel": "C1", "channel_type": "channel", "event_ts": ts}),
            };
            let body = serde_json::json!({
                "token": "unused", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                "event_id": format!("Ev{n:010}"), "event_time": now, "event": event,
                "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": true}]
            })
            .to_string();
            let stamp = now.to_string();
            Prepared {
                method: Method::POST,
                path: "/slack/events".into(),
                headers: vec![
                    header("content-type", "application/json"),
                    header("x-slack-request-timestamp", &stamp),
                    header("x-slack-signature", &verifier.sign(&stamp, body.as_bytes())),
                ],
                body: Bytes::from(body),
            }
        })
        .collect()
}

/// The bench's API token (alice's; benches/http_load.yaml holds only its SHA-256).
const API_TOKEN: &str = "bench-token-alice-0123456789abcdef";

/// `POST /api/v1/deploys` of billionmail to (locked) staging, as alice.
fn api_deploys(count: u64) -> Vec<Prepared> {
    let one = Prepared {
        method: Method::POST,
        path: "/api/v1/deploys".into(),
        headers: vec![
            header("content-type", "application/json"),
            header("authorization", &format!("Bearer {API_TOKEN}")),
        ],
        body: Bytes::from_static(br#"{"service": "billionmail", "environment": "staging"}"#),
    };
    vec![one; count as usize]
}

/// `GET /metrics`.
fn scrapes(count: u64) -> Vec<Prepared> {
    let one = Prepared {
        method: Method::GET,
        path: "/metrics".into(),
        headers: Vec::new(),
        body: Bytes::new(),
    };
    vec![one; count as usize]
}

/// The lock that makes every deploy a refusal, through the API like any caller's.
fn lock_staging() -> Prepared {
    Prepared {
        method: Method::POST,
        path: "/api/v1/locks".into(),
        headers: vec![
            header("content-type", "application/json"),
            header("authorization", &format!("Bearer {API_TOKEN}")),
        ],
        body: Bytes::from_static(
            br#"{"environment": "staging", "reason": "benchmark: every deploy is refused"}"#,
        ),
    }
}

/// The runtimes: the server's (two workers, as `deckhand serve` has on this machine) and the
/// load generator's (one thread of its own).
struct Runtimes {
    server: tokio::runtime::Runtime,
    client: tokio::runtime::Runtime,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A warm-up phase (not reported), then the measured one, whose schedule it returns.
fn phase(
    rt: &Runtimes,
    settings: &Settings,
    addr: SocketAddr,
    (name, rate, expect): (&str, u64, StatusCode),
    mut make: impl FnMut(u64) -> Vec<Prepared>,
) -> load::Phase {
    let warmup = make(rate * settings.warmup_secs);
    rt.client
        .block_on(load(addr, warmup, expect, rate, settings.connections));
    let measured = make(rate * settings.secs);
    let before = load_average();
    let mut result = rt
        .client
        .block_on(load(addr, measured, expect, rate, settings.connections));
    result.report(name, rate);
    println!("  load average before/after: {before} / {}", load_average());
    result
}

/// The reply to each measured mention (numbered from `first`): from when the mention was due
/// to when its first reply reached the fake Slack.
fn report_replies(seen: &fake_slack::Seen, measured: &load::Phase, first: u64, count: u64) {
    let replies = seen.first_reply.lock().unwrap_or_else(|e| e.into_inner());
    let mut delays_us: Vec<u32> = Vec::with_capacity(count as usize);
    let mut last = measured.start;
    for i in 0..count {
        let Some(at) = replies.get(&(first + i)) else {
            continue;
        };
        let due = measured.start + measured.interval.mul_f64(i as f64);
        let us = at.saturating_duration_since(due).as_micros();
        delays_us.push(us.min(u32::MAX as u128) as u32);
        last = last.max(*at);
    }
    delays_us.sort_unstable();
    let span = last.saturating_duration_since(measured.start).as_secs_f64();
    println!(
        "  replies to the measured mentions: {} of {count}, {:.0}/s; mention due to reply posted: p50 {}  p99 {}  max {}",
        delays_us.len(),
        delays_us.len() as f64 / span.max(f64::EPSILON),
        load::ms(load::quantile(&delays_us, 0.50)),
        load::ms(load::quantile(&delays_us, 0.99)),
        load::ms(delays_us.last().copied().unwrap_or(0)),
    );
}

/// The bench process's peak resident memory (server, generator and fake together).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn init_logging(filter: &str) {
    use tracing_subscriber::prelude::*;
    let filter: tracing_subscriber::filter::Targets = filter.parse().unwrap_or_default();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(filter),
        )
        .init();
}

/// The Slack scenarios; after the mentions, waits for their background work to finish.
fn slack(rt: &Runtimes, settings: &Settings, bench: &Bench) {
    let addr = bench.server.addr;
    let mut next = 1u64;
    let mut events = |kind: SlackKind, count: u64| {
        let batch = slack_events(kind, next, count);
        next += count;
        batch
    };
    if settings.wants("slack_chatter") {
        let what = ("slack_chatter", settings.rate, StatusCode::OK);
        phase(rt, settings, addr, what, |n| events(SlackKind::Chatter, n));
    }
    if settings.wants("slack_mention") {
        let posts_before = bench.seen.posts.load(Ordering::Relaxed);
        let what = ("slack_mention", settings.rate, StatusCode::OK);
        let measured = phase(rt, settings, addr, what, |n| events(SlackKind::Mention, n));
        let acked = Instant::now();
        let settled = rt
            .server
            .block_on(bench.server.flush(Duration::from_secs(600)));
        let replies = bench.seen.posts.load(Ordering::Relaxed) - posts_before;
        let mentions = settings.rate * (settings.warmup_secs + settings.secs);
        println!(
            "  background: {replies} replies posted to the fake Slack for {mentions} mentions; \
             finished {:.2} s after the last ack{}",
            acked.elapsed().as_secs_f64(),
            if settled { "" } else { " (NOT settled)" }
        );
        let count = settings.rate * settings.secs;
        report_replies(&bench.seen, &measured, next - count, count);
    }
}

/// The API scenarios: staging locked first, then the refused deploys, then scrapes.
fn api(rt: &Runtimes, settings: &Settings, bench: &Bench) {
    let addr = bench.server.addr;
    if settings.wants("api_deploy_locked") {
        let lock = rt
            .client
            .block_on(load(addr, vec![lock_staging()], StatusCode::CREATED, 1, 1));
        assert!(
            lock.unexpected.is_empty() && lock.errors.is_empty(),
            "locking staging failed: {:?} {:?}",
            lock.unexpected,
            lock.errors
        );
        let what = ("api_deploy_locked", settings.rate, StatusCode::LOCKED);
        phase(rt, settings, addr, what, api_deploys);
        let running = bench.bot.active_runs();
        assert!(running.is_empty(), "runs started: {running:?}");
    }
    if settings.wants("metrics") {
        let what = ("metrics", settings.metrics_rate, StatusCode::OK);
        phase(rt, settings, addr, what, scrapes);
    }
}

fn main() {
    let settings = Settings::from_env();
    init_logging(&settings.log);
    let rt = Runtimes {
        server: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the server runtime"),
        client: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the client runtime"),
    };
    let bench = rt.server.block_on(start_server());
    println!(
        "deckhand serve on {} (SQLite store, Events API, fake Slack); {} connections, {} s measured after {} s warm-up, {} cores, log filter {:?}",
        bench.server.addr,
        settings.connections,
        settings.secs,
        settings.warmup_secs,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        settings.log,
    );
    slack(&rt, &settings, &bench);
    api(&rt, &settings, &bench);
    println!("peak RSS of the bench process: {}", peak_rss());
    let Bench { server, .. } = bench;
    rt.server.block_on(server.shutdown());
}
