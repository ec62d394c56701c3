//! Shared helpers for integration tests: a collecting sink and configs pointed at temp dirs.
#![allow(dead_code)]

pub mod api_rig;
pub mod discord_rig;
pub mod fake_core;
pub mod fake_discord;
pub mod fake_slack;
pub mod plan_chat;
pub mod postgres;
pub mod rig;
pub mod slack_rig;

use deckhand::chat::{BotEvent, EventSink};
use deckhand::config::Config;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Records every event; tests read and drain them.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<BotEvent>>,
}

impl EventSink for Recorder {
    fn emit(&self, event: BotEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl Recorder {
    /// Takes the events recorded so far.
    pub fn drain(&self) -> Vec<BotEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temp dir under the system temp folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "deckhand-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads a config from the repo and points its store and DEPLOY_ROOT into `dir`.
pub fn config_in(relative: &str, dir: &Path) -> Config {
    let mut config = Config::load(&root().join(relative)).unwrap();
    config.store.url = format!("sqlite://{}/deckhand.db?mode=rwc", dir.display());
    for p in config.pipelines.values_mut() {
        if p.env.contains_key("DEPLOY_ROOT") {
            p.env.insert(
                "DEPLOY_ROOT".into(),
                dir.join("deploy").display().to_string(),
            );
        }
    }
    config
}

/// A reply-like event's text.
pub fn text_of(e: &BotEvent) -> Option<&str> {
    match e {
        BotEvent::Reply { text, .. }
        | BotEvent::ApprovalRequest { text, .. }
        | BotEvent::Prompt { text, .. }
        | BotEvent::Confirm { text, .. } => Some(text),
        BotEvent::RunFinished { text, .. } | BotEvent::PlanProgress { text, .. } => Some(text),
        _ => None,
    }
}

/// Runs the real binary with `args` followed by `--config CONFIG` (the audit and config
/// subcommands take it last) and returns its output.
pub fn run_with_config(args: &[&str], config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

/// Deploys `version` of `service` to staging as alice through the command layer (no chat),
/// and waits for the run to end: the release that a later update replaces.
pub async fn deploy_to_staging(bot: &deckhand::bot::Bot, service: &str, version: &str) {
    deploy(bot, service, "staging", version).await;
}

/// Deploys `version` of `service` to `env` as alice through the command layer, waits for
/// the run and returns its final status.
pub async fn deploy(
    bot: &deckhand::bot::Bot,
    service: &str,
    env: &str,
    version: &str,
) -> deckhand::chat::RunStatus {
    use deckhand::command::{Command, EnvName, Origin, Outcome, RunCommand, ServiceName};
    struct Quiet;
    impl deckhand::pipeline::ProgressSink for Quiet {
        fn report(&self, _: &deckhand::pipeline::RunEvent) {}
    }
    let c = bot.commander();
    let cmd = Command::Deploy(RunCommand {
        service: ServiceName::resolve(c.config(), service).unwrap(),
        environment: EnvName::resolve(c.config(), env).unwrap(),
        version: Some(version.into()),
        strategy: None,
        percent: None,
    });
    let actor = c.governance().actor_for_person("alice");
    let origin = Origin::Api {
        client: "alice".into(),
    };
    match c
        .apply(cmd, &actor, &origin, std::sync::Arc::new(Quiet))
        .await
        .unwrap()
    {
        Outcome::Started(s) => s.handle.finished().await.status,
        other => panic!("{other:?}"),
    }
}
