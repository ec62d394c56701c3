//! The CLI as a client of a running server's HTTP API (`/api/v1`): `deckhand deploy`,
//! `rollback`, `status`, `history`, `context`, `runs`, `approvals`, `approve`, `reject`,
//! `lock`, `unlock`, `locks`, plus `completions` and `healthcheck`.
//!
//! The server is `--server URL` (or `DECKHAND_SERVER`, default `http://127.0.0.1:3000`); the
//! token comes from `DECKHAND_TOKEN` or `--token-file` only and is never printed. Output is
//! short text by default and the server's JSON as is with `--json`.
//!
//! Exit codes ([`Exit`]): 0 done; 1 the run failed, was cancelled or interrupted (`--wait`,
//! `runs logs --follow`); 2 usage (bad flags, a bad `--server`, an unreadable token file);
//! 3 the server refused (a problem's `detail` is printed; the problem JSON with `--json`),
//! or an approval request waited on was rejected or expired; 4 no usable answer: the server
//! is unreachable, the token is missing or unknown (401), or the server failed (5xx).

mod args;
mod client;
mod follow;
mod health;
mod render;
mod reports;
pub mod sse;
mod views;

pub use args::*;
pub use client::{Client, ClientError, Problem, Token};

use follow::{Decided, Echo};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::process::ExitCode;
use views::{ApprovalView, DecisionView, LockReportView, LockView, RunView};

/// The CLI's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// The run failed, was cancelled or was interrupted.
    RunFailed = 1,
    /// Bad flags or settings.
    Usage = 2,
    /// The server refused (or the approval request was rejected or expired).
    Refused = 3,
    /// No usable answer: unreachable, not authorised, or a server error.
    NoAnswer = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl ClientError {
    /// The exit code this error ends the CLI with.
    pub fn exit(&self) -> Exit {
        match self {
            ClientError::BadServer(_) | ClientError::TokenFile(_) => Exit::Usage,
            ClientError::Refused(_) => Exit::Refused,
            ClientError::Unreachable { .. }
            | ClientError::Unauthorized(_)
            | ClientError::Server { .. } => Exit::NoAnswer,
        }
    }
}

/// Runs a client command; `app` is the binary's whole command tree (for completions).
pub async fn run(cmd: ClientCommand, mut app: clap::Command) -> ExitCode {
    let conn = match &cmd {
        ClientCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut app, "deckhand", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        ClientCommand::Healthcheck(args) => return health::healthcheck(args).await,
        other => connection(other).clone(),
    };
    let client = match Token::load(conn.token_file.as_deref())
        .and_then(|token| Client::new(&conn.server, token))
    {
        Ok(c) => c,
        Err(e) => return report(&e, conn.json).into(),
    };
    match execute(&client, cmd, conn.json).await {
        Ok(exit) => exit.into(),
        Err(e) => report(&e, conn.json).into(),
    }
}

/// The connection flags of a server command.
fn connection(cmd: &ClientCommand) -> &Connection {
    use ClientCommand as C;
    match cmd {
        C::Deploy(a) => &a.conn,
        C::Rollback(a) => &a.conn,
        C::Status(a) => &a.conn,
        C::History(a) => &a.conn,
        C::Context(a) => &a.conn,
        C::Runs { command } => match command {
            RunsCommand::List { conn, .. }
            | RunsCommand::Show { conn, .. }
            | RunsCommand::Logs { conn, .. }
            | RunsCommand::Cancel { conn, .. } => conn,
        },
        C::Approvals(a) => &a.conn,
        C::Approve(a) | C::Reject(a) => &a.conn,
        C::Lock(a) => &a.conn,
        C::Unlock(a) => &a.conn,
        C::Locks(a) => &a.conn,
        C::Completions { .. } | C::Healthcheck(_) => unreachable!("handled before"),
    }
}

