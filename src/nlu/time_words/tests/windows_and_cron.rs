//! Windows, spans, DST, recurring phrases and what `describe` / `describe_cron` show.

use super::*;

/// Windows in Berlin at [`NOW`]: (text, from, to).
const WINDOWS: &[(&str, &str, &str)] = &[
    (
        "freeze production from Friday 16:00 to Monday 08:00 because of the launch",
        "2026-12-04T15:00Z",
        "2026-12-07T07:00Z",
    ),
    (
        "between 18:00 and 20:00",
        "2026-12-03T17:00Z",
        "2026-12-03T19:00Z",
    ),
    (
        "from 22:00 to 02:00",
        "2026-12-02T21:00Z",
        "2026-12-03T01:00Z",
    ),
    (
        "from 16:00 for 2 hours",
        "2026-12-03T15:00Z",
        "2026-12-03T17:00Z",
    ),
    (
        "at 16:00 for 90 minutes",
        "2026-12-03T15:00Z",
        "2026-12-03T16:30Z",
    ),
    ("18:00-20:00", "2026-12-03T17:00Z", "2026-12-03T19:00Z"),
    ("from 9am – 5pm", "2026-12-03T08:00Z", "2026-12-03T16:00Z"),
    (
        "from monday 08:00 to monday 18:00",
        "2026-12-07T07:00Z",
        "2026-12-07T17:00Z",
    ),
    (
        "from sat 10:00 until sun",
        "2026-12-05T09:00Z",
        "2026-12-05T23:00Z",
    ),
    (
        "from 30 dec 18:00 to 2 jan 08:00",
        "2026-12-30T17:00Z",
        "2027-01-02T07:00Z",
    ),
    (
        "from 16:00 to 18:00 UTC",
        "2026-12-03T16:00Z",
        "2026-12-03T18:00Z",
    ),
    (
        "from 16:00 UTC to 18:00",
        "2026-12-03T16:00Z",
        "2026-12-03T18:00Z",
    ),
    ("until monday 08:00", NOW, "2026-12-07T07:00Z"),
    ("till 17:00", NOW, "2026-12-03T16:00Z"),
    ("lock prod until tomorrow", NOW, "2026-12-02T23:00Z"),
    ("until 24 dec", NOW, "2026-12-23T23:00Z"),
    ("from now until 20:00", NOW, "2026-12-02T19:00Z"),
    ("lock prod until midnight", NOW, "2026-12-02T23:00Z"),
    ("from now for 2 hours", NOW, "2026-12-02T19:30Z"),
    (
        "in 1 hour for 30 minutes",
        "2026-12-02T18:30Z",
        "2026-12-02T19:00Z",
    ),
];

#[test]
fn windows_resolve_the_end_from_the_start_and_reject_ends_before_starts() {
    let c = ctx("Europe/Berlin");
    for &(text, from, to) in WINDOWS {
        assert_eq!(between(text, &c), (ts(from), ts(to)), "{text}");
    }
    for text in [
        "from 2026-12-24 18:00 to 2026-12-24 10:00",
        "from 24 dec 2026 18:00 to 23 dec 2026 18:00",
        "from tomorrow 18:00 to today 20:00",
        "between 18:00 and 18:00",
        "from 16:00 for 0 minutes",
        "from friday 16:00 to tomorrow 08:00",
        "between 2026-12-24 10:00 and 2026-12-24 10:00",
    ] {
        let got = find(text, &c);
        assert!(
            matches!(got, Err(TimeError::EndNotAfterStart { .. })),
            "{text}: {got:?}"
        );
    }
}

