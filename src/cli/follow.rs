//! Following a run's event stream (`GET /runs/{id}/events`) to its `finished` event,
//! reconnecting with `Last-Event-ID` when the connection drops; and waiting for an approval
//! request to be decided (`--wait` on a request that needs one).

use super::client::{Client, ClientError};
use super::render;
use super::sse::{SseEvent, SseParser};
use super::views::{ApprovalView, EventData};
use serde_json::Value;
use std::time::Duration;

/// Reconnections in a row without a new event before the stream counts as lost.
const RECONNECTS: u32 = 5;
/// How often `--wait` asks about an approval request.
const APPROVAL_POLL: Duration = Duration::from_secs(2);

/// Where the stream's lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Human lines on standard output.
    Text,
    /// Human lines on standard error (stdout keeps the one JSON object of `--json`).
    TextToStderr,
    /// Each event as one JSON object per line on standard output.
    JsonLines,
}

/// How a followed run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// `succeeded`, `failed`, `cancelled`, `interrupted`.
    pub status: String,
}

impl RunEnd {
    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }
}

/// Follows run `id` from its first event (late: the server replays the history) to the
/// `finished` event, echoing each event.
pub async fn follow_run(client: &Client, id: i64, echo: Echo) -> Result<RunEnd, ClientError> {
    let mut last_id: Option<String> = None;
    let mut state = render::StreamState::default();
    let mut failures = 0;
    loop {
        let before = last_id.clone();
        let outcome = match client.events(id, last_id.as_deref()).await {
            Ok(mut resp) => read_stream(client, &mut resp, &mut last_id, echo, &mut state).await,
            // A refusal (404 unknown run, 401) is final; a lost connection is retried.
            Err(e @ ClientError::Unreachable { .. }) => Err(e),
            Err(e) => return Err(e),
        };
        let error = match outcome {
            Ok(Some(end)) => return Ok(end),
            Ok(None) => ClientError::Unreachable {
                server: client.server().to_string(),
                reason: format!("the event stream of run {id} closed before the run ended"),
            },
            Err(e) => e,
        };
        // Resume after the last event seen; give up after a few tries that brought nothing.
        failures = if last_id != before { 1 } else { failures + 1 };
        if failures > RECONNECTS {
            return Err(error);
        }
        tracing::debug!(run = id, error = %error, "event stream lost; reconnecting");
        tokio::time::sleep(Duration::from_millis(500 * u64::from(failures))).await;
    }
}

/// Reads one connection's events: `Some(end)` at `finished`, `None` when the server closed
/// the stream before it.
async fn read_stream(
    client: &Client,
    resp: &mut reqwest::Response,
    last_id: &mut Option<String>,
    echo: Echo,
    state: &mut render::StreamState,
) -> Result<Option<RunEnd>, ClientError> {
    let mut parser = SseParser::new();
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(e) => return Err(client.unreachable(&e)),
        };
        for ev in parser.feed(&chunk) {
            if ev.id.is_some() {
                last_id.clone_from(&ev.id);
            }
            show(&ev, echo, state);
            if ev.event == "finished" {
                let d: EventData = serde_json::from_str(&ev.data).unwrap_or_default();
                let status = d
                    .status
                    .or(d.run.map(|r| r.status))
                    .unwrap_or_else(|| "interrupted".into());
                return Ok(Some(RunEnd { status }));
            }
        }
    }
}

fn show(ev: &SseEvent, echo: Echo, state: &mut render::StreamState) {
    match echo {
        Echo::JsonLines => {
            let data =
                serde_json::from_str(&ev.data).unwrap_or_else(|_| Value::String(ev.data.clone()));
            let line = serde_json::json!({"id": ev.id, "event": ev.event, "data": data});
            super::out(&format!("{line}\n"));
        }
        Echo::Text | Echo::TextToStderr => {
            if let Some(text) = render::event_text(ev, state) {
                if echo == Echo::Text {
                    super::out(&text);
                } else {
                    eprint!("{text}");
                }
            }
        }
    }
}

/// How waiting on an approval request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// Approved and its run started.
    Started(i64),
    /// Rejected, expired, withdrawn, or approved but its run did not start.
    NotRun {
        /// What became of it.
        status: String,
        /// The request as the server lists it now.
        approval: Value,
    },
}

/// Polls `GET /approvals/{id}` until the request leaves `pending`: the run it started, or
/// the status it ended in.
pub async fn wait_for_decision(client: &Client, id: i64) -> Result<Decided, ClientError> {
    // An approved request gets its run id as the run starts; give it a few polls.
    let mut approved_polls = 0;
    loop {
        let raw = client.get(&format!("/approvals/{id}"), &[]).await?;
        let a: ApprovalView = serde_json::from_value(raw.clone()).unwrap_or_default();
        match (a.status.as_str(), a.run_id) {
            ("pending", _) => {}
            ("approved", Some(run)) => return Ok(Decided::Started(run)),
            ("approved", None) if approved_polls < 5 => approved_polls += 1,
            ("approved", None) => {
                return Ok(Decided::NotRun {
                    status: "was approved, but its run did not start".into(),
                    approval: raw,
                })
            }
            (other, _) => {
                return Ok(Decided::NotRun {
                    status: format!("was {other}"),
                    approval: raw,
                })
            }
        }
        tokio::time::sleep(APPROVAL_POLL).await;
    }
}
