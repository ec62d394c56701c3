//! The Slack adapter end to end: `Server` (Events API or Socket Mode) with a real bot, store and
//! pipelines, talking to a local fake Slack. Requests are signed like Slack signs them.
//! Only what Slack alone does is here; the stories every platform shares are in
//! tests/platform_stories.rs.

mod support;

use deckhand::adapters::slack::signature::SlackVerifier;
use deckhand::config::SlackTransport;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::fake_slack::{http_post, Failure};
use support::slack_rig::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_conversation_stays_in_its_thread() {
    let r = rig(SlackTransport::EventsApi).await;
    let thread = "1700000000.000100";
    let started = Instant::now();
    let (status, _) = r
        .event(&mention("UALICE", "deploy billionmail to staging", thread))
        .await;
    assert_eq!(status, 200);
    let (confirm_ts, confirm) = r.post_containing(thread, "Deploy billionmail").await;
    assert_eq!(
        action_ids(&confirm),
        ["deckhand_confirm", "deckhand_cancel"]
    );

    // A plain reply in the thread (no mention) answers the question.
    let (status, _) = r
        .event(&reply("UALICE", "yes", "1700000000.000200", thread))
        .await;
    assert_eq!(status, 200);
    let answered = r
        .update_containing(&confirm_ts, "Confirmed by <@UALICE>")
        .await;
    assert!(
        action_ids(&answered).is_empty(),
        "buttons removed: {answered}"
    );

    let (status_ts, first) = r.post_containing(thread, "*Run #1*").await;
    assert!(text(&first).contains("deploy billionmail"));
    let last = r.update_containing(&status_ts, ":white_check_mark:").await;
    assert!(text(&last).contains("· succeeded"), "{last}");
    assert!(text(&last).contains("deploy ✓"), "{last}");
    r.post_containing(thread, "is live on staging").await;

    // Everything was said in the thread of the mention, in channel C1.
    let posts = r.fake.bodies("chat.postMessage");
    assert!(posts.len() >= 3, "{posts:#?}");
    for p in &posts {
        assert_eq!(p["thread_ts"], thread, "{p}");
        assert_eq!(p["channel"], "C1");
    }
    assert!(started.elapsed() < WAIT);

    // A mention inside the thread arrives twice (app_mention and message); one answer.
    r.flush().await;
    let before = r.fake.posts_in(Some(thread)).len();
    r.event(&callback(json!({
        "type": "message", "user": "UBOB", "text": "<@UBOT> status", "ts": "1700000000.000400",
        "thread_ts": thread, "channel": "C1", "channel_type": "channel"
    })))
    .await;
    let mut m = mention("UBOB", "status", "1700000000.000400");
    m["event"]["thread_ts"] = thread.into();
    r.event(&m).await;
    r.flush().await;
    assert_eq!(r.fake.posts_in(Some(thread)).len(), before + 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_is_acted_on_once_and_acked_at_once() {
    let r = rig(SlackTransport::EventsApi).await;
    let thread = "1700000003.000100";
    let event = mention("UALICE", "deploy billionmail to staging", thread);
    // Slow Slack: the first post waits 3 s (rate limit). The ack must not wait for it.
    r.fake
        .fail_next("chat.postMessage", &[Failure::RateLimited(3.0)]);
    let t = Instant::now();
    assert_eq!(r.event(&event).await.0, 200);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "ack took {:?}",
        t.elapsed()
    );
    // Slack retries the same event (same event_id) with X-Slack-Retry-Num.
    let bytes = event.to_string().into_bytes();
    let mut headers = signed_headers(&bytes, "application/json", now_secs());
    headers.push(("x-slack-retry-num", "1".into()));
    headers.push(("x-slack-retry-reason", "http_timeout".into()));
    let (status, _) = http_post(&format!("{}/slack/events", r.url), &headers, bytes).await;
    assert_eq!(status, 200);
    r.post_containing(thread, "Deploy billionmail").await;
    r.flush().await;
    let confirms = r
        .fake
        .posts_in(Some(thread))
        .into_iter()
        .filter(|p| text(p).contains("Deploy billionmail"))
        .count();
    assert_eq!(confirms, 1, "{:#?}", r.fake.calls());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_unsigned_requests_are_refused() {
    let r = rig(SlackTransport::EventsApi).await;
    let body = mention(
        "UALICE",
        "deploy billionmail to staging",
        "1700000004.000100",
    )
    .to_string()
    .into_bytes();
    let url = format!("{}/slack/events", r.url);
    // Signed with another secret.
    let ts = now_secs().to_string();
    let forged = vec![
        ("content-type", "application/json".to_string()),
        ("x-slack-request-timestamp", ts.clone()),
        (
            "x-slack-signature",
            SlackVerifier::new("not-the-secret").sign(&ts, &body),
        ),
    ];
    let (status, text_) = http_post(&url, &forged, body.clone()).await;
    assert_eq!(status, 401);
    assert!(text_.contains("signature does not match"), "{text_}");
    // Correctly signed, but ten minutes old.
    let stale = signed_headers(&body, "application/json", now_secs() - 600);
    let (status, text_) = http_post(&url, &stale, body.clone()).await;
    assert_eq!(status, 401);
    assert!(text_.contains("stale"), "{text_}");
    // No signature at all, on every endpoint.
    for path in ["/slack/events", "/slack/commands", "/slack/interactivity"] {
        let (status, _) = http_post(
            &format!("{}{path}", r.url),
            &[("content-type", "application/json".into())],
            body.clone(),
        )
        .await;
        assert_eq!(status, 401, "{path}");
    }
    // A body changed after signing.
    let mut headers = signed_headers(&body, "application/json", now_secs());
    headers[0].1 = "application/json".into();
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(http_post(&url, &headers, tampered).await.0, 401);
    // Signed but malformed: 400, and still nothing happens.
    let junk = b"{not json".to_vec();
    let h = signed_headers(&junk, "application/json", now_secs());
    assert_eq!(http_post(&url, &h, junk).await.0, 400);

    // url_verification is answered with the challenge.
    let challenge = json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    let (status, answer) = r.event(&challenge).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["challenge"], challenge["challenge"]);

    // Whatever a request started has finished once flushed: not one chat call was tried.
    r.flush().await;
    let chat_calls = r
        .fake
        .calls()
        .iter()
        .filter(|c| c.method.starts_with("chat."))
        .count();
    assert_eq!(chat_calls, 0, "refused requests did nothing");
    assert_eq!(r.bot.store().run(1).await.unwrap().map(|r| r.id), None);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_approval_click_decides_once() {
    let r = rig(SlackTransport::EventsApi).await;
    let t = "1700000009.000100";
    r.event(&mention("UALICE", "deploy billionmail to production", t))
        .await;
    let (confirm_ts, _) = r.post_containing(t, "Deploy billionmail").await;
    r.interact(&click("UALICE", "deckhand_confirm", "yes", &confirm_ts, t))
        .await;
    let (approval_ts, approval) = r.post_containing(t, "Approval needed").await;
    let id = approval["blocks"][1]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    // The same payload twice (same trigger_id), as a retried delivery brings it.
    let approve = click("UBOB", "deckhand_approve", &id, &approval_ts, t);
    assert_eq!(r.interact(&approve).await.0, 200);
    assert_eq!(r.interact(&approve).await.0, 200);
    r.update_containing(&approval_ts, "Approved by <@UBOB>")
        .await;
    r.post_containing(t, "is live on production").await;
    r.flush().await;
    let decisions = r.bot.store().decisions(id.parse().unwrap()).await.unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let posts: Vec<String> = r.fake.posts_in(Some(t)).iter().map(text).collect();
    let about_request = posts
        .iter()
        .filter(|p| p.contains(&format!("request #{id}")) || p.contains("already"))
        .count();
    assert_eq!(
        about_request, 1,
        "only the request itself names it: {posts:#?}"
    );
    r.stop().await;
}
