//! Wall-clock time that follows tokio's clock, so tests can pause and advance time and see
//! approvals, locks and rate limits expire, including timestamps written to the store.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static BASE: OnceLock<(i64, tokio::time::Instant)> = OnceLock::new();

/// Milliseconds since the Unix epoch: the wall clock at first use plus tokio time elapsed since.
pub fn now_ms() -> i64 {
    let (wall, start) = *BASE.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (wall, tokio::time::Instant::now())
    });
    wall + tokio::time::Instant::now()
        .saturating_duration_since(start)
        .as_millis() as i64
}

/// Seconds since the Unix epoch by the real wall clock, never tokio's: request signatures
/// carry real timestamps, which a paused or advanced test clock must not judge.
pub fn wall_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn advancing_tokio_time_advances_the_clock() {
        let before = now_ms();
        tokio::time::advance(Duration::from_secs(1800)).await;
        let after = now_ms();
        assert!(after - before >= 1_800_000, "{before} -> {after}");
    }
}
