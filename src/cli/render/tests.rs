use super::*;
use crate::cli::reports;
use crate::cli::views::{ContextView, DecisionView, HistoryView, StatusView};
use serde_json::json;

fn run(v: serde_json::Value) -> RunView {
    serde_json::from_value(v).unwrap()
}

fn ev(event: &str, data: serde_json::Value) -> SseEvent {
    SseEvent {
        id: Some("1".into()),
        event: event.into(),
        data: data.to_string(),
    }
}

/// 2026-12-02 04:00 UTC.
const T: i64 = 1_796_184_000_000;

fn sample_run() -> serde_json::Value {
    json!({"id": 7, "action": "deploy", "service": "billionmail", "environment": "staging",
           "version": "2.4.0", "strategy": "canary", "percent": 10, "requested_by": "alice",
           "status": "failed", "rolled_back": true, "error": "verify failed",
           "started_at": T, "finished_at": T + 75_000})
}

#[test]
fn tables_align_columns_without_trailing_spaces() {
    let t = table(
        &["ID", "NAME", "X"],
        &[
            vec!["1".into(), "build".into(), "".into()],
            vec!["10".into(), "ü".into(), "z".into()],
        ],
    );
    assert_eq!(t, "ID  NAME   X\n1   build\n10  ü      z\n");
}

#[test]
fn durations() {
    assert_eq!(duration(850), "850 ms");
    assert_eq!(duration(1_250), "1.2 s");
    assert_eq!(duration(125_000), "2 min 05 s");
}

#[test]
fn a_run_in_detail_with_its_stages() {
    let mut v = sample_run();
    v["stages"] = json!([
        {"phase": "main", "position": 0, "name": "build", "status": "succeeded", "exit_code": 0,
         "duration_ms": 1200, "log_tail": "built\n", "finished_at": T},
        {"phase": "rollback", "position": 0, "name": "restore", "status": "timed_out",
         "exit_code": null, "duration_ms": 60000, "log_tail": "", "finished_at": T}
    ]);
    let text = run_detail(&run(v));
    assert_eq!(
        text,
        "run 7  deploy billionmail 2.4.0 to staging (canary 10%)  failed\n\
         \x20 requested by  alice\n\
         \x20 started       2026-12-02 04:00 UTC\n\
         \x20 finished      2026-12-02 04:01 UTC (took 1 min 15 s)\n\
         \x20 rolled back   yes\n\
         \x20 error         verify failed\n\
         \n\
         PHASE     #  STAGE    STATUS     EXIT  TIME\n\
         main      1  build    succeeded  0     1.2 s\n\
         rollback  1  restore  timed_out  -     1 min 00 s\n"
    );
}

#[test]
fn stored_logs_and_a_run_still_running() {
    let mut v = sample_run();
    v["stages"] = json!([{"phase": "main", "position": 0, "name": "build", "status": "succeeded",
        "exit_code": 0, "duration_ms": 900, "log_tail": "step 1\nstep 2"}]);
    assert_eq!(
        stage_logs(&run(v.clone())),
        "stage build: succeeded (exit 0, 900 ms)\n  build | step 1\n  build | step 2\n\
         run 7 failed: deploy billionmail 2.4.0 to staging (canary 10%); rolled back; verify failed\n"
    );
    v["status"] = json!("running");
    assert!(stage_logs(&run(v))
        .ends_with("run 7 is still running (deckhand runs logs 7 --follow streams it)\n"));
}

#[test]
fn stream_events_as_lines() {
    let mut state = StreamState::default();
    let events = [
        ev(
            "started",
            json!({"type": "started", "run_id": 7, "action": "deploy", "service": "billionmail",
                   "environment": "staging", "version": "2.4.0", "strategy": "canary",
                   "requested_by": "alice", "stages": ["build", "test"]}),
        ),
        ev(
            "stage_started",
            json!({"phase": "main", "index": 0, "name": "build"}),
        ),
        ev(
            "output",
            json!({"phase": "main", "index": 0, "name": "build", "line": "ok"}),
        ),
        ev(
            "stage_finished",
            json!({"phase": "main", "index": 0, "name": "build", "status": "failed",
                   "exit_code": 2, "duration_ms": 3000}),
        ),
        ev(
            "stage_skipped",
            json!({"phase": "main", "index": 1, "name": "test"}),
        ),
        ev("rollback_started", json!({"stages": ["restore"]})),
        ev(
            "stage_finished",
            json!({"phase": "rollback", "index": 0, "name": "restore", "status": "succeeded",
                   "duration_ms": 10}),
        ),
        ev("ping", json!({})),
        ev(
            "finished",
            json!({"status": "failed", "version": "2.4.0", "rolled_back": true,
                   "error": "build failed", "rollback_target": "2.3.0"}),
        ),
    ];
    let lines: Vec<Option<String>> = events.iter().map(|e| event_text(e, &mut state)).collect();
    let want = [
        Some("run 7 started: deploy billionmail 2.4.0 to staging (canary)\n"),
        Some("stage build: started\n"),
        Some("  build | ok\n"),
        Some("stage build: failed (exit 2, 3.0 s)\n"),
        Some("stage test: skipped\n"),
        Some("automatic rollback started: restore\n"),
        Some("rollback stage restore: succeeded (10 ms)\n"),
        None,
        Some("run 7 failed: deploy billionmail 2.4.0 to staging (canary); rolled back; build failed\n  a rollback would return to 2.3.0\n"),
    ];
    assert_eq!(lines, want.map(|w| w.map(str::to_string)).to_vec());
}

