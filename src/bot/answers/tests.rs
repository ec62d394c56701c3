//! Renderers on hand-built reports: the branches conversations rarely reach (interrupted
//! runs, timed-out stages, cancelled attempts, unsettled live releases, unknown names).

use super::*;
use crate::chat::{RunStatus, StageState};
use crate::command::reports::{
    Attempt, Explanation, FailedRun, FailedStage, HistoryEntry, HistoryReport, LiveRelease,
    RunSummary,
};
use crate::memory::Facts;
use crate::store::Action;
use std::path::Path;

const CONFIG: &str = r#"
services: [{name: billionmail, pipeline: p}]
environments: [{name: staging, order: 1}]
pipelines: {p: {stages: [{name: build, command: "true"}]}}
"#;

fn config() -> Config {
    Config::from_yaml(CONFIG, Path::new("t.yaml"), Path::new("/")).unwrap()
}

fn run(status: RunStatus) -> RunSummary {
    RunSummary {
        id: 7,
        action: Action::Deploy,
        service: "billionmail".into(),
        environment: "staging".into(),
        version: Some("2.5.0".into()),
        requested_by: "alice".into(),
        started_at: crate::clock::now_ms(),
        status,
        rolled_back: false,
        error: None,
    }
}

fn live(checks: RunStatus, failed_stage: Option<&str>) -> LiveRelease {
    LiveRelease {
        run_id: 7,
        action: Action::Deploy,
        service: "billionmail".into(),
        environment: "staging".into(),
        version: Some("2.5.0".into()),
        requested_by: "alice".into(),
        switched_at: crate::clock::now_ms(),
        checks,
        failed_stage: failed_stage.map(str::to_string),
    }
}

fn no_memory() -> Facts {
    crate::memory::facts(&[], "billionmail", "staging", &config().memory)
}

fn explanation(run: RunSummary, failed_stage: Option<FailedStage>) -> Explanation {
    let c = config();
    Explanation {
        query: crate::command::reports::ExplainQuery {
            service: ServiceName::resolve(&c, "billionmail").unwrap(),
            environment: None,
        },
        as_of: crate::clock::now_ms(),
        failed_run: Some(FailedRun {
            run,
            failed_stage,
            live: Some(live(RunStatus::Interrupted, None)),
            rollback_target: Some("2.4.0".into()),
            memory: no_memory(),
        }),
    }
}

#[test]
fn a_timed_out_stage_and_an_unsettled_release_are_told() {
    let stage = FailedStage {
        name: "verify".into(),
        state: StageState::TimedOut,
        exit_code: None,
        log_tail: "waiting for health".into(),
    };
    let text = render_explanation(&explanation(run(RunStatus::Failed), Some(stage)));
    assert!(
        text.starts_with("Run 7 (deploy billionmail 2.5.0 to staging, asked by alice "),
        "{text}"
    );
    assert!(
        text.contains(" ago) failed at verify (timed out)."),
        "{text}"
    );
    assert!(text.contains(" In staging, 2.5.0 is live (Deckhand stopped before its checks finished). Say \"rollback billionmail in staging\" to return to 2.4.0."), "{text}");
    assert!(
        text.ends_with("\nLast lines of verify:\n```\nwaiting for health\n```"),
        "{text}"
    );
}

#[test]
fn an_interrupted_run_is_not_blamed_on_a_stage() {
    let text = render_explanation(&explanation(run(RunStatus::Interrupted), None));
    assert!(
        text.contains(") was interrupted: Deckhand stopped while it was running."),
        "{text}"
    );
    let mut failed = run(RunStatus::Failed);
    failed.error = Some("the runner could not start".into());
    let text = render_explanation(&explanation(failed, None));
    assert!(
        text.contains(") failed: the runner could not start."),
        "{text}"
    );
}

#[test]
fn history_tells_where_an_attempt_stopped_and_what_is_live() {
    let attempt = |status, stage: Option<&str>| Attempt {
        run_id: 7,
        action: Action::Deploy,
        service: "billionmail".into(),
        environment: "staging".into(),
        version: None,
        status,
        failed_stage: stage.map(str::to_string),
        requested_by: "alice".into(),
        at: 1_795_459_980_000,
    };
    let report = HistoryReport {
        query: HistoryQuery::default(),
        entries: vec![
            HistoryEntry {
                attempt: attempt(RunStatus::Cancelled, Some("deploy")),
                live_now: Some(live(RunStatus::Cancelled, Some("deploy"))),
            },
            HistoryEntry {
                attempt: attempt(RunStatus::Failed, Some("build")),
                live_now: None,
            },
        ],
        plans: Vec::new(),
    };
    assert_eq!(
        render_history(&report),
        "Recent deployments, newest first:\n\
         • 2026-11-23 18:53 UTC  billionmail (no version) → staging  deploy cancelled during deploy  (alice, run 7)  ← 2.5.0 is live (its deploy was cancelled)\n\
         • 2026-11-23 18:53 UTC  billionmail (no version) → staging  deploy failed at build  (alice, run 7)"
    );
    let empty = HistoryReport {
        query: HistoryQuery::default(),
        entries: Vec::new(),
        plans: Vec::new(),
    };
    assert_eq!(render_history(&empty), "No deployments on record yet.");
}

#[test]
fn unknown_names_get_the_closest_configured_ones() {
    let c = config();
    let refusal = ServiceName::resolve(&c, "billionmial").unwrap_err();
    assert_eq!(
        unknown_name(&refusal),
        "I don't know the service `billionmial`; did you mean billionmail?"
    );
    let refusal = EnvName::resolve(&c, "prod").unwrap_err();
    assert_eq!(
        unknown_name(&refusal),
        "I don't know the environment `prod`; did you mean staging?"
    );
}
