//! The two writes nearly every chat event makes: claiming its delivery id (a redelivery is acted
//! on once, also across restarts and replicas) and recording a thread the bot takes part in.
//! Both go through one group-commit writer, so events arriving together share a statement per
//! table and one commit. A thread whose row this process inserted recently is not written again:
//! the row's `joined_at` is then that recent time, and rows are pruned only 90 days after it, so
//! it is there for the [`JOIN_FRESH_MS`] it is remembered.

use super::checkpoints::Checkpoints;
use super::group::{values_placeholders, BatchWrite, GroupCommit};
use super::StoreError;
use crate::origin::ThreadKey;
use sqlx::{AnyPool, Row};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A thread whose row this process inserted less than this long ago is known to be in the
/// store: rows are pruned 90 days after they were inserted, so an hour leaves a wide margin.
pub const JOIN_FRESH_MS: i64 = 60 * 60 * 1000;

/// Threads remembered as recorded, at most (then the stale ones are forgotten, or all).
const JOINED_MAX: usize = 50_000;

/// One write of an event.
#[derive(Debug, Clone)]
pub enum Mark {
    /// A platform event handled now; answers whether it is the first delivery.
    Delivery {
        /// Which platform's ids.
        platform: String,
        /// The platform's event id.
        event_id: String,
        /// When, unix ms.
        at: i64,
    },
    /// The bot takes part in this thread (idempotent, keeps the first time); answers whether
    /// this write inserted the row.
    Join {
        /// The thread.
        thread: ThreadKey,
        /// When, unix ms.
        at: i64,
    },
}

/// Writes marks to the store's pool.
#[derive(Clone)]
pub struct MarkWriter {
    pool: AnyPool,
    checkpoints: Option<Arc<Checkpoints>>,
}

/// The group-commit writer for marks and the threads recorded recently.
pub struct Marks {
    writes: GroupCommit<MarkWriter>,
    joined: Mutex<HashMap<ThreadKey, i64>>,
}

impl MarkWriter {
    /// Writes to `pool`, counting its batches towards `checkpoints`.
    pub fn new(pool: AnyPool, checkpoints: Option<Arc<Checkpoints>>) -> MarkWriter {
        MarkWriter { pool, checkpoints }
    }
}

impl Marks {
    /// Marks written to `pool`.
    pub fn new(pool: AnyPool, checkpoints: Option<Arc<Checkpoints>>) -> Marks {
        Marks {
            writes: GroupCommit::new(MarkWriter::new(pool, checkpoints)),
            joined: Mutex::default(),
        }
    }

    /// Writes a mark (with whatever else is queued); for a delivery, whether it was new.
    pub async fn write(&self, mark: Mark) -> Result<bool, StoreError> {
        self.writes.write(mark).await
    }

    /// Whether this process recorded `thread` less than [`JOIN_FRESH_MS`] before `now`.
    pub fn joined_recently(&self, thread: &ThreadKey, now: i64) -> bool {
        let joined = self.joined.lock().unwrap_or_else(|e| e.into_inner());
        joined
            .get(thread)
            .is_some_and(|at| now - at < JOIN_FRESH_MS && *at <= now)
    }

    /// Remembers that this process inserted `thread`'s row at `now`.
    pub fn remember_join(&self, thread: &ThreadKey, now: i64) {
        let mut joined = self.joined.lock().unwrap_or_else(|e| e.into_inner());
        if joined.len() >= JOINED_MAX {
            // Down to half at least, so the walk happens once per JOINED_MAX / 2 threads.
            joined.retain(|_, at| now - *at < JOIN_FRESH_MS);
            if joined.len() > JOINED_MAX / 2 {
                joined.clear();
            }
        }
        joined.insert(thread.clone(), now);
    }

