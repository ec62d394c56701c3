//! Runs against a temp SQLite store with real `sh -c` stages: what a `RunHandle` awaits and
//! what its subscribers see.

use super::*;
use crate::config::Strategy;
use crate::origin::ThreadKey;
use std::path::Path;

const CONFIG: &str = r#"
services:
  - name: web
    pipeline: p
environments:
  - name: dev
    order: 1
    auto_rollback: true
pipelines:
  p:
    rollback: rb
    stages:
      - name: build
        command: "echo building $DECKHAND_VERSION"
      - name: deploy
        command: "test \"$DECKHAND_VERSION\" != 2.0.0 || { echo broken >&2; exit 3; }"
  rb:
    stages:
      - name: restore
        type: process
        command: "echo restoring $DECKHAND_VERSION"
"#;

/// Keeps every event the executor reports to the sink given to `start`.
#[derive(Default)]
struct Recorder(Mutex<Vec<RunEvent>>);

impl ProgressSink for Recorder {
    fn report(&self, event: &RunEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

fn executor(store: &Store) -> Executor {
    let config = Config::from_yaml(CONFIG, Path::new("test.yaml"), &std::env::temp_dir()).unwrap();
    Executor::new(Arc::new(config), store.clone(), Audit::new(store.clone()))
}

fn deploy(version: &str) -> NewRun {
    NewRun {
        action: Action::Deploy,
        service: "web".into(),
        environment: "dev".into(),
        version: Some(version.into()),
        strategy: Strategy::Direct,
        percent: None,
        requested_by: "alice".into(),
        origin: ThreadKey::new("console", "console", "t1").into(),
    }
}

/// The events of a subscription up to and including the run's last one.
async fn drain(mut rx: tokio::sync::broadcast::Receiver<RunEvent>) -> Vec<Progress> {
    let mut seen = Vec::new();
    while let Ok(e) = rx.recv().await {
        let last = matches!(e.progress, Progress::Finished(_));
        seen.push(e.progress);
        if last {
            break;
        }
    }
    seen
}

fn at(phase: Phase, index: usize, name: &str) -> StageRef {
    StageRef {
        phase,
        index,
        name: name.into(),
    }
}

#[tokio::test]
async fn a_subscriber_after_the_end_gets_the_outcome_and_a_closed_stream() {
    let t = crate::store::testing::sqlite().await.unwrap();
    let exec = executor(&t.store);
    let sink = Arc::new(Recorder::default());
    let handle = exec.start(deploy("1.0.0"), sink.clone()).await.unwrap();
    let outcome = handle.finished().await;
    let mut late = handle.subscribe();
    match late.recv().await {
        Ok(RunEvent {
            progress: Progress::Finished(o),
            run,
        }) => {
            assert_eq!(*o, outcome);
            assert_eq!(run.id, handle.id);
        }
        other => panic!("expected the outcome, got {other:?}"),
    }
    assert!(
        matches!(
            late.recv().await,
            Err(tokio::sync::broadcast::error::RecvError::Closed)
        ),
        "nothing after the end"
    );
}

#[tokio::test]
async fn a_handle_awaits_the_outcome_and_subscribers_see_stages_in_order() {
    let t = crate::store::testing::sqlite().await.unwrap();
    let exec = executor(&t.store);
    let sink = Arc::new(Recorder::default());
    let handle = exec.start(deploy("1.0.0"), sink.clone()).await.unwrap();
    // Subscribed before the run's task first runs (this test's runtime is single-threaded).
    let events = drain(handle.subscribe());
    let origin: Origin = ThreadKey::new("console", "console", "t1").into();
    assert_eq!(exec.runs_from(&origin), vec![handle.id]);
    let outcome = handle.finished().await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(outcome.version.as_deref(), Some("1.0.0"));
    assert_eq!(outcome.failure, None);
    assert_eq!(outcome.rollback, RollbackOutcome::NotRequested);
    assert_eq!(
        outcome.live.as_ref().and_then(|d| d.version.as_deref()),
        Some("1.0.0")
    );
    let kinds: Vec<String> = events
        .await
        .into_iter()
        .map(|p| match p {
            Progress::StageStarted(s) => format!("start {}", s.name),
            Progress::StageOutput { stage, line } => format!("{}: {line}", stage.name),
            Progress::StageFinished { stage, state, .. } => {
                format!("end {} {}", stage.name, state.as_str())
            }
            Progress::Finished(o) => format!("finished {}", o.status.as_str()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start build",
            "build: building 1.0.0",
            "end build succeeded",
            "start deploy",
            "end deploy succeeded",
            "finished succeeded",
        ]
    );
    let recorded = sink.0.lock().unwrap().clone();
    assert_eq!(
        recorded[0].progress,
        Progress::Started {
            stages: vec!["build".into(), "deploy".into()]
        },
        "the sink sees the start the subscriber was too late for"
    );
    assert!(recorded
        .iter()
        .all(|e| e.run.id == handle.id && e.run.origin == origin));
    let stored = t.store.run(handle.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Succeeded);
    assert_eq!(stored.origin, origin);
    assert!(exec.runs_from(&origin).is_empty());
    t.cleanup().await;
}

#[tokio::test]
async fn a_failed_deploy_reports_its_stage_and_the_automatic_rollback() {
    let t = crate::store::testing::sqlite().await.unwrap();
    let exec = executor(&t.store);
    let sink = Arc::new(Recorder::default());
    let first = exec.start(deploy("1.0.0"), sink.clone()).await.unwrap();
    assert_eq!(first.finished().await.status, RunStatus::Succeeded);
    let handle = exec.start(deploy("2.0.0"), sink.clone()).await.unwrap();
    let events = drain(handle.subscribe());
    let outcome = handle.finished().await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.failure,
        Some(StageFailure {
            stage: "deploy".into(),
            end: StageEnd::Failed(Some(3)),
            timeout: std::time::Duration::from_secs(600),
        })
    );
    assert_eq!(
        outcome.rollback,
        RollbackOutcome::Restored {
            version: "1.0.0".into()
        }
    );
    assert!(outcome.rolled_back);
    assert_eq!(outcome.error.as_deref(), Some("deploy failed (exit 3)"));
    let events = events.await;
    let deploy_end = events
        .iter()
        .position(|p| matches!(p, Progress::StageFinished { stage, state: StageState::Failed, tail, .. } if stage.name == "deploy" && tail == &["broken"]))
        .expect("the failed deploy stage is reported with its tail");
    assert_eq!(
        events[deploy_end + 1],
        Progress::RollbackStarted {
            stages: vec!["restore".into()]
        }
    );
    assert_eq!(
        events[deploy_end + 2],
        Progress::StageStarted(at(Phase::Rollback, 0, "restore"))
    );
    assert_eq!(
        events.last(),
        Some(&Progress::Finished(Box::new(outcome.clone())))
    );
    // The sink saw both runs, each event naming its own.
    let runs: std::collections::BTreeSet<i64> =
        sink.0.lock().unwrap().iter().map(|e| e.run.id).collect();
    assert_eq!(runs, [first.id, handle.id].into());
    let stored = t.store.run(handle.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    assert!(stored.rolled_back);
    t.cleanup().await;
}

#[tokio::test]
async fn a_cancelled_run_skips_the_stages_it_never_started() {
    let t = crate::store::testing::sqlite().await.unwrap();
    let exec = executor(&t.store);
    // Closing before the start: the run starts cancelled and no stage runs.
    assert!(exec.cancel_all().is_empty());
    let handle = exec
        .start(deploy("1.0.0"), Arc::new(Recorder::default()))
        .await
        .unwrap();
    let events = drain(handle.subscribe());
    let outcome = handle.finished().await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.error.as_deref(), Some("cancelled during build"));
    assert_eq!(
        events.await,
        [
            Progress::StageSkipped(at(Phase::Main, 0, "build")),
            Progress::Finished(Box::new(outcome))
        ]
    );
    exec.wait_idle().await;
    t.cleanup().await;
}

#[tokio::test]
async fn follow_gives_the_journal_after_a_number_then_nothing_more_once_ended() {
    let t = crate::store::testing::sqlite().await.unwrap();
    let exec = executor(&t.store);
    let handle = exec
        .start(deploy("1.0.0"), Arc::new(Recorder::default()))
        .await
        .unwrap();
    handle.finished().await;
    let all = handle.follow(0);
    let numbers: Vec<u64> = all.history.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
    assert!(matches!(
        all.history[0].1.progress,
        Progress::Started { .. }
    ));
    assert!(matches!(
        all.history.last().unwrap().1.progress,
        Progress::Finished(_)
    ));
    assert_eq!(all.next, numbers.len() as u64 + 1);
    // Resuming after any number gives exactly the rest.
    for after in 0..=numbers.len() as u64 {
        let rest = handle.follow(after);
        assert_eq!(
            rest.history,
            all.history[after as usize..].to_vec(),
            "{after}"
        );
    }
    // After the end nothing live comes: the receiver is closed at once.
    let mut live = handle.follow(0).live;
    assert!(matches!(
        live.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Closed)
    ));
    assert!(exec.handle(handle.id).is_some(), "kept for late followers");
}