/// Prints an error (and with `--json` the problem as the server sent it) and names the exit.
fn report(e: &ClientError, json: bool) -> Exit {
    if json {
        if let Some(p) = e.problem().filter(|p| !p.raw.is_null()) {
            out(&format!("{}\n", p.raw));
        }
    }
    match e {
        ClientError::Refused(_) => eprintln!("refused: {e}"),
        _ => eprintln!("error: {e}"),
    }
    e.exit()
}

/// One command against the server.
async fn execute(client: &Client, cmd: ClientCommand, json: bool) -> Result<Exit, ClientError> {
    use ClientCommand as C;
    match cmd {
        C::Deploy(a) => deploy(client, a).await,
        C::Rollback(a) => {
            let body = with_optional(
                json!({"service": a.service, "environment": a.environment}),
                &[
                    ("version", a.version.map(Value::from)),
                    ("notify", a.notify.body()),
                ],
            );
            let answer = client.post("/rollbacks", &body).await?;
            started(client, answer, a.wait, json).await
        }
        C::Status(_) | C::History(_) | C::Context(_) => report_cmd(client, cmd, json).await,
        C::Runs { command } => runs(client, command, json).await,
        C::Approvals(a) => {
            let status = clap::ValueEnum::to_possible_value(&a.status)
                .map(|p| p.get_name().to_string())
                .unwrap_or_else(|| "pending".into());
            let v = client
                .get("/approvals", &[("status", Some(status.clone()))])
                .await?;
            Ok(emit_list(&v, "approvals", json, |l: Vec<ApprovalView>| {
                render::approvals_table(&l, &status)
            }))
        }
        C::Approve(a) => decide(client, a.id, "approve", json).await,
        C::Reject(a) => decide(client, a.id, "reject", json).await,
        C::Lock(a) => {
            let body = with_optional(
                json!({"environment": a.environment}),
                &[
                    ("service", a.service.map(Value::from)),
                    ("duration", a.duration.map(Value::from)),
                    ("reason", a.reason.map(Value::from)),
                ],
            );
            let v = client.post("/locks", &body).await?;
            Ok(emit(&v, json, |r: LockReportView| {
                render::lock_line(&r.lock)
            }))
        }
        C::Unlock(a) => {
            let query = [("environment", Some(a.environment)), ("service", a.service)];
            let v = client.delete("/locks", &query).await?;
            Ok(emit_list(&v, "lifted", json, |l: Vec<LockView>| {
                unlocked(&l)
            }))
        }
        C::Locks(a) => {
            let v = client
                .get("/locks", &[("environment", a.environment)])
                .await?;
            Ok(emit_list(&v, "locks", json, |l: Vec<LockView>| {
                render::locks_table(&l)
            }))
        }
        C::Completions { .. } | C::Healthcheck(_) => unreachable!("handled before"),
    }
}

/// `deckhand status`, `history`, `context`: the read-only reports.
async fn report_cmd(client: &Client, cmd: ClientCommand, json: bool) -> Result<Exit, ClientError> {
    use ClientCommand as C;
    match cmd {
        C::Status(a) => {
            let path = match &a.service {
                Some(s) => format!("/services/{}/status", segment(s)),
                None => "/status".into(),
            };
            let v = client.get(&path, &[("environment", a.environment)]).await?;
            Ok(emit(&v, json, |r: views::StatusView| reports::status(&r)))
        }
        C::History(a) => {
            let path = match &a.service {
                Some(s) => format!("/services/{}/history", segment(s)),
                None => "/history".into(),
            };
            let query = [
                ("environment", a.environment),
                ("limit", a.limit.map(|n| n.to_string())),
            ];
            let v = client.get(&path, &query).await?;
            Ok(emit(&v, json, |r: views::HistoryView| reports::history(&r)))
        }
        C::Context(a) => {
            let path = format!("/services/{}/context", segment(&a.service));
            let v = client
                .get(&path, &[("environment", Some(a.environment))])
                .await?;
            Ok(emit(&v, json, |r: views::ContextView| reports::context(&r)))
        }
        _ => unreachable!("only the reports come here"),
    }
}

