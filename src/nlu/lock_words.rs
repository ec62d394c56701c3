//! The duration and reason of a lock request ("freeze staging while the incident is open",
//! "lock payments-api in production for 1h30"). Read once, from the message that asked, and
//! carried as slots: the answer to a follow-up question is never re-read for them.
//!
//! The reason starts at the first reason marker ("while", "because", "due to", "until",
//! "for the", ...); the scope (environment, service) comes only from the words before it.

use serde::Serialize;
use std::time::Duration;

/// Reason and duration given with a lock request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LockDetails {
    /// Why, when given (the user's own casing).
    pub reason: Option<String>,
    /// How long, when given.
    pub duration: Option<Duration>,
    /// The duration as the user wrote it, normalised for display ("1 h 30 min").
    pub duration_text: Option<String>,
    /// Words after "for" that look like a duration but do not parse ("for a fortnight").
    pub unreadable_duration: Option<String>,
    /// When it holds, when said with a start or an end ("from Friday 16:00 to Monday 08:00",
    /// "until 18:00"); it replaces the duration.
    pub window: Option<SaidWindow>,
}

/// A lock's start and end as read from the message, resolved when it was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaidWindow {
    /// Starts, unix ms (the moment it was said, for "until ...").
    pub from: i64,
    /// Ends, unix ms.
    pub until: i64,
    /// The words as written ("from friday 16:00 to monday 08:00").
    pub text: String,
    /// The zone they were read in (IANA name), to show the window in.
    pub tz: String,
}

/// When a deploy or rollback should run, as read from the message ("at 18:00", "tomorrow at
/// 9", "in 2 hours"), resolved when it was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaidTime {
    /// When, unix ms.
    pub at: i64,
    /// The words as written.
    pub text: String,
    /// The zone they were read in (IANA name), to show the time in.
    pub tz: String,
}

/// Words that start the reason of a lock (lowercase; "due" only before "to", "for" only
/// before "the").
pub const REASON_MARKERS: [&str; 17] = [
    "while", "whilst", "because", "due", "since", "until", "till", "til", "untill", "cuz", "coz",
    "cause", "bc", "during", "reason", "re", "for",
];

/// True when the word at `i` of `words` starts a reason.
pub fn starts_reason(words: &[&str], i: usize) -> bool {
    let w = words[i].trim_end_matches([',', '.', '!']);
    let next = words
        .get(i + 1)
        .map(|n| n.trim_end_matches([',', '.', ':']));
    match w {
        "due" => next == Some("to"),
        "for" => next == Some("the"),
        _ => REASON_MARKERS.contains(&w),
    }
}

fn unit_secs(word: &str) -> Option<u64> {
    match word.trim_end_matches(['.', ',', '!']) {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        "w" | "wk" | "wks" | "week" | "weeks" => Some(7 * 86_400),
        _ => None,
    }
}

fn number_word(w: &str) -> Option<u64> {
    Some(match w {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "ten" => 10,
        "twelve" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        _ => return None,
    })
}

/// Reads "90", "90min", "1h30", "1h30m", "2h", "1.5h" into (amount, unit seconds) parts.
fn compact(word: &str) -> Option<Vec<(f64, Option<u64>)>> {
    let mut parts = Vec::new();
    let mut rest = word.trim_end_matches(['.', ',', '!']);
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n_end == 0 {
            return None;
        }
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = if u_end == 0 {
            None
        } else {
            Some(unit_secs(&rest[..u_end])?)
        };
        rest = &rest[u_end..];
        parts.push((n, unit));
    }
    (!parts.is_empty()).then_some(parts)
}

