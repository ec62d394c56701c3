//! Drives the real `deckhand chat --json` binary through a `kill -9` during or after the
//! switching stage: the next start records the interruption in the audit log, knows what is
//! live, and (with auto_rollback) offers the rollback in the run's thread without running it.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{root, temp_dir};

/// The live-pipelines config with its store and deploy root moved into `dir`.
fn config_in(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("tests/conversations/live-pipelines.yaml"))
        .unwrap()
        .replace(
            "sqlite://.deckhand/test.db",
            &format!("sqlite://{}/deckhand.db", dir.display()),
        )
        .replace(
            "./.deckhand/deploy",
            &dir.join("deploy").display().to_string(),
        );
    let path = dir.join("deckhand.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `deckhand chat --json` with its output lines arriving on a channel.
struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Chat {
    fn start(config: &Path) -> Chat {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["chat", "--json", "--user", "alice", "--config"])
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Chat {
            stdin: child.stdin.take(),
            child,
            events,
            seen: Vec::new(),
        }
    }

    fn say(&mut self, user: &str, text: &str) {
        let line = serde_json::json!({"user": user, "text": text, "thread": "t1"}).to_string();
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (up to 60 s) for an event matching `pred`; every event read is kept in `seen`.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within 60 s; seen: {:#?}", self.seen),
            }
        }
    }

    /// The events that arrive within `d` (for checking that nothing happens).
    fn quiet_for(&mut self, d: Duration) -> Vec<Value> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(v) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(v.clone());
            got.push(v);
        }
        got
    }

    fn kill9(mut self) {
        // Child::kill is SIGKILL: no handler runs, nothing is flushed or finished.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Closes stdin and waits for a clean exit (runs in flight finish first).
    fn finish(mut self) -> Vec<Value> {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "deckhand chat exited with {status}");
        self.seen.extend(self.events.iter());
        self.seen
    }
}

fn is(t: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["type"] == t
}

fn text(v: &Value) -> &str {
    v["text"].as_str().unwrap_or_default()
}

fn current(dir: &Path, env: &str) -> String {
    let link = dir.join("deploy").join(env).join("crashy-api/current");
    std::fs::read_link(&link)
        .unwrap_or_else(|e| panic!("{}: {e}", link.display()))
        .display()
        .to_string()
}

