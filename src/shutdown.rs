//! The one stop signal (mini-redis's `Shutdown`, on a `watch` channel): triggered once, it
//! wakes every task that takes in work (the HTTP listener, Socket Mode, the Discord gateway)
//! and the bot's periodic upkeep. What happens after intake stops (waiting for runs, draining the outboxes)
//! is ordered by [`crate::adapters::serve::Server::shutdown`].

use std::sync::Arc;
use tokio::sync::watch;

/// A stop signal; clones share it, and every clone sees the trigger, including clones made
/// after it.
#[derive(Clone)]
pub struct Shutdown {
    stop: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            stop: Arc::new(watch::channel(false).0),
        }
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

impl Shutdown {
    /// Tells every holder to stop (again is harmless).
    pub fn trigger(&self) {
        self.stop.send_replace(true);
    }

    /// Has the signal been given?
    pub fn is_triggered(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the signal is given (at once if it was given already).
    pub async fn triggered(&self) {
        let mut seen = self.stop.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = seen.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_wakes_on_the_trigger() {
        let shutdown = Shutdown::default();
        let early = shutdown.clone();
        let waiter = tokio::spawn(async move { early.triggered().await });
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        waiter.await.unwrap();
        let late = shutdown.clone();
        assert!(late.is_triggered());
        // A clone made after the trigger does not wait.
        late.triggered().await;
    }
}
