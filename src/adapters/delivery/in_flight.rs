//! A count of pieces of work started and not finished, that can be waited on until it is zero
//! (shutdown and tests wait for handlers and queued messages this way, woken by the last one to
//! finish rather than by polling).

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Work started and not finished; clones share the count.
#[derive(Clone)]
pub struct InFlight {
    count: Arc<watch::Sender<usize>>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            count: Arc::new(watch::channel(0).0),
        }
    }
}

impl InFlight {
    /// Counts one more piece of work.
    pub fn add(&self) {
        self.count.send_modify(|n| *n += 1);
    }

    /// Counts one more piece of work unless `limit` are in flight already; false then.
    pub fn try_add(&self, limit: usize) -> bool {
        self.count.send_if_modified(|n| {
            if *n < limit {
                *n += 1;
                true
            } else {
                false
            }
        })
    }

    /// Counts one piece of work as finished; the last one wakes whoever waits in
    /// [`InFlight::zero`].
    pub fn done(&self) {
        self.count.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// How many pieces of work are in flight.
    pub fn count(&self) -> usize {
        *self.count.borrow()
    }

    /// Waits until no work is in flight (or `limit` passes); false on timeout.
    pub async fn zero(&self, limit: Duration) -> bool {
        let mut rx = self.count.subscribe();
        let zero = tokio::time::timeout(limit, rx.wait_for(|n| *n == 0)).await;
        zero.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_piece_of_work_wakes_the_waiter() {
        let work = InFlight::default();
        work.add();
        work.add();
        let waiter = tokio::spawn({
            let work = work.clone();
            async move { work.zero(Duration::from_secs(30)).await }
        });
        work.done();
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "one piece of work is still in flight"
        );
        work.done();
        assert!(waiter.await.unwrap());
        assert_eq!(work.count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_gives_up_at_the_limit() {
        let work = InFlight::default();
        work.add();
        assert!(!work.zero(Duration::from_secs(1)).await);
    }
}