fn deckhand(config: &Path, args: &[&str]) -> String {
    let out = support::run_with_config(args, config);
    assert!(
        out.status.success(),
        "deckhand {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deploys `version` of crashy-api to `env`, waits for `signal` in its output and kills -9.
fn deploy_and_kill(config: &Path, env: &str, version: &str, signal: &str) {
    let mut chat = Chat::start(config);
    chat.say("alice", &format!("deploy crashy-api {version} to {env}"));
    chat.say("alice", "yes");
    chat.wait_for(signal, |v| v["type"] == "progress" && v["line"] == signal);
    chat.kill9();
}

/// A first good release, deployed and finished normally.
fn first_release(config: &Path, env: &str) {
    let mut chat = Chat::start(config);
    chat.say("alice", &format!("deploy crashy-api 1.0.0 to {env}"));
    chat.say("alice", "yes");
    let done = chat.wait_for("run_finished", is("run_finished"));
    assert_eq!(done["status"], "succeeded", "{done}");
    chat.finish();
}

#[test]
fn killed_after_the_switch_with_auto_rollback_offers_the_rollback_and_runs_it_only_on_yes() {
    let dir = temp_dir("recovery-switched");
    let config = config_in(&dir);
    first_release(&config, "staging");
    deploy_and_kill(&config, "staging", "2.0.0", "checking");
    assert!(current(&dir, "staging").ends_with("releases/2.0.0"));

    let mut chat = Chat::start(&config);
    // Delivered at start-up, before anyone says anything, in the run's thread.
    let offer = chat.wait_for("the recovery question", is("confirm"));
    assert_eq!(offer["thread"], "t1");
    assert_eq!(offer["intent"], "rollback");
    let said = text(&offer);
    for part in [
        "⚠ Deckhand was stopped while run 2 (deploy crashy-api 2.0.0 to staging, asked by alice) was at its verify stage",
        "staging is on the new release: 2.0.0 is live (Deckhand stopped before its checks finished).",
        "I did not roll back on my own. Roll back crashy-api in staging to 1.0.0? [yes/no]",
    ] {
        assert!(said.contains(part), "{said:?} lacks {part:?}");
    }
    // Nothing runs unasked: not at start-up, not for a question, a non-answer or someone else.
    chat.say("alice", "status crashy-api");
    let status = chat.wait_for("status", is("reply"));
    assert!(
        text(&status)
            .contains("staging: 2.0.0 is live (Deckhand stopped before its checks finished"),
        "{status}"
    );
    chat.say("alice", "hmm");
    chat.say("bob", "yes");
    let quiet = chat.quiet_for(Duration::from_secs(3));
    assert!(
        quiet.iter().all(|e| e["type"] != "run_started"),
        "{quiet:#?}"
    );
    assert_eq!(
        quiet.iter().filter(|e| e["type"] == "reply").count(),
        2,
        "{quiet:#?}"
    );
    assert!(current(&dir, "staging").ends_with("releases/2.0.0"));
    // The requester's explicit yes runs it.
    chat.say("alice", "yes");
    let started = chat.wait_for("run_started", is("run_started"));
    assert_eq!(
        (&started["action"], &started["version"]),
        (&Value::from("rollback"), &Value::from("1.0.0"))
    );
    let done = chat.wait_for("run_finished", is("run_finished"));
    assert_eq!(
        done["text"], "crashy-api is back on 1.0.0 in staging",
        "{done}"
    );
    chat.finish();
    assert!(current(&dir, "staging").ends_with("releases/1.0.0"));

    let verify = deckhand(&config, &["audit", "verify"]);
    assert!(verify.starts_with("audit log intact: "), "{verify}");
    let export = deckhand(&config, &["audit", "export", "--since", "1h"]);
    let interrupted: Vec<&str> = export
        .lines()
        .filter(|l| l.contains("run.interrupted"))
        .collect();
    assert_eq!(interrupted.len(), 1, "{export}");
    for part in [
        "\"switched\":true",
        "\"live\":\"2.0.0\"",
        "\"rollback_offered_to\":\"1.0.0\"",
        "\"stage\":\"verify\"",
    ] {
        assert!(
            interrupted[0].contains(part),
            "{} lacks {part}",
            interrupted[0]
        );
    }
    // A second restart has nothing left to say.
    let mut again = Chat::start(&config);
    again.say("alice", "hello");
    let events = again.finish();
    assert!(
        events
            .iter()
            .all(|e| !text(e).contains("Deckhand was stopped")),
        "{events:#?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn killed_during_the_switching_stage_says_the_target_may_be_on_the_new_release() {
    let dir = temp_dir("recovery-switching");
    let config = config_in(&dir);
    first_release(&config, "staging");
    deploy_and_kill(&config, "staging", "3.0.0", "deploying");

    let mut chat = Chat::start(&config);
    let offer = chat.wait_for("the recovery question", is("confirm"));
    let said = text(&offer);
    for part in [
        "was at its deploy stage",
        "staging may be on the new release: the run had reached the stage that switches it, which did not report back. By my records, 1.0.0 is live.",
        "Roll back crashy-api in staging to 1.0.0? [yes/no]",
    ] {
        assert!(said.contains(part), "{said:?} lacks {part:?}");
    }
    chat.say("alice", "no");
    let reply = chat.wait_for("the answer", is("reply"));
    assert!(text(&reply).starts_with("OK, I won't"), "{reply}");
    let events = chat.finish();
    assert!(
        events.iter().all(|e| e["type"] != "run_started"),
        "{events:#?}"
    );
    let export = deckhand(&config, &["audit", "export", "--since", "1h"]);
    let line = export
        .lines()
        .find(|l| l.contains("run.interrupted"))
        .unwrap_or_else(|| panic!("no run.interrupted entry: {export}"));
    assert!(
        line.contains("\"may_have_switched\":true") && line.contains("\"switched\":false"),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn killed_after_the_switch_without_auto_rollback_tells_the_truth_and_offers_nothing() {
    let dir = temp_dir("recovery-dev");
    let config = config_in(&dir);
    first_release(&config, "dev");
    deploy_and_kill(&config, "dev", "2.0.0", "checking");

    let mut chat = Chat::start(&config);
    let notice = chat.wait_for("the recovery notice", |v| {
        text(v).contains("Deckhand was stopped")
    });
    assert_eq!(
        notice["type"], "reply",
        "no question without auto_rollback: {notice}"
    );
    let said = text(&notice);
    assert!(said.contains("dev is on the new release: 2.0.0 is live (Deckhand stopped before its checks finished)."), "{said}");
    assert!(
        said.contains("Say \"rollback crashy-api in dev\" if it should go back."),
        "{said}"
    );
    // "yes" has nothing to confirm.
    chat.say("alice", "yes");
    chat.say("alice", "history crashy-api in dev");
    let history = chat.wait_for("history", |v| text(v).starts_with("Recent deployments"));
    assert!(
        text(&history).contains("crashy-api 2.0.0 → dev  deploy interrupted  (alice, run 2)  ← 2.0.0 is live (Deckhand stopped before its checks finished)"),
        "{history}"
    );
    let events = chat.finish();
    assert!(
        events.iter().all(|e| e["type"] != "run_started"),
        "{events:#?}"
    );
    assert!(current(&dir, "dev").ends_with("releases/2.0.0"));
    std::fs::remove_dir_all(&dir).unwrap();
}
