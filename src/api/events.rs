//! `GET /runs/{id}/events`: a run's progress as Server-Sent Events. Each event has an `id`
//! (its number in the run, from 1), an `event` type and JSON `data`; `Last-Event-ID` resumes
//! after that number; the stream ends after the `finished` event. A run this process started
//! streams from its journal (history first, then live); any other run (an older one, one
//! started before a restart or by another replica) is replayed from the store, polling it
//! while the run is still going.

use super::auth::Caller;
use super::extract::PathParams;
use super::problem::{ApiError, Problem};
use super::ApiState;
use crate::command::Refusal;
use crate::config::Strategy;
use crate::pipeline::{Phase, Progress, RunEvent, RunHandle, RunStatus, StageRef, StageState};
use crate::store::{Action, RunRecord, Store};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use utoipa::ToSchema;

/// How often a run followed through the store is read again.
const STORE_POLL: Duration = Duration::from_millis(500);

/// One event of a run's stream (the SSE `event` field is `type`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The run started with these main stages.
    Started {
        /// Run id.
        run_id: i64,
        /// Deploy or rollback.
        action: Action,
        /// Service.
        service: String,
        /// Environment.
        environment: String,
        /// Version requested.
        version: Option<String>,
        /// Strategy.
        strategy: Strategy,
        /// Who asked.
        requested_by: String,
        /// The main phase's stage names, in order.
        stages: Vec<String>,
    },
    /// A stage began.
    StageStarted {
        /// Phase.
        phase: Phase,
        /// Position in the phase.
        index: usize,
        /// Stage name.
        name: String,
    },
    /// A stage printed a line.
    Output {
        /// Phase.
        phase: Phase,
        /// Position in the phase.
        index: usize,
        /// Stage name.
        name: String,
        /// The line.
        line: String,
    },
    /// A stage ended.
    StageFinished {
        /// Phase.
        phase: Phase,
        /// Position in the phase.
        index: usize,
        /// Stage name.
        name: String,
        /// How it ended.
        status: StageState,
        /// Wall time, milliseconds.
        duration_ms: u64,
    },
    /// The run was cancelled before this stage started.
    StageSkipped {
        /// Phase.
        phase: Phase,
        /// Position in the phase.
        index: usize,
        /// Stage name.
        name: String,
    },
    /// The automatic rollback begins with these stages.
    RollbackStarted {
        /// Rollback stage names, in order.
        stages: Vec<String>,
    },
    /// The run ended: always the last event.
    Finished {
        /// Final status.
        status: RunStatus,
        /// The version the run ended with.
        version: Option<String>,
        /// Whether the automatic rollback restored the previous release.
        rolled_back: bool,
        /// Why it failed, when it did.
        error: Option<String>,
        /// For a failed deploy: the release a manual rollback returns to.
        rollback_target: Option<String>,
    },
}

impl StreamEvent {
    fn name(&self) -> &'static str {
        match self {
            StreamEvent::Started { .. } => "started",
            StreamEvent::StageStarted { .. } => "stage_started",
            StreamEvent::Output { .. } => "output",
            StreamEvent::StageFinished { .. } => "stage_finished",
            StreamEvent::StageSkipped { .. } => "stage_skipped",
            StreamEvent::RollbackStarted { .. } => "rollback_started",
            StreamEvent::Finished { .. } => "finished",
        }
    }

    fn is_last(&self) -> bool {
        matches!(self, StreamEvent::Finished { .. })
    }

    fn sse(&self, seq: u64) -> Event {
        let data = serde_json::to_string(self).unwrap_or_default();
        Event::default()
            .id(seq.to_string())
            .event(self.name())
            .data(data)
    }
}

fn stage(at: &StageRef) -> (Phase, usize, String) {
    (at.phase, at.index, at.name.clone())
}

impl From<&RunEvent> for StreamEvent {
    fn from(e: &RunEvent) -> StreamEvent {
        let run = &e.run;
        match &e.progress {
            Progress::Started { stages } => StreamEvent::Started {
                run_id: run.id,
                action: run.action,
                service: run.service.clone(),
                environment: run.environment.clone(),
                version: run.version.clone(),
                strategy: run.strategy,
                requested_by: run.requested_by.clone(),
                stages: stages.clone(),
            },
            Progress::StageStarted(at) => {
                let (phase, index, name) = stage(at);
                StreamEvent::StageStarted { phase, index, name }
            }
            Progress::StageOutput { stage: at, line } => {
                let (phase, index, name) = stage(at);
                StreamEvent::Output {
                    phase,
                    index,
                    name,
                    line: line.clone(),
                }
            }
            Progress::StageFinished {
                stage: at,
                state,
                duration,
                ..
            } => {
                let (phase, index, name) = stage(at);
                StreamEvent::StageFinished {
                    phase,
                    index,
                    name,
                    status: *state,
                    duration_ms: duration.as_millis() as u64,
                }
            }
            Progress::StageSkipped(at) => {
                let (phase, index, name) = stage(at);
                StreamEvent::StageSkipped { phase, index, name }
            }
            Progress::RollbackStarted { stages } => StreamEvent::RollbackStarted {
                stages: stages.clone(),
            },
            Progress::Finished(outcome) => StreamEvent::Finished {
                status: outcome.status,
                version: outcome.version.clone(),
                rolled_back: outcome.rolled_back,
                error: outcome.error.clone(),
                rollback_target: outcome.rollback_target.clone(),
            },
        }
    }
}

