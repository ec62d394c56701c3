//! A started run as its starter sees it: await its outcome, or follow its events.

use super::events::{Progress, ProgressSink, RunEvent, RunFacts, RunOutcome};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// Events a slow subscriber may fall behind by before it sees `Lagged` (output lines are the
/// bulk; the sink given to `Executor::start` never misses any).
const SUBSCRIBER_BUFFER: usize = 1024;

/// Events a run's journal keeps for followers that come late or resume (output lines beyond
/// this are dropped from the oldest; stage changes are always kept).
const JOURNAL_LIMIT: usize = 2_000;

/// A run's events so far, numbered from 1, for followers that come late or resume.
#[derive(Debug, Default)]
struct Journal {
    events: VecDeque<(u64, RunEvent)>,
    last: u64,
}

impl Journal {
    fn push(&mut self, event: RunEvent) -> u64 {
        self.last += 1;
        self.events.push_back((self.last, event));
        if self.events.len() > JOURNAL_LIMIT {
            let oldest_line = self
                .events
                .iter()
                .position(|(_, e)| matches!(e.progress, Progress::StageOutput { .. }));
            // Stage changes stay (the count above bounds them); lines go oldest first.
            if let Some(i) = oldest_line {
                self.events.remove(i);
            }
        }
        self.last
    }
}

/// What [`RunHandle::follow`] returns: the journal after a given event, and the events after
/// those as they come (the first live one is number `next`).
#[derive(Debug)]
pub struct Follow {
    /// Events already reported, with their numbers, oldest first.
    pub history: Vec<(u64, RunEvent)>,
    /// The number the first event from `live` will have.
    pub next: u64,
    /// Events from now on (the run may already be over: then it stays empty and closes).
    pub live: broadcast::Receiver<RunEvent>,
}

/// A run in progress (or finished): what [`super::Executor::start`] returns.
#[derive(Debug, Clone)]
pub struct RunHandle {
    /// Store id of the run.
    pub id: i64,
    run: Arc<RunFacts>,
    done: watch::Receiver<Option<RunOutcome>>,
    events: broadcast::Sender<RunEvent>,
    journal: Arc<Mutex<Journal>>,
}

impl RunHandle {
    /// The run's facts (service, environment, who asked, ...).
    pub fn facts(&self) -> &Arc<RunFacts> {
        &self.run
    }

    /// The events after number `after` (0: all that are kept), then the live ones: nothing
    /// is missed or repeated between the two (a follower that resumes with the last number it
    /// saw gets exactly the rest). After the end, `live` yields nothing.
    pub fn follow(&self, after: u64) -> Follow {
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        // Subscribed under the journal's lock: the reporter numbers and sends under it too.
        let ended = matches!(
            journal.events.back(),
            Some((_, e)) if matches!(e.progress, Progress::Finished(_))
        );
        let live = if ended {
            broadcast::channel(1).1
        } else {
            self.events.subscribe()
        };
        Follow {
            history: journal
                .events
                .iter()
                .filter(|(n, _)| *n > after)
                .cloned()
                .collect(),
            next: journal.last + 1,
            live,
        }
    }

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
    journal: Arc<Mutex<Journal>>,
}

impl Reporter {
    /// A reporter for this run and the handle that follows it.
    pub(super) fn new(run: RunFacts, sink: Arc<dyn ProgressSink>) -> (Reporter, RunHandle) {
        let (events, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let (done, done_rx) = watch::channel(None);
        let run = Arc::new(run);
        let journal = Arc::new(Mutex::new(Journal::default()));
        let handle = RunHandle {
            id: run.id,
            run: run.clone(),
            done: done_rx,
            events: events.clone(),
            journal: journal.clone(),
        };
        let reporter = Reporter {
            run,
            sink,
            events,
            done,
            journal,
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
        // Numbered and sent under the lock, so `follow` sees each event exactly once.
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        journal.push(event.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Phase, StageRef};

    fn event(progress: Progress) -> RunEvent {
        RunEvent {
            run: Arc::new(RunFacts {
                id: 1,
                action: crate::store::Action::Deploy,
                service: "s".into(),
                environment: "e".into(),
                version: None,
                strategy: Default::default(),
                percent: None,
                requested_by: "p".into(),
                origin: crate::origin::Origin::Api { client: "p".into() },
            }),
            progress,
        }
    }

    #[test]
    fn a_full_journal_drops_the_oldest_output_lines_and_keeps_stage_changes() {
        let stage = StageRef {
            phase: Phase::Main,
            index: 0,
            name: "build".into(),
        };
        let mut j = Journal::default();
        j.push(event(Progress::Started {
            stages: vec!["build".into()],
        }));
        j.push(event(Progress::StageStarted(stage.clone())));
        for i in 0..(JOURNAL_LIMIT * 2) {
            j.push(event(Progress::StageOutput {
                stage: stage.clone(),
                line: format!("line {i}"),
            }));
        }
        assert_eq!(j.events.len(), JOURNAL_LIMIT);
        assert_eq!(
            j.last,
            (JOURNAL_LIMIT * 2 + 2) as u64,
            "numbers keep counting"
        );
        assert!(matches!(j.events[0].1.progress, Progress::Started { .. }));
        assert!(matches!(j.events[1].1.progress, Progress::StageStarted(_)));
        match &j.events[2].1.progress {
            Progress::StageOutput { line, .. } => {
                assert_eq!(line, &format!("line {}", JOURNAL_LIMIT + 2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(j.events.back().unwrap().0, j.last);
    }
}
