//! `--since` values: `2026-11-01`, `2026-11-01T10:00:00Z`, `24h` / `30m` / `7d` ago, or unix ms.

/// Parses `--since` into unix ms, relative forms counted back from `now_ms`.
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    let err = || {
        format!("cannot read `{s}` as a time: use 2026-11-01, 2026-11-01T10:00:00Z, 24h, 30m, 7d or unix milliseconds")
    };
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        if let Ok(n) = s[..s.len() - 1].parse::<i64>() {
            let ms = match unit {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => return Err(err()),
            };
            return Ok(now_ms - n * ms);
        }
    }
    if s.chars().all(|c| c.is_ascii_digit()) && s.len() > 8 {
        return s.parse().map_err(|_| err());
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.trim_end_matches('Z'))),
        None => (s, None),
    };
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().map_err(|_| err()))
        .collect::<Result<_, _>>()?;
    let [y, m, day] = d[..] else {
        return Err(err());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return Err(err());
    }
    let secs_of_day = match time {
        Some(t) => {
            let parts: Vec<i64> = t
                .split(':')
                .map(|p| p.parse().map_err(|_| err()))
                .collect::<Result<_, _>>()?;
            match parts[..] {
                [h, mi] => h * 3600 + mi * 60,
                [h, mi, se] => h * 3600 + mi * 60 + se,
                _ => return Err(err()),
            }
        }
        None => 0,
    };
    Ok((days_from_civil(y, m, day) * 86_400 + secs_of_day) * 1000)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dates_durations_and_millis() {
        assert_eq!(parse_since("1970-01-02", 0), Ok(86_400_000));
        assert_eq!(
            parse_since("2026-11-23T18:53:00Z", 0),
            Ok(1_795_459_980_000)
        );
        assert_eq!(parse_since("2h", 10_000_000), Ok(10_000_000 - 7_200_000));
        assert_eq!(parse_since("1795459980000", 0), Ok(1_795_459_980_000));
        assert!(parse_since("yesterday", 0).is_err());
        assert!(parse_since("2026-13-01", 0).is_err());
    }
}
