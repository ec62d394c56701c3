//! Prometheus metrics (OpenMetrics text at `GET /metrics`) and the health endpoints
//! (`GET /healthz`, `GET /readyz`, in [`health`]).
//!
//! One [`Metrics`] value per process (built in `Bot::new`, cloned into the command layer, the
//! executor, the intake and the platform clients; counting is an atomic add). Two kinds of
//! metric:
//! - **events counted by this process** (runs finished, stage durations, refusals, NLU
//!   intents, platform calls, retries, events received): sum them over replicas;
//! - **state read from the store at scrape time** (the DORA measures, approvals pending, runs
//!   in progress, last successful deploy): every replica reports the same value, so take
//!   `max`, not `sum`. They are read at most once per [`Metrics::set_store_refresh`] period
//!   (5 s by default), whatever the number of scrapers.
//!
//! Every metric is listed in the README ("Metrics and health"), with the PromQL of the DORA
//! measures.

mod dora;
pub mod health;
mod http;
mod labels;
mod scrape;
#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;

pub use dora::{summarize, TargetDora, ROLLBACK_BLAME_MS};
pub use http::{routes, CONTENT_TYPE};

use crate::command::RefusalKind;
use crate::dialogue::SessionStore;
use crate::nlu::Intent;
use crate::pipeline::{RunOutcome, RunStatus, StageRef, StageState};
use crate::store::{RunRecord, Store};
use labels::*;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Run durations, seconds: 1 s to 1 h.
const RUN_BUCKETS: [f64; 12] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 2700.0, 3600.0,
];
/// Stage durations, seconds: 50 ms to 30 min.
const STAGE_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

fn run_histogram() -> Histogram {
    Histogram::new(RUN_BUCKETS)
}

fn stage_histogram() -> Histogram {
    Histogram::new(STAGE_BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// How a chat platform answered one HTTP call (the `status` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// 2xx, and (Slack) `ok: true`.
    Ok,
    /// Answered 2xx but refused the call (Slack `ok: false`).
    Refused,
    /// 429.
    RateLimited,
    /// Another 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No answer (connection refused, timeout, TLS).
    NoAnswer,
}

impl CallStatus {
    /// The class of an HTTP status code.
    pub fn of_http(code: u16) -> CallStatus {
        match code {
            429 => CallStatus::RateLimited,
            200..=299 => CallStatus::Ok,
            500..=599 => CallStatus::ServerError,
            _ => CallStatus::ClientError,
        }
    }

    /// The label value: `2xx`, `refused`, `429`, `4xx`, `5xx`, `no_answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "2xx",
            CallStatus::Refused => "refused",
            CallStatus::RateLimited => "429",
            CallStatus::ClientError => "4xx",
            CallStatus::ServerError => "5xx",
            CallStatus::NoAnswer => "no_answer",
        }
    }
}

/// Why a platform call is tried again (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryReason {
    /// The platform asked to wait (429, Slack `ratelimited`).
    RateLimited,
    /// A failure worth another try (5xx, unreachable).
    Transient,
    /// No answer came; repeated because the call is safe to repeat.
    NoAnswer,
}

impl RetryReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::RateLimited => "rate_limited",
            RetryReason::Transient => "transient",
            RetryReason::NoAnswer => "no_answer",
        }
    }
}

/// The `outcome` label of a finished run: its status, or `rolled_back` for a failed deploy
/// whose automatic rollback restored the previous release.
pub fn run_outcome(status: RunStatus, rolled_back: bool) -> &'static str {
    if status == RunStatus::Failed && rolled_back {
        "rolled_back"
    } else {
        status.as_str()
    }
}

struct Families {
    runs: Family<RunLabels, Counter>,
    run_duration: Histograms<RunDurationLabels>,
    stage_duration: Histograms<StageLabels>,
    refusals: Family<KindLabels, Counter>,
    intents: Family<IntentLabels, Counter>,
    platform_calls: Family<CallLabels, Counter>,
    rate_limited: Family<MethodLabels, Counter>,
    retries: Family<RetryLabels, Counter>,
    received: Family<PlatformLabels, Counter>,
    duplicate: Family<PlatformLabels, Counter>,
    shed: Family<PlatformLabels, Counter>,
}

impl Families {
    fn new() -> Families {
        Families {
            runs: Family::default(),
            run_duration: Family::new_with_constructor(run_histogram),
            stage_duration: Family::new_with_constructor(stage_histogram),
            refusals: Family::default(),
            intents: Family::default(),
            platform_calls: Family::default(),
            rate_limited: Family::default(),
            retries: Family::default(),
            received: Family::default(),
            duplicate: Family::default(),
            shed: Family::default(),
        }
    }

