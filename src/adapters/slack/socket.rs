//! The Socket Mode transport: Deckhand asks `apps.connections.open` (app-level token) for a
//! WebSocket URL and receives envelopes over it. Each envelope is acknowledged as soon as it
//! is read, before any work; `disconnect` frames and dropped connections lead to a fresh
//! connection, with back-off when Slack cannot be reached.

use super::app::{EventMeta, SlackApp};
use super::web_api::{ApiError, Retry, SocketUrl, WebApi};
use crate::adapters::adapter::Connection;
use crate::adapters::shutdown::Shutdown;
use futures_util::{SinkExt, StreamExt};
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// What one frame asks of the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameOutcome {
    /// Keep reading.
    Continue,
    /// Slack asked us to reconnect (reason given).
    Reconnect(String),
}

/// What a frame is, once read: the acknowledgement to send (if any) and the work to do.
pub struct Frame {
    /// `{"envelope_id": ...}` to send back at once.
    pub ack: Option<String>,
    /// Whether to keep the connection.
    pub outcome: FrameOutcome,
    work: Option<Work>,
}

enum Work {
    Event(Box<SlackPushEventCallback>, EventMeta),
    Command(Box<SlackCommandEvent>),
    Interaction(Box<SlackInteractionEvent>),
}

/// Reads one text frame. Unknown or unparsable envelopes are still acknowledged, so Slack does
/// not redeliver something we will never handle.
pub fn read_frame(text: &str) -> Frame {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "Socket Mode frame is not JSON; ignored");
            return Frame {
                ack: None,
                outcome: FrameOutcome::Continue,
                work: None,
            };
        }
    };
    let ack = value
        .get("envelope_id")
        .and_then(|v| v.as_str())
        .map(|id| serde_json::json!({ "envelope_id": id }).to_string());
    let mut frame = Frame {
        ack,
        outcome: FrameOutcome::Continue,
        work: None,
    };
    match value.get("type").and_then(|t| t.as_str()).unwrap_or("") {
        "hello" => {
            let n = value
                .get("num_connections")
                .and_then(|n| n.as_u64())
                .unwrap_or(0);
            tracing::info!(connections = n, "Socket Mode connected");
        }
        "disconnect" => {
            let reason = value
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("unknown");
            frame.outcome = FrameOutcome::Reconnect(reason.to_string());
        }
        kind @ ("events_api" | "slash_commands" | "interactive") => {
            // Envelope fields are read by hand (slack-morphism keeps its envelope types
            // private); payloads use its public event models.
            let payload = value.get("payload").cloned().unwrap_or_default();
            let work = match kind {
                "events_api" => serde_json::from_value::<SlackPushEventCallback>(payload.clone())
                    .map(|cb| Work::Event(Box::new(cb), EventMeta::of_callback(&payload))),
                "slash_commands" => serde_json::from_value::<SlackCommandEvent>(payload)
                    .map(|c| Work::Command(Box::new(c))),
                _ => serde_json::from_value::<SlackInteractionEvent>(payload)
                    .map(|i| Work::Interaction(Box::new(i))),
            };
            match work {
                Ok(w) => frame.work = Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, kind, "Socket Mode envelope not understood; acknowledged and ignored")
                }
            }
        }
        other => tracing::debug!(kind = other, "Socket Mode frame of another type ignored"),
    }
    frame
}

impl Frame {
    /// Is there something for the bot in this frame?
    pub fn has_work(&self) -> bool {
        self.work.is_some()
    }

    /// Starts the work in the background.
    pub fn spawn(self, app: &Arc<SlackApp>) {
        let Some(work) = self.work else { return };
        let handler = app.clone();
        app.intake().spawn(async move {
            let app = handler;
            match work {
                Work::Event(callback, meta) => app.on_event(*callback, meta).await,
                Work::Command(cmd) => app.on_command(*cmd).await,
                Work::Interaction(i) => app.on_interaction(*i).await,
            }
        });
    }
}

/// With no frame for this long, Deckhand pings; with none for twice as long, it reconnects.
const QUIET: Duration = Duration::from_secs(60);
/// A connection that ends sooner than this counts as a failure for back-off purposes
/// (e.g. `too_many_websockets` right after connecting).
const SHORT_LIVED: Duration = Duration::from_secs(10);

/// Runs Socket Mode until the shutdown signal. `app_api` carries the app-level token;
/// `connection` is up while a WebSocket is open.
pub async fn run(app: Arc<SlackApp>, app_api: WebApi, shutdown: Shutdown, connection: Connection) {
    let mut backoff = Duration::from_millis(500);
    while !shutdown.is_triggered() {
        let began = tokio::time::Instant::now();
        let ended = connect_once(&app, &app_api, &shutdown, &connection).await;
        connection.set(false);
        let wait = match ended {
            Ok(reason) if began.elapsed() >= SHORT_LIVED => {
                tracing::info!(reason = %reason, "Socket Mode reconnecting");
                backoff = Duration::from_millis(500);
                continue;
            }
            Ok(reason) => {
                tracing::warn!(reason = %reason, wait_ms = backoff.as_millis() as u64, "Socket Mode connection ended quickly; reconnecting after a pause");
                backoff
            }
            Err(e) => {
                tracing::warn!(error = %e, wait_ms = backoff.as_millis() as u64, "Socket Mode connection failed; retrying");
                backoff
            }
        };
        if shutdown.is_triggered() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.triggered() => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// One connection: returns why it ended normally, or an error.
async fn connect_once(
    app: &Arc<SlackApp>,
    app_api: &WebApi,
    shutdown: &Shutdown,
    connection: &Connection,
) -> Result<String, String> {
    let opened: SocketUrl = app_api
        .call_with_retry(
            "apps.connections.open",
            &serde_json::json!({}),
            Retry::NORMAL,
        )
        .await
        .map_err(|e: ApiError| format!("apps.connections.open: {e}"))?;
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async(opened.url.as_str()),
    )
    .await
    .map_err(|_| "WebSocket handshake timed out".to_string())?
    .map_err(|e| format!("WebSocket connect: {e}"))?;
    connection.set(true);
    let mut pinged = false;
    loop {
        let msg = tokio::select! {
            m = tokio::time::timeout(QUIET, ws.next()) => m,
            _ = shutdown.triggered() => {
                let _ = ws.close(None).await;
                return Ok("shutting down".into());
            }
        };
        let msg = match msg {
            Ok(m) => {
                pinged = false;
                m
            }
            Err(_) if !pinged => {
                pinged = true;
                ws.send(Message::Ping(Default::default()))
                    .await
                    .map_err(|e| format!("cannot ping: {e}"))?;
                continue;
            }
            Err(_) => return Err(format!("no frames for {} s", 2 * QUIET.as_secs())),
        };
        let text = match msg {
            None => return Err("connection closed".into()),
            Some(Err(e)) => return Err(format!("WebSocket: {e}")),
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Close(_))) => return Ok("closed by Slack".into()),
            // Pings are answered by tungstenite itself; pongs just prove liveness.
            Some(Ok(_)) => continue,
        };
        let frame = read_frame(&text);
        if let Some(ack) = &frame.ack {
            ws.send(Message::text(ack.clone()))
                .await
                .map_err(|e| format!("cannot acknowledge: {e}"))?;
        }
        if let FrameOutcome::Reconnect(reason) = &frame.outcome {
            let _ = ws.close(None).await;
            return Ok(format!("disconnect: {reason}"));
        }
        frame.spawn(app);
    }
}
