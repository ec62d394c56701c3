//! The real `deckhand serve` binary: secrets come from the environment only, a missing one is
//! named, and a configured server answers Slack's url_verification, refuses unsigned requests
//! and stops cleanly on SIGTERM.

mod support;

use deckhand::adapters::slack::signature::SlackVerifier;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::fake_slack::{http_post, FakeSlack};

fn serve(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    c.args(["serve", "--config"])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_SIGNING_SECRET")
        .env("DECKHAND_LOG", "warn");
    c
}

fn write_config(dir: &std::path::Path, api_base: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(support::root().join("tests/data/slack_deckhand.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:9/api", api_base)
        .replace(
            "sqlite://.deckhand/slack-test.db",
            &format!("sqlite://{}/d.db", dir.display()),
        );
    let path = dir.join("deckhand.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn missing_secrets_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "http://127.0.0.1:9/api");
    let out = serve(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SLACK_BOT_TOKEN is not set"), "{err}");

    let out = serve(&config)
        .env("SLACK_BOT_TOKEN", "xoxb-test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SLACK_SIGNING_SECRET is not set"), "{err}");
}

#[test]
fn missing_discord_secrets_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "http://127.0.0.1:9/api");
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("slack:").unwrap();
    let end = text.find("services:").unwrap();
    let discord = "discord:\n  gateway: false\n  interactions_endpoint: true\n";
    std::fs::write(
        &config,
        format!("{}{discord}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let out = serve(&config)
        .env_remove("DISCORD_BOT_TOKEN")
        .env_remove("DISCORD_PUBLIC_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DISCORD_BOT_TOKEN is not set"), "{err}");
    let out = serve(&config)
        .env("DISCORD_BOT_TOKEN", "t")
        .env_remove("DISCORD_PUBLIC_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DISCORD_PUBLIC_KEY is not set"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_signed_slack_requests_and_stops_on_sigterm() {
    let fake = FakeSlack::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &fake.api_base);
    let mut child = serve(&config)
        .env("SLACK_BOT_TOKEN", "xoxb-test")
        .env("SLACK_SIGNING_SECRET", "s3cret")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "deckhand: serving on http://127.0.0.1:PORT (Ctrl-C to stop)"
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("serve exited before listening");
            }
            if let Some(rest) = line.split("serving on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap().to_string();
                // Keep draining: a closed pipe would make the server's own messages fail.
                std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
                return addr;
            }
        }
    })
    .await
    .unwrap();
    let url = format!("http://{addr}/slack/events");

    let body = br#"{"token":"t","challenge":"abc123","type":"url_verification"}"#.to_vec();
    let ts = (deckhand::clock::now_ms() / 1000).to_string();
    let headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-slack-request-timestamp", ts.clone()),
        (
            "x-slack-signature",
            SlackVerifier::new("s3cret").sign(&ts, &body),
        ),
    ];
    let (status, answer) = http_post(&url, &headers, body.clone()).await;
    assert_eq!(status, 200);
    assert!(answer.contains("abc123"), "{answer}");
    let (status, _) = http_post(&url, &headers[..1], body).await;
    assert_eq!(status, 401);
    let (status, ok) = {
        let client: hyper_util::client::legacy::Client<
            _,
            http_body_util::Empty<axum::body::Bytes>,
        > = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
        let resp = client
            .get(format!("http://{addr}/healthz").parse().unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!((status, ok.as_str()), (200, "ok\n"));
    assert!(fake.calls().iter().any(|c| c.method == "auth.test"));

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || {
        for _ in 0..100 {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("serve did not stop within 10 s of SIGTERM");
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
}
