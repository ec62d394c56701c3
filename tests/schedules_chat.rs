//! Schedules from chat (issue 13, item 3), through `Bot::handle` with the clock moved on:
//! "deploy X to Y in 2 hours" asks first and stores a schedule; at fire time a lock refuses it
//! and the thread is told; a production deploy's approval is asked for when it is scheduled,
//! binds to that schedule and lets it run; without it the fire is refused; a fire missed
//! while Deckhand was down is reported, not run; "list schedules" and "cancel schedule N".
//! Config jobs are kept in step with the config.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::{EventSink, Incoming, ThreadKey};
use deckhand::schedule::{Scheduler, DEFAULT_GRACE};
use deckhand::store::{ApprovalStatus, FireOutcome};
use std::sync::Arc;
use std::time::Duration;
use support::{config_in, temp_dir, text_of, Recorder};

struct Chat {
    bot: Arc<Bot>,
    recorder: Arc<Recorder>,
    scheduler: Scheduler,
}

impl Chat {
    async fn new(tag: &str, tweak: impl FnOnce(&mut deckhand::config::Config)) -> Chat {
        let dir = temp_dir(tag);
        let mut config = config_in("examples/deckhand.yaml", &dir);
        tweak(&mut config);
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        let bot = Arc::new(Bot::new(config).await.unwrap());
        let scheduler = Scheduler::new(bot.commander().clone(), "test", DEFAULT_GRACE);
        Chat {
            bot,
            recorder: Arc::new(Recorder::default()),
            scheduler,
        }
    }

    /// `user` says `text` in `thread`; the texts the bot answered with.
    async fn say(&self, thread: &str, user: &str, text: &str) -> Vec<String> {
        let sink: Arc<dyn EventSink> = self.recorder.clone();
        self.bot
            .handle(
                Incoming {
                    thread: ThreadKey::new("console", "console", thread),
                    user: user.into(),
                    text: text.into(),
                    event_id: None,
                },
                sink,
            )
            .await;
        self.texts()
    }

    fn texts(&self) -> Vec<String> {
        self.recorder
            .drain()
            .iter()
            .filter_map(|e| text_of(e).map(str::to_string))
            .collect()
    }

    /// Fires what is due; the texts posted.
    async fn fire(&self) -> (usize, Vec<String>) {
        let n = self.bot.fire_schedules(&self.scheduler).await;
        self.bot.wait_idle().await;
        (n, self.texts())
    }
}

/// Moves the clock on (paused only while it moves: the pool and the stages keep real time).
async fn advance(secs: u64) {
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(secs)).await;
    tokio::time::resume();
}

fn joined(texts: &[String]) -> String {
    texts.join("\n---\n")
}

#[tokio::test]
async fn a_lock_refuses_a_scheduled_deploy_at_fire_time_and_the_thread_is_told() {
    let chat = Chat::new("sched-lock", |_| {}).await;
    let asked = chat
        .say(
            "ops",
            "alice",
            "deploy billionmail 2.4.0 to staging in 2 hours",
        )
        .await;
    let question = joined(&asked);
    assert!(
        question.contains("Schedule: deploy billionmail 2.4.0 to staging at"),
        "{question}"
    );
    assert!(question.contains("[yes/no]"), "{question}");
    // Nothing is stored until "yes".
    assert!(chat
        .bot
        .store()
        .pending_schedules()
        .await
        .unwrap()
        .is_empty());
    let stored = joined(&chat.say("ops", "alice", "yes").await);
    assert!(stored.contains("⏰ Scheduled #1"), "{stored}");
    assert_eq!(chat.bot.store().pending_schedules().await.unwrap().len(), 1);

    // Nothing fires early.
    assert_eq!(chat.fire().await.0, 0);

    let locked = joined(
        &chat
            .say("inc", "bob", "lock staging because of the incident")
            .await,
    );
    assert!(locked.contains("[yes/no]"), "{locked}");
    chat.say("inc", "bob", "yes").await;

    advance(2 * 3600 + 5).await;
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    let posted = joined(&posted);
    assert!(posted.contains("Schedule #1"), "{posted}");
    assert!(posted.contains("was refused, nothing ran"), "{posted}");
    assert!(posted.contains("locked"), "{posted}");
    let fires = chat.bot.store().schedule_fires(1).await.unwrap();
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].2, FireOutcome::Refused.as_str());
    assert!(chat
        .bot
        .store()
        .pending_schedules()
        .await
        .unwrap()
        .is_empty());
    // No run was started.
    assert!(chat.bot.store().run(1).await.unwrap().is_none());
}

