//! Drives the real `deckhand chat --json` binary: the JSON Lines protocol, waiting for runs at
//! end of input, bad input lines, and recovery of a run interrupted by a crash (SIGKILL).

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use support::{root, temp_dir};

/// Writes a copy of a repo config with every path made absolute and state moved into `dir`.
fn hermetic_config(relative: &str, dir: &Path) -> PathBuf {
    let examples = root().join("examples");
    let text = std::fs::read_to_string(root().join(relative))
        .unwrap()
        .replace(
            "sqlite://.deckhand/deckhand.db",
            &format!("sqlite://{}/deckhand.db", dir.display()),
        )
        .replace(
            "sqlite://.deckhand/test.db",
            &format!("sqlite://{}/deckhand.db", dir.display()),
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
    let path = dir.join("deckhand.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["chat", "--json", "--user", "carol", "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn run_all(config: &Path, input: &str) -> Vec<Value> {
    let mut child = spawn(config);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "deckhand chat exited with {}",
        out.status
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

#[test]
fn transcript_over_the_json_protocol() {
    let dir = temp_dir("json");
    let config = hermetic_config("examples/deckhand.yaml", &dir);
    let input = r#"{"user": "alice", "text": "deploy billionmail", "thread": "t1"}
{"user": "alice", "text": "staging", "thread": "t1"}
{"user": "alice", "text": "yes", "thread": "t1"}
this is not json
{"text": "hello there"}
"#;
    let events = run_all(&config, input);
    let prompt = of_type(&events, "prompt");
    assert_eq!(
        prompt[0]["text"],
        "Which environment: dev, staging or production?"
    );
    assert_eq!(prompt[0]["thread"], "t1");
    assert_eq!(prompt[0]["slot"], "environment");
    assert_eq!(
        prompt[0]["choices"],
        serde_json::json!(["dev", "staging", "production"])
    );
    assert_eq!(
        of_type(&events, "confirm")[0]["text"],
        "Deploy billionmail (latest build) to staging, direct? [yes/no]"
    );
    let started = of_type(&events, "run_started");
    assert_eq!(started[0]["service"], "billionmail");
    assert_eq!(started[0]["thread"], "t1");
    let progress = of_type(&events, "progress");
    assert!(progress
        .iter()
        .any(|p| p["stage"] == "verify" && p["state"] == "succeeded"));
    assert!(
        progress.iter().any(|p| p["line"].is_string()),
        "log lines arrive as progress events"
    );
    // End of input came right after "yes": the process waited for the run before exiting.
    let finished = of_type(&events, "run_finished");
    assert_eq!(finished[0]["status"], "succeeded");
    assert_eq!(finished[0]["version"], "2.4.0");
    assert_eq!(finished[0]["text"], "billionmail 2.4.0 is live on staging");
    assert!(finished[0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("build ✓"));
    let error = of_type(&events, "error");
    assert_eq!(error[0]["line"], 4);
    let replies = of_type(&events, "reply");
    assert_eq!(
        replies.last().unwrap()["thread"],
        "main",
        "thread defaults to main"
    );
    let link = dir.join("deploy/staging/billionmail/current");
    assert!(std::fs::read_link(&link)
        .unwrap()
        .ends_with("releases/2.4.0"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_interrupted_by_a_crash_is_marked_interrupted_at_the_next_start() {
    let dir = temp_dir("crash");
    let config = hermetic_config("tests/conversations/test-pipelines.yaml", &dir);
    let mut child = spawn(&config);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"text\": \"deploy slow-api to dev\"}\n{\"text\": \"yes\"}\n")
        .unwrap();
    stdin.flush().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait until the slow stage is running, then kill the process without warning.
    loop {
        let line = lines.next().expect("output before the kill").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["type"] == "progress" && v["stage"] == "deploy" && v["line"] == "deploying" {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);

    let events = run_all(&config, "{\"text\": \"history slow-api\"}\n{\"text\": \"explain slow-api\"}\n{\"text\": \"deploy slow-api 1.0.0 to dev\"}\n");
    let replies: Vec<&str> = of_type(&events, "reply")
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    // The start-up notice about the interrupted run comes first (see tests/recovery_binary.rs).
    assert!(
        replies[0].starts_with("⚠ Deckhand was stopped while run 1"),
        "{replies:?}"
    );
    assert!(
        replies[1].contains("slow-api 1.0.0 → dev  deploy interrupted  (carol, run 1)"),
        "{replies:?}"
    );
    assert!(
        replies[2].contains("Run 1 (deploy slow-api 1.0.0 to dev, asked by carol"),
        "{replies:?}"
    );
    assert!(replies[2].contains("was interrupted"), "{replies:?}");
    // The target is free again: a new request is not refused as busy.
    assert_eq!(
        of_type(&events, "confirm")[0]["text"],
        "Deploy slow-api (1.0.0) to dev, direct? [yes/no]"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_check_reports_problems_and_exit_codes() {
    let ok = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["config", "check"])
        .arg(root().join("examples/deckhand.yaml"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout)
        .contains("OK (5 services, 3 environments, 2 pipelines)"));
    let dir = temp_dir("check");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(root().join("examples/deckhand.yaml"))
            .unwrap()
            .replace("    order: 2\n", "    order: 2\n    colour: blue\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `colour`") && err.contains("line 47"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_reports_json_with_the_required_keys() {
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["eval", "--json", "--config"])
        .arg(root().join("examples/deckhand.yaml"))
        .arg("--data")
        .arg(root().join("tests/data/nlu_dev.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "rows",
        "intent_accuracy",
        "slot_exact_match",
        "false_actions",
        "latency_p50_us",
        "latency_p99_us",
        "per_intent",
    ] {
        assert!(!v[key].is_null(), "missing {key}");
    }
    assert!(v["per_intent"]["deploy"]["precision"].is_number());
}

#[tokio::test]
async fn audit_verify_and_export_from_the_command_line() {
    let dir = temp_dir("audit");
    let config = hermetic_config("examples/deckhand.yaml", &dir);
    let events = run_all(&config, "{\"user\": \"alice\", \"text\": \"deploy redis to dev\"}\n{\"user\": \"alice\", \"text\": \"yes\"}\n");
    assert_eq!(of_type(&events, "run_finished")[0]["status"], "succeeded");
    let deckhand = |args: &[&str]| support::run_with_config(args, &config);
    let ok = deckhand(&["audit", "verify"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let said = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(
        said.starts_with("audit log intact: ") && !said.contains("intact: 0 "),
        "{said}"
    );
    let export = deckhand(&["audit", "export", "--since", "1h"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    for k in ["command", "run.started", "stage.finished", "run.finished"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    // Tamper with the database directly, as an attacker with file access would.
    let store = deckhand::store::Store::open(&format!("sqlite://{}/deckhand.db", dir.display()))
        .await
        .unwrap();
    store
        .execute_raw("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        .await
        .unwrap();
    store.close().await;
    let bad = deckhand(&["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("audit log broken at entry 2: its content does not match its hash"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn two_processes_on_postgres_share_one_unbroken_audit_chain() {
    let Some(pg) = support::postgres::store("two_processes_on_postgres").await else {
        return;
    };
    let dir = temp_dir("two-procs");
    let config = hermetic_config("examples/deckhand.yaml", &dir);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("sqlite://{}/deckhand.db", dir.display()), &pg.url);
    std::fs::write(&config, text).unwrap();
    let script = |services: &[&str]| {
        services
            .iter()
            .flat_map(|s| [format!("{{\"user\": \"alice\", \"text\": \"deploy {s} to dev\", \"thread\": \"{s}\"}}"), format!("{{\"user\": \"alice\", \"text\": \"yes\", \"thread\": \"{s}\"}}")])
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    let (a, b) = (
        script(&["redis", "billionmail"]),
        script(&["wix-backend", "auth-service", "payments-api"]),
    );
    let (ca, cb) = (config.clone(), config.clone());
    let ta = std::thread::spawn(move || run_all(&ca, &a));
    let tb = std::thread::spawn(move || run_all(&cb, &b));
    let (ea, eb) = (ta.join().unwrap(), tb.join().unwrap());
    assert!(!of_type(&ea, "run_finished").is_empty() && !of_type(&eb, "run_finished").is_empty());
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pg.cleanup().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `audit verify` and `audit export` are read-only: on a store that does not exist they exit 2,
/// say so, and create nothing (no file, no folder), whatever form the SQLite URL takes.
#[test]
fn audit_commands_on_a_missing_store_exit_2_and_create_nothing() {
    let dir = temp_dir("missing-store");
    let urls = [
        format!("sqlite://{}/deckhand.db", dir.display()),
        format!("sqlite://{}/deckhand.db?mode=rwc", dir.display()),
        format!("sqlite:{}/deckhand.db", dir.display()),
        format!("sqlite://{}/not/yet/there/deckhand.db", dir.display()),
        format!(
            "sqlite://{}/not/yet/there/deckhand.db?mode=rwc",
            dir.display()
        ),
        "sqlite://.deckhand/never-created.db".to_string(),
        "sqlite::memory:".to_string(),
    ];
    let base = std::fs::read_to_string(root().join("examples/deckhand.yaml")).unwrap();
    assert!(base.contains("sqlite://.deckhand/deckhand.db"));
    for (i, url) in urls.iter().enumerate() {
        let config = dir.join(format!("config-{i}.yaml"));
        std::fs::write(
            &config,
            base.replace("sqlite://.deckhand/deckhand.db", &format!("\"{url}\""))
                .replace(
                    "./apps",
                    &root().join("examples/apps").display().to_string(),
                ),
        )
        .unwrap();
        for args in [
            vec!["audit", "verify"],
            vec!["audit", "export"],
            vec!["audit", "export", "--since", "24h"],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
                .args(&args)
                .arg("--config")
                .arg(&config)
                .current_dir(&dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{url} {args:?}: {err}");
            assert!(
                err.contains("does not exist") && err.contains("nothing was created"),
                "{url} {args:?}: {err}"
            );
            assert!(out.stdout.is_empty(), "{url} {args:?}");
        }
    }
    // Only the config files are there: no database, no folder, no WAL file.
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let expected: Vec<String> = (0..urls.len())
        .map(|i| format!("config-{i}.yaml"))
        .collect();
    assert_eq!(left, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// On PostgreSQL a database without Deckhand's tables is a missing store too, and stays empty.
#[tokio::test]
async fn audit_verify_on_an_empty_postgres_database_exits_2_and_creates_no_tables() {
    let Some(admin) = support::postgres::admin_url("audit_verify_on_an_empty_postgres_database")
    else {
        return;
    };
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("deckhand_missing_{}", std::process::id());
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let dir = temp_dir("missing-pg");
    let config = dir.join("deckhand.yaml");
    std::fs::write(
        &config,
        std::fs::read_to_string(root().join("examples/deckhand.yaml"))
            .unwrap()
            .replace("sqlite://.deckhand/deckhand.db", &url),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let _ = db.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no Deckhand tables"), "{err}");
    assert_eq!(tables, 0, "no table was created");
}

/// `config check` names policy roles that nobody holds, as warnings: the config stays valid.
#[test]
fn config_check_warns_about_policy_roles_nobody_holds() {
    let dir = temp_dir("roles");
    let base = std::fs::read_to_string(root().join("examples/deckhand.yaml")).unwrap();
    let cases = [
        ("lock: [sre]", "lock: [sre, dba]", vec!["dba"]),
        (
            "approve: [approver]",
            "approve: [approver, cab]",
            vec!["cab"],
        ),
        (
            "rollback: [deployer, sre]",
            "rollback: [deployer, sre, oncall, release-mgr]",
            vec!["oncall", "release-mgr"],
        ),
    ];
    for (from, to, unheld) in cases {
        assert!(base.contains(from), "{from}");
        let path = dir.join("c.yaml");
        std::fs::write(&path, base.replace(from, to)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["config", "check"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a warning is not an error: {err}");
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
        assert_eq!(warnings.len(), unheld.len(), "{err}");
        for role in unheld {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&format!("`{role}` is held by nobody"))),
                "{role}: {err}"
            );
        }
        assert!(String::from_utf8_lossy(&out.stdout).contains("warning(s)"));
    }
    // The example itself has none.
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["config", "check"])
        .arg(root().join("examples/deckhand.yaml"))
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
