//! What a platform story needs from a platform: a server with a real bot talking to that
//! platform's fake, people to speak as, threads to speak in, buttons to click, and what the bot
//! posted and edited, in platform-neutral terms. `slack_rig.rs` and `discord_rig.rs` implement
//! it with real, signed platform payloads through the adapters' public entry points, so a story
//! written once (tests/platform_stories.rs) runs on every platform.
#![allow(dead_code)]

use super::fake_core::Failure;
use deckhand::adapters::serve::Server;
use deckhand::bot::Bot;
use deckhand::config::Config;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long a story waits for something that must happen.
pub const WAIT: Duration = Duration::from_secs(20);

/// The people of `tests/data/slack_deckhand.yaml`, as every platform knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    /// A deployer.
    Alice,
    /// A deployer and approver.
    Bob,
    /// A viewer.
    Dave,
}

/// A button Deckhand puts under its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Answers a confirmation with yes.
    Confirm,
    /// Answers a confirmation with no.
    Cancel,
    /// Approves the approval request with this id.
    Approve(i64),
    /// Rejects the approval request with this id.
    Reject(i64),
}

impl Button {
    /// The approval request a decision button is about.
    pub fn approval(self) -> Option<i64> {
        match self {
            Button::Approve(id) | Button::Reject(id) => Some(id),
            Button::Confirm | Button::Cancel => None,
        }
    }
}

/// A message Deckhand posted, or one attempt to edit it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The platform's id of the message (a Slack ts, a Discord snowflake).
    pub id: String,
    /// Its text as sent.
    pub text: String,
    /// Its buttons, in order.
    pub buttons: Vec<Button>,
    /// The platform body as sent, to compare attempts exactly.
    pub body: Value,
    /// Whether the fake accepted it.
    pub ok: bool,
    /// When the fake received it.
    pub at: Instant,
}

/// One platform's rig. Thread and message ids are the platform's own strings.
#[allow(async_fn_in_trait)]
pub trait PlatformRig: Sized {
    /// The platform's name, for messages.
    const PLATFORM: &'static str;

    /// Starts the fake and a server whose config `edit` changed first.
    async fn start_with(edit: impl FnOnce(&mut Config)) -> Self;

    /// Starts the fake and a server with the test config.
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// The running server.
    fn server(&self) -> &Server;

    /// Takes the server out, to shut it down.
    fn take_server(&mut self) -> Option<Server>;

    /// The bot behind the server.
    fn bot(&self) -> &Bot;

    /// How the platform writes a mention of `person` in Deckhand's messages.
    fn mention(&self, person: Person) -> String;

    /// `person` addresses Deckhand outside any thread; returns the thread the conversation
    /// continues in.
    async fn open(&self, person: Person, text: &str) -> String;

    /// `person` runs the slash command `/name` with these options (Slack: their values as the
    /// command's text); returns the thread Deckhand opened for it.
    async fn slash_command(&self, person: Person, name: &str, options: &[(&str, &str)]) -> String;

    /// `person` writes `text` in `thread` (a plain reply, no mention).
    async fn say(&self, person: Person, thread: &str, text: &str);

    /// `person` clicks `button` on `message` in `thread`.
    async fn click(&self, person: Person, thread: &str, message: &Message, button: Button);

    /// Attempts to post in `thread` so far, accepted or not, in order (a refused one has an
    /// empty id).
    fn post_attempts_in(&self, thread: &str) -> Vec<Message>;

    /// Messages posted in `thread` so far (accepted ones), in order.
    fn posts_in(&self, thread: &str) -> Vec<Message> {
        let mut posts = self.post_attempts_in(thread);
        posts.retain(|m| m.ok);
        posts
    }

    /// Attempts to edit `message` in `thread` so far, accepted or not, in order.
    fn edits_of(&self, thread: &str, message: &str) -> Vec<Message>;

    /// The id the fake gives the next message posted.
    fn next_message_id(&self) -> String;

    /// Makes the next edits of `message` in `thread` fail as listed.
    fn fail_edits_of(&self, thread: &str, message: &str, failures: &[Failure]);

    /// Makes the next posts in `thread` fail as listed.
    fn fail_next_posts(&self, thread: &str, failures: &[Failure]);

    /// Waits until `check` holds, or panics naming `what`.
    async fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool);

    /// `person` clicks Confirm on `question`.
    async fn click_confirm(&self, person: Person, thread: &str, question: &Message) {
        self.click(person, thread, question, Button::Confirm).await;
    }

    /// `person` clicks Cancel on `question`.
    async fn click_cancel(&self, person: Person, thread: &str, question: &Message) {
        self.click(person, thread, question, Button::Cancel).await;
    }

    /// `person` clicks Approve on approval `request`.
    async fn click_approve(&self, person: Person, thread: &str, request: &Message) {
        let id = approval_of(request);
        self.click(person, thread, request, Button::Approve(id))
            .await;
    }

    /// `person` clicks Reject on approval `request`.
    async fn click_reject(&self, person: Person, thread: &str, request: &Message) {
        let id = approval_of(request);
        self.click(person, thread, request, Button::Reject(id))
            .await;
    }

    /// The first post in `thread` containing `needle`, waiting for it.
    async fn post_containing(&self, thread: &str, needle: &str) -> Message {
        let find = |r: &Self| {
            r.posts_in(thread)
                .into_iter()
                .find(|m| m.text.contains(needle))
        };
        self.wait_until(&format!("a post containing {needle:?} in {thread}"), |r| {
            find(r).is_some()
        })
        .await;
        find(self).unwrap()
    }

    /// The first accepted edit of `message` containing `needle`, waiting for it.
    async fn edit_containing(&self, thread: &str, message: &str, needle: &str) -> Message {
        let find = |r: &Self| {
            r.edits_of(thread, message)
                .into_iter()
                .find(|m| m.ok && m.text.contains(needle))
        };
        self.wait_until(
            &format!("an edit of {message} containing {needle:?}"),
            |r| find(r).is_some(),
        )
        .await;
        find(self).unwrap()
    }

    /// Waits until everything Deckhand was asked to say has been said.
    async fn flush(&self) {
        assert!(self.server().flush(WAIT).await, "flush timed out");
    }

    /// Shuts the server down.
    async fn stop(mut self) {
        if let Some(server) = self.take_server() {
            server.shutdown().await;
        }
    }
}

fn approval_of(request: &Message) -> i64 {
    request
        .buttons
        .iter()
        .find_map(|b| b.approval())
        .unwrap_or_else(|| panic!("no decision buttons on {request:?}"))
}
