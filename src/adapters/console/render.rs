//! What the console prints, from one task: the bot's events, the user's echoed lines, the
//! console's own notices and the prompt. Everything goes through [`Renderer::render`], so in a
//! terminal a permanent line is always written after the live progress block was erased and the
//! block is redrawn below it: nothing printed ever lands inside a live line.

use super::{event_json, DEFAULT_THREAD};
use crate::chat::{BotEvent, StageState};
use crate::store::Action;
use std::io::Write;

/// Which stream a notice belongs to when stdout is not a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stream {
    /// Part of the transcript (or, in `--json` mode, a protocol line).
    Stdout,
    /// About the console itself (shutdown, input errors); kept off the JSON protocol.
    Stderr,
}

/// One thing for the output task to print.
pub(super) enum Output {
    /// A bot event.
    Event(BotEvent),
    /// A line the user typed (so the live block can be redrawn below what was typed over it).
    Typed(String),
    /// A line from the console itself.
    Notice(String, Stream),
    /// Show the input prompt (when no live block occupies the bottom line).
    Prompt,
    /// Everything has been printed; the bot may still hold the sink, so the channel stays open.
    Done,
}

/// The block of live progress lines at the bottom of the terminal, one per running run.
#[derive(Default)]
struct LiveBlock {
    lines: std::collections::BTreeMap<i64, String>,
    drawn: usize,
}

impl LiveBlock {
    /// Erases the drawn block, leaving the cursor at the start of its first line.
    fn clear(&mut self, out: &mut dyn Write) {
        for i in 0..self.drawn {
            let _ = write!(out, "\r\x1b[2K");
            if i + 1 < self.drawn {
                let _ = write!(out, "\x1b[1A");
            }
        }
        self.drawn = 0;
    }

    /// Draws the block from the cursor (the start of an empty line); the cursor stays at the
    /// end of its last line.
    fn draw(&mut self, out: &mut dyn Write, width: usize) {
        let n = self.lines.len();
        for (i, line) in self.lines.values().enumerate() {
            let _ = write!(out, "{}", line.chars().take(width).collect::<String>());
            if i + 1 < n {
                let _ = writeln!(out);
            }
        }
        self.drawn = n;
    }
}

/// Turns [`Output`]s into bytes.
pub(super) struct Renderer {
    json: bool,
    interactive: bool,
    /// Longest live line drawn: longer lines would wrap and break the redraw.
    width: usize,
    live: LiveBlock,
    /// The line last printed for each running plan (without a terminal: printed on change).
    plans: std::collections::HashMap<i64, String>,
    /// The prompt is on the screen (after the last permanent line, no live block).
    prompt_shown: bool,
}

impl Renderer {
    /// A renderer for `--json` mode, a terminal (`interactive`) or plain human output.
    pub(super) fn new(json: bool, interactive: bool, width: usize) -> Renderer {
        Renderer {
            json,
            interactive,
            width: width.max(10),
            live: LiveBlock::default(),
            plans: Default::default(),
            prompt_shown: false,
        }
    }

