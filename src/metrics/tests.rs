use super::testing::{parse, Exposition};
use super::*;
use crate::config::Strategy;
use crate::origin::ThreadKey;
use crate::pipeline::{Phase, RollbackOutcome};
use crate::store::{testing as stores, Action, FinishedRun, NewApproval, NewRun};

const S: i64 = 1000;

fn run(id: i64, action: Action, status: RunStatus, at: (i64, i64)) -> FinishedRun {
    FinishedRun {
        id,
        action,
        service: "billionmail".into(),
        environment: "production".into(),
        status,
        rolled_back: false,
        switched: status == RunStatus::Succeeded,
        started_at: at.0 * S,
        finished_at: at.1 * S,
        failed_at: None,
    }
}

/// Deploys and rollbacks of one target, with every kind of change failure.
fn history() -> Vec<FinishedRun> {
    let mut failed_after_switch = run(2, Action::Deploy, RunStatus::Failed, (1900, 2000));
    failed_after_switch.switched = true;
    failed_after_switch.failed_at = Some(1990 * S);
    // A build failure changed nothing: not a change, not a change failure.
    let failed_build = run(4, Action::Deploy, RunStatus::Failed, (2700, 2710));
    let mut rolled_back = run(5, Action::Deploy, RunStatus::Failed, (2900, 3100));
    rolled_back.rolled_back = true;
    rolled_back.failed_at = Some(3000 * S);
    vec![
        run(1, Action::Deploy, RunStatus::Succeeded, (900, 1000)),
        failed_after_switch,
        // Restores the failure of run 2: 2600 - 1990 = 610 s.
        run(3, Action::Deploy, RunStatus::Succeeded, (2500, 2600)),
        failed_build,
        rolled_back,
        run(6, Action::Deploy, RunStatus::Succeeded, (3900, 4000)),
        // Rolled back by hand 500 s after it ended: run 6 was a change failure too.
        run(7, Action::Rollback, RunStatus::Succeeded, (4500, 4600)),
    ]
}

#[test]
fn dora_measures_follow_the_documented_definitions() {
    let all = summarize(&history(), &[("all", 0), ("recent", 2500 * S)]);
    assert_eq!(all.len(), 2, "{all:?}");
    let whole = &all[0];
    assert_eq!(
        (whole.service.as_str(), whole.window),
        ("billionmail", "all")
    );
    assert_eq!(whole.deployments, 3);
    assert_eq!(whole.changes, 5);
    assert_eq!(whole.change_failures, 3);
    assert_eq!(whole.change_failure_ratio(), Some(0.6));
    assert_eq!(whole.restore_mean_secs, Some((610.0 + 100.0 + 100.0) / 3.0));
    assert_eq!(whole.restore_last_secs, Some(100.0));
    let recent = &all[1];
    assert_eq!(recent.deployments, 2);
    assert_eq!(recent.changes, 3);
    assert_eq!(recent.change_failures, 2);
    assert_eq!(recent.restore_mean_secs, Some(100.0));
}

#[test]
fn an_unrestored_failure_has_no_time_to_restore_and_a_late_rollback_blames_nothing() {
    let mut failed = run(2, Action::Deploy, RunStatus::Failed, (100, 200));
    failed.switched = true;
    let late = ROLLBACK_BLAME_MS / S + 2000;
    let mut runs = vec![
        run(1, Action::Deploy, RunStatus::Succeeded, (0, 50)),
        failed,
        run(3, Action::Deploy, RunStatus::Succeeded, (300, 400)),
        run(4, Action::Rollback, RunStatus::Succeeded, (late, late + 10)),
        run(
            5,
            Action::Deploy,
            RunStatus::Failed,
            (late + 100, late + 200),
        ),
    ];
    runs[4].switched = true;
    let d = &summarize(&runs, &[("all", 0)])[0];
    assert_eq!((d.deployments, d.changes, d.change_failures), (2, 4, 2));
    // Only run 2's failure is restored (by run 3); run 5's is not yet.
    assert_eq!(d.restore_mean_secs, Some(200.0));
}

#[test]
fn call_status_classes() {
    assert_eq!(CallStatus::of_http(200), CallStatus::Ok);
    assert_eq!(CallStatus::of_http(429), CallStatus::RateLimited);
    assert_eq!(CallStatus::of_http(404), CallStatus::ClientError);
    assert_eq!(CallStatus::of_http(503), CallStatus::ServerError);
    assert_eq!(CallStatus::RateLimited.as_str(), "429");
}

