//! Signals never lose a result: the real `deckhand chat --json` binary gets SIGTERM and SIGINT
//! (once or several times) at seeded random moments of a scripted session, from start-up to
//! the wait for running runs, with slow stages in flight. Every time it must exit 0, report
//! an end for every run it started, leave no run `running` in the store, write each run's
//! start and finish to the audit log and keep the chain intact (`deckhand audit verify`).
//!
//! A quarter of the sessions speak human mode (plain lines, `/thread`), the rest `--json`;
//! `deckhand serve` (Slack through a local fake) gets the same treatment.
//!
//! Replay one case: `DECKHAND_SIGNAL_SEED=<seed> cargo test --test signals_binary`.

mod support;

use deckhand::chat::RunStatus;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::{root, temp_dir};

/// Tiny seeded generator (splitmix64): a failing schedule can be replayed from its seed.
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

/// The conversation tests' pipelines with state in `dir` and a shorter slow stage, so a run
/// that is waited for (not cancelled) ends in well under a second.
fn config_in(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("tests/conversations/test-pipelines.yaml"))
        .unwrap()
        .replace(
            "sqlite://.deckhand/test.db",
            &format!("sqlite://{}/deckhand.db", dir.display()),
        )
        .replace("sleep 30; echo done", "sleep 0.7; echo done");
    assert!(text.contains("sleep 0.7"), "the slow stage is still there");
    let path = dir.join("deckhand.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The scripted session: runs in several threads (slow, failing, timing out) between
/// questions, so signals land during stages, between turns and during the final wait.
const SCRIPT: &[(&str, &str)] = &[
    ("t1", "deploy slow-api to dev"),
    ("t1", "yes"),
    ("t2", "status"),
    ("t2", "deploy flaky-api to dev"),
    ("t2", "yes"),
    ("t3", "deploy slow-api 1.0.0 to staging"),
    ("t3", "yes"),
    ("t1", "history slow-api"),
    ("t4", "deploy hang-api to dev"),
    ("t4", "yes"),
    ("t2", "explain flaky-api"),
];

#[derive(Debug, Clone, Copy)]
enum Sig {
    Term,
    Int,
}

/// When and what to send, and how the input is paced; all drawn from the seed.
#[derive(Debug)]
struct Schedule {
    seed: u64,
    /// Pause before each script line.
    gaps_ms: Vec<u64>,
    /// Input stays open this long after the last line (then end of input)...
    hold_ms: u64,
    /// ...or until the process has exited (it must exit without another line).
    keep_open: bool,
    /// Each signal: delay after the previous one (the first: after the handlers exist).
    signals: Vec<(u64, Sig)>,
    /// The first signal's delay counts from this line of output (0: from the handlers).
    after_line: usize,
    /// Human mode (`/thread` lines and plain text) instead of `--json`.
    human: bool,
}

impl Schedule {
    fn new(seed: u64) -> Schedule {
        let mut rng = Rng(seed);
        let gaps_ms = SCRIPT.iter().map(|_| rng.below(250)).collect();
        let hold_ms = rng.below(1500);
        // The first signal comes a little after the k-th line of output (k = 0: during
        // start-up), so it lands in start-up, a turn, a stage or the final wait alike.
        let after_line = match rng.below(6) {
            0 => 0,
            _ => 1 + rng.below(40) as usize,
        };
        let count = 1 + rng.below(4) as usize;
        let mut signals = Vec::new();
        for i in 0..count {
            // The next ones come in quick succession or a little later.
            let delay = if i == 0 {
                rng.below(if after_line == 0 { 1500 } else { 300 })
            } else {
                rng.below(600)
            };
            let sig = if rng.below(2) == 0 {
                Sig::Term
            } else {
                Sig::Int
            };
            signals.push((delay, sig));
        }
        Schedule {
            seed,
            gaps_ms,
            hold_ms,
            keep_open: rng.below(2) == 0,
            signals,
            after_line,
            human: seed % 4 == 0,
        }
    }
}

/// True once the process catches SIGINT and SIGTERM (its handlers are installed).
fn catches_int_and_term(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| {
            let bit = |sig: i32| 1u64 << (sig - 1);
            mask & bit(libc::SIGINT) != 0 && mask & bit(libc::SIGTERM) != 0
        })
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// What one session produced.
struct Outcome {
    status: ExitStatus,
    /// The JSON events (`--json` sessions).
    events: Option<Vec<Value>>,
    stderr: String,
}

fn run_session(config: &Path, plan: &Schedule) -> Outcome {
    let mode: &[&str] = if plan.human { &[] } else { &["--json"] };
    let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("chat")
        .args(mode)
        .args(["--user", "carol", "--config"])
        .arg(config)
        .env("DECKHAND_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            lines.push(line.unwrap());
            let _ = line_tx.send(());
        }
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let gaps = plan.gaps_ms.clone();
    let hold = plan.hold_ms;
    let human = plan.human;
    let (exited_tx, exited_rx) = std::sync::mpsc::channel::<()>();
    let keep_open = plan.keep_open.then_some(exited_rx);
    let writer = std::thread::spawn(move || {
        for ((thread, text), gap) in SCRIPT.iter().zip(gaps) {
            std::thread::sleep(Duration::from_millis(gap));
            let line = if human {
                format!("/thread {thread}\n{text}\n")
            } else {
                format!("{{\"text\": \"{text}\", \"thread\": \"{thread}\"}}\n")
            };
            // The process may already have stopped reading: a broken pipe is expected.
            if stdin.write_all(line.as_bytes()).is_err() || stdin.flush().is_err() {
                return;
            }
        }
        match keep_open {
            // Input never ends: the process must not wait for one more line to exit.
            Some(exited) => {
                let _ = exited.recv();
            }
            None => std::thread::sleep(Duration::from_millis(hold)),
        }
        drop(stdin);
    });
    let until = Instant::now() + Duration::from_secs(20);
    while !catches_int_and_term(pid) {
        assert!(
            Instant::now() < until,
            "seed {}: the handlers were never installed",
            plan.seed
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..plan.after_line {
        // The output ended (the process exited) before that line: signal it anyway.
        if line_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            break;
        }
    }
    for (delay, sig) in &plan.signals {
        std::thread::sleep(Duration::from_millis(*delay));
        let sig = match sig {
            Sig::Term => libc::SIGTERM,
            Sig::Int => libc::SIGINT,
        };
        // SAFETY: kill(2) on our own child; it may have exited already (then ESRCH or a
        // not-yet-reaped zombie, both harmless).
        unsafe { libc::kill(pid as i32, sig) };
    }
    let status = match wait_with_limit(&mut child, Duration::from_secs(30)) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            panic!("seed {}: deckhand did not exit: {plan:?}", plan.seed);
        }
    };
    drop(exited_tx);
    writer.join().unwrap();
    let lines = reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let events = if plan.human {
        None
    } else {
        Some(
            lines
                .iter()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("seed {}: not JSON: {l}: {e}", plan.seed))
                })
                .collect(),
        )
    };
    Outcome {
        status,
        events,
        stderr,
    }
}

