//! Times said in chat: "deploy billionmail to staging at 18:00", "freeze production from Friday
//! 16:00 to Monday 08:00 because of the launch", "every weekday at 06:00 run healthcheck".
//!
//! [`find_time`] finds the first time phrase of a message and resolves it against a
//! [`TimeContext`]; [`describe`] and [`describe_cron`] word the result for a person. The
//! product's first rule holds here too: what Deckhand reports is true, and when in doubt it
//! asks. A phrase that looks like a time but cannot be honoured is a [`TimeError`], never
//! dropped.
//!
//! Accepted (case-insensitive; commas, trailing punctuation and "@deckhand" are ignored):
//! - Times: "at 18:00", "at 9", "at 9pm", "at 9 pm", "at 6:30am", "at 9 o'clock", "at 18:00:30",
//!   "at noon", "at midnight" (00:00 of the next day), "at quarter past 9", "at half past 6pm",
//!   "at quarter to 10"; without a marker only "18:00", "18:00Z", "6:30am", "9pm", "9 pm".
//!   "12am" is 00:00, "12pm" is 12:00. A time without a day is today if still ahead in the
//!   zone, else tomorrow.
//! - Days: "today", "tomorrow", "tonight" (needs a time: "tonight at 11" is 23:00, "tonight at
//!   1am" the coming night), weekday names ("friday"; "fri", "tue", "tues", "thurs"... after a
//!   marker or a time), "next friday" and "this friday" (both the same as "friday": the next
//!   date with that weekday, today only if the time is still ahead), "2026-12-24",
//!   "24 dec", "dec 24th", "24 december 2027", "the 24th of december"; without a year, the next
//!   such date. Day and time in either order: "friday at 16:00", "friday 4pm", "at 16:00 on
//!   friday", "at 9am tomorrow", "2026-12-24 18:00", "2026-12-24T18:00[:00][Z|+01:00]".
//! - Zones after the time: "UTC", "Z", "GMT", "UTC+2", "GMT-5", "+05:30", IANA names
//!   ("Europe/Berlin"); an abbreviation ("CET", "EST") only when it is the context zone's own at
//!   that instant. Everything in the phrase ("today", "tomorrow") is then read in that zone.
//!   A zone said on only one end of a window applies to both.
//! - Relative: "in 2 hours", "in 30 minutes", "in 1h30", "in half an hour", "in 2 days" (exact
//!   seconds, via [`duration_at`]), optionally "... from now".
//! - Windows: "from friday 16:00 to monday 08:00", "from 9am - 5pm", "18:00-20:00",
//!   "between 18:00 and 20:00", "from 16:00 for 2 hours", "at 16:00 for 2 hours", "from now
//!   until 18:00", "in 1 hour for 30 minutes", "until monday 08:00" / "till 17:00" (from now).
//!   The end is resolved relative to the start: "from 22:00 to 02:00" ends the next day; "to
//!   monday" is the first Monday after the start. "until monday" / "until tomorrow" /
//!   "until 24 dec" with no time end at 00:00 (the start) of that day.
//! - Recurring (a 5-field cron line in the context zone, checked with croner): "every weekday
//!   at 06:00", "every day at 9", "daily at 07:30", "every monday at 10:30", "every monday and
//!   friday at 9", "weekdays at 6", "mondays at 10", "on weekdays at 6", "at 06:00 every
//!   weekday", "every weekend at 10", "every day at midnight", "every hour", "hourly",
//!   "every minute", "every 15 minutes", "every half hour", "every 2 hours".
//!
//! Not read, or asked about (`Unreadable`) rather than guessed:
//! - A bare number ("deploy 18", "v18", "1.2", "2.4.0") is never a time; "at 18.00" and
//!   "at 1800" are asked about. Number words ("at nine") are not read.
//! - A day without a time in a one-off or a window start/"to" end ("on monday", "tomorrow",
//!   "from friday to monday"): asked, so the bot can say "at what time on Monday?".
//! - Vague times: "tomorrow morning", "until eod", "at night", "on the weekend", "next week",
//!   "end of day", "in a few minutes"; hedged times: "by 18:00", "before/after/around 18:00",
//!   "18:00ish", "at 18:00 or so", "at 9 and 17", "from 9 to 17:00", "until 5"; "midnight" with
//!   a day other than tonight (which midnight?).
//! - More than one time phrase in a message ("at 18:00 to staging on friday") is asked about.
//! - "on the 24th" (no month), "24/12" and other numeric dates, holidays, "every other day",
//!   "every 90 minutes" or "every 5 hours" (no exact cron), "every hour at :15", seconds in a
//!   recurrence, a recurrence in another zone than the context's.
//! - Time words inside a reason ("because", "due to", "while", "since", "during", "cuz", ...)
//!   belong to the reason and are not read: "lock prod because the 18:00 batch runs" has no
//!   time phrase.

