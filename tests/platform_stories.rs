//! The chat stories every platform must tell the same way, each written once against
//! `PlatformRig` (tests/support/rig.rs) and run on Slack and Discord by `on_every_platform!`:
//! approvals by a second user's button or reply, cancelled, rejected, stale and replaced
//! buttons, a burst of progress costing few edits, the final state despite failed edits, the
//! end of a failed stage's output, non-answers, and the rate limit on button decisions.
//! What only one platform does (Socket Mode, the gateway, signatures, slash command
//! registration) stays in that platform's own test files.

mod support;

use std::time::Duration;
use support::fake_core::Failure;
use support::rig::Person::{Alice, Bob, Dave};
use support::rig::{Button, PlatformRig};

/// Asserts that nothing ran: the store has no run #1.
async fn assert_nothing_ran<R: PlatformRig>(r: &R) {
    assert_eq!(
        r.bot().store().run(1).await.unwrap().map(|run| run.id),
        None,
        "nothing ran on {}",
        R::PLATFORM
    );
}

async fn approval_by_a_second_users_button<R: PlatformRig>() {
    let r = R::start().await;
    let production = [("service", "billionmail"), ("environment", "production")];
    let thread = r.slash_command(Alice, "deploy", &production).await;
    let question = r.post_containing(&thread, "Deploy billionmail").await;
    assert_eq!(question.buttons, [Button::Confirm, Button::Cancel]);
    r.click_confirm(Alice, &thread, &question).await;
    let request = r.post_containing(&thread, "Approval needed").await;
    assert_eq!(request.buttons, [Button::Approve(1), Button::Reject(1)]);
    let confirmed = format!("Confirmed by {}", r.mention(Alice));
    let answered = r.edit_containing(&thread, &question.id, &confirmed).await;
    assert!(answered.buttons.is_empty(), "{answered:?}");

    // A viewer's click is refused and changes nothing.
    r.click_approve(Dave, &thread, &request).await;
    r.post_containing(&thread, "may not approve").await;
    r.flush().await;
    assert!(r.edits_of(&thread, &request.id).is_empty());
    // The requester cannot approve their own request either.
    r.click_approve(Alice, &thread, &request).await;
    r.post_containing(&thread, "four-eyes").await;
    r.flush().await;
    assert!(r.edits_of(&thread, &request.id).is_empty());
    // An approver's click counts.
    r.click_approve(Bob, &thread, &request).await;
    let approved = format!("Approved by {}", r.mention(Bob));
    let done = r.edit_containing(&thread, &request.id, &approved).await;
    assert!(done.buttons.is_empty(), "{done:?}");
    r.post_containing(&thread, "is live on production").await;
    r.stop().await;
}

async fn approval_by_a_second_users_reply<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy billionmail to production").await;
    let question = r.post_containing(&thread, "Deploy billionmail").await;
    r.click_confirm(Alice, &thread, &question).await;
    let request = r.post_containing(&thread, "Approval needed").await;
    let confirmed = format!("Confirmed by {}", r.mention(Alice));
    r.edit_containing(&thread, &question.id, &confirmed).await;
    r.say(Bob, &thread, "approve").await;
    let approved = format!("Approved by {}", r.mention(Bob));
    let done = r.edit_containing(&thread, &request.id, &approved).await;
    assert!(done.buttons.is_empty(), "{done:?}");
    r.post_containing(&thread, "is live on production").await;
    r.stop().await;
}

async fn cancel_reject_and_stale_buttons<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy billionmail to staging").await;
    let question = r.post_containing(&thread, "Deploy billionmail").await;
    r.click_cancel(Alice, &thread, &question).await;
    let cancelled = format!("Cancelled by {}", r.mention(Alice));
    let answered = r.edit_containing(&thread, &question.id, &cancelled).await;
    assert!(answered.buttons.is_empty(), "{answered:?}");
    r.flush().await;
    // The answered question's button, clicked again, only says so: no new post.
    let posts = r.posts_in(&thread).len();
    r.click_confirm(Alice, &thread, &question).await;
    r.edit_containing(&thread, &question.id, "no longer open")
        .await;
    r.flush().await;
    assert_eq!(
        r.posts_in(&thread).len(),
        posts,
        "a stale click posts nothing"
    );
    assert_nothing_ran(&r).await;

    // A rejected request runs nothing; its buttons go and the confirmation stays answered.
    let production = [("service", "billionmail"), ("environment", "production")];
    let prod = r.slash_command(Alice, "deploy", &production).await;
    let question = r.post_containing(&prod, "Deploy billionmail").await;
    r.say(Alice, &prod, "yes").await;
    let request = r.post_containing(&prod, "Approval needed").await;
    r.click_reject(Bob, &prod, &request).await;
    let rejected = format!("Rejected by {}", r.mention(Bob));
    let done = r.edit_containing(&prod, &request.id, &rejected).await;
    assert!(done.buttons.is_empty(), "{done:?}");
    let confirmed = format!("Confirmed by {}", r.mention(Alice));
    r.edit_containing(&prod, &question.id, &confirmed).await;
    r.flush().await;
    assert_nothing_ran(&r).await;
    r.stop().await;
}