#[test]
fn the_finished_event_speaks_for_the_outcome() {
    let mut r = sample_run();
    r["status"] = json!("running");
    r["error"] = json!(null);
    r["rolled_back"] = json!(false);
    let mut state = StreamState::default();
    let text = event_text(
        &ev(
            "finished",
            json!({"status": "succeeded", "version": "2.4.1", "rolled_back": false, "error": null, "run": r}),
        ),
        &mut state,
    );
    assert_eq!(
        text.as_deref(),
        Some("run 7 succeeded: deploy billionmail 2.4.1 to staging (canary 10%)\n")
    );
    // Joined late, without the started event: the outcome alone.
    let text = event_text(&ev("finished", json!({"status": "cancelled"})), &mut state);
    assert_eq!(text.as_deref(), Some("run cancelled\n"));
}

#[test]
fn approvals_and_the_waiting_answer() {
    let a: ApprovalView = serde_json::from_value(json!({
        "id": 3, "action": "deploy", "service": "billionmail", "environment": "production",
        "version": null, "strategy": "direct", "requested_by": "alice", "status": "pending",
        "required": 1, "approvals": 0, "approver_roles": ["approver"], "created_at": T,
        "expires_at": T + 3_600_000, "run_id": null}))
    .unwrap();
    assert_eq!(
        approval_waiting(&a),
        "approval 3 waiting for approval: deploy billionmail to production (needs 1 approval from approver; expires 2026-12-02 05:00 UTC)\n  approve it: deckhand approve 3\n"
    );
    assert_eq!(
        approvals_table(std::slice::from_ref(&a), "pending"),
        "ID  ACTION  SERVICE      ENV         VERSION  BY     APPROVALS  STATUS   EXPIRES\n\
         3   deploy  billionmail  production  -        alice  0/1        pending  2026-12-02 05:00 UTC\n"
    );
    assert_eq!(
        approvals_table(&[], "rejected"),
        "no rejected approval requests\n"
    );
}

#[test]
fn locks_read_either_holder_spelling() {
    let from_list: LockView = serde_json::from_value(json!({"id": 4, "environment": "staging",
        "service": null, "locked_by": "bob", "reason": "freeze", "created_at": T,
        "expires_at": T + 7_200_000}))
    .unwrap();
    let from_store: LockView = serde_json::from_value(json!({"id": 5, "environment": "production",
        "service": "payments-api", "holder": "carol", "reason": "audit", "created_at": T,
        "expires_at": null}))
    .unwrap();
    assert_eq!(
        lock_line(&from_list),
        "staging locked by bob until 2026-12-02 06:00 UTC (lock 4): freeze\n"
    );
    assert_eq!(
        lock_line(&from_store),
        "payments-api in production locked by carol until unlocked (lock 5): audit\n"
    );
    assert_eq!(
        locks_table(&[from_list, from_store]),
        "ID  ENV         SERVICE       BY     FROM  UNTIL                 REASON\n\
         4   staging     -             bob    -     2026-12-02 06:00 UTC  freeze\n\
         5   production  payments-api  carol  -     unlocked              audit\n"
    );
    // A freeze window that starts later says so, and that rollbacks go through it.
    let window: LockView = serde_json::from_value(json!({"id": 6, "environment": "production",
        "service": null, "holder": "bob", "reason": "launch", "created_at": T,
        "starts_at": T + 3_600_000, "expires_at": T + 7_200_000, "rollbacks": "allow"}))
    .unwrap();
    assert_eq!(
        lock_line(&window),
        "production will be frozen by bob from 2026-12-02 05:00 UTC until 2026-12-02 06:00 UTC (rollbacks allowed) (lock 6): launch\n"
    );
}