mod day;
mod every;
mod read;
mod resolve;
#[cfg(test)]
mod tests;

pub use every::describe_cron;

use crate::nlu::lock_words::duration_at;
use day::{read_day, read_moment};
use every::Rec;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use read::{Clock, Fail, Moment, ZoneSpec};
use read::{AT, BARE, MARKED};
use resolve::resolve;
use std::ops::Range;

/// The moment and zone a phrase is read against.
#[derive(Debug, Clone)]
pub struct TimeContext {
    /// The current instant.
    pub now: Timestamp,
    /// The zone of the person (or channel) the message came from.
    pub tz: TimeZone,
}

/// What a phrase means.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeSpec {
    /// One instant: "at 18:00", "tomorrow at 9", "in 2 hours", "on friday at 16:00",
    /// "2026-12-24 18:00", "24 dec at 9am", "tonight at 11pm", "at noon", "at midnight".
    At(Timestamp),
    /// A window: "from friday 16:00 to monday 08:00", "between 18:00 and 20:00",
    /// "until monday 08:00" / "till 17:00" (from = now), "from 16:00 for 2 hours".
    Between {
        /// Start of the window.
        from: Timestamp,
        /// End of the window, always after `from`.
        to: Timestamp,
    },
    /// Recurring, as a 5-field cron line in the context's zone: "every weekday at 06:00" ->
    /// "0 6 * * 1-5", "every hour" -> "0 * * * *", "every 15 minutes" -> "*/15 * * * *".
    Every {
        /// The cron line (minute hour day-of-month month day-of-week; Sunday = 0).
        cron: String,
    },
}

/// A time phrase found in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct TimePhrase {
    /// What the phrase means.
    pub spec: TimeSpec,
    /// Byte range of the phrase in the text given (including its leading "at"/"from"/"in"/
    /// "on"/"until"/"every"), so the caller can cut it out before reading other slots.
    pub span: Range<usize>,
}

/// A phrase that looks like a time but cannot be honoured: named, never dropped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeError {
    /// An absolute time already past ("at 2026-01-01 10:00" in December 2026).
    #[error("\"{text}\" is already in the past; please give a time that is still ahead.")]
    InThePast {
        /// The phrase as written.
        text: String,
    },
    /// A window whose end is not after its start.
    #[error("In \"{text}\" the end does not come after the start; please give a later end.")]
    EndNotAfterStart {
        /// The phrase as written.
        text: String,
    },
    /// Words after a time marker that look like a time but do not read ("at quarter past
    /// never", "at 25:00", "on blursday"), or a time that needs more ("on monday": at what
    /// time?).
    #[error(
        "I could not read \"{text}\" as a time; please say it like \"at 18:00\", \
         \"tomorrow at 9am\", \"on friday at 16:00\" or \"from 16:00 to 18:00\"."
    )]
    Unreadable {
        /// The words as written.
        text: String,
    },
    /// "18:00 Mars/Olympus": a zone name that does not resolve.
    #[error(
        "I do not know the time zone \"{name}\"; please use a name like \"Europe/Berlin\" or \"UTC\"."
    )]
    UnknownZone {
        /// The zone name as written.
        name: String,
    },
}

/// A phrase read at some index: its meaning and the index of the word after it.
type Found = Result<Option<(TimeSpec, usize)>, Fail>;

