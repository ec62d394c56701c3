//! "What's new" (issue 13, item 1): each service's available versions come from its
//! `versions` command (the example's `pipelines/versions.sh`, a real script), else from the
//! newest good build; they are compared with what runs in each environment. A listing that
//! fails, times out or prints something that is not a version is named as the reason, and the
//! service is never reported as up to date. Names that do not resolve are refused.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::{EventSink, Incoming, ThreadKey};
use deckhand::command::reports::UpdatesQuery;
use deckhand::command::{EnvName, Query, Report};
use deckhand::config::VersionsCommand;
use std::sync::Arc;
use support::{config_in, temp_dir, text_of, Recorder};

async fn bot(tag: &str, tweak: impl FnOnce(&mut deckhand::config::Config)) -> Bot {
    let dir = temp_dir(tag);
    let mut config = config_in("examples/deckhand.yaml", &dir);
    tweak(&mut config);
    Bot::new(config).await.unwrap()
}

async fn updates(bot: &Bot, env: Option<&str>) -> deckhand::command::reports::UpdatesReport {
    let c = bot.commander();
    let q = UpdatesQuery {
        services: None,
        environment: env.map(|e| EnvName::resolve(c.config(), e).unwrap()),
    };
    match c.query(&Query::Updates(q)).await.unwrap() {
        Report::Updates(r) => *r,
        other => panic!("{other:?}"),
    }
}

async fn deploy(bot: &Bot, service: &str, version: &str) {
    support::deploy_to_staging(bot, service, version).await;
}

#[tokio::test]
async fn the_newest_version_is_compared_with_what_runs() {
    let bot = bot("updates-compare", |_| {}).await;
    let before = updates(&bot, Some("staging")).await;
    assert_eq!(before.entries.len(), 5);
    let bm = &before.entries[0];
    assert_eq!(bm.service, "billionmail");
    assert_eq!(bm.newest.as_deref(), Some("2.4.0"));
    assert!(bm.update && bm.live.is_none());
    // Pre-releases are not offered (the example script lists stable folders only).
    let payments = before
        .entries
        .iter()
        .find(|e| e.service == "payments-api")
        .unwrap();
    assert_eq!(payments.newest.as_deref(), Some("3.1.0"));

    deploy(&bot, "billionmail", "2.3.1").await;
    let r = updates(&bot, Some("staging")).await;
    let bm = &r.entries[0];
    assert_eq!(
        (bm.live.as_deref(), bm.newest.as_deref()),
        (Some("2.3.1"), Some("2.4.0"))
    );
    assert!(bm.update);
    deploy(&bot, "billionmail", "2.4.0").await;
    let r = updates(&bot, Some("staging")).await;
    assert!(!r.entries[0].update, "{:?}", r.entries[0]);
    // Every environment, with one listing per service.
    let all = updates(&bot, None).await;
    assert_eq!(all.entries.len(), 15);
    assert!(all
        .entries
        .iter()
        .any(|e| e.service == "billionmail" && e.environment == "dev" && e.update));
}

#[tokio::test]
async fn a_listing_that_does_not_read_is_named_never_up_to_date() {
    for (command, timeout, needle) in [
        (
            "printf '2.4.0\\nlatest\\n'",
            None,
            "printed `latest`, which is not a version",
        ),
        ("echo broken >&2; exit 3", None, "failed (exit 3): broken"),
        ("sleep 5; echo 9.9.9", Some(1), "took longer than 1 s"),
    ] {
        let bot = bot("updates-bad", |c| {
            let svc = c.services.iter_mut().find(|s| s.name == "redis").unwrap();
            svc.versions = Some(VersionsCommand {
                command: command.into(),
                timeout_secs: timeout,
            });
        })
        .await;
        let r = updates(&bot, Some("dev")).await;
        let redis = r.entries.iter().find(|e| e.service == "redis").unwrap();
        let problem = redis.problem.as_deref().unwrap_or_default();
        assert!(problem.contains(needle), "{command}: {problem}");
        assert!(!redis.update && redis.newest.is_none(), "{command}");
        // The others still list through the pipeline's command.
        let bm = r
            .entries
            .iter()
            .find(|e| e.service == "billionmail")
            .unwrap();
        assert_eq!(bm.newest.as_deref(), Some("2.4.0"));
    }
}

#[tokio::test]
async fn without_a_command_the_newest_good_build_is_what_is_new() {
    let bot = bot("updates-builds", |c| {
        for p in c.pipelines.values_mut() {
            p.versions = None;
        }
    })
    .await;
    let r = updates(&bot, Some("staging")).await;
    assert!(r.entries.iter().all(|e| e.newest.is_none() && !e.update));
    deploy(&bot, "wix-backend", "1.0.0").await;
    let r = updates(&bot, None).await;
    let dev = r
        .entries
        .iter()
        .find(|e| e.service == "wix-backend" && e.environment == "dev")
        .unwrap();
    assert_eq!(dev.newest.as_deref(), Some("1.0.0"));
    assert_eq!(dev.source, Some(deckhand::versions::VersionSource::Builds));
    assert!(dev.update);
}

#[tokio::test]
async fn chat_answers_whats_new_and_refuses_unknown_names() {
    let bot = bot("updates-chat", |_| {}).await;
    let recorder = Arc::new(Recorder::default());
    let say = |text: &str| {
        let sink: Arc<dyn EventSink> = recorder.clone();
        let bot = &bot;
        let text = text.to_string();
        async move {
            bot.handle(
                Incoming {
                    thread: ThreadKey::new("console", "console", "t"),
                    user: "dave".into(),
                    text,
                    event_id: None,
                },
                sink,
            )
            .await;
        }
    };
    say("what's new in staging?").await;
    let texts: Vec<String> = recorder
        .drain()
        .iter()
        .filter_map(|e| text_of(e).map(str::to_string))
        .collect();
    let all = texts.join("\n");
    assert!(all.contains("Checking for updates in staging:"), "{all}");
    assert!(
        all.contains("- billionmail: not deployed yet; newest 2.4.0"),
        "{all}"
    );
    for (text, needle) in [
        (
            "what's new for nosuch",
            "I don't know a service called `nosuch`",
        ),
        (
            "any updates in nowhere?",
            "I don't know an environment called `nowhere`",
        ),
    ] {
        say(text).await;
        let said: Vec<String> = recorder
            .drain()
            .iter()
            .filter_map(|e| text_of(e).map(str::to_string))
            .collect();
        let said = said.join("\n");
        assert!(said.contains(needle), "{text}: {said}");
        assert!(!said.contains("Checking for updates"), "{text}: {said}");
    }
}

#[tokio::test]
async fn the_api_serves_the_same_report() {
    use support::api_rig::{ApiRig, DAVE};
    let rig = ApiRig::start("updates-api", None, |_| {}).await;
    let r = rig.get("/api/v1/updates?environment=stage", DAVE).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 5);
    assert_eq!(r.body["entries"][0]["newest"], "2.4.0");
    assert_eq!(r.body["entries"][0]["environment"], "staging");
    assert_eq!(r.body["entries"][0]["source"], "command");
    let one = rig.get("/api/v1/updates?service=bm", DAVE).await;
    assert_eq!(
        one.body["entries"].as_array().unwrap().len(),
        3,
        "{}",
        one.raw
    );
    let bad = rig.get("/api/v1/updates?service=nosuch", DAVE).await;
    assert_eq!(
        (bad.status, bad.kind()),
        (422, "unknown_service"),
        "{}",
        bad.raw
    );
    rig.server.shutdown().await;
}
