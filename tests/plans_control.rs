//! Plans under control (issue 13, items 2 and 5; stopping them is tests/plans_stop.rs): a
//! restart takes a running step's outcome from its run; a
//! failing step's automatic rollback is told in the plan's closing; plan approvals name each
//! step's approvers, count only people allowed to approve every gated step, need as many
//! approvals as the strictest step, expire (paused time) and can be withdrawn; deploy memory's
//! strategy is shown in the plan question and used; another person's open question is kept.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::RunStatus;
use deckhand::config::{Config, Person, Policy, StageKind};
use deckhand::store::{PlanStatus, StepStatus};
use support::plan_chat::{
    advance, billionmail_needs_redis, restart_notices, run_of, stored_plan, Chat,
};
use support::{config_in, temp_dir};

/// Runs a deploy as alice through the command layer and waits for it; its final status.
async fn deploy(chat: &Chat, service: &str, env: &str, version: &str) -> RunStatus {
    support::deploy(&chat.bot, service, env, version).await
}

fn person(c: &mut Config, name: &str, roles: &[&str]) {
    c.people.insert(
        name.into(),
        Person {
            identities: vec![format!("console:{name}")],
            roles: roles.iter().map(|r| r.to_string()).collect(),
            timezone: None,
        },
    );
}

/// redis deploys through a pipeline whose smoke test (after verify) fails for 7.2.5; its rollback
/// pipeline works unless `rollback_fails`.
fn broken_redis(c: &mut Config, rollback_fails: bool) {
    let mut broken = c.pipelines["local"].clone();
    let mut smoke = broken.stages[0].clone();
    smoke.name = "smoke".into();
    let fails = "echo smoke test failed >&2; exit 1";
    smoke.kind = StageKind::Process {
        // Only the new release fails, so the old one can be deployed first.
        command: format!("if [ \"$DECKHAND_VERSION\" = 7.2.5 ]; then {fails}; fi"),
    };
    broken.stages.push(smoke.clone());
    if rollback_fails {
        let mut rollback = c.pipelines["local-rollback"].clone();
        smoke.kind = StageKind::Process {
            command: fails.into(),
        };
        rollback.stages.insert(0, smoke);
        c.pipelines.insert("broken-rollback".into(), rollback);
        broken.rollback = Some("broken-rollback".into());
    }
    c.pipelines.insert("broken".into(), broken);
    c.services
        .iter_mut()
        .find(|s| s.name == "redis")
        .unwrap()
        .pipeline = "broken".into();
    billionmail_needs_redis(c);
}

