//! The Discord adapter end to end: `Server` with the HTTP interactions endpoint, a real bot,
//! store and pipelines, talking to a local fake Discord. Interactions are signed with a test
//! Ed25519 key pair; gateway messages go through the same handler the gateway client calls.
//! Only what Discord alone does is here; the stories every platform shares are in
//! tests/platform_stories.rs.

mod support;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use support::discord_rig::*;
use support::fake_slack::http_post;

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
