//! Reports built from real stores (SQLite, and PostgreSQL when configured) filled with runs,
//! switches, locks and approval requests: the facts they hold and their JSON shape.

use super::*;
use crate::command::{EnvName, ServiceName};
use crate::config::{Config, Strategy};
use crate::origin::ThreadKey;
use crate::pipeline::{RunStatus, StageState};
use crate::store::{testing, DecisionRecord, LockRecord, NewApproval, NewRun, StageRecord, Store};
use serde_json::json;
use std::path::Path;

const CONFIG: &str = r#"
services:
  - name: billionmail
    pipeline: p
  - name: payments-api
    pipeline: p
environments:
  - name: staging
    order: 1
  - name: production
    order: 2
pipelines:
  p:
    stages:
      - {name: build, command: "true"}
      - {name: deploy, command: "true"}
      - {name: verify, command: "true"}
people:
  alice: {identities: ["console:alice"], roles: [deployer]}
"#;

fn config() -> Config {
    Config::from_yaml(CONFIG, Path::new("t.yaml"), Path::new("/")).unwrap()
}

fn service(c: &Config, name: &str) -> ServiceName {
    ServiceName::resolve(c, name).unwrap()
}

fn env(c: &Config, name: &str) -> EnvName {
    EnvName::resolve(c, name).unwrap()
}

/// How a test run ends.
#[derive(Clone, Copy)]
enum Ending {
    /// Every stage passes; the run switches the target at its end.
    Passes,
    /// The build fails: no version, nothing switched.
    BuildFails,
    /// The deploy switches the target, then verify fails (exit 1) and leaves it live.
    VerifyFails,
}

/// Runs a deploy of `service` to `env` through the store the way the executor records it.
async fn deploy(s: &Store, service: &str, env: &str, version: &str, ending: Ending) -> i64 {
    let built = !matches!(ending, Ending::BuildFails);
    let id = s
        .start_run(&NewRun {
            action: Action::Deploy,
            service: service.into(),
            environment: env.into(),
            version: built.then(|| version.to_string()),
            strategy: Strategy::Direct,
            percent: None,
            requested_by: "alice".into(),
            origin: ThreadKey::new("console", "console", "t1").into(),
        })
        .await
        .unwrap();
    let run = s.run(id).await.unwrap().unwrap();
    let stages: &[(&str, &str)] = match ending {
        Ending::Passes => &[
            ("build", "succeeded"),
            ("deploy", "succeeded"),
            ("verify", "succeeded"),
        ],
        Ending::BuildFails => &[("build", "failed")],
        Ending::VerifyFails => &[
            ("build", "succeeded"),
            ("deploy", "succeeded"),
            ("verify", "failed"),
        ],
    };
    for (i, (name, status)) in stages.iter().enumerate() {
        if *name == "verify" && matches!(ending, Ending::VerifyFails) {
            s.record_switch(
                &run,
                crate::pipeline::Phase::Main,
                Action::Deploy,
                Some(version),
            )
            .await
            .unwrap();
        }
        s.record_stage(&StageRecord {
            run_id: id,
            phase: crate::pipeline::Phase::Main,
            position: i as i64,
            name: (*name).into(),
            status: crate::pipeline::StageState::parse(status).unwrap(),
            exit_code: Some(i64::from(*status != "succeeded")),
            duration_ms: 5,
            log_tail: format!("{name} output"),
            finished_at: 0,
        })
        .await
        .unwrap();
    }
    let status = match ending {
        Ending::Passes => RunStatus::Succeeded,
        Ending::BuildFails => RunStatus::Failed,
        Ending::VerifyFails => {
            s.settle_switches(
                id,
                crate::pipeline::Phase::Main,
                RunStatus::Failed,
                Some("verify"),
            )
            .await
            .unwrap();
            RunStatus::Failed
        }
    };
    s.finish_run(&run, status, false, None).await.unwrap();
    id
}

