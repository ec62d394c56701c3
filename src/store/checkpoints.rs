//! Checkpoints of a SQLite file's write-ahead log, off the commit path. SQLite's automatic
//! checkpoint runs inside the commit that crosses its threshold, and with `synchronous = NORMAL`
//! a checkpoint is where the fsyncs happen: the requests waiting for that commit (an audited
//! refusal, a batch of delivery claims) waited for two fsyncs too, which was most of the
//! HTTP tail latency (README, "Performance"). Here the group writers count their batches and
//! every [`EVERY_BATCHES`] start a passive checkpoint on a pool connection in the background
//! (it never blocks writers); SQLite's own automatic checkpoint stays as a safety net at
//! [`SAFETY_NET_PAGES`]. An application crash loses nothing (every commit is in the WAL); power
//! loss or an OS crash can undo what was committed since the WAL's last sync, which happens at
//! checkpoints (`synchronous = NORMAL`), as before but with checkpoints further apart.

use sqlx::AnyPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Group-write batches between two background checkpoints (a batch writes a few pages, so
/// this is about SQLite's default of 1,000 pages).
pub const EVERY_BATCHES: u64 = 256;

/// SQLite's automatic checkpoint threshold, in pages (4 KB each): only reached when writes
/// other than the group writers' fill the log.
pub const SAFETY_NET_PAGES: u32 = 10_000;

/// Clears the "a checkpoint runs" flag when dropped.
struct Running(std::sync::Arc<Checkpoints>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// The background checkpoints of one SQLite store.
#[derive(Default)]
pub struct Checkpoints {
    batches: AtomicU64,
    running: AtomicBool,
    done: AtomicU64,
}

impl Checkpoints {
    /// A group write committed a batch to `pool`: every [`EVERY_BATCHES`], a passive
    /// checkpoint starts in the background unless one is running.
    pub fn after_batch(self: &std::sync::Arc<Self>, pool: &AnyPool) {
        if self.batches.fetch_add(1, Ordering::Relaxed) % EVERY_BATCHES != EVERY_BATCHES - 1 {
            return;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.running.store(false, Ordering::Release);
            return;
        };
        let (me, pool) = (self.clone(), pool.clone());
        runtime.spawn(async move {
            // Cleared however the task ends (also when its runtime drops it unfinished).
            let _running = Running(me.clone());
            match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                Ok(_) => {
                    me.done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "background WAL checkpoint failed; SQLite's own checkpoint still runs");
                }
            }
        });
    }

    /// Background checkpoints completed so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}