/// A click can reach Deckhand before the platform's answer to the question's own post does
/// (the message is on screen already); it still answers that question.
async fn a_click_before_the_questions_post_returns_answers_it<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy billionmail to staging").await;
    let first = r.post_containing(&thread, "Deploy billionmail").await;
    r.click_cancel(Alice, &thread, &first).await;
    r.flush().await;
    r.fail_next_posts(&thread, &[Failure::Slow(1.5)]);
    r.say(Alice, &thread, "deploy flaky-api to staging").await;
    let question = r.post_containing(&thread, "Deploy flaky-api").await;
    r.click_confirm(Alice, &thread, &question).await;
    let confirmed = format!("Confirmed by {}", r.mention(Alice));
    let answered = r.edit_containing(&thread, &question.id, &confirmed).await;
    assert!(answered.buttons.is_empty(), "{answered:?}");
    r.post_containing(&thread, "Run #1").await;
    r.flush().await;
    r.stop().await;
}

/// A click whose question's post is still unanswered after the settle wait (10 s) is
/// neither acted on nor taken as stale: the thread is told, and the question stays open.
async fn a_click_that_cannot_be_judged_in_time_is_answered_not_dropped<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy billionmail to staging").await;
    let first = r.post_containing(&thread, "Deploy billionmail").await;
    r.click_cancel(Alice, &thread, &first).await;
    r.flush().await;
    r.fail_next_posts(&thread, &[Failure::Slow(11.0)]);
    r.say(Alice, &thread, "deploy flaky-api to staging").await;
    let question = r.post_containing(&thread, "Deploy flaky-api").await;
    r.click_confirm(Alice, &thread, &question).await;
    r.post_containing(&thread, "nothing was done").await;
    r.flush().await;
    assert_nothing_ran(&r).await;
    // The question is still open: a typed "yes" answers it.
    r.say(Alice, &thread, "yes").await;
    r.post_containing(&thread, "Run #1").await;
    r.flush().await;
    r.stop().await;
}

/// A plan is one message, posted when it starts and edited as its steps go; its steps' runs
/// post no status messages of their own, and a summary closes it.
async fn a_plan_is_one_message_edited_as_it_goes<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r
        .open(Alice, "update billionmail and chatty-api in staging")
        .await;
    r.post_containing(&thread, "Update in this order").await;
    r.say(Alice, &thread, "yes").await;
    let plan = r
        .post_containing(&thread, "Deploying in order (plan #1")
        .await;
    let done = r
        .edit_containing(&thread, &plan.id, "✅ Plan #1 done.")
        .await;
    assert!(done.text.contains("✓ (run 1, "), "{done:?}");
    assert!(done.text.contains("✓ (run 2, "), "{done:?}");
    r.post_containing(&thread, "✅ Plan #1 done:").await;
    r.flush().await;
    let posts = r.posts_in(&thread);
    assert!(
        !posts.iter().any(|m| m.text.contains("Run #")),
        "no status message per step: {posts:#?}"
    );
    assert_eq!(
        posts
            .iter()
            .filter(|m| m.text.contains("Deploying in order"))
            .count(),
        1,
        "{posts:#?}"
    );
    r.stop().await;
}

