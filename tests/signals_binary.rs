//! Signals never lose a result: the real `deckhand chat --json` binary gets SIGTERM and SIGINT
//! (once or several times) at seeded random moments of a scripted session, from start-up to
//! the wait for running runs, with slow stages in flight. Every time it must exit 0, report
//! an end for every run it started, leave no run `running` in the store, write each run's
//! start and finish to the audit log and keep the chain intact (`deckhand audit verify`).
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
    /// Input stays open this long after the last line (then end of input).
    hold_ms: u64,
    /// Each signal: delay after the previous one (the first: after the handlers exist).
    signals: Vec<(u64, Sig)>,
}

impl Schedule {
    fn new(seed: u64) -> Schedule {
        let mut rng = Rng(seed);
        let gaps_ms = SCRIPT.iter().map(|_| rng.below(250)).collect();
        let hold_ms = rng.below(1500);
        let count = 1 + rng.below(4) as usize;
        let mut signals = Vec::new();
        for i in 0..count {
            // The first lands anywhere from start-up to after the script; the next ones
            // come in quick succession or a little later.
            let delay = if i == 0 {
                rng.below(3000)
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
            signals,
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
    events: Vec<Value>,
    stderr: String,
}

fn run_session(config: &Path, plan: &Schedule) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["chat", "--json", "--user", "carol", "--config"])
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
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(|l| l.unwrap())
            .collect::<Vec<_>>()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let gaps = plan.gaps_ms.clone();
    let hold = plan.hold_ms;
    let writer = std::thread::spawn(move || {
        for ((thread, text), gap) in SCRIPT.iter().zip(gaps) {
            std::thread::sleep(Duration::from_millis(gap));
            let line = format!("{{\"text\": \"{text}\", \"thread\": \"{thread}\"}}\n");
            // The process may already have stopped reading: a broken pipe is expected.
            if stdin.write_all(line.as_bytes()).is_err() || stdin.flush().is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(hold));
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
    writer.join().unwrap();
    let lines = reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let events = lines
        .iter()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("seed {}: not JSON: {l}: {e}", plan.seed))
        })
        .collect();
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

fn check(config: &Path, dir: &Path, plan: &Schedule, out: &Outcome) {
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
    let started: BTreeSet<i64> = out
        .events
        .iter()
        .filter(|e| e["type"] == "run_started")
        .map(|e| e["run_id"].as_i64().unwrap())
        .collect();
    let finished: BTreeMap<i64, String> = out
        .events
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
    for status in finished.values() {
        assert!(
            ["succeeded", "failed", "cancelled"].contains(&status.as_str()),
            "{status}: {ctx}"
        );
    }
    let deckhand = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(args)
            .arg("--config")
            .arg(config)
            .output()
            .unwrap()
    };
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
    assert_eq!(
        audited_runs(&entries, "run.started"),
        started,
        "run.started audited: {ctx}"
    );
    assert_eq!(
        audited_runs(&entries, "run.finished"),
        started,
        "run.finished audited: {ctx}"
    );
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
        for (id, status) in &finished {
            let run = store.run(*id).await.unwrap().expect("the run is stored");
            assert_eq!(
                run.status.as_str(),
                status,
                "run {id} stored as reported: {ctx}"
            );
            assert_ne!(run.status, RunStatus::Interrupted, "{ctx}");
        }
        store.close().await;
    });
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
                    check(&config, &dir, &plan, &out);
                    std::fs::remove_dir_all(&dir).unwrap();
                    out.events
                        .iter()
                        .filter(|e| e["type"] == "run_finished")
                        .map(|e| e["status"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>()
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
