//! Shared rig for the Discord adapter tests: a server with a real bot talking to the
//! local fake, and helpers that build and sign platform payloads.
#![allow(dead_code)]

use super::fake_core::{http_post, Failure};
use super::fake_discord::{FakeDiscord, BOT_USER};
pub use super::rig::{Button, Message, Person, PlatformRig, WAIT};
use deckhand::adapters::discord::DiscordSecrets;
use deckhand::adapters::serve::{Secrets, Server};
use deckhand::bot::Bot;
use deckhand::config::DiscordConfig;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const GUILD: &str = "100";
pub const CHANNEL: &str = "200";
pub const ALICE: &str = "1001";
pub const BOB: &str = "1002";
pub const DAVE: &str = "1004";

pub static NEXT: AtomicU64 = AtomicU64::new(1);

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

pub struct Rig {
    pub fake: FakeDiscord,
    pub server: Option<Server>,
    pub bot: Arc<Bot>,
    pub url: String,
    pub _tmp: tempfile::TempDir,
}

pub async fn rig() -> Rig {
    rig_with(|_| {}).await
}

/// A rig whose config `edit` changes first (after Discord and the identities are set).
pub async fn rig_with(edit: impl FnOnce(&mut deckhand::config::Config)) -> Rig {
    let fake = FakeDiscord::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = super::config_in("tests/data/slack_deckhand.yaml", tmp.path());
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
    edit(&mut config);
    let bot = Arc::new(Bot::new(config).await.unwrap());
    let public: String = key()
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secrets = Secrets {
        slack: None,
        api_env: None,
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

pub fn now_secs() -> i64 {
    deckhand::clock::wall_secs()
}

pub fn signed(body: &[u8], at: i64) -> Vec<(&'static str, String)> {
    let ts = at.to_string();
    let sig = key().sign(&[ts.as_bytes(), body].concat());
    let hex: String = sig.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("content-type", "application/json".into()),
        ("x-signature-timestamp", ts),
        ("x-signature-ed25519", hex),
    ]
}

pub fn member(user: &str) -> Value {
    json!({"user": {"id": user, "username": format!("user{user}"), "discriminator": "0", "global_name": null, "avatar": null},
           "roles": [], "permissions": "0", "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false})
}

/// A slash command invocation in `channel` (kind 0 = text channel, 11 = thread of `parent`).
pub fn command(user: &str, name: &str, options: &[(&str, &str)], channel: &str) -> (Value, String) {
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

pub fn click(user: &str, custom_id: &str, message_id: &str, thread: &str, content: &str) -> Value {
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
pub fn gateway_message(user: &str, content: &str, channel: &str) -> Value {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    json!({
        "id": format!("{}", 770000 + n), "channel_id": channel, "guild_id": GUILD, "type": 0,
        "content": content, "author": {"id": user, "username": format!("user{user}"), "discriminator": "0"},
        "timestamp": "2026-11-23T21:00:00+00:00", "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false
    })
}

pub fn content(c: &super::fake_discord::Call) -> String {
    c.body["content"].as_str().unwrap_or("").to_string()
}

pub fn custom_ids(body: &Value) -> Vec<String> {
    body["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| b["custom_id"].as_str().unwrap_or("").to_string())
        .collect()
}

impl Rig {
    pub async fn send(&self, interaction: &Value) -> (u16, String) {
        let body = interaction.to_string().into_bytes();
        http_post(&self.url, &signed(&body, now_secs()), body).await
    }

    /// Runs a slash command in the channel; returns the thread Deckhand opened.
    pub async fn command_in_channel(
        &self,
        user: &str,
        name: &str,
        options: &[(&str, &str)],
    ) -> String {
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
    pub async fn post_containing(&self, channel: &str, needle: &str) -> (String, Value) {
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

    pub fn edits_of(&self, channel: &str, id: &str) -> Vec<super::fake_discord::Call> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| {
                c.method == "PATCH" && c.path == format!("/channels/{channel}/messages/{id}")
            })
            .collect()
    }

    pub async fn edit_containing(&self, channel: &str, id: &str, needle: &str) -> Value {
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

    pub async fn say(&self, user: &str, text: &str, channel: &str) {
        let discord = self.server.as_ref().unwrap().discord().unwrap();
        discord
            .app()
            .on_message(gateway_message(user, text, channel))
            .await;
    }
}

/// The Discord user id of `person` (added to the config's identities by the rig).
pub fn user_id(person: Person) -> &'static str {
    match person {
        Person::Alice => ALICE,
        Person::Bob => BOB,
        Person::Dave => DAVE,
    }
}

/// The buttons of a message body (its components' custom ids).
pub fn buttons(body: &Value) -> Vec<Button> {
    custom_ids(body)
        .into_iter()
        .map(|id| {
            let approval = |prefix: &str| -> Option<i64> { id.strip_prefix(prefix)?.parse().ok() };
            if id == "deckhand:confirm" {
                Button::Confirm
            } else if id == "deckhand:cancel" {
                Button::Cancel
            } else if let Some(n) = approval("deckhand:approve:") {
                Button::Approve(n)
            } else if let Some(n) = approval("deckhand:reject:") {
                Button::Reject(n)
            } else {
                panic!("unknown button {id:?} in {body}")
            }
        })
        .collect()
}

fn message_of(call: super::fake_discord::Call, id: String) -> Message {
    Message {
        id,
        text: content(&call),
        buttons: buttons(&call.body),
        body: call.body,
        ok: call.ok,
        at: call.at,
    }
}

impl PlatformRig for Rig {
    const PLATFORM: &'static str = "discord";

    async fn start_with(edit: impl FnOnce(&mut deckhand::config::Config)) -> Self {
        rig_with(edit).await
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

    /// A mention in the channel: Deckhand answers there once and continues in a thread of
    /// that answer.
    async fn open(&self, person: Person, text: &str) -> String {
        let prefix = format!("/channels/{CHANNEL}/messages/");
        let threads = |r: &Rig| -> Vec<String> {
            r.fake
                .ok_calls("POST", &prefix)
                .into_iter()
                .filter(|c| c.path.ends_with("/threads"))
                .filter_map(|c| c.created)
                .collect()
        };
        let before = threads(self).len();
        self.say(user_id(person), &format!("<@{BOT_USER}> {text}"), CHANNEL)
            .await;
        self.wait_until("the thread of a mention", |r| threads(r).len() > before)
            .await;
        threads(self).pop().unwrap()
    }

    async fn slash_command(&self, person: Person, name: &str, options: &[(&str, &str)]) -> String {
        self.command_in_channel(user_id(person), name, options)
            .await
    }

    async fn say(&self, person: Person, thread: &str, text: &str) {
        Rig::say(self, user_id(person), text, thread).await;
    }

    async fn click(&self, person: Person, thread: &str, message: &Message, button: Button) {
        let custom_id = match button {
            Button::Confirm => "deckhand:confirm".to_string(),
            Button::Cancel => "deckhand:cancel".to_string(),
            Button::Approve(id) => format!("deckhand:approve:{id}"),
            Button::Reject(id) => format!("deckhand:reject:{id}"),
        };
        let (status, _) = self
            .send(&click(
                user_id(person),
                &custom_id,
                &message.id,
                thread,
                &message.text,
            ))
            .await;
        assert_eq!(status, 200);
    }

    fn post_attempts_in(&self, thread: &str) -> Vec<Message> {
        let path = format!("/channels/{thread}/messages");
        self.fake
            .calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path == path)
            .map(|c| {
                let id = c.created.clone().unwrap_or_default();
                message_of(c, id)
            })
            .collect()
    }

    fn edits_of(&self, thread: &str, message: &str) -> Vec<Message> {
        Rig::edits_of(self, thread, message)
            .into_iter()
            .map(|c| message_of(c, message.to_string()))
            .collect()
    }

    fn next_message_id(&self) -> String {
        self.fake.next_id()
    }

    fn fail_edits_of(&self, thread: &str, message: &str, failures: &[Failure]) {
        self.fake.fail_next(
            &format!("PATCH /channels/{thread}/messages/{message}"),
            failures,
        );
    }

    fn fail_next_posts(&self, thread: &str, failures: &[Failure]) {
        self.fake
            .fail_next(&format!("POST /channels/{thread}/messages"), failures);
    }

    async fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        self.fake.wait_for(what, WAIT, |_| check(self)).await;
    }
}
