//! The Slack adapter end to end: `Server` (Events API or Socket Mode) with a real bot, store and
//! pipelines, talking to a local fake Slack. Requests are signed like Slack signs them.

mod support;

use deckhand::adapters::serve::{Secrets, Server};
use deckhand::adapters::slack::signature::SlackVerifier;
use deckhand::adapters::slack::SlackSecrets;
use deckhand::bot::Bot;
use deckhand::config::SlackTransport;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_slack::{http_post, Failure, FakeSlack};
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const WAIT: Duration = Duration::from_secs(20);

struct Rig {
    fake: FakeSlack,
    server: Option<Server>,
    bot: Arc<Bot>,
    url: String,
    _tmp: tempfile::TempDir,
}

async fn rig(transport: SlackTransport) -> Rig {
    let fake = FakeSlack::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = support::config_in("tests/data/slack_deckhand.yaml", tmp.path());
    let slack = config.slack.as_mut().unwrap();
    slack.api_base_url = fake.api_base.clone();
    slack.transport = transport;
    let bot = Arc::new(Bot::new(config).await.unwrap());
    let secrets = SlackSecrets {
        bot_token: "xoxb-test".into(),
        signing_secret: Some(SECRET.into()),
        app_token: Some("xapp-test".into()),
    };
    let secrets = Secrets {
        slack: Some(secrets),
        discord: None,
    };
    let server = Server::start(bot.clone(), "127.0.0.1:0", secrets)
        .await
        .unwrap();
    let url = format!("http://{}", server.addr);
    Rig {
        fake,
        server: Some(server),
        bot,
        url,
        _tmp: tmp,
    }
}

static EVENT: AtomicU64 = AtomicU64::new(1);

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signed_headers(body: &[u8], content_type: &str, at: i64) -> Vec<(&'static str, String)> {
    let ts = at.to_string();
    vec![
        ("content-type", content_type.to_string()),
        ("x-slack-request-timestamp", ts.clone()),
        (
            "x-slack-signature",
            SlackVerifier::new(SECRET).sign(&ts, body),
        ),
    ]
}

fn callback(event: Value) -> Value {
    json!({
        "token": "unused", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": format!("Ev{:08}", EVENT.fetch_add(1, Ordering::SeqCst)),
        "event_time": now_secs(), "event": event,
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": true}]
    })
}

fn mention(user: &str, text: &str, ts: &str) -> Value {
    callback(json!({
        "type": "app_mention", "user": user, "text": format!("<@UBOT> {text}"),
        "ts": ts, "channel": "C1", "event_ts": ts
    }))
}

fn reply(user: &str, text: &str, ts: &str, thread_ts: &str) -> Value {
    callback(json!({
        "type": "message", "user": user, "text": text, "ts": ts, "thread_ts": thread_ts,
        "channel": "C1", "channel_type": "channel", "event_ts": ts
    }))
}

fn click(user: &str, action: &str, value: &str, message_ts: &str, thread_ts: &str) -> Value {
    json!({
        "type": "block_actions", "user": {"id": user, "username": user, "team_id": "T1"},
        "api_app_id": "A1", "token": "unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C1", "is_ephemeral": false},
        "trigger_id": format!("{}.1.abc", EVENT.fetch_add(1, Ordering::SeqCst)),
        "team": {"id": "T1", "domain": "acme"}, "channel": {"id": "C1", "name": "deploys"},
        "message": {"type": "message", "ts": message_ts, "thread_ts": thread_ts, "text": "question", "user": "UBOT", "bot_id": "BBOT"},
        "response_url": "http://127.0.0.1:9/response/x",
        "actions": [{"action_id": action, "block_id": "b", "text": {"type": "plain_text", "text": "x"},
                     "value": value, "type": "button", "action_ts": format!("{}.5", now_secs())}]
    })
}

impl Rig {
    async fn event(&self, body: &Value) -> (u16, String) {
        let bytes = body.to_string().into_bytes();
        let headers = signed_headers(&bytes, "application/json", now_secs());
        http_post(&format!("{}/slack/events", self.url), &headers, bytes).await
    }