#[tokio::test]
async fn a_restart_takes_a_running_steps_outcome_from_its_run() {
    let dir = temp_dir("plan-restart-run");
    let config = config_in("examples/deckhand.yaml", &dir);
    let chat_bot = Bot::new(config.clone()).await.unwrap();
    support::deploy_to_staging(&chat_bot, "redis", "7.2.5").await;
    let done = chat_bot
        .store()
        .latest_deploy_by("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    let id = stored_plan(chat_bot.store(), &["redis", "billionmail"], 1).await;
    // The process died after redis's run succeeded but before the step was recorded done.
    chat_bot
        .store()
        .set_step(id, 1, StepStatus::Running, Some(done.id), "", 0)
        .await
        .unwrap();
    chat_bot.store().close().await;
    drop(chat_bot);
    let bot = Bot::new(config).await.unwrap();
    let plan = bot.store().plan(id).await.unwrap().unwrap();
    assert_eq!(plan.status, PlanStatus::Interrupted);
    assert_eq!(plan.steps[0].status, StepStatus::Succeeded, "{plan:?}");
    assert_eq!(plan.steps[0].run_id, Some(done.id));
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    let told = restart_notices(&bot).await;
    assert!(
        told.iter()
            .any(|t| t.contains("1. redis ✓") && t.contains("2. billionmail – skipped")),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_failing_step_rolled_back_automatically_says_so_in_the_closing() {
    let chat = Chat::new("plan-auto-rollback", |c| broken_redis(c, false)).await;
    chat.deployed("redis", "7.2.4").await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Failed, "{posted}");
    assert_eq!(plan.steps[0].status, StepStatus::Failed);
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    assert!(
        posted.contains(
            "Deploy of redis 7.2.5 to staging failed: smoke failed (exit 1); rolled back to 7.2.4."
        ),
        "{posted}"
    );
    let live = chat
        .bot
        .store()
        .live_versions(Some("redis"), Some("staging"))
        .await
        .unwrap();
    assert_eq!(live[0].version.as_deref(), Some("7.2.4"), "{live:?}");
    // Nothing succeeded, so there is nothing to take back.
    assert!(!posted.contains("roll back the whole plan"), "{posted}");
}

#[tokio::test]
async fn a_failing_step_whose_rollback_fails_says_what_is_live() {
    let chat = Chat::new("plan-rollback-failed", |c| broken_redis(c, true)).await;
    chat.deployed("redis", "7.2.4").await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Failed, "{posted}");
    assert!(
        posted.contains(
            "the automatic rollback to 7.2.4 also failed at smoke, so check staging by hand"
        ),
        "{posted}"
    );
    assert!(posted.contains("7.2.5 is live on staging"), "{posted}");
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
}

/// redis in production needs an sre's approval, billionmail an approver's; erin is only an
/// approver.
fn approvers_differ(c: &mut Config) {
    billionmail_needs_redis(c);
    c.services
        .iter_mut()
        .find(|s| s.name == "redis")
        .unwrap()
        .policies
        .insert(
            "production".into(),
            Policy {
                approve: Some(vec!["sre".into()]),
                ..Default::default()
            },
        );
    person(c, "erin", &["approver"]);
}

#[tokio::test]
async fn a_plan_approval_names_each_steps_approvers_and_needs_someone_allowed_for_all() {
    let chat = Chat::new("plan-approvers", approvers_differ).await;
    chat.say("alice", "update billionmail and redis in production")
        .await;
    let request = chat.say("alice", "yes").await;
    assert_eq!(request.matches("Approval needed").count(), 1, "{request}");
    assert!(
        request.contains("(`sre` for redis → production; `approver` for billionmail → production)"),
        "{request}"
    );
    // erin may approve billionmail's step, not redis's: her approval does not start the plan.
    let erin = chat.say("erin", "approve").await;
    assert!(!erin.contains("Starting plan"), "{erin}");
    assert!(erin.contains("sre"), "{erin}");
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    let bob = chat.say("bob", "approve").await;
    assert!(bob.contains("Starting plan #1"), "{bob}");
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
}

#[tokio::test]
async fn a_plan_needing_two_approvals_starts_on_the_second() {
    let chat = Chat::new("plan-two-approvals", |c| {
        billionmail_needs_redis(c);
        let prod = c
            .environments
            .iter_mut()
            .find(|e| e.name == "production")
            .unwrap();
        prod.policy.approvals = Some(2);
        person(c, "erin", &["approver"]);
    })
    .await;
    chat.say("alice", "update billionmail and redis in production")
        .await;
    let request = chat.say("alice", "yes").await;
    assert!(request.contains("Approval needed"), "{request}");
    let first = chat.say("bob", "approve").await;
    assert!(!first.contains("Starting plan"), "{first}");
    assert!(first.contains("1 of 2"), "{first}");
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    // The same person twice is still one approval.
    let again = chat.say("bob", "approve").await;
    assert!(
        again.contains("You already decided on request #1; your first decision stands."),
        "{again}"
    );
    let decisions = chat.bot.store().decisions(1).await.unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    let second = chat.say("erin", "approve").await;
    assert!(second.contains("Starting plan #1"), "{second}");
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    assert!(
        plan.steps.iter().all(|s| s.status == StepStatus::Succeeded),
        "{plan:?}"
    );
}

#[tokio::test]
async fn an_unanswered_plan_approval_expires_and_nothing_runs() {
    let chat = Chat::new("plan-approval-expiry", billionmail_needs_redis).await;
    chat.say("alice", "update billionmail and redis in production")
        .await;
    let request = chat.say("alice", "yes").await;
    assert!(request.contains("Approval needed"), "{request}");
    // Not yet: a sweep a minute later closes nothing.
    advance(60).await;
    assert_eq!(chat.bot.expire_approvals().await, 0);
    // The example's timeout is 30 minutes.
    advance(1800).await;
    assert_eq!(chat.bot.expire_approvals().await, 1);
    let told = chat.texts();
    assert!(told.contains("⌛ Request #1"), "{told}");
    assert!(
        told.contains("1. redis 7.2.5 → production")
            && told.contains("2. billionmail 2.4.0 → production"),
        "{told}"
    );
    assert!(told.contains("nothing ran"), "{told}");
    let late = chat.say("bob", "approve").await;
    assert!(late.contains("Request #1 expired at"), "{late}");
    assert!(!late.contains("Starting plan"), "{late}");
    chat.assert_no_plan().await;
    let live = chat
        .bot
        .store()
        .live_versions(None, Some("production"))
        .await
        .unwrap();
    assert!(live.is_empty(), "{live:?}");
}

#[tokio::test]
async fn a_withdrawn_plan_request_runs_nothing() {
    let chat = Chat::new("plan-withdrawn", billionmail_needs_redis).await;
    chat.say("alice", "update billionmail and redis in production")
        .await;
    chat.say("alice", "yes").await;
    let withdrawn = chat.say("alice", "cancel").await;
    assert!(withdrawn.contains("withdrawn"), "{withdrawn}");
    assert!(withdrawn.contains("nothing ran"), "{withdrawn}");
    let late = chat.say("bob", "approve").await;
    assert!(
        late.contains("Request #1 was withdrawn by alice; nothing to decide."),
        "{late}"
    );
    chat.assert_no_plan().await;
}

#[tokio::test]
async fn deploy_memory_picks_a_steps_strategy_and_the_question_says_so() {
    let chat = Chat::new("plan-memory", |_| {}).await;
    assert_eq!(
        deploy(&chat, "payments-api", "staging", "3.0.2").await,
        RunStatus::Succeeded
    );
    for _ in 0..2 {
        assert_eq!(
            deploy(&chat, "payments-api", "staging", "3.2.0-rc.1").await,
            RunStatus::Failed
        );
    }
    let asked = chat
        .say("alice", "update payments-api and redis in staging")
        .await;
    assert!(
        asked.contains("⚠ payments-api failed 2 of its last 3 staging deploys (verify stage); recommending canary 10%"),
        "{asked}"
    );
    assert!(asked.contains("Its step runs canary 10%."), "{asked}");
    assert!(asked.contains("[yes/no]"), "{asked}");
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    let run = run_of(&chat, &plan, "payments-api").await;
    assert_eq!(run.strategy.as_str(), "canary", "{posted}");
    assert_eq!(run.percent, Some(10), "{posted}");
    // redis has no history: its step uses the environment's strategy.
    let redis_run = run_of(&chat, &plan, "redis").await;
    assert_eq!(redis_run.strategy.as_str(), "direct");
}

#[tokio::test]
async fn another_persons_plan_question_is_kept() {
    let chat = Chat::new("plan-two-users", billionmail_needs_redis).await;
    let asked = chat
        .say("alice", "update billionmail and redis in staging")
        .await;
    assert!(asked.contains("[yes/no]"), "{asked}");
    for text in [
        "update all services in staging",
        "deploy wix-backend to staging",
        "yes",
        "no",
        "yes but billionmail first",
    ] {
        let bob = chat.say("bob", text).await;
        assert!(
            bob.contains("waiting for alice to answer (a plan)"),
            "{text}: {bob}"
        );
        assert!(!bob.contains("[yes/no]"), "{text}: {bob}");
        assert!(chat.bot.store().plan(1).await.unwrap().is_none(), "{text}");
    }
    // Alice's question still stands, in her order.
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.requested_by, "alice");
    assert_eq!(plan.steps[0].service, "redis", "{posted}");
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
}

