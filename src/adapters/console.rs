//! `deckhand chat`: the terminal adapter. Human mode draws a prompt, replies and one live
//! progress line per run; `--json` mode speaks JSON Lines on stdin/stdout for scripts and tests.

use crate::bot::Bot;
use crate::chat::{BotEvent, EventSink, Incoming, StageState, ThreadKey};
use serde::Deserialize;
use std::io::{IsTerminal, Write};
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

/// What the output task prints: the bot's events, and the user's own lines (so the live
/// progress block can be redrawn below what was typed over it).
enum Output {
    Event(BotEvent),
    Typed(String),
    /// Everything has been printed; the bot may still hold the sink, so the channel stays open.
    Done,
}

struct ConsoleSink(mpsc::UnboundedSender<Output>);

impl EventSink for ConsoleSink {
    fn emit(&self, event: BotEvent) {
        let _ = self.0.send(Output::Event(event));
    }
}

const CHANNEL: &str = "console";
const DEFAULT_THREAD: &str = "main";

/// Runs the console until end of input, then waits for running pipelines and returns.
pub async fn run(bot: Arc<Bot>, options: ConsoleOptions) -> std::io::Result<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink: Arc<dyn EventSink> = Arc::new(ConsoleSink(tx.clone()));
    let interactive =
        !options.json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let writer = tokio::spawn(write_events(rx, options.json, interactive));
    let background = bot.spawn_background();
    bot.deliver_recovery(CHANNEL, sink.clone()).await;
    // Bytes, not str: a stray non-UTF-8 byte must not end the session with runs in flight.
    let mut lines = BufReader::new(tokio::io::stdin()).split(b'\n');
    let mut thread = DEFAULT_THREAD.to_string();
    let mut line_no = 0usize;
    if interactive {
        print_prompt();
    }
    let mut interrupted = false;
    loop {
        let line = tokio::select! {
            line = lines.next_segment() => match line {
                Ok(bytes) => bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
                Err(e) => {
                    eprintln!("error: cannot read standard input ({e}); finishing running pipelines");
                    None
                }
            },
            _ = tokio::signal::ctrl_c() => {
                interrupted = true;
                None
            }
        };
        let Some(line) = line else { break };
        if interactive {
            let _ = tx.send(Output::Typed(line.clone()));
        }
        line_no += 1;
        let line = line.trim().to_string();
        if line.is_empty() {
            if interactive {
                print_prompt();
            }
            continue;
        }
        let incoming = if options.json {
            match serde_json::from_str::<JsonInput>(&line) {
                Ok(input) => Incoming {
                    thread: ThreadKey::new(
                        CHANNEL,
                        CHANNEL,
                        input.thread.as_deref().unwrap_or(DEFAULT_THREAD),
                    ),
                    user: input.user.unwrap_or_else(|| options.user.clone()),
                    text: input.text,
                    // Console input is never redelivered, so it carries no event id.
                    event_id: None,
                },
                Err(e) => {
                    let err = serde_json::json!({"type": "error", "line": line_no, "error": format!("expected {{\"user\": \"...\", \"text\": \"...\", \"thread\": \"...\"}}: {e}")});
                    println!("{err}");
                    continue;
                }
            }
        } else {
            if let Some(name) = line.strip_prefix("/thread ") {
                thread = name.trim().to_string();
                println!("(now talking in thread `{thread}`)");
                print_prompt_if(interactive);
                continue;
            }
            if line == "/quit" || line == "/exit" {
                break;
            }
            Incoming {
                thread: ThreadKey::new(CHANNEL, CHANNEL, &thread),
                user: options.user.clone(),
                text: line,
                event_id: None,
            }
        };
        bot.handle(incoming, sink.clone()).await;
    }
    let running = bot.active_runs();
    if !running.is_empty() {
        if interrupted || interactive {
            eprintln!(
                "Waiting for {} running run(s) to finish; press Ctrl-C to cancel them.",
                running.len()
            );
        }
        tokio::select! {
            _ = bot.wait_idle() => {}
            _ = tokio::signal::ctrl_c() => {
                let ids = bot.cancel_all_runs();
                eprintln!("Cancelling run(s) {ids:?}.");
                bot.wait_idle().await;
            }
        }
    }
    background.abort();
    let _ = tx.send(Output::Done);
    drop(sink);
    drop(tx);
    let _ = writer.await;
    Ok(())
}

