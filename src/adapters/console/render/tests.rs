//! The renderer's bytes, played on a small terminal model (carriage return, line feed with the
//! terminal's usual CR-LF, erase line, cursor up, overwrite): for generated interleavings of
//! replies, run events, live-line updates, notices and typed lines, the screen must always be
//! the transcript followed by exactly the live block (or the prompt), with nothing printed inside
//! a live line.

use super::*;
use crate::chat::{RunStatus, ThreadKey};

/// The screen of a terminal wide enough never to wrap.
#[derive(Default)]
struct Screen {
    rows: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    fn feed(&mut self, bytes: &[u8]) {
        let text = String::from_utf8(bytes.to_vec()).expect("the renderer writes UTF-8");
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => self.col = 0,
                '\n' => {
                    self.row += 1;
                    self.col = 0;
                }
                '\x1b' => {
                    assert_eq!(chars.next(), Some('['), "only CSI sequences are written");
                    let mut arg = String::new();
                    let cmd = loop {
                        let c = chars.next().expect("a complete escape sequence");
                        if c.is_ascii_digit() {
                            arg.push(c);
                        } else {
                            break c;
                        }
                    };
                    match (arg.as_str(), cmd) {
                        ("2", 'K') => {
                            if let Some(r) = self.rows.get_mut(self.row) {
                                r.clear();
                            }
                        }
                        ("1", 'A') => self.row = self.row.saturating_sub(1),
                        other => panic!("unexpected escape sequence {other:?}"),
                    }
                }
                c => {
                    while self.rows.len() <= self.row {
                        self.rows.push(Vec::new());
                    }
                    let r = &mut self.rows[self.row];
                    while r.len() < self.col {
                        r.push(' ');
                    }
                    if self.col < r.len() {
                        r[self.col] = c;
                    } else {
                        r.push(c);
                    }
                    self.col += 1;
                }
            }
        }
    }

    /// The rows up to the cursor's, trailing empty rows dropped only below the cursor.
    fn lines(&self) -> Vec<String> {
        (0..=self.row)
            .map(|i| {
                self.rows
                    .get(i)
                    .map(|r| r.iter().collect())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Tiny seeded generator (splitmix64) so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn thread(name: &str) -> ThreadKey {
    ThreadKey::new("console", "console", name)
}

const WIDTH: usize = 60;

/// Drives a renderer and the model terminal, keeping the expected transcript and live block.
struct Rig {
    renderer: Renderer,
    screen: Screen,
    transcript: Vec<String>,
    live: std::collections::BTreeMap<i64, String>,
    prompt: bool,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            renderer: Renderer::new(false, true, WIDTH),
            screen: Screen::default(),
            transcript: Vec::new(),
            live: Default::default(),
            prompt: false,
        }
    }

    fn render(&mut self, output: Output) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(self.renderer.render(output, &mut out, &mut err));
        assert!(err.is_empty(), "a terminal session prints on one stream");
        self.screen.feed(&out);
    }

    fn permanent(&mut self, line: &str) {
        self.transcript.extend(line.split('\n').map(str::to_string));
        self.prompt = self.live.is_empty();
    }

    /// The user types a line: the terminal echoes it where the cursor is, then Enter.
    fn type_line(&mut self, text: &str) {
        self.screen.feed(format!("{text}\n").as_bytes());
        self.render(Output::Typed(text.to_string()));
        self.transcript.push(format!("you> {text}"));
        self.prompt = false;
        // In the model the prompt comes back when the console asks for it.
        self.render(Output::Prompt);
        self.prompt = self.live.is_empty();
    }

    fn check(&self, step: &str) {
        let mut expected = self.transcript.clone();
        let block: Vec<String> = self
            .live
            .values()
            .map(|l| l.chars().take(WIDTH).collect())
            .collect();
        if block.is_empty() {
            expected.push(if self.prompt {
                "you> ".into()
            } else {
                String::new()
            });
        } else {
            expected.extend(block);
        }
        let lines = self.screen.lines();
        assert_eq!(lines, expected, "screen after {step}");
        let last = lines.last().map(|l| l.chars().count()).unwrap_or(0);
        assert_eq!(
            self.screen.col, last,
            "cursor at the end of the bottom line after {step}"
        );
    }
}

