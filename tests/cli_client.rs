//! The real `deckhand` binary as an HTTP client of a real `deckhand serve` (the example
//! config with the API on, no chat platform): deploy --wait streaming a run to its end, a
//! failing run exiting 1, an approval waited on and given by a second person, locks and
//! refusals exiting 3 with the problem, a missing or wrong token exiting 4 without ever being
//! printed, the read-only reports, completions and healthcheck. SQLite, and PostgreSQL when
//! configured.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{root, temp_dir};

const ALICE: &str = "dkh_cli_alice_token";
const BOB: &str = "dkh_cli_bob_token";

/// The example config in `dir`: its own store (`store_url`, else SQLite in `dir`) and
/// deploy root, absolute pipeline paths, and no Slack section (the API only).
fn write_config(dir: &Path, store_url: Option<&str>) -> PathBuf {
    let examples = root().join("examples");
    let sqlite = format!("sqlite://{}/deckhand.db", dir.display());
    let text = std::fs::read_to_string(examples.join("deckhand.yaml"))
        .unwrap()
        .replace(
            "sqlite://.deckhand/deckhand.db",
            store_url.unwrap_or(&sqlite),
        )
        .replace(
            "./.deckhand/deploy",
            &dir.join("deploy").display().to_string(),
        )
        .replace("./apps", &examples.join("apps").display().to_string())
        .replace(
            "command: pipelines/",
            &format!("command: {}/pipelines/", examples.display()),
        );
    let start = text
        .find("\nslack:\n")
        .expect("the example has a slack section");
    let end = start
        + text[start..]
            .find("\nserve:\n")
            .expect("then a serve section");
    let text = format!("{}{}", &text[..start], &text[end..]);
    assert!(
        text.contains("\napi:\n"),
        "the example config turns the API on"
    );
    let path = dir.join("deckhand.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `deckhand serve`; SIGTERM and wait on drop.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    fn start(config: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("DECKHAND_API_TOKEN_ALICE", ALICE)
            .env("DECKHAND_API_TOKEN_BOB", BOB)
            .env_remove("SLACK_BOT_TOKEN")
            .env_remove("SLACK_APP_TOKEN")
            .env_remove("SLACK_SIGNING_SECRET")
            .env("DECKHAND_LOG", "warn")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve ended before it said where it serves")
                .unwrap();
            if let Some(rest) = line.strip_prefix("deckhand: serving on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, base }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// `deckhand ARGS` against `server` with `token` in DECKHAND_TOKEN (None: no token).
fn cli(server: &str, token: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    c.args(args)
        .env("DECKHAND_SERVER", server)
        .env_remove("DECKHAND_TOKEN")
        .env_remove("DECKHAND_CONFIG")
        .env("DECKHAND_LOG", "warn");
    if let Some(t) = token {
        c.env("DECKHAND_TOKEN", t);
    }
    c
}

/// Runs it; the output, with its code, and neither stream ever shows a token.
fn run(server: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let out: Output = cli(server, token, args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for t in [ALICE, BOB] {
        assert!(
            !stdout.contains(t) && !stderr.contains(t),
            "{args:?} printed a token"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// The number after `prefix` in `text` ("run 7 started" → 7).
fn id_after(text: &str, prefix: &str) -> i64 {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"))
        + prefix.len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// The whole story on one server.
fn scenario(store_url: Option<&str>, tag: &str) {
    let dir = temp_dir(tag);
    let serve = Serve::start(&write_config(&dir, store_url));
    let s = serve.base.as_str();

    deploy_wait_and_reports(s);
    failing_run_exits_one(s);
    approval_waited_on(s);
    rejection_ends_the_wait(s);
    locks_and_refusals(s);
    auth_failures(s);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

fn deploy_wait_and_reports(s: &str) {
    let (code, out, err) = run(
        s,
        Some(ALICE),
        &[
            "deploy",
            "billionmail",
            "staging",
            "--version",
            "2.3.1",
            "--wait",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let id = id_after(&out, "run ");
    for want in [
        format!("run {id} started: deploy billionmail 2.3.1 to staging"),
        "stage build: started".into(),
        "  build | ".into(),
        "stage verify: succeeded".into(),
        format!("run {id} succeeded: deploy billionmail 2.3.1 to staging"),
    ] {
        assert!(out.contains(&want), "{want:?} not in:\n{out}");
    }

    let (code, out, _) = run(s, Some(BOB), &["status", "billionmail", "-e", "staging"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("SERVICE "), "{out}");
    assert!(out.contains("billionmail  staging  2.3.1"), "{out}");

    let (code, out, _) = run(s, Some(BOB), &["history", "billionmail"]);
    assert_eq!(code, 0);
    let row = out
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("run {id} not in:\n{out}"));
    assert!(
        row.contains("deploy") && row.contains("succeeded") && row.ends_with("live"),
        "{row}"
    );

    let (code, out, _) = run(s, Some(BOB), &["runs", "show", &id.to_string()]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("run {id}  deploy billionmail 2.3.1 to staging")),
        "{out}"
    );
    assert!(
        out.contains("main   4  verify") || out.contains("verify   succeeded"),
        "{out}"
    );

    let (code, out, _) = run(s, Some(BOB), &["runs", "logs", &id.to_string()]);
    assert_eq!(code, 0);
    assert!(out.contains("stage deploy: succeeded (exit 0"), "{out}");
    assert!(out.contains("  deploy | "), "{out}");

    // Following a finished run replays it from the store and exits by its outcome.
    let (code, out, _) = run(s, Some(BOB), &["runs", "logs", &id.to_string(), "--follow"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("run {id} succeeded")), "{out}");

    let (code, out, _) = run(s, Some(BOB), &["runs", "show", &id.to_string(), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["id"], id);
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["stages"].as_array().map(Vec::len), Some(4), "{v}");

    let (code, out, _) = run(s, Some(BOB), &["runs", "list", "--service", "billionmail"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{id} ")) && l.contains("succeeded")),
        "{out}"
    );

    let (code, out, _) = run(s, Some(BOB), &["context", "billionmail", "staging"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("billionmail in staging (last 1 deploy)"),
        "{out}"
    );
    assert!(out.contains("failure rate    0% (0 of 1)"), "{out}");

    // Cancelling a run that has ended is refused.
    let (code, _, err) = run(s, Some(BOB), &["runs", "cancel", &id.to_string()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("refused: "), "{err}");
}

fn failing_run_exits_one(s: &str) {
    // 3.2.0-rc.1's health check fails: verify fails and the run rolls back.
    let (code, out, err) = run(
        s,
        Some(ALICE),
        &[
            "deploy",
            "payments-api",
            "staging",
            "--version",
            "3.2.0-rc.1",
            "--wait",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("stage verify: failed"), "{out}");
    let id = id_after(&out, "run ");
    assert!(
        out.contains(&format!(
            "run {id} failed: deploy payments-api 3.2.0-rc.1 to staging"
        )),
        "{out}"
    );

    // --json: the progress on stderr, the finished run on stdout.
    let (code, out, err) = run(
        s,
        Some(ALICE),
        &["deploy", "redis", "dev", "--wait", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["service"], "redis");
    assert!(err.contains("stage build: started"), "{err}");
}

fn approval_waited_on(s: &str) {
    // Production needs one approval from someone else: alice waits, bob approves.
    let mut waiting = cli(
        s,
        Some(ALICE),
        &[
            "deploy",
            "billionmail",
            "production",
            "--version",
            "2.4.0",
            "--wait",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(waiting.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(
        first.contains("waiting for approval: deploy billionmail 2.4.0 to production"),
        "{first}"
    );
    let approval = id_after(&first, "approval ");

    let (code, out, _) = run(s, Some(BOB), &["approvals"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{approval} ")) && l.contains("pending")),
        "{out}"
    );

    // Four-eyes: not one's own request.
    let (code, _, err) = run(s, Some(ALICE), &["approve", &approval.to_string()]);
    assert_eq!(code, 3, "{err}");

    let (code, out, err) = run(s, Some(BOB), &["approve", &approval.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("approval {approval} approved by bob: run ")),
        "{out}"
    );
    let run_id = id_after(&out, ": run ");

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = waiting.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "deploy --wait did not end");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(
        rest.contains(&format!(
            "approval {approval} approved: run {run_id} started"
        )),
        "{rest}"
    );
    assert!(
        rest.contains(&format!(
            "run {run_id} succeeded: deploy billionmail 2.4.0 to production"
        )),
        "{rest}"
    );

    let (_, out, _) = run(s, Some(BOB), &["approvals", "--status", "approved"]);
    assert!(
        out.lines().any(|l| l.starts_with(&format!("{approval} "))),
        "{out}"
    );
}

fn rejection_ends_the_wait(s: &str) {
    // A rejected request ends the wait with exit 3 and nothing run.
    let mut waiting = cli(
        s,
        Some(BOB),
        &["deploy", "wix-backend", "production", "--wait"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut first = String::new();
    BufReader::new(waiting.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let rejected = id_after(&first, "approval ");
    let (code, out, _) = run(s, Some(ALICE), &["reject", &rejected.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!("approval {rejected} rejected by alice; it will not run\n")
    );
    let done = waiting.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(3));
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(
        err.contains(&format!("approval {rejected} was rejected: nothing ran")),
        "{err}"
    );
}

fn locks_and_refusals(s: &str) {
    let (code, out, err) = run(
        s,
        Some(BOB),
        &[
            "lock",
            "staging",
            "--duration",
            "2h",
            "--reason",
            "release freeze",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("staging locked by bob until "), "{out}");
    assert!(out.trim_end().ends_with(": release freeze"), "{out}");

    let (code, out, _) = run(s, Some(ALICE), &["locks"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ID  ENV "), "{out}");
    assert!(
        out.contains("staging") && out.contains("bob") && out.contains("release freeze"),
        "{out}"
    );

    let (code, out, err) = run(s, Some(ALICE), &["deploy", "billionmail", "staging"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.starts_with("refused: ") && err.contains("release freeze"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");

    let (code, out, _) = run(
        s,
        Some(ALICE),
        &["deploy", "billionmail", "staging", "--json"],
    );
    assert_eq!(code, 3);
    let problem: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(problem["status"], 423);
    assert_eq!(problem["kind"], "locked");

    let (code, out, _) = run(s, Some(BOB), &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("staging locked by bob"), "{out}");

    let (code, out, err) = run(s, Some(BOB), &["unlock", "staging"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("unlocked staging (lifted lock "), "{out}");
    let (_, out, _) = run(s, Some(BOB), &["locks"]);
    assert_eq!(out, "no active locks\n");

    // A notify channel on a platform the server is not connected to is a bad request.
    let (code, _, err) = run(
        s,
        Some(BOB),
        &[
            "rollback",
            "redis",
            "dev",
            "--notify-platform",
            "slack",
            "--notify-channel",
            "C123",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("notify.platform `slack` is not connected here"),
        "{err}"
    );

    // An unknown name is refused with suggestions.
    let (code, _, err) = run(s, Some(ALICE), &["deploy", "billionmial", "staging"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("billionmail"), "{err}");
}

fn auth_failures(s: &str) {
    let (code, _, err) = run(s, None, &["runs", "list"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("not authorised"), "{err}");
    let (code, _, err) = run(s, Some("dkh_not_a_token"), &["status"]);
    assert_eq!(code, 4, "{err}");
    assert!(!err.contains("dkh_not_a_token"), "{err}");

    // The token from a file.
    let dir = temp_dir("cli-token");
    let file = dir.join("token");
    std::fs::write(&file, format!("{BOB}\n")).unwrap();
    let (code, out, err) = run(s, None, &["locks", "--token-file", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "no active locks\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_drives_a_real_server_on_sqlite() {
    scenario(None, "cli-sqlite");
}

#[test]
fn the_cli_drives_a_real_server_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(store) = rt.block_on(support::postgres::store("cli_client")) else {
        return;
    };
    scenario(Some(&store.url), "cli-postgres");
    rt.block_on(store.cleanup());
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn no_server_means_exit_four_and_a_bad_url_exit_two() {
    let server = format!("http://127.0.0.1:{}", closed_port());
    let (code, _, err) = run(&server, Some(ALICE), &["status"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("cannot reach the Deckhand server"), "{err}");
    let (code, _, err) = run("localhost:3000", Some(ALICE), &["status"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&server, Some(ALICE), &["deploy", "x"]);
    assert_eq!(code, 2);
}

#[test]
fn healthcheck_against_a_serving_server_and_a_closed_port() {
    let dir = temp_dir("cli-health");
    let config = write_config(&dir, None);
    let serve = Serve::start(&config);
    let url = format!("{}/healthz", serve.base);
    let (code, out, err) = run("http://127.0.0.1:9", None, &["healthcheck", "--url", &url]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    // DECKHAND_SERVER alone names it.
    let (code, _, err) = run(&serve.base, None, &["healthcheck"]);
    assert_eq!(code, 0, "{err}");
    // So does the config's serve.listen.
    let port = serve.base.rsplit(':').next().unwrap().to_string();
    let with_listen = dir.join("listen.yaml");
    std::fs::write(&with_listen, format!("serve:\n  listen: 0.0.0.0:{port}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["healthcheck", "--config"])
        .arg(&with_listen)
        .env_remove("DECKHAND_SERVER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(serve);

    let closed = format!("http://127.0.0.1:{}/healthz", closed_port());
    let (code, _, err) = run(
        "http://127.0.0.1:9",
        None,
        &["healthcheck", "--url", &closed],
    );
    assert_eq!(code, 1);
    assert!(err.starts_with("unhealthy: "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        for sub in [
            "deploy",
            "rollback",
            "runs",
            "approve",
            "healthcheck",
            "serve",
            "chat",
        ] {
            assert!(script.contains(sub), "{shell}: no {sub}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