/// The run ids of one kind of audit entry ("run.started", "run.finished").
fn audited_runs(entries: &[Value], kind: &str) -> BTreeSet<i64> {
    entries
        .iter()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["subject"].as_str()?.strip_prefix("run ")?.parse().ok())
        .collect()
}

/// Checks one session; returns how its runs ended.
fn check(config: &Path, dir: &Path, plan: &Schedule, out: &Outcome) -> Vec<String> {
    let mut ended = Vec::new();
    let seed = plan.seed;
    let ctx = format!("seed {seed}, {plan:?}\nstderr:\n{}", out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "exit by status 0, not by the signal: {ctx}"
    );
    for bad in ["closed pool", "panicked", "could not store"] {
        assert!(!out.stderr.contains(bad), "`{bad}` in stderr: {ctx}");
    }
    // Every run the session started was reported as ended, with an end that is true.
    let reported = out.events.as_ref().map(|events| {
        let started: BTreeSet<i64> = events
            .iter()
            .filter(|e| e["type"] == "run_started")
            .map(|e| e["run_id"].as_i64().unwrap())
            .collect();
        let finished: BTreeMap<i64, String> = events
            .iter()
            .filter(|e| e["type"] == "run_finished")
            .map(|e| {
                (
                    e["run_id"].as_i64().unwrap(),
                    e["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            started,
            finished.keys().copied().collect(),
            "every run ends: {ctx}"
        );
        finished
    });
    let deckhand = |args: &[&str]| support::run_with_config(args, config);
    let verify = deckhand(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "audit verify: {} {ctx}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let export = deckhand(&["audit", "export"]);
    assert!(export.status.success(), "audit export: {ctx}");
    let entries: Vec<Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let started = audited_runs(&entries, "run.started");
    assert_eq!(
        audited_runs(&entries, "run.finished"),
        started,
        "run.finished audited for every run.started: {ctx}"
    );
    if let Some(finished) = &reported {
        assert_eq!(
            finished.keys().copied().collect::<BTreeSet<_>>(),
            started,
            "the runs reported are the runs audited: {ctx}"
        );
    }
    // The store agrees, and nothing is left `running`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = deckhand::store::Store::open(&format!(
            "sqlite://{}/deckhand.db?mode=rwc",
            dir.display()
        ))
        .await
        .unwrap();
        assert!(
            store.running_runs().await.unwrap().is_empty(),
            "no run left running: {ctx}"
        );
        for id in &started {
            let run = store.run(*id).await.unwrap().expect("the run is stored");
            assert!(
                matches!(
                    run.status,
                    RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
                ),
                "run {id} ended {:?}: {ctx}",
                run.status
            );
            if let Some(finished) = &reported {
                assert_eq!(
                    run.status.as_str(),
                    finished[id],
                    "run {id} stored as reported: {ctx}"
                );
            }
            ended.push(run.status.as_str().to_string());
        }
        store.close().await;
    });
    ended
}

