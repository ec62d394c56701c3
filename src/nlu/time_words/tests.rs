use super::*;
use croner::Cron;
use jiff::civil::Weekday;
use jiff::Zoned;
use std::str::FromStr;

mod windows_and_cron;

/// Wednesday 2026-12-02, 17:30 UTC (18:30 in Berlin, 12:30 in New York).
const NOW: &str = "2026-12-02T17:30:00Z";
const ZONES: [&str; 3] = ["UTC", "Europe/Berlin", "America/New_York"];

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn ctx_at(now: &str, tz: &str) -> TimeContext {
    TimeContext {
        now: ts(now),
        tz: zone(tz),
    }
}

fn ctx(tz: &str) -> TimeContext {
    ctx_at(NOW, tz)
}

fn find(text: &str, c: &TimeContext) -> Result<Option<TimePhrase>, TimeError> {
    find_time(text, c)
}

fn at(text: &str, c: &TimeContext) -> Timestamp {
    match find(text, c) {
        Ok(Some(TimePhrase {
            spec: TimeSpec::At(t),
            ..
        })) => t,
        other => panic!("{text}: expected At, got {other:?}"),
    }
}

fn between(text: &str, c: &TimeContext) -> (Timestamp, Timestamp) {
    match find(text, c) {
        Ok(Some(TimePhrase {
            spec: TimeSpec::Between { from, to },
            ..
        })) => (from, to),
        other => panic!("{text}: expected Between, got {other:?}"),
    }
}

fn cron_of(text: &str, c: &TimeContext) -> String {
    match find(text, c) {
        Ok(Some(TimePhrase {
            spec: TimeSpec::Every { cron },
            ..
        })) => cron,
        other => panic!("{text}: expected Every, got {other:?}"),
    }
}

fn unreadable(text: &str, c: &TimeContext) -> String {
    match find(text, c) {
        Err(TimeError::Unreadable { text }) => text,
        other => panic!("{text}: expected Unreadable, got {other:?}"),
    }
}

/// The next instant with wall time `h:m` in `tz` after `now` (today if ahead, else tomorrow).
fn next_wall(now: Timestamp, tz: &TimeZone, h: i8, m: i8) -> Timestamp {
    let today = now.to_zoned(tz.clone()).date();
    [today, today.tomorrow().unwrap()]
        .into_iter()
        .map(|d| d.at(h, m, 0, 0).to_zoned(tz.clone()).unwrap().timestamp())
        .find(|t| *t > now)
        .unwrap()
}

#[test]
fn every_hour_and_minute_in_every_format_resolves_to_that_wall_time() {
    let mut checked = 0;
    for name in ZONES {
        let c = ctx(name);
        for h in 0..24i8 {
            for m in [0i8, 1, 5, 15, 30, 45, 59] {
                let (h12, ap) = (
                    if h % 12 == 0 { 12 } else { h % 12 },
                    if h < 12 { "am" } else { "pm" },
                );
                let mut forms = vec![
                    format!("deploy at {h}:{m:02}"),
                    format!("at {h:02}:{m:02}"),
                    format!("{h:02}:{m:02}"),
                    format!("deploy api at {h12}:{m:02}{ap}"),
                    format!("at {h12}:{m:02} {}", ap.to_uppercase()),
                    format!("{h12}:{m:02}{ap}"),
                    format!("at {h:02}:{m:02}:00"),
                ];
                if m == 0 {
                    forms.extend([
                        format!("at {h}"),
                        format!("at {h} o'clock"),
                        format!("at {h12}{ap}"),
                        format!("at {h12} {ap}"),
                        format!("{h12}{ap}"),
                        format!("at {h12} {}", if h < 12 { "a.m." } else { "p.m." }),
                    ]);
                }
                let want = next_wall(c.now, &c.tz, h, m);
                for form in forms {
                    assert_eq!(at(&form, &c), want, "{form} in {name}");
                    checked += 1;
                }
                let utc = next_wall(c.now, &TimeZone::UTC, h, m);
                assert_eq!(at(&format!("at {h}:{m:02} UTC"), &c), utc, "{name}");
                let tomorrow = c.now.to_zoned(c.tz.clone()).date().tomorrow().unwrap();
                let want = tomorrow.at(h, m, 0, 0).to_zoned(c.tz.clone()).unwrap();
                assert_eq!(at(&format!("tomorrow at {h}:{m:02}"), &c), want.timestamp());
            }
        }
    }
    assert!(checked > 2000, "{checked}");
}

