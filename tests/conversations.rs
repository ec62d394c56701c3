//! Runs every conversation in `tests/conversations/*.yaml` through `Bot::handle`, like Rasa's
//! test stories: user turns, and what the bot must say and do after each.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use deckhand::nlu::Intent;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::{config_in, root, temp_dir, text_of, Recorder};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Conversation {
    description: String,
    #[serde(default = "default_config")]
    config: String,
    #[serde(default)]
    ttl_secs: Option<u64>,
    #[serde(default)]
    rate_limit_actions: Option<u32>,
    steps: Vec<Turn>,
}

fn default_config() -> String {
    "examples/deckhand.yaml".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Turn {
    #[serde(default)]
    say: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    thread: Option<String>,
    /// Platform event id (deliveries with the same id are acted on once).
    #[serde(default)]
    event_id: Option<String>,
    /// Wait for every run to finish, then check the events they produced.
    #[serde(default)]
    wait_runs: bool,
    /// Jump the clock forward (tokio time) by this many seconds.
    #[serde(default)]
    advance_secs: Option<u64>,
    /// Stop the bot (after its runs finish) and start a new one on the same store.
    #[serde(default)]
    restart: bool,
    /// Run the approval-expiry sweep, as the background task does.
    #[serde(default)]
    sweep: bool,
    #[serde(default)]
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    intent: Option<String>,
    prompt: Option<String>,
    confirm: Option<String>,
    reply: Option<String>,
    #[serde(default)]
    confirm_notes: Vec<String>,
    #[serde(default)]
    reply_contains: Vec<String>,
    #[serde(default)]
    reply_lacks: Vec<String>,
    run_started: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    no_run: bool,
    run_finished: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    progress_contains: Vec<String>,
    current_release: Option<Release>,
    /// The bot must say and do nothing.
    #[serde(default)]
    silent: bool,
    /// Kinds of entries the audit log must hold by now.
    #[serde(default)]
    audit_kinds: Vec<String>,
    /// The step is refused with this kind (`not_permitted`, `locked`, `rate_limited`, ...);
    /// `none` asserts that nothing was refused.
    refused: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    service: String,
    environment: String,
    version: String,
}

fn subset(expected: &BTreeMap<String, Value>, actual: &Value) -> Result<(), String> {
    for (k, v) in expected {
        if k == "text_contains" {
            let text = actual["text"].as_str().unwrap_or_default();
            let needle = v.as_str().unwrap_or_default();
            if !text.contains(needle) {
                return Err(format!("text {text:?} lacks {needle:?}"));
            }
        } else if &actual[k] != v {
            return Err(format!("{k}: expected {v}, got {}", actual[k]));
        }
    }
    Ok(())
}

fn check(
    step: usize,
    say: &str,
    understood: Option<Intent>,
    expect: &Expect,
    events: &[BotEvent],
    previous: &[BotEvent],
    deploy_root: &std::path::Path,
) -> Result<(), String> {
    let ctx = |m: String| format!("step {step} ({say:?}): {m}\n  events: {events:#?}");
    let texts: Vec<&str> = events.iter().filter_map(text_of).collect();
    if let Some(intent) = &expect.intent {
        let got = understood.map(|i| i.as_str()).unwrap_or("(nothing said)");
        if got != intent {
            return Err(ctx(format!("expected intent {intent}, understood {got}")));
        }
    }
    let exact = |want: &Option<String>,
                 pick: fn(&BotEvent) -> Option<&str>,
                 what: &str|
     -> Result<(), String> {
        if let Some(w) = want {
            let got: Vec<&str> = events.iter().filter_map(pick).collect();
            if !got.contains(&w.as_str()) {
                return Err(ctx(format!("expected {what} {w:?}, got {got:?}")));
            }
        }
        Ok(())
    };
    exact(
        &expect.prompt,
        |e| {
            if let BotEvent::Prompt { text, .. } = e {
                Some(text)
            } else {
                None
            }
        },
        "prompt",
    )?;
    // A confirmation's first line is the question; notes (warnings, approvals) follow.
    exact(
        &expect.confirm,
        |e| {
            if let BotEvent::Confirm { text, .. } = e {
                text.lines().next()
            } else {
                None
            }
        },
        "confirmation",
    )?;
    for note in &expect.confirm_notes {
        let found = events.iter().any(|e| matches!(e, BotEvent::Confirm { text, .. } if text.lines().skip(1).any(|l| l.contains(note.as_str()))));
        if !found {
            return Err(ctx(format!("no confirmation note contains {note:?}")));
        }
    }
    exact(
        &expect.reply,
        |e| {
            if let BotEvent::Reply { text, .. } = e {
                Some(text)
            } else {
                None
            }
        },
        "reply",
    )?;
    if let Some(kind) = &expect.refused {
        let kinds: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                BotEvent::Reply {
                    refusal: Some(k), ..
                } => Some(k.as_str()),
                _ => None,
            })
            .collect();
        let ok = match kind.as_str() {
            "none" => kinds.is_empty(),
            k => kinds.contains(&k),
        };
        if !ok {
            return Err(ctx(format!("expected refusal {kind}, got {kinds:?}")));
        }
    }
    for needle in &expect.reply_contains {
        if !texts.iter().any(|t| t.contains(needle.as_str())) {
            return Err(ctx(format!("no reply contains {needle:?}")));
        }
    }
    for needle in &expect.reply_lacks {
        if texts.iter().any(|t| t.contains(needle.as_str())) {
            return Err(ctx(format!("a reply contains {needle:?}")));
        }
    }
    let started: Vec<Value> = events
        .iter()
        .filter(|e| matches!(e, BotEvent::RunStarted { .. }))
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    if expect.no_run && !started.is_empty() {
        return Err(ctx("a run started".into()));
    }
    if let Some(want) = &expect.run_started {
        if !started.iter().any(|s| subset(want, s).is_ok()) {
            return Err(ctx(format!("no run_started matches {want:?}")));
        }
    }
    if let Some(want) = &expect.run_finished {
        // A fast run (e.g. a cancelled one) can end before the step that waits for it.
        let finished: Vec<Value> = previous
            .iter()
            .chain(events)
            .filter(|e| matches!(e, BotEvent::RunFinished { .. }))
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let results: Vec<Result<(), String>> = finished.iter().map(|f| subset(want, f)).collect();
        if !results.iter().any(|r| r.is_ok()) {
            return Err(ctx(format!(
                "no run_finished matches {want:?}: {results:?}"
            )));
        }
    }
    for needle in &expect.progress_contains {
        let found = events.iter().any(|e| matches!(e, BotEvent::Progress { line: Some(l), .. } if l.contains(needle.as_str())));
        if !found {
            return Err(ctx(format!("no progress line contains {needle:?}")));
        }
    }
    if let Some(r) = &expect.current_release {
        let link = deploy_root
            .join(&r.environment)
            .join(&r.service)
            .join("current");
        let target =
            std::fs::read_link(&link).map_err(|e| ctx(format!("{}: {e}", link.display())))?;
        let want = std::path::Path::new("releases").join(&r.version);
        if !target.ends_with(&want) {
            return Err(ctx(format!(
                "{} -> {}, expected {}",
                link.display(),
                target.display(),
                want.display()
            )));
        }
    }
    if expect.silent {
        // Progress of runs started earlier may still arrive; the bot itself must say and start nothing.
        let spoke = events
            .iter()
            .any(|e| !matches!(e, BotEvent::Progress { .. } | BotEvent::RunFinished { .. }));
        return if !spoke {
            Ok(())
        } else {
            Err(ctx("expected silence".into()))
        };
    }
    if say.is_empty() {
        return Ok(());
    }
    if texts.is_empty() && started.is_empty() {
        return Err(ctx("the bot said nothing".into()));
    }
    Ok(())
}

