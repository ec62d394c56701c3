use super::testing;
use super::*;
use crate::chat::ThreadKey;
use crate::config::Strategy;

fn new_run(service: &str, env: &str) -> NewRun {
    NewRun {
        action: Action::Deploy,
        service: service.into(),
        environment: env.into(),
        version: None,
        strategy: Strategy::Direct,
        percent: None,
        requested_by: "alice".into(),
        thread: ThreadKey::new("console", "console", "t1"),
    }
}

async fn deploy(store: &Store, service: &str, env: &str, version: &str, status: RunStatus) -> i64 {
    let id = store.start_run(&new_run(service, env)).await.unwrap();
    let mut run = store.run(id).await.unwrap().unwrap();
    run.version = Some(version.into());
    store.finish_run(&run, status, false, None).await.unwrap();
    id
}

#[tokio::test]
async fn one_running_run_per_target_on_every_backend() {
    for t in testing::all().await {
        let s = &t.store;
        let first = s
            .start_run(&new_run("billionmail", "staging"))
            .await
            .unwrap();
        match s.start_run(&new_run("billionmail", "staging")).await {
            Err(StoreError::Busy(existing)) => assert_eq!(existing.id, first, "{}", t.backend),
            other => panic!("{}: expected Busy, got {other:?}", t.backend),
        }
        // Other targets are independent.
        s.start_run(&new_run("billionmail", "production"))
            .await
            .unwrap();
        let run = s.run(first).await.unwrap().unwrap();
        s.finish_run(&run, RunStatus::Succeeded, false, None)
            .await
            .unwrap();
        s.start_run(&new_run("billionmail", "staging"))
            .await
            .unwrap();
        t.cleanup().await;
    }
}

#[tokio::test]
async fn live_versions_history_and_rollback_target() {
    for t in testing::all().await {
        let s = &t.store;
        deploy(s, "billionmail", "staging", "2.3.1", RunStatus::Succeeded).await;
        deploy(s, "billionmail", "staging", "2.4.0", RunStatus::Succeeded).await;
        deploy(s, "billionmail", "staging", "2.5.0", RunStatus::Failed).await;
        deploy(s, "redis", "dev", "7.2.4", RunStatus::Succeeded).await;
        let live = s.live_versions(Some("billionmail"), None).await.unwrap();
        assert_eq!(live.len(), 1, "{}", t.backend);
        assert_eq!(live[0].version.as_deref(), Some("2.4.0"));
        assert_eq!(s.live_versions(None, None).await.unwrap().len(), 2);
        assert_eq!(
            s.rollback_target("billionmail", "staging")
                .await
                .unwrap()
                .as_deref(),
            Some("2.3.1")
        );
        assert_eq!(s.rollback_target("redis", "dev").await.unwrap(), None);
        let h = s
            .history(Some("billionmail"), Some("staging"), 2)
            .await
            .unwrap();
        assert_eq!(
            h.iter()
                .map(|d| d.version.clone().unwrap())
                .collect::<Vec<_>>(),
            vec!["2.5.0", "2.4.0"]
        );
        assert_eq!(h[0].status, "failed");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn stages_and_last_failure_round_trip() {
    for t in testing::all().await {
        let s = &t.store;
        let id = s
            .start_run(&new_run("payments-api", "staging"))
            .await
            .unwrap();
        s.set_run_version(id, "3.2.0-rc.1").await.unwrap();
        let stage = StageRecord {
            run_id: id,
            phase: "main".into(),
            position: 3,
            name: "verify".into(),
            status: "failed".into(),
            exit_code: Some(1),
            duration_ms: 42,
            log_tail: "unhealthy: ledger unreachable".into(),
            finished_at: now_ms(),
        };
        s.record_stage(&stage).await.unwrap();
        let run = s.run(id).await.unwrap().unwrap();
        assert_eq!(run.version.as_deref(), Some("3.2.0-rc.1"));
        s.finish_run(&run, RunStatus::Failed, true, Some("verify failed"))
            .await
            .unwrap();
        let (failed, stages) = s
            .last_failed_run("payments-api", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failed.id, id);
        assert!(failed.rolled_back);
        assert_eq!(failed.error.as_deref(), Some("verify failed"));
        assert_eq!(stages[0].log_tail, "unhealthy: ledger unreachable");
        assert_eq!(stages[0].exit_code, Some(1));
        assert!(s
            .last_failed_run("payments-api", Some("production"))
            .await
            .unwrap()
            .is_none());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn crashed_runs_are_marked_interrupted_on_reopen() {
    for t in testing::all().await {
        let id = t.store.start_run(&new_run("redis", "dev")).await.unwrap();
        t.store.close().await;
        let reopened = Store::open(&t.url).await.unwrap();
        let stale = reopened.mark_interrupted().await.unwrap();
        assert_eq!(stale.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
        let run = reopened.run(id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Interrupted, "{}", t.backend);
        assert!(reopened.running_runs().await.unwrap().is_empty());
        assert_eq!(
            reopened.history(Some("redis"), None, 5).await.unwrap()[0].status,
            "interrupted"
        );
        reopened.close().await;
        t.cleanup().await;
    }
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
}