    async fn interact(&self, payload: &Value) -> (u16, String) {
        let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let bytes = form.into_bytes();
        let headers = signed_headers(&bytes, "application/x-www-form-urlencoded", now_secs());
        http_post(
            &format!("{}/slack/interactivity", self.url),
            &headers,
            bytes,
        )
        .await
    }

    async fn command(&self, user: &str, command: &str, text: &str) -> (u16, String) {
        self.command_in("C1", user, command, text).await
    }

    async fn command_in(
        &self,
        channel: &str,
        user: &str,
        command: &str,
        text: &str,
    ) -> (u16, String) {
        let form = serde_urlencoded::to_string([
            ("token", "unused"),
            ("team_id", "T1"),
            ("team_domain", "acme"),
            ("channel_id", channel),
            ("channel_name", "deploys"),
            ("user_id", user),
            ("user_name", user),
            ("command", command),
            ("text", text),
            ("response_url", &format!("{}/cmd", self.fake.response_base)),
            (
                "trigger_id",
                &format!("{}.2.xyz", EVENT.fetch_add(1, Ordering::SeqCst)),
            ),
        ])
        .unwrap();
        let bytes = form.into_bytes();
        let headers = signed_headers(&bytes, "application/x-www-form-urlencoded", now_secs());
        http_post(&format!("{}/slack/commands", self.url), &headers, bytes).await
    }

    /// The first post in `thread` whose text contains `needle`, waiting for it.
    async fn post_containing(&self, thread: &str, needle: &str) -> (String, Value) {
        let t = thread.to_string();
        let n = needle.to_string();
        self.fake
            .wait_for(
                &format!("a post containing {needle:?} in {thread}"),
                WAIT,
                |f| f.posts_in(Some(&t)).iter().any(|b| text(b).contains(&n)),
            )
            .await;
        self.ts_of(needle)
    }

    /// The ts the fake gave the first post containing `needle`.
    fn ts_of(&self, needle: &str) -> (String, Value) {
        self.fake
            .calls()
            .into_iter()
            .find(|c| c.method == "chat.postMessage" && c.ok && text(&c.body).contains(needle))
            .map(|c| (c.ts.unwrap(), c.body))
            .unwrap_or_else(|| panic!("no post contains {needle:?}"))
    }

    async fn flush(&self) {
        assert!(
            self.server.as_ref().unwrap().flush(WAIT).await,
            "flush timed out"
        );
    }

    /// Successful updates of message `ts`, in order.
    fn updates_of(&self, ts: &str) -> Vec<Value> {
        self.fake
            .bodies("chat.update")
            .into_iter()
            .filter(|b| b["ts"] == ts)
            .collect()
    }

