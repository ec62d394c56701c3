//! Shared rig for the Slack adapter tests: a server with a real bot talking to the
//! local fake, and helpers that build and sign platform payloads.
#![allow(dead_code)]

use super::fake_core::Failure;
use super::fake_slack::{http_post, FakeSlack};
pub use super::rig::{Button, Message, Person, PlatformRig, WAIT};
use deckhand::adapters::serve::{Secrets, Server};
use deckhand::adapters::slack::signature::SlackVerifier;
use deckhand::adapters::slack::SlackSecrets;
use deckhand::bot::Bot;
use deckhand::config::SlackTransport;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

pub struct Rig {
    pub fake: FakeSlack,
    pub server: Option<Server>,
    pub bot: Arc<Bot>,
    pub url: String,
    pub _tmp: tempfile::TempDir,
}

pub async fn rig(transport: SlackTransport) -> Rig {
    rig_with(transport, |_| {}).await
}

/// A rig whose config `edit` changes first (after Slack is pointed at the fake).
pub async fn rig_with(
    transport: SlackTransport,
    edit: impl FnOnce(&mut deckhand::config::Config),
) -> Rig {
    let fake = FakeSlack::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = super::config_in("tests/data/slack_deckhand.yaml", tmp.path());
    let slack = config.slack.as_mut().unwrap();
    slack.api_base_url = fake.api_base.clone();
    slack.transport = transport;
    edit(&mut config);
    let bot = Arc::new(Bot::new(config).await.unwrap());
    let secrets = SlackSecrets {
        bot_token: "xoxb-test".into(),
        signing_secret: Some(SECRET.into()),
        app_token: Some("xapp-test".into()),
    };
    let secrets = Secrets {
        slack: Some(secrets),
        api_env: Some(super::api_rig::token_env()),
        ..Secrets::default()
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

pub static EVENT: AtomicU64 = AtomicU64::new(1);

pub fn now_secs() -> i64 {
    deckhand::clock::wall_secs()
}

pub fn signed_headers(body: &[u8], content_type: &str, at: i64) -> Vec<(&'static str, String)> {
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

pub fn callback(event: Value) -> Value {
    json!({
        "token": "unused", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": format!("Ev{:08}", EVENT.fetch_add(1, Ordering::SeqCst)),
        "event_time": now_secs(), "event": event,
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": true}]
    })
}

pub fn mention(user: &str, text: &str, ts: &str) -> Value {
    callback(json!({
        "type": "app_mention", "user": user, "text": format!("<@UBOT> {text}"),
        "ts": ts, "channel": "C1", "event_ts": ts
    }))
}

pub fn reply(user: &str, text: &str, ts: &str, thread_ts: &str) -> Value {
    callback(json!({
        "type": "message", "user": user, "text": text, "ts": ts, "thread_ts": thread_ts,
        "channel": "C1", "channel_type": "channel", "event_ts": ts
    }))
}

pub fn click(user: &str, action: &str, value: &str, message_ts: &str, thread_ts: &str) -> Value {
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
    pub async fn event(&self, body: &Value) -> (u16, String) {
        let bytes = body.to_string().into_bytes();
        let headers = signed_headers(&bytes, "application/json", now_secs());
        http_post(&format!("{}/slack/events", self.url), &headers, bytes).await
    }

    pub async fn interact(&self, payload: &Value) -> (u16, String) {
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

    pub async fn command(&self, user: &str, command: &str, text: &str) -> (u16, String) {
        self.command_in("C1", user, command, text).await
    }

    pub async fn command_in(
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
    pub async fn post_containing(&self, thread: &str, needle: &str) -> (String, Value) {
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
    pub fn ts_of(&self, needle: &str) -> (String, Value) {
        self.fake
            .calls()
            .into_iter()
            .find(|c| c.method == "chat.postMessage" && c.ok && text(&c.body).contains(needle))
            .map(|c| (c.ts.unwrap(), c.body))
            .unwrap_or_else(|| panic!("no post contains {needle:?}"))
    }

    /// Successful updates of message `ts`, in order.
    pub fn updates_of(&self, ts: &str) -> Vec<Value> {
        self.fake
            .bodies("chat.update")
            .into_iter()
            .filter(|b| b["ts"] == ts)
            .collect()
    }

    pub async fn update_containing(&self, ts: &str, needle: &str) -> Value {
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
}

pub fn text(body: &Value) -> String {
    body["text"].as_str().unwrap_or("").to_string()
}

pub fn action_ids(body: &Value) -> Vec<String> {
    body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| e["action_id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A fresh message ts, for the messages people write.
pub fn fresh_ts() -> String {
    format!("1700100000.{:06}", EVENT.fetch_add(1, Ordering::SeqCst))
}

/// The Slack user id of `person` (tests/data/slack_deckhand.yaml).
pub fn user_id(person: Person) -> &'static str {
    match person {
        Person::Alice => "UALICE",
        Person::Bob => "UBOB",
        Person::Dave => "UDAVE",
    }
}

/// The buttons of a `chat.postMessage` or `chat.update` body.
pub fn buttons(body: &Value) -> Vec<Button> {
    body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let approval = || e["value"].as_str().and_then(|v| v.parse().ok());
            match e["action_id"].as_str().unwrap_or("") {
                "deckhand_confirm" => Button::Confirm,
                "deckhand_cancel" => Button::Cancel,
                "deckhand_approve" => Button::Approve(approval().expect("approval id")),
                "deckhand_reject" => Button::Reject(approval().expect("approval id")),
                other => panic!("unknown button {other:?} in {body}"),
            }
        })
        .collect()
}

fn message_of(call: super::fake_slack::Call, id: String) -> Message {
    Message {
        id,
        text: text(&call.body),
        buttons: buttons(&call.body),
        body: call.body,
        ok: call.ok,
        at: call.at,
    }
}

impl PlatformRig for Rig {
    const PLATFORM: &'static str = "slack";

    async fn start_with(edit: impl FnOnce(&mut deckhand::config::Config)) -> Self {
        rig_with(SlackTransport::EventsApi, edit).await
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("server running")
    }

    fn take_server(&mut self) -> Option<Server> {
        self.server.take()
    }

    fn bot(&self) -> &Bot {
        &self.bot
    }

    fn mention(&self, person: Person) -> String {
        format!("<@{}>", user_id(person))
    }

    async fn open(&self, person: Person, text: &str) -> String {
        let thread = fresh_ts();
        let (status, _) = self.event(&mention(user_id(person), text, &thread)).await;
        assert_eq!(status, 200);
        thread
    }

    async fn slash_command(&self, person: Person, name: &str, options: &[(&str, &str)]) -> String {
        let words: Vec<&str> = options.iter().map(|(_, v)| *v).collect();
        let asked = format!("asked: `/{name} {}`", words.join(" "));
        let opened = |r: &Rig| -> Vec<String> {
            r.fake
                .calls()
                .into_iter()
                .filter(|c| c.method == "chat.postMessage" && c.ok)
                .filter(|c| c.body.get("thread_ts").is_none() && text(&c.body).contains(&asked))
                .filter_map(|c| c.ts)
                .collect()
        };
        let before = opened(self).len();
        let (status, _) = self
            .command(user_id(person), &format!("/{name}"), &words.join(" "))
            .await;
        assert_eq!(status, 200);
        self.wait_until(&format!("the post opening {asked:?}"), |r| {
            opened(r).len() > before
        })
        .await;
        opened(self).pop().unwrap()
    }

    async fn say(&self, person: Person, thread: &str, text: &str) {
        let (status, _) = self
            .event(&reply(user_id(person), text, &fresh_ts(), thread))
            .await;
        assert_eq!(status, 200);
    }

    async fn click(&self, person: Person, thread: &str, message: &Message, button: Button) {
        let (action, value) = match button {
            Button::Confirm => ("deckhand_confirm", "yes".to_string()),
            Button::Cancel => ("deckhand_cancel", "no".to_string()),
            Button::Approve(id) => ("deckhand_approve", id.to_string()),
            Button::Reject(id) => ("deckhand_reject", id.to_string()),
        };
        let (status, _) = self
            .interact(&click(user_id(person), action, &value, &message.id, thread))
            .await;
        assert_eq!(status, 200);
    }

    fn post_attempts_in(&self, thread: &str) -> Vec<Message> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| c.method == "chat.postMessage" && c.body["thread_ts"] == thread)
            .map(|c| {
                let id = c.ts.clone().unwrap_or_default();
                message_of(c, id)
            })
            .collect()
    }

    fn edits_of(&self, _thread: &str, message: &str) -> Vec<Message> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| c.method == "chat.update" && c.body["ts"] == message)
            .map(|c| message_of(c, message.to_string()))
            .collect()
    }

    fn next_message_id(&self) -> String {
        self.fake.next_ts()
    }

    fn fail_edits_of(&self, _thread: &str, message: &str, failures: &[Failure]) {
        self.fake.fail_next_for("chat.update", message, failures);
    }

    fn fail_next_posts(&self, _thread: &str, failures: &[Failure]) {
        self.fake.fail_next("chat.postMessage", failures);
    }

    async fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        self.fake.wait_for(what, WAIT, |_| check(self)).await;
    }
}
