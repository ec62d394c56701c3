//! Schedules (issue 13, item 3) through the command layer, on SQLite and PostgreSQL: a fire
//! runs exactly once with two processes ticking the same store; a fire missed while down is
//! reported and not run; a lock at fire time refuses it (and the fire says where to report);
//! a recurring schedule moves on to its next match. Time is moved with tokio's paused clock.

mod support;

use deckhand::audit::Audit;
use deckhand::chat::{RunStatus, ThreadKey};
use deckhand::command::{
    Command, Commander, EnvName, LockSpec, LockTarget, Origin, Outcome, RefusalKind, Report,
    RunCommand, ServiceName,
};
use deckhand::config::Config;
use deckhand::pipeline::{Executor, ProgressSink, RunEvent};
use deckhand::schedule::{FireResult, Scheduler};
use deckhand::store::Store;
use std::sync::Arc;
use std::time::Duration;
use support::{config_in, temp_dir};

struct Quiet;
impl ProgressSink for Quiet {
    fn report(&self, _: &RunEvent) {}
}

fn quiet() -> Arc<dyn ProgressSink> {
    Arc::new(Quiet)
}

async fn commander(config: &Config) -> Commander {
    let config = Arc::new(config.clone());
    let store = Store::open(&config.store_url()).await.unwrap();
    let audit = Audit::new(store.clone());
    let executor = Executor::new(config.clone(), store.clone(), audit.clone());
    Commander::new(config, store, executor, audit)
}

fn config(url: Option<String>, tag: &str) -> Config {
    let mut c = config_in("examples/deckhand.yaml", &temp_dir(tag));
    if let Some(url) = url {
        c.store.url = url;
    }
    c
}

fn deploy(c: &Commander, version: &str) -> Command {
    Command::Deploy(RunCommand {
        service: ServiceName::resolve(c.config(), "billionmail").unwrap(),
        environment: EnvName::resolve(c.config(), "staging").unwrap(),
        version: Some(version.into()),
        strategy: None,
        percent: None,
    })
}

fn thread() -> ThreadKey {
    ThreadKey::new("console", "console", "ops")
}

/// Moves the clock on (paused only while it moves: the pool and the stages keep real time).
async fn advance(secs: u64) {
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(secs)).await;
    tokio::time::resume();
}

async fn fires_once_with_two_processes(url: Option<String>, tag: &str) {
    let cfg = config(url, tag);
    let (a, b) = (commander(&cfg).await, commander(&cfg).await);
    let (sa, sb) = (
        Scheduler::new(a.clone(), "replica-a", Duration::from_secs(300)),
        Scheduler::new(b.clone(), "replica-b", Duration::from_secs(300)),
    );
    let at = deckhand::clock::now_ms() + 60_000;
    let s = sa
        .once(&deploy(&a, "2.4.0"), "alice", at, "UTC", thread())
        .await
        .unwrap();
    assert_eq!(s.next_fire_at, Some(at));
    // Not due yet: nothing fires.
    assert!(sa.tick(quiet()).await.unwrap().is_empty());
    advance(61).await;
    let (fa, fb) = tokio::join!(sa.tick(quiet()), sb.tick(quiet()));
    let mut fires: Vec<_> = fa.unwrap().into_iter().chain(fb.unwrap()).collect();
    assert_eq!(fires.len(), 1, "{fires:?}");
    let fire = fires.pop().unwrap();
    assert_eq!(fire.schedule.report_to, thread());
    let FireResult::Fired(outcome) = fire.result else {
        panic!("expected a run, got {:?}", fire.result)
    };
    let Outcome::Started(started) = *outcome else {
        panic!("expected a run")
    };
    assert_eq!(started.handle.finished().await.status, RunStatus::Succeeded);
    a.executor().wait_idle().await;
    // Done: it never fires again, and the claim is recorded once.
    assert!(sa.tick(quiet()).await.unwrap().is_empty());
    assert!(sb.tick(quiet()).await.unwrap().is_empty());
    let store = a.store();
    assert_eq!(
        store.schedule(s.id).await.unwrap().unwrap().next_fire_at,
        None
    );
    let claims = store.schedule_fires(s.id).await.unwrap();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(claims[0].2, "started");
    assert_eq!(claims[0].4, Some(started.run_id.0));
    // The run is the schedule's, run as the person who scheduled it.
    let run = store.run(started.run_id.0).await.unwrap().unwrap();
    assert_eq!(run.requested_by, "alice");
    a.store().close().await;
    b.store().close().await;
}

