//! Conformance with real Slack payloads from `../shared/fixtures/platform/slack/` (skipped when
//! that folder is absent). Each file is parsed the way its README describes, and the messages
//! among them are checked against Deckhand's rules for what is addressed to the bot.

use deckhand::adapters::delivery::outbox::Outbox;
use deckhand::adapters::slack::app::{EventMeta, SlackApp};
use deckhand::adapters::slack::http::interaction_payload;
use deckhand::adapters::slack::socket::{read_frame, FrameOutcome};
use deckhand::adapters::slack::surface::SlackSurface;
use deckhand::adapters::slack::threads::SlackThread;
use deckhand::adapters::slack::web_api::WebApi;
use deckhand::bot::Bot;
use deckhand::config::Config;
use slack_morphism::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/platform/slack");
    d.is_dir().then_some(d)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

async fn app(tmp: &tempfile::TempDir, bot_user: &str) -> (Arc<Bot>, SlackApp) {
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conversations/test-pipelines.yaml"),
    )
    .unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conversations");
    let mut config = Config::from_yaml(&yaml, Path::new("test.yaml"), &base).unwrap();
    config.store.url = format!("sqlite://{}", tmp.path().join("c.db").display());
    let bot = Arc::new(Bot::new(config).await.unwrap());
    // Nothing here calls Slack; the address is never used.
    let api = WebApi::new("http://127.0.0.1:9", "xoxb-test");
    let outbox = Outbox::start(
        Arc::new(SlackSurface::new(api.clone())),
        bot.store().clone(),
        Duration::from_millis(10),
        Duration::from_secs(3600),
    );
    let app = SlackApp::new(bot.clone(), outbox, api, bot_user.to_string());
    (bot, app)
}

#[tokio::test]
async fn events_api_payloads_parse_and_route_as_documented() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/slack not found; skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();

    // url_verification: the challenge is what must be echoed.
    let v: SlackPushEvent =
        serde_json::from_str(&read(&dir, "events_api/url_verification.json")).unwrap();
    match v {
        SlackPushEvent::UrlVerification(u) => assert!(u.challenge.starts_with("3eZbrw1a")),
        other => panic!("url_verification parsed as {other:?}"),
    }

    // The HTTP app_mention body (slack-go): addressed to the bot, which is U061F7AUR there.
    let body = read(&dir, "signing/slackgo_app_mention.body");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    let SlackPushEvent::EventCallback(cb) = serde_json::from_value(value.clone()).unwrap() else {
        panic!("app_mention body is not an event_callback");
    };
    assert!(matches!(cb.event, SlackEventCallbackBody::AppMention(_)));
    let bot_user = value["event"]["text"]
        .as_str()
        .and_then(|t| t.strip_prefix("<@"))
        .and_then(|t| t.split('>').next())
        .unwrap()
        .to_string();
    let (bot, app) = app(&tmp, &bot_user).await;
    let said = app
        .addressed(&cb.team_id.0, &cb.event, &EventMeta::of_callback(&value))
        .await
        .expect("a mention is addressed to the bot");
    assert!(
        !said.text.contains(&bot_user),
        "mention stripped: {}",
        said.text
    );

    // A plain reply in a channel thread: ignored until the bot takes part in that thread.
    let body = read(&dir, "events_api/message_thread_reply_event_callback.json");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    let SlackPushEvent::EventCallback(cb) = serde_json::from_value(value.clone()).unwrap() else {
        panic!("thread reply is not an event_callback");
    };
    let SlackEventCallbackBody::Message(m) = &cb.event else {
        panic!("thread reply is not a message event: {:?}", cb.event);
    };
    let thread_ts = m.origin.thread_ts.clone().unwrap().0;
    assert_ne!(
        thread_ts, m.origin.ts.0,
        "a child reply has thread_ts != ts"
    );
    let meta = EventMeta::of_callback(&value);
    assert_eq!(app.addressed(&cb.team_id.0, &cb.event, &meta).await, None);
    let channel = m.origin.channel.clone().unwrap().0;
    let thread = SlackThread::new(&cb.team_id.0, &channel, &thread_ts);
    bot.store().join_thread(&thread.key(), 1).await.unwrap();
    let said = app
        .addressed(&cb.team_id.0, &cb.event, &meta)
        .await
        .unwrap();
    assert_eq!(said.thread, thread);
    assert_eq!(said.text, "When Slack was released?");

    // Inner message events from slack-go: a child reply and its parent.
    let child: SlackEventCallbackBody =
        serde_json::from_str(&read(&dir, "events_api/message_thread_reply_event.json")).unwrap();
    let SlackEventCallbackBody::Message(child) = child else {
        panic!("child reply is not a message");
    };
    assert_ne!(
        child.origin.thread_ts.as_ref().unwrap().0,
        child.origin.ts.0
    );
    let parent: SlackEventCallbackBody =
        serde_json::from_str(&read(&dir, "events_api/message_thread_parent_event.json")).unwrap();
    let SlackEventCallbackBody::Message(parent) = parent else {
        panic!("thread parent is not a message");
    };
    assert_eq!(
        parent.origin.thread_ts.as_ref().unwrap().0,
        parent.origin.ts.0
    );
    // The parent is not a reply inside a thread, so it is not for the bot even in a joined thread.
    assert_eq!(
        app.addressed(
            "T1",
            &SlackEventCallbackBody::Message(parent),
            &EventMeta::default()
        )
        .await,
        None
    );
}