#[tokio::test]
async fn a_scheduled_production_deploy_runs_with_the_approval_bound_to_it() {
    let chat = Chat::new("sched-approve", |_| {}).await;
    chat.say(
        "rel",
        "alice",
        "deploy billionmail 2.4.0 to production in 1 hour",
    )
    .await;
    let stored = chat.say("rel", "alice", "yes").await;
    let all = joined(&stored);
    assert!(
        all.contains("It needs 1 approval from someone else by"),
        "{all}"
    );
    assert!(all.contains("🔐 Approval needed (request #1)"), "{all}");
    let schedule = chat.bot.store().schedule(1).await.unwrap().unwrap();
    assert_eq!(schedule.approval_id, Some(1));
    let approval = chat.bot.store().approval(1).await.unwrap().unwrap();
    assert_eq!(approval.expires_at, schedule.next_fire_at.unwrap());

    // Alice cannot approve her own; Bob's approval binds to the schedule and starts nothing.
    let own = joined(&chat.say("rel", "alice", "approve").await);
    assert!(own.contains("four-eyes"), "{own}");
    let approved = joined(&chat.say("rel", "bob", "approve").await);
    assert!(approved.contains("schedule #1"), "{approved}");
    assert!(approved.contains("will run at"), "{approved}");
    assert!(chat.bot.store().run(1).await.unwrap().is_none());

    advance(3600 + 5).await;
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    let posted = joined(&posted);
    assert!(posted.contains("starting run #1"), "{posted}");
    let run = chat.bot.store().run(1).await.unwrap().unwrap();
    assert_eq!(run.requested_by, "alice");
    assert_eq!(run.service, "billionmail");
    assert_eq!(run.environment, "production");
    let approval = chat.bot.store().approval(1).await.unwrap().unwrap();
    assert_eq!(approval.run_id, Some(1));
    let fires = chat.bot.store().schedule_fires(1).await.unwrap();
    assert_eq!(fires[0].2, FireOutcome::Started.as_str());
    assert_eq!(fires[0].4, Some(1));
}

#[tokio::test]
async fn without_its_approval_a_scheduled_deploy_does_not_run() {
    let chat = Chat::new("sched-unapproved", |_| {}).await;
    chat.say(
        "rel",
        "alice",
        "deploy billionmail 2.4.0 to production in 30 minutes",
    )
    .await;
    chat.say("rel", "alice", "yes").await;
    advance(30 * 60 + 5).await;
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    let posted = joined(&posted);
    assert!(posted.contains("was refused, nothing ran"), "{posted}");
    assert!(
        posted.contains("was not approved by the scheduled time"),
        "{posted}"
    );
    assert!(chat.bot.store().run(1).await.unwrap().is_none());
    let approval = chat.bot.store().approval(1).await.unwrap().unwrap();
    assert_eq!(approval.status, ApprovalStatus::Expired);
}

#[tokio::test]
async fn a_fire_missed_while_down_is_reported_not_run() {
    let chat = Chat::new("sched-missed", |_| {}).await;
    chat.say(
        "ops",
        "alice",
        "deploy billionmail 2.4.0 to staging in 10 minutes",
    )
    .await;
    chat.say("ops", "alice", "yes").await;
    // The process was "down" for an hour past the fire.
    advance(70 * 60).await;
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    let posted = joined(&posted);
    assert!(posted.contains("was missed"), "{posted}");
    assert!(posted.contains("nothing ran"), "{posted}");
    assert!(chat.bot.store().run(1).await.unwrap().is_none());
    assert_eq!(
        chat.bot.store().schedule_fires(1).await.unwrap()[0].2,
        FireOutcome::Missed.as_str()
    );
}