async fn run_conversation(name: &str, postgres: bool) {
    let path = root()
        .join("tests/conversations")
        .join(format!("{name}.yaml"));
    let conv: Conversation = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dir = temp_dir(name);
    let mut config = config_in(&conv.config, &dir);
    if let Some(ttl) = conv.ttl_secs {
        config.session.ttl_secs = ttl;
    }
    if let Some(n) = conv.rate_limit_actions {
        config.governance.rate_limit_actions = n;
    }
    let pg = if postgres {
        match support::postgres::store(&format!("conversation {name}")).await {
            Some(pg) => {
                config.store.url = pg.url.clone();
                Some(pg)
            }
            None => return,
        }
    } else {
        None
    };
    let deploy_root = dir.join("deploy");
    let recorder = Arc::new(Recorder::default());
    let sink: Arc<dyn EventSink> = recorder.clone();
    let mut bot = Bot::new(config.clone()).await.unwrap();
    eprintln!("conversation {name}: {}", conv.description);
    let mut previous: Vec<BotEvent> = Vec::new();
    for (i, turn) in conv.steps.iter().enumerate() {
        let mut understood = None;
        if let Some(secs) = turn.advance_secs {
            tokio::time::pause();
            tokio::time::advance(Duration::from_secs(secs)).await;
            tokio::time::resume();
        }
        if turn.restart {
            bot.wait_idle().await;
            bot.store().close().await;
            drop(bot);
            bot = Bot::new(config.clone()).await.unwrap();
        }
        if let Some(text) = &turn.say {
            let msg = Incoming {
                thread: ThreadKey::new(
                    "console",
                    "console",
                    turn.thread.as_deref().unwrap_or("main"),
                ),
                user: turn.user.clone().unwrap_or_else(|| "alice".into()),
                text: text.clone(),
                event_id: turn.event_id.clone(),
            };
            understood = Some(bot.handle(msg, sink.clone()).await);
        }
        if turn.sweep {
            bot.expire_approvals().await;
        }
        if turn.wait_runs {
            tokio::time::timeout(Duration::from_secs(60), bot.wait_idle())
                .await
                .expect("runs finish within 60 s");
        }
        let events = recorder.drain();
        if !turn.expect.audit_kinds.is_empty() {
            let entries = bot.store().audit_page(0, 100_000).await.unwrap();
            for kind in &turn.expect.audit_kinds {
                assert!(
                    entries.iter().any(|e| &e.kind == kind),
                    "{name}: step {}: no audit entry of kind {kind}",
                    i + 1
                );
            }
        }
        if let Err(e) = check(
            i + 1,
            turn.say.as_deref().unwrap_or_default(),
            understood,
            &turn.expect,
            &events,
            &previous,
            &deploy_root,
        ) {
            panic!("{name}: {e}");
        }
        previous = events;
    }
    bot.wait_idle().await;
    // Whatever happened, the audit chain must be intact.
    bot.audit()
        .verify()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    bot.store().close().await;
    if let Some(pg) = pg {
        pg.cleanup().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

macro_rules! conversations {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                run_conversation(stringify!($name), false).await;
            }
        )*

        #[test]
        fn every_conversation_file_is_run() {
            let listed = [$(stringify!($name)),*];
            for entry in std::fs::read_dir(root().join("tests/conversations")).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                // `*-pipelines.yaml` are configs the conversations use, not conversations.
                if path.extension().is_some_and(|e| e == "yaml") && !stem.ends_with("-pipelines") {
                    assert!(listed.contains(&stem.as_str()), "{stem}.yaml is not listed in tests/conversations.rs");
                }
            }
        }
    };
}