fn print_prompt() {
    print!("you> ");
    let _ = std::io::stdout().flush();
}

fn print_prompt_if(interactive: bool) {
    if interactive {
        print_prompt();
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

/// The block of live progress lines at the bottom of the terminal, one per running run.
#[derive(Default)]
struct LiveBlock {
    lines: std::collections::BTreeMap<i64, String>,
    drawn: usize,
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

impl LiveBlock {
    /// Erases the drawn block, leaving the cursor at the start of its first line.
    fn clear(&mut self, out: &mut impl Write) {
        for i in 0..self.drawn {
            let _ = write!(out, "\r\x1b[2K");
            if i + 1 < self.drawn {
                let _ = write!(out, "\x1b[1A");
            }
        }
        self.drawn = 0;
    }

    fn draw(&mut self, out: &mut impl Write) {
        let n = self.lines.len();
        for (i, line) in self.lines.values().enumerate() {
            let _ = write!(
                out,
                "{}",
                line.chars().take(live_width()).collect::<String>()
            );
            if i + 1 < n {
                let _ = writeln!(out);
            }
        }
        self.drawn = n;
    }
}

async fn write_events(mut rx: mpsc::UnboundedReceiver<Output>, json: bool, interactive: bool) {
    let mut live = LiveBlock::default();
    while let Some(output) = rx.recv().await {
        let mut out = std::io::stdout().lock();
        let event = match output {
            Output::Event(event) => event,
            Output::Done => break,
            Output::Typed(text) => {
                if live.drawn > 0 {
                    // The text was typed over the live block and Enter moved the cursor below it:
                    // step back up, erase the block, keep the input as a normal transcript line.
                    let _ = write!(out, "\x1b[1A");
                    live.clear(&mut out);
                    let _ = writeln!(out, "you> {text}");
                    live.draw(&mut out);
                    let _ = out.flush();
                }
                continue;
            }
        };
        if json {
            let _ = writeln!(out, "{}", event_json(&event));
            let _ = out.flush();
            continue;
        }
        let thread = &event.thread().thread;
        let tag = if thread == DEFAULT_THREAD {
            String::new()
        } else {
            format!("[{thread}] ")
        };
        if interactive {
            // Erase the prompt or the live block before printing anything permanent.
            let _ = write!(out, "\r\x1b[2K");
            live.clear(&mut out);
        }
        match &event {
            BotEvent::Reply { text, .. }
            | BotEvent::ApprovalRequest { text, .. }
            | BotEvent::Prompt { text, .. }
            | BotEvent::Confirm { text, .. } => {
                let _ = writeln!(out, "deckhand> {tag}{}", text.replace('\n', "\n          "));
            }
            BotEvent::RunStarted {
                run_id,
                action,
                service,
                environment,
                version,
                strategy,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "deckhand> {tag}run {run_id}: {action} {service} {}{} {environment} ({strategy})",
                    version.as_deref().map(|v| format!("{v} ")).unwrap_or_default(),
                    if action == "deploy" { "to" } else { "in" }
                );
            }
            BotEvent::Progress {
                run_id,
                summary,
                line,
                state,
                stage,
                ..
            } => {
                if interactive {
                    let detail = line
                        .as_deref()
                        .map(|l| format!("  │ {l}"))
                        .unwrap_or_default();
                    live.lines
                        .insert(*run_id, format!("  run {run_id}: {summary}{detail}"));
                } else if *state != StageState::Running {
                    let _ = writeln!(out, "  {tag}run {run_id}: {stage} {}", state.as_str());
                }
            }
            BotEvent::RunFinished {
                run_id,
                summary,
                text,
                ..
            } => {
                live.lines.remove(run_id);
                let _ = writeln!(out, "deckhand> {tag}{summary}   {text}");
            }
        }
        if interactive {
            live.draw(&mut out);
            if live.drawn == 0 {
                let _ = write!(out, "you> ");
            }
        }
        let _ = out.flush();
    }
}
