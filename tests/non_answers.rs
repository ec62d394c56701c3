//! A yes must be a yes: at every kind of yes/no question (deploy confirmation, stop-run,
//! did-you-mean, approval decision) a generated list of non-answers (random strings,
//! keyboard mashes, emoji, single letters, questions, other commands' words, other
//! languages, numbers, invisible characters, idioms) starts, stops, locks and decides
//! nothing; explicit answers, also with invisible characters around them, still count.

mod support;

use deckhand::bot::Bot;
use deckhand::chat::{BotEvent, EventSink, Incoming, ThreadKey};
use deckhand::dialogue::ANSWER_YES_OR_NO;
use std::sync::Arc;
use std::time::Duration;
use support::{config_in, temp_dir, text_of, Recorder};

/// xorshift64*: reproducible lists without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn word(&mut self, min: usize, max: usize) -> String {
        let len = min + self.below(max - min + 1);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

/// At least 500 messages that are not an answer to a yes/no question.
fn non_answers() -> Vec<String> {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut out: Vec<String> = Vec::new();
    let fixed = [
        "unsure",
        "huh",
        "idk",
        "jkjk",
        "🤷",
        "🤔",
        "xD",
        "whoami",
        "maybe",
        "hmm",
        "lol",
        "wait",
        "hold on",
        "dunno",
        "perhaps",
        "not sure",
        "yes and no",
        "either",
        "whatever",
        "I approve of this plan",
        "reject the premise",
        "I reject your reality",
        "ok?",
        "yes?",
        "no?",
        "sure?",
        "are you sure?",
        "what?",
        "why?",
        "is it safe?",
        "which version?",
        "who asked?",
        "what does that do?",
        "should I?",
        "can you explain?",
        "yes or no?",
        "status",
        "history",
        "help",
        "explain",
        "ping",
        "version",
        "logs",
        "info",
        "ls",
        "top",
        "uptime",
        "env",
        "config",
        "whoami?",
        "nein",
        "Nein",
        "нет",
        "いいえ",
        "لا",
        "non",
        "nee",
        "nej",
        "ei",
        "não",
        "да",
        "ja",
        "sí",
        "oui",
        "はい",
        "是",
        "不",
        "好",
        "好的",
        "部署",
        "可以",
        "كلا",
        "نعم",
        "حسنا",
        "हाँ",
        "नहीं",
        "evet",
        "hayır",
        "tak",
        "nie",
        "igen",
        "0",
        "1",
        "42",
        "100",
        "3.14",
        "12345",
        "-",
        "...",
        "?",
        "??",
        "!!!",
        "#",
        "@",
        "&",
        "\u{200B}",
        "\u{FEFF}",
        "\u{0}",
        "\u{200B}\u{200B}",
        " ",
        "\u{202E}",
        "😂",
        "🙃",
        "💀",
        "🔥",
        "👀",
        "🙏",
        "❤️",
        "😅",
        "🤷‍♂️",
        "🤷🏽",
        "🫠",
        "🥲",
        "🚀",
        "⏳",
        "🐛",
        "✨",
        "🤞",
        "😬",
        "yes but actually no",
        "no wait yes",
        "yeah no",
        "nah yeah",
        "sure, whatever you think",
        "deploys on a friday are scary",
        "the staging env is broken again",
        "ask bob",
        "let me check with the team",
        "give me a minute",
        "brb",
        "afk",
        "one sec",
        "later",
    ];
    out.extend(fixed.iter().map(|s| s.to_string()));
    // Single letters that are not listed answers.
    for c in 'a'..='z' {
        if !matches!(c, 'y' | 'n' | 'k') {
            out.push(c.to_string());
        }
    }
    // Keyboard mashes.
    let rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "jkjkjkjk", "hjklhjkl"];
    for _ in 0..60 {
        let row: Vec<char> = rows[rng.below(rows.len())].chars().collect();
        let start = rng.below(row.len() - 2);
        let len = 2 + rng.below(row.len() - start - 1);
        out.push(row[start..start + len].iter().collect());
    }
    // Random one-, two- and three-word strings ("apftjgb eqogyik es").
    for _ in 0..120 {
        out.push(rng.word(2, 9));
    }
    for _ in 0..60 {
        out.push(format!("{} {}", rng.word(2, 8), rng.word(1, 8)));
    }
    for _ in 0..120 {
        out.push(format!(
            "{} {} {}",
            rng.word(2, 8),
            rng.word(2, 8),
            rng.word(1, 4)
        ));
    }
    // Random printable Unicode from other scripts.
    let blocks = [
        (0x0400u32, 0x04FF),
        (0x0600, 0x06FF),
        (0x3040, 0x30FF),
        (0x4E00, 0x4FFF),
        (0x0900, 0x097F),
        (0xAC00, 0xAD00),
    ];
    for _ in 0..40 {
        let (lo, hi) = blocks[rng.below(blocks.len())];
        let len = 1 + rng.below(4);
        let w: String = (0..len)
            .filter_map(|_| char::from_u32(lo + rng.below((hi - lo) as usize) as u32))
            .collect();
        out.push(w);
    }
    out.retain(|s| !looks_like_explicit(s));
    assert!(out.len() >= 500, "only {} non-answers", out.len());
    out
}