#[tokio::test]
async fn invalid_values_in_a_plan_request_are_named_and_nothing_is_asked() {
    let chat = Chat::new("plan-invalid", |_| {}).await;
    for text in [
        "update billionmail and redis in staging with canary 250%",
        "update all services in staging with canary 0%",
    ] {
        let said = chat.say("alice", text).await;
        assert!(!said.contains("[yes/no]"), "{text}: {said}");
        assert!(
            said.contains("is not a valid canary percentage")
                && said.contains("Nothing was deployed"),
            "{text}: {said}"
        );
        chat.say("alice", "yes").await;
        assert!(chat.bot.store().plan(1).await.unwrap().is_none(), "{text}");
    }
}

#[tokio::test]
async fn a_plan_question_is_dropped_by_other_requests_and_expires_with_a_notice() {
    let chat = Chat::new("plan-question-life", billionmail_needs_redis).await;
    for other in ["list schedules", "what's new in dev"] {
        let asked = chat
            .say("alice", "update billionmail and redis in staging")
            .await;
        assert!(asked.contains("[yes/no]"), "{asked}");
        let said = chat.say("alice", other).await;
        assert!(
            said.contains("I dropped the plan question"),
            "{other}: {said}"
        );
        chat.say("alice", "yes").await;
        assert!(chat.bot.store().plan(1).await.unwrap().is_none(), "{other}");
    }
    // Left unanswered past the session's time to live (an hour): forgotten, and said so.
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    advance(3601).await;
    let late = chat.say("alice", "yes").await;
    assert!(
        late.contains("Your earlier request (a plan) expired after 60 min")
            && late.contains("update redis and billionmail in staging"),
        "{late}"
    );
    chat.assert_no_plan().await;
}

