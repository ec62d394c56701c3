//! The REST API driven through the real router of `deckhand serve` (no chat platform), on
//! SQLite and PostgreSQL: deploy → approval by a second token → run → event stream to the
//! end → status, history, context; refusals as problem details with their status codes; and
//! that a refused or unauthenticated request records nothing but the refusal.

mod support;

use serde_json::{json, Value};
use support::api_rig::{ApiRig, ALICE, BOB, CAROL, DAVE};

/// Audit entries so far (the chain is walked, so it is also checked).
async fn audit_entries(rig: &ApiRig) -> i64 {
    rig.bot.audit().verify().await.unwrap()
}

async fn run_count(rig: &ApiRig) -> usize {
    rig.get("/api/v1/runs?limit=200", ALICE).await.body["runs"]
        .as_array()
        .unwrap()
        .len()
}

async fn deploy_approve_stream_status(rig: ApiRig) {
    // Production needs one approval from an approver other than the requester.
    let asked = rig
        .post(
            "/api/v1/deploys",
            ALICE,
            json!({"service": "billionmail", "environment": "prod", "version": "2.4.0"}),
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.raw);
    assert_eq!(asked.body["status"], "awaiting_approval");
    let approval = asked.body["approval"]["id"].as_i64().unwrap();
    assert_eq!(
        asked.header("location"),
        Some(format!("/api/v1/approvals/{approval}").as_str())
    );
    assert_eq!(asked.body["approval"]["environment"], "production");
    assert_eq!(asked.body["approval"]["requested_by"], "alice");

    // Four-eyes: alice may not approve her own request; nothing is decided.
    let own = rig
        .post(
            &format!("/api/v1/approvals/{approval}/decision"),
            ALICE,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (own.status, own.kind()),
        (403, "own_request"),
        "{}",
        own.raw
    );

    // A second request of alice's (the API allows several), withdrawn by her; bob may not.
    let second = rig
        .post(
            "/api/v1/rollbacks",
            ALICE,
            json!({"service": "redis", "environment": "production", "version": "7.2.4"}),
        )
        .await;
    assert_eq!(second.body["status"], "awaiting_approval", "{}", second.raw);
    let second = second.body["approval"]["id"].as_i64().unwrap();
    let not_his = rig
        .post(
            &format!("/api/v1/approvals/{second}/withdraw"),
            BOB,
            json!({}),
        )
        .await;
    assert_eq!(
        (not_his.status, not_his.kind()),
        (404, "nothing_to_withdraw")
    );
    let withdrawn = rig
        .post(
            &format!("/api/v1/approvals/{second}/withdraw"),
            ALICE,
            json!({}),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.raw);
    assert_eq!(withdrawn.body["approval"], second);

    let pending = rig.get("/api/v1/approvals?status=pending", BOB).await;
    let ids: Vec<i64> = pending.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![approval]);

    let decided = rig
        .post(
            &format!("/api/v1/approvals/{approval}/decision"),
            BOB,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.raw);
    assert_eq!(decided.body["by"], "bob");
    assert_eq!(decided.body["result"]["result"], "started");
    let run = decided.body["result"]["run_id"].as_i64().unwrap();

    // The stream from the start: started, each stage started and finished, finished last.
    let events = rig.events(run, ALICE, None).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names.first(), Some(&"started"));
    assert_eq!(names.last(), Some(&"finished"));
    let ids: Vec<u64> = events.iter().map(|e| e.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    let finished_stages: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "stage_finished")
        .map(|e| e.data["name"].as_str().unwrap())
        .collect();
    assert_eq!(finished_stages, ["build", "test", "deploy", "verify"]);
    assert!(events.iter().any(|e| e.event == "output"));
    let last = events.last().unwrap();
    assert_eq!(last.data["status"], "succeeded");
    assert_eq!(last.data["version"], "2.4.0");
    assert_eq!(
        events[0].data["stages"],
        json!(["build", "test", "deploy", "verify"])
    );

    // Resumed after the third-last event: exactly the last two, with the same numbers.
    let resume_at = ids[ids.len() - 3];
    let rest = rig.events(run, BOB, Some(resume_at)).await;
    assert_eq!(rest, events[events.len() - 2..].to_vec());

    let detail = rig.get(&format!("/api/v1/runs/{run}"), ALICE).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["status"], "succeeded");
    assert_eq!(detail.body["requested_by"], "alice");
    assert_eq!(detail.body["stages"].as_array().unwrap().len(), 4);
    assert!(detail.body["stages"][0]["log_tail"]
        .as_str()
        .unwrap()
        .contains("billionmail"));

    let status = rig
        .get("/api/v1/services/bm/status?environment=production", ALICE)
        .await;
    assert_eq!(status.status, 200, "{}", status.raw);
    let target = &status.body["services"][0]["targets"][0];
    assert_eq!(target["environment"], "production");
    assert_eq!(target["live"]["version"], "2.4.0");
    assert_eq!(target["live"]["run_id"], run);

    let history = rig.get("/api/v1/services/billionmail/history", ALICE).await;
    assert_eq!(history.status, 200);
    assert_eq!(history.body["entries"][0]["run_id"], run);
    assert_eq!(history.body["entries"][0]["live_now"]["version"], "2.4.0");

    let context = rig
        .get(
            "/api/v1/services/billionmail/context?environment=production",
            BOB,
        )
        .await;
    assert_eq!(context.status, 200, "{}", context.raw);
    assert_eq!(context.body["failure_rate"], 0.0);
    assert!(context.body.get("facts").is_some());

    let listed = rig
        .get("/api/v1/runs?service=billionmail&status=succeeded", ALICE)
        .await;
    assert_eq!(listed.body["runs"][0]["id"], run);
    let readiness = rig
        .get("/api/v1/services/billionmail/readiness", ALICE)
        .await;
    assert_eq!(readiness.status, 200);
    let explain = rig.get("/api/v1/services/billionmail/explain", ALICE).await;
    assert_eq!(explain.status, 200);
    assert_eq!(explain.body["failed_run"], Value::Null);
    let store_url = rig.bot.config().store_url();
    rig.server.shutdown().await;
    rig.bot.store().close().await;

    // After a restart the run is replayed from the store: its stages, then its end, also to
    // a client that resumes past it.
    let again = ApiRig::start("api-flow-restart", Some(store_url), |_| {}).await;
    let replay = again.events(run, ALICE, None).await;
    assert_eq!(replay.first().unwrap().event, "started");
    let stages: Vec<&str> = replay
        .iter()
        .filter(|e| e.event == "stage_finished")
        .map(|e| e.data["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["build", "test", "deploy", "verify"]);
    assert_eq!(replay.last().unwrap().data["status"], "succeeded");
    let past = again.events(run, ALICE, Some(10_000)).await;
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].event, "finished");
    again.server.shutdown().await;
}

