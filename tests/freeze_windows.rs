//! Freeze windows (issue 13, item 4) through the command layer, on SQLite and PostgreSQL:
//! a configured window refuses deploys and lets rollbacks through (unless it says otherwise),
//! and a window said with its own start ("freeze staging from 16:00 to 17:00") holds from its
//! start to its end, with paused time.

mod support;

use deckhand::audit::Audit;
use deckhand::chat::RunStatus;
use deckhand::command::reports::StatusQuery;
use deckhand::command::{
    ApprovalRef, Command, Commander, Decide, DecisionResult, EnvName, LockSpec, LockTarget,
    LockWindow, Origin, Outcome, Query, Refusal, RefusalKind, Report, RunCommand, ServiceName,
};
use deckhand::config::{Config, FreezeWindowConfig, RollbackRule};
use deckhand::pipeline::{Executor, ProgressSink, RunEvent};
use deckhand::store::Decision;
use deckhand::store::Store;
use std::sync::Arc;
use std::time::Duration;
use support::{config_in, temp_dir};

struct Quiet;
impl ProgressSink for Quiet {
    fn report(&self, _: &RunEvent) {}
}

fn progress() -> Arc<dyn ProgressSink> {
    Arc::new(Quiet)
}

fn base(url: Option<String>, tag: &str) -> Config {
    let dir = temp_dir(tag);
    let mut config = config_in("examples/deckhand.yaml", &dir);
    if let Some(url) = url {
        config.store.url = url;
    }
    config
}

async fn commander(config: Config) -> Commander {
    let config = Arc::new(config);
    let store = Store::open(&config.store_url()).await.unwrap();
    let audit = Audit::new(store.clone());
    let executor = Executor::new(config.clone(), store.clone(), audit.clone());
    Commander::new(config, store, executor, audit)
}

/// `config` with a window on staging that is open now (every minute, for two hours).
fn with_window(config: &Config, services: Option<&[&str]>, rollbacks: RollbackRule) -> Config {
    let mut c = config.clone();
    let staging = c
        .environments
        .iter_mut()
        .find(|e| e.name == "staging")
        .unwrap();
    staging.windows.push(FreezeWindowConfig {
        deny: "* * * * *".into(),
        duration: "2h".into(),
        tz: Some("Europe/Berlin".into()),
        reason: "release week".into(),
        services: services.map(|s| s.iter().map(|x| x.to_string()).collect()),
        rollbacks,
    });
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    c
}

fn run(c: &Commander, service: &str, version: Option<&str>) -> RunCommand {
    RunCommand {
        service: ServiceName::resolve(c.config(), service).unwrap(),
        environment: EnvName::resolve(c.config(), "staging").unwrap(),
        version: version.map(str::to_string),
        strategy: None,
        percent: None,
    }
}

fn origin() -> Origin {
    Origin::Api {
        client: "alice".into(),
    }
}

async fn deploy_ok(c: &Commander, service: &str, version: &str) {
    let alice = c.governance().actor_for_person("alice");
    let o = c
        .apply(
            Command::Deploy(run(c, service, Some(version))),
            &alice,
            &origin(),
            progress(),
        )
        .await
        .unwrap();
    let Outcome::Started(s) = o else {
        panic!("expected a run, got {o:?}")
    };
    assert_eq!(s.handle.finished().await.status, RunStatus::Succeeded);
    c.executor().wait_idle().await;
}

