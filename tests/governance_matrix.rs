//! Role x environment x action: through `Bot::handle`, nothing unauthorized ever starts a run
//! or even an approval request; authorized requests run at once, or ask for approval where the
//! policy requires it.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use deckhand::store::Decision;
use std::sync::Arc;
use support::{config_in, temp_dir, text_of, Recorder};

#[tokio::test]
async fn nothing_unauthorized_ever_starts_a_run() {
    let dir = temp_dir("matrix");
    let bot = Bot::new(config_in("examples/deckhand.yaml", &dir))
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let sink: Arc<dyn EventSink> = recorder.clone();
    // Expected outcome per (person, environment, action) for billionmail under examples/deckhand.yaml.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Refused,
        Runs,
        NeedsApproval,
        NothingToRollBack,
    }
    use Outcome::*;
    let expected = |person: &str, env: &str, action: &str| -> Outcome {
        let allowed = match (person, env, action) {
            ("mallory", _, _) => false,
            (_, "dev", _) => true,
            ("dave", _, _) => false,
            (_, "staging", _) => matches!(person, "alice" | "bob" | "carol"),
            (_, "production", "deploy") => matches!(person, "alice" | "bob" | "carol"),
            (_, "production", "rollback") => matches!(person, "alice" | "bob" | "carol"),
            _ => unreachable!(),
        };
        match (allowed, env, action) {
            (false, _, _) => Refused,
            (true, _, "rollback") => NothingToRollBack,
            (true, "production", _) => NeedsApproval,
            (true, _, _) => Runs,
        }
    };
    let mut n = 0;
    for person in ["alice", "bob", "carol", "dave", "mallory"] {
        for env in ["dev", "staging", "production"] {
            for action in ["deploy", "rollback"] {
                n += 1;
                let thread = ThreadKey::new("console", "console", &format!("t{n}"));
                let say = |text: &str| Incoming {
                    thread: thread.clone(),
                    user: person.into(),
                    text: text.into(),
                    event_id: None,
                };
                let command = if action == "deploy" {
                    format!("deploy billionmail to {env}")
                } else {
                    format!("rollback billionmail in {env}")
                };
                bot.handle(say(&command), sink.clone()).await;
                bot.handle(say("yes"), sink.clone()).await;
                bot.wait_idle().await;
                let events = recorder.drain();
                let started = events
                    .iter()
                    .any(|e| matches!(e, BotEvent::RunStarted { .. }));
                let approval = events
                    .iter()
                    .any(|e| matches!(e, BotEvent::ApprovalRequest { .. }));
                let texts: Vec<&str> = events.iter().filter_map(text_of).collect();
                let got = if started {
                    Runs
                } else if approval {
                    NeedsApproval
                } else if texts
                    .iter()
                    .any(|t| t.contains("may not") || t.contains("I don't know who"))
                {
                    Refused
                } else if texts.iter().any(|t| {
                    t.contains("nothing to roll back") || t.contains("no earlier successful deploy")
                }) {
                    NothingToRollBack
                } else {
                    panic!("{person} {action} {env}: unexpected {texts:?}")
                };
                assert_eq!(
                    got,
                    expected(person, env, action),
                    "{person} {action} in {env}: {texts:?}"
                );
            }
        }
    }
    bot.audit().verify().await.unwrap();
    bot.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_button_click_decides_like_a_typed_reply() {
    let dir = temp_dir("button");
    let bot = Bot::new(config_in("examples/deckhand.yaml", &dir))
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let sink: Arc<dyn EventSink> = recorder.clone();
    let thread = ThreadKey::new("console", "console", "b1");
    let say = |user: &str, text: &str| Incoming {
        thread: thread.clone(),
        user: user.into(),
        text: text.into(),
        event_id: None,
    };
    bot.handle(say("alice", "deploy redis to production"), sink.clone())
        .await;
    bot.handle(say("alice", "yes"), sink.clone()).await;
    let id = recorder
        .drain()
        .iter()
        .find_map(|e| match e {
            BotEvent::ApprovalRequest { approval_id, .. } => Some(*approval_id),
            _ => None,
        })
        .expect("an approval request");
    // The requester's click is refused by the same four-eyes rule.
    bot.decide(id, "console", "alice", Decision::Approve, sink.clone())
        .await;
    let events = recorder.drain();
    assert!(
        events
            .iter()
            .filter_map(text_of)
            .any(|t| t.contains("four-eyes")),
        "{events:?}"
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, BotEvent::RunStarted { .. })));
    // Bob clicks Approve: the run starts, once, in the request's thread.
    bot.decide(id, "console", "bob", Decision::Approve, sink.clone())
        .await;
    bot.decide(id, "console", "bob", Decision::Approve, sink.clone())
        .await;
    bot.wait_idle().await;
    let events = recorder.drain();
    let started: Vec<&BotEvent> = events
        .iter()
        .filter(|e| matches!(e, BotEvent::RunStarted { .. }))
        .collect();
    assert_eq!(started.len(), 1, "{events:?}");
    assert_eq!(started[0].thread(), &thread);
    assert!(
        events
            .iter()
            .filter_map(text_of)
            .any(|t| t.contains("already approved by bob")),
        "{events:?}"
    );
    let approval = bot.store().approval(id).await.unwrap().unwrap();
    assert_eq!(approval.status, deckhand::store::ApprovalStatus::Approved);
    assert!(approval.run_id.is_some());
    bot.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