/// Random strings can hit a real answer ("ok", "ya"); those are not non-answers.
fn looks_like_explicit(s: &str) -> bool {
    let w = s.trim().to_lowercase();
    [
        "y", "n", "k", "ok", "ya", "yes", "no", "go", "kk", "yep", "yup", "yea", "nah", "nope",
        "sure", "right", "correct", "okay", "confirm", "proceed", "cancel", "stop", "abort",
        "dont", "yeah", "deny", "veto",
    ]
    .contains(&w.as_str())
}

struct Rig {
    bot: Bot,
    recorder: Arc<Recorder>,
    sink: Arc<dyn EventSink>,
}

impl Rig {
    async fn new(config: &str, tag: &str) -> Rig {
        let dir = temp_dir(tag);
        let mut config = config_in(config, &dir);
        // Hundreds of messages a minute: the rate limit is not what is tested here.
        config.governance.rate_limit_actions = 1_000_000;
        let recorder = Arc::new(Recorder::default());
        Rig {
            bot: Bot::new(config).await.unwrap(),
            sink: recorder.clone(),
            recorder,
        }
    }

    async fn say(&self, user: &str, thread: &str, text: &str) -> Vec<BotEvent> {
        let msg = Incoming {
            thread: ThreadKey::new("console", "console", thread),
            user: user.into(),
            text: text.into(),
            event_id: None,
        };
        self.bot.handle(msg, self.sink.clone()).await;
        self.recorder.drain()
    }
}

fn acted(events: &[BotEvent]) -> Option<String> {
    events.iter().find_map(|e| match e {
        BotEvent::RunStarted { .. } | BotEvent::ApprovalRequest { .. } => Some(format!("{e:?}")),
        BotEvent::Reply { text, .. }
            if text.starts_with("Cancelling run")
                || text.contains("Locked ")
                || text.contains("Unlocked ")
                || text.to_lowercase().contains("approved by")
                || text.to_lowercase().contains("rejected by") =>
        {
            Some(text.clone())
        }
        _ => None,
    })
}

