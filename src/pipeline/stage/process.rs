//! The process stage kind: one stage as a child process (`sh -c`) in its own process group.
//! Output lines are streamed, `::key value` lines are collected as facts, and a timeout or
//! cancel stops the whole group. The group id is reported through `on_spawn` so that
//! [`crate::pipeline::stop_orphaned_stage`] can stop it after a crash.

use super::{StageEnd, StageJob, StageOutcome, StageRunner, LOG_TAIL_LINES};
use futures_util::future::BoxFuture;

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

const MAX_LINE: usize = 2000;
/// Time a stopped group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// Inherited variables a stage may see; everything else (tokens, secrets) is withheld.
const INHERITED_ENV: [&str; 7] = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// Runs a [`crate::config::StageKind::Process`] stage.
pub struct ProcessStage<'c> {
    /// Command line for `sh -c` (from the config, never from chat).
    pub command: &'c str,
}

impl StageRunner for ProcessStage<'_> {
    fn run<'a>(
        &'a self,
        job: StageJob<'a>,
        cancel: &'a mut watch::Receiver<bool>,
        on_line: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, StageOutcome> {
        let cmd = StageCommand {
            command: self.command,
            cwd: job.cwd,
            env: job.env,
            timeout: job.timeout,
            on_spawn: job.on_spawn,
            fact_tx: job.fact_tx,
        };
        Box::pin(run_stage(cmd, cancel, on_line))
    }
}

/// What to run.
pub struct StageCommand<'a> {
    /// Command line for `sh -c` (from the config, never from chat).
    pub command: &'a str,
    /// Working directory.
    pub cwd: &'a Path,
    /// Environment (validated values only).
    pub env: &'a [(String, String)],
    /// Time limit.
    pub timeout: Duration,
    /// Called with the process group id once the stage has started (recorded for recovery).
    pub on_spawn: Option<Box<dyn FnOnce(u32) + Send + 'a>>,
    /// Receives each `::key value` fact as soon as the stage prints it (they are also in
    /// [`StageOutcome::facts`]), so a switch is known even if the stage never finishes.
    pub fact_tx: Option<mpsc::UnboundedSender<(String, String)>>,
}

fn signal_group(pgid: u32, signal: i32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        if pgid > 0 {
            // SAFETY: kill(2) with a negative pid signals the process group we created; it
            // touches no memory of ours.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }
}

/// Longest piece of output read before it is passed on as a line, so a stage that prints
/// without newlines cannot grow memory without bound.
const MAX_CHUNK: usize = 8192;

fn send_line(bytes: &[u8]) -> String {
    let mut line = String::from_utf8_lossy(bytes)
        .trim_end_matches('\r')
        .to_string();
    if line.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

async fn pump<R: AsyncRead + Unpin>(reader: R, tx: mpsc::Sender<String>) {
    let mut reader = BufReader::new(reader);
    let mut buf: Vec<u8> = Vec::new();
    while let Ok(chunk) = reader.fill_buf().await {
        if chunk.is_empty() {
            if !buf.is_empty() {
                let _ = tx.send(send_line(&buf)).await;
            }
            break;
        }
        let (used, line_end) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, Some(i)),
            None => (chunk.len(), None),
        };
        buf.extend_from_slice(&chunk[..line_end.unwrap_or(used)]);
        reader.consume(used);
        if line_end.is_some() || buf.len() >= MAX_CHUNK {
            let line = send_line(&buf);
            buf.clear();
            if tx.send(line).await.is_err() {
                break;
            }
        }
    }
}

/// Runs the stage, calling `on_line` for every output line (facts excluded).
pub async fn run_stage(
    cmd: StageCommand<'_>,
    cancel: &mut watch::Receiver<bool>,
    mut on_line: impl FnMut(&str),
) -> StageOutcome {
    let started = Instant::now();
    let mut child = match spawn(cmd.command, cmd.cwd, cmd.env) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!(
                "could not start `{}` in {}: {e}",
                cmd.command,
                cmd.cwd.display()
            );
            on_line(&msg);
            return StageOutcome {
                end: StageEnd::Failed(None),
                duration: started.elapsed(),
                tail: vec![msg],
                facts: Vec::new(),
            };
        }
    };
    let pgid = child.id().unwrap_or(0);
    if let Some(f) = cmd.on_spawn {
        f(pgid);
    }
    let (tx, rx) = mpsc::channel::<String>(256);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(out, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(err, tx.clone()));
    }
    drop(tx);
    let mut output = Output {
        tail: VecDeque::with_capacity(LOG_TAIL_LINES),
        facts: Vec::new(),
        fact_tx: cmd.fact_tx,
        on_line: &mut on_line,
    };
    let stage = Watched {
        child: &mut child,
        pgid,
        deadline: started + cmd.timeout,
    };
    let end = stage.watch(rx, cancel, &mut output).await;
    StageOutcome {
        end,
        duration: started.elapsed(),
        tail: output.tail.into(),
        facts: output.facts,
    }
}