/// Words that start a reason: time words after them belong to the reason.
const REASONS: [&str; 10] = [
    "because", "cuz", "coz", "cause", "bc", "since", "while", "whilst", "during", "re",
];
/// Words that make the time right after them something other than an instant to act at.
const HEDGES: [&str; 18] = [
    "by",
    "before",
    "after",
    "around",
    "about",
    "approx",
    "approximately",
    "circa",
    "ca",
    "roughly",
    "~",
    "not",
    "than",
    "except",
    "maybe",
    "perhaps",
    "probably",
    "possibly",
];
/// Words that join a range: a time after them and a bare number ("from 9 to 17:00") is unsure.
const RANGES: [&str; 6] = ["to", "and", "or", "-", "–", "—"];

/// Finds the first time phrase in `text` and resolves it; Ok(None) when there is none.
pub fn find_time(text: &str, ctx: &TimeContext) -> Result<Option<TimePhrase>, TimeError> {
    let toks = read::tokenize(text);
    let all: Vec<&str> = toks.iter().map(|t| t.w.as_str()).collect();
    let reason = (0..all.len()).find(|&i| starts_reason(&all, i));
    let w = &all[..reason.unwrap_or(all.len())];
    let found_at = (0..w.len()).find_map(|i| phrase_at(w, i, ctx).transpose().map(|f| (i, f)));
    let Some((i, found)) = found_at else {
        return Ok(None);
    };
    // "by 18:00", "around 18:00"; "from 9 to 17:00" (a bare number, then a range word).
    let range = i > 1 && RANGES.contains(&w[i - 1]) && w[i - 2].parse::<u32>().is_ok();
    let hedged = range || (i > 0 && HEDGES.contains(&w[i - 1]));
    let first = match i.checked_sub(3) {
        Some(s) if range && matches!(w[s], "from" | "between") => s,
        _ if range => i - 2,
        _ => i - usize::from(hedged),
    };
    let from = toks[first].start;
    let text_to = |end: usize| text[from..toks[end.clamp(i + 1, w.len()) - 1].end].to_string();
    let (spec, end) = match found {
        Ok(found) => found,
        Err(Fail::Zone(k)) => {
            let name = text[toks[k].start..toks[k].end].to_string();
            return Err(TimeError::UnknownZone { name });
        }
        Err(Fail::Past(e)) => return Err(TimeError::InThePast { text: text_to(e) }),
        Err(Fail::Order(e)) => return Err(TimeError::EndNotAfterStart { text: text_to(e) }),
        Err(Fail::Unreadable(e)) => return Err(TimeError::Unreadable { text: text_to(e) }),
    };
    // "by 18:00", or a second time phrase ("at 18:00 to staging on friday"): ask.
    let later = (end..w.len()).find_map(|j| match phrase_at(w, j, ctx) {
        Ok(None) => None,
        Ok(Some((_, e))) => Some(e),
        Err(f) => Some(f.end()),
    });
    if hedged || later.is_some() {
        let text = text_to(later.unwrap_or(end));
        return Err(TimeError::Unreadable { text });
    }
    let span = toks[i].start..toks[end - 1].end;
    Ok(Some(TimePhrase { spec, span }))
}

fn starts_reason(w: &[&str], i: usize) -> bool {
    REASONS.contains(&w[i]) || (w[i] == "due" && w.get(i + 1) == Some(&"to"))
}

/// The phrase starting at `w[i]`, if any.
fn phrase_at(w: &[&str], i: usize, ctx: &TimeContext) -> Found {
    let j = i + 1;
    match w[i] {
        "at" | "@" => point(w, j, AT, ctx),
        "on" => on_phrase(w, j, ctx),
        "from" => from_phrase(w, j, ctx),
        "between" => between_phrase(w, j, ctx),
        "until" | "till" | "til" | "untill" => until_phrase(w, j, ctx),
        "in" => in_phrase(w, j, ctx),
        "every" | "each" => recurring(every::read_every(w, i)?, w, ctx),
        _ => bare_phrase(w, i, ctx),
    }
}