    async fn update_containing(&self, ts: &str, needle: &str) -> Value {
        let (t, n) = (ts.to_string(), needle.to_string());
        self.fake
            .wait_for(
                &format!("an update of {ts} containing {needle:?}"),
                WAIT,
                |f| {
                    f.bodies("chat.update")
                        .iter()
                        .any(|b| b["ts"] == t.as_str() && text(b).contains(&n))
                },
            )
            .await;
        self.updates_of(ts)
            .into_iter()
            .find(|b| text(b).contains(needle))
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

fn text(body: &Value) -> String {
    body["text"].as_str().unwrap_or("").to_string()
}

fn action_ids(body: &Value) -> Vec<String> {
    body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| e["action_id"].as_str().unwrap_or("").to_string())
        .collect()
}

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
async fn approvals_by_a_second_user_via_reply_and_via_button() {
    let r = rig(SlackTransport::EventsApi).await;

    // Thread A: confirm by button, approve by a typed reply.
    let a = "1700000001.000100";
    r.event(&mention("UALICE", "deploy billionmail to production", a))
        .await;
    let (confirm_ts, _) = r.post_containing(a, "Deploy billionmail").await;
    let (status, _) = r
        .interact(&click("UALICE", "deckhand_confirm", "yes", &confirm_ts, a))
        .await;
    assert_eq!(status, 200);
    let (approval_ts, approval) = r.post_containing(a, "Approval needed").await;
    assert_eq!(
        action_ids(&approval),
        ["deckhand_approve", "deckhand_reject"]
    );
    r.update_containing(&confirm_ts, "Confirmed by <@UALICE>")
        .await;
    r.event(&reply("UBOB", "approve", "1700000001.000300", a))
        .await;
    let done = r
        .update_containing(&approval_ts, "Approved by <@UBOB>")
        .await;
    assert!(action_ids(&done).is_empty());
    r.post_containing(a, "is live on production").await;

    // Thread B: a viewer's click is refused and the buttons stay; the approver's click counts.
    let b = "1700000002.000100";
    r.event(&mention("UALICE", "deploy flaky-api to production", b))
        .await;
    let (confirm_b, _) = r.post_containing(b, "Deploy flaky-api").await;
    r.event(&reply("UALICE", "yes", "1700000002.000200", b))
        .await;
    let (approval_b, approval) = r.post_containing(b, "request #2").await;
    let id = approval["blocks"][1]["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id, "2");
    r.interact(&click("UDAVE", "deckhand_approve", &id, &approval_b, b))
        .await;
    r.post_containing(b, "may not approve").await;
    r.flush().await;
    assert!(
        r.updates_of(&approval_b).is_empty(),
        "a refused click changes nothing"
    );
    r.interact(&click("UBOB", "deckhand_approve", &id, &approval_b, b))
        .await;
    r.update_containing(&approval_b, "Approved by <@UBOB>")
        .await;
    // flaky-api's test stage fails: a note with the end of its output, in a code block.
    let (_, note) = r.post_containing(b, "Stage `test` failed").await;
    let note = text(&note);
    assert!(note.contains("```"), "{note}");
    assert!(
        note.contains("assertion failed: expected 200, got 500"),
        "{note}"
    );
    assert!(note.contains("test output 50"), "{note}");
    assert!(!note.contains("test output 1\n"), "only the tail: {note}");
    let (status_b, _) = r.post_containing(b, "*Run #2*").await;
    r.update_containing(&status_b, ":x:").await;
    assert!(r
        .updates_of(&confirm_b)
        .iter()
        .any(|u| text(u).contains("Confirmed")));

    // A stale Confirm click (question already answered) only removes its buttons.
    let before = r.fake.bodies("chat.postMessage").len();
    r.interact(&click("UALICE", "deckhand_confirm", "yes", &confirm_b, b))
        .await;
    r.update_containing(&confirm_b, "no longer open").await;
    assert_eq!(r.fake.bodies("chat.postMessage").len(), before);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_is_acted_on_once_and_acked_at_once() {
    let r = rig(SlackTransport::EventsApi).await;
    let thread = "1700000003.000100";
    let event = mention("UALICE", "deploy billionmail to staging", thread);
    // Slow Slack: the first post waits 3 s (rate limit). The ack must not wait for it.
    r.fake
        .fail_next("chat.postMessage", &[Failure::RateLimited(3)]);
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

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        r.fake.bodies("chat.postMessage").is_empty(),
        "refused requests did nothing"
    );
    assert_eq!(r.bot.store().run(1).await.unwrap().map(|r| r.id), None);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_progress_lines_costs_a_few_edits_and_ends_in_the_final_state() {
    let r = rig(SlackTransport::EventsApi).await;
    let thread = "1700000005.000100";
    r.event(&mention("UALICE", "deploy chatty-api to staging", thread))
        .await;
    r.post_containing(thread, "Deploy chatty-api").await;
    // The status message will be the second post. Its first edits meet a rate limit and a
    // server error; the final state still arrives.
    let status_ts = r.fake.ts_of_post(2);
    r.fake.fail_next_for(
        "chat.update",
        &status_ts,
        &[Failure::RateLimited(1), Failure::ServerError],
    );
    r.event(&reply("UALICE", "yes", "1700000005.000200", thread))
        .await;
    let (posted_ts, _) = r.post_containing(thread, "*Run #1*").await;
    assert_eq!(posted_ts, status_ts);
    let last = r.update_containing(&status_ts, "· succeeded").await;
    r.post_containing(thread, "is live on staging").await;
    r.flush().await;
    let edits: Vec<_> = r
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.update" && c.body["ts"] == status_ts.as_str())
        .collect();
    // 200 output lines plus stage events: a handful of attempts, not hundreds.
    assert!(edits.len() <= 8, "{} edits: {edits:#?}", edits.len());
    assert!(
        !edits[0].ok && !edits[1].ok,
        "the scripted failures were met"
    );
    let final_edit = edits.last().unwrap();
    assert!(final_edit.ok);
    assert_eq!(final_edit.body, last, "the last edit is the final state");
    assert!(text(&last).contains("deploy ✓"), "{last}");
    assert!(!text(&last).contains("progress line"), "{last}");
    // Every attempt, failed or not, is at least about a second after the previous one, and
    // the attempt after the 429 waited for Retry-After (1 s).
    assert!(edits.len() >= 3, "{edits:#?}");
    for pair in edits.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(900), "attempts {gap:?} apart");
    }
    assert!(edits[1].at.duration_since(edits[0].at) >= Duration::from_millis(990));
    r.stop().await;
}

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
    let before = r.fake.bodies("chat.postMessage").len();
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
    r.flush().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.fake.bodies("chat.postMessage").len(), before);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_an_old_question_never_answers_a_newer_one() {
    let r = rig(SlackTransport::EventsApi).await;
    let thread = "1700000008.000100";
    r.event(&mention("UALICE", "deploy billionmail to staging", thread))
        .await;
    let (old_ts, _) = r.post_containing(thread, "Deploy billionmail").await;
    // The next post in the thread is slow (rate limited), so the newer question's message is
    // not on screen yet when the old button is clicked.
    r.fake
        .fail_next("chat.postMessage", &[Failure::RateLimited(2)]);
    r.event(&reply("UALICE", "status", "1700000008.000200", thread))
        .await;
    r.event(&reply(
        "UALICE",
        "deploy flaky-api to staging",
        "1700000008.000300",
        thread,
    ))
    .await;
    r.fake
        .wait_for("the rate-limited post", WAIT, |f| {
            f.calls()
                .iter()
                .any(|c| c.method == "chat.postMessage" && !c.ok)
        })
        .await;
    r.interact(&click("UALICE", "deckhand_confirm", "yes", &old_ts, thread))
        .await;
    r.post_containing(thread, "Deploy flaky-api").await;
    r.flush().await;
    assert_eq!(
        r.bot.store().run(1).await.unwrap().map(|x| x.id),
        None,
        "nothing ran"
    );
    let updates = r.updates_of(&old_ts);
    assert!(!updates.is_empty() && updates.iter().all(|u| action_ids(u).is_empty()));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_state_arrives_even_when_the_status_message_cannot_be_edited() {
    let r = rig(SlackTransport::EventsApi).await;
    let thread = "1700000009.000100";
    r.event(&mention("UALICE", "deploy billionmail to staging", thread))
        .await;
    r.post_containing(thread, "Deploy billionmail").await;
    // Every edit of the status message (post #2) is refused.
    let status_ts = r.fake.ts_of_post(2);
    r.fake
        .fail_next_for("chat.update", &status_ts, &[Failure::Refused; 20]);
    r.event(&reply("UALICE", "yes", "1700000009.000200", thread))
        .await;
    let (posted, _) = r.post_containing(thread, "*Run #1*").await;
    assert_eq!(posted, status_ts);
    // The final state is posted as a new message in the thread instead.
    let (_, last) = r.post_containing(thread, "· succeeded").await;
    assert!(text(&last).contains("deploy ✓"), "{last}");
    r.post_containing(thread, "is live on staging").await;
    r.stop().await;
}