#[test]
fn generated_interleavings_never_print_inside_the_live_block() {
    for seed in 0..300u64 {
        let mut rng = Rng(seed);
        let mut rig = Rig::new();
        rig.render(Output::Prompt);
        rig.prompt = true;
        rig.check(&format!("seed {seed}: the first prompt"));
        for step in 0..40 {
            let name = format!("seed {seed}, step {step}");
            let run_id = 1 + rng.below(3) as i64;
            let thread_name = if rng.below(4) == 0 { "ops" } else { "main" };
            let tag = if thread_name == "main" {
                String::new()
            } else {
                format!("[{thread_name}] ")
            };
            match rng.below(7) {
                0 => {
                    let text = if rng.below(3) == 0 {
                        format!("line one {step}\nline two\nline three")
                    } else {
                        format!("reply {step}")
                    };
                    rig.render(Output::Event(BotEvent::Reply {
                        thread: thread(thread_name),
                        text: text.clone(),
                        intent: None,
                        refusal: None,
                    }));
                    rig.permanent(&format!(
                        "deckhand> {tag}{}",
                        text.replace('\n', "\n          ")
                    ));
                }
                1 | 2 => {
                    let detail = if rng.below(2) == 0 {
                        // Long enough to need cutting at the terminal's width.
                        Some(format!(
                            "log line {step} {}",
                            "x".repeat(rng.below(80) as usize)
                        ))
                    } else {
                        None
                    };
                    let summary = format!("build ✓ 0.{step}s · deploy …");
                    rig.render(Output::Event(BotEvent::Progress {
                        thread: thread(thread_name),
                        run_id,
                        stage: "deploy".into(),
                        phase: crate::pipeline::Phase::Main,
                        state: StageState::Running,
                        line: detail.clone(),
                        summary: summary.clone(),
                    }));
                    let detail = detail.map(|l| format!("  │ {l}")).unwrap_or_default();
                    rig.live
                        .insert(run_id, format!("  run {run_id}: {summary}{detail}"));
                    rig.prompt = false;
                }
                3 => {
                    rig.render(Output::Event(BotEvent::RunFinished {
                        thread: thread(thread_name),
                        run_id,
                        status: RunStatus::Cancelled,
                        version: None,
                        summary: "build ✓ · deploy ✗".into(),
                        text: format!("run {run_id} was cancelled."),
                    }));
                    rig.live.remove(&run_id);
                    rig.permanent(&format!(
                        "deckhand> {tag}build ✓ · deploy ✗   run {run_id} was cancelled."
                    ));
                }
                4 => {
                    let text = format!("Waiting for {run_id} running run(s) to finish.");
                    let stream = if rng.below(2) == 0 {
                        Stream::Stdout
                    } else {
                        Stream::Stderr
                    };
                    rig.render(Output::Notice(text.clone(), stream));
                    rig.permanent(&text);
                }
                5 => {
                    let text = if rng.below(4) == 0 {
                        String::new()
                    } else {
                        format!("status {step}")
                    };
                    rig.type_line(&text);
                }
                _ => {
                    rig.render(Output::Event(BotEvent::RunStarted {
                        thread: thread(thread_name),
                        run_id,
                        action: crate::store::Action::Deploy,
                        service: "billionmail".into(),
                        environment: "dev".into(),
                        version: Some("2.4.0".into()),
                        strategy: crate::config::Strategy::Direct,
                    }));
                    rig.permanent(&format!(
                        "deckhand> {tag}run {run_id}: deploy billionmail 2.4.0 to dev (direct)"
                    ));
                }
            }
            rig.check(&name);
        }
    }
}

#[test]
fn non_terminal_output_has_no_escape_codes_and_keeps_streams_apart() {
    let mut r = Renderer::new(false, false, WIDTH);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    r.render(
        Output::Event(BotEvent::Progress {
            thread: thread("main"),
            run_id: 1,
            stage: "deploy".into(),
            phase: crate::pipeline::Phase::Main,
            state: StageState::Running,
            line: Some("deploying".into()),
            summary: "deploy …".into(),
        }),
        &mut out,
        &mut err,
    );
    r.render(
        Output::Notice("Cancelling run(s) [1].".into(), Stream::Stderr),
        &mut out,
        &mut err,
    );
    r.render(
        Output::Notice("(now talking in thread `ops`)".into(), Stream::Stdout),
        &mut out,
        &mut err,
    );
    r.render(Output::Prompt, &mut out, &mut err);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "(now talking in thread `ops`)\n"
    );
    assert_eq!(String::from_utf8(err).unwrap(), "Cancelling run(s) [1].\n");
    assert!(!r.render(Output::Done, &mut Vec::new(), &mut Vec::new()));
}

#[test]
fn json_mode_writes_one_object_per_event_and_notices_on_their_stream() {
    let mut r = Renderer::new(true, false, WIDTH);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    r.render(
        Output::Event(BotEvent::Reply {
            thread: thread("t1"),
            text: "hi".into(),
            intent: None,
            refusal: None,
        }),
        &mut out,
        &mut err,
    );
    r.render(
        Output::Notice("{\"type\":\"error\",\"line\":2}".into(), Stream::Stdout),
        &mut out,
        &mut err,
    );
    r.render(
        Output::Notice("Waiting for 1 running run(s).".into(), Stream::Stderr),
        &mut out,
        &mut err,
    );
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "reply");
    assert_eq!(lines[0]["thread"], "t1");
    assert_eq!(lines[1]["type"], "error");
    assert_eq!(lines.len(), 2);
    assert_eq!(
        String::from_utf8(err).unwrap(),
        "Waiting for 1 running run(s).\n"
    );
}