#[test]
fn signals_at_random_moments_never_lose_a_result() {
    let seeds: Vec<u64> = match std::env::var("DECKHAND_SIGNAL_SEED") {
        Ok(s) => vec![s.parse().expect("DECKHAND_SIGNAL_SEED is a number")],
        Err(_) => (1..=20).collect(),
    };
    // A few sessions at a time keep the whole test well under two minutes.
    let mut cases = seeds.into_iter().peekable();
    let mut kinds = BTreeMap::<String, usize>::new();
    while cases.peek().is_some() {
        let batch: Vec<u64> = cases.by_ref().take(4).collect();
        let handles: Vec<_> = batch
            .into_iter()
            .map(|seed| {
                std::thread::spawn(move || {
                    let dir = temp_dir(&format!("signals-{seed}"));
                    let config = config_in(&dir);
                    let plan = Schedule::new(seed);
                    let out = run_session(&config, &plan);
                    let ended = check(&config, &dir, &plan, &out);
                    eprintln!(
                        "chat seed {seed} ({}): signals {:?}, runs ended {ended:?}",
                        if plan.human { "human" } else { "json" },
                        plan.signals
                    );
                    std::fs::remove_dir_all(&dir).unwrap();
                    ended
                })
            })
            .collect();
        for h in handles {
            for status in h.join().unwrap() {
                *kinds.entry(status).or_default() += 1;
            }
        }
    }
    eprintln!("run endings over the sessions: {kinds:?}");
}

/// `deckhand serve` with Slack (a local fake) and a slow pipeline: signals at seeded random
/// moments from start-up on, once or repeatedly, while a deploy may be in flight.
mod serve {
    use super::*;
    use support::fake_slack::FakeSlack;
    use support::slack_rig::{mention, now_secs, reply, signed_headers, SECRET};