#[tokio::test]
async fn schedules_are_listed_and_cancelled_in_chat() {
    let chat = Chat::new("sched-list", |_| {}).await;
    let none = joined(&chat.say("ops", "alice", "list schedules").await);
    assert!(none.contains("No schedules are waiting"), "{none}");
    chat.say(
        "ops",
        "alice",
        "deploy billionmail 2.4.0 to staging tomorrow at 9",
    )
    .await;
    chat.say("ops", "alice", "yes").await;
    chat.say(
        "rel",
        "alice",
        "deploy billionmail 2.4.0 to production in 3 hours",
    )
    .await;
    chat.say("rel", "alice", "yes").await;
    let listed = joined(&chat.say("ops", "bob", "what's scheduled?").await);
    assert!(listed.contains("2 schedules"), "{listed}");
    assert!(
        listed.contains("#1 deploy billionmail 2.4.0 to staging"),
        "{listed}"
    );
    assert!(listed.contains("awaiting approval #1"), "{listed}");
    assert!(listed.contains("UTC"), "{listed}");

    // Dave (a viewer) may not cancel Alice's; an unknown number is named.
    let dave = joined(&chat.say("ops", "dave", "cancel schedule 1").await);
    assert!(dave.contains("may not"), "{dave}");
    let unknown = joined(&chat.say("ops", "alice", "cancel schedule 9").await);
    assert!(unknown.contains("no schedule #9"), "{unknown}");
    // Cancelling the production one withdraws its approval request.
    let gone = joined(&chat.say("ops", "alice", "cancel schedule #2").await);
    assert!(gone.contains("schedule #2"), "{gone}");
    assert!(gone.contains("request #1 is withdrawn"), "{gone}");
    let approval = chat.bot.store().approval(1).await.unwrap().unwrap();
    assert_eq!(approval.status, ApprovalStatus::Cancelled);
    let again = joined(&chat.say("ops", "alice", "cancel schedule 2").await);
    assert!(again.contains("already cancelled"), "{again}");
    let left = chat.bot.store().pending_schedules().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, 1);
}

#[tokio::test]
async fn times_that_cannot_be_honoured_are_named_and_nothing_is_stored() {
    let chat = Chat::new("sched-bad", |_| {}).await;
    for (text, needle) in [
        ("deploy billionmail to staging every day at 5", "`jobs:`"),
        (
            "deploy billionmail to staging from 16:00 to 18:00",
            "one time",
        ),
        (
            "deploy billionmail to staging yesterday at 5",
            "\"yesterday\"",
        ),
        (
            "deploy billionmail to staging at 2026-01-01 10:00",
            "in the past",
        ),
        (
            "roll back billionmail in staging every weekday at 6",
            "`jobs:`",
        ),
        (
            "promote billionmail from dev to staging at 18:00",
            "promotion",
        ),
    ] {
        let said = joined(&chat.say("t", "alice", text).await);
        assert!(said.contains(needle), "{text}: {said}");
        assert!(!said.contains("[yes/no]"), "{text}: {said}");
        // A "yes" after it starts nothing.
        chat.say("t", "alice", "yes").await;
    }
    assert!(chat
        .bot
        .store()
        .pending_schedules()
        .await
        .unwrap()
        .is_empty());
    assert!(chat.bot.store().run(1).await.unwrap().is_none());
}

fn nightly(config: &mut deckhand::config::Config, cron: &str) {
    config.jobs = vec![deckhand::config::JobConfig {
        name: "nightly-dev".into(),
        cron: cron.into(),
        tz: Some("Europe/Berlin".into()),
        run_as: "alice".into(),
        deploy: Some(deckhand::config::JobRun {
            service: "billionmail".into(),
            environment: "dev".into(),
            version: None,
            strategy: None,
        }),
        rollback: None,
        notify: None,
    }];
}