#[test]
fn spans_cut_exactly_the_phrase() {
    let c = ctx("Europe/Berlin");
    for (text, phrase) in [
        ("deploy billionmail to staging at 18:00 please", "at 18:00"),
        ("@deckhand deploy api at 18:00 UTC, thanks!", "at 18:00 UTC"),
        ("Deploy API at 9PM.", "at 9PM"),
        ("deploy (at 18:00) to prod", "at 18:00"),
        ("deploy api tomorrow at 9 to prod", "tomorrow at 9"),
        (
            "lock prod from Friday 16:00 to Monday 08:00 because of the launch",
            "from Friday 16:00 to Monday 08:00",
        ),
        (
            "freeze staging until monday 08:00, thanks",
            "until monday 08:00",
        ),
        (
            "every weekday at 06:00 run healthcheck",
            "every weekday at 06:00",
        ),
        (
            "run healthcheck at 06:00 every weekday",
            "at 06:00 every weekday",
        ),
        ("rollback billionmail in 2 hours if it fails", "in 2 hours"),
        (
            "deploy on dev on friday at 16:00 for 2h",
            "on friday at 16:00 for 2h",
        ),
        (
            "deploy 2.4.0 to prod 2026-12-24T18:00Z",
            "2026-12-24T18:00Z",
        ),
        ("lock ünïcödé at 18:00 – ok", "at 18:00"),
        ("deploy v1.2 at 18:00-20:00 window", "at 18:00-20:00"),
        ("deploy 18:00Z to prod", "18:00Z"),
        ("reschedule the deploy to 18:00", "18:00"),
    ] {
        let got = find(text, &c).unwrap().unwrap();
        assert_eq!(&text[got.span], phrase, "{text}");
    }
}

#[test]
fn dst_gaps_move_forward_and_folds_take_the_earlier_instant() {
    let before_spring = ctx_at("2026-03-01T12:00:00Z", "Europe/Berlin");
    let eve_spring = ctx_at("2026-03-28T12:00:00Z", "Europe/Berlin");
    // 2026-03-29 02:30 does not exist in Berlin: it is read as 03:30 CEST (01:30 UTC).
    for (text, c) in [
        ("on 2026-03-29 at 02:30", &before_spring),
        ("on 29 mar at 2:30am", &before_spring),
        ("at 02:30 tomorrow", &eve_spring),
        ("at 02:30", &eve_spring),
        ("on sunday at 02:30", &eve_spring),
    ] {
        assert_eq!(at(text, c), ts("2026-03-29T01:30:00Z"), "{text}");
    }
    // 2026-10-25 02:30 happens twice: the earlier one, 02:30 CEST (00:30 UTC).
    let before_fall = ctx_at("2026-10-01T12:00:00Z", "Europe/Berlin");
    let eve_fall = ctx_at("2026-10-24T12:00:00Z", "Europe/Berlin");
    for (text, c) in [
        ("on 2026-10-25 at 02:30", &before_fall),
        ("on 25 oct at 2:30am", &before_fall),
        ("at 02:30", &eve_fall),
        ("tomorrow at 2:30", &eve_fall),
    ] {
        assert_eq!(at(text, c), ts("2026-10-25T00:30:00Z"), "{text}");
    }
    // A window across the gap is an hour shorter; relative times are exact seconds.
    let (from, to) = between("from 2026-03-28 22:00 to 2026-03-29 04:00", &before_spring);
    assert_eq!(to.duration_since(from), SignedDuration::from_hours(5));
    let late = ctx_at("2026-03-29T00:30:00Z", "Europe/Berlin");
    assert_eq!(at("in 2 hours", &late), ts("2026-03-29T02:30:00Z"));
    assert_eq!(
        describe(ts("2026-03-29T01:30:00Z"), &late.tz, late.now),
        "today 03:30 CEST"
    );
}

