//! More Slack adapter scenarios (see the rig in tests/support/slack_rig.rs).
//! Only what Slack alone does is here; the stories every platform shares are in
//! tests/platform_stories.rs.

mod support;

use deckhand::config::SlackTransport;
use serde_json::json;
use std::time::{Duration, Instant};
use support::fake_core::http_post_retry_after;
use support::fake_slack::Failure;
use support::slack_rig::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_open_a_thread_and_bots_are_ignored() {
    let r = rig(SlackTransport::EventsApi).await;
    let t = Instant::now();
    let (status, body) = r.command("UALICE", "/deploy", "billionmail staging").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert!(t.elapsed() < Duration::from_secs(2));
    r.fake
        .wait_for("the command's top-level post", WAIT, |f| {
            f.posts_in(None)
                .iter()
                .any(|p| text(p).contains("/deploy billionmail staging"))
        })
        .await;
    let (opened, first) = r.ts_of("asked:");
    assert_eq!(
        text(&first),
        "<@UALICE> asked: `/deploy billionmail staging`"
    );
    r.post_containing(&opened, "Deploy billionmail").await;

    // /deckhand status answers in its own thread.
    r.command("UBOB", "/deckhand", "status").await;
    r.fake
        .wait_for("the status command's post", WAIT, |f| {
            f.posts_in(None)
                .iter()
                .any(|p| text(p).contains("/deckhand status"))
        })
        .await;
    let (status_thread, _) = r.ts_of("/deckhand status");
    r.fake
        .wait_for("a status answer", WAIT, |f| {
            !f.posts_in(Some(&status_thread)).is_empty()
        })
        .await;

    // In a channel the bot was not invited to, the command is answered privately.
    r.command_in("CNOTIN", "UALICE", "/deploy", "billionmail staging")
        .await;
    r.fake
        .wait_for("a private answer", WAIT, |f| !f.responses().is_empty())
        .await;
    let private = &r.fake.responses()[0];
    assert_eq!(private["response_type"], "ephemeral");
    assert!(text(private).contains("/invite @Deckhand"), "{private}");

    // Messages from the bot itself or another bot, and plain channel chatter, are ignored.
    let post_attempts = |r: &Rig| {
        r.fake
            .calls()
            .iter()
            .filter(|c| c.method == "chat.postMessage")
            .count()
    };
    r.flush().await;
    let before = post_attempts(&r);
    r.event(&reply("UBOT", "yes", "1700000006.000300", &opened))
        .await;
    r.event(&callback(json!({
        "type": "message", "subtype": "bot_message", "bot_id": "BOTHER", "text": "yes",
        "ts": "1700000006.000400", "thread_ts": opened, "channel": "C1", "channel_type": "channel"
    })))
    .await;
    r.event(&callback(json!({
        "type": "message", "user": "UALICE", "text": "deploy billionmail to staging",
        "ts": "1700000006.000500", "channel": "C1", "channel_type": "channel"
    })))
    .await;
    // Once the handlers of those three events have finished, not one post was tried.
    r.flush().await;
    assert_eq!(post_attempts(&r), before);

    // A direct message is answered (in a thread of that message).
    r.event(&callback(json!({
        "type": "message", "user": "UBOB", "text": "help", "ts": "1700000006.000600",
        "channel": "D1", "channel_type": "im"
    })))
    .await;
    r.fake
        .wait_for("a DM answer", WAIT, |f| {
            f.bodies("chat.postMessage")
                .iter()
                .any(|p| p["channel"] == "D1" && p["thread_ts"] == "1700000006.000600")
        })
        .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_acks_envelopes_and_reconnects_on_disconnect() {
    let r = rig(SlackTransport::SocketMode).await;
    r.fake
        .wait_for("a Socket Mode connection", WAIT, |f| f.socket_count() == 1)
        .await;
    r.fake.send_frame(Message::text(
        json!({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}, "connection_info": {"app_id": "A1"}}).to_string(),
    ));
    let thread = "1700000007.000100";
    let envelope = json!({
        "envelope_id": "env-1", "type": "events_api", "accepts_response_payload": false,
        "retry_attempt": 0, "retry_reason": "",
        "payload": mention("UALICE", "deploy billionmail to staging", thread)
    });
    r.fake.send_frame(Message::text(envelope.to_string()));
    r.fake
        .wait_for("the ack", WAIT, |f| {
            f.received().iter().any(|v| v["envelope_id"] == "env-1")
        })
        .await;
    r.post_containing(thread, "Deploy billionmail").await;
    // A redelivery of the same event (retry_attempt 1) is acknowledged but not acted on.
    let mut again = envelope.clone();
    again["envelope_id"] = "env-2".into();
    again["retry_attempt"] = 1.into();
    r.fake.send_frame(Message::text(again.to_string()));
    r.fake
        .wait_for("the second ack", WAIT, |f| {
            f.received().iter().any(|v| v["envelope_id"] == "env-2")
        })
        .await;

    // Slack asks us to reconnect; a new connection is opened and used.
    r.fake.send_frame(Message::text(
        json!({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}}).to_string(),
    ));
    r.fake
        .wait_for("a second connection", WAIT, |f| f.socket_count() == 2)
        .await;
    let opens = r
        .fake
        .calls()
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .count();
    assert_eq!(opens, 2);
    let command = json!({
        "envelope_id": "env-3", "type": "slash_commands", "accepts_response_payload": true,
        "payload": {"token": "t", "team_id": "T1", "team_domain": "acme", "channel_id": "C1",
            "channel_name": "deploys", "user_id": "UBOB", "user_name": "bob", "command": "/deckhand",
            "text": "status", "response_url": format!("{}/cmd", r.fake.response_base),
            "trigger_id": "1.2.3", "api_app_id": "A1"}
    });
    r.fake.send_frame(Message::text(command.to_string()));
    r.fake
        .wait_for("the command ack", WAIT, |f| {
            f.received().iter().any(|v| v["envelope_id"] == "env-3")
        })
        .await;
    r.fake
        .wait_for("the command's post", WAIT, |f| {
            f.posts_in(None)
                .iter()
                .any(|p| text(p).contains("/deckhand status"))
        })
        .await;
    r.flush().await;
    let confirms = r
        .fake
        .posts_in(Some(thread))
        .into_iter()
        .filter(|p| text(p).contains("Deploy billionmail"))
        .count();
    assert_eq!(confirms, 1, "the redelivered event was not acted on again");

    // The connection drops without a disconnect frame: Deckhand connects again.
    r.fake.drop_socket();
    r.fake
        .wait_for("a third connection", WAIT, |f| f.socket_count() == 3)
        .await;
    r.stop().await;
}

