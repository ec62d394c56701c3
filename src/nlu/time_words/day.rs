//! Day and date readers, and the "moment" a day and a time make together ("friday 16:00
//! UTC", "at 9pm tomorrow", "2026-12-24T18:00Z").

use super::read::{all_digits, clock_shape, fixed_zone, opt_zone, read_clock};
use super::read::{Clock, Day, Fail, Mode, Moment, Read, ZoneSpec};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

const FULL_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Words that name a part of a day without a time: said with a marker, they need a question.
const VAGUE: [&str; 14] = [
    "eod",
    "eow",
    "cob",
    "eob",
    "morning",
    "afternoon",
    "evening",
    "night",
    "lunch",
    "lunchtime",
    "weekend",
    "dawn",
    "dusk",
    "noonish",
];
/// A weekday name; abbreviations ("fri", "tues") only when `abbr`.
pub(super) fn weekday(w: &str, abbr: bool) -> Option<Weekday> {
    use Weekday::*;
    Some(match w {
        "monday" => Monday,
        "tuesday" => Tuesday,
        "wednesday" => Wednesday,
        "thursday" => Thursday,
        "friday" => Friday,
        "saturday" => Saturday,
        "sunday" => Sunday,
        _ if !abbr => return None,
        "mon" => Monday,
        "tue" | "tues" => Tuesday,
        "wed" | "weds" => Wednesday,
        "thu" | "thur" | "thurs" => Thursday,
        "fri" => Friday,
        "sat" => Saturday,
        "sun" => Sunday,
        _ => return None,
    })
}