/// Starts `sh -c command` in its own process group with only the allowed environment.
fn spawn(
    command_line: &str,
    cwd: &Path,
    env: &[(String, String)],
) -> std::io::Result<tokio::process::Child> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(command_line)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for key in INHERITED_ENV {
        if let Ok(v) = std::env::var(key) {
            command.env(key, v);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.spawn()
}

/// Where a stage's output goes: facts to the fact channel, lines to `on_line` and the tail.
struct Output<'a, F: FnMut(&str)> {
    tail: VecDeque<String>,
    facts: Vec<(String, String)>,
    fact_tx: Option<mpsc::UnboundedSender<(String, String)>>,
    on_line: &'a mut F,
}

impl<F: FnMut(&str)> Output<'_, F> {
    fn line(&mut self, line: String) {
        if let Some(fact) = line.strip_prefix("::") {
            let (k, v) = fact.split_once(' ').unwrap_or((fact, ""));
            let fact = (k.trim().to_string(), v.trim().to_string());
            if let Some(tx) = &self.fact_tx {
                let _ = tx.send(fact.clone());
            }
            self.facts.push(fact);
            return;
        }
        (self.on_line)(&line);
        if self.tail.len() == LOG_TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

/// A started stage process and its limits.
struct Watched<'a> {
    child: &'a mut tokio::process::Child,
    pgid: u32,
    deadline: Instant,
}

impl Watched<'_> {
    /// Passes output on until the process has exited and its output is drained, stopping the
    /// group at the deadline or on cancel; returns how the stage ended.
    async fn watch<F: FnMut(&str)>(
        self,
        mut rx: mpsc::Receiver<String>,
        cancel: &mut watch::Receiver<bool>,
        output: &mut Output<'_, F>,
    ) -> StageEnd {
        let (child, pgid) = (self.child, self.pgid);
        let mut stopped: Option<StageEnd> = None;
        let mut exit: Option<std::process::ExitStatus> = None;
        let mut output_open = true;
        while exit.is_none() || output_open {
            tokio::select! {
                line = rx.recv(), if output_open => match line {
                    Some(line) => output.line(line),
                    None => output_open = false,
                },
                status = child.wait(), if exit.is_none() => {
                    exit = Some(status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(1 << 8)));
                    // Background children that outlive the stage would hold the pipes open forever.
                    signal_group(pgid, libc::SIGKILL);
                }
                _ = tokio::time::sleep_until(self.deadline), if stopped.is_none() && exit.is_none() => {
                    stopped = Some(StageEnd::TimedOut);
                    stop_group(pgid, child).await;
                }
                changed = cancel.changed(), if stopped.is_none() && exit.is_none() => {
                    if changed.is_err() || *cancel.borrow() {
                        stopped = Some(StageEnd::Cancelled);
                        stop_group(pgid, child).await;
                    }
                }
            }
        }
        match (stopped, exit) {
            (Some(s), _) => s,
            (None, Some(st)) if st.success() => StageEnd::Succeeded,
            (None, st) => StageEnd::Failed(st.and_then(|s| s.code())),
        }
    }
}

