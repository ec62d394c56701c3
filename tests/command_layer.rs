//! The command layer driven directly, with no chat at all (as the REST API, MCP server and
//! schedules will): deploy → approval → decide → run → status, with the refusals on the way
//! asserted by kind, on SQLite and on PostgreSQL.

mod support;

use deckhand::audit::Audit;
use deckhand::chat::RunStatus;
use deckhand::command::reports::StatusQuery;
use deckhand::command::{
    ApprovalRef, Command, Commander, Decide, DecisionResult, EnvName, LockSpec, LockTarget, Origin,
    Outcome, Query, RefusalKind, Report, RunCommand, RunId, ServiceName, StopTarget,
};
use deckhand::pipeline::Executor;
use deckhand::pipeline::{Progress, ProgressSink, RunEvent};
use deckhand::store::{ApprovalStatus, Decision, Store};
use std::sync::Arc;
use std::sync::Mutex;
use support::{config_in, temp_dir};

/// Collects the typed progress of every run, as an API's event stream would.
#[derive(Default)]
struct Recorder(Mutex<Vec<RunEvent>>);

impl ProgressSink for Recorder {
    fn report(&self, event: &RunEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn of_run(&self, id: i64) -> Vec<RunEvent> {
        let all = self.0.lock().unwrap();
        all.iter().filter(|e| e.run.id == id).cloned().collect()
    }
}

fn kind(outcome: &Outcome) -> Option<RefusalKind> {
    match outcome {
        Outcome::Refused(r) => Some(r.kind()),
        _ => None,
    }
}

async fn commander(url: Option<String>, tag: &str) -> Commander {
    let dir = temp_dir(tag);
    let mut config = config_in("examples/deckhand.yaml", &dir);
    if let Some(url) = url {
        config.store.url = url;
    }
    let config = Arc::new(config);
    let store = Store::open(&config.store_url()).await.unwrap();
    let audit = Audit::new(store.clone());
    let executor = Executor::new(config.clone(), store.clone(), audit.clone());
    Commander::new(config, store, executor, audit)
}

fn run(c: &Commander, service: &str, env: &str, version: Option<&str>) -> RunCommand {
    RunCommand {
        service: ServiceName::resolve(c.config(), service).unwrap(),
        environment: EnvName::resolve(c.config(), env).unwrap(),
        version: version.map(str::to_string),
        strategy: None,
        percent: None,
    }
}

async fn deploy_approve_run_status(c: Commander) {
    let gov = c.governance();
    let (alice, bob, dave) = (
        gov.actor_for_person("alice"),
        gov.actor_for_person("bob"),
        gov.actor_for_person("dave"),
    );
    let stranger = gov.actor("api", "mallory");
    let origin = Origin::Api {
        client: "alice".into(),
    };
    let progress = Arc::new(Recorder::default());
    let deploy = Command::Deploy(run(&c, "billionmail", "production", Some("2.4.0")));

    // Nothing acts for a stranger or a person without the role.
    for (who, expected) in [
        (&stranger, RefusalKind::UnknownIdentity),
        (&dave, RefusalKind::NotPermitted),
    ] {
        let o = c
            .apply(deploy.clone(), who, &origin, progress.clone())
            .await
            .unwrap();
        assert_eq!(kind(&o), Some(expected), "{o:?}");
    }

    // Production needs one approval from someone else.
    let ticket = match c
        .apply(deploy.clone(), &alice, &origin, progress.clone())
        .await
        .unwrap()
    {
        Outcome::AwaitingApproval(t) => t,
        other => panic!("expected an approval request, got {other:?}"),
    };
    assert_eq!(ticket.required, 1);
    // One open request per chat thread (a typed "approve" must be unambiguous there); the API
    // decides by id, so an API caller may have several.
    let thread = Origin::Thread(deckhand::chat::ThreadKey::new("console", "console", "t1"));
    let in_thread = c
        .apply(deploy.clone(), &alice, &thread, progress.clone())
        .await
        .unwrap();
    let Outcome::AwaitingApproval(in_thread) = in_thread else {
        panic!("expected an approval request, got {in_thread:?}");
    };
    let again = c
        .apply(deploy.clone(), &alice, &thread, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&again), Some(RefusalKind::ApprovalPending));
    let withdrawn = c
        .apply(
            Command::Withdraw(ApprovalRef::Id { id: in_thread.id }),
            &alice,
            &thread,
            progress.clone(),
        )
        .await
        .unwrap();
    assert!(
        matches!(withdrawn, Outcome::Answer(Report::Withdrawn { .. })),
        "{withdrawn:?}"
    );