fn outcome(status: RunStatus, rolled_back: bool) -> RunOutcome {
    RunOutcome {
        status,
        version: Some("2.4.0".into()),
        failure: None,
        rollback: RollbackOutcome::NotRequested,
        rolled_back,
        switched: true,
        live: None,
        rollback_target: None,
        error: None,
    }
}

async fn stored_runs(store: &Store) -> RunRecord {
    let new = NewRun {
        action: Action::Deploy,
        service: "billionmail".into(),
        environment: "staging".into(),
        version: Some("2.4.0".into()),
        strategy: Strategy::Canary,
        percent: Some(10),
        requested_by: "alice".into(),
        origin: ThreadKey::new("console", "console", "t1").into(),
    };
    let id = store.start_run(&new).await.unwrap();
    let record = store.run(id).await.unwrap().unwrap();
    store
        .finish_run(&record, RunStatus::Succeeded, false, None)
        .await
        .unwrap();
    let now = crate::clock::now_ms();
    store
        .create_approval(&NewApproval {
            action: Action::Deploy,
            service: "billionmail".into(),
            environment: "production".into(),
            version: None,
            strategy: Strategy::Direct,
            percent: None,
            requested_by: "alice".into(),
            origin: ThreadKey::new("console", "console", "t2").into(),
            command: String::new(),
            required: 1,
            note: String::new(),
            created_at: now - 90_000,
            expires_at: now + 3_600_000,
        })
        .await
        .unwrap();
    record
}

/// One of each event, counted into `m`.
fn count_some(m: &Metrics, record: &RunRecord) {
    m.run_finished(
        record,
        &outcome(RunStatus::Succeeded, false),
        Duration::from_secs(42),
    );
    m.run_finished(
        record,
        &outcome(RunStatus::Failed, true),
        Duration::from_millis(500),
    );
    let stage = StageRef {
        phase: Phase::Main,
        index: 0,
        name: "build".into(),
    };
    m.stage_finished(
        "billionmail",
        &stage,
        StageState::Succeeded,
        Duration::from_millis(70),
    );
    m.refused(RefusalKind::Locked);
    m.refused(RefusalKind::Locked);
    m.intent(Intent::None);
    m.intent(Intent::Deploy);
    m.platform_call("slack", "chat.postMessage", CallStatus::RateLimited);
    m.platform_retry("slack", RetryReason::RateLimited);
    m.event_received("slack");
    m.event_received("slack");
    m.event_duplicate("slack");
}