#[test]
fn status_report_rows_and_locks() {
    let s: StatusView = serde_json::from_value(json!({
        "query": {"service": null, "environment": null}, "as_of": T, "any_lock_active": true,
        "services": [{"service": "billionmail", "targets": [
            {"environment": "dev", "live": null, "unsettled_attempt": null, "running": null,
             "memory": {}},
            {"environment": "staging",
             "live": {"run_id": 5, "action": "deploy", "service": "billionmail",
                      "environment": "staging", "version": "2.3.0", "requested_by": "alice",
                      "switched_at": T, "checks": "failed", "failed_stage": "verify"},
             "unsettled_attempt": {"run_id": 6, "action": "deploy", "service": "billionmail",
                      "environment": "staging", "version": "2.4.0", "status": "failed",
                      "failed_stage": "test", "requested_by": "alice", "at": T},
             "running": null, "memory": {}},
            {"environment": "production", "live": null, "unsettled_attempt": null,
             "running": {"id": 9, "action": "deploy", "service": "billionmail",
                         "environment": "production", "version": "2.3.0",
                         "requested_by": "bob", "started_at": T, "status": "running",
                         "rolled_back": false, "error": null},
             "memory": {}}
        ]}],
        "locks": [{"id": 4, "environment": "staging", "service": null, "holder": "bob",
                   "reason": "freeze", "created_at": T, "expires_at": null}]
    }))
    .unwrap();
    assert_eq!(
        reports::status(&s),
        "SERVICE      ENV         LIVE   SINCE                 CHECKS           RUNNING      NOTE\n\
         billionmail  staging     2.3.0  2026-12-02 04:00 UTC  failed (verify)  -            deploy 2.4.0 failed (run 6, at test)\n\
         billionmail  production  -      -                     -                run 9 2.3.0\n\
         staging locked by bob until unlocked (lock 4): freeze\n"
    );
    assert_eq!(
        reports::status(&StatusView::default()),
        "nothing is deployed or running in scope\n"
    );
}

#[test]
fn history_marks_what_is_live() {
    let h: HistoryView = serde_json::from_value(json!({"query": {}, "entries": [
        {"run_id": 6, "action": "rollback", "service": "redis", "environment": "dev",
         "version": "1.0", "status": "succeeded", "failed_stage": null, "requested_by": "bob",
         "at": T, "live_now": {"run_id": 6, "version": "1.0", "switched_at": T, "checks": "succeeded"}},
        {"run_id": 5, "action": "deploy", "service": "redis", "environment": "dev",
         "version": "1.1", "status": "failed", "failed_stage": "verify", "requested_by": "alice",
         "at": T, "live_now": null}
    ]}))
    .unwrap();
    assert_eq!(
        reports::history(&h),
        "RUN  WHEN                  ACTION    SERVICE  ENV  VERSION  STATUS           BY\n\
         6    2026-12-02 04:00 UTC  rollback  redis    dev  1.0      succeeded        bob    live\n\
         5    2026-12-02 04:00 UTC  deploy    redis    dev  1.1      failed (verify)  alice\n"
    );
}

#[test]
fn context_facts_and_recommendation() {
    let c: ContextView = serde_json::from_value(json!({
        "query": {"service": "billionmail", "environment": "staging"}, "as_of": T,
        "failure_rate": 0.25,
        "facts": {"service": "billionmail", "environment": "staging", "considered": 8,
                  "failures": 2, "failing_stages": {"verify": 1, "test": 1, "build": 0},
                  "last_success_at": T, "co_failures": {"auth-service": 2},
                  "live_problem": null},
        "recommendation": {"strategy": "canary", "percent": 10, "reason": "2 of the last 8 failed"}
    }))
    .unwrap();
    assert_eq!(
        reports::context(&c),
        "billionmail in staging (last 8 deploys)\n\
         \x20 failure rate    25% (2 of 8)\n\
         \x20 last success    2026-12-02 04:00 UTC\n\
         \x20 failing stages  test ×1, verify ×1, build ×0\n\
         \x20 co-failures     auth-service ×2\n\
         \x20 live problem    none\n\
         \x20 recommended     canary 10%: 2 of the last 8 failed\n"
    );
}

#[test]
fn decisions_and_what_followed() {
    let d = |result: serde_json::Value, decision: &str| -> DecisionView {
        serde_json::from_value(json!({"approval": 3, "decision": decision, "by": "bob",
            "requested_by": "alice", "action": "deploy", "run": {}, "result": result}))
        .unwrap()
    };
    assert_eq!(
        reports::decision(&d(json!({"result": "started", "run_id": 9}), "approve")),
        (
            "approval 3 approved by bob: run 9 started\n  follow it: deckhand runs logs 9 --follow\n".into(),
            false
        )
    );
    assert_eq!(
        reports::decision(&d(
            json!({"result": "waiting", "approvals": 1, "required": 2}),
            "approve"
        ))
        .0,
        "approval 3 approved by bob: 1 of 2 approvals, waiting for more\n"
    );
    assert_eq!(
        reports::decision(&d(json!({"result": "rejected"}), "reject")).0,
        "approval 3 rejected by bob; it will not run\n"
    );
    assert_eq!(
        reports::decision(&d(
            json!({"result": "refused", "refusal": {"kind": "locked"}}),
            "approve"
        )),
        (
            "approval 3 approved by bob, but it was refused: locked\n".into(),
            true
        )
    );
}