#[tokio::test]
async fn config_jobs_are_kept_in_step_with_the_config() {
    let dir = temp_dir("sched-jobs");
    let mut config = config_in("examples/deckhand.yaml", &dir);
    nightly(&mut config, "0 6 * * 1-5");
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    let bot = Bot::new(config.clone()).await.unwrap();
    bot.sync_jobs().await;
    bot.sync_jobs().await;
    let rows = bot.store().pending_schedules().await.unwrap();
    assert_eq!(rows.len(), 1, "one row per job, however often it syncs");
    assert_eq!(rows[0].job.as_deref(), Some("nightly-dev"));
    assert_eq!(rows[0].cron.as_deref(), Some("0 6 * * 1-5"));
    let first = rows[0].next_fire_at;
    // A job cannot be cancelled from chat: it lives in the config.
    let recorder = Arc::new(Recorder::default());
    let sink: Arc<dyn EventSink> = recorder.clone();
    bot.handle(
        Incoming {
            thread: ThreadKey::new("console", "console", "j"),
            user: "alice".into(),
            text: format!("cancel schedule {}", rows[0].id),
            event_id: None,
        },
        sink,
    )
    .await;
    let said: Vec<String> = recorder
        .drain()
        .iter()
        .filter_map(|e| text_of(e).map(str::to_string))
        .collect();
    assert!(joined(&said).contains("under `jobs:`"), "{said:?}");
    drop(bot);

    // A changed cron line moves the next fire; the same row is kept.
    let mut changed = config.clone();
    nightly(&mut changed, "30 7 * * *");
    let bot = Bot::new(changed).await.unwrap();
    bot.sync_jobs().await;
    let rows = bot.store().pending_schedules().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cron.as_deref(), Some("30 7 * * *"));
    assert_ne!(rows[0].next_fire_at, first);
    drop(bot);

    // Removed from the config: cancelled.
    let mut removed = config.clone();
    removed.jobs.clear();
    let bot = Bot::new(removed).await.unwrap();
    bot.sync_jobs().await;
    assert!(bot.store().pending_schedules().await.unwrap().is_empty());
    let all = bot.store().list_schedules(true, 10).await.unwrap();
    assert_eq!(all[0].cancelled_by.as_deref(), Some("config"));
}

#[test]
fn bad_jobs_are_config_errors() {
    let dir = temp_dir("sched-job-errors");
    let mut config = config_in("examples/deckhand.yaml", &dir);
    nightly(&mut config, "61 * * * *");
    config.jobs[0].run_as = "nobody".into();
    config.jobs[0].rollback = config.jobs[0].deploy.clone();
    config.jobs.push(config.jobs[0].clone());
    let problems = config.problems().join("\n");
    for needle in [
        "is not a cron line",
        "run_as `nobody` is not in people",
        "give exactly one of deploy or rollback",
        "the name is used twice",
    ] {
        assert!(problems.contains(needle), "{needle}: {problems}");
    }
}

#[tokio::test]
async fn an_approval_for_a_schedule_pins_what_runs_and_goes_with_it() {
    let chat = Chat::new("sched-pin", |_| {}).await;
    // No version named: the newest listed one is settled now, so the approval says it.
    chat.say("rel", "alice", "deploy billionmail to production in 1 hour")
        .await;
    let stored = joined(&chat.say("rel", "alice", "yes").await);
    assert!(
        stored.contains("deploy billionmail (2.4.0) to production, direct"),
        "{stored}"
    );
    let schedule = chat.bot.store().schedule(1).await.unwrap().unwrap();
    assert!(
        schedule.command.contains("\"version\":\"2.4.0\""),
        "{}",
        schedule.command
    );
    assert!(
        schedule.command.contains("\"strategy\":\"direct\""),
        "{}",
        schedule.command
    );
    // The requester's "cancel" withdraws the request, and the schedule goes with it.
    let withdrawn = joined(&chat.say("rel", "alice", "cancel").await);
    assert!(
        withdrawn.contains("[yes/no]") || withdrawn.contains("withdrawn"),
        "{withdrawn}"
    );
    if withdrawn.contains("[yes/no]") {
        let done = joined(&chat.say("rel", "alice", "yes").await);
        assert!(done.contains("schedule #1"), "{done}");
    } else {
        assert!(withdrawn.contains("schedule #1"), "{withdrawn}");
    }
    let schedule = chat.bot.store().schedule(1).await.unwrap().unwrap();
    assert!(schedule.next_fire_at.is_none() && schedule.cancelled_at.is_some());

    // A rejection cancels its schedule too.
    chat.say(
        "rel2",
        "alice",
        "deploy billionmail 2.4.0 to production in 1 hour",
    )
    .await;
    chat.say("rel2", "alice", "yes").await;
    let rejected = joined(&chat.say("rel2", "bob", "reject").await);
    assert!(rejected.contains("its schedule is cancelled"), "{rejected}");
    let schedule = chat.bot.store().schedule(2).await.unwrap().unwrap();
    assert!(schedule.next_fire_at.is_none());
    advance(3600 + 5).await;
    assert_eq!(chat.fire().await.0, 0);
    assert!(chat.bot.store().run(1).await.unwrap().is_none());
}

