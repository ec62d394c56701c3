//! Recurring phrases ("every weekday at 06:00", "every 15 minutes") and the 5-field cron lines
//! they become; [`describe_cron`] words such a line for a person.

use super::day::{misspelled_weekday, weekday};
use super::read::{opt_zone, read_clock};
use super::read::{Clock, ClockWord, Fail, Mode, Read, ZoneSpec};
use crate::nlu::lock_words::duration_at;

/// The days a recurring phrase names (cron day-of-week numbers, Sunday = 0).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Days {
    All,
    Weekdays,
    Weekend,
    List(Vec<u8>),
}

/// A recurrence as read.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Rec {
    /// At a time of day on some days.
    Daily {
        days: Days,
        clock: Clock,
        zone: Option<ZoneSpec>,
    },
    /// Every n minutes (n divides 60).
    Minutes(u64),
    /// Every n hours (n divides 24).
    Hours(u64),
}

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// "every ..." / "each ..." at `w[i]`: "every weekday at 06:00", "every monday and friday at 9",
/// "every hour", "every 15 minutes", "every 2h".
pub(super) fn read_every(w: &[&str], i: usize) -> Read<Rec> {
    let j = i + 1;
    let Some(&t) = w.get(j) else { return Ok(None) };
    if let Some((days, k)) = day_set(w, j, true)? {
        return daily(w, days, k);
    }
    let found = match t {
        "hour" => Some((3600, 1)),
        "minute" => Some((60, 1)),
        "half" if w.get(j + 1) == Some(&"hour") => Some((1800, 2)),
        "other" | "second" | "week" | "month" | "year" | "fortnight" | "morning" | "afternoon"
        | "evening" | "night" | "weeknight" => return Err(Fail::Unreadable(j + 1)),
        _ => duration_at(w, j),
    };
    let Some((secs, used)) = found else {
        return Ok(None);
    };
    let k = j + used;
    interval(secs).map_or(Err(Fail::Unreadable(k)), |rec| Ok(Some((rec, k))))
}

/// A recurrence without "every" at `w[i]`: "daily at 7:30", "weekdays at 6", "mondays at 10",
/// "hourly".
pub(super) fn read_bare(w: &[&str], i: usize) -> Read<Rec> {
    if w[i] == "hourly" {
        return Ok(Some((Rec::Hours(1), i + 1)));
    }
    match day_set(w, i, false)? {
        Some((days, k)) => daily(w, days, k),
        None => Ok(None),
    }
}

/// Days after a time: "at 06:00 every weekday", "at 9 daily", "at 6 on weekdays".
pub(super) fn suffix(w: &[&str], k: usize) -> Read<Days> {
    match w.get(k).copied() {
        Some("every" | "each") => day_set(w, k + 1, true),
        Some("on") => day_set(w, k + 1, false),
        Some(_) => day_set(w, k, false),
        None => Ok(None),
    }
}

/// Days at `w[j]`. After "every": "day", "weekday", "weekend", weekday names ("monday and
/// thu"); otherwise plural forms only: "daily", "weekdays", "weekends", "mondays".
pub(super) fn day_set(w: &[&str], j: usize, every: bool) -> Read<Days> {
    let Some(&t) = w.get(j) else { return Ok(None) };
    let whole = match (t, every) {
        ("day", true) | ("daily" | "everyday", false) => Some(Days::All),
        ("weekday", true) | ("weekdays", _) => Some(Days::Weekdays),
        ("weekend", true) | ("weekends", _) => Some(Days::Weekend),
        _ => None,
    };
    if let Some(days) = whole {
        return Ok(Some((days, j + 1)));
    }
    let mut list = Vec::new();
    let mut k = j;
    while let Some(d) = w.get(k).and_then(|n| listed_day(n, every)) {
        list.push(d);
        k += 1;
        let more = w.get(k + 1).and_then(|n| listed_day(n, every)).is_some();
        if more && matches!(w.get(k), Some(&("and" | "&"))) {
            k += 1;
        }
    }
    if list.is_empty() {
        let junk = every && misspelled_weekday(t);
        return if junk {
            Err(Fail::Unreadable(j + 1))
        } else {
            Ok(None)
        };
    }
    list.sort_unstable();
    list.dedup();
    let days = match list[..] {
        [1, 2, 3, 4, 5] => Days::Weekdays,
        [0, 6] => Days::Weekend,
        [0, 1, 2, 3, 4, 5, 6] => Days::All,
        _ => Days::List(list),
    };
    Ok(Some((days, k)))
}

