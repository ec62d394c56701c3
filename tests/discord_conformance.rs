//! Conformance with real Discord payloads and Ed25519 vectors from
//! `../shared/fixtures/platform/discord/` (skipped when that folder is absent): each signature
//! verifies or fails as its vector says (and real ones are stale by now), each interaction gets
//! the answer its type calls for, and the gateway frames parse with serenity's models.

use deckhand::adapters::discord::app::{immediate_response, interaction_user, needs_work};
use deckhand::adapters::discord::commands;
use deckhand::adapters::discord::gateway::{inbound, Inbound};
use deckhand::adapters::discord::signature::{DiscordVerifier, SignatureError};
use deckhand::bot::Bot;
use deckhand::config::Config;
use serde_json::Value;
use serenity::model::event::{Event, GatewayEvent};
use std::path::{Path, PathBuf};

fn dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/platform/discord");
    d.is_dir().then_some(d)
}

fn json(dir: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn signature_vectors_verify_as_documented() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/discord not found; skipped");
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("signing")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".vector.json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let verifier = DiscordVerifier::new(v["public_key_hex"].as_str().unwrap()).unwrap();
        let ts = v["X-Signature-Timestamp"].as_str().unwrap();
        let sig = v["X-Signature-Ed25519"].as_str().unwrap();
        let body =
            std::fs::read(dir.join("signing").join(v["body_file"].as_str().unwrap())).unwrap();
        let pinned: i64 = ts.parse().unwrap();
        let now = deckhand::clock::now_ms() / 1000;
        match v["expect"].as_str().unwrap() {
            "valid" => {
                assert_eq!(
                    verifier.verify(Some(ts), Some(sig), &body, pinned),
                    Ok(()),
                    "{}",
                    path.display()
                );
                assert!(
                    matches!(
                        verifier.verify(Some(ts), Some(sig), &body, now),
                        Err(SignatureError::Stale { .. })
                    ),
                    "{}: an old request is stale",
                    path.display()
                );
                let mut tampered = body.clone();
                tampered.push(b' ');
                assert_eq!(
                    verifier.verify(Some(ts), Some(sig), &tampered, pinned),
                    Err(SignatureError::Mismatch)
                );
            }
            "invalid" => {
                assert_eq!(
                    verifier.verify(Some(ts), Some(sig), &body, pinned),
                    Err(SignatureError::Mismatch),
                    "{}",
                    path.display()
                );
            }
            other => panic!("unknown expectation {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

async fn bot(tmp: &tempfile::TempDir) -> Bot {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(&root.join("tests/data/slack_deckhand.yaml")).unwrap();
    config.store.url = format!("sqlite://{}/d.db", tmp.path().display());
    Bot::new(config).await.unwrap()
}

#[tokio::test]
async fn interactions_get_the_answer_their_type_calls_for() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/discord not found; skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bot = bot(&tmp).await;
    let answer = |rel: &str| {
        let v = json(&dir, rel);
        (
            immediate_response(&bot, &v).map(|a| a["type"].clone()),
            needs_work(&v),
            v,
        )
    };
    let (a, work, _) = answer("interactions/ping.json");
    assert_eq!((a, work), (Some(1.into()), false), "PING -> PONG");
    let (a, work, _) = answer("interactions/application_command_minimal.json");
    assert_eq!((a, work), (Some(5.into()), true), "command -> deferred");
    let (a, work, _) = answer("interactions/message_component_button_minimal.json");
    assert_eq!(
        (a, work),
        (Some(6.into()), true),
        "click -> deferred update"
    );
    let (a, work, v) = answer("interactions/autocomplete.json");
    assert_eq!(
        (a, work),
        (Some(8.into()), false),
        "autocomplete -> choices"
    );
    assert!(immediate_response(&bot, &v).unwrap()["data"]["choices"].is_array());

    let (a, _, v) = answer("interactions/application_command_with_option_docs.json");
    assert_eq!(a, Some(5.into()));
    assert_eq!(interaction_user(&v), Some("53908232506183680"));
    assert_eq!(
        commands::option_value(&v["data"], "cardname"),
        Some("The Gitrog Monster")
    );
    // A command Deckhand does not have is answered with help, not guessed at.
    assert_eq!(
        commands::request(bot.config(), &v["data"]).unwrap().intent,
        deckhand::nlu::Intent::Help
    );

    let (a, _, v) = answer("interactions/message_component_button_docs.json");
    assert_eq!(a, Some(6.into()));
    assert_eq!(v["data"]["custom_id"], "click_one");
    assert_eq!(v["message"]["id"], "844397162624450620");
    assert!(interaction_user(&v).is_some());

    for signed in [
        "signing/hikari_application_command.body",
        "signing/ssmmiles_ping_valid.body",
    ] {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.join(signed)).unwrap()).unwrap();
        assert!(immediate_response(&bot, &v).is_some(), "{signed}");
    }
}

#[test]
fn gateway_frames_parse_with_serenity() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/discord not found; skipped");
        return;
    };
    let parse = |rel: &str| -> GatewayEvent {
        serde_json::from_value(json(&dir, rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    assert!(matches!(
        parse("gateway/hello.json"),
        GatewayEvent::Hello(41250)
    ));
    assert!(matches!(
        parse("gateway/hello_docs.json"),
        GatewayEvent::Hello(45000)
    ));
    assert!(matches!(
        parse("gateway/heartbeat_ack.json"),
        GatewayEvent::HeartbeatAck
    ));
    assert!(matches!(
        parse("gateway/invalid_session.json"),
        GatewayEvent::InvalidateSession(false)
    ));
    assert!(matches!(
        parse("gateway/reconnect.json"),
        GatewayEvent::Reconnect
    ));

    // MESSAGE_CREATE and INTERACTION_CREATE reach the app as JSON, whether serenity's typed
    // models accept them (the message) or not (this interaction lacks `data.type`).
    let GatewayEvent::Dispatch(_, message) = parse("gateway/message_create_dispatch.json") else {
        panic!("MESSAGE_CREATE is not a dispatch");
    };
    assert!(matches!(message, Event::MessageCreate(_)));
    let Some(Inbound::Message(v)) = inbound(&message) else {
        panic!("MESSAGE_CREATE not handed to the app");
    };
    assert_eq!(v["content"], ".ping");
    assert!(v["author"]["id"].is_string() && v["channel_id"].is_string());

    let GatewayEvent::Dispatch(_, interaction) =
        parse("gateway/interaction_create_application_command_options_dispatch.json")
    else {
        panic!("INTERACTION_CREATE is not a dispatch");
    };
    let Some(Inbound::Interaction(v)) = inbound(&interaction) else {
        panic!("INTERACTION_CREATE not handed to the app");
    };
    assert_eq!(v["type"], 2);
    assert!(needs_work(&v));
    assert_eq!(interaction_user(&v), Some("275616469906358273"));
    assert!(commands::option_value(&v["data"], "string").is_some());

    // READY comes from an old (v6) gateway with legacy fields; its frame shape still holds.
    let ready = json(&dir, "gateway/ready_dispatch.json");
    assert_eq!(
        (ready["op"].as_u64(), ready["t"].as_str()),
        (Some(0), Some("READY"))
    );
    assert!(ready["d"]["session_id"].is_string());
}
