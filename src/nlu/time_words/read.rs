//! Word readers for [`super::find_time`]: words of the message, clock times and zones (days,
//! dates and moments are in [`super::day`]).
//!
//! Every reader looks at lowercased words `w` from index `i` and answers nothing, a value with
//! the index of the word after it, or a [`Fail`] when the words clearly try to be a time but do
//! not read.

use super::day::weekday;
use jiff::civil::Weekday;
use jiff::tz::{Offset, TimeZone};

/// A word of the message: lowercased, without surrounding punctuation, with its byte range.
pub(super) struct Tok {
    pub(super) w: String,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Why reading stopped; each carries the index of the word after the last one the error covers
/// (for [`Fail::Zone`], the index of the zone word itself).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Fail {
    Unreadable(usize),
    Zone(usize),
    Past(usize),
    Order(usize),
}

impl Fail {
    /// The index of the word after the last one this failure covers.
    pub(super) fn end(self) -> usize {
        match self {
            Fail::Zone(i) => i + 1,
            Fail::Unreadable(e) | Fail::Past(e) | Fail::Order(e) => e,
        }
    }
}

/// A reader's answer: nothing, or a value and the index of the word after it.
pub(super) type Read<T> = Result<Option<(T, usize)>, Fail>;

/// A clock time said as a word.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ClockWord {
    Noon,
    Midnight,
}

/// A time of day as read, in 24-hour fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Clock {
    pub(super) h: i8,
    pub(super) m: i8,
    pub(super) s: i8,
    /// `Some(true)` when "pm" was said, `Some(false)` for "am".
    pub(super) pm: Option<bool>,
    pub(super) word: Option<ClockWord>,
}

impl Clock {
    /// 00:00 as the start of a day ("until monday"), not as "midnight".
    pub(super) const START_OF_DAY: Clock = Clock {
        h: 0,
        m: 0,
        s: 0,
        pm: None,
        word: None,
    };

    fn named(h: i8, word: ClockWord) -> Clock {
        Clock {
            h,
            word: Some(word),
            ..Clock::START_OF_DAY
        }
    }
}

/// A day as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Day {
    Today,
    Tonight,
    Tomorrow,
    Weekday(Weekday),
    Date { y: Option<i16>, m: i8, d: i8 },
}

/// A zone said after a time.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ZoneSpec {
    Zone(TimeZone),
    /// "CET", "EST": only honoured when it is the context zone's abbreviation at that instant.
    Abbrev(String),
}

/// A day and/or a time of day, with an optional zone.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Moment {
    pub(super) day: Option<Day>,
    pub(super) clock: Option<Clock>,
    pub(super) zone: Option<ZoneSpec>,
}

/// How the words before a moment mark it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mode {
    /// After a time marker: "fri", "noon", "quarter past 9" read, and words that clearly try to
    /// be a time but do not read are a [`Fail::Unreadable`].
    pub(super) marked: bool,
    /// After "at": a bare hour ("at 9") is a time.
    pub(super) hour_ok: bool,
}

/// After "at".
pub(super) const AT: Mode = Mode {
    marked: true,
    hour_ok: true,
};
/// After "on", "from", "until", "between", "to".
pub(super) const MARKED: Mode = Mode {
    marked: true,
    hour_ok: false,
};
/// With no marker: only unmistakable forms ("18:00", "9pm", "tomorrow", "friday").
pub(super) const BARE: Mode = Mode {
    marked: false,
    hour_ok: false,
};

const LEAD: &[char] = &['(', '[', '{', '"', '\'', '“', '‘', '<', '*', '_', '`'];
const TRAIL: &[char] = &[
    ',', '.', '!', '?', ';', ':', ')', ']', '}', '"', '\'', '”', '’', '>', '*', '_', '`',
];
const HOUR_WORDS: [&str; 12] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve",
];
const ABBREVIATIONS: [&str; 30] = [
    "cet", "cest", "eet", "eest", "wet", "west", "bst", "ist", "est", "edt", "cst", "cdt", "mst",
    "mdt", "pst", "pdt", "akst", "akdt", "hst", "aest", "aedt", "acst", "awst", "jst", "kst",
    "msk", "nzst", "nzdt", "sast", "sgt",
];

