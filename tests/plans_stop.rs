//! Stopping plans (issue 13, item 2): "cancel" stops whichever step runs when the "yes" comes
//! and none after it; who may stop a plan, even while another person's question is open in
//! the thread; one stop question per person; a stop that comes after the plan ended, or
//! that reaches a process not running the plan, says so.

mod support;

use deckhand::chat::RunStatus;
use deckhand::store::{PlanStatus, StepStatus};
use std::time::Duration;
use support::plan_chat::{
    billionmail_needs_redis, plan_with_step_running, run_of, slow, step_running, stored_plan, Chat,
};

#[tokio::test]
async fn a_yes_given_after_the_first_step_ended_cancels_the_second() {
    let chat = Chat::new("plan-cancel-late", |c| {
        slow(c, "redis");
        slow(c, "billionmail");
        billionmail_needs_redis(c);
    })
    .await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    step_running(&chat, 1).await;
    let asked = chat.say("alice", "cancel").await;
    assert!(
        asked.contains("Stop plan #1 (step 1 of 2: redis → staging"),
        "{asked}"
    );
    // The question was about step 1; by the "yes", step 2 runs: that one is stopped.
    step_running(&chat, 2).await;
    let stopping = chat.say("alice", "yes").await;
    assert!(stopping.contains("Stopping plan #1"), "{stopping}");
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Cancelled, "{posted}");
    assert_eq!(plan.steps[0].status, StepStatus::Succeeded);
    assert_eq!(plan.steps[1].status, StepStatus::Failed);
    assert_eq!(plan.steps[1].detail, "cancelled");
    let run = run_of(&chat, &plan, "billionmail").await;
    assert_eq!(run.status, RunStatus::Cancelled);
    // The step done can be taken back in one go.
    assert!(posted.contains("roll back the whole plan"), "{posted}");
    // The audit log is written behind the reply: look a while.
    let mut kinds = Vec::new();
    for _ in 0..100 {
        let page = chat.bot.store().audit_page(0, 1000).await.unwrap();
        kinds = page.into_iter().map(|e| e.kind).collect::<Vec<_>>();
        if kinds.iter().any(|k| k == "plan.cancelled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(kinds.iter().any(|k| k == "plan.cancelled"), "{kinds:?}");
}

#[tokio::test]
async fn someone_without_rights_cannot_stop_a_plan() {
    let chat = plan_with_step_running("plan-cancel-rights").await;
    // dave (viewer) may not deploy to staging: no question, nothing stopped.
    let dave = chat.say("dave", "cancel").await;
    assert!(!dave.contains("[yes/no]"), "{dave}");
    assert!(
        dave.contains("You can't stop plan #1 (redis → staging, asked by alice): dave may not deploy to staging"),
        "{dave}"
    );
    chat.say("dave", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
}

#[tokio::test]
async fn another_person_may_stop_a_plan_while_someones_question_is_open() {
    let chat = plan_with_step_running("plan-cancel-other").await;
    // Alice has a new question open in the thread while plan #1 runs.
    let asked = chat.say("alice", "update wix-backend in dev").await;
    assert!(asked.contains("[yes/no]"), "{asked}");
    let bob = chat.say("bob", "cancel").await;
    assert!(
        bob.contains("Stop plan #1 (step 1 of 2: redis → staging, asked by alice"),
        "{bob}"
    );
    // Alice's "no" answers her own question, not Bob's stop question.
    let alice = chat.say("alice", "no").await;
    assert!(!alice.contains("keeps going"), "{alice}");
    let stopping = chat.say("bob", "yes").await;
    assert!(stopping.contains("Stopping plan #1"), "{stopping}");
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Cancelled, "{posted}");
}

#[tokio::test]
async fn a_stop_confirmed_after_the_plan_ended_says_so() {
    let chat = plan_with_step_running("plan-stop-late").await;
    let asked = chat.say("alice", "cancel").await;
    assert!(asked.contains("Stop plan #1"), "{asked}");
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    let late = chat.say("alice", "yes").await;
    assert!(
        late.contains("Plan #1 had already ended (succeeded); nothing to stop."),
        "{late}"
    );
    assert!(!late.contains("Stopping plan"), "{late}");
}

#[tokio::test]
async fn a_cancel_for_a_plan_another_process_runs_says_so() {
    let chat = Chat::new("plan-elsewhere", |_| {}).await;
    let id = stored_plan(chat.bot.store(), &["redis"], deckhand::clock::now_ms()).await;
    chat.bot
        .store()
        .execute_raw(&format!(
            "UPDATE plans SET owner = 'other-host:4242' WHERE id = {id}"
        ))
        .await
        .unwrap();
    let said = chat.say("alice", "cancel").await;
    assert!(
        said.contains(&format!(
            "Plan #{id} of this thread runs in another Deckhand process (other-host:4242)"
        )) && said.contains("nothing was stopped from here"),
        "{said}"
    );
    assert!(!said.contains("[yes/no]"), "{said}");
    assert!(!said.contains("nothing to cancel"), "{said}");
}

#[tokio::test]
async fn two_peoples_stop_questions_are_each_their_own() {
    let chat = plan_with_step_running("plan-two-stops").await;
    assert!(chat.say("alice", "cancel").await.contains("Stop plan #1"));
    assert!(chat.say("bob", "cancel").await.contains("Stop plan #1"));
    // Bob's question did not replace Alice's: her "yes" answers hers.
    let stopping = chat.say("alice", "yes").await;
    assert!(stopping.contains("Stopping plan #1"), "{stopping}");
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Cancelled, "{posted}");
    // Bob's is still his: by now the plan has ended, and his "yes" says so.
    let late = chat.say("bob", "yes").await;
    assert!(
        late.contains("Plan #1 had already ended (cancelled)"),
        "{late}"
    );
}
