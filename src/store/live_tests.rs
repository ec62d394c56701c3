//! What is live: switches recorded by runs, whatever became of the runs afterwards.

use super::testing;
use super::*;
use crate::config::Strategy;
use crate::pipeline::Phase;

fn new_run(action: Action, version: &str) -> NewRun {
    NewRun {
        action,
        service: "payments-api".into(),
        environment: "staging".into(),
        version: Some(version.into()),
        strategy: Strategy::Direct,
        percent: None,
        requested_by: "alice".into(),
        origin: ThreadKey::new("console", "console", "t1").into(),
    }
}

/// A run that switches to `version` in its main phase, then ends with `status` after
/// `failed_stage` (None: everything passed).
async fn switched_run(
    s: &Store,
    action: Action,
    version: &str,
    status: RunStatus,
    failed_stage: Option<&str>,
) -> RunRecord {
    let id = s.start_run(&new_run(action, version)).await.unwrap();
    let run = s.run(id).await.unwrap().unwrap();
    s.record_switch(&run, Phase::Main, action, Some(version))
        .await
        .unwrap();
    s.settle_switches(id, Phase::Main, status, failed_stage)
        .await
        .unwrap();
    s.finish_run(&run, status, false, None).await.unwrap();
    run
}

async fn live(s: &Store) -> Deployment {
    s.live_versions(Some("payments-api"), Some("staging"))
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("something is live")
}