async fn a_click_on_an_old_question_never_answers_a_newer_one<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy billionmail to staging").await;
    let old = r.post_containing(&thread, "Deploy billionmail").await;
    // The next post in the thread is slow (rate limited), so the newer question's message is
    // not on screen yet when the old button is clicked.
    r.fail_next_posts(&thread, &[Failure::RateLimited(2.0)]);
    r.say(Alice, &thread, "status").await;
    r.say(Alice, &thread, "deploy flaky-api to staging").await;
    r.wait_until("the rate-limited post", |r| {
        r.post_attempts_in(&thread).iter().any(|m| !m.ok)
    })
    .await;
    r.click_confirm(Alice, &thread, &old).await;
    r.post_containing(&thread, "Deploy flaky-api").await;
    r.flush().await;
    assert_nothing_ran(&r).await;
    let edits = r.edits_of(&thread, &old.id);
    assert!(!edits.is_empty(), "the old question's buttons were retired");
    assert!(edits.iter().all(|e| e.buttons.is_empty()), "{edits:#?}");
    r.stop().await;
}

async fn a_burst_of_progress_lines_costs_a_few_edits_and_ends_in_the_final_state<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy chatty-api to staging").await;
    r.post_containing(&thread, "Deploy chatty-api").await;
    // The status message is the next post. Its first edits meet a rate limit and a server
    // error; the final state still arrives.
    let status_id = r.next_message_id();
    r.fail_edits_of(
        &thread,
        &status_id,
        &[Failure::RateLimited(1.0), Failure::ServerError],
    );
    r.say(Alice, &thread, "yes").await;
    let status = r.post_containing(&thread, "Run #1").await;
    assert_eq!(status.id, status_id);
    let last = r.edit_containing(&thread, &status_id, "· succeeded").await;
    r.post_containing(&thread, "is live on staging").await;
    r.flush().await;
    let edits = r.edits_of(&thread, &status_id);
    // 200 output lines plus stage events: a handful of attempts, not hundreds.
    assert!(edits.len() <= 8, "{} edits: {edits:#?}", edits.len());
    assert!(edits.len() >= 3, "{edits:#?}");
    assert!(
        !edits[0].ok && !edits[1].ok,
        "the scripted failures were met"
    );
    let final_edit = edits.last().unwrap();
    assert!(final_edit.ok);
    assert_eq!(
        final_edit.body, last.body,
        "the last edit is the final state"
    );
    assert!(last.text.contains("deploy ✓"), "{last:?}");
    assert!(!last.text.contains("progress line"), "{last:?}");
    // Every attempt, failed or not, is at least about a second after the previous one, and
    // the attempt after the 429 waited for its retry-after (1 s).
    for pair in edits.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(900), "attempts {gap:?} apart");
    }
    assert!(edits[1].at.duration_since(edits[0].at) >= Duration::from_millis(990));
    r.stop().await;
}

async fn the_final_state_arrives_even_when_the_status_message_cannot_be_edited<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy billionmail to staging").await;
    r.post_containing(&thread, "Deploy billionmail").await;
    // Every edit of the status message (the next post) is refused.
    let status_id = r.next_message_id();
    r.fail_edits_of(&thread, &status_id, &[Failure::Refused; 20]);
    r.say(Alice, &thread, "yes").await;
    let status = r.post_containing(&thread, "Run #1").await;
    assert_eq!(status.id, status_id);
    // The final state is posted as a new message in the thread instead.
    let last = r.post_containing(&thread, "· succeeded").await;
    assert_ne!(last.id, status_id);
    assert!(last.text.contains("deploy ✓"), "{last:?}");
    r.post_containing(&thread, "is live on staging").await;
    r.flush().await;
    assert!(r.edits_of(&thread, &status_id).iter().all(|e| !e.ok));
    r.stop().await;
}

async fn a_failed_stage_posts_the_end_of_its_output<R: PlatformRig>() {
    let r = R::start().await;
    let thread = r.open(Alice, "deploy flaky-api to staging").await;
    r.post_containing(&thread, "Deploy flaky-api").await;
    r.say(Alice, &thread, "yes").await;
    let note = r.post_containing(&thread, "Stage `test` failed").await.text;
    assert!(note.contains("```"), "in a code block: {note}");
    assert!(
        note.contains("assertion failed: expected 200, got 500"),
        "{note}"
    );
    assert!(note.contains("test output 50"), "{note}");
    assert!(!note.contains("test output 1\n"), "only the tail: {note}");
    let status = r.post_containing(&thread, "Run #1").await;
    r.edit_containing(&thread, &status.id, "· failed").await;
    r.stop().await;
}