/// SIGTERM to the group, up to [`KILL_GRACE`] for the stage's main process to exit, then
/// SIGKILL to whatever is left of the group.
async fn stop_group(pgid: u32, child: &mut tokio::process::Child) {
    signal_group(pgid, libc::SIGTERM);
    let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
    signal_group(pgid, libc::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(command: &str, timeout_ms: u64) -> (StageOutcome, Vec<String>) {
        let (_tx, mut rx) = watch::channel(false);
        let mut lines = Vec::new();
        let env = vec![("GREETING".to_string(), "hi $(touch /tmp/x)".to_string())];
        let out = run_stage(
            StageCommand {
                command,
                cwd: Path::new("."),
                env: &env,
                timeout: Duration::from_millis(timeout_ms),
                on_spawn: None,
                fact_tx: None,
            },
            &mut rx,
            |l| lines.push(l.to_string()),
        )
        .await;
        (out, lines)
    }

    #[tokio::test]
    async fn streams_lines_and_collects_facts() {
        let (out, lines) = run(
            "echo one; echo two >&2; echo '::version 2.4.0'; printf 'no newline'",
            10_000,
        )
        .await;
        assert_eq!(out.end, StageEnd::Succeeded);
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(sorted, vec!["no newline", "one", "two"]);
        assert_eq!(
            out.facts,
            vec![("version".to_string(), "2.4.0".to_string())]
        );
    }

    #[tokio::test]
    async fn facts_arrive_while_the_stage_still_runs() {
        let (_cancel_tx, mut cancel) = watch::channel(false);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let stage = tokio::spawn(async move {
            run_stage(
                StageCommand {
                    command: "echo '::live 2.4.0'; sleep 5; echo done",
                    cwd: Path::new("."),
                    env: &[],
                    timeout: Duration::from_secs(30),
                    on_spawn: None,
                    fact_tx: Some(tx),
                },
                &mut cancel,
                |_| {},
            )
            .await
        });
        let fact = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .expect("the fact came before the stage ended");
        assert_eq!(fact, Some(("live".to_string(), "2.4.0".to_string())));
        assert!(!stage.is_finished());
        let out = stage.await.unwrap();
        assert_eq!(out.facts, vec![("live".to_string(), "2.4.0".to_string())]);
        assert_eq!(rx.recv().await, None, "the channel closes with the stage");
    }

    #[tokio::test]
    async fn env_values_are_data_not_code() {
        let (out, lines) = run("printf '%s\\n' \"$GREETING\"", 10_000).await;
        assert_eq!(out.end, StageEnd::Succeeded);
        assert_eq!(lines, vec!["hi $(touch /tmp/x)"]);
    }

    #[tokio::test]
    async fn secrets_in_the_parent_environment_are_not_inherited() {
        std::env::set_var("DECKHAND_SECRET_PROBE", "s3cret");
        let (_, lines) = run("echo \"[${DECKHAND_SECRET_PROBE:-}]\"", 10_000).await;
        assert_eq!(lines, vec!["[]"]);
    }

    #[tokio::test]
    async fn failures_report_the_exit_code() {
        let (out, _) = run("echo boom >&2; exit 3", 10_000).await;
        assert_eq!(out.end, StageEnd::Failed(Some(3)));
        assert_eq!(out.tail, vec!["boom"]);
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let (out, _) = run("sleep 30 & sleep 30; echo never", 300).await;
        assert_eq!(out.end, StageEnd::TimedOut);
        assert!(out.duration < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn cancel_stops_the_stage() {
        let (tx, mut rx) = watch::channel(false);
        let (line_tx, mut first_line) = mpsc::unbounded_channel::<String>();
        let task = tokio::spawn(async move {
            run_stage(
                StageCommand {
                    command: "echo started; sleep 30",
                    cwd: Path::new("."),
                    env: &[],
                    timeout: Duration::from_secs(60),
                    on_spawn: None,
                    fact_tx: None,
                },
                &mut rx,
                |l| {
                    let _ = line_tx.send(l.to_string());
                },
            )
            .await
        });
        // Cancelled once the stage has printed, so the line is surely in its tail.
        assert_eq!(first_line.recv().await.as_deref(), Some("started"));
        tx.send(true).unwrap();
        let out = task.await.unwrap();
        assert_eq!(out.end, StageEnd::Cancelled);
        assert_eq!(out.tail, vec!["started"]);
    }

    #[tokio::test]
    async fn cancel_asks_politely_first() {
        let (tx, mut rx) = watch::channel(false);
        let (line_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
        let task = tokio::spawn(async move {
            run_stage(
                StageCommand {
                    command: "trap 'echo cleaning up; exit 143' TERM; echo ready; while :; do sleep 0.05; done",
                    cwd: Path::new("."),
                    env: &[],
                    timeout: Duration::from_secs(60),
                    on_spawn: None,
                    fact_tx: None,
                },
                &mut rx,
                |l| {
                    let _ = line_tx.send(l.to_string());
                },
            )
            .await
        });
        // "ready" is printed after the trap is set: cancelling now reaches the handler.
        assert_eq!(lines_rx.recv().await.as_deref(), Some("ready"));
        tx.send(true).unwrap();
        let out = task.await.unwrap();
        assert_eq!(out.end, StageEnd::Cancelled);
        let mut lines = vec!["ready".to_string()];
        while let Some(l) = lines_rx.recv().await {
            lines.push(l);
        }
        assert!(
            lines.iter().any(|l| l == "cleaning up"),
            "the stage's TERM handler ran: {lines:?}"
        );
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_clear_failure() {
        let (_tx, mut rx) = watch::channel(false);
        let out = run_stage(
            StageCommand {
                command: "true",
                cwd: Path::new("/nonexistent/dir"),
                env: &[],
                timeout: Duration::from_secs(5),
                on_spawn: None,
                fact_tx: None,
            },
            &mut rx,
            |_| {},
        )
        .await;
        assert_eq!(out.end, StageEnd::Failed(None));
        assert!(out.tail[0].contains("could not start"));
    }
}
