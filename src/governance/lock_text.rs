//! Reads the reason and duration of a lock from the message ("freeze staging while the
//! incident is open", "lock payments-api in production for 2 hours").

use std::time::Duration;

/// Reason and duration given with a lock request.
#[derive(Debug, Clone, PartialEq)]
pub struct LockDetails {
    /// Why, when given.
    pub reason: Option<String>,
    /// How long, when given.
    pub duration: Option<Duration>,
}

const REASON_MARKERS: [&str; 6] = [
    " while ",
    " because ",
    " due to ",
    " since ",
    " reason: ",
    " for the ",
];

fn unit_secs(word: &str) -> Option<u64> {
    match word.trim_end_matches(['.', ',', '!']) {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    }
}

/// Parses "for N unit" / "for an hour" / "for 30m" and a reason after while/because/due to.
pub fn parse_lock_details(text: &str) -> LockDetails {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut duration = None;
    for (i, w) in words.iter().enumerate() {
        if *w != "for" || i + 1 >= words.len() {
            continue;
        }
        let next = words[i + 1];
        let amount = match next {
            "a" | "an" | "one" => Some(1),
            "two" => Some(2),
            _ => next
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .parse::<u64>()
                .ok(),
        };
        let Some(n) = amount else { continue };
        let inline_unit = next.trim_start_matches(|c: char| c.is_ascii_digit());
        let unit = if !inline_unit.is_empty() && next.starts_with(|c: char| c.is_ascii_digit()) {
            unit_secs(inline_unit)
        } else {
            words.get(i + 2).and_then(|u| unit_secs(u))
        };
        if let Some(secs) = unit {
            duration = Some(Duration::from_secs(n.saturating_mul(secs)));
            break;
        }
    }
    let padded = format!(" {lower} ");
    let reason = REASON_MARKERS
        .iter()
        .filter_map(|m| padded.find(m).map(|i| (i, m)))
        .min_by_key(|(i, _)| *i)
        .map(|(i, m)| {
            // Keep the user's own casing; the marker itself is not part of the reason.
            let start = (i + m.len()).saturating_sub(1).min(text.len());
            let keep_for_the = *m == " for the ";
            let raw = text.get(start..).unwrap_or_default().trim();
            let raw = if keep_for_the {
                format!("the {raw}")
            } else {
                raw.to_string()
            };
            strip_duration(&raw)
        })
        .filter(|r| !r.is_empty());
    LockDetails { reason, duration }
}

/// Removes a trailing "for 2 hours" from a reason.
fn strip_duration(reason: &str) -> String {
    let lower = reason.to_lowercase();
    match lower.rfind(" for ") {
        Some(i) if parse_lock_details(&lower[i..]).duration.is_some() => {
            reason[..i].trim().to_string()
        }
        _ => reason.trim_end_matches(['.', '!']).to_string(),
    }
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
        assert_eq!(d.reason.as_deref(), Some("of the release review"));
        assert_eq!(parse_lock_details("lock staging").reason, None);
    }
}