/// With the intake full (`serve.max_pending_events: 1`, one slash command held by a slow
/// Slack), every further webhook request is refused before anything of it is recorded: events
/// and clicks with 503 and `Retry-After` (Slack retries an event, not a click), a slash command with a
/// "too busy" answer only its sender sees. Each refusal is counted. Once the intake has room,
/// a refused event delivered again is answered, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_intake_refuses_with_503_and_the_redelivery_is_answered() {
    let r = rig_with(SlackTransport::EventsApi, |c| {
        c.serve.max_pending_events = 1
    })
    .await;
    r.fake.fail_next("chat.postMessage", &[Failure::Slow(2.0)]);
    assert_eq!(
        r.command("UALICE", "/deploy", "status billionmail").await.0,
        200
    );
    let events: Vec<(String, serde_json::Value)> = (0..6)
        .map(|i| {
            let thread = format!("17000001{i:02}.000100");
            let text = [
                "status billionmail",
                "deploy billionmail to staging",
                "hello",
                "",
                "help",
                "lock staging",
            ][i];
            let event = mention("UALICE", text, &thread);
            (thread, event)
        })
        .collect();
    let post = |path: &str, bytes: Vec<u8>, kind: &str| {
        let headers = signed_headers(&bytes, kind, now_secs());
        let url = format!("{}{path}", r.url);
        async move { http_post_retry_after(&url, &headers, bytes).await }
    };
    for (thread, event) in &events {
        let (status, retry_after, body) = post(
            "/slack/events",
            event.to_string().into_bytes(),
            "application/json",
        )
        .await;
        assert_eq!(status, 503, "{thread}: {body}");
        assert_eq!(retry_after.as_deref(), Some("1"), "{thread}");
        assert!(body.contains("too busy"), "{body}");
    }
    let form = serde_urlencoded::to_string([(
        "payload",
        click(
            "UALICE",
            "confirm",
            "x",
            "1700000100.000200",
            "1700000100.000100",
        )
        .to_string(),
    )])
    .unwrap();
    let (status, retry_after, _) = post(
        "/slack/interactivity",
        form.into_bytes(),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("1")));
    let (status, body) = r.command("UALICE", "/deploy", "billionmail staging").await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("nothing was done"),
        "{body}"
    );
    r.flush().await;
    // Nothing of the refused requests reached the bot: no post in their threads, only the
    // first command's.
    for (thread, _) in &events {
        assert!(r.fake.posts_in(Some(thread)).is_empty(), "{thread}");
    }
    let metrics = r.bot.metrics().render(r.bot.store()).await;
    assert!(
        metrics.contains("deckhand_events_shed_total{platform=\"slack\"} 8"),
        "{metrics}"
    );
    // Slack delivers a refused event again: now it is taken and answered once.
    let (thread, event) = &events[0];
    let bytes = event.to_string().into_bytes();
    let mut headers = signed_headers(&bytes, "application/json", now_secs());
    headers.push(("x-slack-retry-num", "1".into()));
    let (status, _, _) =
        http_post_retry_after(&format!("{}/slack/events", r.url), &headers, bytes).await;
    assert_eq!(status, 200);
    r.post_containing(thread, "billionmail").await;
    r.flush().await;
    assert_eq!(
        r.fake.posts_in(Some(thread)).len(),
        1,
        "{:#?}",
        r.fake.calls()
    );
    r.stop().await;
}