async fn disguised_answers_are_read_as_what_they_are<R: PlatformRig>() {
    let r = R::start().await;
    // Non-answers in a thread reply: nothing runs, the question stays.
    let thread = r.open(Alice, "deploy billionmail to staging").await;
    r.post_containing(&thread, "Deploy billionmail").await;
    let non_answers = [
        "нет",
        "Nein",
        "いいえ",
        "لا",
        "\u{200B}",
        "\u{FEFF}",
        "42",
        "好",
        "🤷",
    ];
    for text in non_answers {
        r.say(Alice, &thread, text).await;
        r.flush().await;
    }
    let said: Vec<String> = r.posts_in(&thread).into_iter().map(|m| m.text).collect();
    assert!(
        !said.iter().any(|t| t.contains("Run #")),
        "a run started: {said:#?}"
    );
    let asked_again = said
        .iter()
        .filter(|t| t.contains("Please answer yes or no"))
        .count();
    assert!(asked_again >= 8, "{said:#?}");
    // "no" followed by a zero-width space is a no.
    r.say(Alice, &thread, "no\u{200B}").await;
    r.post_containing(&thread, "OK, I won't deploy billionmail")
        .await;
    assert_nothing_ran(&r).await;
    r.stop().await;
}

/// An approval click is an action like a typed "approve": it counts towards
/// `governance.rate_limit_actions` and is refused once the budget is spent.
async fn approval_clicks_count_towards_the_rate_limit<R: PlatformRig>() {
    let r = R::start_with(|config| config.governance.rate_limit_actions = 2).await;
    let thread = r.open(Alice, "deploy billionmail to production").await;
    let question = r.post_containing(&thread, "Deploy billionmail").await;
    r.click_confirm(Alice, &thread, &question).await;
    let request = r.post_containing(&thread, "Approval needed").await;

    // Bob spends his two actions elsewhere (answers to questions are not actions).
    let other = r.open(Bob, "deploy billionmail to staging").await;
    r.post_containing(&other, "Deploy billionmail").await;
    r.say(Bob, &other, "no").await;
    r.post_containing(&other, "OK, I won't deploy billionmail")
        .await;
    r.say(Bob, &other, "lock staging").await;
    r.post_containing(&other, "Lock staging").await;
    // A typed "approve" is refused now...
    r.say(Bob, &thread, "approve").await;
    r.post_containing(&thread, "Slow down").await;
    r.flush().await;
    // ...and so is a click on the Approve button, once its handler has finished.
    r.click_approve(Bob, &thread, &request).await;
    r.flush().await;
    let refusals = r
        .posts_in(&thread)
        .iter()
        .filter(|m| m.text.contains("Slow down"))
        .count();
    assert_eq!(refusals, 2, "the click was refused like the typed approve");
    assert!(
        r.edits_of(&thread, &request.id).is_empty(),
        "the request stays open"
    );
    assert!(!r
        .posts_in(&thread)
        .iter()
        .any(|m| m.text.contains("is live on production")));
    assert_nothing_ran(&r).await;
    r.stop().await;
}

/// One test per story and platform: `slack::story` and `discord::story`.
macro_rules! on_every_platform {
    ($($(#[$attr:meta])* $story:ident),* $(,)?) => {
        stories_for!(slack, crate::support::slack_rig::Rig; $($(#[$attr])* $story),*);
        stories_for!(discord, crate::support::discord_rig::Rig; $($(#[$attr])* $story),*);
    };
}

macro_rules! stories_for {
    ($platform:ident, $rig:ty; $($(#[$attr:meta])* $story:ident),*) => {
        mod $platform {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story::<$rig>().await;
                }
            )*
        }
    };
}

on_every_platform!(
    approval_by_a_second_users_button,
    approval_by_a_second_users_reply,
    cancel_reject_and_stale_buttons,
    a_click_on_an_old_question_never_answers_a_newer_one,
    a_click_before_the_questions_post_returns_answers_it,
    a_click_that_cannot_be_judged_in_time_is_answered_not_dropped,
    a_plan_is_one_message_edited_as_it_goes,
    a_burst_of_progress_lines_costs_a_few_edits_and_ends_in_the_final_state,
    the_final_state_arrives_even_when_the_status_message_cannot_be_edited,
    a_failed_stage_posts_the_end_of_its_output,
    disguised_answers_are_read_as_what_they_are,
    approval_clicks_count_towards_the_rate_limit,
);