#[tokio::test]
async fn a_policy_tightened_after_the_approval_refuses_the_fire() {
    let dir = temp_dir("sched-tightened");
    let config = config_in("examples/deckhand.yaml", &dir);
    let chat = Chat {
        bot: Arc::new(Bot::new(config.clone()).await.unwrap()),
        recorder: Arc::new(Recorder::default()),
        scheduler: Scheduler::new(
            Bot::new(config.clone()).await.unwrap().commander().clone(),
            "test",
            DEFAULT_GRACE,
        ),
    };
    chat.say(
        "rel",
        "alice",
        "deploy billionmail 2.4.0 to production in 1 hour",
    )
    .await;
    chat.say("rel", "alice", "yes").await;
    chat.say("rel", "bob", "approve").await;
    // Production now needs two approvals: a new process with the new config fires it.
    let mut tighter = config.clone();
    let prod = tighter
        .environments
        .iter_mut()
        .find(|e| e.name == "production")
        .unwrap();
    prod.policy.approvals = Some(2);
    let bot = Arc::new(Bot::new(tighter).await.unwrap());
    let sink: Arc<dyn EventSink> = chat.recorder.clone();
    bot.attach("console", sink, |t| ThreadKey::new("console", "console", t));
    let scheduler = Scheduler::new(bot.commander().clone(), "other", DEFAULT_GRACE);
    advance(3600 + 5).await;
    assert_eq!(bot.fire_schedules(&scheduler).await, 1);
    let posted = joined(&chat.texts());
    assert!(
        posted.contains("the policy now needs more approvals"),
        "{posted}"
    );
    assert!(bot.store().run(1).await.unwrap().is_none());
}

#[tokio::test]
async fn only_a_process_connected_to_the_thread_fires_its_schedule() {
    let chat = Chat::new("sched-platform", |_| {}).await;
    chat.say(
        "ops",
        "alice",
        "deploy billionmail 2.4.0 to staging in 10 minutes",
    )
    .await;
    chat.say("ops", "alice", "yes").await;
    // Another process on the same store that has only Slack attached leaves it alone.
    let config = chat.bot.config().clone();
    let other = Bot::new(config).await.unwrap();
    let slack: Arc<dyn EventSink> = Arc::new(Recorder::default());
    other.attach("slack", slack, |c| ThreadKey::new("slack", c, ""));
    let other_scheduler = Scheduler::new(other.commander().clone(), "other", DEFAULT_GRACE);
    advance(10 * 60 + 5).await;
    assert_eq!(other.fire_schedules(&other_scheduler).await, 0);
    assert!(chat.bot.store().schedule_fires(1).await.unwrap().is_empty());
    // The console process fires it, once.
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    assert!(joined(&posted).contains("starting run #1"), "{posted:?}");
    assert_eq!(other.fire_schedules(&other_scheduler).await, 0);
}

