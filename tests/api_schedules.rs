//! Schedules over the REST API (issue 13, item 3), on SQLite and PostgreSQL: `POST
//! /schedules` stores a deploy for later (a production one with its approval request bound to
//! it; deciding that request starts nothing), `GET` lists and shows them with their fires,
//! `DELETE` cancels (the creator or someone allowed to run it; a viewer is 403), and every
//! bad request is a problem with nothing stored.

mod support;

use serde_json::json;
use support::api_rig::{ApiRig, ALICE, BOB, DAVE};

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

async fn schedules(rig: ApiRig) {
    let now = deckhand::clock::now_ms();
    let at = now + 3_600_000;
    let staging = rig
        .post(
            "/api/v1/schedules",
            ALICE,
            json!({"action": "deploy", "service": "bm", "environment": "stage",
                   "version": "2.4.0", "at": rfc3339(at)}),
        )
        .await;
    assert_eq!(staging.status, 201, "{}", staging.raw);
    let s = &staging.body["schedule"];
    assert_eq!(s["next_fire_at"], at);
    assert_eq!(s["what"], "deploy billionmail 2.4.0 to staging");
    assert_eq!(s["created_by"], "alice");
    assert_eq!(s["kind"], "once");
    assert!(staging.body["approval"].is_null());
    let staging_id = s["id"].as_i64().unwrap();

    let production = rig
        .post(
            "/api/v1/schedules",
            ALICE,
            json!({"action": "deploy", "service": "billionmail", "environment": "production",
                   "version": "2.4.0", "at": rfc3339(at), "tz": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(production.status, 201, "{}", production.raw);
    let approval = production.body["approval"]["id"].as_i64().unwrap();
    assert_eq!(production.body["approval"]["expires_at"], at);
    assert_eq!(production.body["schedule"]["tz"], "Europe/Berlin");
    let production_id = production.body["schedule"]["id"].as_i64().unwrap();

    // Bob's approval binds to the schedule: nothing runs now.
    let decided = rig
        .post(
            &format!("/api/v1/approvals/{approval}/decision"),
            BOB,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.raw);
    assert_eq!(
        decided.body["result"]["result"], "scheduled",
        "{}",
        decided.raw
    );
    assert_eq!(decided.body["result"]["schedule"], production_id);
    let runs = rig.get("/api/v1/runs", ALICE).await;
    assert_eq!(runs.body["runs"], json!([]), "{}", runs.raw);

    let listed = rig.get("/api/v1/schedules", DAVE).await;
    assert_eq!(listed.status, 200, "{}", listed.raw);
    assert_eq!(listed.body["schedules"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["schedules"][0]["approval_status"], "approved");
    let one = rig
        .get(&format!("/api/v1/schedules/{staging_id}"), DAVE)
        .await;
    assert_eq!(one.status, 200, "{}", one.raw);
    assert_eq!(one.body["fires"], json!([]));
    assert_eq!(one.body["id"], staging_id);

    // Dave (a viewer) may not cancel it; Alice may, once.
    let path = format!("/api/v1/schedules/{staging_id}");
    let dave = rig.call("DELETE", &path, Some(DAVE), None).await;
    assert_eq!(
        (dave.status, dave.kind()),
        (403, "not_permitted"),
        "{}",
        dave.raw
    );
    let gone = rig.call("DELETE", &path, Some(ALICE), None).await;
    assert_eq!(gone.status, 200, "{}", gone.raw);
    assert!(gone.body["next_fire_at"].is_null());
    let again = rig.call("DELETE", &path, Some(ALICE), None).await;
    assert_eq!(
        (again.status, again.kind()),
        (409, "schedule_done"),
        "{}",
        again.raw
    );
    let unknown = rig
        .call("DELETE", "/api/v1/schedules/9999", Some(ALICE), None)
        .await;
    assert_eq!((unknown.status, unknown.kind()), (404, "unknown_schedule"));
    let unknown = rig.get("/api/v1/schedules/9999", ALICE).await;
    assert_eq!((unknown.status, unknown.kind()), (404, "unknown_schedule"));
    let pending = rig.get("/api/v1/schedules", ALICE).await;
    assert_eq!(pending.body["schedules"].as_array().unwrap().len(), 1);
    let all = rig.get("/api/v1/schedules?all=true", ALICE).await;
    assert_eq!(all.body["schedules"].as_array().unwrap().len(), 2);

    // Bad requests: a problem each, nothing stored.
    let base = json!({"action": "deploy", "service": "billionmail", "environment": "staging"});
    let with = |extra: serde_json::Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, status, needle) in [
        (
            with(json!({"at": "tomorrow at 9"})),
            422,
            "not an RFC 3339 time",
        ),
        (
            with(json!({"at": rfc3339(now - 60_000)})),
            422,
            "already past",
        ),
        (
            with(json!({"at": rfc3339(now + 100 * 86_400_000)})),
            422,
            "90 days",
        ),
        (
            with(json!({"at": rfc3339(at), "tz": "Mars/Olympus"})),
            422,
            "not a time zone",
        ),
        (
            with(json!({"at": rfc3339(at), "service": "nope"})),
            422,
            "unknown_service",
        ),
        (
            with(json!({"at": rfc3339(at), "action": "restart"})),
            422,
            "",
        ),
        (
            with(json!({"at": rfc3339(at), "percent": 0})),
            422,
            "out of range",
        ),
        (with(json!({"at": rfc3339(at), "extra": 1})), 422, ""),
    ] {
        let a = rig.post("/api/v1/schedules", ALICE, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", a.raw);
        assert!(a.raw.contains(needle), "{body}: {}", a.raw);
    }
    // Dave may not deploy to staging, so he may not schedule it either.
    let dave = rig
        .post("/api/v1/schedules", DAVE, with(json!({"at": rfc3339(at)})))
        .await;
    assert_eq!(
        (dave.status, dave.kind()),
        (403, "not_permitted"),
        "{}",
        dave.raw
    );
    let all = rig.get("/api/v1/schedules?all=true", ALICE).await;
    assert_eq!(all.body["schedules"].as_array().unwrap().len(), 2);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn schedules_over_the_api() {
    schedules(ApiRig::start("api-schedules", None, |_| {}).await).await;
}

#[tokio::test]
async fn schedules_over_the_api_on_postgres() {
    let Some(pg) = support::postgres::store("api schedules").await else {
        return;
    };
    schedules(ApiRig::start("api-schedules-pg", Some(pg.url.clone()), |_| {}).await).await;
    pg.cleanup().await;
}