/// An unmarked phrase: "18:00", "9pm", "tomorrow at 9", "friday 16:00", "2026-12-24 18:00",
/// "daily at 7:30", "weekdays at 6".
fn bare_phrase(w: &[&str], i: usize, ctx: &TimeContext) -> Found {
    if i > 0 && matches!(w[i - 1], "the" | "a" | "an") {
        // "the friday build" is not a time; "the 18:00 batch" names one: ask.
        return match read_moment(w, i, BARE) {
            Ok(Some((m, k))) if m.clock.is_some() => Err(Fail::Unreadable(k)),
            _ => Ok(None),
        };
    }
    if let Some(found) = every::read_bare(w, i)? {
        return recurring(Some(found), w, ctx);
    }
    point(w, i, BARE, ctx)
}

/// "on friday at 16:00", "on 24 dec at 9am", "on weekdays at 6"; "on dev" is no phrase.
fn on_phrase(w: &[&str], j: usize, ctx: &TimeContext) -> Found {
    if let Some((days, k)) = every::day_set(w, j, false)? {
        return recurring(every::daily(w, days, k)?, w, ctx);
    }
    if read_day(w, j, true)?.is_none() {
        return Ok(None);
    }
    point(w, j, MARKED, ctx)
}

/// "from friday 16:00 to monday 08:00", "from 16:00 for 2 hours", "from now until 18:00";
/// "from 16:00" alone is the instant it starts.
fn from_phrase(w: &[&str], j: usize, ctx: &TimeContext) -> Found {
    if w.get(j) == Some(&"now") {
        return match read_tail(w, j + 1, true)? {
            (Some(end), k) => window(Start::Instant(ctx.now), end, after(w, k)?, ctx),
            (None, _) => Ok(None),
        };
    }
    match read_moment(w, j, MARKED)? {
        Some((m, k)) => moment_phrase(w, m, k, true, ctx),
        None => Ok(None),
    }
}

/// "between 18:00 and 20:00".
fn between_phrase(w: &[&str], j: usize, ctx: &TimeContext) -> Found {
    let Some((start, k)) = read_moment(w, j, MARKED)? else {
        return Ok(None);
    };
    if w.get(k) != Some(&"and") {
        return Err(Fail::Unreadable(k));
    }
    let Some((end, k)) = read_moment(w, k + 1, MARKED)? else {
        return Err(Fail::Unreadable((k + 2).min(w.len())));
    };
    window(Start::At(start), End::At(end, false), after(w, k)?, ctx)
}

/// "until monday 08:00", "till 17:00", "until tomorrow" (its 00:00); "until 5" is asked about.
fn until_phrase(w: &[&str], j: usize, ctx: &TimeContext) -> Found {
    match read_moment(w, j, MARKED)? {
        Some((m, k)) => window(Start::Instant(ctx.now), End::At(m, true), after(w, k)?, ctx),
        None if w
            .get(j)
            .is_some_and(|n| n.parse::<u8>().is_ok_and(|h| h <= 24)) =>
        {
            Err(Fail::Unreadable(j + 1))
        }
        None => Ok(None),
    }
}

/// "in 2 hours", "in 1h30 from now", "in 1 hour for 30 minutes"; "in staging" is no phrase.
fn in_phrase(w: &[&str], j: usize, ctx: &TimeContext) -> Found {
    let vague = ["few", "couple", "bit", "while", "moment", "jiffy"];
    if w.get(j) == Some(&"a") && w.get(j + 1).is_some_and(|n| vague.contains(n)) {
        return Err(Fail::Unreadable(j + 2));
    }
    let Some((secs, used)) = duration_at(w, j) else {
        return Ok(None);
    };
    let mut k = j + used;
    if w.get(k) == Some(&"from") && w.get(k + 1) == Some(&"now") {
        k += 2;
    }
    let at = later(ctx.now, secs).ok_or(Fail::Unreadable(k))?;
    match read_tail(w, k, false)? {
        (Some(end), k) => window(Start::Instant(at), end, after(w, k)?, ctx),
        (None, _) => Ok(Some((TimeSpec::At(at), after(w, k)?))),
    }
}