    /// Forgets every remembered thread (after threads were pruned from the store).
    pub fn forget_joins(&self) {
        self.joined
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl BatchWrite for MarkWriter {
    type Item = Mark;
    type Out = bool;

    async fn write_all(&self, marks: &[Mark]) -> Result<Vec<bool>, StoreError> {
        let mut deliveries: Vec<(&str, &str, i64)> = marks
            .iter()
            .filter_map(|m| match m {
                Mark::Delivery {
                    platform,
                    event_id,
                    at,
                } => Some((platform.as_str(), event_id.as_str(), *at)),
                Mark::Join { .. } => None,
            })
            .collect();
        let mut joins: Vec<(&ThreadKey, i64)> = marks
            .iter()
            .filter_map(|m| match m {
                Mark::Join { thread, at } => Some((thread, *at)),
                Mark::Delivery { .. } => None,
            })
            .collect();
        // In key order, so two replicas inserting the same keys take their locks in the same
        // order (PostgreSQL could deadlock otherwise).
        deliveries.sort_unstable();
        joins.sort_unstable_by(|a, b| {
            (&a.0.platform, &a.0.channel, &a.0.thread).cmp(&(
                &b.0.platform,
                &b.0.channel,
                &b.0.thread,
            ))
        });
        let mut tx = if !deliveries.is_empty() && !joins.is_empty() {
            Some(self.pool.begin().await?)
        } else {
            None
        };
        let mut new: HashSet<(String, String)> = HashSet::new();
        if !deliveries.is_empty() {
            let sql = format!(
                "INSERT INTO delivered_events (platform, event_id, seen_at) VALUES {} ON CONFLICT (platform, event_id) DO NOTHING RETURNING platform, event_id",
                values_placeholders(deliveries.len(), 3)
            );
            // Not kept prepared: a statement per batch size would push the store's other
            // statements out of the connection's cache.
            let mut insert = sqlx::query(&sql).persistent(false);
            for (platform, event_id, at) in &deliveries {
                insert = insert.bind(*platform).bind(*event_id).bind(*at);
            }
            let rows = match tx.as_mut() {
                Some(tx) => insert.fetch_all(&mut **tx).await?,
                None => insert.fetch_all(&self.pool).await?,
            };
            for row in rows {
                new.insert((row.try_get("platform")?, row.try_get("event_id")?));
            }
        }
        let mut joined: HashSet<ThreadKey> = HashSet::new();
        if !joins.is_empty() {
            let sql = format!(
                "INSERT INTO bot_threads (platform, channel, thread, joined_at) VALUES {} ON CONFLICT (platform, channel, thread) DO NOTHING RETURNING platform, channel, thread",
                values_placeholders(joins.len(), 4)
            );
            let mut insert = sqlx::query(&sql).persistent(false);
            for (thread, at) in &joins {
                insert = insert
                    .bind(thread.platform.as_str())
                    .bind(thread.channel.as_str())
                    .bind(thread.thread.as_str())
                    .bind(*at);
            }
            let rows = match tx.as_mut() {
                Some(tx) => insert.fetch_all(&mut **tx).await?,
                None => insert.fetch_all(&self.pool).await?,
            };
            for row in rows {
                let (platform, channel, thread): (String, String, String) = (
                    row.try_get("platform")?,
                    row.try_get("channel")?,
                    row.try_get("thread")?,
                );
                joined.insert(ThreadKey::new(&platform, &channel, &thread));
            }
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        if let Some(c) = &self.checkpoints {
            c.after_batch(&self.pool);
        }
        // The first of a batch's marks with a key inserted it; a second in the same batch (a
        // redelivery that arrived at once, a second join) did not.
        Ok(marks
            .iter()
            .map(|m| match m {
                Mark::Delivery {
                    platform, event_id, ..
                } => new.remove(&(platform.clone(), event_id.clone())),
                Mark::Join { thread, .. } => joined.remove(thread),
            })
            .collect())
    }

    async fn write_one(&self, mark: &Mark) -> Result<bool, StoreError> {
        self.write_all(std::slice::from_ref(mark))
            .await
            .map(|answers| answers.first().copied().unwrap_or(false))
    }
}