/// Every recurring form and its cron line.
const RECURRING: &[(&str, &str)] = &[
    ("every weekday at 06:00", "0 6 * * 1-5"),
    ("every day at 9", "0 9 * * *"),
    ("daily at 07:30", "30 7 * * *"),
    ("every monday at 10:30", "30 10 * * 1"),
    ("weekdays at 6", "0 6 * * 1-5"),
    ("every hour", "0 * * * *"),
    ("hourly", "0 * * * *"),
    ("every 15 minutes", "*/15 * * * *"),
    ("every weekend at 10", "0 10 * * 0,6"),
    ("every minute", "* * * * *"),
    ("every half hour", "*/30 * * * *"),
    ("every 2 hours", "0 */2 * * *"),
    ("every 2h", "0 */2 * * *"),
    ("every 60 minutes", "0 * * * *"),
    ("each day at 9pm", "0 21 * * *"),
    ("everyday at noon", "0 12 * * *"),
    ("every day at midnight", "0 0 * * *"),
    ("every sunday at 23:59", "59 23 * * 0"),
    ("every mon and fri at 9am", "0 9 * * 1,5"),
    (
        "every Monday, Wednesday and Friday at 09:00",
        "0 9 * * 1,3,5",
    ),
    (
        "every monday tuesday wednesday thursday friday at 6",
        "0 6 * * 1-5",
    ),
    ("mondays at 10", "0 10 * * 1"),
    ("on weekdays at 6:15", "15 6 * * 1-5"),
    ("on saturdays and sundays at 10", "0 10 * * 0,6"),
    ("at 06:00 every weekday", "0 6 * * 1-5"),
    ("at 9 daily", "0 9 * * *"),
    ("at 6pm on weekdays", "0 18 * * 1-5"),
    ("every day at 9 Europe/Berlin", "0 9 * * *"),
    ("every day at 9 europe/berlin", "0 9 * * *"),
    ("every weekday at quarter past 9", "15 9 * * 1-5"),
];

#[test]
fn every_recurring_form_round_trips_through_croner_and_describe_cron() {
    let c = ctx("Europe/Berlin");
    for &(text, want) in RECURRING {
        let cron = cron_of(text, &c);
        assert_eq!(cron, want, "{text}");
        let parsed = Cron::from_str(&cron).unwrap_or_else(|e| panic!("{cron}: {e}"));
        let words = describe_cron(&cron);
        assert!(!words.starts_with("cron"), "{cron}: {words}");
        assert_eq!(cron_of(&words, &c), cron, "{text} -> {words}");
        // The next run is ahead of now and matches the cron in the context zone.
        let now = c.now.to_zoned(c.tz.clone());
        let next: Zoned = parsed.find_next_occurrence(&now, false).unwrap();
        assert!(
            next > now && parsed.is_time_matching(&next).unwrap(),
            "{cron}"
        );
    }
    // A recurrence said in the context zone under another name of it.
    let utc = ctx("Etc/UTC");
    assert_eq!(cron_of("every day at 9 UTC", &utc), "0 9 * * *");
    let next = |cron: &str| {
        let now = c.now.to_zoned(c.tz.clone());
        Cron::from_str(cron)
            .unwrap()
            .find_next_occurrence(&now, false)
            .unwrap()
            .timestamp()
    };
    assert_eq!(
        next(&cron_of("every weekday at 06:00", &c)),
        ts("2026-12-03T05:00Z")
    );
    assert_eq!(
        next(&cron_of("every weekend at 10", &c)),
        ts("2026-12-05T09:00Z")
    );
    for (cron, words) in [
        ("0 6 * * 1-5", "every weekday at 06:00"),
        ("30 10 * * 1", "every Monday at 10:30"),
        ("0 10 * * 0,6", "every weekend at 10:00"),
        ("*/15 * * * *", "every 15 minutes"),
        ("5 4 1 * *", "cron `5 4 1 * *`"),
        ("0 9 * * 8", "cron `0 9 * * 8`"),
        ("nonsense", "cron `nonsense`"),
    ] {
        assert_eq!(describe_cron(cron), words);
    }
}

