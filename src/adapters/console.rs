//! `deckhand chat`: the terminal adapter. Human mode draws a prompt, replies and one live
//! progress line per run; `--json` mode speaks JSON Lines on stdin/stdout for scripts and tests.

mod logs;
mod render;

pub use logs::LogWriter;

use super::signals::Signals;
use crate::bot::Bot;
use crate::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use render::{Output, Renderer, Stream};
use serde::Deserialize;
use std::io::IsTerminal;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Name used for messages that do not give one.
    pub user: String,
    /// JSON Lines protocol instead of the human interface.
    pub json: bool,
}

/// One input line in `--json` mode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonInput {
    #[serde(default)]
    user: Option<String>,
    text: String,
    #[serde(default)]
    thread: Option<String>,
}

struct ConsoleSink(mpsc::UnboundedSender<Output>);

impl EventSink for ConsoleSink {
    fn emit(&self, event: BotEvent) {
        let _ = self.0.send(Output::Event(event));
    }
}

const CHANNEL: &str = "console";
const DEFAULT_THREAD: &str = "main";

/// Runs the console until end of input, `/quit` or a signal, then finishes running pipelines
/// and returns. Signals (see [`Signals`]): the first stops reading input and waits for running
/// runs; a further one (or the first, once input has ended) cancels them; any more only say
/// that their results are being recorded. Every run has ended, with its result and audit
/// entries stored, when this returns.
pub async fn run(bot: Arc<Bot>, options: ConsoleOptions, signals: Signals) -> std::io::Result<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink: Arc<dyn EventSink> = Arc::new(ConsoleSink(tx.clone()));
    let interactive =
        !options.json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let renderer = Renderer::new(options.json, interactive, live_width());
    let writer = tokio::spawn(write_events(rx, renderer));
    if interactive {
        logs::attach(tx.clone());
    }
    bot.attach(CHANNEL, sink.clone(), |thread| {
        ThreadKey::new(CHANNEL, CHANNEL, thread)
    });
    let upkeep = crate::shutdown::Shutdown::default();
    let background = bot.spawn_background(upkeep.clone());
    bot.deliver_recovery(CHANNEL, sink.clone()).await;
    let mut console = Console {
        bot: bot.clone(),
        options,
        interactive,
        tx: tx.clone(),
        sink: sink.clone(),
        signals,
        seen: 0,
    };
    let ended_by_signal = console.read_input().await;
    console.finish_runs(ended_by_signal).await;
    upkeep.trigger();
    let _ = background.await;
    logs::detach();
    let _ = tx.send(Output::Done);
    drop(console);
    drop(sink);
    drop(tx);
    let _ = writer.await;
    Ok(())
}

/// The input side of a console session.
struct Console {
    bot: Arc<Bot>,
    options: ConsoleOptions,
    interactive: bool,
    tx: mpsc::UnboundedSender<Output>,
    sink: Arc<dyn EventSink>,
    signals: Signals,
    /// Signals already acted on.
    seen: u32,
}

impl Console {
    fn notice(&self, text: String, stream: Stream) {
        let _ = self.tx.send(Output::Notice(text, stream));
    }

    fn prompt(&self) {
        let _ = self.tx.send(Output::Prompt);
    }

