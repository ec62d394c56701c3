//! Inbound bookkeeping shared by the platform adapters (through [`super::intake::Intake`]): one
//! turn at a time per thread, and background handlers that shutdown and tests can wait for.

use crate::chat::ThreadKey;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
#[derive(Clone, Default)]
pub struct Handlers {
    running: Arc<AtomicUsize>,
}

struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Handlers {
    /// Runs `work` in the background, counted until it ends (even by panicking).
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.running.fetch_add(1, Ordering::SeqCst);
        let done = Done(self.running.clone());
        tokio::spawn(async move {
            let _done = done;
            work.await;
        });
    }

    /// Waits until no handler runs (or `limit` passes); false on timeout.
    pub async fn idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.running.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}
