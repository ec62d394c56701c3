//! Retry presets for platform calls and the loop that applies them to [`SendError`]s (Slack's
//! Web API client applies the same presets to its own errors).

use super::SendError;
use std::future::Future;
use std::time::Duration;

/// How hard to retry a platform call (both platforms use these presets).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, including the first.
    pub attempts: u32,
    /// First back-off after a transient failure; doubles each time.
    pub first_backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// Also retry when the call may already have taken effect (no answer). Right for edits;
    /// for posts it risks a duplicate, which only a message that must arrive is worth.
    pub ambiguous: bool,
}

impl Retry {
    /// Ordinary messages: a few attempts over roughly half a minute.
    pub const NORMAL: Retry = Retry {
        attempts: 6,
        first_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(8),
        ambiguous: false,
    };
    /// Idempotent calls (edits): like [`Retry::NORMAL`], also when the answer was lost.
    pub const IDEMPOTENT: Retry = Retry {
        ambiguous: true,
        ..Retry::NORMAL
    };
    /// Messages that must arrive (a run's final state): keep trying for several minutes.
    pub const PERSISTENT: Retry = Retry {
        attempts: 40,
        first_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(15),
        ambiguous: true,
    };
    /// One attempt (intermediate progress edits: the next edit supersedes this one).
    pub const ONCE: Retry = Retry {
        attempts: 1,
        first_backoff: Duration::from_millis(0),
        max_backoff: Duration::from_millis(0),
        ambiguous: false,
    };
}

impl SendError {
    /// Why a call that failed this way is tried again (the metrics' `reason`).
    pub fn retry_reason(&self) -> crate::metrics::RetryReason {
        use crate::metrics::RetryReason;
        match self {
            SendError::RateLimited(_) => RetryReason::RateLimited,
            SendError::Unknown(_) => RetryReason::NoAnswer,
            SendError::Transient(_) | SendError::Permanent(_) => RetryReason::Transient,
        }
    }

    /// May the same call be sent again under `retry`? A call that may already have taken
    /// effect ([`SendError::Unknown`]) only when `retry` allows ambiguous repeats.
    pub fn retryable(&self, retry: &Retry) -> bool {
        match self {
            SendError::RateLimited(_) | SendError::Transient(_) => true,
            SendError::Unknown(_) => retry.ambiguous,
            SendError::Permanent(_) => false,
        }
    }
}

/// Retries `attempt` while its error is retryable under `retry`, with exponential back-off
/// (or the platform's `retry after`), up to `retry.attempts` tries in all.
pub async fn with_retries<T, F, Fut>(retry: Retry, attempt: F) -> Result<T, SendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SendError>>,
{
    with_retries_observed(retry, |_| {}, attempt).await
}

/// [`with_retries`], telling `retrying` about each error that is about to be retried (the
/// surfaces count retries in the metrics).
pub async fn with_retries_observed<T, F, Fut>(
    retry: Retry,
    retrying: impl Fn(&SendError),
    mut attempt: F,
) -> Result<T, SendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SendError>>,
{
    let mut backoff = retry.first_backoff;
    let mut tries = 1;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if tries < retry.attempts && e.retryable(&retry) => {
                let wait = match &e {
                    SendError::RateLimited(d) => *d,
                    _ => {
                        let b = backoff;
                        backoff = (backoff * 2).min(retry.max_backoff);
                        b
                    }
                };
                retrying(&e);
                tracing::warn!(error = %e, attempt = tries, wait_ms = wait.as_millis() as u64, "platform call failed; retrying");
                tokio::time::sleep(wait).await;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_repeated_only_when_the_preset_allows_it() {
        for (retry, expected) in [
            (Retry::NORMAL, 1),
            (Retry::IDEMPOTENT, Retry::IDEMPOTENT.attempts),
        ] {
            let tries = AtomicU32::new(0);
            let result: Result<(), _> = with_retries(retry, || {
                tries.fetch_add(1, Ordering::SeqCst);
                async { Err(SendError::Unknown("no answer".into())) }
            })
            .await;
            assert!(result.is_err());
            assert_eq!(tries.load(Ordering::SeqCst), expected, "{retry:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_one_succeeds() {
        let tries = AtomicU32::new(0);
        let result = with_retries(Retry::NORMAL, || {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(SendError::Transient("503".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result, Ok(2));
    }
}