#[test]
fn named_and_twelve_hour_edges() {
    let c = ctx("Europe/Berlin"); // now 18:30 CET
    let wall = |t: Timestamp| t.to_zoned(c.tz.clone()).strftime("%F %H:%M").to_string();
    for (text, want) in [
        ("at 12am", "2026-12-03 00:00"),
        ("at 12pm", "2026-12-03 12:00"),
        ("at noon", "2026-12-03 12:00"),
        ("at midnight", "2026-12-03 00:00"),
        ("at 9pm", "2026-12-02 21:00"),
        ("at quarter past 9", "2026-12-03 09:15"),
        ("at half past 6pm", "2026-12-03 18:30"), // exactly now: not ahead
        ("at half past 7pm", "2026-12-02 19:30"),
        ("at quarter to 10pm", "2026-12-02 21:45"),
        ("tonight at 11pm", "2026-12-02 23:00"),
        ("tonight at 11", "2026-12-02 23:00"),
        ("tonight at 1am", "2026-12-03 01:00"),
        ("tonight at midnight", "2026-12-03 00:00"),
        ("tonight at 12:30", "2026-12-03 00:30"),
        ("tomorrow noon", "2026-12-03 12:00"),
        ("tomorrow 9am", "2026-12-03 09:00"),
        ("at 9 tomorrow", "2026-12-03 09:00"),
        ("at 16:00 on friday", "2026-12-04 16:00"),
        ("2026-12-24 18:00", "2026-12-24 18:00"),
        ("2026-12-24T18:00", "2026-12-24 18:00"),
        ("on 2026-12-24 at 6pm", "2026-12-24 18:00"),
        ("24 dec at 9am", "2026-12-24 09:00"),
        ("dec 24th at 9am", "2026-12-24 09:00"),
        ("on the 24th of december at 9", "2026-12-24 09:00"),
        ("on 24 december 2027 at 09:00", "2027-12-24 09:00"),
        ("on 1 dec at 10:00", "2027-12-01 10:00"),
        ("on 2 dec at 18:00", "2027-12-02 18:00"),
        ("on 2 dec at 19:00", "2026-12-02 19:00"),
        ("on 29 feb at 10:00", "2028-02-29 10:00"),
    ] {
        assert_eq!(wall(at(text, &c)), want, "{text}");
    }
    // Absolute instants, zones and relative ones.
    assert_eq!(at("2026-12-24T18:00Z", &c), ts("2026-12-24T18:00Z"));
    assert_eq!(at("at 2026-12-24T18:00+05:30", &c), ts("2026-12-24T12:30Z"));
    assert_eq!(at("at 18:00 UTC+2", &c), ts("2026-12-03T16:00Z"));
    assert_eq!(at("at 18:00 america/new_york", &c), ts("2026-12-02T23:00Z"));
    assert_eq!(at("at 18:00 CET", &c), ts("2026-12-03T17:00Z"));
    for (text, secs) in [
        ("in 2 hours", 7200),
        ("in 30 minutes", 1800),
        ("in 1h30", 5400),
        ("in half an hour", 1800),
        ("in an hour from now", 3600),
        ("in 2 days", 172_800),
    ] {
        assert_eq!(
            at(text, &c),
            c.now + SignedDuration::from_secs(secs),
            "{text}"
        );
    }
}

#[test]
fn every_weekday_name_and_abbreviation_is_the_next_such_day() {
    let days = [
        (Weekday::Monday, "monday", &["mon"][..]),
        (Weekday::Tuesday, "tuesday", &["tue", "tues"]),
        (Weekday::Wednesday, "wednesday", &["wed", "weds"]),
        (Weekday::Thursday, "thursday", &["thu", "thur", "thurs"]),
        (Weekday::Friday, "friday", &["fri"]),
        (Weekday::Saturday, "saturday", &["sat"]),
        (Weekday::Sunday, "sunday", &["sun"]),
    ];
    for name in ZONES {
        let c = ctx(name);
        let now = c.now.to_zoned(c.tz.clone());
        for (wd, full, abbrs) in days {
            let cap = format!("{}{}", full[..1].to_uppercase(), &full[1..]);
            for hour in [0i8, 9, 23] {
                let mut forms = vec![format!("{cap} at {hour}:00"), format!("{full} {hour}:00")];
                for n in abbrs.iter().chain([&full]) {
                    forms.push(format!("on {n} at {hour}:00"));
                    forms.push(format!("next {n} at {hour}:00"));
                    forms.push(format!("this {n} {hour:02}:00"));
                }
                for form in forms {
                    let z = at(&form, &c).to_zoned(c.tz.clone());
                    assert_eq!((z.weekday(), z.hour(), z.minute()), (wd, hour, 0), "{form}");
                    let ahead = z.timestamp().duration_since(c.now);
                    assert!(ahead > SignedDuration::ZERO, "{form}");
                    assert!(ahead <= SignedDuration::from_hours(24 * 7), "{form}");
                }
            }
            // "until <day>": 00:00 at the start of the next such day (never today).
            let (from, to) = between(&format!("lock prod until {full}"), &c);
            let z = to.to_zoned(c.tz.clone());
            assert_eq!((from, z.weekday(), z.hour(), z.minute()), (c.now, wd, 0, 0));
            assert!(
                z.date() > now.date() && z.date() <= now.date() + 7.days(),
                "{full}"
            );
        }
    }
    // Today is Wednesday 18:30 in Berlin: a later time is today, an earlier one next week.
    let c = ctx("Europe/Berlin");
    assert_eq!(at("on wednesday at 19:00", &c), ts("2026-12-02T18:00Z"));
    assert_eq!(at("on wed at 18:00", &c), ts("2026-12-09T17:00Z"));
}

