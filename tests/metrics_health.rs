//! `GET /metrics`, `/healthz` and `/readyz` on the real server (`deckhand serve` with a fake
//! Slack), after real actions: runs that succeed and fail through the command layer, a
//! refusal, an approval request, a Slack event delivered twice and a Slack 429. The
//! exposition is parsed and values are asserted by family and labels. On SQLite, and on
//! PostgreSQL when `DECKHAND_TEST_POSTGRES_URL` is set (required in CI).

mod support;

use deckhand::command::{Command, EnvName, Outcome, RefusalKind, RunCommand, ServiceName};
use deckhand::config::{Config, Pipeline, SlackTransport};
use deckhand::metrics::testing::{parse, Exposition};
use deckhand::origin::Origin;
use deckhand::pipeline::{ProgressSink, RunEvent, RunStatus};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use support::fake_slack::Failure;
use support::slack_rig::{fresh_ts, mention, rig_with, Rig, WAIT};

struct Quiet;

impl ProgressSink for Quiet {
    fn report(&self, _event: &RunEvent) {}
}

/// `shaky`: its verify stage fails for version 9.9.9, after the deploy stage switched.
fn add_shaky(config: &mut Config) {
    let pipeline: Pipeline = serde_yaml::from_str(
        r#"
stages:
  - name: build
    command: "echo built $DECKHAND_VERSION"
  - name: deploy
    command: "echo deployed"
  - name: verify
    command: "test \"$DECKHAND_VERSION\" != 9.9.9 || { echo 'health check failed' >&2; exit 2; }"
rollback_from: deploy
"#,
    )
    .unwrap();
    config.pipelines.insert("shaky".into(), pipeline);
    config
        .services
        .push(serde_yaml::from_str("{name: shaky, pipeline: shaky}").unwrap());
}

async fn get(url: &str) -> (u16, String, String) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, kind, resp.text().await.unwrap())
}