    fn config(dir: &Path, api_base: &str) -> PathBuf {
        let text = std::fs::read_to_string(root().join("tests/data/slack_deckhand.yaml"))
            .unwrap()
            .replace("http://127.0.0.1:9/api", api_base)
            .replace(
                "sqlite://.deckhand/slack-test.db",
                &format!("sqlite://{}/deckhand.db", dir.display()),
            )
            .replace(
                "services:\n",
                "services:\n  - name: slow-api\n    pipeline: slow\n",
            )
            .replace(
                "pipelines:\n",
                "pipelines:\n  slow:\n    stages:\n      - name: build\n        command: \"echo '::version 1.0.0'\"\n      - name: deploy\n        command: \"echo deploying; sleep 0.8; echo done\"\n",
            );
        let path = dir.join("deckhand.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A signed Events API post; the server may be gone already, so failures are returned.
    async fn post_event(addr: &str, body: &Value) -> Result<u16, String> {
        use http_body_util::{BodyExt, Full};
        let bytes = body.to_string().into_bytes();
        let client: hyper_util::client::legacy::Client<_, Full<axum::body::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let mut req = hyper::Request::post(format!("http://{addr}/slack/events"));
        for (k, v) in signed_headers(&bytes, "application/json", now_secs()) {
            req = req.header(k, v);
        }
        let req = req
            .header("connection", "close")
            .body(Full::new(axum::body::Bytes::from(bytes)))
            .map_err(|e| e.to_string())?;
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Ok(status)
    }

    fn session(seed: u64) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let fake = FakeSlack::start().await;
            let dir = temp_dir(&format!("serve-signals-{seed}"));
            let config = config(&dir, &fake.api_base);
            let mut rng = Rng(seed);
            let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
                .args(["serve", "--listen", "127.0.0.1:0", "--config"])
                .arg(&config)
                .env("SLACK_BOT_TOKEN", "xoxb-test")
                .env("SLACK_SIGNING_SECRET", SECRET)
                .env_remove("SLACK_APP_TOKEN")
                .env("DECKHAND_LOG", "warn")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            let stderr = child.stderr.take().unwrap();
            let (addr_tx, addr_rx) = std::sync::mpsc::channel();
            let err_reader = std::thread::spawn(move || {
                let mut all = String::new();
                for line in BufReader::new(stderr).lines() {
                    let line = line.unwrap_or_default();
                    if let Some(rest) = line.split("serving on http://").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        let _ = addr_tx.send(addr.to_string());
                    }
                    all.push_str(&line);
                    all.push('\n');
                }
                all
            });
            // Talk to it from another task as soon as it listens: a deploy that takes a while.
            let pause = rng.below(400);
            // How far the conversation got: 1 once the request was answered, 2 after "yes".
            let (step_tx, mut step_rx) = tokio::sync::watch::channel(0u8);
            let talk = tokio::spawn(async move {
                let Ok(addr) = tokio::task::spawn_blocking(move || addr_rx.recv())
                    .await
                    .unwrap()
                else {
                    return;
                };
                let ts = format!("{seed}.100");
                let _ =
                    post_event(&addr, &mention("UALICE", "deploy slow-api to staging", &ts)).await;
                let _ = step_tx.send(1);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let _ =
                    post_event(&addr, &reply("UALICE", "yes", &format!("{seed}.200"), &ts)).await;
                let _ = step_tx.send(2);
            });
            let until = Instant::now() + Duration::from_secs(20);
            while !catches_int_and_term(pid) {
                assert!(Instant::now() < until, "seed {seed}: no handlers");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // The first signal counts from start-up, the request or the "yes" (a run in flight).
            let anchor = rng.below(3) as u8;
            let mut plan = Vec::new();
            for i in 0..1 + rng.below(3) {
                let delay = match (i, anchor) {
                    (0, 0) => rng.below(1500),
                    (0, _) => rng.below(1200),
                    _ => rng.below(500),
                };
                let sig = if rng.below(2) == 0 {
                    libc::SIGTERM
                } else {
                    libc::SIGINT
                };
                plan.push((delay, sig));
            }
            // The talk ends early when serve stopped first; then the signals go anyway.
            let _ =
                tokio::time::timeout(Duration::from_secs(20), step_rx.wait_for(|s| *s >= anchor))
                    .await;
            for (delay, sig) in &plan {
                tokio::time::sleep(Duration::from_millis(*delay)).await;
                // SAFETY: kill(2) on our own child.
                unsafe { libc::kill(pid as i32, *sig) };
            }
            let status = tokio::task::spawn_blocking(move || {
                let s = wait_with_limit(&mut child, Duration::from_secs(30));
                if s.is_none() {
                    let _ = child.kill();
                }
                s
            })
            .await
            .unwrap();
            let _ = talk.await;
            let stderr = err_reader.join().unwrap();
            let ctx = format!("seed {seed}, anchor {anchor}, signals {plan:?}\nstderr:\n{stderr}");
            let status = status.unwrap_or_else(|| panic!("serve did not stop: {ctx}"));
            assert_eq!(status.code(), Some(0), "serve exits 0: {ctx}");
            for bad in ["closed pool", "panicked", "could not store"] {
                assert!(!stderr.contains(bad), "`{bad}`: {ctx}");
            }
            let deckhand = |args: &[&str]| {
                Command::new(env!("CARGO_BIN_EXE_deckhand"))
                    .args(args)
                    .arg("--config")
                    .arg(&config)
                    .output()
                    .unwrap()
            };
            // Nothing to check when the signal came before the store was ever opened.
            if dir.join("deckhand.db").exists() {
                let verify = deckhand(&["audit", "verify"]);
                assert!(verify.status.success(), "audit verify: {ctx}");
                let export = deckhand(&["audit", "export"]);
                let entries: Vec<Value> = String::from_utf8_lossy(&export.stdout)
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(
                    audited_runs(&entries, "run.started"),
                    audited_runs(&entries, "run.finished"),
                    "every started run is audited as finished: {ctx}"
                );
                let store = deckhand::store::Store::open(&format!(
                    "sqlite://{}/deckhand.db?mode=rwc",
                    dir.display()
                ))
                .await
                .unwrap();
                assert!(store.running_runs().await.unwrap().is_empty(), "{ctx}");
                let mut ended = Vec::new();
                for id in audited_runs(&entries, "run.started") {
                    let run = store.run(id).await.unwrap().expect("stored");
                    ended.push(run.status.as_str());
                }
                eprintln!(
                    "serve seed {seed}: anchor {anchor}, signals {plan:?}, runs ended {ended:?}"
                );
                store.close().await;
            }
            std::fs::remove_dir_all(&dir).unwrap();
        });
    }

    #[test]
    fn serve_stops_cleanly_on_signals_at_random_moments() {
        let seeds: Vec<u64> = match std::env::var("DECKHAND_SIGNAL_SEED") {
            Ok(s) => vec![s.parse().expect("DECKHAND_SIGNAL_SEED is a number")],
            Err(_) => (101..=108).collect(),
        };
        for batch in seeds.chunks(4) {
            let handles: Vec<_> = batch
                .iter()
                .map(|&seed| std::thread::spawn(move || session(seed)))
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
    }
}