fn texts(events: &[BotEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(text_of)
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_answers_at_a_deploy_confirmation_start_nothing() {
    let rig = Rig::new("examples/deckhand.yaml", "non-answers-confirm").await;
    let thread = "confirm";
    let ask = "deploy billionmail 2.3.1 to staging";
    let question = rig.say("alice", thread, ask).await;
    assert!(
        question
            .iter()
            .any(|e| matches!(e, BotEvent::Confirm { text, .. } if text.starts_with("Deploy billionmail (2.3.1) to staging"))),
        "{question:?}"
    );
    let mut asked_again = 0;
    for text in non_answers() {
        let events = rig.say("alice", thread, &text).await;
        assert_eq!(acted(&events), None, "{text:?} acted: {events:?}");
        if rig
            .bot
            .awaiting_confirmation(&ThreadKey::new("console", "console", thread))
            .await
        {
            // Still open: either the yes/no reminder or an aside (a question answered).
            asked_again += usize::from(texts(&events).iter().any(|t| t == ANSWER_YES_OR_NO));
        } else {
            rig.say("alice", thread, ask).await;
        }
    }
    assert!(
        asked_again >= 400,
        "the reminder was given {asked_again} times"
    );
    assert!(
        rig.bot.store().run(1).await.unwrap().is_none(),
        "a run exists"
    );
    // An explicit yes, hidden behind invisible characters, is still a yes.
    let events = rig.say("alice", thread, "\u{FEFF}y\u{200B}es\u{0}").await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BotEvent::RunStarted { .. })),
        "{events:?}"
    );
    rig.bot.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_no_in_any_disguise_drops_the_request() {
    let rig = Rig::new("examples/deckhand.yaml", "non-answers-no").await;
    for (i, no) in [
        "no",
        "no\u{200B}",
        "\u{FEFF}no",
        "n\u{200D}o",
        "NO",
        "Nope",
        "nooo",
        "noo",
        "👎",
        "❌",
        "ｎｏ",
        "no.",
        "no!",
        "@deckhand no",
    ]
    .iter()
    .enumerate()
    {
        let thread = format!("no-{i}");
        rig.say("alice", &thread, "deploy billionmail 2.3.1 to staging")
            .await;
        let events = rig.say("alice", &thread, no).await;
        assert!(
            texts(&events)
                .iter()
                .any(|t| t.starts_with("OK, I won't deploy")),
            "{no:?}: {events:?}"
        );
        let events = rig.say("alice", &thread, "yes").await;
        assert_eq!(acted(&events), None, "{no:?} then yes: {events:?}");
    }
    for (i, yes) in [
        "yes",
        "yse",
        "yess",
        "yesss",
        "Yes!",
        "👍",
        "✅",
        "ｙｅｓ",
        "y",
    ]
    .iter()
    .enumerate()
    {
        let thread = format!("yes-{i}");
        rig.say("alice", &thread, &format!("deploy redis 7.2.{i} to dev"))
            .await;
        let events = rig.say("alice", &thread, yes).await;
        assert!(
            events
                .iter()
                .any(|e| matches!(e, BotEvent::RunStarted { .. })),
            "{yes:?}: {events:?}"
        );
        rig.bot.wait_idle().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_answers_at_a_did_you_mean_fill_nothing() {
    let rig = Rig::new("examples/deckhand.yaml", "non-answers-suggest").await;
    let thread = "suggest";
    let ask = "deploy payment-service to staging";
    let first = rig.say("alice", thread, ask).await;
    assert!(
        texts(&first)
            .iter()
            .any(|t| t.contains("did you mean `payments-api`")),
        "{first:?}"
    );
    for text in non_answers() {
        let events = rig.say("alice", thread, &text).await;
        assert_eq!(acted(&events), None, "{text:?} acted: {events:?}");
        // A non-answer never takes the suggestion: no confirmation follows it.
        assert!(
            !events.iter().any(|e| matches!(e, BotEvent::Confirm { .. })),
            "{text:?} took the suggestion: {events:?}"
        );
        rig.say("alice", thread, "cancel").await;
        rig.say("alice", thread, ask).await;
    }
    let events = rig.say("alice", thread, "yes").await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BotEvent::Confirm { text, .. } if text.contains("payments-api"))),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_answers_from_an_approver_decide_nothing() {
    let rig = Rig::new("examples/deckhand.yaml", "non-answers-approval").await;
    let thread = "approval";
    rig.say("alice", thread, "deploy billionmail 2.3.1 to production")
        .await;
    let events = rig.say("alice", thread, "yes").await;
    let id = events
        .iter()
        .find_map(|e| match e {
            BotEvent::ApprovalRequest { approval_id, .. } => Some(*approval_id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no approval request: {events:?}"));
    for text in non_answers() {
        let events = rig.say("bob", thread, &text).await;
        assert_eq!(acted(&events), None, "{text:?} from bob acted: {events:?}");
        let a = rig.bot.store().approval(id).await.unwrap().unwrap();
        assert_eq!(
            a.status,
            deckhand::store::ApprovalStatus::Pending,
            "{text:?} decided the request"
        );
    }
    // The rejections users type still reject.
    let events = rig.say("bob", thread, "do not approve").await;
    assert!(
        texts(&events).iter().any(|t| t.contains("Rejected by bob")),
        "{events:?}"
    );
    let a = rig.bot.store().approval(id).await.unwrap().unwrap();
    assert_eq!(a.status, deckhand::store::ApprovalStatus::Rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_answers_at_stop_run_stop_nothing() {
    let rig = Rig::new(
        "tests/conversations/test-pipelines.yaml",
        "non-answers-stop",
    )
    .await;
    let thread = "stop";
    rig.say("alice", thread, "deploy slow-api to dev").await;
    let events = rig.say("alice", thread, "yes").await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BotEvent::RunStarted { .. })),
        "{events:?}"
    );
    let key = ThreadKey::new("console", "console", thread);
    let events = rig.say("alice", thread, "cancel").await;
    assert!(
        texts(&events).iter().any(|t| t.starts_with("Stop run 1")),
        "{events:?}"
    );
    for text in non_answers() {
        let events = rig.say("alice", thread, &text).await;
        assert_eq!(acted(&events), None, "{text:?} acted: {events:?}");
        for _ in 0..3 {
            if rig.bot.awaiting_confirmation(&key).await {
                break;
            }
            // A command replaced the question: drop it, and ask to stop again.
            rig.say("alice", thread, "cancel").await;
        }
        assert!(rig.bot.awaiting_confirmation(&key).await, "after {text:?}");
    }
    assert_eq!(rig.bot.active_runs(), vec![1], "the run was stopped");
    let events = rig.say("alice", thread, "yes").await;
    assert!(
        texts(&events)
            .iter()
            .any(|t| t.starts_with("Cancelling run 1")),
        "{events:?}"
    );
    tokio::time::timeout(Duration::from_secs(30), rig.bot.wait_idle())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_answers_at_a_lock_or_unlock_question_lock_nothing() {
    let rig = Rig::new("examples/deckhand.yaml", "non-answers-lock").await;
    let key = ThreadKey::new("console", "console", "lock");
    let ask = "lock staging for 2 hours because of the incident";
    let first = rig.say("alice", "lock", ask).await;
    assert!(
        first.iter().any(|e| matches!(e, BotEvent::Confirm { text, .. } if text.starts_with("Lock staging for 2 h"))),
        "{first:?}"
    );
    for text in non_answers() {
        let events = rig.say("alice", "lock", &text).await;
        assert_eq!(acted(&events), None, "{text:?} acted: {events:?}");
        if !rig.bot.awaiting_confirmation(&key).await {
            rig.say("alice", "lock", ask).await;
        }
    }
    let now = deckhand::clock::now_ms();
    assert!(rig
        .bot
        .store()
        .active_locks(None, now)
        .await
        .unwrap()
        .is_empty());
    let events = rig.say("alice", "lock", "yes").await;
    assert!(
        texts(&events)
            .iter()
            .any(|t| t.starts_with("🔒 Locked staging for 2 h")),
        "{events:?}"
    );
    // Unlocking asks too, and non-answers leave the lock in place.
    let first = rig.say("alice", "unlock", "unlock staging").await;
    assert!(
        first.iter().any(
            |e| matches!(e, BotEvent::Confirm { text, .. } if text.starts_with("Unlock staging?"))
        ),
        "{first:?}"
    );
    let key = ThreadKey::new("console", "console", "unlock");
    for text in non_answers().into_iter().take(200) {
        let events = rig.say("alice", "unlock", &text).await;
        assert_eq!(acted(&events), None, "{text:?} acted: {events:?}");
        if !rig.bot.awaiting_confirmation(&key).await {
            rig.say("alice", "unlock", "unlock staging").await;
        }
    }
    assert_eq!(
        rig.bot.store().active_locks(None, now).await.unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_message_is_cut_and_the_reply_says_so() {
    let rig = Rig::new("examples/deckhand.yaml", "long-message").await;
    // 1.9 MB: a command hidden past the cap is never read.
    let mut text = "status billionmail ".to_string();
    while text.len() < 1_900_000 {
        text.push_str("lorem ipsum dolor sit amet ");
    }
    text.push_str(" deploy billionmail to production");
    let events = rig.say("alice", "long", &text).await;
    let said = texts(&events);
    assert!(
        said.iter()
            .any(|t| t.contains("longer than 4000 characters; I read only the first 4000")),
        "{said:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, BotEvent::Confirm { .. } | BotEvent::RunStarted { .. })),
        "{events:?}"
    );
    // Other threads answer as usual.
    let events = rig.say("alice", "other", "status billionmail").await;
    assert!(
        texts(&events).iter().any(|t| t.contains("billionmail")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refusals_users_type_reject_a_pending_request() {
    let rig = Rig::new("examples/deckhand.yaml", "refusals").await;
    for (i, phrase) in [
        "do not approve",
        "don't approve",
        "block this deploy",
        "nope, not this one",
        "reject",
        "-1",
    ]
    .iter()
    .enumerate()
    {
        let thread = format!("refuse-{i}");
        rig.say("alice", &thread, "deploy billionmail 2.3.1 to production")
            .await;
        let events = rig.say("alice", &thread, "yes").await;
        assert!(
            events
                .iter()
                .any(|e| matches!(e, BotEvent::ApprovalRequest { .. })),
            "{events:?}"
        );
        let events = rig.say("bob", &thread, phrase).await;
        assert!(
            texts(&events).iter().any(|t| t.contains("Rejected by bob")),
            "{phrase:?}: {events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, BotEvent::RunStarted { .. })),
            "{phrase:?}"
        );
    }
}
