//! A started run as its starter sees it: await its outcome, or follow its events.

use super::events::{Progress, ProgressSink, RunEvent, RunFacts, RunOutcome};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Events a slow subscriber may fall behind by before it sees `Lagged` (output lines are the
/// bulk; the sink given to `Executor::start` never misses any).
const SUBSCRIBER_BUFFER: usize = 1024;

/// A run in progress (or finished): what [`super::Executor::start`] returns.
#[derive(Debug, Clone)]
pub struct RunHandle {
    /// Store id of the run.
    pub id: i64,
    run: Arc<RunFacts>,
    done: watch::Receiver<Option<RunOutcome>>,
    events: broadcast::Sender<RunEvent>,
}

impl RunHandle {
    /// Waits for the run to end and returns how it ended. A run whose task died without an
    /// outcome (a panic) reports [`crate::pipeline::RunStatus::Interrupted`].
    pub async fn finished(&self) -> RunOutcome {
        let mut done = self.done.clone();
        let outcome = match done.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            Err(_) => None,
        };
        outcome.unwrap_or_else(RunOutcome::lost)
    }

    /// The outcome, if the run has ended.
    pub fn outcome(&self) -> Option<RunOutcome> {
        self.done.borrow().clone()
    }

    /// The run's events from now on (the last is [`Progress::Finished`]; none after it). A
    /// subscriber that comes after the end gets the `Finished` event alone, then the channel
    /// closes: nobody waits for a run that is over.
    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        // Subscribed before the outcome is read: the outcome is published before the last
        // event is sent, so "no outcome yet" means this receiver will get `Finished`.
        let live = self.events.subscribe();
        match self.outcome() {
            None => live,
            Some(outcome) => {
                let (tx, rx) = broadcast::channel(1);
                let _ = tx.send(RunEvent {
                    run: self.run.clone(),
                    progress: Progress::Finished(Box::new(outcome)),
                });
                rx
            }
        }
    }
}

/// The run task's side: delivers each event to the starter's sink and to subscribers, and
/// publishes the outcome. Dropped without [`Reporter::finish`] (a panic), it publishes a lost
/// outcome so nobody waits forever.
pub(super) struct Reporter {
    run: Arc<RunFacts>,
    sink: Arc<dyn ProgressSink>,
    events: broadcast::Sender<RunEvent>,
    done: watch::Sender<Option<RunOutcome>>,
}

impl Reporter {
    /// A reporter for this run and the handle that follows it.
    pub(super) fn new(run: RunFacts, sink: Arc<dyn ProgressSink>) -> (Reporter, RunHandle) {
        let (events, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let (done, done_rx) = watch::channel(None);
        let run = Arc::new(run);
        let handle = RunHandle {
            id: run.id,
            run: run.clone(),
            done: done_rx,
            events: events.clone(),
        };
        let reporter = Reporter {
            run,
            sink,
            events,
            done,
        };
        (reporter, handle)
    }

    /// Reports one event.
    pub(super) fn report(&self, progress: Progress) {
        let event = RunEvent {
            run: self.run.clone(),
            progress,
        };
        self.sink.report(&event);
        // No subscriber is not an error: most runs are only watched through the sink.
        let _ = self.events.send(event);
    }

    /// Publishes the outcome, then reports the last event (in this order, so that
    /// [`RunHandle::subscribe`] never misses the end).
    pub(super) fn finish(&self, outcome: RunOutcome) {
        self.done.send_replace(Some(outcome.clone()));
        self.report(Progress::Finished(Box::new(outcome)));
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        // The run's task ended without an outcome (a panic): the sink and the awaiting
        // handle still hear that it ended, as interrupted, so no status message waits forever.
        if self.done.borrow().is_none() {
            self.finish(RunOutcome::lost());
        }
    }
}