fn assert_counters(exp: &Exposition) {
    let runs = |outcome| {
        exp.value(
            "deckhand_runs_total",
            &[
                ("service", "billionmail"),
                ("outcome", outcome),
                ("strategy", "canary"),
            ],
        )
    };
    assert_eq!(runs("succeeded"), Some(1.0));
    assert_eq!(runs("rolled_back"), Some(1.0));
    assert_eq!(exp.types["deckhand_run_duration_seconds"], "histogram");
    let succeeded = [("service", "billionmail"), ("outcome", "succeeded")];
    assert_eq!(
        exp.value("deckhand_run_duration_seconds_sum", &succeeded),
        Some(42.0)
    );
    let le = |b| {
        let mut l = succeeded.to_vec();
        l.push(("le", b));
        exp.value("deckhand_run_duration_seconds_bucket", &l)
    };
    assert_eq!((le("30.0"), le("60.0")), (Some(0.0), Some(1.0)));
    assert_eq!(
        exp.value(
            "deckhand_stage_duration_seconds_count",
            &[("stage", "build")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exp.value("deckhand_refusals_total", &[("kind", "locked")]),
        Some(2.0)
    );
    assert_eq!(
        exp.value("deckhand_nlu_intents_total", &[("intent", "none")]),
        Some(1.0)
    );
    assert_eq!(exp.sum("deckhand_nlu_intents_total", &[]), 2.0);
    let call = [("platform", "slack"), ("method", "chat.postMessage")];
    assert_eq!(exp.value("deckhand_platform_calls_total", &call), Some(1.0));
    assert_eq!(
        exp.value("deckhand_platform_rate_limited_total", &call),
        Some(1.0)
    );
    assert_eq!(
        exp.value(
            "deckhand_platform_retries_total",
            &[("reason", "rate_limited")]
        ),
        Some(1.0)
    );
    assert_eq!(
        exp.value("deckhand_events_received_total", &[("platform", "slack")]),
        Some(2.0)
    );
    assert_eq!(
        exp.value("deckhand_events_duplicate_total", &[("platform", "slack")]),
        Some(1.0)
    );
}

/// What the store holds after [`stored_runs`].
fn assert_store_state(exp: &Exposition) {
    let target = [("service", "billionmail"), ("environment", "staging")];
    assert_eq!(exp.value("deckhand_store_up", &[]), Some(1.0));
    let week = [target[0], target[1], ("window", "7d")];
    assert_eq!(exp.value("deckhand_dora_deployments", &week), Some(1.0));
    assert_eq!(
        exp.value("deckhand_dora_change_failure_ratio", &week),
        Some(0.0)
    );
    assert!(exp
        .value("deckhand_dora_time_to_restore_mean_seconds", &week)
        .is_none());
    let prod = [("environment", "production")];
    assert_eq!(exp.value("deckhand_approvals_pending", &prod), Some(1.0));
    let age = exp
        .value("deckhand_approvals_oldest_pending_age_seconds", &prod)
        .unwrap();
    assert!((89.0..200.0).contains(&age), "{age}");
    let last = exp
        .value("deckhand_last_successful_deploy_timestamp_seconds", &target)
        .unwrap();
    assert!((last * 1000.0 - crate::clock::now_ms() as f64).abs() < 60_000.0);
}

#[tokio::test]
async fn render_counts_events_and_reads_the_store() {
    for t in stores::all().await {
        let m = Metrics::new();
        m.set_store_refresh(Duration::ZERO);
        let record = stored_runs(&t.store).await;
        count_some(&m, &record);
        let text = m.render(&t.store).await;
        let exp = parse(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", t.backend));
        assert_counters(&exp);
        assert_store_state(&exp);
        // A store that does not answer: the counters still render, the state does not.
        t.store.close().await;
        let exp = parse(&m.render(&t.store).await).unwrap();
        assert_eq!(exp.value("deckhand_store_up", &[]), Some(0.0));
        assert!(!exp.types.contains_key("deckhand_approvals_pending"));
        assert_eq!(
            exp.value("deckhand_refusals_total", &[("kind", "locked")]),
            Some(2.0)
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_store_part_is_reused_within_the_refresh_period() {
    let t = stores::sqlite().await.unwrap();
    let m = Metrics::new();
    let before = parse(&m.render(&t.store).await).unwrap();
    assert!(before.value("deckhand_dora_deployments", &[]).is_none());
    stored_runs(&t.store).await;
    let cached = parse(&m.render(&t.store).await).unwrap();
    assert!(cached
        .value("deckhand_dora_deployments", &[("window", "7d")])
        .is_none());
    m.set_store_refresh(Duration::ZERO);
    let fresh = parse(&m.render(&t.store).await).unwrap();
    assert_eq!(
        fresh.value("deckhand_dora_deployments", &[("window", "7d")]),
        Some(1.0)
    );
    t.cleanup().await;
}

#[tokio::test]
async fn the_session_count_is_reused_within_the_refresh_period() {
    let t = stores::sqlite().await.unwrap();
    let m = Metrics::new();
    let sessions = SessionStore::new(Duration::from_secs(3600), 5);
    m.track_sessions(sessions.clone());
    sessions.get(&ThreadKey::new("slack", "C1", "1.0")).await;
    let first = parse(&m.render(&t.store).await).unwrap();
    assert_eq!(first.value("deckhand_sessions_active", &[]), Some(1.0));
    // A second thread within the refresh period: the count taken is reused.
    sessions.get(&ThreadKey::new("slack", "C1", "2.0")).await;
    let cached = parse(&m.render(&t.store).await).unwrap();
    assert_eq!(cached.value("deckhand_sessions_active", &[]), Some(1.0));
    m.set_store_refresh(Duration::ZERO);
    let fresh = parse(&m.render(&t.store).await).unwrap();
    assert_eq!(fresh.value("deckhand_sessions_active", &[]), Some(2.0));
    t.cleanup().await;
}

#[test]
fn the_reader_rejects_what_is_not_openmetrics() {
    assert!(parse("deckhand_x 1\n# EOF\n").is_err(), "undeclared family");
    assert!(
        parse("# TYPE deckhand_x gauge\ndeckhand_x 1\n").is_err(),
        "no EOF"
    );
    let ok = parse("# TYPE deckhand_x counter\ndeckhand_x_total{a=\"q\\\"u\",b=\"2\"} 3\n# EOF\n")
        .unwrap();
    assert_eq!(ok.value("deckhand_x_total", &[("a", "q\"u")]), Some(3.0));
}
