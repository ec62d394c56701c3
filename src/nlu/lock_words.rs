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
}

/// Words that start the reason of a lock (lowercase; "due" only before "to", "for" only
/// before "the").
pub const REASON_MARKERS: [&str; 14] = [
    "while", "because", "due", "since", "until", "till", "as", "cuz", "cause", "bc", "during",
    "reason", "reason:", "for",
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
        "as" => next.is_some_and(|n| !matches!(n, "well" | "soon")),
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

/// A duration starting at `words[i]` (just after "for"): the seconds and how many words it took.
fn duration_at(words: &[&str], i: usize) -> Option<(u64, usize)> {
    let first = *words.get(i)?;
    if first == "half"
        && words.get(i + 1) == Some(&"an")
        && words.get(i + 2).map(|w| unit_secs(w)) == Some(Some(3600))
    {
        return Some((1800, 3));
    }
    if let Some(n) = number_word(first) {
        let unit = unit_secs(words.get(i + 1)?)?;
        return Some((n * unit, 2));
    }
    let parts = compact(first)?;
    let mut secs = 0f64;
    let mut used = 1;
    let mut last_unit = None;
    for (k, (n, unit)) in parts.iter().enumerate() {
        let unit = match unit {
            Some(u) => *u,
            None if k == parts.len() - 1 => {
                match last_unit {
                    // "1h30": minutes after hours, seconds after minutes.
                    Some(3600) => 60,
                    Some(60) => 1,
                    Some(_) => return None,
                    None => {
                        let u = unit_secs(words.get(i + 1)?)?;
                        used = 2;
                        u
                    }
                }
            }
            None => return None,
        };
        secs += n * unit as f64;
        last_unit = Some(unit);
    }
    // "for 1h 30m", "for 2 hours 15 minutes".
    if let Some(more) = words.get(i + used) {
        if let Some(extra) = compact(more).filter(|p| p.len() == 1 && p[0].1.is_some()) {
            secs += extra[0].0 * extra[0].1.unwrap_or(1) as f64;
            used += 1;
        } else if more.parse::<u64>().is_ok() {
            if let Some(u) = words.get(i + used + 1).and_then(|w| unit_secs(w)) {
                secs += more.parse::<f64>().unwrap_or(0.0) * u as f64;
                used += 2;
            }
        }
    }
    Some((secs.round() as u64, used))
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
    unit_secs(w).is_some() || number_word(w).is_some() || compact(w).is_some() || w == "half"
}

/// Words that may follow "for" without being a duration: the scope or filler ("lock staging
/// for billionmail", "for now", "for good").
fn is_duration_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
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

/// Reads the duration ("for N unit", "for 1h30", "for an hour") and the reason (after the
/// first reason marker) of a lock request.
pub fn parse_lock_details(text: &str) -> LockDetails {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut details = LockDetails::default();
    let reason_word = (1..words.len()).find(|&i| starts_reason(&words, i));
    let mut duration_span = None;
    for i in 0..words.len() {
        if words[i] != "for" || i + 1 >= words.len() || Some(i) == reason_word {
            continue;
        }
        match duration_at(&words, i + 1) {
            Some((secs, used)) => {
                let d = Duration::from_secs(secs);
                details.duration = Some(d);
                details.duration_text = Some(duration_text(d));
                duration_span = Some((i, i + 1 + used));
                break;
            }
            None if is_duration_like(words[i + 1]) => {
                let end = (i + 3).min(words.len());
                details.unreadable_duration = Some(words[i + 1..end].join(" "));
            }
            None => {}
        }
    }
    if details.duration.is_some() {
        details.unreadable_duration = None;
    }
    if let Some(r) = reason_word {
        // Keep the user's own casing: find the byte offset of word `r` in the original text.
        let original: Vec<&str> = text.split_whitespace().collect();
        let skip = match words[r].trim_end_matches(',') {
            "due" => 2,
            // "because of the upgrade": the reason is "the upgrade".
            "because" if words.get(r + 1) == Some(&"of") => 2,
            // "for the X": keep "the X".
            _ => 1,
        };
        let mut kept: Vec<&str> = Vec::new();
        for (k, w) in original.iter().enumerate().skip(r + skip) {
            if duration_span.is_some_and(|(a, b)| k >= a && k < b) {
                continue;
            }
            kept.push(w);
        }
        let reason = kept
            .join(" ")
            .trim_start_matches(':')
            .trim()
            .trim_end_matches(['.', '!'])
            .to_string();
        if !reason.is_empty() {
            details.reason = Some(reason);
        }
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