/// Splits `text` into words on whitespace and commas, keeping byte offsets; "18:00-20:00" and
/// "9am–5pm" become three words.
pub(super) fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace() || c == ',', start) {
            (true, Some(s)) => {
                push_word(text, s, i, &mut toks);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    toks
}

fn push_word(text: &str, s: usize, e: usize, toks: &mut Vec<Tok>) {
    let raw = &text[s..e];
    let body = raw.trim_start_matches(LEAD);
    let s = s + raw.len() - body.len();
    let body = body.trim_end_matches(TRAIL);
    if body.is_empty() {
        return;
    }
    let mut push = |from: usize, to: usize| {
        toks.push(Tok {
            w: text[from..to].to_lowercase(),
            start: from,
            end: to,
        })
    };
    let lower = body.to_ascii_lowercase();
    let zone_at = ["z", "utc"].iter().find_map(|z| {
        let clock = lower.strip_suffix(z)?;
        clock_shape(clock)
            .is_some_and(|c| c.3)
            .then_some(clock.len())
    });
    match (range_cut(body), zone_at) {
        (_, Some(p)) => {
            push(s, s + p); // "18:00Z": the zone is a word of its own
            push(s + p, s + body.len());
        }
        (Some(p), None) => {
            let dash = body[p..].chars().next().map_or(1, char::len_utf8);
            push(s, s + p);
            push(s + p, s + p + dash);
            push(s + p + dash, s + body.len());
        }
        (None, None) => push(s, s + body.len()),
    }
}

/// Where a word like "18:00-20:00" is cut: a dash between two clock-like halves.
fn range_cut(word: &str) -> Option<usize> {
    word.char_indices().find_map(|(p, c)| {
        let (a, b) = (&word[..p], &word[p + c.len_utf8()..]);
        let cut = match c {
            '-' => clockish(a) && clockish(b),
            '–' | '—' => starts_digit(a) && starts_digit(b),
            _ => false,
        };
        cut.then_some(p)
    })
}

fn starts_digit(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
}

pub(super) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// "18:00", "9pm", "9:75": starts with a digit and has a colon or an am/pm.
fn clockish(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    starts_digit(&s) && (s.contains(':') || split_meridiem(&s).1.is_some())
}

/// "18:00h", "9:30ish": starts like a clock time ("H:MM"), even without a marker.
fn clock_prefix(s: &str) -> bool {
    let colon = s.find(':').unwrap_or(0);
    let minutes = s.get(colon + 1..colon + 3).unwrap_or("");
    (1..=2).contains(&colon) && all_digits(&s[..colon]) && all_digits(minutes)
}

/// "18.00": an hour and minutes with a dot; read as neither a time nor a version.
fn dotted_clock(s: &str) -> bool {
    matches!(s.split_once('.'), Some((h, m)) if (1..=2).contains(&h.len()) && m.len() == 2
        && all_digits(h) && all_digits(m))
}

/// "2.4.0", "1.2": never a time.
fn is_version(s: &str) -> bool {
    s.contains('.') && !dotted_clock(s) && s.split('.').all(all_digits)
}

fn meridiem(w: &str) -> Option<bool> {
    match w {
        "am" | "a.m" => Some(false),
        "pm" | "p.m" => Some(true),
        _ => None,
    }
}

/// "9:30pm" -> ("9:30", Some(true)).
fn split_meridiem(w: &str) -> (&str, Option<bool>) {
    for (suffix, pm) in [("a.m", false), ("p.m", true), ("am", false), ("pm", true)] {
        if let Some(n) = w.strip_suffix(suffix) {
            if n.ends_with(|c: char| c.is_ascii_digit()) {
                return (n, Some(pm));
            }
        }
    }
    (w, None)
}

/// "9", "18:00", "18:00:30" -> (h, m, s, has a colon); any numbers, checked later.
pub(super) fn clock_shape(s: &str) -> Option<(i8, i8, i8, bool)> {
    let mut parts = s.split(':');
    let h = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    if h.len() > 2 || !all_digits(h) || rest.len() > 2 {
        return None;
    }
    if rest.iter().any(|p| p.len() != 2 || !all_digits(p)) {
        return None;
    }
    let num = |k: usize| rest.get(k).map_or(Some(0), |p| p.parse().ok());
    Some((h.parse().ok()?, num(0)?, num(1)?, !rest.is_empty()))
}

/// A time of day at `w[i]`: "18:00", "6:30am", "9 pm", and after a marker "noon", "midnight",
/// "quarter past 9"; a bare hour ("9", "9 o'clock") only when `mode.hour_ok`.
pub(super) fn read_clock(w: &[&str], i: usize, mode: Mode) -> Read<Clock> {
    let Some(&t) = w.get(i) else { return Ok(None) };
    if mode.marked {
        match t {
            "noon" | "midday" => return Ok(Some((Clock::named(12, ClockWord::Noon), i + 1))),
            "midnight" => return Ok(Some((Clock::named(0, ClockWord::Midnight), i + 1))),
            "quarter" | "half" if matches!(w.get(i + 1), Some(&("past" | "after" | "to"))) => {
                return past_to(w, i)
            }
            _ => {}
        }
    }
    if mode.hour_ok && HOUR_WORDS.contains(&t) && hour_word_follows(w.get(i + 1).copied()) {
        return Err(Fail::Unreadable(i + 1));
    }
    let (num, glued) = split_meridiem(t);
    let spaced = match glued {
        None => w.get(i + 1).and_then(|n| meridiem(n)),
        Some(_) => None,
    };
    let pm = glued.or(spaced);
    let next = i + 1 + usize::from(spaced.is_some());
    let Some((h, m, s, colon)) = clock_shape(num) else {
        let junk = if mode.hour_ok {
            starts_digit(t) && !is_version(t)
        } else {
            clock_prefix(t) || (mode.marked && (clockish(t) || dotted_clock(t)))
        };
        return if junk {
            Err(Fail::Unreadable(i + 1))
        } else {
            Ok(None)
        };
    };
    if !colon && pm.is_none() && !mode.hour_ok {
        return Ok(None); // a bare number is never a time
    }
    let h = match pm {
        None => h,
        Some(p) if (1..=12).contains(&h) => h % 12 + if p { 12 } else { 0 },
        Some(_) => return Err(Fail::Unreadable(next)),
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(Fail::Unreadable(next));
    }
    let oclock = !colon && matches!(w.get(next), Some(&("o'clock" | "oclock")));
    let word = None;
    Ok(Some((
        Clock { h, m, s, pm, word },
        next + usize::from(oclock),
    )))
}

/// "at nine" (end of text, "nine pm", "nine tomorrow"...): a time in words, not read.
fn hour_word_follows(next: Option<&str>) -> bool {
    next.is_none_or(|n| {
        meridiem(n).is_some()
            || matches!(
                n,
                "o'clock" | "oclock" | "sharp" | "today" | "tomorrow" | "tonight"
            )
            || weekday(n, false).is_some()
    })
}

/// "quarter past 9", "half past 6pm", "quarter to 10".
fn past_to(w: &[&str], i: usize) -> Read<Clock> {
    let bad = Fail::Unreadable((i + 3).min(w.len()));
    let delta: i32 = match (w[i], w[i + 1]) {
        ("quarter", "to") => -15,
        ("quarter", _) => 15,
        ("half", "to") => return Err(bad),
        _ => 30,
    };
    let hour_mode = Mode {
        marked: false,
        hour_ok: true,
    };
    let Some((c, next)) = read_clock(w, i + 2, hour_mode).map_err(|_| bad)? else {
        return Err(bad);
    };
    if c.m != 0 || c.s != 0 {
        return Err(bad);
    }
    let total = (i32::from(c.h) * 60 + delta).rem_euclid(24 * 60);
    let (h, m) = ((total / 60) as i8, (total % 60) as i8);
    Ok(Some((Clock { h, m, ..c }, next)))
}

/// A zone right after a time: "UTC", "Z", "GMT", "UTC+2", "+01:00", "Europe/Berlin", "CET".
pub(super) fn read_zone(w: &[&str], i: usize) -> Read<ZoneSpec> {
    let Some(&t) = w.get(i) else { return Ok(None) };
    let zone = |tz| Ok(Some((ZoneSpec::Zone(tz), i + 1)));
    if matches!(t, "utc" | "z" | "gmt" | "zulu") {
        return zone(TimeZone::UTC);
    }
    let offset = t
        .strip_prefix("utc")
        .or_else(|| t.strip_prefix("gmt"))
        .filter(|r| r.starts_with(['+', '-']))
        .or_else(|| t.starts_with('+').then_some(t));
    if let Some(offset) = offset {
        return fixed_zone(offset).map_or(Err(Fail::Unreadable(i + 1)), zone);
    }
    if ABBREVIATIONS.contains(&t) {
        return Ok(Some((ZoneSpec::Abbrev(t.to_string()), i + 1)));
    }
    if t.contains('/') && t.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return TimeZone::get(t).map_or(Err(Fail::Zone(i)), zone);
    }
    Ok(None)
}

/// An optional zone at `w[i]`, and the index after it.
pub(super) fn opt_zone(w: &[&str], i: usize) -> Result<(Option<ZoneSpec>, usize), Fail> {
    Ok(match read_zone(w, i)? {
        Some((z, next)) => (Some(z), next),
        None => (None, i),
    })
}

/// "+1", "-05", "+0530", "+05:30".
pub(super) fn fixed_zone(s: &str) -> Option<TimeZone> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some(hm) => hm,
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "00"),
    };
    if !(1..=2).contains(&h.len()) || m.len() != 2 || !all_digits(h) || !all_digits(m) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60))
        .ok()
        .map(TimeZone::fixed)
}