fn listed_day(w: &str, every: bool) -> Option<u8> {
    let plural = w.strip_suffix('s').and_then(|s| weekday(s, false));
    let day = if every {
        weekday(w, true).or(plural)
    } else {
        plural
    };
    day.map(|d| d.to_sunday_zero_offset() as u8)
}

/// The time after a day set: "[at] 06:00 [zone]"; a day set without a time is Unreadable.
pub(super) fn daily(w: &[&str], days: Days, k: usize) -> Read<Rec> {
    let at = matches!(w.get(k), Some(&("at" | "@")));
    let mode = Mode {
        marked: true,
        hour_ok: at,
    };
    let Some((clock, next)) = read_clock(w, k + usize::from(at), mode)? else {
        return Err(Fail::Unreadable(k));
    };
    let (zone, next) = opt_zone(w, next)?;
    Ok(Some((Rec::Daily { days, clock, zone }, next)))
}

/// Every `secs` as a cron step: minutes dividing an hour, or hours dividing a day.
fn interval(secs: u64) -> Option<Rec> {
    if secs == 0 || secs % 60 != 0 {
        return None;
    }
    let mins = secs / 60;
    if mins < 60 {
        return (60 % mins == 0).then_some(Rec::Minutes(mins));
    }
    let hours = (mins % 60 == 0).then_some(mins / 60)?;
    (hours < 24 && 24 % hours == 0).then_some(Rec::Hours(hours))
}

/// The 5-field cron line of a recurrence, or `None` when cron cannot say it (seconds, or
/// "every friday at midnight", which does not say which midnight).
pub(super) fn cron_line(rec: &Rec) -> Option<String> {
    Some(match rec {
        Rec::Minutes(1) => "* * * * *".to_string(),
        Rec::Minutes(n) => format!("*/{n} * * * *"),
        Rec::Hours(1) => "0 * * * *".to_string(),
        Rec::Hours(n) => format!("0 */{n} * * *"),
        Rec::Daily { days, clock, .. } => {
            let midnight = clock.word == Some(ClockWord::Midnight);
            if clock.s != 0 || (midnight && *days != Days::All) {
                return None;
            }
            let dow = match days {
                Days::All => "*".to_string(),
                Days::Weekdays => "1-5".to_string(),
                Days::Weekend => "0,6".to_string(),
                Days::List(l) => l.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
            };
            format!("{} {} * * {dow}", clock.m, clock.h)
        }
    })
}

/// "every weekday at 06:00" style wording of a cron line this module produces ("every day at
/// 09:00", "every Monday and Friday at 10:30", "every weekend at 10:00", "every hour", "every 15
/// minutes", "every 2 hours", "every minute"); "cron `…`" for anything else.
pub fn describe_cron(cron: &str) -> String {
    words_for(cron).unwrap_or_else(|| format!("cron `{cron}`"))
}

fn words_for(cron: &str) -> Option<String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [m, h, "*", "*", dow] = fields[..] else {
        return None;
    };
    if dow == "*" && h == "*" {
        return match m {
            "*" => Some("every minute".to_string()),
            "0" => Some("every hour".to_string()),
            _ => step(m).map(|n| format!("every {n} minutes")),
        };
    }
    if dow == "*" && m == "0" && h.starts_with("*/") {
        return step(h).map(|n| format!("every {n} hours"));
    }
    let (m, h): (u8, u8) = (plain(m)?, plain(h)?);
    if m > 59 || h > 23 {
        return None;
    }
    let days = match dow {
        "*" => "day".to_string(),
        "1-5" => "weekday".to_string(),
        "0,6" => "weekend".to_string(),
        list => day_list(list)?,
    };
    Some(format!("every {days} at {h:02}:{m:02}"))
}

fn plain(field: &str) -> Option<u8> {
    (field.len() <= 2 && field.bytes().all(|b| b.is_ascii_digit()))
        .then(|| field.parse().ok())
        .flatten()
}

fn step(field: &str) -> Option<u8> {
    field.strip_prefix("*/").and_then(plain).filter(|n| *n > 1)
}

/// "1,5" -> "Monday and Friday"; "1,3,5" -> "Monday, Wednesday and Friday".
fn day_list(list: &str) -> Option<String> {
    let names = list
        .split(',')
        .map(|d| {
            plain(d)
                .and_then(|d| DAY_NAMES.get(usize::from(d)))
                .copied()
        })
        .collect::<Option<Vec<&str>>>()?;
    Some(match names.split_last()? {
        (last, []) => last.to_string(),
        (last, rest) => format!("{} and {last}", rest.join(", ")),
    })
}
