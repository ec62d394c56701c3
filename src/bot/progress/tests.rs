use super::*;
use crate::chat::ChannelSink;
use crate::config::Strategy;
use crate::origin::Origin;
use crate::pipeline::Phase;
use crate::store::Deployment;
use tokio::sync::mpsc;

fn facts(origin: Origin) -> Arc<RunFacts> {
    Arc::new(RunFacts {
        id: 7,
        action: Action::Deploy,
        service: "web".into(),
        environment: "dev".into(),
        version: Some("2.4.0".into()),
        strategy: Strategy::Canary,
        percent: Some(5),
        requested_by: "alice".into(),
        origin,
    })
}

fn thread() -> ThreadKey {
    ThreadKey::new("console", "console", "t1")
}

fn stage(phase: Phase, index: usize, name: &str) -> StageRef {
    StageRef {
        phase,
        index,
        name: name.into(),
    }
}

fn finished(name: &str, phase: Phase, index: usize, state: StageState, ms: u64) -> Progress {
    Progress::StageFinished {
        stage: stage(phase, index, name),
        state,
        duration: Duration::from_millis(ms),
        tail: Vec::new(),
    }
}

fn outcome(status: RunStatus, version: &str) -> RunOutcome {
    RunOutcome {
        status,
        version: Some(version.into()),
        failure: None,
        rollback: RollbackOutcome::NotRequested,
        rolled_back: false,
        switched: false,
        live: None,
        rollback_target: None,
        error: None,
    }
}

fn failed_at(stage: &str, end: StageEnd) -> Option<StageFailure> {
    Some(StageFailure {
        stage: stage.into(),
        end,
        timeout: Duration::from_secs(30),
    })
}

/// Feeds the events of run 7 (from `origin`) through a `ChatProgress`; returns what it emitted.
fn render(origin: Origin, events: Vec<Progress>) -> Vec<BotEvent> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let chat = ChatProgress::new(Arc::new(ChannelSink(tx)));
    let run = facts(origin);
    for progress in events {
        chat.report(&RunEvent {
            run: run.clone(),
            progress,
        });
    }
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

/// `(state, line, summary)` of each Progress event, and the final `(status, version, summary, text)`.
type Rendered = (
    Vec<(StageState, Option<String>, String)>,
    Option<(RunStatus, Option<String>, String, String)>,
);

fn split(events: &[BotEvent]) -> Rendered {
    let mut progress = Vec::new();
    let mut end = None;
    for e in events {
        match e {
            BotEvent::Progress {
                state,
                line,
                summary,
                ..
            } => progress.push((*state, line.clone(), summary.clone())),
            BotEvent::RunFinished {
                status,
                version,
                summary,
                text,
                ..
            } => end = Some((*status, version.clone(), summary.clone(), text.clone())),
            _ => {}
        }
    }
    (progress, end)
}

#[test]
fn a_successful_canary_deploy_reads_as_today() {
    let events = render(
        thread().into(),
        vec![
            Progress::Started {
                stages: vec!["build".into(), "deploy".into()],
            },
            Progress::StageStarted(stage(Phase::Main, 0, "build")),
            Progress::StageOutput {
                stage: stage(Phase::Main, 0, "build"),
                line: "compiling".into(),
            },
            finished("build", Phase::Main, 0, StageState::Succeeded, 1200),
            Progress::StageStarted(stage(Phase::Main, 1, "deploy")),
            finished("deploy", Phase::Main, 1, StageState::Succeeded, 43_000),
            Progress::Finished(Box::new(outcome(RunStatus::Succeeded, "2.4.0"))),
        ],
    );
    match &events[0] {
        BotEvent::RunStarted {
            thread: t,
            run_id,
            action,
            service,
            strategy,
            version,
            ..
        } => {
            assert_eq!((t, *run_id), (&thread(), 7));
            assert_eq!((action.as_str(), service.as_str()), ("deploy", "web"));
            assert_eq!(
                (strategy.as_str(), version.as_deref()),
                ("canary", Some("2.4.0"))
            );
        }
        other => panic!("expected RunStarted, got {other:?}"),
    }
    let (progress, end) = split(&events);
    let running = StageState::Running;
    assert_eq!(
        progress,
        [
            (running, None, "build ⏳".to_string()),
            (running, Some("compiling".into()), "build ⏳".into()),
            (StageState::Succeeded, None, "build ✓ 1.2s".into()),
            (running, None, "build ✓ 1.2s → deploy[canary 5%] ⏳".into()),
            (
                StageState::Succeeded,
                None,
                "build ✓ 1.2s → deploy[canary 5%] ✓ 43s".into()
            ),
        ]
    );
    assert_eq!(
        end,
        Some((
            RunStatus::Succeeded,
            Some("2.4.0".into()),
            "build ✓ 1.2s → deploy[canary 5%] ✓ 43s".into(),
            "web 2.4.0 is live on dev".into()
        ))
    );
}

