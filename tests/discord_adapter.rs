//! The Discord adapter end to end: `Server` with the HTTP interactions endpoint, a real bot,
//! store and pipelines, talking to a local fake Discord. Interactions are signed with a test
//! Ed25519 key pair; gateway messages go through the same handler the gateway client calls.

mod support;

use deckhand::adapters::discord::DiscordSecrets;
use deckhand::adapters::serve::{Secrets, Server};
use deckhand::bot::Bot;
use deckhand::config::DiscordConfig;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_discord::{FakeDiscord, BOT_USER};
use support::fake_slack::http_post;

const WAIT: Duration = Duration::from_secs(20);
const GUILD: &str = "100";
const CHANNEL: &str = "200";
const ALICE: &str = "1001";
const BOB: &str = "1002";
const DAVE: &str = "1004";

static NEXT: AtomicU64 = AtomicU64::new(1);

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

struct Rig {
    fake: FakeDiscord,
    server: Option<Server>,
    bot: Arc<Bot>,
    url: String,
    _tmp: tempfile::TempDir,
}

async fn rig() -> Rig {
    let fake = FakeDiscord::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = support::config_in("tests/data/slack_deckhand.yaml", tmp.path());
    config.slack = None;
    config.discord = Some(DiscordConfig {
        gateway: false,
        interactions_endpoint: true,
        api_base_url: fake.base.clone(),
        guild_id: Some(GUILD.into()),
        edit_interval_ms: 1000,
    });
    for (person, id) in [("alice", ALICE), ("bob", BOB), ("dave", DAVE)] {
        config
            .people
            .get_mut(person)
            .unwrap()
            .identities
            .push(format!("discord:{id}"));
    }
    let bot = Arc::new(Bot::new(config).await.unwrap());
    let public: String = key()
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secrets = Secrets {
        slack: None,
        discord: Some(DiscordSecrets {
            bot_token: "test-token".into(),
            public_key: Some(public),
        }),
    };
    let server = Server::start(bot.clone(), "127.0.0.1:0", secrets)
        .await
        .unwrap();
    let url = format!("http://{}/discord/interactions", server.addr);
    Rig {
        fake,
        server: Some(server),
        bot,
        url,
        _tmp: tmp,
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signed(body: &[u8], at: i64) -> Vec<(&'static str, String)> {
    let ts = at.to_string();
    let sig = key().sign(&[ts.as_bytes(), body].concat());
    let hex: String = sig.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("content-type", "application/json".into()),
        ("x-signature-timestamp", ts),
        ("x-signature-ed25519", hex),
    ]
}

fn member(user: &str) -> Value {
    json!({"user": {"id": user, "username": format!("user{user}"), "discriminator": "0", "global_name": null, "avatar": null},
           "roles": [], "permissions": "0", "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false})
}

/// A slash command invocation in `channel` (kind 0 = text channel, 11 = thread of `parent`).
fn command(user: &str, name: &str, options: &[(&str, &str)], channel: &str) -> (Value, String) {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let token = format!("token-{n}");
    let options: Vec<Value> = options
        .iter()
        .map(|(k, v)| json!({"type": 3, "name": k, "value": v}))
        .collect();
    let v = json!({
        "id": format!("{}", 880000 + n), "application_id": "7100", "type": 2, "token": token, "version": 1,
        "guild_id": GUILD, "channel_id": channel, "channel": {"id": channel, "type": 0},
        "member": member(user), "app_permissions": "0", "locale": "en-US",
        "data": {"id": "3000", "name": name, "type": 1, "options": options}
    });
    (v, token)
}

fn click(user: &str, custom_id: &str, message_id: &str, thread: &str, content: &str) -> Value {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    json!({
        "id": format!("{}", 990000 + n), "application_id": "7100", "type": 3, "token": format!("click-{n}"),
        "version": 1, "guild_id": GUILD, "channel_id": thread,
        "channel": {"id": thread, "type": 11, "parent_id": CHANNEL},
        "member": member(user),
        "message": {"id": message_id, "channel_id": thread, "content": content, "type": 0,
                    "author": {"id": BOT_USER, "username": "deckhand", "discriminator": "0", "bot": true}},
        "data": {"custom_id": custom_id, "component_type": 2}
    })
}

/// A MESSAGE_CREATE `d` as the gateway delivers it.
fn gateway_message(user: &str, content: &str, channel: &str) -> Value {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    json!({
        "id": format!("{}", 770000 + n), "channel_id": channel, "guild_id": GUILD, "type": 0,
        "content": content, "author": {"id": user, "username": format!("user{user}"), "discriminator": "0"},
        "timestamp": "2026-11-23T21:00:00+00:00", "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false
    })
}

fn content(c: &support::fake_discord::Call) -> String {
    c.body["content"].as_str().unwrap_or("").to_string()
}

fn custom_ids(body: &Value) -> Vec<String> {
    body["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| b["custom_id"].as_str().unwrap_or("").to_string())
        .collect()
}

impl Rig {
    async fn send(&self, interaction: &Value) -> (u16, String) {
        let body = interaction.to_string().into_bytes();
        http_post(&self.url, &signed(&body, now_secs()), body).await
    }

    /// Runs a slash command in the channel; returns the thread Deckhand opened.
    async fn command_in_channel(&self, user: &str, name: &str, options: &[(&str, &str)]) -> String {
        let (v, token) = command(user, name, options, CHANNEL);
        let original = format!("{}", 600000 + NEXT.fetch_add(1, Ordering::SeqCst));
        self.fake.interaction(&token, CHANNEL, &original);
        let t = Instant::now();
        let (status, answer) = self.send(&v).await;
        assert_eq!(status, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "acknowledged at once");
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap()["type"],
            5,
            "deferred"
        );
        let prefix = format!("/channels/{CHANNEL}/messages/{original}/threads");
        self.fake
            .wait_for("the thread", WAIT, |f| {
                !f.ok_calls("POST", &prefix).is_empty()
            })
            .await;
        self.fake.ok_calls("POST", &prefix)[0]
            .created
            .clone()
            .unwrap()
    }

    /// The first message posted in `channel` containing `needle` (waits): (id, body).
    async fn post_containing(&self, channel: &str, needle: &str) -> (String, Value) {
        let (c, n) = (channel.to_string(), needle.to_string());
        self.fake
            .wait_for(&format!("a post with {needle:?} in {channel}"), WAIT, |f| {
                f.posts_in(&c).iter().any(|p| content(p).contains(&n))
            })
            .await;
        let call = self
            .fake
            .posts_in(channel)
            .into_iter()
            .find(|p| content(p).contains(needle))
            .unwrap();
        (call.created.clone().unwrap(), call.body)
    }

    fn edits_of(&self, channel: &str, id: &str) -> Vec<support::fake_discord::Call> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| {
                c.method == "PATCH" && c.path == format!("/channels/{channel}/messages/{id}")
            })
            .collect()
    }

    async fn edit_containing(&self, channel: &str, id: &str, needle: &str) -> Value {
        let path = format!("/channels/{channel}/messages/{id}");
        let n = needle.to_string();
        self.fake
            .wait_for(&format!("an edit of {id} with {needle:?}"), WAIT, |f| {
                f.ok_calls("PATCH", &path)
                    .iter()
                    .any(|c| content(c).contains(&n))
            })
            .await;
        self.fake
            .ok_calls("PATCH", &path)
            .into_iter()
            .find(|c| content(c).contains(needle))
            .unwrap()
            .body
    }

    async fn say(&self, user: &str, text: &str, channel: &str) {
        let discord = self.server.as_ref().unwrap().discord().unwrap();
        discord
            .app()
            .on_message(gateway_message(user, text, channel))
            .await;
    }

    async fn flush(&self) {
        assert!(self.server.as_ref().unwrap().flush(WAIT).await);
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_from_the_config() {
    let r = rig().await;
    let put = r
        .fake
        .ok_calls("PUT", "/applications/7100/guilds/100/commands");
    assert_eq!(put.len(), 1);
    let commands = put[0].body.as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["deploy", "rollback", "status", "history", "lock", "unlock"]
    );
    let deploy = &commands[0]["options"];
    assert_eq!(deploy[0]["name"], "service");
    assert_eq!(deploy[0]["autocomplete"], true);
    let envs: Vec<&str> = deploy[1]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["staging", "production"]);

    // Autocomplete offers the config's services.
    let auto = json!({"id": "1", "application_id": "7100", "type": 4, "token": "t", "version": 1,
        "guild_id": GUILD, "channel_id": CHANNEL, "member": member(ALICE),
        "data": {"id": "3000", "name": "deploy", "type": 1,
                 "options": [{"type": 3, "name": "service", "value": "chat", "focused": true}]}});
    let (status, answer) = r.send(&auto).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["type"], 8);
    assert_eq!(
        answer["data"]["choices"],
        json!([{"name": "chatty-api", "value": "chatty-api"}])
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_command_asks_for_what_is_missing_in_a_thread() {
    let r = rig().await;
    let thread = r
        .command_in_channel(ALICE, "deploy", &[("service", "billionmail")])
        .await;
    // The deferred answer became the thread's first message.
    let originals = r.fake.ok_calls("PATCH", "/webhooks/7100/");
    assert!(content(&originals[0]).contains("<@1001> asked: `/deploy service:billionmail`"));
    r.post_containing(&thread, "Which environment").await;
    // A plain reply in the thread (gateway message, no mention) fills the slot.
    r.say(ALICE, "staging", &thread).await;
    let (confirm, body) = r.post_containing(&thread, "Deploy billionmail").await;
    assert_eq!(custom_ids(&body), ["deckhand:confirm", "deckhand:cancel"]);
    assert_eq!(body["allowed_mentions"]["parse"], json!(["users"]));
    let (status, answer) = r
        .send(&click(
            ALICE,
            "deckhand:confirm",
            &confirm,
            &thread,
            "Deploy billionmail",
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["type"], 6);
    let answered = r
        .edit_containing(&thread, &confirm, "Confirmed by <@1001>")
        .await;
    assert!(custom_ids(&answered).is_empty(), "buttons removed");
    let (status_msg, _) = r.post_containing(&thread, "**Run #1**").await;
    let last = r.edit_containing(&thread, &status_msg, "· succeeded").await;
    assert!(last["content"].as_str().unwrap().contains("deploy ✓"));
    r.post_containing(&thread, "is live on staging").await;
    // Everything after the first answer went into the thread.
    let elsewhere: Vec<_> = r
        .fake
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "POST"
                && c.path.contains("/messages")
                && !c.path.contains(&thread)
                && !c.path.ends_with("/threads")
        })
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:#?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_by_a_second_user_via_button() {
    let r = rig().await;
    let thread = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "billionmail"), ("environment", "production")],
        )
        .await;
    let (confirm, _) = r.post_containing(&thread, "Deploy billionmail").await;
    r.send(&click(
        ALICE,
        "deckhand:confirm",
        &confirm,
        &thread,
        "Deploy billionmail",
    ))
    .await;
    let (approval, body) = r.post_containing(&thread, "Approval needed").await;
    assert_eq!(
        custom_ids(&body),
        ["deckhand:approve:1", "deckhand:reject:1"]
    );
    // A viewer's click is refused and changes nothing.
    r.send(&click(
        DAVE,
        "deckhand:approve:1",
        &approval,
        &thread,
        "Approval needed",
    ))
    .await;
    r.post_containing(&thread, "may not approve").await;
    r.flush().await;
    assert!(r.edits_of(&thread, &approval).is_empty());
    // The requester cannot approve their own request either.
    r.send(&click(
        ALICE,
        "deckhand:approve:1",
        &approval,
        &thread,
        "Approval needed",
    ))
    .await;
    r.post_containing(&thread, "four-eyes").await;
    // An approver's click counts.
    r.send(&click(
        BOB,
        "deckhand:approve:1",
        &approval,
        &thread,
        "Approval needed",
    ))
    .await;
    let done = r
        .edit_containing(&thread, &approval, "Approved by <@1002>")
        .await;
    assert!(custom_ids(&done).is_empty());
    r.post_containing(&thread, "is live on production").await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_signatures_are_refused_and_ping_is_answered() {
    let r = rig().await;
    let ping = json!({"id": "1", "application_id": "7100", "type": 1, "token": "t", "version": 1});
    let (status, answer) = r.send(&ping).await;
    assert_eq!((status, answer.as_str()), (200, r#"{"type":1}"#));

    let (cmd, _) = command(
        ALICE,
        "deploy",
        &[("service", "billionmail"), ("environment", "staging")],
        CHANNEL,
    );
    let body = cmd.to_string().into_bytes();
    // Signed by another key.
    let other = SigningKey::from_bytes(&[9u8; 32]);
    let ts = now_secs().to_string();
    let sig: String = other
        .sign(&[ts.as_bytes(), &body].concat())
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let forged = vec![
        ("content-type", "application/json".to_string()),
        ("x-signature-timestamp", ts),
        ("x-signature-ed25519", sig),
    ];
    let (status, text) = http_post(&r.url, &forged, body.clone()).await;
    assert_eq!(status, 401);
    assert!(text.contains("signature does not match"), "{text}");
    // Properly signed, ten minutes old.
    let (status, text) = http_post(&r.url, &signed(&body, now_secs() - 600), body.clone()).await;
    assert_eq!(status, 401);
    assert!(text.contains("stale"), "{text}");
    // No signature.
    let (status, _) = http_post(&r.url, &[("content-type", "application/json".into())], body).await;
    assert_eq!(status, 401);
    r.flush().await;
    let acted: Vec<_> = r
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.method != "GET" && c.method != "PUT")
        .collect();
    assert!(acted.is_empty(), "refused requests did nothing: {acted:#?}");
    assert_eq!(r.bot.store().run(1).await.unwrap().map(|x| x.id), None);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_progress_lines_costs_a_few_edits_despite_rate_limits() {
    let r = rig().await;
    let thread = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "chatty-api"), ("environment", "staging")],
        )
        .await;
    let (confirm, _) = r.post_containing(&thread, "Deploy chatty-api").await;
    // The status message is the next post; its first edit meets a 429 (retry after 1 s).
    let next_id: u64 = confirm.parse::<u64>().unwrap() + 1;
    r.fake.rate_limit(
        &format!("PATCH /channels/{thread}/messages/{next_id}"),
        &[1.0],
    );
    r.say(ALICE, "yes", &thread).await;
    let (status_msg, _) = r.post_containing(&thread, "**Run #1**").await;
    assert_eq!(status_msg, next_id.to_string());
    let last = r.edit_containing(&thread, &status_msg, "· succeeded").await;
    r.post_containing(&thread, "is live on staging").await;
    r.flush().await;
    let edits = r.edits_of(&thread, &status_msg);
    assert!(edits.len() <= 8, "{} edits: {edits:#?}", edits.len());
    assert!(!edits[0].ok, "the first edit met the rate limit");
    assert!(
        edits[1].at.duration_since(edits[0].at) >= Duration::from_millis(990),
        "Retry-After respected"
    );
    assert_eq!(
        edits.last().unwrap().body,
        last,
        "the last edit is the final state"
    );
    assert!(!last["content"].as_str().unwrap().contains("progress line"));
    let ok: Vec<_> = edits.iter().filter(|c| c.ok).collect();
    for pair in ok.windows(2) {
        assert!(pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(900));
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_in_a_channel_open_a_thread_and_bots_are_ignored() {
    let r = rig().await;
    // Chatter without a mention, and other bots, are ignored.
    r.say(ALICE, "deploy billionmail to staging", CHANNEL).await;
    let mut from_bot = gateway_message("555", "<@7000> status", CHANNEL);
    from_bot["author"]["bot"] = true.into();
    r.server
        .as_ref()
        .unwrap()
        .discord()
        .unwrap()
        .app()
        .on_message(from_bot)
        .await;
    r.flush().await;
    assert!(r.fake.posts_in(CHANNEL).is_empty());
    // A mention gets a first reply in the channel, and the conversation moves to its thread.
    r.say(ALICE, "<@7000> deploy billionmail to staging", CHANNEL)
        .await;
    let first = r.fake.posts_in(CHANNEL);
    assert_eq!(first.len(), 1);
    assert!(content(&first[0]).contains("continuing in the thread"));
    let first_id = first[0].created.clone().unwrap();
    let thread = r.fake.ok_calls(
        "POST",
        &format!("/channels/{CHANNEL}/messages/{first_id}/threads"),
    )[0]
    .created
    .clone()
    .unwrap();
    r.post_containing(&thread, "Deploy billionmail").await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_and_free_text_that_contradicts_the_options_do_nothing() {
    let r = rig().await;
    // The same signed interaction delivered twice opens one thread.
    let (v, token) = command(
        ALICE,
        "deploy",
        &[("service", "billionmail"), ("environment", "staging")],
        CHANNEL,
    );
    r.fake.interaction(&token, CHANNEL, "610001");
    assert_eq!(r.send(&v).await.0, 200);
    assert_eq!(r.send(&v).await.0, 200);
    r.flush().await;
    assert_eq!(
        r.fake
            .ok_calls("POST", "/channels/200/messages/610001/threads")
            .len(),
        1
    );
    let starts: Vec<_> = r
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/threads"))
        .collect();
    assert_eq!(starts.len(), 1, "the replay did not even try: {starts:#?}");

    // Free text that names another environment or a strategy is refused, not obeyed.
    for (name, options, what) in [
        (
            "lock",
            vec![
                ("environment", "staging"),
                ("reason", "deploys to production"),
            ],
            "environment",
        ),
        (
            "deploy",
            vec![
                ("service", "billionmail"),
                ("environment", "staging"),
                ("version", "1.0 canary 50%"),
            ],
            "strategy",
        ),
    ] {
        let (v, token) = command(ALICE, name, &options, CHANNEL);
        let original = format!("{}", 620000 + NEXT.fetch_add(1, Ordering::SeqCst));
        r.fake.interaction(&token, CHANNEL, &original);
        r.send(&v).await;
        let t = token.clone();
        r.fake
            .wait_for("the refusal", WAIT, |f| {
                f.ok_calls("PATCH", &format!("/webhooks/7100/{t}/"))
                    .iter()
                    .any(|c| content(c).contains("nothing was done"))
            })
            .await;
        let edit = &r
            .fake
            .ok_calls("PATCH", &format!("/webhooks/7100/{token}/"))[0];
        assert!(
            content(edit).contains(&format!("changes the {what}")),
            "{}",
            content(edit)
        );
        r.flush().await;
        assert!(r
            .fake
            .ok_calls(
                "POST",
                &format!("/channels/200/messages/{original}/threads")
            )
            .is_empty());
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reject_and_stale_buttons() {
    let r = rig().await;
    let thread = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "billionmail"), ("environment", "staging")],
        )
        .await;
    let (confirm, _) = r.post_containing(&thread, "Deploy billionmail").await;
    r.send(&click(
        ALICE,
        "deckhand:cancel",
        &confirm,
        &thread,
        "Deploy billionmail",
    ))
    .await;
    let cancelled = r
        .edit_containing(&thread, &confirm, "Cancelled by <@1001>")
        .await;
    assert!(custom_ids(&cancelled).is_empty());
    // The answered question's button, clicked again, only says so.
    r.send(&click(
        ALICE,
        "deckhand:confirm",
        &confirm,
        &thread,
        "Deploy billionmail",
    ))
    .await;
    r.edit_containing(&thread, &confirm, "no longer open").await;
    r.flush().await;
    assert_eq!(
        r.bot.store().run(1).await.unwrap().map(|x| x.id),
        None,
        "nothing ran"
    );

    let prod = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "billionmail"), ("environment", "production")],
        )
        .await;
    let (confirm, _) = r.post_containing(&prod, "Deploy billionmail").await;
    r.say(ALICE, "yes", &prod).await;
    let (approval, _) = r.post_containing(&prod, "Approval needed").await;
    r.send(&click(
        BOB,
        "deckhand:reject:1",
        &approval,
        &prod,
        "Approval needed",
    ))
    .await;
    let rejected = r
        .edit_containing(&prod, &approval, "Rejected by <@1002>")
        .await;
    assert!(custom_ids(&rejected).is_empty());
    r.edit_containing(&prod, &confirm, "Confirmed by <@1001>")
        .await;
    r.flush().await;
    assert_eq!(
        r.bot.store().run(1).await.unwrap().map(|x| x.id),
        None,
        "nothing ran"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stage_posts_its_last_output_and_rate_limit_headers_space_posts() {
    let r = rig().await;
    // Every post reports its bucket exhausted for 1 s.
    r.fake.exhaust("POST /channels/", 1.0);
    let thread = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "flaky-api"), ("environment", "staging")],
        )
        .await;
    r.post_containing(&thread, "Deploy flaky-api").await;
    r.say(ALICE, "yes", &thread).await;
    let (_, note) = r.post_containing(&thread, "Stage `test` failed").await;
    let note = note["content"].as_str().unwrap();
    assert!(note.chars().count() <= 2000);
    assert!(
        note.contains("```") && note.contains("assertion failed: expected 200, got 500"),
        "{note}"
    );
    assert!(
        note.contains("test output 50") && !note.contains("test output 1\n"),
        "{note}"
    );
    let (status_msg, _) = r.post_containing(&thread, "**Run #1**").await;
    r.edit_containing(&thread, &status_msg, "· failed").await;
    r.flush().await;
    let posts = r.fake.posts_in(&thread);
    assert!(posts.len() >= 4, "{posts:#?}");
    for pair in posts.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(950),
            "posts {gap:?} apart despite X-RateLimit-Remaining: 0"
        );
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_and_partial_approvals() {
    let fake_rig = rig().await;
    let r = fake_rig;
    // A command in a DM: `user` instead of `member`, no guild; no thread is opened.
    let (mut v, token) = command(ALICE, "status", &[], "300");
    let obj = v.as_object_mut().unwrap();
    let member = obj.remove("member").unwrap();
    obj.remove("guild_id");
    obj.insert("user".into(), member["user"].clone());
    obj.insert("channel".into(), json!({"id": "300", "type": 1}));
    r.fake.interaction(&token, "300", "630001");
    assert_eq!(r.send(&v).await.0, 200);
    r.fake
        .wait_for("a DM answer", WAIT, |f| !f.posts_in("300").is_empty())
        .await;
    assert!(r.fake.calls().iter().all(|c| !c.path.ends_with("/threads")));
    r.stop().await;

    // Two approvals needed: the first one is shown on the request, which keeps its buttons.
    let fake = FakeDiscord::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = support::config_in("tests/data/slack_deckhand.yaml", tmp.path());
    config.slack = None;
    config.discord = Some(DiscordConfig {
        gateway: false,
        interactions_endpoint: true,
        api_base_url: fake.base.clone(),
        guild_id: None,
        edit_interval_ms: 1000,
    });
    let prod = config
        .environments
        .iter_mut()
        .find(|e| e.name == "production")
        .unwrap();
    prod.policy.approvals = Some(2);
    config
        .people
        .get_mut("alice")
        .unwrap()
        .identities
        .push(format!("discord:{ALICE}"));
    config
        .people
        .get_mut("bob")
        .unwrap()
        .identities
        .push(format!("discord:{BOB}"));
    let dave = config.people.get_mut("dave").unwrap();
    dave.identities.push(format!("discord:{DAVE}"));
    dave.roles.push("approver".into());
    let bot = Arc::new(Bot::new(config).await.unwrap());
    let public: String = key()
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secrets = Secrets {
        slack: None,
        discord: Some(DiscordSecrets {
            bot_token: "t".into(),
            public_key: Some(public),
        }),
    };
    let server = Server::start(bot.clone(), "127.0.0.1:0", secrets)
        .await
        .unwrap();
    let r = Rig {
        url: format!("http://{}/discord/interactions", server.addr),
        fake,
        server: Some(server),
        bot,
        _tmp: tmp,
    };
    assert_eq!(
        r.fake.ok_calls("PUT", "/applications/7100/commands").len(),
        1,
        "registered globally"
    );
    let thread = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "billionmail"), ("environment", "production")],
        )
        .await;
    r.post_containing(&thread, "Deploy billionmail").await;
    r.say(ALICE, "yes", &thread).await;
    let (approval, _) = r.post_containing(&thread, "Approval needed").await;
    r.send(&click(
        BOB,
        "deckhand:approve:1",
        &approval,
        &thread,
        "Approval needed",
    ))
    .await;
    let partial = r
        .edit_containing(&thread, &approval, "Approved so far by <@1002> (1 of 2)")
        .await;
    assert_eq!(
        custom_ids(&partial),
        ["deckhand:approve:1", "deckhand:reject:1"],
        "buttons stay"
    );
    r.send(&click(
        DAVE,
        "deckhand:approve:1",
        &approval,
        &thread,
        "Approval needed",
    ))
    .await;
    r.edit_containing(&thread, &approval, "Approved by <@1002>, <@1004>")
        .await;
    r.post_containing(&thread, "is live on production").await;
    r.stop().await;
}
