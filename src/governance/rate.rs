//! Per-person sliding-window rate limit for action intents.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// At most `max` hits per `window` per key.
pub struct RateLimiter {
    max: u32,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl RateLimiter {
    /// A limiter allowing `max` hits per `window`.
    pub fn new(max: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a hit at `now_ms`; Err(wait) when over the limit (the hit is not counted).
    pub fn hit(&self, key: &str, now_ms: i64) -> Result<(), Duration> {
        let window_ms = self.window.as_millis() as i64;
        let mut all = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let q = all.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now_ms - t >= window_ms) {
            q.pop_front();
        }
        if q.len() as u32 >= self.max {
            let oldest = q.front().copied().unwrap_or(now_ms);
            return Err(Duration::from_millis(
                (oldest + window_ms - now_ms).max(0) as u64
            ));
        }
        q.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_says_when_to_retry() {
        let l = RateLimiter::new(3, Duration::from_secs(60));
        for t in [0, 1_000, 2_000] {
            assert!(l.hit("alice", t).is_ok());
        }
        assert_eq!(l.hit("alice", 10_000), Err(Duration::from_secs(50)));
        assert!(
            l.hit("bob", 10_000).is_ok(),
            "other people are not affected"
        );
        assert!(
            l.hit("alice", 60_000).is_ok(),
            "the oldest hit left the window"
        );
    }
}
