//! A console chat with a real bot for the plan tests: say things as someone, read what was
//! posted, wait for a plan to end; config tweaks for the plans' services.
#![allow(dead_code)]

use deckhand::bot::Bot;
use deckhand::chat::{EventSink, Incoming, ThreadKey};
use deckhand::config::{Config, StageKind};
use deckhand::store::{PlanStatus, StepStatus};
use std::sync::Arc;
use std::time::Duration;

use super::{config_in, temp_dir, text_of, Recorder};

/// A bot on the example config in a temp dir, and what it posted to the thread "rel".
pub struct Chat {
    pub bot: Bot,
    pub recorder: Arc<Recorder>,
    /// Every text read so far (a plan's closing may be read by the `say` that stopped it).
    log: std::sync::Mutex<String>,
}

impl Chat {
    pub async fn new(tag: &str, tweak: impl FnOnce(&mut Config)) -> Chat {
        let dir = temp_dir(tag);
        let mut config = config_in("examples/deckhand.yaml", &dir);
        tweak(&mut config);
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        Chat {
            bot: Bot::new(config).await.unwrap(),
            recorder: Arc::new(Recorder::default()),
            log: Default::default(),
        }
    }

    pub async fn say(&self, user: &str, text: &str) -> String {
        let sink: Arc<dyn EventSink> = self.recorder.clone();
        self.bot
            .handle(
                Incoming {
                    thread: ThreadKey::new("console", "console", "rel"),
                    user: user.into(),
                    text: text.into(),
                    event_id: None,
                },
                sink,
            )
            .await;
        self.texts()
    }

    pub fn texts(&self) -> String {
        let texts = self
            .recorder
            .drain()
            .iter()
            .filter_map(|e| text_of(e).map(str::to_string))
            .collect::<Vec<_>>()
            .join("\n---\n");
        self.log.lock().unwrap().push_str(&texts);
        texts
    }

    /// Deploys `version` of `service` to staging directly (the old release a plan updates).
    pub async fn deployed(&self, service: &str, version: &str) {
        super::deploy_to_staging(&self.bot, service, version).await;
    }

    /// Gives a wrongly started plan a moment to show, then asserts that none exists.
    pub async fn assert_no_plan(&self) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(self.bot.store().plan(1).await.unwrap().is_none());
    }

    /// Waits for plan `id` to end and its closing to be posted (read now or before); what was
    /// posted since the call.
    pub async fn ended(&self, id: i64) -> (deckhand::store::PlanRecord, String) {
        let mut posted = String::new();
        for _ in 0..400 {
            let p = self.bot.store().plan(id).await.unwrap().unwrap();
            posted.push_str(&self.texts());
            let closed = self.log.lock().unwrap().contains(&format!("Plan #{id}"));
            if p.status != PlanStatus::Running && closed {
                return (p, posted);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("plan {id} did not end: {posted}");
    }
}

/// billionmail depends on redis.
pub fn billionmail_needs_redis(c: &mut Config) {
    c.services
        .iter_mut()
        .find(|s| s.name == "billionmail")
        .unwrap()
        .depends_on = vec!["redis".into()];
}

/// Gives `service` a pipeline that starts with a 3 s stage, so its step is still running when
/// asked about.
pub fn slow(c: &mut Config, service: &str) {
    let name = format!("slow-{service}");
    let mut slow = c.pipelines["local"].clone();
    let mut wait = slow.stages[0].clone();
    wait.name = "soak".into();
    wait.kind = StageKind::Process {
        command: "sleep 3".into(),
    };
    slow.stages.insert(0, wait);
    c.pipelines.insert(name.clone(), slow);
    c.services
        .iter_mut()
        .find(|s| s.name == service)
        .unwrap()
        .pipeline = name;
}

/// redis's pipeline starts with a 3 s stage, so a step is still running when asked about.
pub fn slow_redis(c: &mut Config) {
    slow(c, "redis");
    billionmail_needs_redis(c);
}

/// Waits until step `n` (1-based) of plan 1 is running.
pub async fn step_running(chat: &Chat, n: usize) {
    for _ in 0..400 {
        if let Some(p) = chat.bot.store().plan(1).await.unwrap() {
            if p.steps[n - 1].status == StepStatus::Running && p.steps[n - 1].run_id.is_some() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("step {n} never ran");
}

/// Moves the clock on (paused only while it moves: the pool and the stages keep real time).
pub async fn advance(secs: u64) {
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(secs)).await;
    tokio::time::resume();
}

/// Stores a plan alice asked for in the thread "rel", one staging step per service, made at
/// `at` (as a process would before running it); its id.
pub async fn stored_plan(store: &deckhand::store::Store, services: &[&str], at: i64) -> i64 {
    let steps: Vec<deckhand::store::NewStep> = services
        .iter()
        .map(|s| deckhand::store::NewStep {
            command: "{}".into(),
            service: s.to_string(),
            environment: "staging".into(),
        })
        .collect();
    let origin = deckhand::command::Origin::Thread(ThreadKey::new("console", "console", "rel"));
    store
        .create_plan("alice", &origin, &steps, at)
        .await
        .unwrap()
}

/// A chat where alice's plan #1 (redis, then billionmail, in staging) is confirmed and its
/// slow first step is running.
pub async fn plan_with_step_running(tag: &str) -> Chat {
    let chat = Chat::new(tag, slow_redis).await;
    chat.say("alice", "update billionmail and redis in staging")
        .await;
    chat.say("alice", "yes").await;
    step_running(&chat, 1).await;
    chat
}

/// What a bot tells the console's threads after a restart (the recovery notices).
pub async fn restart_notices(bot: &Bot) -> Vec<String> {
    let recorder = Arc::new(Recorder::default());
    bot.deliver_recovery("console", recorder.clone()).await;
    recorder
        .drain()
        .iter()
        .filter_map(|e| text_of(e).map(str::to_string))
        .collect()
}

/// The run of `plan`'s step for `service`.
pub async fn run_of(
    chat: &Chat,
    plan: &deckhand::store::PlanRecord,
    service: &str,
) -> deckhand::store::RunRecord {
    let step = plan.steps.iter().find(|s| s.service == service).unwrap();
    chat.bot
        .store()
        .run(step.run_id.unwrap())
        .await
        .unwrap()
        .unwrap()
}