/// "blursday", "thrusday": a word that tries to be a weekday name.
pub(super) fn misspelled_weekday(t: &str) -> bool {
    const REAL: [&str; 12] = [
        "today",
        "holiday",
        "payday",
        "someday",
        "birthday",
        "everyday",
        "weekday",
        "midday",
        "workday",
        "yesterday",
        "doomsday",
        "heyday",
    ];
    let s = t.strip_suffix('s').unwrap_or(t);
    s.ends_with("day")
        && !REAL.contains(&s)
        && weekday(s, false).is_none()
        && FULL_DAYS.iter().any(|d| edit_distance(s, d) <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != *cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// A day at `w[i]`: "today", "tomorrow", "tonight", "[next|this] friday", "2026-12-24",
/// "24 dec [2027]", "dec 24th", "the 24th of december"; weekday abbreviations when `marked`.
pub(super) fn read_day(w: &[&str], i: usize, marked: bool) -> Read<Day> {
    let Some(&t) = w.get(i) else { return Ok(None) };
    let found = |day: Day, next: usize| Ok(Some((day, next)));
    match t {
        "today" => return found(Day::Today, i + 1),
        "tonight" => return found(Day::Tonight, i + 1),
        "tomorrow" | "tmrw" | "tomorow" | "tommorow" | "tommorrow" => {
            return found(Day::Tomorrow, i + 1)
        }
        "next" | "this" => {
            let n = w.get(i + 1).copied().unwrap_or("");
            if let Some(wd) = weekday(n, true) {
                return found(Day::Weekday(wd), i + 2);
            }
            let vague = matches!(n, "week" | "weekend" | "month" | "year");
            return if vague {
                Err(Fail::Unreadable(i + 2))
            } else {
                Ok(None)
            };
        }
        "the" if marked => {
            if let Some(date) = named_date(w, i + 1)? {
                return Ok(Some(date));
            }
        }
        _ => {}
    }
    if let Some(wd) = weekday(t, marked) {
        return found(Day::Weekday(wd), i + 1);
    }
    if let Some(date) = iso_date(t) {
        return date.map_or(Err(Fail::Unreadable(i + 1)), |d| found(d, i + 1));
    }
    if let Some(date) = named_date(w, i)? {
        return Ok(Some(date));
    }
    junk_day(w, i, marked).map_or(Ok(None), Err)
}

/// "2026-12-24": `Some(Some(day))`, or `Some(None)` for that shape with an impossible date.
fn iso_date(t: &str) -> Option<Option<Day>> {
    let mut it = t.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    let sizes = y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len());
    if it.next().is_some() || !sizes || ![y, m, d].into_iter().all(all_digits) {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    Some(
        Date::new(y, m, d)
            .ok()
            .map(|_| Day::Date { y: Some(y), m, d }),
    )
}

fn month(w: &str) -> Option<i8> {
    const SHORT: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = if w == "sept" { "sep" } else { w };
    let at = SHORT.iter().position(|&n| n == w);
    at.or_else(|| FULL.iter().position(|&n| n == w))
        .map(|p| p as i8 + 1)
}

/// "24", "24th", "1st": a day of the month.
fn day_number(w: &str) -> Option<i8> {
    let n = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| w.strip_suffix(s))
        .unwrap_or(w);
    let d: i8 = (n.len() <= 2 && all_digits(n)).then(|| n.parse().ok())??;
    (1..=31).contains(&d).then_some(d)
}

fn ordinal(w: &str) -> bool {
    day_number(w).is_some() && !all_digits(w)
}

/// "24 dec", "24th of december", "dec 24", each with an optional year.
fn named_date(w: &[&str], i: usize) -> Read<Day> {
    let Some(&t) = w.get(i) else { return Ok(None) };
    if let Some(d) = day_number(t) {
        let j = i + 1 + usize::from(w.get(i + 1) == Some(&"of"));
        return match w.get(j).and_then(|n| month(n)) {
            Some(m) => dated(w, d, m, j + 1),
            None => Ok(None),
        };
    }
    match (month(t), w.get(i + 1).and_then(|n| day_number(n))) {
        (Some(m), Some(d)) => dated(w, d, m, i + 2),
        _ => Ok(None),
    }
}

fn dated(w: &[&str], d: i8, m: i8, j: usize) -> Read<Day> {
    let y = w
        .get(j)
        .filter(|n| n.len() == 4 && all_digits(n))
        .and_then(|n| n.parse::<i16>().ok());
    let next = j + usize::from(y.is_some());
    // Without a year, "29 feb" is checked against a leap year and read as the next one.
    if Date::new(y.unwrap_or(2000), m, d).is_err() {
        return Err(Fail::Unreadable(next));
    }
    Ok(Some((Day::Date { y, m, d }, next)))
}

/// Words that clearly try to be a day but are not one ("on blursday", "until eod",
/// "on the 24th", "on 24/12", "at the end of the day").
fn junk_day(w: &[&str], i: usize, marked: bool) -> Option<Fail> {
    let t = w[i];
    let next = w.get(i + 1).copied().unwrap_or("");
    let bad = |n: usize| Some(Fail::Unreadable(n.min(w.len())));
    let clock_next = clock_shape(next).is_some_and(|c| c.3);
    if misspelled_weekday(t) && (marked || clock_next) {
        return bad(i + 1 + usize::from(clock_next));
    }
    if !marked {
        return None;
    }
    let slash = matches!(t.split('/').collect::<Vec<_>>()[..],
        [a, b] | [a, b, _] if day_number(a).is_some() && day_number(b).is_some());
    if VAGUE.contains(&t) || ordinal(t) || (slash && all_digits(&t.replace('/', ""))) {
        return bad(i + 1);
    }
    if t == "the" && (VAGUE.contains(&next) || ordinal(next)) {
        return bad(i + 2);
    }
    let end = if t == "the" { i + 1 } else { i };
    let ends = matches!(w.get(end), Some(&"end")) && matches!(w.get(end + 1), Some(&"of"));
    ends.then(|| Fail::Unreadable((end + 3).min(w.len())))
}

/// "2026-12-24T18:00", "2026-12-24t18:00:00z", "2026-12-24T18:00+01:00".
fn read_instant(w: &[&str], i: usize) -> Read<Moment> {
    let Some((date, time)) = w.get(i).and_then(|t| t.split_once('t')) else {
        return Ok(None);
    };
    let Some(day) = iso_date(date) else {
        return Ok(None);
    };
    let bad = Fail::Unreadable(i + 1);
    let day = day.ok_or(bad)?;
    let (clock, zone) = if let Some(c) = time.strip_suffix('z') {
        (c, Some(ZoneSpec::Zone(TimeZone::UTC)))
    } else if let Some(p) = time.find(['+', '-']) {
        let tz = fixed_zone(&time[p..]).ok_or(bad)?;
        (&time[..p], Some(ZoneSpec::Zone(tz)))
    } else {
        (time, None)
    };
    let Some((h, m, s, true)) = clock_shape(clock) else {
        return Err(bad);
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(bad);
    }
    let clock = Some(Clock {
        h,
        m,
        s,
        ..Clock::START_OF_DAY
    });
    let (zone, next) = match zone {
        Some(z) => (Some(z), i + 1),
        None => opt_zone(w, i + 1)?,
    };
    let day = Some(day);
    Ok(Some((Moment { day, clock, zone }, next)))
}

/// A day and/or time with an optional zone: "friday 16:00", "tomorrow at 9am UTC",
/// "2026-12-24T18:00Z", "18:00", "at 9 on friday", "9pm tomorrow".
pub(super) fn read_moment(w: &[&str], i: usize, mode: Mode) -> Read<Moment> {
    if let Some(found) = read_instant(w, i)? {
        return Ok(Some(found));
    }
    if let Some((day, j)) = read_day(w, i, mode.marked)? {
        return day_then_clock(w, day, j);
    }
    let Some((clock, j)) = read_clock(w, i, mode)? else {
        return Ok(None);
    };
    let (zone, j) = opt_zone(w, j)?;
    let on = w.get(j) == Some(&"on");
    let clock = Some(clock);
    let Some((day, k)) = read_day(w, j + usize::from(on), true)? else {
        return Ok(Some((
            Moment {
                day: None,
                clock,
                zone,
            },
            j,
        )));
    };
    let (zone, k) = match zone {
        Some(z) => (Some(z), k),
        None => opt_zone(w, k)?,
    };
    let day = Some(day);
    Ok(Some((Moment { day, clock, zone }, k)))
}

/// After a day: "[at] 16:00 [zone]", or nothing (a day alone).
fn day_then_clock(w: &[&str], day: Day, j: usize) -> Read<Moment> {
    let vague = [
        "morning",
        "afternoon",
        "evening",
        "night",
        "lunch",
        "eod",
        "cob",
    ];
    if w.get(j).is_some_and(|n| vague.contains(n)) {
        return Err(Fail::Unreadable(j + 1)); // "tomorrow morning": at what time?
    }
    let at = matches!(w.get(j), Some(&("at" | "@")));
    let mode = Mode {
        marked: true,
        hour_ok: at,
    };
    if !at
        && w.get(j)
            .is_some_and(|n| n.parse::<u8>().is_ok_and(|h| h <= 24))
    {
        return Err(Fail::Unreadable(j + 1)); // "tomorrow 9": a bare number is no time
    }
    let day = Some(day);
    match read_clock(w, j + usize::from(at), mode)? {
        Some((clock, k)) => {
            let (zone, k) = opt_zone(w, k)?;
            let clock = Some(clock);
            Ok(Some((Moment { day, clock, zone }, k)))
        }
        None => Ok(Some((
            Moment {
                day,
                clock: None,
                zone: None,
            },
            j,
        ))),
    }
}