async fn lock(s: &Store, environment: &str, service: Option<&str>) -> i64 {
    s.create_lock(&LockRecord {
        id: 0,
        environment: environment.into(),
        service: service.map(str::to_string),
        holder: "bob".into(),
        reason: "incident".into(),
        created_at: crate::clock::now_ms(),
        expires_at: None,
        starts_at: None,
        rollbacks: crate::config::RollbackRule::Deny,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn status_reports_live_releases_unsettled_attempts_memory_and_locks() {
    let c = config();
    for t in testing::all().await {
        let s = &t.store;
        let empty = status(&c, s, &StatusQuery::default()).await.unwrap();
        assert!(empty.services.is_empty(), "{}", t.backend);
        assert!(!empty.any_lock_active);

        let good = deploy(s, "billionmail", "staging", "2.4.0", Ending::Passes).await;
        let broken = deploy(s, "billionmail", "staging", "2.5.0", Ending::VerifyFails).await;
        deploy(s, "billionmail", "production", "2.4.0", Ending::Passes).await;
        let failed = deploy(s, "billionmail", "production", "", Ending::BuildFails).await;
        let lock_id = lock(s, "production", None).await;

        let r = status(&c, s, &StatusQuery::default()).await.unwrap();
        let names: Vec<&str> = r.services.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(
            names,
            ["billionmail"],
            "only services with news: {}",
            t.backend
        );
        let [stg, prod] = &r.services[0].targets[..] else {
            panic!("one target per environment: {:?}", r.services[0].targets);
        };
        let live = stg.live.as_ref().unwrap();
        assert_eq!(
            (live.run_id, live.version.as_deref(), live.checks),
            (broken, Some("2.5.0"), RunStatus::Failed)
        );
        assert_eq!(live.failed_stage.as_deref(), Some("verify"));
        assert!(!live.healthy());
        assert!(
            stg.unsettled_attempt.is_none(),
            "the attempt that left 2.5.0 live is told by the live release"
        );
        assert_eq!(stg.memory.failures, 1);
        assert!(stg.memory.live_problem.is_some());
        let attempt = prod.unsettled_attempt.as_ref().unwrap();
        assert_eq!(
            (
                attempt.run_id,
                attempt.status,
                attempt.failed_stage.as_deref()
            ),
            (failed, RunStatus::Failed, Some("build"))
        );
        assert_eq!(
            prod.live.as_ref().unwrap().version.as_deref(),
            Some("2.4.0")
        );
        assert!(prod.running.is_none());
        assert_eq!(r.locks.iter().map(|l| l.id).collect::<Vec<_>>(), [lock_id]);
        assert!(r.any_lock_active);
        assert!(good < broken);

        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["query"], json!({"service": null, "environment": null}));
        let target = &v["services"][0]["targets"][0];
        assert_eq!(target["environment"], "staging");
        assert_eq!(target["live"]["checks"], "failed");
        assert_eq!(target["live"]["action"], "deploy");
        assert!(target["live"]["switched_at"].is_i64());
        assert_eq!(target["memory"]["failing_stages"], json!({"verify": 1}));
        assert_eq!(
            v["services"][0]["targets"][1]["unsettled_attempt"]["status"],
            "failed"
        );
        assert_eq!(v["locks"][0]["reason"], "incident");

        // Scoped to one target: the staging lock list excludes production's lock.
        let q = StatusQuery {
            service: Some(service(&c, "billionmail")),
            environment: Some(env(&c, "staging")),
        };
        let scoped = status(&c, s, &q).await.unwrap();
        assert_eq!(scoped.services.len(), 1);
        assert_eq!(scoped.services[0].targets.len(), 1);
        assert!(scoped.locks.is_empty());
        assert!(scoped.any_lock_active);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn history_lists_newest_first_and_marks_what_is_live() {
    let c = config();
    for t in testing::all().await {
        let s = &t.store;
        let q = HistoryQuery {
            service: Some(service(&c, "billionmail")),
            ..HistoryQuery::default()
        };
        assert!(history(s, &q).await.unwrap().entries.is_empty());
        let old = deploy(s, "billionmail", "staging", "2.4.0", Ending::Passes).await;
        let new = deploy(s, "billionmail", "staging", "2.5.0", Ending::Passes).await;
        deploy(s, "payments-api", "staging", "1.0.0", Ending::Passes).await;

        let r = history(s, &q).await.unwrap();
        let ids: Vec<i64> = r.entries.iter().map(|e| e.attempt.run_id).collect();
        assert_eq!(ids, [new, old], "{}", t.backend);
        assert_eq!(
            r.entries[0].live_now.as_ref().map(|l| l.run_id),
            Some(new),
            "the newest release is live"
        );
        assert!(r.entries[1].live_now.is_none(), "2.4.0 was replaced");
        assert_eq!(r.entries[0].attempt.status, RunStatus::Succeeded);

        let limited = history(
            s,
            &HistoryQuery {
                limit: 1,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(limited.entries.len(), 1);
        assert_eq!(limited.entries[0].attempt.service, "payments-api");

        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["query"]["service"], "billionmail");
        assert_eq!(v["query"]["limit"], 10);
        let first = &v["entries"][0];
        assert_eq!(first["run_id"], new, "the attempt's fields are flattened");
        assert_eq!(first["version"], "2.5.0");
        assert_eq!(first["status"], "succeeded");
        assert_eq!(first["live_now"]["checks"], "succeeded");
        assert!(v["entries"][1]["live_now"].is_null());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn explanation_names_the_failed_stage_its_tail_and_the_way_back() {
    let c = config();
    for t in testing::all().await {
        let s = &t.store;
        let q = ExplainQuery {
            service: service(&c, "billionmail"),
            environment: None,
        };
        assert!(explain(&c, s, &q).await.unwrap().failed_run.is_none());
        deploy(s, "billionmail", "staging", "2.4.0", Ending::Passes).await;
        let broken = deploy(s, "billionmail", "staging", "2.5.0", Ending::VerifyFails).await;

        let e = explain(&c, s, &q).await.unwrap();
        let f = e.failed_run.as_ref().expect("a failed run");
        assert_eq!(
            (f.run.id, f.run.status),
            (broken, RunStatus::Failed),
            "{}",
            t.backend
        );
        assert!(!f.run.rolled_back);
        let stage = f.failed_stage.as_ref().unwrap();
        assert_eq!(
            (stage.name.as_str(), stage.state, stage.exit_code),
            ("verify", StageState::Failed, Some(1))
        );
        assert_eq!(stage.log_tail, "verify output");
        assert_eq!(f.live.as_ref().unwrap().version.as_deref(), Some("2.5.0"));
        assert_eq!(f.rollback_target.as_deref(), Some("2.4.0"));
        assert_eq!(f.memory.failures, 1);

        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["failed_run"]["run"]["id"], broken);
        assert_eq!(v["failed_run"]["failed_stage"]["state"], "failed");
        assert_eq!(v["failed_run"]["rollback_target"], "2.4.0");

        let in_production = ExplainQuery {
            environment: Some(env(&c, "production")),
            ..q
        };
        assert!(explain(&c, s, &in_production)
            .await
            .unwrap()
            .failed_run
            .is_none());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn readiness_reports_builds_targets_locks_approvals_and_memory() {
    let c = config();
    for t in testing::all().await {
        let s = &t.store;
        let q = ReadinessQuery {
            service: service(&c, "billionmail"),
            environment: None,
        };
        let first = readiness(&c, s, &q).await.unwrap();
        assert!(first.newest_build.is_none() && first.last_good_build.is_none());
        assert!(first.pending_approvals.is_empty());

        let good = deploy(s, "billionmail", "staging", "2.4.0", Ending::Passes).await;
        let broken = deploy(s, "billionmail", "staging", "", Ending::BuildFails).await;
        lock(s, "production", Some("billionmail")).await;
        lock(s, "production", Some("payments-api")).await;
        let now = crate::clock::now_ms();
        let approval = s
            .create_approval(&NewApproval {
                action: Action::Deploy,
                service: "billionmail".into(),
                environment: "production".into(),
                version: Some("2.4.0".into()),
                strategy: Strategy::Canary,
                percent: Some(10),
                requested_by: "alice".into(),
                origin: ThreadKey::new("console", "console", "t1").into(),
                command: String::new(),
                required: 2,
                note: String::new(),
                created_at: now,
                expires_at: now + 3_600_000,
            })
            .await
            .unwrap();
        s.record_decision(
            approval,
            &DecisionRecord {
                person: "bob".into(),
                identity: "console:bob".into(),
                decision: crate::store::Decision::Approve,
                decided_at: now,
            },
        )
        .await
        .unwrap();

        let r = readiness(&c, s, &q).await.unwrap();
        let newest = r.newest_build.as_ref().unwrap();
        assert_eq!(newest.run.id, broken, "{}", t.backend);
        assert_eq!(
            newest.outcome,
            BuildOutcome::Stopped {
                status: RunStatus::Failed,
                stage: Some("build".into())
            }
        );
        let last_good = r.last_good_build.as_ref().expect("the build failed");
        assert_eq!(
            (last_good.run_id, last_good.version.as_deref()),
            (good, Some("2.4.0"))
        );
        let envs: Vec<&str> = r.targets.iter().map(|t| t.environment.as_str()).collect();
        assert_eq!(envs, ["staging", "production"]);
        assert_eq!(
            r.targets[0].live.as_ref().unwrap().version.as_deref(),
            Some("2.4.0")
        );
        assert!(r.targets[1].live.is_none());
        assert_eq!(
            r.locks
                .iter()
                .map(|l| l.service.as_deref())
                .collect::<Vec<_>>(),
            [Some("billionmail")],
            "the payments-api lock does not cover billionmail"
        );
        let [pending] = &r.pending_approvals[..] else {
            panic!("one request waits: {:?}", r.pending_approvals);
        };
        assert_eq!(
            (pending.id, pending.strategy, pending.percent),
            (approval, Strategy::Canary, Some(10))
        );
        assert_eq!((pending.approvals, pending.required), (1, 2));
        assert_eq!(r.memory.len(), 2, "memory for every environment in scope");
        assert_eq!(r.memory[0].failures, 1);

        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["newest_build"]["outcome"],
            json!({"kind": "stopped", "status": "failed", "stage": "build"})
        );
        assert!(v["newest_build"]["run"]["version"].is_null());
        assert_eq!(v["pending_approvals"][0]["strategy"], "canary");
        assert_eq!(v["pending_approvals"][0]["approvals"], 1);
        assert_eq!(v["targets"][1]["live"], serde_json::Value::Null);

        let in_staging = ReadinessQuery {
            environment: Some(env(&c, "staging")),
            ..q
        };
        let scoped = readiness(&c, s, &in_staging).await.unwrap();
        assert!(scoped.locks.is_empty() && scoped.pending_approvals.is_empty());
        assert_eq!(scoped.memory.len(), 1);
        assert_eq!(scoped.targets.len(), 2, "what runs where is always shown");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn newest_build_passing_needs_no_last_good_build() {
    let c = config();
    for t in testing::all().await {
        let s = &t.store;
        deploy(s, "billionmail", "staging", "2.4.0", Ending::Passes).await;
        deploy(s, "billionmail", "production", "2.5.0", Ending::VerifyFails).await;
        let q = ReadinessQuery {
            service: service(&c, "billionmail"),
            environment: None,
        };
        let r = readiness(&c, s, &q).await.unwrap();
        assert_eq!(
            r.newest_build.as_ref().unwrap().outcome,
            BuildOutcome::Stopped {
                status: RunStatus::Failed,
                stage: Some("verify".into())
            },
            "{}",
            t.backend
        );
        assert!(
            r.last_good_build.is_none(),
            "a run that failed after its build still built 2.5.0"
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn context_gives_failure_rate_stages_co_failures_and_recommendation() {
    let c = config();
    for t in testing::all().await {
        let s = &t.store;
        let q = ContextQuery {
            service: service(&c, "billionmail"),
            environment: env(&c, "production"),
        };
        let blank = context(&c, s, &q).await.unwrap();
        assert_eq!(blank.failure_rate, None, "{}", t.backend);
        assert!(blank.recommendation.is_none());

        deploy(s, "billionmail", "production", "2.3.0", Ending::Passes).await;
        deploy(s, "billionmail", "production", "2.4.0", Ending::VerifyFails).await;
        deploy(s, "payments-api", "production", "", Ending::BuildFails).await;
        deploy(s, "billionmail", "production", "2.5.0", Ending::VerifyFails).await;
        deploy(s, "billionmail", "staging", "2.5.0", Ending::BuildFails).await;

        let r = context(&c, s, &q).await.unwrap();
        assert_eq!(r.facts.considered, 3, "staging deploys do not count");
        assert_eq!(r.facts.failures, 2);
        assert!((r.failure_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.facts.failing_stages.get("verify"), Some(&2));
        assert_eq!(
            r.facts.co_failures.get("payments-api"),
            Some(&2),
            "payments-api failed within the co-deploy window of both failures"
        );
        let rec = r
            .recommendation
            .as_ref()
            .expect("two failures match the rule");
        assert_eq!((rec.strategy, rec.percent), (Strategy::Canary, Some(10)));

        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["query"],
            json!({"service": "billionmail", "environment": "production"})
        );
        assert_eq!(v["facts"]["failing_stages"], json!({"verify": 2}));
        assert_eq!(v["facts"]["co_failures"], json!({"payments-api": 2}));
        assert_eq!(v["recommendation"]["strategy"], "canary");
        assert_eq!(v["recommendation"]["percent"], 10);
        assert!(v["facts"]["last_success_at"].is_i64());
        t.cleanup().await;
    }
}
