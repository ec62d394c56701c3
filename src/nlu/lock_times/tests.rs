use super::*;
use crate::config::Config;

fn nlu() -> Nlu {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
    Nlu::new(&Config::load(&path).unwrap()).unwrap()
}

const WINDOWS: [&str; 6] = [
    "from friday 16:00 to monday 08:00",
    "from 16:00 to 18:00",
    "until 18:00",
    "between 18:00 and 20:00",
    "at 16:00 for 2 hours",
    "from tomorrow 9am to tomorrow 5pm",
];

#[test]
fn lock_requests_with_a_window_carry_it_and_keep_names_and_reasons_clean() {
    let nlu = nlu();
    let mut checked = 0;
    for verb in ["freeze", "lock"] {
        for (env, canonical) in [("production", "production"), ("staging", "staging")] {
            for window in WINDOWS {
                for reason in ["", " because of the launch", " while we migrate"] {
                    let text = format!("{verb} {env} {window}{reason}");
                    let p = nlu.parse(&text);
                    assert_eq!(p.intent, Intent::Lock, "{text}: {p:?}");
                    assert_eq!(p.slots.environment.as_deref(), Some(canonical), "{text}");
                    assert_eq!(p.slots.service, None, "{text}: a time word became a name");
                    assert!(p.invalid.is_empty(), "{text}: {:?}", p.invalid);
                    let details = p.slots.lock.as_ref().expect("lock details");
                    let w = details.window.as_ref().unwrap_or_else(|| panic!("{text}"));
                    assert!(w.from < w.until, "{text}");
                    assert_eq!(w.text, window, "{text}");
                    assert_eq!(details.duration, None, "{text}");
                    match reason {
                        "" => assert_eq!(details.reason, None, "{text}"),
                        r => {
                            let got = details.reason.as_deref().unwrap_or_default();
                            let last = r.split_whitespace().last().unwrap();
                            assert!(got.ends_with(last), "{text}: reason {got:?}");
                            assert!(!got.contains(':'), "{text}: reason {got:?}");
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 72);
}

#[test]
fn a_lock_start_without_an_end_or_a_recurring_freeze_is_named_not_dropped() {
    let nlu = nlu();
    for (text, said) in [
        ("freeze production at 18:00", "at 18:00"),
        ("lock staging tomorrow at 9am", "tomorrow at 9am"),
        ("lock staging in 2 hours", "in 2 hours"),
        (
            "freeze production every friday at 16:00",
            "every friday at 16:00",
        ),
        ("lock staging every day at 9", "every day at 9"),
    ] {
        let p = nlu.parse(text);
        assert_eq!(p.intent, Intent::Lock, "{text}");
        assert!(
            p.invalid.iter().any(|m| m.contains(said)),
            "{text}: {:?}",
            p.invalid
        );
        assert!(
            p.slots.lock.as_ref().is_none_or(|d| d.window.is_none()),
            "{text}"
        );
    }
    for text in [
        "freeze production at 25:00",
        "lock staging from friday to monday",
    ] {
        let p = nlu.parse(text);
        assert!(
            p.invalid.iter().any(|m| m.contains("as a time")),
            "{text}: {:?}",
            p.invalid
        );
    }
}

#[test]
fn other_requests_keep_their_times_as_words_deckhand_cannot_honour() {
    let nlu = nlu();
    for text in [
        "deploy billionmail to staging at 18:00",
        "deploy billionmail to staging tomorrow at 9",
        "rollback redis in production at 17:30",
    ] {
        let p = nlu.parse(text);
        assert_ne!(p.intent, Intent::Lock, "{text}");
        assert!(p.slots.lock.is_none(), "{text}");
        assert!(
            p.parts.time.is_some(),
            "{text}: the time is no longer named"
        );
    }
}

#[test]
fn times_are_read_in_the_zone_given() {
    let nlu = nlu();
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    for (tz, name) in [(TimeZone::UTC, "UTC"), (berlin, "Europe/Berlin")] {
        let p = nlu.parse_in("freeze production from 16:00 to 18:00", &tz);
        let w = p.slots.lock.unwrap().window.unwrap();
        assert_eq!(w.tz, name);
        let from = Timestamp::from_millisecond(w.from)
            .unwrap()
            .to_zoned(tz.clone());
        assert_eq!((from.hour(), from.minute()), (16, 0), "{name}");
        assert_eq!(w.until - w.from, 2 * 3_600_000, "{name}");
    }
}
