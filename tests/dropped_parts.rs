//! Nothing in a request is dropped silently, tested as classes: a word that tries to be a
//! version but is none, and a time or condition, are named (as `invalid` or `time`) for every
//! sentence frame, so the dialogue refuses instead of deploying the latest build now.

mod support;

use deckhand::nlu::{Intent, Nlu};
use support::{config_in, temp_dir};

fn nlu() -> Nlu {
    Nlu::new(&config_in("examples/deckhand.yaml", &temp_dir("dropped"))).unwrap()
}

const FRAMES: [&str; 4] = [
    "deploy billionmail {} to staging",
    "deploy billionmail to staging {}",
    "ship billionmail {} to prod",
    "rollback billionmail in staging to {}",
];

#[test]
fn words_that_try_to_be_versions_are_refused_by_name() {
    let nlu = nlu();
    for bad in [
        "release-2.4.1",
        "2.3.1-",
        "ver2.3.1",
        "2.3.1rc1",
        "2.4.0+",
        "1e10",
        "~2.3.1",
        "2.3.1*",
        "2.3.1>",
        "^2.3.1",
        "v 2.4.1",
        "2.3.1;id",
        "2.4.0`id`",
        "$2.4.0",
    ] {
        for frame in FRAMES {
            let text = frame.replace("{}", bad);
            let p = nlu.parse(&text);
            assert!(
                !p.invalid.is_empty(),
                "{text}: read as {:?} with no refusal",
                p.slots.version
            );
        }
    }
    for good in [
        "2.3.1",
        "v2.4.1",
        "V2.5.0-RC.1",
        "~2.3.1~",
        "`2.3.1`",
        "(2.3.1)",
    ] {
        let p = nlu.parse(&format!("deploy billionmail {good} to staging"));
        assert!(p.invalid.is_empty(), "{good}: {:?}", p.invalid);
        assert_eq!(p.intent, Intent::Deploy, "{good}");
    }
}

#[test]
fn times_and_conditions_are_named() {
    let nlu = nlu();
    for when in [
        "at 6pm",
        "at 18:00",
        "at 18.00",
        "at 1800",
        "at 10.30pm",
        "tomorrow",
        "tomorow",
        "tonight at 22:00",
        "in 2 hours",
        "in a few minutes",
        "in half an hour",
        "in 5",
        "after lunch",
        "after the standup",
        "once tests pass",
        "as soon as ci is green",
        "on friday",
        "next week",
        "this evening",
        "in the morning",
        "on dec 24",
        "on 12/24",
        "at 2026-12-02T18:00",
        "by end of day",
    ] {
        for frame in [
            "deploy billionmail to staging {}",
            "rollback redis in dev {}",
        ] {
            let text = frame.replace("{}", when);
            let p = nlu.parse(&text);
            // Read as the time to schedule it at, or named as a time that cannot be honoured.
            assert!(
                p.slots.when.is_some() || p.parts.time.is_some() || !p.invalid.is_empty(),
                "{text}: the time was dropped"
            );
            if let Some(w) = &p.slots.when {
                assert!(w.at > deckhand::clock::now_ms(), "{text}");
                assert!(
                    p.parts.time.is_none() && p.invalid.is_empty(),
                    "{text}: {p:?}"
                );
            }
        }
    }
}