#[test]
fn a_failed_deploy_names_the_stage_and_the_automatic_rollback() {
    let mut out = outcome(RunStatus::Failed, "2.4.0");
    out.failure = failed_at("deploy", StageEnd::Failed(Some(3)));
    out.rollback = RollbackOutcome::Restored {
        version: "2.3.1".into(),
    };
    out.rolled_back = true;
    out.switched = true;
    let events = render(
        thread().into(),
        vec![
            Progress::Started {
                stages: vec!["deploy".into()],
            },
            Progress::StageStarted(stage(Phase::Main, 0, "deploy")),
            finished("deploy", Phase::Main, 0, StageState::Failed, 200),
            Progress::RollbackStarted {
                stages: vec!["restore".into()],
            },
            Progress::StageStarted(stage(Phase::Rollback, 0, "restore")),
            finished("restore", Phase::Rollback, 0, StageState::Succeeded, 100),
            Progress::Finished(Box::new(out)),
        ],
    );
    let (progress, end) = split(&events);
    assert_eq!(
        progress[2].2, "deploy[canary 5%] ✗ 0.2s ↩ restore ⏳",
        "the rollback's stages follow the arrow"
    );
    assert_eq!(
        end,
        Some((
            RunStatus::Failed,
            None,
            "deploy[canary 5%] ✗ 0.2s ↩ restore ✓ 0.1s".into(),
            "Deploy of web 2.4.0 to dev failed: deploy failed (exit 3); rolled back to 2.3.1. Say \"explain web\" for the log.".into()
        ))
    );
}

#[test]
fn a_release_left_live_is_named_with_the_way_back() {
    let mut out = outcome(RunStatus::Failed, "2.4.0");
    out.failure = failed_at("verify", StageEnd::TimedOut);
    out.switched = true;
    out.rollback_target = Some("2.3.1".into());
    out.live = Some(Deployment {
        run_id: 7,
        action: Action::Deploy,
        service: "web".into(),
        environment: "dev".into(),
        version: Some("2.4.0".into()),
        status: "failed".into(),
        requested_by: "alice".into(),
        created_at: 0,
        failed_stage: Some("verify".into()),
    });
    let text = finished_text(&facts(thread().into()), &out);
    assert_eq!(
        text,
        "Deploy of web 2.4.0 to dev failed: verify timed out after 30s. 2.4.0 is live on dev (its verify failed). Say \"rollback web in dev\" to return to 2.3.1, or \"explain web\" for the log."
    );
    // Left by an earlier run, the same release is "still" live.
    out.live.as_mut().unwrap().run_id = 6;
    assert!(finished_text(&facts(thread().into()), &out).contains("2.4.0 is still live on dev"));
}

#[test]
fn rollback_outcomes_that_did_not_run_say_why() {
    let run = facts(thread().into());
    let mut out = outcome(RunStatus::Failed, "2.4.0");
    out.failure = failed_at("build", StageEnd::Failed(None));
    out.rollback = RollbackOutcome::NotNeeded {
        first_change: "deploy".into(),
    };
    assert_eq!(
        finished_text(&run, &out),
        "Deploy of web 2.4.0 to dev failed: build failed; dev had not changed yet (the failure came before deploy), so no rollback was needed. Say \"explain web\" for the log."
    );
    out.rollback = RollbackOutcome::Failed {
        version: "2.3.1".into(),
        stage: "restore".into(),
    };
    assert!(finished_text(&run, &out).contains(
        "; the automatic rollback to 2.3.1 also failed at restore, so check dev by hand."
    ));
    out.rollback = RollbackOutcome::NoTarget;
    assert!(finished_text(&run, &out)
        .contains("; there is no earlier successful deploy of web in dev to roll back to."));
}

#[test]
fn a_stage_cancelled_before_it_started_shows_only_in_the_final_line() {
    let mut out = outcome(RunStatus::Cancelled, "2.4.0");
    out.failure = failed_at("deploy", StageEnd::Cancelled);
    let events = render(
        thread().into(),
        vec![
            Progress::Started {
                stages: vec!["build".into(), "deploy".into()],
            },
            Progress::StageStarted(stage(Phase::Main, 0, "build")),
            finished("build", Phase::Main, 0, StageState::Succeeded, 100),
            Progress::StageSkipped(stage(Phase::Main, 1, "deploy")),
            Progress::Finished(Box::new(out)),
        ],
    );
    let (progress, end) = split(&events);
    assert_eq!(progress.len(), 2, "no progress for a stage that never ran");
    assert_eq!(
        end,
        Some((
            RunStatus::Cancelled,
            None,
            "build ✓ 0.1s → deploy[canary 5%] ⊘ 0.0s".into(),
            "Deploy of web 2.4.0 to dev was cancelled during deploy.".into()
        ))
    );
}

#[test]
fn runs_from_other_origins_are_not_posted_to_chat() {
    let events = render(
        Origin::Api {
            client: "ci".into(),
        },
        vec![
            Progress::Started {
                stages: vec!["build".into()],
            },
            Progress::StageStarted(stage(Phase::Main, 0, "build")),
            Progress::Finished(Box::new(outcome(RunStatus::Succeeded, "2.4.0"))),
        ],
    );
    assert!(events.is_empty(), "{events:?}");
}
