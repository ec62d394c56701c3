//! Role x environment x action: through `Bot::handle`, nothing unauthorized ever starts a run
//! or even an approval request; authorized requests run at once, or ask for approval where the
//! policy requires it.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use deckhand::command::RefusalKind;
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
                let refusals: Vec<RefusalKind> = events
                    .iter()
                    .filter_map(|e| match e {
                        BotEvent::Reply {
                            refusal: Some(k), ..
                        } => Some(*k),
                        _ => None,
                    })
                    .collect();
                let got = match (started, approval, refusals.as_slice()) {
                    (true, false, []) => Runs,
                    (false, true, []) => NeedsApproval,
                    (false, false, [RefusalKind::NotPermitted | RefusalKind::UnknownIdentity]) => {
                        Refused
                    }
                    (false, false, [RefusalKind::NothingToRollBack]) => NothingToRollBack,
                    _ => panic!("{person} {action} {env}: unexpected {refusals:?} {texts:?}"),
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
    let id = approval_requested(&bot, &recorder, &thread).await;
    // The requester's click is refused by the same four-eyes rule.
    bot.decide(id, &thread, "alice", Decision::Approve, sink.clone())
        .await;
    let events = recorder.drain();
    assert_eq!(refusals(&events), [RefusalKind::OwnRequest], "{events:?}");
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
    bot.decide(id, &thread, "bob", Decision::Approve, sink.clone())
        .await;
    bot.decide(id, &thread, "bob", Decision::Approve, sink.clone())
        .await;
    bot.wait_idle().await;
    let events = recorder.drain();
    let started: Vec<&BotEvent> = events
        .iter()
        .filter(|e| matches!(e, BotEvent::RunStarted { .. }))
        .collect();
    assert_eq!(started.len(), 1, "{events:?}");
    assert_eq!(started[0].thread(), &thread);
    assert_eq!(refusals(&events), [RefusalKind::Closed], "{events:?}");
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

fn refusals(events: &[BotEvent]) -> Vec<RefusalKind> {
    events
        .iter()
        .filter_map(|e| match e {
            BotEvent::Reply {
                refusal: Some(k), ..
            } => Some(*k),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn button_decisions_count_towards_the_rate_limit() {
    let dir = temp_dir("button-rate");
    let mut config = config_in("examples/deckhand.yaml", &dir);
    config.governance.rate_limit_actions = 2;
    let bot = Bot::new(config).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let sink: Arc<dyn EventSink> = recorder.clone();
    let thread = ThreadKey::new("console", "console", "r1");
    let say = |user: &str, text: &str| Incoming {
        thread: thread.clone(),
        user: user.into(),
        text: text.into(),
        event_id: None,
    };
    let id = approval_requested(&bot, &recorder, &thread).await;
    // Carol may not approve in production: each click is refused, and counted.
    for _ in 0..2 {
        bot.decide(id, &thread, "carol", Decision::Approve, sink.clone())
            .await;
        assert_eq!(refusals(&recorder.drain()), [RefusalKind::NotPermitted]);
    }
    bot.decide(id, &thread, "carol", Decision::Approve, sink.clone())
        .await;
    assert_eq!(refusals(&recorder.drain()), [RefusalKind::RateLimited]);
    // A typed "approve" from her is limited by the same count.
    bot.handle(say("carol", "approve"), sink.clone()).await;
    assert_eq!(refusals(&recorder.drain()), [RefusalKind::RateLimited]);
    bot.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Alice asks to deploy redis to production in `thread` and confirms: the id of the approval
/// request that follows.
async fn approval_requested(bot: &Bot, recorder: &Arc<Recorder>, thread: &ThreadKey) -> i64 {
    let sink: Arc<dyn EventSink> = recorder.clone();
    for text in ["deploy redis to production", "yes"] {
        let msg = Incoming {
            thread: thread.clone(),
            user: "alice".into(),
            text: text.into(),
            event_id: None,
        };
        bot.handle(msg, sink.clone()).await;
    }
    recorder
        .drain()
        .iter()
        .find_map(|e| match e {
            BotEvent::ApprovalRequest { approval_id, .. } => Some(*approval_id),
            _ => None,
        })
        .expect("an approval request")
}