async fn scrape(rig: &Rig) -> Exposition {
    let (status, kind, text) = get(&format!("{}/metrics", rig.url)).await;
    assert_eq!(status, 200);
    assert_eq!(kind, deckhand::metrics::CONTENT_TYPE);
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

async fn readyz(rig: &Rig) -> (u16, Value) {
    let (status, _, body) = get(&format!("{}/readyz", rig.url)).await;
    (status, serde_json::from_str(&body).unwrap())
}

/// Asks the command layer to deploy `service` to `env` as `person`.
async fn deploy(rig: &Rig, person: &str, service: &str, env: &str, version: &str) -> Outcome {
    let c = rig.bot.commander();
    let command = Command::Deploy(RunCommand {
        service: ServiceName::resolve(c.config(), service).unwrap(),
        environment: EnvName::resolve(c.config(), env).unwrap(),
        version: Some(version.into()),
        strategy: None,
        percent: None,
    });
    let actor = c.governance().actor_for_person(person);
    let origin = Origin::Api {
        client: person.into(),
    };
    c.apply(command, &actor, &origin, Arc::new(Quiet))
        .await
        .unwrap()
}

async fn finished_status(rig: &Rig, service: &str, env: &str, version: &str) -> RunStatus {
    match deploy(rig, "alice", service, env, version).await {
        Outcome::Started(s) => s.handle.finished().await.status,
        other => panic!("{version}: {other:?}"),
    }
}

/// The actions whose traces the metrics must show.
async fn act(rig: &Rig) {
    assert_eq!(
        finished_status(rig, "shaky", "staging", "1.0.0").await,
        RunStatus::Succeeded
    );
    assert_eq!(
        finished_status(rig, "shaky", "staging", "9.9.9").await,
        RunStatus::Failed
    );
    // Restores the target the failed change broke.
    assert_eq!(
        finished_status(rig, "shaky", "staging", "1.0.1").await,
        RunStatus::Succeeded
    );
    match deploy(rig, "dave", "shaky", "staging", "1.0.2").await {
        Outcome::Refused(r) => assert_eq!(r.kind(), RefusalKind::NotPermitted),
        other => panic!("dave may not deploy: {other:?}"),
    }
    assert!(matches!(
        deploy(rig, "alice", "billionmail", "production", "1.4.0").await,
        Outcome::AwaitingApproval(_)
    ));
    // One Slack event delivered twice; the answer to it first meets a 429.
    rig.fake
        .fail_next("chat.postMessage", &[Failure::RateLimited(0.0)]);
    let event = mention("UALICE", "what is running in staging", &fresh_ts());
    for _ in 0..2 {
        assert_eq!(rig.event(&event).await.0, 200);
    }
    assert!(rig.server.as_ref().unwrap().flush(WAIT).await);
}

fn assert_counted(m: &Exposition) {
    let shaky = [
        ("service", "shaky"),
        ("environment", "staging"),
        ("action", "deploy"),
    ];
    let runs = |outcome| {
        let mut l = shaky.to_vec();
        l.push(("outcome", outcome));
        m.value("deckhand_runs_total", &l)
    };
    assert_eq!((runs("succeeded"), runs("failed")), (Some(2.0), Some(1.0)));
    let failed = [("service", "shaky"), ("outcome", "failed")];
    assert_eq!(
        m.value("deckhand_run_duration_seconds_count", &failed),
        Some(1.0)
    );
    let verify = [("service", "shaky"), ("stage", "verify")];
    assert_eq!(
        m.value(
            "deckhand_stage_duration_seconds_count",
            &[verify[0], verify[1], ("outcome", "failed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.sum("deckhand_stage_duration_seconds_count", &verify),
        3.0,
        "verify ran in each of the three runs"
    );
    assert_eq!(
        m.value("deckhand_refusals_total", &[("kind", "not_permitted")]),
        Some(1.0)
    );
    let slack = [("platform", "slack")];
    assert_eq!(m.value("deckhand_events_received_total", &slack), Some(2.0));
    assert_eq!(
        m.value("deckhand_events_duplicate_total", &slack),
        Some(1.0)
    );
    assert_eq!(
        m.sum("deckhand_nlu_intents_total", &[]),
        1.0,
        "the duplicate is not parsed"
    );
    let post = [("platform", "slack"), ("method", "chat.postMessage")];
    let calls = |status| {
        let mut l = post.to_vec();
        l.push(("status", status));
        m.value("deckhand_platform_calls_total", &l)
    };
    assert_eq!(calls("429"), Some(1.0));
    assert!(calls("2xx").unwrap_or(0.0) >= 1.0);
    assert_eq!(
        m.value("deckhand_platform_rate_limited_total", &post),
        Some(1.0)
    );
    assert_eq!(
        m.value(
            "deckhand_platform_retries_total",
            &[slack[0], ("reason", "rate_limited")]
        ),
        Some(1.0)
    );
    let auth = [("method", "auth.test"), ("status", "2xx")];
    assert_eq!(m.value("deckhand_platform_calls_total", &auth), Some(1.0));
    assert!(m.value("deckhand_sessions_active", &[]).unwrap() >= 1.0);
}

fn assert_from_store(m: &Exposition) {
    assert_eq!(m.value("deckhand_store_up", &[]), Some(1.0));
    let week = [
        ("service", "shaky"),
        ("environment", "staging"),
        ("window", "7d"),
    ];
    assert_eq!(m.value("deckhand_dora_deployments", &week), Some(2.0));
    assert_eq!(m.value("deckhand_dora_changes", &week), Some(3.0));
    assert_eq!(m.value("deckhand_dora_change_failures", &week), Some(1.0));
    let ratio = m
        .value("deckhand_dora_change_failure_ratio", &week)
        .unwrap();
    assert!((ratio - 1.0 / 3.0).abs() < 1e-9, "{ratio}");
    let mean = m
        .value("deckhand_dora_time_to_restore_mean_seconds", &week)
        .unwrap();
    let last = m
        .value("deckhand_dora_time_to_restore_last_seconds", &week)
        .unwrap();
    assert!(mean > 0.0 && mean < 60.0, "{mean}");
    assert_eq!(mean, last, "one restored failure");
    let prod = [("environment", "production")];
    assert_eq!(m.value("deckhand_approvals_pending", &prod), Some(1.0));
    let age = m
        .value("deckhand_approvals_oldest_pending_age_seconds", &prod)
        .unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(m
        .value(
            "deckhand_last_successful_deploy_timestamp_seconds",
            &[week[0], week[1]]
        )
        .is_some());
    assert!(m.value("deckhand_runs_in_progress", &[]).is_none());
}

/// Every metric the example Grafana dashboard queries is one the server exports.
fn assert_dashboard_uses(m: &Exposition) {
    let path = support::root().join("docker/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("deckhand_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(m.family(&name).is_some(), "the dashboard queries {name}");
    }
}

/// Drops the newest migration's record, as a database an older binary migrated would look.
async fn forget_last_migration(url: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(url).await.unwrap();
    let gone = sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&mut db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(gone, 1);
    let _ = db.close().await;
}

async fn story(url: Option<String>) {
    let rig = rig_with(SlackTransport::EventsApi, |c| {
        add_shaky(c);
        if let Some(url) = url {
            c.store.url = url;
        }
    })
    .await;
    rig.bot.metrics().set_store_refresh(Duration::ZERO);
    let (status, _, body) = get(&format!("{}/healthz", rig.url)).await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, ready) = readyz(&rig).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["ready"], true);
    let names: Vec<&str> = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["store", "migrations", "adapter:slack"]);
    act(&rig).await;
    let m = scrape(&rig).await;
    assert_counted(&m);
    assert_from_store(&m);
    assert_dashboard_uses(&m);
    // Migrations missing: not ready, and the body says why.
    forget_last_migration(&rig.bot.config().store_url()).await;
    let (status, ready) = readyz(&rig).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["not_ready"], serde_json::json!(["migrations"]));
    // The store closed: not ready; /metrics still answers, with the store down.
    rig.bot.store().close().await;
    let (status, ready) = readyz(&rig).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(
        ready["not_ready"],
        serde_json::json!(["store", "migrations"])
    );
    let m = scrape(&rig).await;
    assert_eq!(m.value("deckhand_store_up", &[]), Some(0.0));
    assert_eq!(
        m.value("deckhand_refusals_total", &[("kind", "not_permitted")]),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_on_sqlite() {
    story(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_on_postgres() {
    let Some(pg) = support::postgres::store("metrics_and_health_on_postgres").await else {
        return;
    };
    story(Some(pg.url.clone())).await;
    pg.cleanup().await;
}

/// Polls `/readyz` until its status is `want`; returns the body.
async fn readyz_becomes(rig: &Rig, want: u16) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, ready) = readyz(rig).await;
        if status == want {
            return ready;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never answered {want}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_socket_mode_connection() {
    let rig = rig_with(SlackTransport::SocketMode, |_| {}).await;
    let ready = readyz_becomes(&rig, 200).await;
    assert_eq!(ready["checks"][2]["detail"], "connected");
    assert_eq!(rig.fake.socket_count(), 1);
    // Slack closes the connection: not ready until Deckhand has reconnected.
    rig.fake.drop_socket();
    let down = readyz_becomes(&rig, 503).await;
    assert_eq!(down["not_ready"], serde_json::json!(["adapter:slack"]));
    assert_eq!(down["checks"][2]["detail"], "not connected");
    readyz_becomes(&rig, 200).await;
    assert_eq!(rig.fake.socket_count(), 2);
}
