//! Human time formatting for chat replies.

use std::time::Duration;

/// "45 s", "12 min", "3 h", "2 days".
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        5400..=129_599 => format!("{} h", (s + 1800) / 3600),
        _ => format!("{} days", (s + 43_200) / 86_400),
    }
}

/// "12 s ago" from a unix-ms timestamp.
pub fn ago(ms: i64) -> String {
    let d = (crate::store::now_ms() - ms).max(0) as u64;
    format!("{} ago", span(Duration::from_millis(d)))
}

/// "2026-11-23 18:53 UTC" from a unix-ms timestamp.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// "Fri 4 Dec 16:00 CET" from a unix-ms timestamp, in the IANA zone `tz` (UTC when the name
/// does not resolve, which the config check rules out).
pub fn zoned(ms: i64, tz: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned(zone)
            .strftime("%a %-d %b %Y %H:%M %Z")
            .to_string(),
        Err(_) => utc(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_and_spans() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_459_980_000), "2026-11-23 18:53 UTC");
        assert_eq!(span(Duration::from_secs(3600)), "60 min");
        assert_eq!(span(Duration::from_secs(7200)), "2 h");
        assert_eq!(span(Duration::from_secs(12)), "12 s");
    }
}