/// A duration starting at `words[i]`: its seconds and how many words it took. Reads
/// "2 hours", "2h", "1h30", "1h 30m", "1 hour 30", "10 minutes and 30 seconds", "1.5h",
/// "an hour", "half an hour".
pub fn duration_at(words: &[&str], i: usize) -> Option<(u64, usize)> {
    let first = *words.get(i)?;
    if first == "half"
        && words.get(i + 1) == Some(&"an")
        && words.get(i + 2).map(|w| unit_secs(w)) == Some(Some(3600))
    {
        return Some((1800, 3));
    }
    let mut secs = 0f64;
    let mut k = i;
    let mut last_unit: Option<u64> = None;
    loop {
        let before = k;
        if last_unit.is_some() && words.get(k) == Some(&"and") {
            k += 1;
        }
        let Some(w) = words.get(k).copied() else {
            k = before;
            break;
        };
        let step = if let Some(n) = number_word(w) {
            words
                .get(k + 1)
                .and_then(|u| unit_secs(u))
                .map(|u| (n as f64 * u as f64, u, 2))
        } else if let Some(parts) = compact(w) {
            let mut total = 0f64;
            let mut unit_seen = last_unit;
            let mut used = 1;
            let mut ok = true;
            for (j, (n, unit)) in parts.iter().enumerate() {
                let u = match unit {
                    Some(u) => *u,
                    // "1h30": minutes after hours, seconds after minutes; a bare number
                    // takes the unit word after it ("90 min").
                    None if j == parts.len() - 1 => {
                        let follows = parts.len() > 1 || last_unit.is_some();
                        match (words.get(k + 1).and_then(|u| unit_secs(u)), unit_seen) {
                            (Some(u), _) => {
                                used = 2;
                                u
                            }
                            (None, Some(3600)) if follows => 60,
                            (None, Some(60)) if follows => 1,
                            _ => {
                                ok = false;
                                0
                            }
                        }
                    }
                    None => {
                        ok = false;
                        0
                    }
                };
                total += n * u as f64;
                unit_seen = Some(u);
            }
            ok.then(|| (total, unit_seen.unwrap_or(1), used))
        } else {
            None
        };
        match step {
            Some((value, unit, used)) => {
                secs += value;
                last_unit = Some(unit);
                k += used;
            }
            None => {
                k = before;
                break;
            }
        }
    }
    (k > i).then(|| (secs.round() as u64, k - i))
}

/// "1 h 30 min", "90 min" -> exactly what was asked, in one style.
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} day{}", if days == 1 { "" } else { "s" }));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if sec > 0 || parts.is_empty() {
        parts.push(format!("{sec} s"));
    }
    parts.join(" ")
}

/// True for the words of a duration ("2", "hours", "an", "1h30"): part of a lock request
/// without being a name.
pub fn is_duration_word(w: &str) -> bool {
    unit_secs(w).is_some()
        || number_word(w).is_some()
        || compact(w).is_some()
        || matches!(w, "half" | "and")
}

/// Words that may follow "for" without being a duration: the scope or filler ("lock staging
/// for billionmail", "for now", "for good").
pub fn is_duration_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
        || (w.starts_with('-') && w[1..].starts_with(|c: char| c.is_ascii_digit()))
        || number_word(w).is_some()
        || matches!(
            w,
            "half"
                | "several"
                | "few"
                | "couple"
                | "some"
                | "ages"
                | "ever"
                | "a"
                | "an"
                | "fortnight"
                | "forever"
                | "awhile"
        )
}