conversations!(
    transcript,
    corrections,
    cancel,
    expiry,
    unknown_service,
    concurrent_threads,
    busy_target,
    auto_rollback,
    stage_timeout,
    help_and_small_talk,
    duplicate_delivery,
    thread_etiquette,
    permissions,
    approvals,
    approval_expiry,
    approval_after_restart,
    locks,
    locks_two_turns,
    deploy_memory,
    rate_limit,
    rate_limit_corrections,
    review_guards,
    cancel_permissions,
    verify_failed_no_auto_rollback,
    first_deploy_failed,
    auto_rollback_failed,
    readiness,
    versions_as_typed,
    unhonoured_parts,
    lock_scope,
    stop_any_thread,
    undo_last,
);

#[tokio::test]
async fn transcript_on_postgres() {
    run_conversation("transcript", true).await;
}

#[tokio::test]
async fn approvals_on_postgres() {
    run_conversation("approvals", true).await;
}

#[tokio::test]
async fn locks_on_postgres() {
    run_conversation("locks", true).await;
}

#[tokio::test]
async fn auto_rollback_on_postgres() {
    run_conversation("auto_rollback", true).await;
}

#[tokio::test]
async fn verify_failed_no_auto_rollback_on_postgres() {
    run_conversation("verify_failed_no_auto_rollback", true).await;
}

#[tokio::test]
async fn first_deploy_failed_on_postgres() {
    run_conversation("first_deploy_failed", true).await;
}

#[tokio::test]
async fn auto_rollback_failed_on_postgres() {
    run_conversation("auto_rollback_failed", true).await;
}

#[tokio::test]
async fn readiness_on_postgres() {
    run_conversation("readiness", true).await;
}
