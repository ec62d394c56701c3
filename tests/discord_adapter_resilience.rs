//! More Discord adapter scenarios (see the rig in tests/support/discord_rig.rs).
//! Only what Discord alone does is here; the stories every platform shares are in
//! tests/platform_stories.rs.

mod support;

use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::discord_rig::*;

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

    // A lock's reason is its reason, whatever names it mentions: the scope stays staging.
    let (v, token) = command(
        ALICE,
        "lock",
        &[
            ("environment", "staging"),
            ("reason", "deploys to production"),
        ],
        CHANNEL,
    );
    let original = format!("{}", 620000 + NEXT.fetch_add(1, Ordering::SeqCst));
    r.fake.interaction(&token, CHANNEL, &original);
    r.send(&v).await;
    r.fake
        .wait_for("the lock question", WAIT, |f| {
            f.calls().iter().any(|c| {
                content(c).contains("Lock staging until someone unlocks it (reason: deploys to production)? [yes/no]")
            })
        })
        .await;
    r.flush().await;

    // Free text that is not what its option holds is refused, not read for other meanings.
    for (name, options, what) in [(
        "deploy",
        vec![
            ("service", "billionmail"),
            ("environment", "staging"),
            ("version", "1.0 canary 50%"),
        ],
        "`version:` option `1.0 canary 50%` is not a single version",
    )] {
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
        assert!(content(edit).contains(what), "{}", content(edit));
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
    let r = rig_with(|config| {
        let discord = config.discord.as_mut().unwrap();
        discord.guild_id = None;
        let prod = config
            .environments
            .iter_mut()
            .find(|e| e.name == "production")
            .unwrap();
        prod.policy.approvals = Some(2);
        config
            .people
            .get_mut("dave")
            .unwrap()
            .roles
            .push("approver".into());
    })
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_or_click_is_acted_on_once() {
    let r = rig().await;
    let thread = r
        .command_in_channel(
            ALICE,
            "deploy",
            &[("service", "billionmail"), ("environment", "production")],
        )
        .await;
    r.post_containing(&thread, "Deploy billionmail").await;
    // A gateway message in a known thread, delivered twice (e.g. after a reconnect).
    let yes = gateway_message(ALICE, "yes", &thread);
    let app = r.server.as_ref().unwrap().discord().unwrap().app().clone();
    app.on_message(yes.clone()).await;
    app.on_message(yes).await;
    let (approval, _) = r.post_containing(&thread, "Approval needed").await;
    // An approval click replayed with the same interaction id.
    let approve = click(
        BOB,
        "deckhand:approve:1",
        &approval,
        &thread,
        "Approval needed",
    );
    assert_eq!(r.send(&approve).await.0, 200);
    assert_eq!(r.send(&approve).await.0, 200);
    r.edit_containing(&thread, &approval, "Approved by <@1002>")
        .await;
    r.post_containing(&thread, "is live on production").await;
    r.flush().await;
    let posts: Vec<String> = r.fake.posts_in(&thread).iter().map(content).collect();
    assert!(
        !posts
            .iter()
            .any(|p| p.contains("nothing waiting for a yes or no")),
        "the redelivered \"yes\" was not read a second time: {posts:#?}"
    );
    assert!(
        !posts.iter().any(|p| p.contains("already")),
        "the replayed click decided nothing again: {posts:#?}"
    );
    assert_eq!(r.bot.store().decisions(1).await.unwrap().len(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_the_store_cannot_check_is_not_acted_on_and_says_so() {
    let r = rig().await;
    // The store is gone: whether the interaction is new cannot be known.
    r.bot.store().close().await;
    assert!(
        r.bot
            .store()
            .first_delivery("discord", "probe", 0)
            .await
            .is_err(),
        "a closed store cannot tell"
    );
    let (v, token) = command(
        ALICE,
        "deploy",
        &[("service", "billionmail"), ("environment", "staging")],
        CHANNEL,
    );
    let original = format!("{}", 630000 + NEXT.fetch_add(1, Ordering::SeqCst));
    r.fake.interaction(&token, CHANNEL, &original);
    assert_eq!(r.send(&v).await.0, 200);
    let t = token.clone();
    r.fake
        .wait_for("the answer naming the fault", WAIT, |f| {
            f.ok_calls("PATCH", &format!("/webhooks/7100/{t}/"))
                .iter()
                .any(|c| content(c).contains("Something went wrong"))
        })
        .await;
    r.flush().await;
    assert!(
        r.fake
            .ok_calls(
                "POST",
                &format!("/channels/200/messages/{original}/threads")
            )
            .is_empty(),
        "no thread was opened"
    );
}

/// With the intake full (`serve.max_pending_events: 1`, one command held by a slow Discord),
/// another interaction is not taken: Discord does not send an interaction again, so the person
/// is told privately (an ephemeral message) that nothing was done, and no thread is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_intake_answers_an_interaction_privately_and_does_nothing() {
    let r = rig_with(|c| c.serve.max_pending_events = 1).await;
    r.fake
        .fail_next("", &[support::fake_core::Failure::Slow(2.0)]);
    let (first, _) = command(ALICE, "deploy", &[("service", "billionmail")], CHANNEL);
    assert_eq!(r.send(&first).await.0, 200);
    for name in ["deploy", "status", "rollback"] {
        let (v, _) = command(ALICE, name, &[("service", "billionmail")], CHANNEL);
        let (status, answer) = r.send(&v).await;
        assert_eq!(status, 200, "{name}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["type"], 4, "{name}: {answer}");
        assert_eq!(
            answer["data"]["flags"], 64,
            "{name}: only the sender sees it"
        );
        assert!(
            answer["data"]["content"]
                .as_str()
                .unwrap()
                .contains("nothing was done"),
            "{answer}"
        );
    }
    r.flush().await;
    let threads = r
        .fake
        .ok_calls("POST", &format!("/channels/{CHANNEL}/messages/"))
        .into_iter()
        .filter(|c| c.path.ends_with("/threads"))
        .count();
    assert!(threads <= 1, "only the first command may open a thread");
    let metrics = r.bot.metrics().render(r.bot.store()).await;
    assert!(
        metrics.contains("deckhand_events_shed_total{platform=\"discord\"} 3"),
        "{metrics}"
    );
    r.stop().await;
}