#[tokio::test]
async fn deploy_approval_by_a_second_token_run_stream_and_status() {
    deploy_approve_stream_status(ApiRig::start("api-flow", None, |_| {}).await).await;
}

#[tokio::test]
async fn deploy_approval_by_a_second_token_run_stream_and_status_on_postgres() {
    let Some(pg) = support::postgres::store("api flow").await else {
        return;
    };
    deploy_approve_stream_status(ApiRig::start("api-flow-pg", Some(pg.url.clone()), |_| {}).await)
        .await;
    pg.cleanup().await;
}

/// A deploy request the command layer refuses: its status, kind and problem shape.
async fn expect_problem(rig: &ApiRig, token: &str, body: Value, status: u16, kind: &str) -> Value {
    let a = rig.post("/api/v1/deploys", token, body.clone()).await;
    assert_eq!((a.status, a.kind()), (status, kind), "{body}: {}", a.raw);
    assert_eq!(a.header("content-type"), Some("application/problem+json"));
    assert_eq!(a.body["status"], status);
    assert_eq!(
        a.body["type"],
        format!("https://deckhand.dev/problems/{kind}")
    );
    assert!(!a.body["detail"].as_str().unwrap().is_empty());
    a.body
}

async fn refusals_map_to_status_codes(rig: ApiRig) {
    // 422: names that do not resolve, with suggestions; fields that are not values.
    let p = expect_problem(
        &rig,
        ALICE,
        json!({"service": "billionmial", "environment": "dev"}),
        422,
        "unknown_service",
    )
    .await;
    assert_eq!(p["refusal"]["suggestions"], json!(["billionmail"]));
    let p = expect_problem(
        &rig,
        ALICE,
        json!({"service": "redis", "environment": "qa"}),
        422,
        "unknown_environment",
    )
    .await;
    assert!(!p["refusal"]["suggestions"].as_array().unwrap().is_empty());
    for bad in [
        json!({"service": "redis", "environment": "dev", "version": "1.0;id"}),
        json!({"service": "redis", "environment": "dev", "version": "$(id)"}),
        json!({"service": "redis", "environment": "dev", "percent": 0}),
        json!({"service": "redis", "environment": "dev", "percent": 101}),
        json!({"service": "redis", "environment": "dev", "strategy": "yolo"}),
        json!({"service": "redis", "environment": "dev", "extra": 1}),
        json!({"service": "redis"}),
        json!("deploy redis to dev"),
    ] {
        expect_problem(&rig, ALICE, bad, 422, "bad_request").await;
    }
    // 403: a person without the role (dave is a viewer), with the roles needed and held.
    let p = expect_problem(
        &rig,
        DAVE,
        json!({"service": "redis", "environment": "staging"}),
        403,
        "not_permitted",
    )
    .await;
    assert_eq!(p["refusal"]["needed"], json!(["deployer"]));
    assert_eq!(p["refusal"]["held"], json!(["viewer"]));
    // 423: a lock (bob is sre), with the lock in the problem.
    let lock = rig
        .post(
            "/api/v1/locks",
            BOB,
            json!({"environment": "staging", "duration": "2h", "reason": "release freeze"}),
        )
        .await;
    assert_eq!(lock.status, 201, "{}", lock.raw);
    let p = expect_problem(
        &rig,
        ALICE,
        json!({"service": "redis", "environment": "stg"}),
        423,
        "locked",
    )
    .await;
    assert_eq!(p["refusal"]["lock"]["holder"], "bob");
    assert_eq!(p["refusal"]["lock"]["reason"], "release freeze");
    let again = rig
        .post("/api/v1/locks", BOB, json!({"environment": "staging"}))
        .await;
    assert_eq!((again.status, again.kind()), (409, "already_locked"));
    let not_allowed = rig
        .post("/api/v1/locks", ALICE, json!({"environment": "production"}))
        .await;
    assert_eq!(
        (not_allowed.status, not_allowed.kind()),
        (403, "not_permitted")
    );
    let bad_duration = rig
        .post(
            "/api/v1/locks",
            BOB,
            json!({"environment": "dev", "duration": "a fortnight"}),
        )
        .await;
    assert_eq!(
        (bad_duration.status, bad_duration.kind()),
        (422, "bad_request")
    );
    let locks = rig.get("/api/v1/locks", ALICE).await;
    assert_eq!(locks.body["locks"].as_array().unwrap().len(), 1);
    let lifted = rig
        .call(
            "DELETE",
            "/api/v1/locks?environment=staging",
            Some(BOB),
            None,
        )
        .await;
    assert_eq!(lifted.status, 200, "{}", lifted.raw);
    assert_eq!(lifted.body["lifted"][0]["holder"], "bob");
    let none = rig
        .call(
            "DELETE",
            "/api/v1/locks?environment=staging",
            Some(BOB),
            None,
        )
        .await;
    assert_eq!((none.status, none.kind()), (404, "not_locked"));
    // 409: nothing to roll back to; already on that version.
    // (A redeploy of the live version is allowed, as in chat; rolling back to it is not.)
    for v in ["7.2.4", "7.2.5"] {
        let d = rig
            .post(
                "/api/v1/deploys",
                ALICE,
                json!({"service": "redis", "environment": "dev", "version": v}),
            )
            .await;
        assert_eq!(d.status, 202, "{}", d.raw);
        let run = d.body["run"]["id"].as_i64().unwrap();
        assert_eq!(
            rig.events(run, ALICE, None).await.last().unwrap().data["status"],
            "succeeded"
        );
    }
    let a = rig
        .post(
            "/api/v1/rollbacks",
            BOB,
            json!({"service": "redis", "environment": "dev", "version": "7.2.5"}),
        )
        .await;
    assert_eq!((a.status, a.kind()), (409, "already_on"), "{}", a.raw);
    assert_eq!(a.body["refusal"]["version"], "7.2.5");
    let rollback = rig
        .post(
            "/api/v1/rollbacks",
            ALICE,
            json!({"service": "wix", "environment": "dev"}),
        )
        .await;
    assert_eq!(
        (rollback.status, rollback.kind()),
        (409, "nothing_to_roll_back"),
        "{}",
        rollback.raw
    );
    // 404: unknown run and approval request.
    let run = rig.get("/api/v1/runs/999999", ALICE).await;
    assert_eq!((run.status, run.kind()), (404, "unknown_run"));
    let events = rig.get("/api/v1/runs/999999/events", ALICE).await;
    assert_eq!((events.status, events.kind()), (404, "unknown_run"));
    let approval = rig
        .post(
            "/api/v1/approvals/999999/decision",
            BOB,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (approval.status, approval.kind()),
        (404, "unknown_approval")
    );
    let path = rig.get("/api/v1/runs/seven", ALICE).await;
    assert_eq!((path.status, path.kind()), (422, "bad_request"));
    let nowhere = rig.get("/api/v1/nowhere", ALICE).await;
    assert_eq!((nowhere.status, nowhere.kind()), (404, "not_found"));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn refusal_kinds_are_problem_details_with_their_status_codes() {
    refusals_map_to_status_codes(ApiRig::start("api-refusals", None, |_| {}).await).await;
}

#[tokio::test]
async fn refusal_kinds_are_problem_details_with_their_status_codes_on_postgres() {
    let Some(pg) = support::postgres::store("api refusals").await else {
        return;
    };
    refusals_map_to_status_codes(
        ApiRig::start("api-refusals-pg", Some(pg.url.clone()), |_| {}).await,
    )
    .await;
    pg.cleanup().await;
}

#[tokio::test]
async fn missing_and_unknown_tokens_are_401_and_record_nothing() {
    let rig = ApiRig::start("api-auth", None, |_| {}).await;
    let before = audit_entries(&rig).await;
    let body = json!({"service": "redis", "environment": "dev"});
    let headers: [Option<&str>; 5] = [
        None,
        Some("Bearer "),
        Some("Bearer dkh_alice_test_tokenx"),
        Some("Basic YWxpY2U6c2VjcmV0"),
        Some(ALICE),
    ];
    for header in headers {
        let mut req = rig
            .http
            .post(format!("{}/api/v1/deploys", rig.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{header:?}");
        assert!(resp.headers().get("www-authenticate").is_some());
        let p: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(p["kind"], "unauthorized");
    }
    for path in [
        "/api/v1/runs",
        "/api/v1/locks",
        "/api/v1/approvals",
        "/api/v1/services/redis/status",
    ] {
        let a = rig.call("GET", path, None, None).await;
        assert_eq!(a.status, 401, "{path}");
    }
    assert_eq!(
        audit_entries(&rig).await,
        before,
        "a request without a valid token leaves no trace"
    );
    assert_eq!(run_count(&rig).await, 0);

    // A real person without the role: refused, and the refusal is the one thing recorded.
    let denied = rig
        .post(
            "/api/v1/deploys",
            DAVE,
            json!({"service": "redis", "environment": "staging"}),
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(audit_entries(&rig).await, before + 1);
    assert_eq!(run_count(&rig).await, 0);
    // The spec and the docs page need no token.
    let spec = rig.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(spec.status, 200);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let docs = rig.call("GET", "/api/v1/docs", None, None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.raw.contains("/api/v1/deploys") && !docs.raw.contains("<script"));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_is_429_with_retry_after() {
    let rig = ApiRig::start("api-rate", None, |c| {
        c.governance.rate_limit_actions = 2;
    })
    .await;
    // Names that do not resolve never reach the command layer: they do not count.
    let unknown = json!({"service": "redis", "environment": "qa"});
    for _ in 0..3 {
        let a = rig.post("/api/v1/deploys", CAROL, unknown.clone()).await;
        assert_eq!(a.kind(), "unknown_environment");
    }
    let lock = rig
        .post("/api/v1/locks", BOB, json!({"environment": "dev"}))
        .await;
    assert_eq!(lock.status, 201);
    let body = json!({"service": "redis", "environment": "dev"});
    for _ in 0..2 {
        let a = rig.post("/api/v1/deploys", CAROL, body.clone()).await;
        assert_eq!(a.kind(), "locked");
    }
    let limited = rig
        .post(
            "/api/v1/deploys",
            CAROL,
            json!({"service": "redis", "environment": "dev"}),
        )
        .await;
    assert_eq!(
        (limited.status, limited.kind()),
        (429, "rate_limited"),
        "{}",
        limited.raw
    );
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(limited.body["refusal"]["limit"], 2);
    // Another person is not limited by carol's requests.
    let other = rig.post("/api/v1/deploys", ALICE, body).await;
    assert_eq!(other.kind(), "locked", "{}", other.raw);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_busy_target_is_409_with_the_run_and_a_run_can_be_cancelled() {
    let rig = ApiRig::start("api-busy", None, |c| {
        let local = c.pipelines.get_mut("local").unwrap();
        local.stages[0].kind = deckhand::config::StageKind::Process {
            command: "sleep 30".into(),
        };
    })
    .await;
    let started = rig
        .post(
            "/api/v1/deploys",
            ALICE,
            json!({"service": "redis", "environment": "dev", "version": "7.2.5"}),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.raw);
    assert_eq!(started.body["status"], "started");
    let run = started.body["run"]["id"].as_i64().unwrap();
    assert_eq!(
        started.header("location"),
        Some(format!("/api/v1/runs/{run}").as_str())
    );
    let busy = rig
        .post(
            "/api/v1/deploys",
            BOB,
            json!({"service": "redis", "environment": "dev"}),
        )
        .await;
    assert_eq!((busy.status, busy.kind()), (409, "busy"), "{}", busy.raw);
    assert_eq!(busy.body["refusal"]["run"]["id"], run);
    // A resume point past anything sent still ends with the run's end (below).
    let past_end = {
        let http = rig.http.clone();
        let url = format!("{}/api/v1/runs/{run}/events", rig.base);
        tokio::spawn(async move {
            let resp = http
                .get(url)
                .header("authorization", format!("Bearer {ALICE}"))
                .header("last-event-id", "18446744073709551615")
                .send()
                .await
                .unwrap();
            resp.text().await.unwrap()
        })
    };
    let wrong_method = rig.call("PUT", "/api/v1/deploys", Some(ALICE), None).await;
    assert_eq!(
        (wrong_method.status, wrong_method.kind()),
        (405, "method_not_allowed")
    );
    assert_eq!(
        rig.post(
            "/api/v1/deploys",
            BOB,
            json!({"service": "redis", "environment": "dev"})
        )
        .await
        .body["refusal"]["run"]
            .get("owner"),
        None,
        "internals stay out of problems"
    );
    let running = rig.get("/api/v1/runs?status=running", ALICE).await;
    assert_eq!(running.body["runs"][0]["id"], run);
    let cancel = rig
        .post(&format!("/api/v1/runs/{run}/cancel"), ALICE, json!({}))
        .await;
    assert_eq!(cancel.status, 202, "{}", cancel.raw);
    assert_eq!(cancel.body["stopped"], json!([run]));
    let events = rig.events(run, ALICE, None).await;
    assert_eq!(events.last().unwrap().data["status"], "cancelled");
    let past = tokio::time::timeout(std::time::Duration::from_secs(10), past_end)
        .await
        .expect("the resumed stream ends")
        .unwrap();
    let past = support::api_rig::parse_sse(&past);
    // Clamped to the journal's end: what came after, ending with the end.
    assert_eq!(past.last().unwrap().event, "finished", "{past:?}");
    assert_eq!(past.last().unwrap().data["status"], "cancelled");
    assert!(past.iter().all(|e| e.event != "started"), "{past:?}");
    let again = rig
        .post(&format!("/api/v1/runs/{run}/cancel"), ALICE, json!({}))
        .await;
    assert_eq!(
        (again.status, again.kind()),
        (409, "not_running"),
        "{}",
        again.raw
    );
    rig.server.shutdown().await;
}