/// "at ..." or an unmarked moment: one instant, a window, or a time with recurring days.
fn point(w: &[&str], j: usize, mode: read::Mode, ctx: &TimeContext) -> Found {
    match read_moment(w, j, mode)? {
        Some((m, k)) => moment_phrase(w, m, k, false, ctx),
        None => Ok(None),
    }
}

/// What follows a moment read up to `w[k]`: recurring days ("at 6 every weekday", not after
/// "from"), a window end ("to 18:00", "for 2 hours"), or nothing (an instant).
fn moment_phrase(w: &[&str], m: Moment, k: usize, from: bool, ctx: &TimeContext) -> Found {
    if let (false, None, Some(clock)) = (from, m.day, m.clock) {
        if let Some((days, k)) = every::suffix(w, k)? {
            let (zone, k) = match m.zone {
                Some(z) => (Some(z), k),
                None => read::opt_zone(w, k)?,
            };
            let rec = Rec::Daily { days, clock, zone };
            return every_spec(rec, after(w, k)?, ctx);
        }
    }
    match read_tail(w, k, from)? {
        (Some(end), k) => window(Start::At(m), end, after(w, k)?, ctx),
        (None, _) => {
            let end = after(w, k)?;
            Ok(Some((
                TimeSpec::At(resolve(&m, ctx.now, ctx, false, end)?),
                end,
            )))
        }
    }
}

/// The start of a window.
enum Start {
    Instant(Timestamp),
    At(Moment),
}

/// The end of a window: a moment (a day alone allowed after "until"), or a duration.
enum End {
    At(Moment, bool),
    For(u64),
}

/// A window's end at `w[k]`: "to/until/till/-/through MOMENT" or "for DURATION". After
/// "from" (`strict`), "to 18" is asked about rather than left behind.
fn read_tail(w: &[&str], k: usize, strict: bool) -> Result<(Option<End>, usize), Fail> {
    match w.get(k).copied() {
        Some("for") => Ok(match duration_at(w, k + 1) {
            Some((secs, used)) => (Some(End::For(secs)), k + 1 + used),
            None => (None, k),
        }),
        Some(
            c @ ("to" | "until" | "till" | "til" | "untill" | "through" | "thru" | "-" | "–" | "—"),
        ) => {
            let day_alone = matches!(c, "until" | "till" | "til" | "untill");
            match read_moment(w, k + 1, MARKED)? {
                Some((m, j)) => Ok((Some(End::At(m, day_alone)), j)),
                None if strict && w.get(k + 1).is_some_and(|n| n.parse::<u32>().is_ok()) => {
                    Err(Fail::Unreadable(k + 2))
                }
                None => Ok((None, k)),
            }
        }
        _ => Ok((None, k)),
    }
}

/// Checks the words right after a phrase ending at `w[k]` for hedges that make it unsure
/// ("18:00 ish", "at 18:00 or so", "at 9 and 17", "at the latest"); returns `k`.
fn after(w: &[&str], k: usize) -> Result<usize, Fail> {
    let next = |n: usize| w.get(k + n).copied();
    let another = || !matches!(read::read_clock(w, k + 1, AT), Ok(None));
    let unsure = match next(0) {
        Some("ish") => Some(k + 1),
        Some("or") if matches!(next(1), Some("so" | "later" | "earlier")) => Some(k + 2),
        Some("and" | "or" | "&") if another() => Some(k + 2),
        Some("at") if next(1) == Some("the") && matches!(next(2), Some("latest" | "earliest")) => {
            Some(k + 3)
        }
        _ => None,
    };
    unsure.map_or(Ok(k), |e| Err(Fail::Unreadable(e.min(w.len()))))
}