#[tokio::test]
async fn a_recommendation_appearing_after_the_question_does_not_change_a_step() {
    let chat = Chat::new("plan-memory-later", |_| {}).await;
    assert_eq!(
        deploy(&chat, "payments-api", "staging", "3.0.2").await,
        RunStatus::Succeeded
    );
    let asked = chat
        .say("alice", "update payments-api and redis in staging")
        .await;
    assert!(!asked.contains('⚠'), "{asked}");
    // Two failures between the question and the yes: deploy memory would now say canary.
    for _ in 0..2 {
        assert_eq!(
            deploy(&chat, "payments-api", "staging", "3.2.0-rc.1").await,
            RunStatus::Failed
        );
    }
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    let run = run_of(&chat, &plan, "payments-api").await;
    // What the question said (staging's direct) is what ran.
    assert_eq!(run.strategy.as_str(), "direct", "{posted}");
    assert_eq!(run.percent, None, "{posted}");
}

#[tokio::test]
async fn a_restart_notice_offers_an_undo_only_for_steps_done() {
    let dir = temp_dir("plan-restart-none-done");
    let config = config_in("examples/deckhand.yaml", &dir);
    let first = Bot::new(config.clone()).await.unwrap();
    let id = stored_plan(first.store(), &["redis", "billionmail"], 1).await;
    // Died while its first step was starting: nothing was done.
    first
        .store()
        .set_step(id, 1, StepStatus::Running, None, "", 1)
        .await
        .unwrap();
    first.store().close().await;
    drop(first);
    let bot = Bot::new(config).await.unwrap();
    let told = restart_notices(&bot).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("interrupted while starting")
            && told[0].contains("Ask again for what did not run."),
        "{told:?}"
    );
    assert!(!told[0].contains("roll back the whole plan"), "{told:?}");
}