    fn register(&self, r: &mut Registry) {
        r.register(
            "runs",
            "Runs finished by this process, by service, environment, action, strategy and outcome",
            self.runs.clone(),
        );
        r.register_with_unit(
            "run_duration",
            "Wall time of finished runs, from start to end (automatic rollback included)",
            Unit::Seconds,
            self.run_duration.clone(),
        );
        r.register_with_unit(
            "stage_duration",
            "Wall time of finished stages",
            Unit::Seconds,
            self.stage_duration.clone(),
        );
        r.register(
            "refusals",
            "Commands the command layer refused, by refusal kind",
            self.refusals.clone(),
        );
        r.register(
            "nlu_intents",
            "Messages the NLU classified, by intent (`none`: not understood)",
            self.intents.clone(),
        );
        r.register(
            "platform_calls",
            "HTTP calls to the chat platforms, by platform, method and status class",
            self.platform_calls.clone(),
        );
        r.register(
            "platform_rate_limited",
            "Chat platform answers asking to wait (HTTP 429 or Slack `ratelimited`)",
            self.rate_limited.clone(),
        );
        r.register(
            "platform_retries",
            "Chat platform calls sent again, by platform and reason",
            self.retries.clone(),
        );
        r.register(
            "events_received",
            "Platform events received with an id (checked for redelivery)",
            self.received.clone(),
        );
        r.register(
            "events_duplicate",
            "Platform events ignored as redeliveries of one already handled",
            self.duplicate.clone(),
        );
        r.register(
            "events_shed",
            "Platform webhook requests refused because serve.max_pending_events events were being handled (503 with Retry-After, or a private too-busy answer); nothing of them was recorded",
            self.shed.clone(),
        );
    }
}

struct Inner {
    registry: Registry,
    families: Families,
    sessions: Mutex<Option<SessionStore>>,
    /// How long the store-derived part of a scrape is reused, ms.
    store_refresh_ms: AtomicU64,
    /// The store-derived part of the last scrape and when it was read.
    store_cache: tokio::sync::Mutex<Option<(tokio::time::Instant, String)>>,
    /// The last count of active sessions and when it was taken (same refresh period).
    sessions_cache: tokio::sync::Mutex<Option<(tokio::time::Instant, usize)>>,
}

