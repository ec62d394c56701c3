//! Per-thread sessions in a `moka` cache: the request being filled and a bounded history.
//!
//! Logical expiry uses tokio's clock (so tests can pause and advance time); moka's own idle
//! eviction only bounds memory and runs later, so an expired request can still be reported.

use crate::chat::ThreadKey;
use crate::nlu::{Intent, SlotKind, Slots};
use moka::future::Cache;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What the pending request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// A value for this slot.
    Slot(SlotKind),
    /// Yes or no.
    Confirmation,
}

/// A request being filled in or confirmed.
#[derive(Debug, Clone)]
pub struct Pending {
    /// What was asked.
    pub intent: Intent,
    /// Slots collected so far.
    pub slots: Slots,
    /// What the bot asked for last.
    pub awaiting: Awaiting,
    /// Who started it.
    pub requested_by: String,
    /// "Did you mean X?" offered for the awaited slot, accepted by a plain "yes".
    pub suggestion: Option<String>,
    /// The command layer has checked (and counted against the rate limit) this request:
    /// corrections at its confirmation are checked again, not counted again.
    pub checked: bool,
}

/// One line of conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// `user` name or `deckhand`.
    pub from: String,
    /// What was said.
    pub text: String,
}

/// A plan shown for confirmation.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPlan {
    /// Who asked (only they confirm it).
    pub requested_by: String,
    /// The steps as (service, environment, version), in the order shown (for a rollback:
    /// the version each step takes back).
    pub steps: Vec<(String, String, String)>,
    /// The plan this one undoes (its steps are rollbacks, in the order shown).
    pub rollback_of: Option<i64>,
    /// For an undo: the release each step goes back to, as shown (None: unknown then; the
    /// step is checked when it is due).
    pub undo_to: Vec<Option<String>>,
    /// The strategy shown for a step (deploy memory's recommendation), by service: what
    /// the "yes" runs it with. A step not named here uses its environment's strategy.
    pub strategies: Vec<(String, crate::config::Strategy, Option<u8>)>,
}

/// What a "Stop ...? [yes/no]" question would stop.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopAsked {
    /// Runs (not a plan's steps).
    pub runs: Vec<i64>,
    /// Plans: their running step, and every step after it.
    pub plans: Vec<i64>,
    /// Who was asked: only their yes or no answers it.
    pub asked_by: String,
}

/// The state of one thread.
#[derive(Debug)]
pub struct Session {
    /// Request in progress.
    pub pending: Option<Pending>,
    /// Recent turns, oldest first, at most `max_history`.
    pub history: VecDeque<Turn>,
    /// Runs and plans people asked to stop, waiting for their "yes": one question per person
    /// (another person's "cancel" asks them, and leaves yours).
    pub pending_stop: Vec<StopAsked>,
    /// A plan shown for confirmation, waiting for "yes" (or an order).
    pub pending_plan: Option<PendingPlan>,
    /// Last message time.
    pub last_active: Instant,
    max_history: usize,
}

impl Session {
    pub(crate) fn new(max_history: usize) -> Session {
        Session {
            pending: None,
            pending_stop: Vec::new(),
            pending_plan: None,
            history: VecDeque::new(),
            last_active: Instant::now(),
            max_history,
        }
    }

    /// Appends a turn, dropping the oldest beyond the limit.
    pub fn record(&mut self, from: &str, text: &str) {
        if self.history.len() == self.max_history {
            self.history.pop_front();
        }
        self.history.push_back(Turn {
            from: from.into(),
            text: text.into(),
        });
    }

    /// Removes and returns the pending request when the thread was idle longer than `ttl`,
    /// then marks the thread active now.
    pub fn touch(&mut self, ttl: Duration) -> Option<Pending> {
        let now = Instant::now();
        let expired = if now.duration_since(self.last_active) > ttl {
            // A plan question left unanswered is forgotten the same way.
            self.pending_plan = None;
            self.pending.take()
        } else {
            None
        };
        self.last_active = now;
        expired
    }
}

impl Session {
    /// Takes `user`'s own open stop question, if any.
    pub fn take_stop_of(&mut self, user: &str) -> Option<StopAsked> {
        let at = self.pending_stop.iter().position(|s| s.asked_by == user)?;
        Some(self.pending_stop.remove(at))
    }
}

/// All sessions, keyed by thread.
#[derive(Clone)]
pub struct SessionStore {
    cache: Cache<ThreadKey, Arc<Mutex<Session>>>,
    ttl: Duration,
    max_history: usize,
}

impl SessionStore {
    /// Sessions expire after `ttl` without a message and keep `max_history` turns.
    pub fn new(ttl: Duration, max_history: usize) -> SessionStore {
        let cache = Cache::builder()
            .max_capacity(100_000)
            // Keep idle sessions a day past their TTL so "that request expired" can be said;
            // max_capacity bounds the memory this takes.
            .time_to_idle(ttl.saturating_add(Duration::from_secs(86_400)))
            .build();
        SessionStore {
            cache,
            ttl,
            max_history,
        }
    }

    /// The session of a thread (created empty when absent).
    pub async fn get(&self, key: &ThreadKey) -> Arc<Mutex<Session>> {
        let max = self.max_history;
        self.cache
            .get_with(key.clone(), async move {
                Arc::new(Mutex::new(Session::new(max)))
            })
            .await
    }

    /// The configured TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many sessions are active: a message within the TTL (or one being handled now).
    pub fn active(&self) -> usize {
        let now = Instant::now();
        self.cache
            .iter()
            .filter(|(_, s)| match s.try_lock() {
                Ok(s) => now.duration_since(s.last_active) <= self.ttl,
                Err(_) => true,
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn threads_have_separate_sessions_and_bounded_history() {
        let store = SessionStore::new(Duration::from_secs(60), 3);
        let a = store.get(&ThreadKey::new("console", "c", "a")).await;
        let b = store.get(&ThreadKey::new("console", "c", "b")).await;
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(
            &a,
            &store.get(&ThreadKey::new("console", "c", "a")).await
        ));
        let mut s = a.lock().await;
        for i in 0..5 {
            s.record("alice", &i.to_string());
        }
        assert_eq!(
            s.history
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>(),
            vec!["2", "3", "4"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn only_sessions_with_a_message_within_the_ttl_are_active() {
        let store = SessionStore::new(Duration::from_secs(60), 5);
        let a = store.get(&ThreadKey::new("console", "c", "a")).await;
        let _b = store.get(&ThreadKey::new("console", "c", "b")).await;
        assert_eq!(store.active(), 2);
        tokio::time::advance(Duration::from_secs(50)).await;
        a.lock().await.touch(Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(store.active(), 1);
        // One being handled right now counts whatever its age.
        let _held = a.lock().await;
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(store.active(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn pending_requests_expire_after_the_ttl() {
        let store = SessionStore::new(Duration::from_secs(60), 5);
        let s = store.get(&ThreadKey::new("console", "c", "a")).await;
        let mut s = s.lock().await;
        s.pending = Some(Pending {
            intent: Intent::Deploy,
            slots: Slots::default(),
            awaiting: Awaiting::Slot(SlotKind::Environment),
            requested_by: "alice".into(),
            suggestion: None,
            checked: false,
        });
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(s.touch(Duration::from_secs(60)).is_none());
        assert!(s.pending.is_some());
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(s.touch(Duration::from_secs(60)).is_some());
        assert!(s.pending.is_none());
    }
}