/// Reason words that are a time, not a reason ("until tomorrow", "for the weekend").
const TIME_REASONS: [&str; 10] = [
    "tomorrow",
    "tonight",
    "weekend",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The duration and reason of a lock request whose scope ends at token `end`.
pub fn details_from(
    text: &str,
    words: &[&str],
    starts: &[usize],
    end: usize,
    duration: Option<(usize, usize)>,
) -> (LockDetails, Option<String>) {
    let mut details = LockDetails::default();
    let mut time = None;
    if let Some((secs, _)) = duration.and_then(|(at, _)| duration_at(words, at)) {
        let d = Duration::from_secs(secs);
        details.duration = Some(d);
        details.duration_text = Some(duration_text(d));
    }
    if end >= words.len() {
        return (details, time);
    }
    // Skip the marker: "because of", "due to", "while", "for" (keeping "the X").
    let mut r = end;
    while r < words.len() && matches!(words[r], "-" | "—" | "–" | "--") {
        r += 1;
    }
    if r >= words.len() {
        return (details, time);
    }
    let lead = words[r].trim_end_matches([',', ':']);
    let marker = lead.to_string();
    r += match lead {
        "due" => 2,
        "because" if words.get(r + 1) == Some(&"of") => 2,
        _ if starts_reason(words, r) && lead != "for" => 1,
        "for" => 1,
        _ => 0,
    };
    let mut reason_end = words.len();
    // A reason that is itself a duration ("for the next 2 hours", "(2 hours)") or ends in one.
    let mut k = r;
    while k < words.len() {
        let start = if words[k] == "the" && words.get(k + 1) == Some(&"next") {
            k + 2
        } else {
            k
        };
        if let Some((secs, used)) = duration_at(words, start) {
            let at_end = start + used >= words.len();
            let after_for = k > r && words[k - 1] == "for";
            if details.duration.is_none() && (k == r || (at_end && after_for)) {
                details.duration = Some(Duration::from_secs(secs));
                details.duration_text = Some(duration_text(Duration::from_secs(secs)));
                reason_end = if k == r { r } else { k - 1 };
                if k == r {
                    r = start + used;
                    reason_end = words.len();
                }
                break;
            }
        }
        k += 1;
    }
    if details.duration.is_none()
        && matches!(
            marker.as_str(),
            "until" | "till" | "til" | "untill" | "for" | "by"
        )
        && words.get(r..).is_some_and(|rest| {
            rest.first().is_some_and(|w| {
                TIME_REASONS.contains(w)
                    || (*w == "the" && rest.get(1).is_some_and(|n| TIME_REASONS.contains(n)))
                    || super::parts::time_at(&["at", w], 0).is_some()
            }) || super::parts::time_at(rest, 0).is_some()
        })
    {
        time = Some(words[end..].join(" "));
    }
    if r < reason_end && r < starts.len() {
        let from = starts[r];
        let to = if reason_end < starts.len() {
            starts[reason_end]
        } else {
            text.len()
        };
        let raw = text[from..to]
            .trim()
            .trim_start_matches(['-', '—', '–', ':', ';', ',', '('])
            .trim()
            .trim_end_matches([')', ',', '.', '!', ';', ':'])
            .trim();
        if !raw.is_empty() {
            details.reason = Some(raw.to_string());
        }
    }
    (details, time)
}

/// Reads the duration and reason of a lock request from its text alone (no config names):
/// the same scope grammar and reason rules as a parse, for callers without an [`super::Nlu`].
pub fn parse_lock_details(text: &str) -> LockDetails {
    let toks = super::tokens::tokenize(text);
    let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    let starts: Vec<usize> = toks.iter().map(|t| t.start).collect();
    let scope = super::lock_scope::read(text, &toks, &[]);
    let end = (1..words.len())
        .find(|&i| starts_reason(&words, i))
        .unwrap_or(words.len())
        .min(scope.end);
    let mut details = details_from(text, &words, &starts, end, scope.duration).0;
    if details.duration.is_none() {
        details.unreadable_duration = scope.unreadable;
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reasons_and_durations() {
        let d = parse_lock_details("freeze all staging deploys while the incident is open");
        assert_eq!(d.reason.as_deref(), Some("the incident is open"));
        assert_eq!(d.duration, None);
        let d = parse_lock_details("lock payments-api in production for 2 hours");
        assert_eq!(d.duration, Some(Duration::from_secs(7200)));
        assert_eq!(d.reason, None);
        let d = parse_lock_details("lock prod for 30m because the DB migration is running");
        assert_eq!(d.duration, Some(Duration::from_secs(1800)));
        assert_eq!(d.reason.as_deref(), Some("the DB migration is running"));
        let d = parse_lock_details("lock staging because of the release review for an hour");
        assert_eq!(d.duration, Some(Duration::from_secs(3600)));
        assert_eq!(d.reason.as_deref(), Some("the release review"));
        assert_eq!(parse_lock_details("lock staging").reason, None);
        let d = parse_lock_details("lock staging for the storage upgrade");
        assert_eq!(d.reason.as_deref(), Some("the storage upgrade"));
        let d = parse_lock_details("lock staging due to: flaky tests");
        assert_eq!(d.reason.as_deref(), Some("flaky tests"));
    }

    #[test]
    fn durations_are_read_and_shown_as_given() {
        for (text, secs, shown) in [
            ("lock dev for 1 minute", 60, "1 min"),
            ("lock dev for 90 min", 5400, "1 h 30 min"),
            ("lock dev for 1h30", 5400, "1 h 30 min"),
            ("lock dev for 1h30m", 5400, "1 h 30 min"),
            ("lock dev for 1h 30m", 5400, "1 h 30 min"),
            ("lock dev for 2 hours 15 minutes", 8100, "2 h 15 min"),
            ("lock dev for 1.5h", 5400, "1 h 30 min"),
            ("lock dev for an hour", 3600, "1 h"),
            ("lock dev for half an hour", 1800, "30 min"),
            ("lock dev for two days", 172_800, "2 days"),
            ("lock dev for 1 week", 604_800, "7 days"),
            ("lock dev for 45s", 45, "45 s"),
        ] {
            let d = parse_lock_details(text);
            assert_eq!(d.duration, Some(Duration::from_secs(secs)), "{text}");
            assert_eq!(d.duration_text.as_deref(), Some(shown), "{text}");
            assert_eq!(d.unreadable_duration, None, "{text}");
        }
    }

    #[test]
    fn a_duration_that_does_not_parse_is_reported_not_dropped() {
        for text in [
            "lock dev for a fortnight",
            "lock dev for 2 blorps",
            "lock dev for ages",
            "lock dev for 3",
            "lock dev for several hours",
            "lock dev for a while",
            "lock dev for 1x",
        ] {
            let d = parse_lock_details(text);
            assert_eq!(d.duration, None, "{text}");
            assert!(d.unreadable_duration.is_some(), "{text}: {d:?}");
        }
        assert_eq!(
            parse_lock_details("lock dev for billionmail").unreadable_duration,
            None
        );
    }
}
