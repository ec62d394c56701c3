//! What `deckhand serve` needs from a platform adapter, so the server holds a list of them and
//! a new surface (a REST API, an MCP server) is one more entry.

use super::delivery::BoxFut;
use super::shutdown::Shutdown;
use crate::bot::Bot;
use crate::chat::{EventSink, ThreadKey};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What every adapter is built from (vector's `SourceContext`): the bot its turns go to, and
/// the server's stop signal, which ends the adapter's intake.
#[derive(Clone)]
pub struct AdapterContext {
    /// The bot.
    pub bot: Arc<Bot>,
    /// Triggered when the server stops taking work.
    pub shutdown: Shutdown,
}

/// Where a surface that is not chat (the API's `notify`) posts on a platform: the adapter's
/// outbox, and the thread key of a new conversation in a channel.
#[derive(Clone)]
pub struct Outlet {
    /// The adapter's outbox (edits coalesced, 429s respected, as for every chat message).
    pub sink: Arc<dyn EventSink>,
    /// The key of a new top-level conversation in a channel, by the platform's channel id.
    pub channel: fn(&str) -> ThreadKey,
}

/// A running platform adapter, as the server drives it. Shutdown calls, in order:
/// the context's [`Shutdown`] is triggered, then [`Adapter::stop_intake`] on every adapter,
/// then the server waits for running pipelines, then [`Adapter::drain`].
pub trait Adapter: Send + Sync {
    /// The platform's name, for logs (`slack`, `discord`).
    fn name(&self) -> &'static str;

    /// HTTP routes to serve on the server's listener, if this adapter takes webhooks.
    fn routes(&self) -> Option<axum::Router>;

    /// After the shutdown signal: waits for the adapter's own intake tasks to end and for the
    /// handlers already started (at most `limit`), so no new run can begin afterwards.
    fn stop_intake(&mut self, limit: Duration) -> BoxFut<'_, ()>;

    /// Delivers what is still queued (at most `limit`); false when something was left.
    fn drain(&self, limit: Duration) -> BoxFut<'_, bool>;

    /// Waits until the handlers started so far have finished and everything they queued is
    /// delivered (tests); false on timeout.
    fn flush(&self, limit: Duration) -> BoxFut<'_, bool>;

    /// Where other surfaces may post on this platform.
    fn outlet(&self) -> Outlet;

    /// The adapter as `Any`, so the server can hand a concrete one to tests.
    fn as_any(&self) -> &dyn std::any::Any;

    /// Whether the adapter is connected to its platform, as a handle `/readyz` reads. The
    /// default suits an adapter that only takes webhooks: it is up once its routes are
    /// mounted, which is before the server answers anything.
    fn connection(&self) -> Connection {
        Connection::up()
    }

    /// Whether the adapter is connected to its platform now (Socket Mode or the gateway
    /// connected; a webhook-only adapter always is).
    fn connected(&self) -> bool {
        self.connection().is_up()
    }
}

/// Whether an adapter is connected, shared between the adapter (which sets it as its
/// connection comes and goes) and the readiness check (which reads it). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Connection(Arc<AtomicBool>);

impl Connection {
    /// A connection that is down until [`Connection::set`] says otherwise.
    pub fn down() -> Connection {
        Connection::default()
    }

    /// A connection that is up (webhook-only adapters).
    pub fn up() -> Connection {
        Connection(Arc::new(AtomicBool::new(true)))
    }

    /// Records whether it is up.
    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::SeqCst);
    }

    /// Whether it is up.
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Waits up to 5 s for an intake task (Socket Mode, a gateway) to stop after the shutdown
/// signal, and aborts it otherwise: a task that overruns must not keep taking events.
pub async fn stop_task<T>(task: &mut tokio::task::JoinHandle<T>) {
    if tokio::time::timeout(Duration::from_secs(5), &mut *task)
        .await
        .is_err()
    {
        task.abort();
    }
}

/// A secret from environment variable `var`; unset and blank are both "not set" (secrets are
/// never read from the config file).
pub fn secret_from_env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}