    /// Prints one output; false once [`Output::Done`] arrives.
    pub(super) fn render(
        &mut self,
        output: Output,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> bool {
        match output {
            Output::Done => return false,
            Output::Typed(text) => self.typed(&text, out),
            Output::Prompt => {
                if self.interactive && self.live.drawn == 0 && !self.prompt_shown {
                    let _ = write!(out, "you> ");
                    self.prompt_shown = true;
                }
            }
            Output::Notice(text, stream) => {
                if self.interactive {
                    self.permanent(out, |out| {
                        let _ = writeln!(out, "{text}");
                    });
                } else if stream == Stream::Stdout {
                    let _ = writeln!(out, "{text}");
                } else {
                    let _ = writeln!(err, "{text}");
                }
            }
            Output::Event(event) if self.json => {
                let _ = writeln!(out, "{}", event_json(&event));
            }
            Output::Event(event) => self.event(&event, out),
        }
        let _ = out.flush();
        let _ = err.flush();
        true
    }

    fn typed(&mut self, text: &str, out: &mut dyn Write) {
        // Enter ended the prompt's line (or the live line typed over): a new prompt is needed.
        self.prompt_shown = false;
        if self.interactive && self.live.drawn > 0 {
            // The text was typed over the live block and Enter moved the cursor below it:
            // step back up, erase the block, keep the input as a normal transcript line.
            let _ = write!(out, "\x1b[1A");
            self.live.clear(out);
            let _ = writeln!(out, "you> {text}");
            self.live.draw(out, self.width);
        }
    }

    /// Erases the prompt or live block, prints `print`'s lines, redraws the block (or the
    /// prompt when there is none).
    fn permanent(&mut self, out: &mut dyn Write, print: impl FnOnce(&mut dyn Write)) {
        let _ = write!(out, "\r\x1b[2K");
        self.live.clear(out);
        self.prompt_shown = false;
        print(out);
        self.redraw(out);
    }

    fn redraw(&mut self, out: &mut dyn Write) {
        self.live.draw(out, self.width);
        if self.live.drawn == 0 {
            let _ = write!(out, "you> ");
            self.prompt_shown = true;
        }
    }

    fn event(&mut self, event: &BotEvent, out: &mut dyn Write) {
        let thread = &event.thread().thread;
        let tag = if thread == DEFAULT_THREAD {
            String::new()
        } else {
            format!("[{thread}] ")
        };
        let text = match event {
            BotEvent::Reply { text, .. }
            | BotEvent::ApprovalRequest { text, .. }
            | BotEvent::Prompt { text, .. }
            | BotEvent::Confirm { text, .. } => Some(format!(
                "deckhand> {tag}{}",
                text.replace('\n', "\n          ")
            )),
            BotEvent::RunStarted {
                run_id,
                action,
                service,
                environment,
                version,
                strategy,
                ..
            } => Some(format!(
                "deckhand> {tag}run {run_id}: {} {service} {}{} {environment} ({strategy})",
                action.as_str(),
                version
                    .as_deref()
                    .map(|v| format!("{v} "))
                    .unwrap_or_default(),
                if *action == Action::Deploy {
                    "to"
                } else {
                    "in"
                }
            )),
            BotEvent::Progress {
                run_id,
                summary,
                line,
                state,
                stage,
                ..
            } => {
                if self.interactive {
                    let detail = line
                        .as_deref()
                        .map(|l| format!("  │ {l}"))
                        .unwrap_or_default();
                    self.live
                        .lines
                        .insert(*run_id, format!("  run {run_id}: {summary}{detail}"));
                    None
                } else if *state != StageState::Running {
                    Some(format!("  {tag}run {run_id}: {stage} {}", state.as_str()))
                } else {
                    None
                }
            }
            // A plan's line is keyed below every run's (negative), so it sits on top.
            BotEvent::PlanProgress {
                plan_id,
                line,
                ended,
                ..
            } => {
                let key = -*plan_id;
                if self.interactive {
                    match ended {
                        true => self.live.lines.remove(&key),
                        false => self.live.lines.insert(key, format!("  {line}")),
                    };
                    None
                } else if self.plans.get(plan_id) != Some(line) {
                    self.plans.insert(*plan_id, line.clone());
                    if *ended {
                        self.plans.remove(plan_id);
                    }
                    Some(format!("  {tag}{line}"))
                } else {
                    None
                }
            }
            BotEvent::RunFinished {
                run_id,
                summary,
                text,
                ..
            } => {
                self.live.lines.remove(run_id);
                Some(format!("deckhand> {tag}{summary}   {text}"))
            }
        };
        if !self.interactive {
            if let Some(text) = text {
                let _ = writeln!(out, "{text}");
            }
            return;
        }
        // In a terminal: a live-line update only redraws the block, the rest is permanent.
        self.permanent(out, |out| {
            if let Some(text) = text {
                let _ = writeln!(out, "{text}");
            }
        });
    }
}

#[cfg(test)]
mod tests;