/// `deckhand chat` in a real terminal (a pseudo-terminal it controls): Ctrl-C typed while a
/// run's stage is going is the terminal's SIGINT, exactly as a user at a keyboard sends it.
mod terminal {
    use super::*;
    use std::fs::File;
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::sync::{Arc, Mutex};

    struct Session {
        child: Child,
        master: File,
        screen: Arc<Mutex<String>>,
    }

    impl Session {
        fn start(config: &Path) -> Session {
            let (mut master, mut slave) = (0, 0);
            let size = libc::winsize {
                ws_row: 40,
                ws_col: 120,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: openpty fills two descriptors we then own.
            let rc = unsafe {
                libc::openpty(
                    &mut master,
                    &mut slave,
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    &size,
                )
            };
            assert_eq!(rc, 0, "openpty");
            // SAFETY: fresh descriptors from openpty, each wrapped once.
            let (master, slave) =
                unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_deckhand"));
            cmd.args(["chat", "--user", "carol", "--config"])
                .arg(config)
                .env("DECKHAND_LOG", "warn")
                .stdin(Stdio::from(slave.try_clone().unwrap()))
                .stdout(Stdio::from(slave.try_clone().unwrap()))
                .stderr(Stdio::from(slave));
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    // Its own session with the terminal as controlling tty: Ctrl-C reaches it.
                    if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd.spawn().unwrap();
            let screen = Arc::new(Mutex::new(String::new()));
            let mut reader = master.try_clone().unwrap();
            let sink = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Ends with EIO once the process and its terminal are gone.
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            Session {
                child,
                master,
                screen,
            }
        }

        fn type_keys(&mut self, keys: &str) {
            self.master.write_all(keys.as_bytes()).unwrap();
            self.master.flush().unwrap();
        }

        fn wait_for(&self, needle: &str) {
            let until = Instant::now() + Duration::from_secs(20);
            while !self.screen.lock().unwrap().contains(needle) {
                assert!(
                    Instant::now() < until,
                    "never saw {needle:?} on the terminal:\n{}",
                    self.screen.lock().unwrap()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Ctrl-C once waits, twice cancels, more only repeat that results are being recorded;
    /// the process then exits 0 by itself (no Enter needed) with the run stored `cancelled`.
    #[test]
    fn ctrl_c_in_a_terminal_cancels_records_and_exits() {
        for presses in [2usize, 3, 5] {
            let dir = temp_dir(&format!("tty-{presses}"));
            // The original 30 s stage: only a real cancel ends this run in time.
            let text =
                std::fs::read_to_string(root().join("tests/conversations/test-pipelines.yaml"))
                    .unwrap()
                    .replace(
                        "sqlite://.deckhand/test.db",
                        &format!("sqlite://{}/deckhand.db", dir.display()),
                    );
            let config = dir.join("deckhand.yaml");
            std::fs::write(&config, text).unwrap();
            let mut s = Session::start(&config);
            s.wait_for("you> ");
            s.type_keys("deploy slow-api to dev\r");
            s.wait_for("[yes/no]");
            s.type_keys("yes\r");
            s.wait_for("│ deploying");
            s.type_keys("\x03");
            s.wait_for("Waiting for 1 running run(s) to finish");
            for _ in 1..presses {
                s.type_keys("\x03");
                std::thread::sleep(Duration::from_millis(30));
            }
            let status = wait_with_limit(&mut s.child, Duration::from_secs(20));
            let screen = s.screen.lock().unwrap().clone();
            let status = status.unwrap_or_else(|| {
                let _ = s.child.kill();
                panic!("{presses} Ctrl-C: still running:\n{screen}")
            });
            assert_eq!(status.code(), Some(0), "{screen}");
            assert!(screen.contains("Cancelling run(s) [1]"), "{screen}");
            assert!(
                screen.contains("Deploy of slow-api 1.0.0 to dev was cancelled during deploy."),
                "{screen}"
            );
            for bad in ["closed pool", "panicked", "could not store"] {
                assert!(!screen.contains(bad), "{bad}: {screen}");
            }
            let verify = Command::new(env!("CARGO_BIN_EXE_deckhand"))
                .args(["audit", "export", "--config"])
                .arg(&config)
                .output()
                .unwrap();
            let entries: Vec<Value> = String::from_utf8_lossy(&verify.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let finished: Vec<&Value> = entries
                .iter()
                .filter(|e| e["kind"] == "run.finished")
                .collect();
            assert_eq!(finished.len(), 1, "{entries:?}");
            assert_eq!(finished[0]["details"]["status"], "cancelled");
            let ok = Command::new(env!("CARGO_BIN_EXE_deckhand"))
                .args(["audit", "verify", "--config"])
                .arg(&config)
                .output()
                .unwrap();
            assert!(ok.status.success());
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// The shutdown calls the binaries make, on a bot in this process: waiting can be abandoned
/// (as a `select!` with a signal does) without forgetting a run, and a run that still starts
/// after "cancel everything" is cancelled too, each with its end stored and audited.
mod shutdown_calls {
    use super::*;
    use deckhand::bot::Bot;
    use deckhand::chat::{Incoming, ThreadKey};
    use std::sync::Arc;
    use support::Recorder;

    async fn say(bot: &Bot, sink: &Arc<Recorder>, thread: &str, text: &str) {
        let msg = Incoming {
            thread: ThreadKey::new("console", "console", thread),
            user: "carol".into(),
            text: text.into(),
            event_id: None,
        };
        bot.handle(msg, sink.clone()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abandoned_waits_forget_nothing_and_late_runs_start_cancelled() {
        let dir = temp_dir("shutdown-calls");
        let config = support::config_in("tests/conversations/test-pipelines.yaml", &dir);
        let bot = Arc::new(Bot::new(config).await.unwrap());
        let sink = Arc::new(Recorder::default());
        say(&bot, &sink, "t1", "deploy slow-api to dev").await;
        say(&bot, &sink, "t1", "yes").await;
        assert_eq!(bot.active_runs(), vec![1]);
        // Abandon the wait several times, as a select! on a signal does.
        for _ in 0..5 {
            let waited = tokio::time::timeout(Duration::from_millis(50), bot.wait_idle()).await;
            assert!(waited.is_err(), "the 30 s stage is still running");
        }
        assert_eq!(bot.cancel_all_runs(), vec![1]);
        // A request that was already being handled starts a run after the cancel.
        say(&bot, &sink, "t2", "deploy flaky-api to dev").await;
        say(&bot, &sink, "t2", "yes").await;
        tokio::time::timeout(Duration::from_secs(20), bot.wait_idle())
            .await
            .expect("cancelled runs end quickly");
        assert!(bot.active_runs().is_empty());
        let store = bot.store();
        for id in [1, 2] {
            let run = store.run(id).await.unwrap().expect("stored");
            assert_eq!(run.status, RunStatus::Cancelled, "run {id}");
        }
        assert!(store.running_runs().await.unwrap().is_empty());
        let mut out = Vec::new();
        bot.audit().export(0, &mut out).await.unwrap();
        let entries: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            audited_runs(&entries, "run.finished"),
            BTreeSet::from([1, 2])
        );
        assert_eq!(bot.audit().verify().await.unwrap(), entries.len() as i64);
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