    let decide = |who: Decision| {
        Command::Decide(Decide {
            approval: ApprovalRef::Id { id: ticket.id },
            decision: who,
        })
    };
    // Four eyes: not the requester, not someone without the approver role.
    let own = c
        .apply(decide(Decision::Approve), &alice, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&own), Some(RefusalKind::OwnRequest));
    let viewer = c
        .apply(decide(Decision::Approve), &dave, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&viewer), Some(RefusalKind::NotPermitted));

    // Bob's approval starts the stored command, as the requester, from the request's origin.
    let run_id = match c
        .apply(decide(Decision::Approve), &bob, &origin, progress.clone())
        .await
        .unwrap()
    {
        Outcome::Answer(Report::Decided(d)) => match d.result {
            DecisionResult::Started { run_id } => run_id.0,
            other => panic!("expected a started run, got {other:?}"),
        },
        other => panic!("expected a decision, got {other:?}"),
    };
    let closed = c
        .apply(decide(Decision::Reject), &bob, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&closed), Some(RefusalKind::Closed), "single use");

    c.executor().wait_idle().await;
    // The run reported to the request's origin, typed, from start to finish.
    let events = progress.of_run(run_id);
    assert!(events.iter().all(|e| e.run.origin == origin), "{events:?}");
    assert!(matches!(
        events.first().map(|e| &e.progress),
        Some(Progress::Started { .. })
    ));
    match events.last().map(|e| &e.progress) {
        Some(Progress::Finished(outcome)) => assert_eq!(outcome.status, RunStatus::Succeeded),
        other => panic!("expected the run's outcome last, got {other:?}"),
    }
    let record = c.store().run(run_id).await.unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Succeeded, "{record:?}");
    assert_eq!(record.requested_by, "alice");
    assert_eq!(record.version.as_deref(), Some("2.4.0"));
    let approval = c.store().approval(ticket.id).await.unwrap().unwrap();
    assert_eq!(approval.status, ApprovalStatus::Approved);
    assert_eq!(approval.run_id, Some(run_id));
    assert_eq!(approval.origin, origin);

    // Status, as a typed report: what production runs now.
    let status = Command::Query(Query::Status(StatusQuery {
        service: Some(ServiceName::resolve(c.config(), "billionmail").unwrap()),
        environment: Some(EnvName::resolve(c.config(), "production").unwrap()),
    }));
    let report = match c
        .apply(status, &dave, &origin, progress.clone())
        .await
        .unwrap()
    {
        Outcome::Answer(r @ Report::Status(_)) => r,
        other => panic!("expected a status report, got {other:?}"),
    };
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["report"], "status");
    let target = &json["services"][0]["targets"][0];
    assert_eq!(target["environment"], "production", "{json}");
    assert_eq!(target["live"]["version"], "2.4.0", "{json}");
    assert_eq!(target["live"]["run_id"], run_id, "{json}");

    // Deploying what already runs there is not a rollback target; rolling back without an
    // earlier release is refused as such.
    let rollback = Command::Rollback(run(&c, "billionmail", "production", None));
    let o = c
        .apply(rollback, &bob, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&o), Some(RefusalKind::NothingToRollBack), "{o:?}");

    c.store().close().await;
}

async fn locks_and_stops(c: Commander) {
    let gov = c.governance();
    let (alice, bob) = (gov.actor_for_person("alice"), gov.actor_for_person("bob"));
    let origin = Origin::Api {
        client: "bob".into(),
    };
    let progress = Arc::new(Recorder::default());
    let staging = LockTarget {
        environment: EnvName::resolve(c.config(), "staging").unwrap(),
        service: None,
    };
    let lock = Command::Lock(LockSpec {
        target: staging.clone(),
        duration: Some(std::time::Duration::from_secs(3600)),
        duration_text: Some("1 h".into()),
        reason: Some("incident".into()),
        window: None,
        rollbacks: None,
    });
    match c
        .apply(lock.clone(), &bob, &origin, progress.clone())
        .await
        .unwrap()
    {
        Outcome::Answer(Report::Locked(l)) => {
            assert_eq!(l.lock.reason, "incident");
            assert!(l.lock.expires_at.is_some());
        }
        other => panic!("expected a lock, got {other:?}"),
    }
    let twice = c
        .apply(lock, &bob, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&twice), Some(RefusalKind::AlreadyLocked));
    let deploy = Command::Deploy(run(&c, "billionmail", "staging", None));
    let locked = c
        .apply(deploy.clone(), &alice, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&locked), Some(RefusalKind::Locked));
    match c
        .apply(Command::Unlock(staging), &bob, &origin, progress.clone())
        .await
        .unwrap()
    {
        Outcome::Answer(Report::Unlocked(u)) => assert_eq!(u.lifted.len(), 1),
        other => panic!("expected an unlock, got {other:?}"),
    }
    let started = c
        .apply(deploy, &alice, &origin, progress.clone())
        .await
        .unwrap();
    let Outcome::Started(s) = started else {
        panic!("expected a started run, got {started:?}");
    };
    // The handle is awaited like a plan's step would be.
    assert_eq!(s.handle.finished().await.status, RunStatus::Succeeded);
    c.executor().wait_idle().await;
    let stop = Command::Stop(StopTarget::Run { id: s.run_id });
    assert_eq!(s.run_id.0, s.handle.id);
    let o = c
        .apply(stop, &bob, &origin, progress.clone())
        .await
        .unwrap();
    assert_eq!(kind(&o), Some(RefusalKind::NotRunning));
    let o = c
        .apply(
            Command::Stop(StopTarget::Run { id: RunId(999_999) }),
            &bob,
            &origin,
            progress,
        )
        .await
        .unwrap();
    assert_eq!(kind(&o), Some(RefusalKind::UnknownRun));
    c.store().close().await;
}

#[tokio::test]
async fn deploy_approval_decision_run_and_status_without_chat() {
    deploy_approve_run_status(commander(None, "cmd-approve").await).await;
}

#[tokio::test]
async fn deploy_approval_decision_run_and_status_without_chat_on_postgres() {
    let Some(pg) = support::postgres::store("command_layer approvals").await else {
        return;
    };
    deploy_approve_run_status(commander(Some(pg.url.clone()), "cmd-approve-pg").await).await;
    pg.cleanup().await;
}

#[tokio::test]
async fn locks_refuse_deploys_and_stops_name_the_run() {
    locks_and_stops(commander(None, "cmd-locks").await).await;
}

#[tokio::test]
async fn locks_refuse_deploys_and_stops_name_the_run_on_postgres() {
    let Some(pg) = support::postgres::store("command_layer locks").await else {
        return;
    };
    locks_and_stops(commander(Some(pg.url.clone()), "cmd-locks-pg").await).await;
    pg.cleanup().await;
}
