//! Freeze windows over the REST API (issue 13, item 4), on SQLite and PostgreSQL: a window
//! from the config is `423 frozen` with the window in the problem; `POST /locks` with
//! `from`/`until` stores a window that starts later (listed, lifted by `DELETE`), and every
//! malformed window is `422` with nothing stored.

mod support;

use deckhand::config::{FreezeWindowConfig, RollbackRule};
use serde_json::json;
use support::api_rig::{ApiRig, ALICE, BOB};

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

async fn freezes(rig: ApiRig) {
    // The config's window on production is open now: the deploy is 423 `frozen`.
    let frozen = rig
        .post(
            "/api/v1/deploys",
            ALICE,
            json!({"service": "billionmail", "environment": "production", "version": "2.4.0"}),
        )
        .await;
    assert_eq!(
        (frozen.status, frozen.kind()),
        (423, "frozen"),
        "{}",
        frozen.raw
    );
    assert_eq!(frozen.body["refusal"]["window"]["reason"], "quarter close");
    assert!(frozen.body["detail"]
        .as_str()
        .unwrap()
        .contains("production is frozen: quarter close"));

    // A window said with its own start.
    let now = deckhand::clock::now_ms();
    let (from, until) = (now + 3_600_000, now + 3 * 3_600_000);
    let made = rig
        .post(
            "/api/v1/locks",
            BOB,
            json!({"environment": "staging", "from": rfc3339(from), "until": rfc3339(until),
                   "reason": "launch"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.raw);
    assert_eq!(made.body["lock"]["starts_at"], from);
    assert_eq!(made.body["lock"]["expires_at"], until);
    assert_eq!(made.body["lock"]["rollbacks"], "allow");
    let listed = rig.get("/api/v1/locks?environment=staging", ALICE).await;
    assert_eq!(listed.body["locks"][0]["starts_at"], from, "{}", listed.raw);

    // Malformed windows: 422, nothing stored.
    for (body, needle) in [
        (
            json!({"environment": "dev", "from": rfc3339(from)}),
            "`from` needs `until`",
        ),
        (
            json!({"environment": "dev", "from": rfc3339(until), "until": rfc3339(from)}),
            "must be after",
        ),
        (
            json!({"environment": "dev", "until": rfc3339(now - 60_000)}),
            "must be after",
        ),
        (
            json!({"environment": "dev", "until": rfc3339(until), "duration": "2h"}),
            "not both",
        ),
        (
            json!({"environment": "dev", "until": "friday at 5"}),
            "not an RFC 3339 time",
        ),
        (
            json!({"environment": "dev", "until": rfc3339(until), "rollbacks": "sometimes"}),
            "",
        ),
    ] {
        let a = rig.post("/api/v1/locks", BOB, body.clone()).await;
        assert_eq!(a.status, 422, "{body}: {}", a.raw);
        assert!(a.raw.contains(needle), "{body}: {}", a.raw);
    }
    let dev = rig.get("/api/v1/locks?environment=dev", ALICE).await;
    assert_eq!(dev.body["locks"], json!([]), "{}", dev.raw);

    // "unlock" lifts the window before it starts.
    let lifted = rig
        .call(
            "DELETE",
            "/api/v1/locks?environment=staging",
            Some(BOB),
            None,
        )
        .await;
    assert_eq!(lifted.status, 200, "{}", lifted.raw);
    assert_eq!(lifted.body["lifted"][0]["starts_at"], from);
    rig.server.shutdown().await;
}

fn quarter_close(config: &mut deckhand::config::Config) {
    let production = config
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
}

#[tokio::test]
async fn freeze_windows_over_the_api() {
    freezes(ApiRig::start("api-freezes", None, quarter_close).await).await;
}

#[tokio::test]
async fn freeze_windows_over_the_api_on_postgres() {
    let Some(pg) = support::postgres::store("api freezes").await else {
        return;
    };
    freezes(ApiRig::start("api-freezes-pg", Some(pg.url.clone()), quarter_close).await).await;
    pg.cleanup().await;
}
