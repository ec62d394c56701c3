//! An API request that names a chat channel (`notify`): the run's progress, or the approval
//! request with its buttons, is posted there through the Slack adapter's outbox (a local fake
//! Slack), and a button click in Slack decides on the API's request.

mod support;

use deckhand::config::SlackTransport;
use serde_json::{json, Value};
use std::time::Duration;
use support::api_rig::{api_for, ALICE, BOB};
use support::slack_rig::{click, rig_with, Rig};

const WAIT: Duration = Duration::from_secs(20);

async fn post(rig: &Rig, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", rig.url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn get(rig: &Rig, path: &str, token: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", rig.url))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

/// Top-level posts (no thread) in a channel.
fn channel_posts(rig: &Rig, channel: &str) -> Vec<Value> {
    rig.fake
        .bodies("chat.postMessage")
        .into_iter()
        .filter(|b| b["channel"] == channel && b.get("thread_ts").is_none())
        .collect()
}

#[tokio::test]
async fn a_run_with_notify_reports_in_the_channel_and_an_approval_is_decided_by_a_button() {
    let rig = rig_with(SlackTransport::EventsApi, |c| {
        c.api = Some(api_for(&["alice", "bob"]));
    })
    .await;

    // A platform the server is not connected to is refused before anything acts.
    let (status, p) = post(&rig, "/api/v1/deploys", ALICE, json!({"service": "billionmail", "environment": "staging", "notify": {"platform": "discord", "channel": "123"}})).await;
    assert_eq!(
        (status, p["kind"].as_str()),
        (422, Some("bad_request")),
        "{p}"
    );
    assert!(p["detail"].as_str().unwrap().contains("connected: slack"));
    for channel in ["", "C1 C2", "<@U1>", &"C".repeat(65)] {
        let (status, _) = post(&rig, "/api/v1/deploys", ALICE, json!({"service": "billionmail", "environment": "staging", "notify": {"platform": "slack", "channel": channel}})).await;
        assert_eq!(status, 422, "{channel:?}");
    }
    assert!(get(&rig, "/api/v1/runs", ALICE).await["runs"]
        .as_array()
        .unwrap()
        .is_empty());

    // A run: its status message goes to the channel and ends with the run's end.
    let (status, started) = post(&rig, "/api/v1/deploys", ALICE, json!({"service": "billionmail", "environment": "staging", "notify": {"platform": "slack", "channel": "C9"}})).await;
    assert_eq!(status, 202, "{started}");
    let run = started["run"]["id"].as_i64().unwrap();
    rig.fake
        .wait_for("the run's status message in C9", WAIT, |f| {
            f.bodies("chat.postMessage")
                .iter()
                .any(|b| b["channel"] == "C9")
        })
        .await;
    let text_of = |b: &Value| b.to_string();
    rig.fake
        .wait_for("the run's end in C9", WAIT, |f| {
            f.calls().iter().any(|c| {
                c.ok && c.body["channel"] == "C9"
                    && text_of(&c.body).contains("billionmail 1.4.0 is live on staging")
            })
        })
        .await;
    assert!(
        !channel_posts(&rig, "C9").is_empty(),
        "a new conversation, not a reply"
    );

    // An approval request: posted in the channel with its buttons; bob's click approves it.
    let (status, asked) = post(&rig, "/api/v1/deploys", ALICE, json!({"service": "billionmail", "environment": "production", "notify": {"platform": "slack", "channel": "C9"}})).await;
    assert_eq!(status, 202, "{asked}");
    let approval = asked["approval"]["id"].as_i64().unwrap();
    rig.fake
        .wait_for("the approval request in C9", WAIT, |f| {
            channel_posts_of(f, "C9")
                .iter()
                .any(|b| b.to_string().contains("deckhand_approve"))
        })
        .await;
    let request = channel_posts(&rig, "C9")
        .into_iter()
        .find(|b| b.to_string().contains("deckhand_approve"))
        .unwrap();
    let text = request["text"].as_str().unwrap();
    assert!(
        text.contains("Use the buttons below") && !text.contains("in this thread"),
        "{text}"
    );
    let ts = rig
        .fake
        .calls()
        .into_iter()
        .find(|c| {
            c.ok && c.method == "chat.postMessage"
                && c.body.to_string().contains("deckhand_approve")
        })
        .and_then(|c| c.ts)
        .unwrap();
    let (status, _) = rig
        .interact(&click(
            "UBOB",
            "deckhand_approve",
            &approval.to_string(),
            &ts,
            &ts,
        ))
        .await;
    assert_eq!(status, 200);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let a = get(&rig, &format!("/api/v1/approvals/{approval}"), BOB).await;
        if a["status"] == "approved" && a["run_id"].is_i64() {
            assert_ne!(a["run_id"].as_i64(), Some(run));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not approved: {a}\n{:#?}",
            rig.fake
                .calls()
                .iter()
                .map(|c| (c.method.clone(), c.body.to_string()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_notify_request_decided_through_the_api_is_reported_in_its_channel() {
    let rig = rig_with(SlackTransport::EventsApi, |c| {
        c.api = Some(api_for(&["alice", "bob"]));
    })
    .await;
    let (status, asked) = post(&rig, "/api/v1/deploys", ALICE, json!({"service": "billionmail", "environment": "production", "notify": {"platform": "slack", "channel": "C7"}})).await;
    assert_eq!(status, 202, "{asked}");
    let approval = asked["approval"]["id"].as_i64().unwrap();
    rig.fake
        .wait_for("the approval request in C7", WAIT, |f| {
            channel_posts_of(f, "C7")
                .iter()
                .any(|b| b.to_string().contains("deckhand_approve"))
        })
        .await;
    // A second request in the same channel waits its turn: one open request per conversation.
    let (status, second) = post(&rig, "/api/v1/rollbacks", ALICE, json!({"service": "billionmail", "environment": "production", "notify": {"platform": "slack", "channel": "C7"}})).await;
    assert_eq!(status, 409, "{second}");
    let (status, decided) = post(
        &rig,
        &format!("/api/v1/approvals/{approval}/decision"),
        BOB,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["result"]["result"], "started");
    rig.fake
        .wait_for("the decision and the run's end in C7", WAIT, |f| {
            let all: Vec<String> = f
                .calls()
                .iter()
                .filter(|c| c.ok && c.body["channel"] == "C7")
                .map(|c| c.body.to_string())
                .collect();
            all.iter().any(|t| t.contains("Approved by bob"))
                && all.iter().any(|t| t.contains("is live on production"))
        })
        .await;
}

fn channel_posts_of(f: &support::fake_slack::FakeSlack, channel: &str) -> Vec<Value> {
    f.bodies("chat.postMessage")
        .into_iter()
        .filter(|b| b["channel"] == channel && b.get("thread_ts").is_none())
        .collect()
}