async fn configured_windows(url: Option<String>, tag: &str) {
    let plain_config = base(url, tag);
    // Two good releases first, so there is something to roll back to.
    let plain = commander(plain_config.clone()).await;
    deploy_ok(&plain, "billionmail", "2.3.1").await;
    deploy_ok(&plain, "billionmail", "2.4.0").await;
    plain.store().close().await;

    let frozen = commander(with_window(&plain_config, None, RollbackRule::Allow)).await;
    let alice = frozen.governance().actor_for_person("alice");
    for service in ["billionmail", "wix-backend", "redis"] {
        let o = frozen
            .apply(
                Command::Deploy(run(&frozen, service, Some("9.9.9"))),
                &alice,
                &origin(),
                progress(),
            )
            .await
            .unwrap();
        let Outcome::Refused(Refusal::Frozen { window, .. }) = &o else {
            panic!("{service}: expected frozen, got {o:?}")
        };
        assert_eq!(window.reason, "release week");
        assert_eq!(window.environment, "staging");
        assert!(
            window.from <= deckhand::clock::now_ms() && deckhand::clock::now_ms() < window.until
        );
    }
    // The rollback goes through the window and really runs.
    let o = frozen
        .apply(
            Command::Rollback(run(&frozen, "billionmail", None)),
            &alice,
            &origin(),
            progress(),
        )
        .await
        .unwrap();
    let Outcome::Started(s) = o else {
        panic!("expected the rollback to run, got {o:?}")
    };
    assert_eq!(s.handle.finished().await.status, RunStatus::Succeeded);
    frozen.executor().wait_idle().await;
    // Status names the window open now.
    let q = Query::Status(StatusQuery {
        service: None,
        environment: Some(EnvName::resolve(frozen.config(), "staging").unwrap()),
    });
    let report = frozen
        .apply(Command::Query(q), &alice, &origin(), progress())
        .await
        .unwrap();
    let Outcome::Answer(Report::Status(status)) = report else {
        panic!("expected a status report, got {report:?}")
    };
    assert_eq!(status.freezes.len(), 1, "{:?}", status.freezes);
    assert!(status.freezes[0].from <= status.as_of);
    // The refusal is in the audit log, like a lock's.
    let entries = frozen.store().audit_page(0, 1000).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "refusal" && e.details.contains("frozen")),
        "no audited freeze refusal"
    );
    frozen.store().close().await;

    // A window that denies rollbacks refuses them too; one for a service leaves the others.
    let strict = commander(with_window(
        &plain_config,
        Some(&["billionmail"]),
        RollbackRule::Deny,
    ))
    .await;
    let alice = strict.governance().actor_for_person("alice");
    let rollback = strict
        .check(
            &Command::Rollback(run(&strict, "billionmail", None)),
            &alice,
        )
        .await
        .unwrap();
    assert!(
        matches!(&rollback, Err(r) if r.kind() == RefusalKind::Frozen),
        "{rollback:?}"
    );
    let other = strict
        .check(
            &Command::Deploy(run(&strict, "wix-backend", Some("1.0.0"))),
            &alice,
        )
        .await
        .unwrap();
    assert!(other.is_ok(), "{other:?}");
    strict.store().close().await;
}

/// Moves the clock on (paused only while it moves: the store's pool has timers of its own).
async fn advance(secs: u64) {
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(secs)).await;
    tokio::time::resume();
}

async fn window_said_with_its_start(url: Option<String>, tag: &str) {
    let c = commander(base(url, tag)).await;
    let gov = c.governance();
    let (alice, bob) = (gov.actor_for_person("alice"), gov.actor_for_person("bob"));
    let now = deckhand::clock::now_ms();
    let minute = 60_000;
    let staging = LockTarget {
        environment: EnvName::resolve(c.config(), "staging").unwrap(),
        service: None,
    };
    let window = LockWindow {
        from: now + 10 * minute,
        until: now + 70 * minute,
    };
    // The rule is decided when it is asked for: later → rollbacks pass; now → they do not.
    assert_eq!(window.default_rollbacks(now), RollbackRule::Allow);
    assert_eq!(window.default_rollbacks(window.from), RollbackRule::Deny);
    let freeze = LockSpec {
        window: Some(window),
        rollbacks: Some(window.default_rollbacks(now)),
        ..LockSpec::plain(staging.clone(), None, Some("the launch".into()))
    };
    let o = c
        .apply(Command::Lock(freeze), &bob, &origin(), progress())
        .await
        .unwrap();
    let Outcome::Answer(Report::Locked(l)) = o else {
        panic!("expected the freeze in place, got {o:?}")
    };
    assert_eq!(l.lock.starts_at, Some(now + 10 * minute));
    assert_eq!(l.lock.expires_at, Some(now + 70 * minute));
    assert_eq!(l.lock.rollbacks, RollbackRule::Allow);
    // A plain lock now does not clash with a window that starts later.
    let plain = Command::Lock(LockSpec::plain(
        staging.clone(),
        Some(Duration::from_secs(60)),
        None,
    ));
    let o = c.check(&plain, &bob).await.unwrap();
    assert!(o.is_ok(), "{o:?}");
    // ... but a second window overlapping the first does (checked and applied alike), and an
    // open-ended lock now would run into it.
    let overlapping = Command::Lock(LockSpec {
        window: Some(LockWindow {
            from: now + 60 * minute,
            until: now + 120 * minute,
        }),
        ..LockSpec::plain(staging.clone(), None, None)
    });
    for cmd in [
        overlapping.clone(),
        Command::Lock(LockSpec::plain(staging.clone(), None, None)),
    ] {
        let checked = c.check(&cmd, &bob).await.unwrap();
        assert_eq!(
            checked.as_ref().err().map(Refusal::kind),
            Some(RefusalKind::AlreadyLocked),
            "{checked:?}"
        );
    }
    let applied = c
        .apply(overlapping, &bob, &origin(), progress())
        .await
        .unwrap();
    assert!(
        matches!(&applied, Outcome::Refused(r) if r.kind() == RefusalKind::AlreadyLocked),
        "{applied:?}"
    );
    // An incident lock now, lifted: the planned window stays.
    let o = c.apply(plain, &bob, &origin(), progress()).await.unwrap();
    assert!(matches!(o, Outcome::Answer(Report::Locked(_))), "{o:?}");
    let o = c
        .apply(
            Command::Unlock(staging.clone()),
            &bob,
            &origin(),
            progress(),
        )
        .await
        .unwrap();
    let Outcome::Answer(Report::Unlocked(u)) = o else {
        panic!("expected an unlock, got {o:?}")
    };
    assert_eq!(u.lifted.len(), 1);
    assert_eq!(u.lifted[0].starts_at, None);
    let left = c
        .store()
        .scheduled_locks(Some("staging"), now)
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "the planned window was lifted too");

    let deploy = Command::Deploy(run(&c, "billionmail", Some("3.0.0")));
    let rollback = Command::Rollback(run(&c, "billionmail", None));
    let deploy_kind = |r: &Result<_, Refusal>| r.as_ref().err().map(Refusal::kind);
    assert_eq!(deploy_kind(&c.check(&deploy, &alice).await.unwrap()), None);
    advance(11 * 60).await;
    assert_eq!(
        deploy_kind(&c.check(&deploy, &alice).await.unwrap()),
        Some(RefusalKind::Locked)
    );
    // A rollback passes the window (nothing to roll back to here is a fact, not a lock).
    let r = c.check(&rollback, &alice).await.unwrap();
    assert_ne!(deploy_kind(&r), Some(RefusalKind::Locked), "{r:?}");
    advance(60 * 60).await;
    assert_eq!(deploy_kind(&c.check(&deploy, &alice).await.unwrap()), None);
    c.store().close().await;
}

