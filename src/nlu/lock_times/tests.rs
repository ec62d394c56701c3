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
fn a_deploy_or_rollback_at_a_time_carries_the_time() {
    let nlu = nlu();
    for (text, said) in [
        ("deploy billionmail to staging at 18:00", "at 18:00"),
        (
            "deploy billionmail to staging tomorrow at 9",
            "tomorrow at 9",
        ),
        ("rollback redis in production at 17:30", "at 17:30"),
        (
            "deploy billionmail 2.4.0 to staging in 2 hours",
            "in 2 hours",
        ),
    ] {
        let p = nlu.parse(text);
        assert!(
            matches!(p.intent, Intent::Deploy | Intent::Rollback),
            "{text}"
        );
        assert!(p.slots.lock.is_none(), "{text}");
        let when = p
            .slots
            .when
            .as_ref()
            .unwrap_or_else(|| panic!("{text}: no time"));
        assert_eq!(when.text, said, "{text}");
        assert!(when.at > crate::clock::now_ms(), "{text}");
        // The phrase was cut out before the names were read.
        assert!(p.parts.time.is_none(), "{text}");
        assert!(p.invalid.is_empty(), "{text}: {:?}", p.invalid);
        assert!(p.slots.environment.is_some(), "{text}");
    }
    for text in [
        "deploy billionmail to staging every weekday at 6",
        "deploy billionmail to staging from 16:00 to 18:00",
        "rollback redis in production until 17:30",
    ] {
        let p = nlu.parse(text);
        assert!(p.slots.when.is_none(), "{text}");
        assert_eq!(p.invalid.len(), 1, "{text}: {:?}", p.invalid);
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