/// Follow a run's progress (Server-Sent Events).
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs",
    params(
        ("id" = i64, Path, description = "Run id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event number"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: one event per progress step; `data` is a StreamEvent; ends after `finished`", content_type = "text/event-stream", body = StreamEvent),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn run_events(
    State(state): State<ApiState>,
    _caller: Caller,
    PathParams(id): PathParams<i64>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Event>(64);
    match state.commander.executor().handle(id) {
        Some(handle) => {
            tokio::spawn(from_journal(handle, after, tx));
        }
        None => {
            let store = state.commander.store().clone();
            let run = store
                .run(id)
                .await?
                .ok_or_else(|| ApiError::from(Refusal::UnknownRun { run: id }))?;
            let stages = state
                .commander
                .config()
                .service(&run.service)
                .and_then(|s| state.commander.config().pipelines.get(&s.pipeline))
                .map(|p| p.stages.iter().map(|s| s.name.clone()).collect())
                .unwrap_or_default();
            tokio::spawn(from_store(store, run, stages, after, tx));
        }
    }
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<Event, Infallible>(e), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Streams the journal after `after`, then the live events, until `finished` (or the client
/// leaves: the send fails).
async fn from_journal(handle: RunHandle, after: u64, tx: mpsc::Sender<Event>) {
    // A resume point beyond what was ever sent replays nothing but cannot skip the end.
    let mut resume = after.min(handle.follow(u64::MAX).next.saturating_sub(1));
    loop {
        let follow = handle.follow(resume);
        for (seq, event) in &follow.history {
            let e = StreamEvent::from(event);
            if tx.send(e.sse(*seq)).await.is_err() || e.is_last() {
                return;
            }
            resume = *seq;
        }
        let mut seq = follow.next;
        let mut live = follow.live;
        loop {
            let received = tokio::select! {
                r = live.recv() => r,
                // The client left: stop following.
                _ = tx.closed() => return,
            };
            match received {
                Ok(event) => {
                    let e = StreamEvent::from(&event);
                    if seq > resume {
                        if tx.send(e.sse(seq)).await.is_err() {
                            return;
                        }
                        resume = seq;
                    }
                    if e.is_last() {
                        return;
                    }
                    seq += 1;
                }
                // Fell behind: read the rest from the journal again.
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => {
                    if follow_ended(&handle, resume) {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// Whether nothing after `resume` is left to send (the journal ends with `finished`, sent).
fn follow_ended(handle: &RunHandle, resume: u64) -> bool {
    let rest = handle.follow(resume);
    rest.history.is_empty() && handle.outcome().is_some()
}

/// Replays a run from the store: `started`, each stored stage (its log tail as `output`
/// lines, then `stage_finished`), and `finished` once the run has ended, polling while it
/// runs. Numbers are given in that order, so a resume skips what was sent.
async fn from_store(
    store: Store,
    run: RunRecord,
    stages: Vec<String>,
    after: u64,
    tx: mpsc::Sender<Event>,
) {
    let mut seq = 0u64;
    let send = |e: StreamEvent, seq: &mut u64| {
        *seq += 1;
        (*seq > after).then(|| e.sse(*seq))
    };
    let started = StreamEvent::Started {
        run_id: run.id,
        action: run.action,
        service: run.service.clone(),
        environment: run.environment.clone(),
        version: run.version.clone(),
        strategy: run.strategy,
        requested_by: run.requested_by.clone(),
        stages,
    };
    if let Some(e) = send(started, &mut seq) {
        if tx.send(e).await.is_err() {
            return;
        }
    }
    let mut sent_stages = 0usize;
    let mut run = run;
    loop {
        let Ok(stored) = store.stages(run.id).await else {
            return;
        };
        for s in stored.iter().skip(sent_stages) {
            let index = usize::try_from(s.position).unwrap_or_default();
            let mut events: Vec<StreamEvent> = s
                .log_tail
                .lines()
                .map(|line| StreamEvent::Output {
                    phase: s.phase,
                    index,
                    name: s.name.clone(),
                    line: line.to_string(),
                })
                .collect();
            events.push(StreamEvent::StageFinished {
                phase: s.phase,
                index,
                name: s.name.clone(),
                status: s.status,
                duration_ms: u64::try_from(s.duration_ms).unwrap_or_default(),
            });
            for e in events {
                if let Some(e) = send(e, &mut seq) {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
            }
        }
        sent_stages = stored.len();
        if run.status != RunStatus::Running {
            let finished = StreamEvent::Finished {
                status: run.status,
                version: run.version.clone(),
                rolled_back: run.rolled_back,
                error: run.error.clone(),
                rollback_target: None,
            };
            // The end is always sent, even to a client that resumes past it.
            seq += 1;
            let _ = tx.send(finished.sse(seq.max(after + 1))).await;
            return;
        }
        tokio::time::sleep(STORE_POLL).await;
        if tx.is_closed() {
            return;
        }
        match store.run(run.id).await {
            Ok(Some(r)) => run = r,
            _ => return,
        }
    }
}