#[tokio::test]
async fn a_config_job_fires_as_its_person_and_reports_to_its_channel() {
    let chat = Chat::new("sched-job-fires", |c| {
        nightly(c, "* * * * *");
        c.jobs[0].notify = Some(deckhand::config::JobNotify {
            platform: "console".into(),
            channel: "ops".into(),
        });
        c.jobs[0].deploy.as_mut().unwrap().version = Some("2.3.1".into());
    })
    .await;
    let sink: Arc<dyn EventSink> = chat.recorder.clone();
    chat.bot
        .attach("console", sink, |t| ThreadKey::new("console", "console", t));
    chat.bot.sync_jobs().await;
    let job = &chat.bot.store().pending_schedules().await.unwrap()[0];
    assert_eq!(job.report_to, ThreadKey::new("console", "console", "ops"));
    advance(61).await;
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    assert!(joined(&posted).contains("starting run #1"), "{posted:?}");
    let run = chat.bot.store().run(1).await.unwrap().unwrap();
    assert_eq!(
        (run.requested_by.as_str(), run.environment.as_str()),
        ("alice", "dev")
    );
    assert_eq!(run.version.as_deref(), Some("2.3.1"));
    // It recurs: the next minute is its next fire, and nothing fires before it.
    let next = chat.bot.store().schedule(job.id).await.unwrap().unwrap();
    assert!(next.next_fire_at.unwrap() > job.next_fire_at.unwrap());
    assert_eq!(chat.fire().await.0, 0);
}

#[tokio::test]
async fn a_freeze_window_is_named_at_scheduling_and_refuses_the_fire() {
    let chat = Chat::new("sched-freeze", |c| {
        let staging = c
            .environments
            .iter_mut()
            .find(|e| e.name == "staging")
            .unwrap();
        staging.windows.push(deckhand::config::FreezeWindowConfig {
            deny: "* * * * *".into(),
            duration: "3h".into(),
            tz: None,
            reason: "release week".into(),
            services: None,
            rollbacks: deckhand::config::RollbackRule::Allow,
        });
    })
    .await;
    let asked = joined(
        &chat
            .say(
                "ops",
                "alice",
                "deploy billionmail 2.4.0 to staging in 1 hour",
            )
            .await,
    );
    assert!(asked.contains("is frozen then (release week"), "{asked}");
    let stored = joined(&chat.say("ops", "alice", "yes").await);
    assert!(stored.contains("it will be refused then"), "{stored}");
    advance(3600 + 5).await;
    let (n, posted) = chat.fire().await;
    assert_eq!(n, 1);
    let posted = joined(&posted);
    assert!(posted.contains("was refused, nothing ran"), "{posted}");
    assert!(posted.contains("release week"), "{posted}");
    assert!(chat.bot.store().run(1).await.unwrap().is_none());
}

#[tokio::test]
async fn a_role_taken_away_before_the_fire_refuses_it() {
    let dir = temp_dir("sched-role");
    let config = config_in("examples/deckhand.yaml", &dir);
    let chat = Chat {
        bot: Arc::new(Bot::new(config.clone()).await.unwrap()),
        recorder: Arc::new(Recorder::default()),
        scheduler: Scheduler::new(
            Bot::new(config.clone()).await.unwrap().commander().clone(),
            "test",
            DEFAULT_GRACE,
        ),
    };
    chat.say(
        "ops",
        "alice",
        "deploy billionmail 2.4.0 to staging in 1 hour",
    )
    .await;
    chat.say("ops", "alice", "yes").await;
    // Alice is no longer a deployer when it fires (a new process with the new config).
    let mut demoted = config.clone();
    demoted.people.get_mut("alice").unwrap().roles = vec!["viewer".into()];
    let bot = Arc::new(Bot::new(demoted).await.unwrap());
    let sink: Arc<dyn EventSink> = chat.recorder.clone();
    bot.attach("console", sink, |t| ThreadKey::new("console", "console", t));
    let scheduler = Scheduler::new(bot.commander().clone(), "other", DEFAULT_GRACE);
    advance(3600 + 5).await;
    assert_eq!(bot.fire_schedules(&scheduler).await, 1);
    let posted = joined(&chat.texts());
    assert!(posted.contains("was refused, nothing ran"), "{posted}");
    assert!(
        posted.contains("alice may not deploy to staging"),
        "{posted}"
    );
    assert!(bot.store().run(1).await.unwrap().is_none());
}