/// `deckhand deploy`.
async fn deploy(client: &Client, a: DeployArgs) -> Result<Exit, ClientError> {
    let body = with_optional(
        json!({"service": a.service, "environment": a.environment}),
        &[
            ("version", a.version.map(Value::from)),
            ("strategy", a.strategy.map(|s| Value::from(s.as_str()))),
            ("percent", a.percent.map(Value::from)),
            ("notify", a.notify.body()),
        ],
    );
    let answer = client.post("/deploys", &body).await?;
    started(client, answer, a.wait, a.conn.json).await
}

/// What a 202 from `POST /deploys` or `/rollbacks` says; with `wait`, followed to the end.
async fn started(
    client: &Client,
    answer: Value,
    wait: bool,
    json: bool,
) -> Result<Exit, ClientError> {
    let run_id = match answer["status"].as_str() {
        Some("started") => {
            let run: RunView = parse(&answer["run"]);
            if !wait {
                return Ok(emit(&answer, json, |_: Value| render::run_started(&run)));
            }
            // The stream's `started` event prints the run's line.
            run.id
        }
        Some("awaiting_approval") => {
            let approval: ApprovalView = parse(&answer["approval"]);
            if !wait {
                return Ok(emit(&answer, json, |_: Value| {
                    render::approval_waiting(&approval)
                }));
            }
            progress(json, &render::approval_waiting(&approval));
            match follow::wait_for_decision(client, approval.id).await? {
                Decided::Started(run) => {
                    progress(
                        json,
                        &format!("approval {} approved: run {run} started\n", approval.id),
                    );
                    run
                }
                Decided::NotRun {
                    status,
                    approval: raw,
                } => {
                    if json {
                        out(&format!("{raw}\n"));
                    }
                    eprintln!("approval {} {status}: nothing ran", approval.id);
                    return Ok(Exit::Refused);
                }
            }
        }
        _ => {
            return Err(ClientError::Server {
                status: 202,
                detail: format!("unexpected answer: {answer}"),
                problem: None,
            })
        }
    };
    finish(client, run_id, json).await
}

/// Follows a run to its end: exit 0 when it succeeded, 1 otherwise; with `--json` the
/// progress goes to stderr and the finished run (`GET /runs/{id}`) to stdout.
async fn finish(client: &Client, id: i64, json: bool) -> Result<Exit, ClientError> {
    let echo = if json { Echo::TextToStderr } else { Echo::Text };
    let end = follow::follow_run(client, id, echo).await?;
    if json {
        let run = client.get(&format!("/runs/{id}"), &[]).await?;
        out(&format!("{run}\n"));
    }
    Ok(if end.succeeded() {
        Exit::Ok
    } else {
        Exit::RunFailed
    })
}

/// `deckhand runs ...`.
async fn runs(client: &Client, command: RunsCommand, json: bool) -> Result<Exit, ClientError> {
    match command {
        RunsCommand::List {
            service,
            environment,
            status,
            limit,
            ..
        } => {
            let status = status.and_then(|s| {
                clap::ValueEnum::to_possible_value(&s).map(|p| p.get_name().to_string())
            });
            let query = [
                ("service", service),
                ("environment", environment),
                ("status", status),
                ("limit", limit.map(|n| n.to_string())),
            ];
            let v = client.get("/runs", &query).await?;
            Ok(emit_list(&v, "runs", json, |l: Vec<RunView>| {
                render::runs_table(&l)
            }))
        }
        RunsCommand::Show { id, .. } => {
            let v = client.get(&format!("/runs/{id}"), &[]).await?;
            Ok(emit(&v, json, |r: RunView| render::run_detail(&r)))
        }
        RunsCommand::Logs {
            id, follow: false, ..
        } => {
            let v = client.get(&format!("/runs/{id}"), &[]).await?;
            Ok(emit(&v, json, |r: RunView| render::stage_logs(&r)))
        }
        RunsCommand::Logs { id, .. } => {
            let echo = if json { Echo::JsonLines } else { Echo::Text };
            let end = follow::follow_run(client, id, echo).await?;
            Ok(if end.succeeded() {
                Exit::Ok
            } else {
                Exit::RunFailed
            })
        }
        RunsCommand::Cancel { id, .. } => {
            let v = client
                .post(&format!("/runs/{id}/cancel"), &json!({}))
                .await?;
            Ok(emit(&v, json, |s: Stopped| {
                let ids: Vec<String> = s.stopped.iter().map(i64::to_string).collect();
                format!("stopping run {}\n", ids.join(", "))
            }))
        }
    }
}