/// A window from `start` to `end`, checked: absolute ends not past, the end after the start.
fn window(start: Start, end: End, k: usize, ctx: &TimeContext) -> Found {
    let (mut start, mut end) = (start, end);
    if let (Start::At(a), End::At(b, _)) = (&mut start, &mut end) {
        let hms = |c: Clock| (c.h, c.m, c.s);
        if b.day.is_none() && b.clock.map(hms) == a.clock.map(hms) && b.zone == a.zone {
            return Err(Fail::Order(k)); // "between 18:00 and 18:00" is not a day long
        }
        // "from 16:00 to 18:00 UTC", "from 16:00 UTC to 18:00": both in UTC.
        match (&a.zone, &b.zone) {
            (None, Some(z)) => a.zone = Some(z.clone()),
            (Some(z), None) => b.zone = Some(z.clone()),
            _ => {}
        }
    }
    let from = match start {
        Start::Instant(t) => t,
        Start::At(m) => resolve(&m, ctx.now, ctx, false, k)?,
    };
    let to = match end {
        End::At(m, day_alone) => resolve(&m, from, ctx, day_alone, k)?,
        End::For(secs) => later(from, secs).ok_or(Fail::Unreadable(k))?,
    };
    if to <= from {
        return Err(Fail::Order(k));
    }
    Ok(Some((TimeSpec::Between { from, to }, k)))
}

fn later(t: Timestamp, secs: u64) -> Option<Timestamp> {
    let secs = i64::try_from(secs).ok()?;
    t.checked_add(SignedDuration::from_secs(secs)).ok()
}

/// A recurrence as a cron line, checked with croner and kept in the context's zone.
fn recurring(found: Option<(Rec, usize)>, w: &[&str], ctx: &TimeContext) -> Found {
    match found {
        Some((rec, k)) => every_spec(rec, after(w, k)?, ctx),
        None => Ok(None),
    }
}

fn every_spec(rec: Rec, k: usize, ctx: &TimeContext) -> Found {
    let bad = Fail::Unreadable(k);
    if let Rec::Daily {
        zone: Some(zone), ..
    } = &rec
    {
        if !matches!(zone, ZoneSpec::Zone(tz) if same_zone(tz, &ctx.tz)) {
            return Err(bad); // a cron line runs in the context zone: "9 New York" is not that
        }
    }
    let cron = every::cron_line(&rec).ok_or(bad)?;
    cron.parse::<croner::Cron>().map_err(|_| bad)?;
    Ok(Some((TimeSpec::Every { cron }, k)))
}

fn same_zone(a: &TimeZone, b: &TimeZone) -> bool {
    let utc = |tz: &TimeZone| {
        let names = [
            "UTC",
            "Etc/UTC",
            "Etc/UCT",
            "UCT",
            "Etc/Universal",
            "Universal",
            "Zulu",
        ];
        *tz == TimeZone::UTC || tz.iana_name().is_some_and(|n| names.contains(&n))
    };
    a == b || (a.iana_name().is_some() && a.iana_name() == b.iana_name()) || (utc(a) && utc(b))
}

/// How Deckhand shows an instant to a person in `tz`: "today 18:00 CET", "tomorrow 09:00 CET",
/// "Fri 4 Dec 16:00 CET" (within a year of now), "Thu 24 Dec 2027 18:00 CET" (beyond); the zone
/// abbreviation from jiff, or the IANA name when it has none (e.g. "-03"). Seconds are shown
/// only when not zero.
pub fn describe(at: Timestamp, tz: &TimeZone, now: Timestamp) -> String {
    let zoned = at.to_zoned(tz.clone());
    let today = now.to_zoned(tz.clone()).date();
    let date = zoned.date();
    let near = today.checked_add(1.year()).is_ok_and(|d| date < d)
        && today.checked_sub(1.year()).is_ok_and(|d| date > d);
    let day = if date == today {
        "today".to_string()
    } else if today.tomorrow().ok() == Some(date) {
        "tomorrow".to_string()
    } else if near {
        zoned.strftime("%a %-d %b").to_string()
    } else {
        zoned.strftime("%a %-d %b %Y").to_string()
    };
    let clock = if zoned.second() == 0 {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    let info = tz.to_offset_info(at);
    let abbr = info.abbreviation();
    let zone = if abbr.starts_with(|c: char| c.is_ascii_alphabetic()) {
        abbr
    } else {
        tz.iana_name().unwrap_or(abbr)
    };
    format!("{day} {} {zone}", zoned.strftime(clock))
}