#[test]
fn slash_command_and_interaction_bodies_parse_as_documented() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/slack not found; skipped");
        return;
    };
    let cmd: SlackCommandEvent =
        serde_urlencoded::from_str(read(&dir, "slash_commands/hello_world.form").trim()).unwrap();
    assert_eq!(cmd.command.0, "/hello-world");
    assert_eq!(cmd.text.as_deref(), Some("Hi"));
    assert_eq!(cmd.channel_id.0, "C111");
    let docs: SlackCommandEvent =
        serde_urlencoded::from_str(&read(&dir, "signing/docs_slash_command.body")).unwrap();
    assert_eq!(docs.command.0, "/webhook-collect");
    assert_eq!(docs.text.as_deref().unwrap_or(""), "");

    let json: SlackInteractionEvent =
        serde_json::from_str(&read(&dir, "interactivity/block_actions_button.json")).unwrap();
    let form =
        interaction_payload(read(&dir, "interactivity/block_actions_button.form").as_bytes())
            .unwrap();
    assert_eq!(
        json, form,
        "the form carries the same payload as the JSON file"
    );
    let SlackInteractionEvent::BlockActions(ba) = json else {
        panic!("not block_actions");
    };
    let action = &ba.actions.as_ref().unwrap()[0];
    assert_eq!(action.action_id.0, "a");
    assert_eq!(action.value.as_deref(), Some("click_me_123"));
    assert!(matches!(
        ba.container,
        SlackInteractionActionContainer::Message(ref m) if m.message_ts.0 == "111.222"
    ));
}

#[test]
fn socket_mode_frames_are_acknowledged_and_routed_as_documented() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/slack not found; skipped");
        return;
    };
    let hello = read_frame(&read(&dir, "socket_mode/hello.json"));
    assert_eq!(hello.ack, None);
    assert_eq!(hello.outcome, FrameOutcome::Continue);
    assert!(!hello.has_work());

    let bye = read_frame(&read(
        &dir,
        "socket_mode/disconnect_too_many_websockets.json",
    ));
    assert_eq!(
        bye.outcome,
        FrameOutcome::Reconnect("too_many_websockets".into())
    );

    for file in [
        "events_api_app_mention_envelope.json",
        "events_api_message_envelope.json",
        "events_api_message_retry_envelope.json",
        "slash_commands_envelope.json",
        "interactive_shortcut_envelope.json",
        "interactive_block_actions_static_select_large_envelope.json",
    ] {
        let text = read(&dir, &format!("socket_mode/{file}"));
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        let frame = read_frame(&text);
        let ack: serde_json::Value = serde_json::from_str(frame.ack.as_deref().unwrap()).unwrap();
        assert_eq!(ack["envelope_id"], raw["envelope_id"], "{file}");
        assert_eq!(frame.outcome, FrameOutcome::Continue, "{file}");
        assert!(frame.has_work(), "{file}: payload not understood");
    }
}