/// The process's metrics; cheap to clone (one shared registry).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh set of metrics under the `deckhand_` prefix.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("deckhand");
        let families = Families::new();
        families.register(&mut registry);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                families,
                sessions: Mutex::new(None),
                store_refresh_ms: AtomicU64::new(5_000),
                store_cache: tokio::sync::Mutex::new(None),
                sessions_cache: tokio::sync::Mutex::new(None),
            }),
        }
    }

    fn families(&self) -> &Families {
        &self.inner.families
    }

    /// A run ended (the executor, once its result is stored).
    pub fn run_finished(&self, run: &RunRecord, outcome: &RunOutcome, duration: Duration) {
        let outcome = run_outcome(outcome.status, outcome.rolled_back);
        let f = self.families();
        f.runs
            .get_or_create(&RunLabels {
                service: run.service.clone(),
                environment: run.environment.clone(),
                action: run.action.as_str(),
                strategy: run.strategy.as_str(),
                outcome,
            })
            .inc();
        f.run_duration
            .get_or_create(&RunDurationLabels {
                service: run.service.clone(),
                environment: run.environment.clone(),
                action: run.action.as_str(),
                outcome,
            })
            .observe(duration.as_secs_f64());
    }

    /// A stage of a run of `service` ended.
    pub fn stage_finished(
        &self,
        service: &str,
        stage: &StageRef,
        state: StageState,
        duration: Duration,
    ) {
        self.families()
            .stage_duration
            .get_or_create(&StageLabels {
                service: service.to_string(),
                phase: stage.phase.as_str(),
                stage: stage.name.clone(),
                outcome: state.as_str(),
            })
            .observe(duration.as_secs_f64());
    }

    /// The command layer refused a command.
    pub fn refused(&self, kind: RefusalKind) {
        self.families()
            .refusals
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// The NLU classified a message.
    pub fn intent(&self, intent: Intent) {
        self.families()
            .intents
            .get_or_create(&IntentLabels {
                intent: intent.as_str(),
            })
            .inc();
    }

    /// A chat platform answered one HTTP call (`method`: Slack's method name, or Discord's
    /// operation such as `create_message`).
    pub fn platform_call(&self, platform: &'static str, method: &str, status: CallStatus) {
        let f = self.families();
        f.platform_calls
            .get_or_create(&CallLabels {
                platform,
                method: method.to_string(),
                status: status.as_str(),
            })
            .inc();
        if status == CallStatus::RateLimited {
            self.platform_rate_limited(platform, method);
        }
    }

    /// A chat platform asked to wait without a 429 (Slack's `ratelimited` error).
    pub fn platform_rate_limited(&self, platform: &'static str, method: &str) {
        self.families()
            .rate_limited
            .get_or_create(&MethodLabels {
                platform,
                method: method.to_string(),
            })
            .inc();
    }

    /// A chat platform call is about to be sent again.
    pub fn platform_retry(&self, platform: &'static str, reason: RetryReason) {
        self.families()
            .retries
            .get_or_create(&RetryLabels {
                platform,
                reason: reason.as_str(),
            })
            .inc();
    }

    /// A platform event with an id arrived (before the redelivery check).
    pub fn event_received(&self, platform: &str) {
        self.families()
            .received
            .get_or_create(&PlatformLabels {
                platform: platform.to_string(),
            })
            .inc();
    }

    /// A platform webhook request was refused (503, or a private "too busy" answer) because
    /// the intake was full.
    pub fn event_shed(&self, platform: &str) {
        self.families()
            .shed
            .get_or_create(&PlatformLabels {
                platform: platform.to_string(),
            })
            .inc();
    }

    /// A platform event was a redelivery and was ignored.
    pub fn event_duplicate(&self, platform: &str) {
        self.families()
            .duplicate
            .get_or_create(&PlatformLabels {
                platform: platform.to_string(),
            })
            .inc();
    }

    /// Reports `deckhand_sessions_active` from this session store at each scrape.
    pub fn track_sessions(&self, sessions: SessionStore) {
        *self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(sessions);
    }

    /// How long the store-derived part of a scrape is reused (default 5 s; zero reads the
    /// store at every scrape).
    pub fn set_store_refresh(&self, every: Duration) {
        self.inner
            .store_refresh_ms
            .store(every.as_millis() as u64, Ordering::Relaxed);
    }

    /// The whole exposition, OpenMetrics text: this process's counters, the state read from
    /// `store`, and `# EOF`.
    pub async fn render(&self, store: &Store) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.inner.registry);
        let sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let active = match sessions {
            Some(s) => Some(self.sessions_active(s).await),
            None => None,
        };
        out.push_str(&scrape::live_families(active));
        out.push_str(&self.store_part(store).await);
        let _ = encode_eof(&mut out);
        out
    }

    /// How many sessions are active, counted again when the last count is older than the
    /// refresh period. Counting walks every cached thread (tens of thousands after a busy
    /// hour), so it runs on a blocking thread, never on the scrape's runtime worker, and
    /// concurrent scrapes share one count.
    async fn sessions_active(&self, sessions: SessionStore) -> usize {
        let refresh = Duration::from_millis(self.inner.store_refresh_ms.load(Ordering::Relaxed));
        let mut cache = self.inner.sessions_cache.lock().await;
        let now = tokio::time::Instant::now();
        if let Some((at, count)) = cache.as_ref() {
            if !refresh.is_zero() && now.duration_since(*at) < refresh {
                return *count;
            }
        }
        let walk = sessions.clone();
        let count = match tokio::task::spawn_blocking(move || walk.active()).await {
            Ok(n) => n,
            // The blocking pool is gone (shutdown): count here.
            Err(_) => sessions.active(),
        };
        *cache = Some((now, count));
        count
    }

    /// The store-derived families, read again when the cached copy is older than the
    /// refresh period. The lock also makes concurrent scrapes share one read.
    async fn store_part(&self, store: &Store) -> String {
        let refresh = Duration::from_millis(self.inner.store_refresh_ms.load(Ordering::Relaxed));
        let mut cache = self.inner.store_cache.lock().await;
        let now = tokio::time::Instant::now();
        if let Some((at, text)) = cache.as_ref() {
            if !refresh.is_zero() && now.duration_since(*at) < refresh {
                return text.clone();
            }
        }
        let text = scrape::store_families(store, crate::clock::now_ms()).await;
        *cache = Some((now, text.clone()));
        text
    }
}