#[test]
fn describe_shows_days_years_and_zones() {
    let berlin = zone("Europe/Berlin");
    let now = ts(NOW);
    for (instant, want) in [
        ("2026-12-02T18:00:00Z", "today 19:00 CET"),
        ("2026-12-03T08:00:00Z", "tomorrow 09:00 CET"),
        ("2026-12-04T15:00:00Z", "Fri 4 Dec 16:00 CET"),
        ("2026-12-24T17:00:00Z", "Thu 24 Dec 18:00 CET"),
        ("2027-07-01T08:00:00Z", "Thu 1 Jul 10:00 CEST"),
        ("2027-12-24T17:00:00Z", "Fri 24 Dec 2027 18:00 CET"),
        ("2026-12-02T19:30:20Z", "today 20:30:20 CET"),
    ] {
        assert_eq!(describe(ts(instant), &berlin, now), want);
    }
    let at_ny = describe(ts("2026-12-02T23:00:00Z"), &zone("America/New_York"), now);
    assert_eq!(at_ny, "today 18:00 EST");
    let sp = describe(ts("2026-12-03T12:00:00Z"), &zone("America/Sao_Paulo"), now);
    assert_eq!(sp, "tomorrow 09:00 America/Sao_Paulo");
    assert_eq!(describe(now, &TimeZone::UTC, now), "today 17:30 UTC");
    // What find_time reads, describe shows back as said.
    let c = ctx("Europe/Berlin");
    assert_eq!(
        describe(at("on friday at 16:00", &c), &c.tz, c.now),
        "Fri 4 Dec 16:00 CET"
    );
}

#[test]
fn errors_are_sentences_for_a_person() {
    for e in [
        TimeError::InThePast {
            text: "at 2026-01-01 10:00".into(),
        },
        TimeError::EndNotAfterStart {
            text: "between 18:00 and 18:00".into(),
        },
        TimeError::Unreadable {
            text: "at 25:00".into(),
        },
        TimeError::UnknownZone {
            name: "Mars/Olympus".into(),
        },
    ] {
        let s = e.to_string();
        let first = s.chars().next().unwrap();
        assert!(
            (first.is_uppercase() || first == '"') && s.ends_with('.'),
            "{s}"
        );
    }
}

/// Words for random sentences: markers, times, versions, junk, zones, punctuation.
const VOCAB: [&str; 48] = [
    "deploy",
    "lock",
    "staging",
    "prod",
    "at",
    "on",
    "from",
    "to",
    "until",
    "in",
    "every",
    "between",
    "and",
    "for",
    "18:00",
    "9",
    "9pm",
    "pm",
    "tomorrow",
    "tonight",
    "friday",
    "fri",
    "next",
    "2h",
    "2",
    "hours",
    "2.4.0",
    "v18",
    "24",
    "dec",
    "2026-12-24",
    "UTC",
    "Europe/Berlin",
    "Mars/Olympus",
    "noon",
    "midnight",
    "quarter",
    "past",
    "because",
    "the",
    "weekday",
    "daily",
    "-",
    "25:00",
    "ünï",
    "@deckhand",
    ",",
    "18:00Z",
];

#[test]
fn random_sentences_never_panic_and_spans_reread_to_the_same_meaning() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut phrases, mut errors) = (0, 0);
    for name in ZONES {
        let c = ctx(name);
        for _ in 0..3000 {
            let len = 1 + rand(8);
            let words: Vec<&str> = (0..len).map(|_| VOCAB[rand(VOCAB.len())]).collect();
            let text = words.join(" ");
            match find(&text, &c) {
                Ok(Some(p)) => {
                    phrases += 1;
                    assert!(
                        text.is_char_boundary(p.span.start) && text.is_char_boundary(p.span.end)
                    );
                    let again = find(&text[p.span.clone()], &c).unwrap().unwrap();
                    assert_eq!(again.spec, p.spec, "{text}");
                }
                Ok(None) => {}
                Err(_) => errors += 1,
            }
        }
    }
    assert!(phrases > 100 && errors > 100, "{phrases} {errors}");
}
