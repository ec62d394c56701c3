//! Inbound bookkeeping shared by the platform adapters (through [`super::intake::Intake`]): one
//! turn at a time per thread, and background handlers that shutdown and tests can wait for.

use super::in_flight::InFlight;
use crate::chat::ThreadKey;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// Lock stripes; threads hash onto them.
const STRIPES: usize = 64;

/// Serializes the handling of messages and clicks per thread, so a click is checked against
/// the question that is open when it is answered.
pub struct TurnLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for TurnLocks {
    fn default() -> Self {
        TurnLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl TurnLocks {
    /// Waits for the thread's turn.
    pub async fn lock(&self, key: &ThreadKey) -> MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.stripes[(h.finish() as usize) % STRIPES].lock().await
    }
}

/// Background handlers started and not finished.
#[derive(Clone)]
pub struct Handlers {
    running: InFlight,
    /// At most this many run at once when started with [`Handlers::try_spawn`].
    limit: usize,
}

/// Too many handlers run already: the event was not taken (nothing of it was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// The limit that was reached.
    pub limit: usize,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers::with_limit(usize::MAX)
    }
}

/// Counts its handler as finished when dropped (so also when the handler panics).
struct Done(InFlight);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl Handlers {
    /// Handlers of which at most `limit` run at once through [`Handlers::try_spawn`].
    pub fn with_limit(limit: usize) -> Handlers {
        Handlers {
            running: InFlight::default(),
            limit: limit.max(1),
        }
    }

    /// Runs `work` in the background, counted until it ends (even by panicking), whatever
    /// the limit (for transports that cannot refuse an event, such as a socket whose reader
    /// is the backpressure).
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.running.add();
        self.run(work);
    }

    /// Runs `work` in the background unless the limit of handlers runs already: then `work`
    /// is dropped unstarted and the caller refuses the request (503 with `Retry-After`, or a
    /// private "too busy" answer where the platform does not resend), so overload is shed
    /// before handlers pile up.
    pub fn try_spawn<F>(&self, work: F) -> Result<(), Full>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if !self.running.try_add(self.limit) {
            return Err(Full { limit: self.limit });
        }
        self.run(work);
        Ok(())
    }

    fn run<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let done = Done(self.running.clone());
        tokio::spawn(async move {
            let _done = done;
            work.await;
        });
    }

    /// Waits until no handler runs (or `limit` passes); false on timeout.
    pub async fn idle(&self, limit: Duration) -> bool {
        self.running.zero(limit).await
    }
}