    /// Reads and handles lines until end of input, `/quit` or a signal; true for a signal.
    /// A message being handled is finished first: a signal is acted on between messages.
    async fn read_input(&mut self) -> bool {
        // Bytes, not str: a stray non-UTF-8 byte must not end the session with runs in flight.
        let mut lines = BufReader::new(tokio::io::stdin()).split(b'\n');
        let mut thread = DEFAULT_THREAD.to_string();
        let mut line_no = 0usize;
        self.prompt();
        loop {
            let line = tokio::select! {
                // A signal that came while the last message was handled wins over more input.
                biased;
                n = self.signals.beyond(self.seen) => {
                    self.seen = n;
                    return true;
                }
                line = lines.next_segment() => match line {
                    Ok(bytes) => bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
                    Err(e) => {
                        self.notice(format!("error: cannot read standard input ({e}); finishing running pipelines"), Stream::Stderr);
                        None
                    }
                },
            };
            let Some(line) = line else { return false };
            if self.interactive {
                let _ = self.tx.send(Output::Typed(line.clone()));
            }
            line_no += 1;
            let line = line.trim().to_string();
            if line.is_empty() {
                self.prompt();
                continue;
            }
            let incoming = if self.options.json {
                match serde_json::from_str::<JsonInput>(&line) {
                    Ok(input) => Incoming {
                        thread: ThreadKey::new(
                            CHANNEL,
                            CHANNEL,
                            input.thread.as_deref().unwrap_or(DEFAULT_THREAD),
                        ),
                        user: input.user.unwrap_or_else(|| self.options.user.clone()),
                        text: input.text,
                        // Console input is never redelivered, so it carries no event id.
                        event_id: None,
                    },
                    Err(e) => {
                        let err = serde_json::json!({"type": "error", "line": line_no, "error": format!("expected {{\"user\": \"...\", \"text\": \"...\", \"thread\": \"...\"}}: {e}")});
                        self.notice(err.to_string(), Stream::Stdout);
                        continue;
                    }
                }
            } else {
                if let Some(name) = line.strip_prefix("/thread ") {
                    thread = name.trim().to_string();
                    self.notice(
                        format!("(now talking in thread `{thread}`)"),
                        Stream::Stdout,
                    );
                    continue;
                }
                if line == "/quit" || line == "/exit" {
                    return false;
                }
                Incoming {
                    thread: ThreadKey::new(CHANNEL, CHANNEL, &thread),
                    user: self.options.user.clone(),
                    text: line,
                    event_id: None,
                }
            };
            self.bot.handle(incoming, self.sink.clone()).await;
        }
    }

    /// Waits for the runs in progress; cancels them on a further signal (the first signal
    /// after input ended, the second when a signal ended it). Returns once every run ended.
    async fn finish_runs(&mut self, ended_by_signal: bool) {
        let tell = |c: &Console, text: String| {
            if c.interactive || ended_by_signal {
                c.notice(text, Stream::Stderr);
            }
        };
        // Signals counted before this point that have not been acted on yet.
        let cancel_after = if ended_by_signal { self.seen } else { 0 };
        let running = self.bot.active_runs();
        if self.signals.count() <= cancel_after {
            if !running.is_empty() {
                tell(
                    self,
                    format!(
                        "Waiting for {} running run(s) to finish; press Ctrl-C to cancel them.",
                        running.len()
                    ),
                );
            }
            tokio::select! {
                _ = self.bot.wait_idle() => return,
                n = self.signals.beyond(cancel_after) => self.seen = n,
            }
        } else {
            self.seen = self.signals.count();
        }
        let ids = self.bot.cancel_all_runs();
        if !ids.is_empty() {
            self.notice(
                format!("Cancelling run(s) {ids:?}; their results are being recorded."),
                Stream::Stderr,
            );
        }
        loop {
            tokio::select! {
                _ = self.bot.wait_idle() => return,
                n = self.signals.beyond(self.seen) => {
                    self.seen = n;
                    let ids = self.bot.cancel_all_runs();
                    self.notice(
                        format!("Still stopping run(s) {ids:?}; their results are being recorded, then Deckhand exits."),
                        Stream::Stderr,
                    );
                }
            }
        }
    }
}

async fn write_events(mut rx: mpsc::UnboundedReceiver<Output>, mut renderer: Renderer) {
    while let Some(output) = rx.recv().await {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        if !renderer.render(output, &mut out, &mut err) {
            break;
        }
    }
}

/// Longest live line drawn (the terminal's width): longer lines would wrap and break the redraw.
fn live_width() -> usize {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize struct we pass; on failure we use a default.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 10 {
        usize::from(ws.ws_col) - 1
    } else {
        79
    }
}

/// The event as one JSON object, with the thread as its console name.
pub fn event_json(event: &BotEvent) -> serde_json::Value {
    let mut v = serde_json::to_value(event).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "thread".into(),
            serde_json::Value::String(event.thread().thread.clone()),
        );
    }
    v
}
