//! Plans (issue 13, items 1, 2 and 5 as far as they go): "update billionmail and redis in
//! staging" shows what is new in the order `depends_on` gives and asks; "yes" runs the steps
//! one after another with real pipelines; "yes but billionmail first" overrides the order; a
//! step refused when it is due (a lock put in place after the question) or whose run fails
//! stops the rest, recorded skipped; a plan whose steps need approval asks once and runs on
//! that one approval; the plan is one message, edited as it moves; a plan a dead process left
//! running is marked interrupted at the next start.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::ThreadKey;
use deckhand::command::{Command, EnvName, Origin, Outcome, ServiceName};
use deckhand::config::StageKind;
use deckhand::pipeline::{ProgressSink, RunEvent};
use deckhand::store::{NewStep, PlanStatus, StepStatus};
use std::sync::Arc;
use std::time::Duration;
use support::plan_chat::{billionmail_needs_redis, restart_notices, slow_redis, Chat};
use support::{config_in, temp_dir};

struct Quiet;
impl ProgressSink for Quiet {
    fn report(&self, _: &RunEvent) {}
}

#[tokio::test]
async fn a_plan_runs_in_dependency_order() {
    let chat = Chat::new("plan-deps", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    let asked = chat
        .say("alice", "update billionmail and redis in staging")
        .await;
    assert!(
        asked.contains("Checking for updates in staging:"),
        "{asked}"
    );
    assert!(asked.contains("- billionmail: 2.3.1 → 2.4.0"), "{asked}");
    assert!(asked.contains("- redis: 7.2.4 → 7.2.5"), "{asked}");
    assert!(
        asked.contains("Update in this order: 1. redis 7.2.5, 2. billionmail 2.4.0? [yes/no]"),
        "{asked}"
    );
    // Nothing runs before "yes"; someone else's "yes" is not it.
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    chat.say("bob", "yes").await;
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    let started = chat.say("alice", "yes").await;
    assert!(
        started.contains(
            "Deploying in order (plan #1, asked by alice):\n1. redis 7.2.5 → staging …\n2. billionmail 2.4.0 → staging …"
        ),
        "{started}"
    );
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    assert!(posted.contains("✅ Plan #1 done: 1. redis ✓"), "{posted}");
    // One message for the plan: its steps' runs post nothing of their own, the plan's
    // message shows each step as it goes.
    assert!(!posted.contains("is live on staging"), "{posted}");
    assert!(posted.contains("1. redis 7.2.5 → staging ⏳"), "{posted}");
    assert!(
        posted.contains(&format!(
            "1. redis 7.2.5 → staging ✓ (run {}, ",
            plan.steps[0].run_id.unwrap()
        )),
        "{posted}"
    );
    let (redis, bm) = (&plan.steps[0], &plan.steps[1]);
    assert_eq!(
        (redis.service.as_str(), bm.service.as_str()),
        ("redis", "billionmail")
    );
    assert!(redis.run_id.unwrap() < bm.run_id.unwrap());
    let run = chat
        .bot
        .store()
        .run(bm.run_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.version.as_deref(), Some("2.4.0"));
    assert_eq!(run.status.as_str(), "succeeded");
    // History shows the plan; status shows it only while it runs.
    let history = chat.say("dave", "history").await;
    assert!(
        history.contains("▶ plan #1 by alice (succeeded")
            && history.contains("1. redis ✓ (")
            && history.contains(" s) · 2. billionmail ✓ ("),
        "{history}"
    );
    let status = chat.say("dave", "status").await;
    assert!(!status.contains("▶ plan"), "{status}");
}

#[tokio::test]
async fn status_shows_a_running_plan_in_scope() {
    let chat = Chat::new("plan-status", |_| {}).await;
    let step = |s: &str| NewStep {
        command: "{}".into(),
        service: s.into(),
        environment: "staging".into(),
    };
    let origin = Origin::Api {
        client: "alice".into(),
    };
    let now = deckhand::clock::now_ms();
    let id = chat
        .bot
        .store()
        .create_plan("alice", &origin, &[step("redis"), step("billionmail")], now)
        .await
        .unwrap();
    chat.bot
        .store()
        .set_step(id, 1, StepStatus::Running, None, "", now)
        .await
        .unwrap();
    let status = chat.say("dave", "status").await;
    assert!(
        status.contains("▶ plan #1 by alice (running): 1. redis ⏳ · 2. billionmail …"),
        "{status}"
    );
    let other = chat.say("dave", "status wix-backend in dev").await;
    assert!(!other.contains("▶ plan"), "{other}");
    let scoped = chat.say("dave", "status billionmail").await;
    assert!(scoped.contains("▶ plan #1"), "{scoped}");
    // A plan whose process stopped beating is not shown as plainly running.
    let old = now - 10 * 60_000;
    let silent = chat
        .bot
        .store()
        .create_plan("alice", &origin, &[step("wix-backend")], old)
        .await
        .unwrap();
    chat.bot
        .store()
        .set_step(silent, 1, StepStatus::Running, None, "", old)
        .await
        .unwrap();
    let status = chat.say("dave", "status wix-backend").await;
    assert!(
        status.contains(&format!(
            "▶ plan #{silent} by alice (running? last sign of life 10 min ago)"
        )),
        "{status}"
    );
}

#[tokio::test]
async fn the_users_order_overrides_the_dependencies() {
    let chat = Chat::new("plan-user-order", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    // An order alone asks again; a name not in the plan is named, nothing changes.
    let again = chat.say("alice", "billionmail first").await;
    assert!(
        again.contains("Update in this order: 1. billionmail 2.4.0, 2. redis 7.2.5? [yes/no]"),
        "{again}"
    );
    let stray = chat.say("alice", "yes but postgres first").await;
    assert!(stray.contains("`postgres` is not in this plan"), "{stray}");
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    chat.say("alice", "yes but billionmail first").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    assert_eq!(plan.steps[0].service, "billionmail");
    assert_eq!(plan.steps[1].service, "redis");
}

#[tokio::test]
async fn a_step_refused_when_due_stops_the_rest() {
    let chat = Chat::new("plan-locked", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    // Between the question and the yes, redis is locked in staging (from another thread).
    let c = chat.bot.commander();
    let lock = Command::Lock(deckhand::command::LockSpec::plain(
        deckhand::command::LockTarget {
            environment: EnvName::resolve(c.config(), "staging").unwrap(),
            service: Some(ServiceName::resolve(c.config(), "redis").unwrap()),
        },
        None,
        Some("cache migration".into()),
    ));
    let bob = c.governance().actor_for_person("bob");
    let origin = Origin::Api {
        client: "bob".into(),
    };
    assert!(matches!(
        c.apply(lock, &bob, &origin, Arc::new(Quiet)).await.unwrap(),
        Outcome::Answer(_)
    ));
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Failed);
    assert_eq!(plan.steps[0].status, StepStatus::Refused);
    assert!(
        plan.steps[0].detail.contains("cache migration"),
        "{:?}",
        plan.steps[0]
    );
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    assert!(plan.steps[1].run_id.is_none());
    assert!(
        posted.contains("Plan #1 stopped: 1. redis ⛔ refused"),
        "{posted}"
    );
    assert!(posted.contains("2. billionmail – skipped"), "{posted}");
}

#[tokio::test]
async fn a_failing_step_stops_the_rest() {
    let chat = Chat::new("plan-failing", |c| {
        // redis deploys through a pipeline whose smoke test fails.
        let mut broken = c.pipelines["local"].clone();
        let mut smoke = broken.stages[0].clone();
        smoke.name = "smoke".into();
        smoke.kind = StageKind::Process {
            command: "echo smoke test failed >&2; exit 1".into(),
        };
        broken.stages.push(smoke);
        broken.rollback = None;
        c.pipelines.insert("broken".into(), broken);
        let staging = c
            .environments
            .iter_mut()
            .find(|e| e.name == "staging")
            .unwrap();
        staging.auto_rollback = false;
        c.services
            .iter_mut()
            .find(|s| s.name == "redis")
            .unwrap()
            .pipeline = "broken".into();
        billionmail_needs_redis(c);
    })
    .await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Failed, "{posted}");
    assert_eq!(plan.steps[0].status, StepStatus::Failed);
    assert!(plan.steps[0].run_id.is_some());
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    assert!(posted.contains("1. redis ✗ failed"), "{posted}");
    // The failed stage's own output closes the plan, since the step posted no message.
    assert!(
        posted.contains("Last output of the failed step:\n```\nsmoke test failed\n```"),
        "{posted}"
    );
    assert!(
        posted.contains("2. billionmail 2.4.0 → staging – skipped"),
        "{posted}"
    );
    // billionmail never ran.
    let runs = chat
        .bot
        .store()
        .run(plan.steps[0].run_id.unwrap() + 1)
        .await
        .unwrap();
    assert!(runs.is_none());
}

#[tokio::test]
async fn a_plan_for_roles_one_lacks_is_refused_before_it_is_asked() {
    let chat = Chat::new("plan-refused", |_| {}).await;
    let dave = chat.say("dave", "update all services in staging").await;
    assert!(dave.contains("dave may not deploy"), "{dave}");
    assert!(!dave.contains("[yes/no]"), "{dave}");
    // A "yes" afterwards starts nothing.
    chat.say("dave", "yes").await;
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    let no_env = chat.say("alice", "update all services").await;
    assert!(no_env.contains("Which environment?"), "{no_env}");
}

#[tokio::test]
async fn a_plan_needing_approval_asks_once_and_runs_every_step_when_approved() {
    let chat = Chat::new("plan-approval", billionmail_needs_redis).await;
    let asked = chat
        .say("alice", "update billionmail and redis in production")
        .await;
    assert!(asked.contains("Update in this order: 1. redis"), "{asked}");
    let request = chat.say("alice", "yes").await;
    // One request for the whole plan, naming every step; nothing runs before it is decided.
    assert_eq!(request.matches("Approval needed").count(), 1, "{request}");
    assert!(
        request.contains("run a plan, one approval for all of it: 1. redis 7.2.5 → production, 2. billionmail 2.4.0 → production"),
        "{request}"
    );
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    // The API shows an approver the whole plan the request approves, not only one step.
    let stored = chat.bot.store().approval(1).await.unwrap().unwrap();
    let view = serde_json::to_value(deckhand::api::views::ApprovalView::new(&stored, 0)).unwrap();
    let steps: Vec<(&str, &str)> = view["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap(),
                s["version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [("redis", "7.2.5"), ("billionmail", "2.4.0")],
        "{view}"
    );
    // Not a sentence, not the requester: still nothing.
    chat.say("bob", "looks fine to me").await;
    let own = chat.say("alice", "approve").await;
    assert!(own.contains("own request"), "{own}");
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    let approved = chat.say("bob", "approve").await;
    assert!(
        approved.contains("✅ Approved by bob. Starting plan #1 (2 steps)"),
        "{approved}"
    );
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    assert_eq!(plan.requested_by, "alice");
    assert!(
        plan.steps.iter().all(|s| s.status == StepStatus::Succeeded),
        "{plan:?}"
    );
    // Both production steps ran on that one approval: no second request was filed.
    assert!(!posted.contains("Approval needed"), "{posted}");
    let live = chat
        .bot
        .store()
        .live_versions(None, Some("production"))
        .await
        .unwrap();
    for (service, version) in [("redis", "7.2.5"), ("billionmail", "2.4.0")] {
        assert!(
            live.iter()
                .any(|d| d.service == service && d.version.as_deref() == Some(version)),
            "{service}: {live:?}"
        );
    }
}

#[tokio::test]
async fn a_rejected_plan_runs_nothing() {
    let chat = Chat::new("plan-rejected", |_| {}).await;
    chat.say("alice", "update billionmail and redis in production")
        .await;
    let request = chat.say("alice", "yes").await;
    assert!(request.contains("Approval needed"), "{request}");
    let rejected = chat.say("bob", "reject").await;
    assert!(rejected.contains("Rejected by bob"), "{rejected}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
    let live = chat
        .bot
        .store()
        .live_versions(None, Some("production"))
        .await
        .unwrap();
    assert!(live.is_empty(), "{live:?}");
}

#[tokio::test]
async fn a_plan_left_running_by_a_dead_process_is_interrupted_at_start() {
    let dir = temp_dir("plan-interrupted");
    let config = config_in("examples/deckhand.yaml", &dir);
    let bot = Bot::new(config.clone()).await.unwrap();
    let step = |s: &str| NewStep {
        command: "{}".into(),
        service: s.into(),
        environment: "staging".into(),
    };
    let thread = ThreadKey::new("console", "console", "rel");
    let origin = Origin::Thread(thread.clone());
    let id = bot
        .store()
        .create_plan(
            "alice",
            &origin,
            &[step("redis"), step("billionmail"), step("wix-backend")],
            1,
        )
        .await
        .unwrap();
    bot.store()
        .set_step(id, 1, StepStatus::Succeeded, None, "", 0)
        .await
        .unwrap();
    bot.store()
        .set_step(id, 2, StepStatus::Running, Some(77), "", 0)
        .await
        .unwrap();
    drop(bot);
    // The plan's owner is this process, which "restarts": the new bot finds it running.
    let bot = Bot::new(config).await.unwrap();
    let plan = bot.store().plan(id).await.unwrap().unwrap();
    assert_eq!(plan.status, PlanStatus::Interrupted);
    assert_eq!(plan.steps[0].status, StepStatus::Succeeded);
    // The running step may have switched its target: failed, its run kept, not skipped.
    assert_eq!(plan.steps[1].status, StepStatus::Failed);
    assert_eq!(plan.steps[1].detail, "interrupted while running");
    assert_eq!(plan.steps[1].run_id, Some(77));
    assert_eq!(plan.steps[2].status, StepStatus::Skipped);
    assert_eq!(plan.steps[2].detail, "the plan was interrupted");
    // Its thread is told, once its platform is there: what was done, what did not run.
    let told = restart_notices(&bot).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains(&format!("Deckhand restarted while plan #{id} was running")),
        "{told:?}"
    );
    assert!(
        told[0].contains("1. redis ✓ · 2. billionmail ✗ failed: interrupted while running (run 77) · 3. wix-backend – skipped"),
        "{told:?}"
    );
}

#[tokio::test]
async fn only_a_clean_yes_starts_a_plan() {
    let chat = Chat::new("plan-clean-yes", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    for answer in [
        "ok, let me check with bob",
        "yes but not billionmail",
        "sure, after lunch",
        "yes, and wix-backend too",
        "yes if the tests pass",
    ] {
        let said = chat.say("alice", answer).await;
        assert!(
            said.contains("I can take only yes, no or an order")
                || said.contains("not in this plan"),
            "{answer}: {said}"
        );
        assert!(
            chat.bot.store().plan(1).await.unwrap().is_none(),
            "{answer}"
        );
    }
    // The question still stands; an alias works in an order.
    chat.say("alice", "yes but bm first").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.steps[0].service, "billionmail", "{posted}");
}

#[tokio::test]
async fn the_request_itself_may_exclude_and_order() {
    let chat = Chat::new("plan-request-words", |_| {}).await;
    let asked = chat
        .say(
            "alice",
            "update all services except payments-api in staging, redis first",
        )
        .await;
    assert!(!asked.contains("payments-api"), "{asked}");
    assert!(
        asked.contains("Update in this order: 1. redis 7.2.5,"),
        "{asked}"
    );
    assert!(asked.contains("wix-backend"), "{asked}");
    chat.say("alice", "no").await;
    for (text, needle) in [
        (
            "update billionmail and redis to 2.4.1 in staging",
            "the version 2.4.1",
        ),
        ("update all services in staging at 18:00", "a time"),
        (
            "update billionmail and redis in staging with blue-green",
            "a strategy",
        ),
    ] {
        let said = chat.say("alice", text).await;
        assert!(
            said.contains(needle) && said.contains("Nothing was deployed"),
            "{text}: {said}"
        );
        assert!(!said.contains("[yes/no]"), "{text}: {said}");
    }
    chat.say("alice", "yes").await;
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
}

#[tokio::test]
async fn a_step_already_updated_meanwhile_is_not_redeployed_or_downgraded() {
    let chat = Chat::new("plan-stale", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    // Bob updates redis before Alice answers.
    chat.deployed("redis", "7.2.5").await;
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.steps[0].status, StepStatus::Refused, "{posted}");
    assert!(
        plan.steps[0].detail.contains("already runs 7.2.5"),
        "{:?}",
        plan.steps[0]
    );
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
}

#[tokio::test]
async fn cancel_in_the_thread_stops_the_running_step_and_the_plan() {
    let chat = Chat::new("plan-cancel", slow_redis).await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    for _ in 0..200 {
        let p = chat.bot.store().plan(1).await.unwrap().unwrap();
        if p.steps[0].status == StepStatus::Running && p.steps[0].run_id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = chat.say("alice", "cancel").await;
    assert!(
        asked.contains("Stop plan #1 (step 1 of 2: redis → staging, asked by alice; no step after it would run)? [yes/no]"),
        "{asked}"
    );
    let stopping = chat.say("alice", "yes").await;
    assert!(stopping.contains("Stopping plan #1"), "{stopping}");
    let (plan, posted) = chat.ended(1).await;
    // On a busy machine the plan may end before the "yes" has been answered.
    let posted = format!("{stopping}{posted}");
    assert_eq!(plan.status, PlanStatus::Cancelled, "{posted}");
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    assert!(plan.steps[1].run_id.is_none());
    assert!(posted.contains("⊘ Plan #1 cancelled."), "{posted}");
    assert!(
        posted.contains("Plan #1 cancelled: 1. redis ✗ failed: cancelled"),
        "{posted}"
    );
}

#[tokio::test]
async fn a_shutdown_waits_for_the_plan_and_cancelling_everything_stops_it() {
    // redis's pipeline takes a while, so the shutdown comes during its step.
    let chat = Chat::new("plan-shutdown", slow_redis).await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    // Wait for the first step to be running.
    for _ in 0..200 {
        let p = chat.bot.store().plan(1).await.unwrap().unwrap();
        if p.steps[0].status == StepStatus::Running && p.steps[0].run_id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second signal: every run is cancelled, and no new step may start.
    chat.bot.cancel_all_runs();
    chat.bot.wait_idle().await;
    // Waiting for idle waited for the plan itself, not only for its run.
    let plan = chat.bot.store().plan(1).await.unwrap().unwrap();
    // Nobody cancelled it: the shutdown interrupted it, and it says so.
    assert_eq!(plan.status, PlanStatus::Interrupted, "{plan:?}");
    assert_eq!(plan.steps[0].status, StepStatus::Failed);
    assert_eq!(plan.steps[0].detail, "cancelled");
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    assert_eq!(plan.steps[1].detail, "Deckhand was shutting down");
    assert!(plan.steps[1].run_id.is_none());
    let first = plan.steps[0].run_id.unwrap();
    assert!(chat.bot.store().run(first + 1).await.unwrap().is_none());
}

#[tokio::test]
async fn rolling_back_the_whole_plan_undoes_its_steps_in_reverse_order() {
    let chat = Chat::new("plan-undo", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    // Nothing to undo yet.
    let none = chat.say("alice", "roll back the whole plan").await;
    assert!(none.contains("No plan ran in this thread"), "{none}");
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    chat.ended(1).await;
    let asked = chat.say("alice", "roll back the whole plan").await;
    assert!(
        asked.contains("Roll back plan #1 in reverse order: 1. billionmail in staging (from 2.4.0 back to 2.3.1), 2. redis in staging (from 7.2.5 back to 7.2.4)?"),
        "{asked}"
    );
    // Nothing runs before the yes, and an order is not one.
    let order = chat.say("alice", "yes but redis first").await;
    assert!(order.contains("only yes or no"), "{order}");
    assert!(chat.bot.store().plan(2).await.unwrap().is_none());
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(2).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    assert!(
        posted.contains("Rolling back in order (plan #2"),
        "{posted}"
    );
    // Its steps ran as rollbacks (rollback policy, locks and freezes, recorded as such).
    for step in &plan.steps {
        let run = chat
            .bot
            .store()
            .run(step.run_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(run.action, deckhand::store::Action::Rollback, "{run:?}");
    }
    assert_eq!(
        plan.steps
            .iter()
            .map(|s| s.service.as_str())
            .collect::<Vec<_>>(),
        ["billionmail", "redis"]
    );
    let live = chat
        .bot
        .store()
        .live_versions(None, Some("staging"))
        .await
        .unwrap();
    for (service, version) in [("billionmail", "2.3.1"), ("redis", "7.2.4")] {
        assert!(
            live.iter()
                .any(|d| d.service == service && d.version.as_deref() == Some(version)),
            "{service}: {live:?}"
        );
    }
}

#[tokio::test]
async fn undoing_a_plan_never_takes_back_a_later_deploy() {
    let chat = Chat::new("plan-undo-later", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.3.1").await;
    chat.deployed("redis", "7.2.4").await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    chat.ended(1).await;
    let asked = chat.say("alice", "undo plan 1").await;
    assert!(asked.contains("Roll back plan #1"), "{asked}");
    // Someone deploys billionmail themselves before the yes.
    chat.deployed("billionmail", "2.3.1").await;
    chat.say("alice", "yes").await;
    let (plan, posted) = chat.ended(2).await;
    assert_eq!(plan.status, PlanStatus::Failed, "{posted}");
    assert_eq!(plan.steps[0].status, StepStatus::Refused);
    assert!(
        plan.steps[0]
            .detail
            .contains("staging runs 2.3.1 now, not the plan's 2.4.0"),
        "{plan:?}"
    );
    assert_eq!(plan.steps[1].status, StepStatus::Skipped);
    let live = chat
        .bot
        .store()
        .live_versions(Some("billionmail"), Some("staging"))
        .await
        .unwrap();
    assert_eq!(live[0].version.as_deref(), Some("2.3.1"));
    // Its own deploy was the last run: the undo started none.
    assert!(plan.steps[0].run_id.is_none());
    // A plan that is unknown, or a "no", rolls back nothing.
    let unknown = chat.say("alice", "roll back plan 9").await;
    assert!(unknown.contains("There is no plan #9"), "{unknown}");
    chat.say("alice", "roll back plan 1").await;
    let no = chat.say("alice", "no").await;
    assert!(no.contains("nothing was rolled back"), "{no}");
    assert!(chat.bot.store().plan(3).await.unwrap().is_none());
}

#[tokio::test]
async fn promoting_everything_deploys_what_the_source_runs_as_one_approved_plan() {
    let chat = Chat::new("plan-promote", billionmail_needs_redis).await;
    chat.deployed("billionmail", "2.4.0").await;
    chat.deployed("redis", "7.2.4").await;
    let asked = chat
        .say("alice", "promote everything from staging to production")
        .await;
    assert!(
        asked.contains("Promoting what staging runs to production:"),
        "{asked}"
    );
    // What staging runs, not the newest build (redis 7.2.5 exists but staging runs 7.2.4).
    assert!(
        asked.contains("Update in this order: 1. redis 7.2.4, 2. billionmail 2.4.0? [yes/no]"),
        "{asked}"
    );
    let request = chat.say("alice", "yes").await;
    assert!(
        request.contains("run a plan, one approval for all of it"),
        "{request}"
    );
    chat.say("bob", "approve").await;
    let (plan, posted) = chat.ended(1).await;
    assert_eq!(plan.status, PlanStatus::Succeeded, "{posted}");
    let live = chat
        .bot
        .store()
        .live_versions(None, Some("production"))
        .await
        .unwrap();
    for (service, version) in [("redis", "7.2.4"), ("billionmail", "2.4.0")] {
        assert!(
            live.iter()
                .any(|d| d.service == service && d.version.as_deref() == Some(version)),
            "{service}: {live:?}"
        );
    }
    // Promoting again changes nothing: production runs what staging runs (named services,
    // from the previous environment, are a plan too).
    for ask in [
        "promote everything from staging to production",
        "promote billionmail and redis to production",
    ] {
        let again = chat.say("alice", ask).await;
        assert!(
            again.contains("Nothing to update; nothing was deployed."),
            "{ask}: {again}"
        );
    }
    // A target that runs something newer than the source is said so, not "no changes".
    chat.deployed("redis", "7.2.5").await;
    let newer = chat
        .say(
            "alice",
            "promote redis and billionmail from production to staging",
        )
        .await;
    assert!(
        newer.contains("redis: runs 7.2.5, newer than 7.2.4; not downgraded"),
        "{newer}"
    );
    assert!(!newer.contains("[yes/no]"), "{newer}");
    // A third environment is not silently taken as the source.
    let three = chat
        .say(
            "alice",
            "promote everything from staging to dev and production",
        )
        .await;
    assert!(three.contains("several environments"), "{three}");
}

#[tokio::test]
async fn a_stored_plan_request_without_steps_is_refused_not_run() {
    use deckhand::command::{ApprovalRef, Decide, PlanSpec, Refusal};
    use deckhand::store::{Action, Decision, NewApproval};
    let chat = Chat::new("plan-empty-request", |_| {}).await;
    let empty = Command::Plan(PlanSpec {
        steps: Vec::new(),
        rollback_of: None,
    });
    let now = deckhand::clock::now_ms();
    let id = chat
        .bot
        .store()
        .create_approval(&NewApproval {
            action: Action::Deploy,
            service: "billionmail".into(),
            environment: "production".into(),
            version: None,
            strategy: Default::default(),
            percent: None,
            requested_by: "alice".into(),
            origin: Origin::Api {
                client: "alice".into(),
            },
            command: serde_json::to_string(&empty).unwrap(),
            required: 1,
            note: String::new(),
            created_at: now,
            expires_at: now + 600_000,
        })
        .await
        .unwrap();
    let c = chat.bot.commander();
    let outcome = c
        .apply(
            Command::Decide(Decide {
                approval: ApprovalRef::Id { id },
                decision: Decision::Approve,
            }),
            &c.governance().actor_for_person("bob"),
            &Origin::Api {
                client: "bob".into(),
            },
            Arc::new(Quiet),
        )
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Refused(Refusal::StaleRequest { reason, .. }) if reason.contains("no steps")),
        "{outcome:?}"
    );
    assert!(chat.bot.store().plan(1).await.unwrap().is_none());
}
