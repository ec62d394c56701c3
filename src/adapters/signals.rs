//! SIGINT and SIGTERM as one counted stream for the long-running commands (`chat`, `serve`).
//!
//! Installed once, first thing: from then on a signal never takes the default action (dying
//! with the store half-written), and none is lost while the program is busy elsewhere (tokio's
//! `ctrl_c()` only sees signals that arrive while its future is being awaited). The commands
//! read the count: the first signal stops taking input, a further one cancels running runs.

use tokio::sync::watch;

/// Which signal arrived (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// SIGINT (Ctrl-C in a terminal).
    Interrupt,
    /// SIGTERM (a supervisor or `kill`).
    Terminate,
}

#[derive(Debug, Clone, Copy, Default)]
struct Received {
    count: u32,
}

/// The signals received so far; cheap to clone, every clone sees every signal.
#[derive(Debug, Clone)]
pub struct Signals {
    rx: watch::Receiver<Received>,
    /// Keeps the channel open for [`Signals::none`], which has no listener task.
    _keep: Option<std::sync::Arc<watch::Sender<Received>>>,
}

impl Signals {
    /// Installs the SIGINT and SIGTERM handlers and starts counting. Must run inside the
    /// tokio runtime.
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind as Kind};
        let mut interrupt = signal(Kind::interrupt())?;
        let mut terminate = signal(Kind::terminate())?;
        let (tx, rx) = watch::channel(Received::default());
        tokio::spawn(async move {
            loop {
                let kind = tokio::select! {
                    Some(()) = interrupt.recv() => SignalKind::Interrupt,
                    Some(()) = terminate.recv() => SignalKind::Terminate,
                    else => break,
                };
                tracing::info!(signal = ?kind, "signal received");
                tx.send_modify(|r| r.count = r.count.saturating_add(1));
            }
        });
        Ok(Signals { rx, _keep: None })
    }

    /// A stream that never delivers a signal (library users that handle signals themselves).
    pub fn none() -> Signals {
        let (tx, rx) = watch::channel(Received::default());
        Signals {
            rx,
            _keep: Some(std::sync::Arc::new(tx)),
        }
    }

    /// How many signals have arrived so far.
    pub fn count(&self) -> u32 {
        self.rx.borrow().count
    }

    /// Waits until more than `seen` signals have arrived and returns the new count; returns
    /// at once when that has already happened. Cancellation-safe.
    pub async fn beyond(&mut self, seen: u32) -> u32 {
        let count = self.rx.wait_for(|r| r.count > seen).await.map(|r| r.count);
        match count {
            Ok(n) => n,
            // The listener is gone (runtime shutting down): no signal will come.
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn none_never_fires() {
        let mut s = Signals::none();
        assert_eq!(s.count(), 0);
        let waited = tokio::time::timeout(Duration::from_millis(50), s.beyond(0)).await;
        assert!(waited.is_err());
    }
}