/// `POST /runs/{id}/cancel`'s answer.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Stopped {
    stopped: Vec<i64>,
}

/// `deckhand approve|reject ID`.
async fn decide(client: &Client, id: i64, decision: &str, json: bool) -> Result<Exit, ClientError> {
    let v = client
        .post(
            &format!("/approvals/{id}/decision"),
            &json!({"decision": decision}),
        )
        .await?;
    let (text, refused) = reports::decision(&parse::<DecisionView>(&v));
    if json {
        out(&format!("{v}\n"));
    } else {
        out(&text);
    }
    Ok(if refused { Exit::Refused } else { Exit::Ok })
}

fn unlocked(lifted: &[LockView]) -> String {
    let ids: Vec<String> = lifted.iter().map(|l| l.id.to_string()).collect();
    match lifted.first() {
        Some(l) => format!(
            "unlocked {} (lifted lock {})\n",
            render::scope(&l.environment, l.service.as_deref()),
            ids.join(", ")
        ),
        None => "nothing was locked\n".into(),
    }
}

/// Adds the fields that have a value to a JSON object.
fn with_optional(mut body: Value, fields: &[(&str, Option<Value>)]) -> Value {
    for (k, v) in fields {
        if let Some(v) = v {
            body[*k] = v.clone();
        }
    }
    body
}

/// A path segment, percent-encoded (names are slugs, but nothing typed is trusted).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A view of the JSON; missing fields take their defaults.
fn parse<T: DeserializeOwned + Default>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// A line of progress: stdout in text mode, stderr with `--json`.
fn progress(json: bool, text: &str) {
    if json {
        eprint!("{text}");
    } else {
        out(text);
    }
}

/// Writes to standard output and flushes (progress shows as it comes). When stdout is
/// gone (`deckhand runs logs 7 --follow | head`), the CLI ends quietly with exit 1 instead
/// of panicking.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(Exit::RunFailed as i32);
    }
}

/// Prints `v` as is with `--json`, else its text.
fn emit<T: DeserializeOwned + Default>(
    v: &Value,
    json: bool,
    text: impl FnOnce(T) -> String,
) -> Exit {
    if json {
        out(&format!("{v}\n"));
    } else {
        out(&text(parse(v)));
    }
    Exit::Ok
}

/// Like [`emit`] for a list under `key`.
fn emit_list<T: DeserializeOwned>(
    v: &Value,
    key: &str,
    json: bool,
    text: impl FnOnce(Vec<T>) -> String,
) -> Exit {
    if json {
        out(&format!("{v}\n"));
    } else {
        let list = serde_json::from_value(v[key].clone()).unwrap_or_default();
        out(&text(list));
    }
    Exit::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_optional_fields() {
        assert_eq!(segment("payments-api"), "payments-api");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        let body = with_optional(
            json!({"service": "s"}),
            &[("version", None), ("percent", Some(Value::from(10)))],
        );
        assert_eq!(body, json!({"service": "s", "percent": 10}));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Exit::Refused as u8, 3);
        let e = client::error_from(reqwest::StatusCode::LOCKED, br#"{"detail":"x"}"#, None);
        assert_eq!(e.exit(), Exit::Refused);
        let e = client::error_from(reqwest::StatusCode::UNAUTHORIZED, b"", None);
        assert_eq!(e.exit(), Exit::NoAnswer);
        assert_eq!(ClientError::BadServer("x".into()).exit(), Exit::Usage);
    }
}