#[test]
fn deploy_and_lock_sentences_without_times_have_no_phrase() {
    let negatives = [
        "deploy billionmail 2.4.0 to staging",
        "deploy 18 to prod",
        "lock staging while i debug",
        "rollback in production",
        "deploy v1.2 at once",
        "deploy billionmail in staging",
        "restart api on dev",
        "deploy 1.2 to prod",
        "deploy v18 to staging",
        "scale web to 3 in production",
        "lock production for 2 hours",
        "lock prod for 1h30",
        "unlock staging",
        "status of payments-api",
        "deploy from main to staging",
        "deploy billionmail from branch release-2.4 to staging",
        "rollback to 2.4.0",
        "rollback from 2.4.0 to 2.3.9",
        "upgrade postgres from 9 to 17",
        "deploy api in 2 regions",
        "restart every pod",
        "who is on call",
        "lock staging until the incident is over",
        "lock staging until further notice",
        "deploy each service",
        "deploy at your convenience",
        "deploy image billionmail:2.4.0",
        "deploy billionmail:18 to staging",
        "map ports 8080:80",
        "use the 16:9 player",
        "deploy build 1800",
        "deploy release 12.30.1",
        "@deckhand deploy billionmail to staging",
        "deploy the friday build",
        "deploy the daily build",
        "deploy now",
        "deploy asap",
        "lock dev for a while",
        "deploy #1234",
        "rollback 3 versions",
        "deploy to eu-west-1",
        "deploy 10 pods",
        "check 99.9% uptime",
        "deploy sun to staging",
        "set replicas to 12",
        "deploy web in 5",
        "this may take a while",
        "deploy today's build",
        "deploy at least once",
        "deploy mon-service to prod",
        "every service in staging",
        "deploy on prod at the end",
        "lock dev for the weekend migration",
        "deploy at v18",
        "rollback at 2.4.0",
        "deploy api to staging in 3 zones",
        "from now on deploy with care",
        "lock prod because the 18:00 batch runs",
        "freeze staging due to the 9pm release on friday",
        "",
        "   ,,, !!",
    ];
    assert!(negatives.len() >= 40);
    for name in ZONES {
        for text in negatives {
            assert_eq!(find(text, &ctx(name)), Ok(None), "{text}");
        }
    }
}