#[tokio::test]
async fn a_release_whose_verify_failed_is_live_and_can_be_rolled_back() {
    for t in testing::all().await {
        let s = &t.store;
        switched_run(s, Action::Deploy, "3.1.0", RunStatus::Succeeded, None).await;
        let broken = switched_run(
            s,
            Action::Deploy,
            "3.2.0-rc.1",
            RunStatus::Failed,
            Some("verify"),
        )
        .await;
        let now = live(s).await;
        assert_eq!(now.version.as_deref(), Some("3.2.0-rc.1"), "{}", t.backend);
        assert_eq!(now.run_id, broken.id);
        assert_eq!(now.live_phrase(), "3.2.0-rc.1 is live (its verify failed)");
        assert_eq!(
            now.live_phrase_on(),
            "3.2.0-rc.1 is live on staging (its verify failed)"
        );
        assert_eq!(
            s.rollback_target("payments-api", "staging")
                .await
                .unwrap()
                .as_deref(),
            Some("3.1.0")
        );
        // An automatic rollback restores the newest release that passed its checks.
        assert_eq!(
            s.restore_point("payments-api", "staging")
                .await
                .unwrap()
                .as_deref(),
            Some("3.1.0")
        );
        // History names the stage that failed.
        let h = s
            .history(Some("payments-api"), Some("staging"), 1)
            .await
            .unwrap();
        assert_eq!(h[0].failed_stage, None, "no stage results were stored");
        // Rolling back to 3.1.0 makes it live again, and nothing older is left to go to.
        switched_run(s, Action::Rollback, "3.1.0", RunStatus::Succeeded, None).await;
        assert_eq!(live(s).await.live_phrase(), "3.1.0 is live");
        assert_eq!(
            s.rollback_target("payments-api", "staging").await.unwrap(),
            None
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_failed_first_deploy_is_live_with_nothing_to_roll_back_to() {
    for t in testing::all().await {
        let s = &t.store;
        switched_run(
            s,
            Action::Deploy,
            "3.2.0-rc.1",
            RunStatus::Failed,
            Some("verify"),
        )
        .await;
        assert_eq!(
            live(s).await.live_phrase(),
            "3.2.0-rc.1 is live (its verify failed)",
            "{}",
            t.backend
        );
        assert_eq!(
            s.rollback_target("payments-api", "staging").await.unwrap(),
            None
        );
        assert_eq!(
            s.restore_point("payments-api", "staging").await.unwrap(),
            None
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn switch_outcomes_follow_the_run_and_a_crash() {
    for t in testing::all().await {
        let s = &t.store;
        let id = s
            .start_run(&new_run(Action::Deploy, "2.0.0"))
            .await
            .unwrap();
        let run = s.run(id).await.unwrap().unwrap();
        s.record_switch(&run, Phase::Main, Action::Deploy, Some("2.0.0"))
            .await
            .unwrap();
        let now = live(s).await;
        assert_eq!(now.status, "running", "{}", t.backend);
        assert_eq!(
            now.live_note().as_deref(),
            Some("its checks are still running")
        );
        s.set_run_stage(id, Phase::Main, "verify").await.unwrap();
        let stored = s.run(id).await.unwrap().unwrap();
        assert_eq!(
            (stored.stage_phase, stored.stage.as_deref()),
            (Some(Phase::Main), Some("verify"))
        );
        // The owning process dies: a restart marks the run and its switch interrupted.
        s.execute_raw(&format!(
            "UPDATE runs SET owner = 'gone-host:1', heartbeat_at = 0 WHERE id = {id}"
        ))
        .await
        .unwrap();
        assert_eq!(s.mark_interrupted().await.unwrap().len(), 1);
        let now = live(s).await;
        assert_eq!(now.version.as_deref(), Some("2.0.0"));
        assert_eq!(now.status, "interrupted");
        assert_eq!(
            now.live_phrase(),
            "2.0.0 is live (Deckhand stopped before its checks finished)"
        );
        assert_eq!(s.switches_of_run(id).await.unwrap().len(), 1);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn automatic_rollbacks_switch_in_their_own_phase() {
    for t in testing::all().await {
        let s = &t.store;
        switched_run(s, Action::Deploy, "3.1.0", RunStatus::Succeeded, None).await;
        // A deploy that fails verify, then an automatic rollback that switches back but
        // whose own verify fails.
        let id = s
            .start_run(&new_run(Action::Deploy, "3.2.0-rc.1"))
            .await
            .unwrap();
        let run = s.run(id).await.unwrap().unwrap();
        s.record_switch(&run, Phase::Main, Action::Deploy, Some("3.2.0-rc.1"))
            .await
            .unwrap();
        s.settle_switches(id, Phase::Main, RunStatus::Failed, Some("verify"))
            .await
            .unwrap();
        s.record_switch(&run, Phase::Rollback, Action::Rollback, Some("3.1.0"))
            .await
            .unwrap();
        s.settle_switches(id, Phase::Rollback, RunStatus::Failed, Some("verify"))
            .await
            .unwrap();
        s.record_auto_rollback(&run, Some("3.1.0"), RunStatus::Failed)
            .await
            .unwrap();
        s.finish_run(&run, RunStatus::Failed, false, Some("verify failed"))
            .await
            .unwrap();
        let now = live(s).await;
        assert_eq!(now.action, Action::Rollback, "{}", t.backend);
        assert_eq!(now.live_phrase(), "3.1.0 is live (its verify failed)");
        let h = s
            .history(Some("payments-api"), Some("staging"), 2)
            .await
            .unwrap();
        assert_eq!(
            h.iter()
                .map(|d| (d.action, d.status.as_str()))
                .collect::<Vec<_>>(),
            vec![(Action::Deploy, "failed"), (Action::Rollback, "failed")]
        );
        // A successful automatic rollback that reported no switch still switched.
        let id = s
            .start_run(&new_run(Action::Deploy, "3.3.0"))
            .await
            .unwrap();
        let run = s.run(id).await.unwrap().unwrap();
        s.record_auto_rollback(&run, Some("3.1.0"), RunStatus::Succeeded)
            .await
            .unwrap();
        s.finish_run(&run, RunStatus::Failed, true, None)
            .await
            .unwrap();
        let now = live(s).await;
        assert_eq!(
            (now.run_id, now.live_phrase()),
            (id, "3.1.0 is live".into())
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn failed_stages_of_history_rows_come_from_their_phase() {
    for t in testing::all().await {
        let s = &t.store;
        let id = s
            .start_run(&new_run(Action::Deploy, "3.2.0-rc.1"))
            .await
            .unwrap();
        let stage = |phase: &str, name: &str, status: &str| StageRecord {
            run_id: id,
            phase: crate::pipeline::Phase::parse(phase).unwrap(),
            position: 0,
            name: name.into(),
            status: crate::pipeline::StageState::parse(status).unwrap(),
            exit_code: None,
            duration_ms: 1,
            log_tail: String::new(),
            finished_at: now_ms(),
        };
        s.record_stage(&stage("main", "verify", "failed"))
            .await
            .unwrap();
        s.record_stage(&stage("rollback", "rollback", "timed_out"))
            .await
            .unwrap();
        let run = s.run(id).await.unwrap().unwrap();
        s.record_auto_rollback(&run, Some("3.1.0"), RunStatus::Failed)
            .await
            .unwrap();
        s.finish_run(&run, RunStatus::Failed, false, None)
            .await
            .unwrap();
        let h = s.history(Some("payments-api"), None, 5).await.unwrap();
        assert_eq!(
            h.iter()
                .map(|d| (d.action, d.failed_stage.as_deref()))
                .collect::<Vec<_>>(),
            vec![
                (Action::Deploy, Some("verify")),
                (Action::Rollback, Some("rollback"))
            ],
            "{}",
            t.backend
        );
        // Nothing switched: nothing is live.
        assert!(s.live_versions(None, None).await.unwrap().is_empty());
        t.cleanup().await;
    }
}
