use super::testing;
use super::*;
use crate::config::Strategy;
use crate::origin::ThreadKey;

fn new_run(service: &str, env: &str) -> NewRun {
    NewRun {
        action: Action::Deploy,
        service: service.into(),
        environment: env.into(),
        version: None,
        strategy: Strategy::Direct,
        percent: None,
        requested_by: "alice".into(),
        origin: ThreadKey::new("console", "console", "t1").into(),
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
            phase: crate::pipeline::Phase::Main,
            position: 3,
            name: "verify".into(),
            status: crate::pipeline::StageState::Failed,
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

#[tokio::test]
async fn runs_of_live_owners_are_not_interrupted() {
    for t in testing::all().await {
        let s = &t.store;
        let host = instance_id().rsplit_once(':').unwrap().0.to_string();
        let live_here = s.start_run(&new_run("redis", "dev")).await.unwrap();
        // pid 1 always exists: a live process on this host owns this run.
        s.execute_raw(&format!(
            "UPDATE runs SET owner = '{host}:1' WHERE id = {live_here}"
        ))
        .await
        .unwrap();
        let elsewhere_fresh = s.start_run(&new_run("redis", "staging")).await.unwrap();
        s.execute_raw(&format!("UPDATE runs SET owner = 'other-host:42', heartbeat_at = {} WHERE id = {elsewhere_fresh}", now_ms())).await.unwrap();
        let elsewhere_stale = s.start_run(&new_run("redis", "production")).await.unwrap();
        s.execute_raw(&format!("UPDATE runs SET owner = 'other-host:43', heartbeat_at = {} WHERE id = {elsewhere_stale}", now_ms() - RUN_LEASE_MS - 1)).await.unwrap();
        let stale: Vec<i64> = s
            .mark_interrupted()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(stale, vec![elsewhere_stale], "{}", t.backend);
        // A result arriving after another process interrupted the run does not overwrite it.
        let run = s.run(elsewhere_stale).await.unwrap().unwrap();
        assert!(!s
            .finish_run(&run, RunStatus::Succeeded, false, None)
            .await
            .unwrap());
        assert_eq!(
            s.run(elsewhere_stale).await.unwrap().unwrap().status,
            RunStatus::Interrupted
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn rollback_target_follows_the_deploy_history() {
    for t in testing::all().await {
        let s = &t.store;
        deploy(s, "billionmail", "staging", "2.3.1", RunStatus::Succeeded).await;
        deploy(s, "billionmail", "staging", "2.4.0", RunStatus::Succeeded).await;
        // Roll back to 2.3.1: the next rollback has nothing older than 2.3.1's deploy.
        let id = s
            .start_run(&NewRun {
                action: Action::Rollback,
                ..new_run("billionmail", "staging")
            })
            .await
            .unwrap();
        let mut run = s.run(id).await.unwrap().unwrap();
        run.version = Some("2.3.1".into());
        s.finish_run(&run, RunStatus::Succeeded, false, None)
            .await
            .unwrap();
        assert_eq!(
            s.rollback_target("billionmail", "staging").await.unwrap(),
            None,
            "{}",
            t.backend
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn deliveries_are_recorded_once_and_pruned() {
    for t in testing::all().await {
        let s = &t.store;
        assert!(s.first_delivery("slack", "Ev1", 1_000).await.unwrap());
        assert!(
            !s.first_delivery("slack", "Ev1", 2_000).await.unwrap(),
            "{}",
            t.backend
        );
        assert!(
            s.first_delivery("discord", "Ev1", 2_000).await.unwrap(),
            "ids are per platform"
        );
        assert_eq!(s.prune_deliveries(1_500).await.unwrap(), 1);
        assert!(s.first_delivery("slack", "Ev1", 3_000).await.unwrap());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn joined_threads_are_remembered_and_pruned() {
    for t in testing::all().await {
        let s = &t.store;
        let a = ThreadKey::new("slack", "T1/C1", "100.1");
        let b = ThreadKey::new("slack", "T1/C1", "200.2");
        assert!(!s.in_thread(&a).await.unwrap(), "{}", t.backend);
        s.join_thread(&a, 1_000).await.unwrap();
        s.join_thread(&a, 5_000).await.unwrap(); // idempotent, keeps the first time
        s.join_thread(&b, 3_000).await.unwrap();
        assert!(s.in_thread(&a).await.unwrap());
        assert!(!s
            .in_thread(&ThreadKey::new("discord", "T1/C1", "100.1"))
            .await
            .unwrap());
        assert_eq!(
            s.find_thread("slack", "200.2").await.unwrap(),
            Some(b.clone())
        );
        assert_eq!(s.find_thread("discord", "200.2").await.unwrap(), None);
        assert_eq!(s.prune_threads(2_000).await.unwrap(), 1, "{}", t.backend);
        assert!(!s.in_thread(&a).await.unwrap());
        assert!(s.in_thread(&b).await.unwrap());
        t.cleanup().await;
    }
}

/// Many events at once share the group-commit writer: every id is claimed exactly once however
/// its deliveries land in batches, and thread joins queued beside them are all recorded (the
/// same id twice in one batch is `one_batch_answers_each_mark_in_order`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_are_claimed_once_each() {
    for t in testing::all().await {
        let s = &t.store;
        let ids: Vec<String> = (0..120).map(|i| format!("Ev{i}")).collect();
        let mut tasks = Vec::new();
        for round in 0..3 {
            for (i, id) in ids.iter().enumerate() {
                let (s, id) = (s.clone(), id.clone());
                tasks.push(tokio::spawn(async move {
                    let thread = ThreadKey::new("slack", "T1/C1", &format!("{i}.{round}"));
                    s.join_thread(&thread, 1_000).await.unwrap();
                    (
                        id.clone(),
                        s.first_delivery("slack", &id, 1_000).await.unwrap(),
                    )
                }));
            }
        }
        let mut firsts: std::collections::HashMap<String, usize> = Default::default();
        for task in tasks {
            let (id, first) = task.await.unwrap();
            *firsts.entry(id).or_default() += usize::from(first);
        }
        for id in &ids {
            assert_eq!(firsts.get(id), Some(&1), "{}: {id} claimed once", t.backend);
        }
        for (i, round) in [(0, 0), (57, 1), (119, 2)] {
            let thread = ThreadKey::new("slack", "T1/C1", &format!("{i}.{round}"));
            assert!(s.in_thread(&thread).await.unwrap(), "{}", t.backend);
        }
        t.cleanup().await;
    }
}

/// One batch holding the same delivery twice and the same thread twice (a redelivery and a
/// second join that arrived together): the first of each inserts, the second is a repeat; in
/// any order of keys, on every backend. Then a batch of 256 distinct deliveries (768 values in
/// one statement) is all new.
#[tokio::test]
async fn one_batch_answers_each_mark_in_order() {
    use super::group::BatchWrite;
    use super::marks::{Mark, MarkWriter};
    for t in testing::all().await {
        let writer = MarkWriter::new(t.store.pool.clone(), None);
        let delivery = |id: &str| Mark::Delivery {
            platform: "slack".into(),
            event_id: id.into(),
            at: 1_000,
        };
        let join = |ts: &str| Mark::Join {
            thread: ThreadKey::new("slack", "T1/C1", ts),
            at: 1_000,
        };
        let batch = [
            delivery("Ev9"),
            delivery("Ev9"),
            join("2.2"),
            join("1.1"),
            join("2.2"),
            delivery("Ev1"),
        ];
        assert_eq!(
            writer.write_all(&batch).await.unwrap(),
            vec![true, false, true, true, false, true],
            "{}",
            t.backend
        );
        assert_eq!(
            writer.write_all(&batch).await.unwrap(),
            vec![false; 6],
            "{}: all written before",
            t.backend
        );
        let many: Vec<Mark> = (0..256).map(|i| delivery(&format!("Many{i}"))).collect();
        assert_eq!(writer.write_all(&many).await.unwrap(), vec![true; 256]);
        t.cleanup().await;
    }
}

/// A batch of 256 audit entries (2,048 values in one statement) appends in order and the chain
/// verifies, on every backend.
#[tokio::test]
async fn a_full_audit_batch_keeps_the_chain() {
    for t in testing::all().await {
        let details: Vec<String> = (0..256).map(|i| format!("{{\"n\":{i}}}")).collect();
        let entries: Vec<NewAuditEntry<'_>> = details
            .iter()
            .map(|d| NewAuditEntry {
                at: 1_000,
                actor: "alice",
                kind: "command",
                subject: "billionmail/staging",
                details: d,
            })
            .collect();
        let seqs = t
            .store
            .audit_append_batch(&entries, |i, seq, prev| {
                let e = &entries[i];
                crate::audit::entry_hash(seq, e.at, e.actor, e.kind, e.subject, e.details, prev)
            })
            .await
            .unwrap();
        assert_eq!(seqs, (1..=256).collect::<Vec<i64>>(), "{}", t.backend);
        let audit = crate::audit::Audit::new(t.store.clone());
        assert_eq!(audit.verify().await.unwrap(), 256, "{}", t.backend);
        t.cleanup().await;
    }
}

/// A SQLite file's log is checkpointed in the background after every 256 group-write batches
/// (writes awaited one by one: one batch each), not in the commit that crosses SQLite's
/// threshold; PostgreSQL has nothing to checkpoint.
#[tokio::test]
async fn group_writes_checkpoint_a_sqlite_log_in_the_background() {
    for t in testing::all().await {
        let s = &t.store;
        for i in 0..600 {
            s.first_delivery("slack", &format!("Ev{i}"), 1_000)
                .await
                .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let sqlite = t.backend == "sqlite";
        // Due at batches 256 and 512; the second is skipped if the first still runs.
        while sqlite && s.checkpoints_done() < 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let done = s.checkpoints_done();
        if sqlite {
            assert!((1..=2).contains(&done), "{done} background checkpoints");
            // SQLite's own checkpoint only as the safety net, on every connection.
            for _ in 0..4 {
                let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                    .fetch_one(&s.pool)
                    .await
                    .unwrap();
                assert_eq!(pages, 10_000);
            }
        } else {
            assert_eq!(done, 0, "nothing to checkpoint on {}", t.backend);
        }
        t.cleanup().await;
    }
}

/// A thread recorded here is not written again while fresh; a prune here forgets that, so a
/// pruned thread joined again is recorded again.
#[tokio::test]
async fn a_pruned_thread_joined_again_is_recorded_again() {
    for t in testing::all().await {
        let s = &t.store;
        let a = ThreadKey::new("slack", "T1/C1", "100.1");
        let b = ThreadKey::new("slack", "T1/C1", "200.2");
        s.join_thread(&a, 1_000).await.unwrap();
        s.join_thread(&b, 9_000).await.unwrap();
        assert_eq!(s.prune_threads(2_000).await.unwrap(), 1, "{}", t.backend);
        assert!(!s.in_thread(&a).await.unwrap());
        s.join_thread(&a, 3_000).await.unwrap();
        assert!(s.in_thread(&a).await.unwrap(), "{}", t.backend);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn latest_deploy_in_thread_and_by_person() {
    for t in testing::all().await {
        let s = &t.store;
        let here = ThreadKey::new("slack", "T1/C1", "100.1");
        let there = ThreadKey::new("slack", "T1/C1", "200.2");
        let start = |action, env: &str, who: &str, thread: &ThreadKey| NewRun {
            action,
            requested_by: who.into(),
            origin: thread.clone().into(),
            ..new_run("billionmail", env)
        };
        assert!(s.latest_deploy_in_thread(&here).await.unwrap().is_none());
        assert!(s.latest_deploy_by("alice").await.unwrap().is_none());
        let a1 = s
            .start_run(&start(Action::Deploy, "dev", "alice", &here))
            .await
            .unwrap();
        let run = s.run(a1).await.unwrap().unwrap();
        s.finish_run(&run, RunStatus::Failed, false, None)
            .await
            .unwrap();
        let b1 = s
            .start_run(&start(Action::Deploy, "staging", "bob", &here))
            .await
            .unwrap();
        let a2 = s
            .start_run(&start(Action::Deploy, "production", "alice", &there))
            .await
            .unwrap();
        // Rollbacks are not deployments: newer ones do not hide the deploys.
        s.start_run(&start(Action::Rollback, "qa", "alice", &here))
            .await
            .unwrap();
        s.start_run(&start(Action::Rollback, "demo", "bob", &there))
            .await
            .unwrap();
        let id = |r: Option<RunRecord>| r.map(|r| r.id);
        assert_eq!(
            id(s.latest_deploy_in_thread(&here).await.unwrap()),
            Some(b1),
            "{}",
            t.backend
        );
        assert_eq!(
            id(s.latest_deploy_in_thread(&there).await.unwrap()),
            Some(a2)
        );
        assert_eq!(id(s.latest_deploy_by("alice").await.unwrap()), Some(a2));
        assert_eq!(id(s.latest_deploy_by("bob").await.unwrap()), Some(b1));
        assert!(s.latest_deploy_by("carol").await.unwrap().is_none());
        // Same channel and thread id on another platform is another thread.
        assert!(s
            .latest_deploy_in_thread(&ThreadKey::new("discord", "T1/C1", "100.1"))
            .await
            .unwrap()
            .is_none());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn plans_of_other_hosts_are_interrupted_once_their_lease_lapsed() {
    for t in testing::all().await {
        let s = &t.store;
        let step = |svc: &str| NewStep {
            command: "{}".into(),
            service: svc.into(),
            environment: "staging".into(),
        };
        let origin: crate::origin::Origin = ThreadKey::new("console", "console", "t1").into();
        let plan = |n: i64| {
            let steps = [step("redis"), step("billionmail")];
            let origin = origin.clone();
            async move {
                let id = s.create_plan("alice", &origin, &steps, n).await.unwrap();
                s.execute_raw(&format!(
                    "UPDATE plans SET owner = 'other-host:{id}' WHERE id = {id}"
                ))
                .await
                .unwrap();
                id
            }
        };
        let now = now_ms();
        let old = now - RUN_LEASE_MS - 1;
        // Started just now on another host: alive.
        let fresh = plan(now).await;
        // Started long ago, its running step's run still beating: alive.
        let beating = plan(old).await;
        let run = s.start_run(&new_run("redis", "staging")).await.unwrap();
        s.execute_raw(&format!(
            "UPDATE runs SET owner = 'other-host:1', heartbeat_at = {now} WHERE id = {run}"
        ))
        .await
        .unwrap();
        s.set_step(beating, 1, StepStatus::Running, Some(run), "", old)
            .await
            .unwrap();
        // Started long ago, its run's heartbeat as old: gone.
        let silent = plan(old).await;
        let dead = s.start_run(&new_run("redis", "dev")).await.unwrap();
        s.execute_raw(&format!(
            "UPDATE runs SET owner = 'other-host:2', heartbeat_at = {old} WHERE id = {dead}"
        ))
        .await
        .unwrap();
        s.set_step(silent, 1, StepStatus::Running, Some(dead), "", old)
            .await
            .unwrap();
        // Created long ago and no step ever started: gone.
        let stuck = plan(old).await;
        // Long ago, its step running with no run recorded yet, but the plan itself beats.
        let beats_itself = plan(old).await;
        s.set_step(beats_itself, 1, StepStatus::Running, None, "", old)
            .await
            .unwrap();
        s.plan_heartbeat(beats_itself, now).await.unwrap();
        let interrupted = s.interrupt_plans(now).await.unwrap();
        assert_eq!(interrupted, vec![silent, stuck], "{}", t.backend);
        for id in [fresh, beating, beats_itself] {
            let p = s.plan(id).await.unwrap().unwrap();
            assert_eq!(p.status, PlanStatus::Running, "{id} on {}", t.backend);
        }
        let p = s.plan(silent).await.unwrap().unwrap();
        assert_eq!(p.status, PlanStatus::Interrupted);
        assert_eq!(p.steps[1].status, StepStatus::Skipped);
        // A step claims only a pending step of a running plan this process owns: never one of
        // a plan taken as interrupted (its owner may still be alive), nor twice.
        assert!(!s.claim_step(silent, 2, now).await.unwrap());
        let mine = s
            .create_plan("alice", &origin, &[step("redis"), step("billionmail")], now)
            .await
            .unwrap();
        assert!(s.claim_step(mine, 1, now).await.unwrap(), "{}", t.backend);
        assert!(!s.claim_step(mine, 1, now).await.unwrap());
        s.finish_plan(mine, PlanStatus::Interrupted, now)
            .await
            .unwrap();
        assert!(!s.claim_step(mine, 2, now).await.unwrap());
        t.cleanup().await;
    }
}