/// Junk after a marker, days without a time, hedged or multiple times, and recurrences cron
/// cannot say: each with the words the error quotes.
const JUNK: &[(&str, &str)] = &[
    ("deploy at 25:00", "at 25:00"),
    ("deploy at 9:75 please", "at 9:75"),
    ("at quarter past never", "at quarter past never"),
    ("on blursday 10:00", "on blursday 10:00"),
    ("lock prod on blursday", "on blursday"),
    ("on thrusday at 10", "on thrusday"),
    ("at 24:00", "at 24:00"),
    ("at 13pm", "at 13pm"),
    ("at 0am", "at 0am"),
    ("at 9:5", "at 9:5"),
    ("at 18.00", "at 18.00"),
    ("at 1800", "at 1800"),
    ("at 18h30", "at 18h30"),
    ("at 18:00ish", "at 18:00ish"),
    ("at nine", "at nine"),
    ("deploy 25:00", "25:00"),
    ("deploy 18:00h", "18:00h"),
    ("lock prod until 5", "until 5"),
    ("from 9 to 17:00", "from 9 to 17:00"),
    ("between 6 and 18:00", "between 6 and 18:00"),
    ("tomorrow at 25:00", "tomorrow at 25:00"),
    ("from 16:00 to 27:00", "from 16:00 to 27:00"),
    ("until 99:00", "until 99:00"),
    ("on 31 feb at 10:00", "on 31 feb"),
    ("at 2026-02-30 10:00", "at 2026-02-30"),
    ("on 2026-13-01 at 10:00", "on 2026-13-01"),
    ("on 24/12 at 18:00", "on 24/12"),
    ("on the 24th at 18:00", "on the 24th"),
    ("at 2026-12-24T25:00", "at 2026-12-24T25:00"),
    // A day (or part of one) without a time: the bot asks "at what time?".
    ("deploy on monday", "on monday"),
    ("deploy tomorrow", "tomorrow"),
    ("deploy tomorrow 9", "tomorrow 9"),
    ("deploy friday", "friday"),
    ("deploy tonight", "tonight"),
    ("deploy on 24 dec", "on 24 dec"),
    ("deploy 2026-12-24", "2026-12-24"),
    ("from friday to monday", "from friday to monday"),
    ("from 16:00 to monday", "from 16:00 to monday"),
    ("tomorrow morning", "tomorrow morning"),
    ("lock prod until eod", "until eod"),
    ("lock prod until end of day", "until end of day"),
    ("at night", "at night"),
    ("on the weekend", "on the weekend"),
    ("deploy next week", "next week"),
    ("friday at midnight", "friday at midnight"),
    ("tonight at 9am", "tonight at 9am"),
    ("tonight at noon", "tonight at noon"),
    ("in a few minutes", "in a few"),
    ("in a bit", "in a bit"),
    // Hedged, multiple or unsure times.
    ("deploy by 18:00", "by 18:00"),
    ("around 18:00", "around 18:00"),
    ("before friday 16:00", "before friday 16:00"),
    ("not at 18:00", "not at 18:00"),
    ("at 18:00 or so", "at 18:00 or so"),
    ("at 18:00 at the latest", "at 18:00 at the latest"),
    ("at 9 and 17", "at 9 and 17"),
    (
        "at 18:00 to staging on friday",
        "at 18:00 to staging on friday",
    ),
    (
        "deploy at 18:00 and rollback at 19:00",
        "at 18:00 and rollback at 19:00",
    ),
    ("from 9am to 5", "from 9am to 5"),
    ("between 18:00 20:00", "between 18:00"),
    ("restart the 18:00 job", "18:00"),
    ("at 18:00 EST", "at 18:00 EST"),
    // Recurrences cron cannot say exactly, or without a time.
    ("every day", "every day"),
    ("every weekday", "every weekday"),
    ("run backup daily", "daily"),
    ("every other day", "every other"),
    ("every week", "every week"),
    ("every 2 days", "every 2 days"),
    ("every 30 seconds", "every 30 seconds"),
    ("every 7 minutes", "every 7 minutes"),
    ("every 90 minutes", "every 90 minutes"),
    ("every 5 hours", "every 5 hours"),
    ("every hour at 15", "every hour at 15"),
    ("every friday at midnight", "every friday at midnight"),
    ("every day at 9:30:15", "every day at 9:30:15"),
    ("every blursday at 9", "every blursday"),
    (
        "every day at 9 America/New_York",
        "every day at 9 America/New_York",
    ),
    ("every day at 9 CET", "every day at 9 CET"),
];

#[test]
fn junk_after_a_marker_is_unreadable_and_quoted() {
    let c = ctx("Europe/Berlin");
    for &(text, quoted) in JUNK {
        assert_eq!(unreadable(text, &c), quoted, "{text}");
        let shown = TimeError::Unreadable {
            text: quoted.into(),
        }
        .to_string();
        assert!(shown.contains(quoted) && shown.ends_with('.'), "{shown}");
    }
}

#[test]
fn unknown_zones_are_named() {
    let c = ctx("Europe/Berlin");
    for (text, name) in [
        ("deploy at 18:00 Mars/Olympus", "Mars/Olympus"),
        ("tomorrow at 9 Europe/Atlantis", "Europe/Atlantis"),
        ("from 16:00 Moon/Base to 18:00", "Moon/Base"),
        ("every day at 9 Mars/Olympus", "Mars/Olympus"),
    ] {
        let want = TimeError::UnknownZone { name: name.into() };
        assert_eq!(find(text, &c), Err(want), "{text}");
    }
}

#[test]
fn absolute_instants_in_the_past_are_named() {
    let c = ctx("Europe/Berlin"); // 2026-12-02 18:30 CET
    for text in [
        "at 2026-01-01 10:00",
        "on 2026-12-01 at 10:00",
        "today at 09:00",
        "today at 18:30",
        "2026-12-02 17:00 UTC",
        "2026-12-02T17:30:00Z",
        "until 2026-11-30",
        "lock prod until today",
        "on 1 jan 2026 at 9",
        "from 2026-12-01 10:00 to 2026-12-24 10:00",
        "from 18:00 to 2026-12-01 10:00",
    ] {
        let got = find(text, &c);
        assert!(
            matches!(got, Err(TimeError::InThePast { .. })),
            "{text}: {got:?}"
        );
    }
    // Relative times are never past: they roll forward.
    for text in [
        "at 09:00",
        "on wed at 09:00",
        "on 1 dec at 10:00",
        "in 0 minutes",
    ] {
        assert!(matches!(find(text, &c), Ok(Some(_))), "{text}");
    }
}