async fn missed_and_refused(url: Option<String>, tag: &str) {
    let cfg = config(url, tag);
    let c = commander(&cfg).await;
    let sched = Scheduler::new(c.clone(), "replica-a", Duration::from_secs(300));
    let now = deckhand::clock::now_ms();
    let missed = sched
        .once(&deploy(&c, "2.4.0"), "alice", now + 60_000, "UTC", thread())
        .await
        .unwrap();
    // Down for ten minutes: the fire is reported, not run.
    advance(11 * 60).await;
    let fires = sched.tick(quiet()).await.unwrap();
    assert_eq!(fires.len(), 1);
    assert!(
        matches!(fires[0].result, FireResult::Missed { late_by } if late_by >= Duration::from_secs(600)),
        "{:?}",
        fires[0].result
    );
    assert_eq!(
        c.store().schedule_fires(missed.id).await.unwrap()[0].2,
        "missed"
    );
    assert!(c.store().running_runs().await.unwrap().is_empty());

    // Locked at fire time: refused then, with the lock named.
    let refused = sched
        .once(
            &deploy(&c, "2.4.0"),
            "alice",
            deckhand::clock::now_ms() + 60_000,
            "UTC",
            thread(),
        )
        .await
        .unwrap();
    let bob = c.governance().actor_for_person("bob");
    let staging = LockTarget {
        environment: EnvName::resolve(c.config(), "staging").unwrap(),
        service: None,
    };
    let lock = Command::Lock(LockSpec::plain(staging, None, Some("incident".into())));
    let origin = Origin::Api {
        client: "bob".into(),
    };
    let o = c.apply(lock, &bob, &origin, quiet()).await.unwrap();
    assert!(matches!(o, Outcome::Answer(Report::Locked(_))), "{o:?}");
    advance(61).await;
    let fires = sched.tick(quiet()).await.unwrap();
    assert_eq!(fires.len(), 1);
    match &fires[0].result {
        FireResult::Fired(o) => match o.as_ref() {
            Outcome::Refused(r) => assert_eq!(r.kind(), RefusalKind::Locked),
            other => panic!("expected a refusal, got {other:?}"),
        },
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(fires[0].schedule.report_to, thread());
    let claims = c.store().schedule_fires(refused.id).await.unwrap();
    assert_eq!(
        (claims[0].2.as_str(), claims[0].3.as_str()),
        ("refused", "locked")
    );

    // A cancelled schedule never fires.
    let cancelled = sched
        .once(
            &deploy(&c, "2.4.0"),
            "alice",
            deckhand::clock::now_ms() + 60_000,
            "UTC",
            thread(),
        )
        .await
        .unwrap();
    assert!(c
        .store()
        .cancel_schedule(cancelled.id, "alice", deckhand::clock::now_ms())
        .await
        .unwrap());
    advance(61).await;
    assert!(sched.tick(quiet()).await.unwrap().is_empty());
    c.store().close().await;
}

async fn recurring_moves_on(url: Option<String>, tag: &str) {
    let cfg = config(url, tag);
    let c = commander(&cfg).await;
    let sched = Scheduler::new(c.clone(), "replica-a", Duration::from_secs(300));
    // Every minute, a lock of dev (an answer, no run): each tick fires the minute that came.
    let dev = LockTarget {
        environment: EnvName::resolve(c.config(), "dev").unwrap(),
        service: None,
    };
    let lock = Command::Lock(LockSpec::plain(
        dev,
        Some(Duration::from_secs(120)),
        Some("drill".into()),
    ));
    let s = sched
        .recurring(&lock, "bob", "* * * * *", "Europe/Berlin", thread())
        .await
        .unwrap();
    let first = s.next_fire_at.unwrap();
    assert!(first > deckhand::clock::now_ms());
    advance(61).await;
    let fires = sched.tick(quiet()).await.unwrap();
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert!(
        matches!(&fires[0].result, FireResult::Fired(o) if matches!(o.as_ref(), Outcome::Answer(Report::Locked(_)))),
        "{:?}",
        fires[0].result
    );
    let next = c
        .store()
        .schedule(s.id)
        .await
        .unwrap()
        .unwrap()
        .next_fire_at
        .unwrap();
    assert!(
        next > first && next > deckhand::clock::now_ms() - 60_000,
        "{next} {first}"
    );
    assert_eq!((next - first) % 60_000, 0);
    c.store().close().await;
}

#[tokio::test]
async fn a_fire_runs_exactly_once_with_two_processes() {
    fires_once_with_two_processes(None, "sched-once").await;
}

#[tokio::test]
async fn a_fire_runs_exactly_once_with_two_processes_on_postgres() {
    let Some(pg) = support::postgres::store("schedules once").await else {
        return;
    };
    fires_once_with_two_processes(Some(pg.url.clone()), "sched-once-pg").await;
    pg.cleanup().await;
}

#[tokio::test]
async fn a_missed_fire_is_reported_and_a_lock_refuses_at_fire_time() {
    missed_and_refused(None, "sched-missed").await;
}

#[tokio::test]
async fn a_missed_fire_is_reported_and_a_lock_refuses_at_fire_time_on_postgres() {
    let Some(pg) = support::postgres::store("schedules missed").await else {
        return;
    };
    missed_and_refused(Some(pg.url.clone()), "sched-missed-pg").await;
    pg.cleanup().await;
}

#[tokio::test]
async fn a_recurring_schedule_moves_on_to_its_next_match() {
    recurring_moves_on(None, "sched-cron").await;
}

#[tokio::test]
async fn a_recurring_schedule_moves_on_to_its_next_match_on_postgres() {
    let Some(pg) = support::postgres::store("schedules cron").await else {
        return;
    };
    recurring_moves_on(Some(pg.url.clone()), "sched-cron-pg").await;
    pg.cleanup().await;
}