/// An approval asked for before a window opened, approved while it is open: the run is
/// refused then (the checks are made again when it would start).
async fn approved_inside_a_window(url: Option<String>, tag: &str) {
    let plain_config = base(url, tag);
    let before = commander(plain_config.clone()).await;
    let alice = before.governance().actor_for_person("alice");
    let deploy = Command::Deploy(RunCommand {
        environment: EnvName::resolve(before.config(), "production").unwrap(),
        ..run(&before, "billionmail", Some("2.4.0"))
    });
    let o = before
        .apply(deploy, &alice, &origin(), progress())
        .await
        .unwrap();
    let Outcome::AwaitingApproval(ticket) = o else {
        panic!("expected an approval request, got {o:?}")
    };
    before.store().close().await;

    let mut frozen_config = plain_config.clone();
    let production = frozen_config
        .environments
        .iter_mut()
        .find(|e| e.name == "production")
        .unwrap();
    production.windows.push(FreezeWindowConfig {
        deny: "* * * * *".into(),
        duration: "2h".into(),
        tz: None,
        reason: "quarter close".into(),
        services: None,
        rollbacks: RollbackRule::Allow,
    });
    let during = commander(frozen_config).await;
    let bob = during.governance().actor_for_person("bob");
    let decide = Command::Decide(Decide {
        approval: ApprovalRef::Id { id: ticket.id },
        decision: Decision::Approve,
    });
    let o = during
        .apply(decide, &bob, &origin(), progress())
        .await
        .unwrap();
    match o {
        Outcome::Answer(Report::Decided(d)) => match d.result {
            DecisionResult::Refused { refusal } => {
                assert_eq!(refusal.kind(), RefusalKind::Frozen)
            }
            other => panic!("expected the run refused, got {other:?}"),
        },
        other => panic!("expected a decision, got {other:?}"),
    }
    assert!(during.store().running_runs().await.unwrap().is_empty());
    during.store().close().await;
}

#[tokio::test]
async fn an_approval_given_inside_a_window_does_not_start_the_run() {
    approved_inside_a_window(None, "freeze-approval").await;
}

#[tokio::test]
async fn an_approval_given_inside_a_window_does_not_start_the_run_on_postgres() {
    let Some(pg) = support::postgres::store("freeze windows approval").await else {
        return;
    };
    approved_inside_a_window(Some(pg.url.clone()), "freeze-approval-pg").await;
    pg.cleanup().await;
}

#[tokio::test]
async fn a_configured_window_refuses_deploys_and_lets_rollbacks_through() {
    configured_windows(None, "freeze-config").await;
}

#[tokio::test]
async fn a_configured_window_refuses_deploys_and_lets_rollbacks_through_on_postgres() {
    let Some(pg) = support::postgres::store("freeze windows config").await else {
        return;
    };
    configured_windows(Some(pg.url.clone()), "freeze-config-pg").await;
    pg.cleanup().await;
}

#[tokio::test]
async fn a_window_said_with_its_start_holds_from_start_to_end() {
    window_said_with_its_start(None, "freeze-said").await;
}

#[tokio::test]
async fn a_window_said_with_its_start_holds_from_start_to_end_on_postgres() {
    let Some(pg) = support::postgres::store("freeze windows said").await else {
        return;
    };
    window_said_with_its_start(Some(pg.url.clone()), "freeze-said-pg").await;
    pg.cleanup().await;
}
