//! Freeze windows from the config: a cron line of opening times in a zone and a duration, after
//! Argo CD's sync windows. A window is open at `now` when the first opening after
//! `now - duration` is not after `now` (Argo's whole test, `SyncWindow.active`).

use crate::config::{Config, FreezeWindowConfig, RollbackRule};
use crate::nlu::lock_words::duration_at;
use croner::Cron;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;
use std::time::Duration;

/// One configured window of one environment, parsed.
#[derive(Debug, Clone)]
pub struct FreezeWindow {
    /// The environment it freezes.
    pub environment: String,
    /// The cron line as written.
    pub deny: String,
    /// How long each opening lasts.
    pub duration: Duration,
    /// The zone's IANA name.
    pub tz_name: String,
    /// Why.
    pub reason: String,
    /// Only these services (None: all of them).
    pub services: Option<Vec<String>>,
    /// Whether rollbacks go through.
    pub rollbacks: RollbackRule,
    cron: Cron,
    tz: TimeZone,
}

/// One opening of a window: when it opens and closes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FreezeSpan {
    /// The environment.
    pub environment: String,
    /// Only these services (None: the whole environment).
    pub services: Option<Vec<String>>,
    /// Opens, unix ms.
    pub from: i64,
    /// Closes, unix ms.
    pub until: i64,
    /// Why.
    pub reason: String,
    /// The window's zone (how its times are shown).
    pub tz: String,
    /// Whether rollbacks go through.
    pub rollbacks: RollbackRule,
}

/// A config duration such as `64h`, `90m`, `1h30`, `2 days`.
pub fn parse_config_duration(text: &str) -> Option<Duration> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    match duration_at(&words, 0) {
        Some((secs, used)) if used == words.len() && secs > 0 => Some(Duration::from_secs(secs)),
        _ => None,
    }
}

/// A crontab line of exactly five fields (minute hour day month weekday): croner alone would
/// also take six or seven, reading the first as seconds.
pub fn five_field_cron(line: &str) -> Result<Cron, String> {
    use croner::parser::{CronParser, Seconds, Year};
    if line.split_whitespace().count() != 5 {
        return Err("it needs five fields: minute hour day-of-month month day-of-week".into());
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(line)
        .map_err(|e| e.to_string())
}

/// A zone by IANA name, from the bundled database.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!("unknown time zone `{name}` (use an IANA name such as `Europe/Berlin` or `UTC`)")
    })
}

impl FreezeWindow {
    /// Parses one window of `environment`; `default_tz` is the config's zone. Err says what is
    /// wrong, for the config check.
    pub fn parse(
        environment: &str,
        config: &FreezeWindowConfig,
        default_tz: &str,
    ) -> Result<FreezeWindow, String> {
        let cron = five_field_cron(&config.deny)
            .map_err(|e| format!("deny `{}` is not a cron line: {e}", config.deny))?;
        let duration = parse_config_duration(&config.duration).ok_or_else(|| {
            format!(
                "duration `{}` does not read as a duration (like `64h` or `90m`)",
                config.duration
            )
        })?;
        let tz_name = config.tz.clone().unwrap_or_else(|| default_tz.to_string());
        let tz = zone(&tz_name)?;
        Ok(FreezeWindow {
            environment: environment.to_string(),
            deny: config.deny.clone(),
            duration,
            tz_name,
            reason: config.reason.clone(),
            services: config.services.clone(),
            rollbacks: config.rollbacks,
            cron,
            tz,
        })
    }

    /// Whether the window covers `service` (every service when it names none).
    pub fn covers(&self, service: &str) -> bool {
        self.services
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == service))
    }

    /// The first opening that starts after `after_ms` (exclusive).
    fn opening_after(&self, after_ms: i64) -> Option<FreezeSpan> {
        let start = Timestamp::from_millisecond(after_ms)
            .ok()?
            .to_zoned(self.tz.clone());
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        let from = next.timestamp().as_millisecond();
        Some(self.span(from))
    }

    fn span(&self, from: i64) -> FreezeSpan {
        FreezeSpan {
            environment: self.environment.clone(),
            services: self.services.clone(),
            from,
            until: from.saturating_add(self.duration.as_millis() as i64),
            reason: self.reason.clone(),
            tz: self.tz_name.clone(),
            rollbacks: self.rollbacks,
        }
    }

    /// The opening in force at `now_ms`, if any (the one that opened first, when several
    /// overlap).
    pub fn open_at(&self, now_ms: i64) -> Option<FreezeSpan> {
        let earliest = now_ms - self.duration.as_millis() as i64;
        // Exclusive: an opening exactly `duration` ago has just closed (`until` is exclusive).
        self.opening_after(earliest)
            .filter(|s| s.from <= now_ms && now_ms < s.until)
    }

    /// The next opening that starts after `now_ms`.
    pub fn next_after(&self, now_ms: i64) -> Option<FreezeSpan> {
        self.opening_after(now_ms)
    }
}

/// Every valid window of the config (an invalid one is a config problem, reported at load).
pub fn windows_of(config: &Config) -> Vec<FreezeWindow> {
    config
        .environments
        .iter()
        .flat_map(|e| e.windows.iter().map(move |w| (e, w)))
        .filter_map(|(e, w)| FreezeWindow::parse(&e.name, w, &config.timezone).ok())
        .collect()
}

/// Per environment of `environments` (in that order): its window open now, else the next to
/// open, from the config's windows (for `service`, when one is asked about).
pub fn spans_in_scope(
    config: &Config,
    environments: &[String],
    service: Option<&str>,
    now_ms: i64,
) -> Vec<FreezeSpan> {
    let windows = windows_of(config);
    environments
        .iter()
        .filter_map(|env| current_or_next(&windows, env, service, now_ms))
        .collect()
}

/// The open window of `windows` in `environment` that stops `rollback`-or-deploy of `service`
/// now, if any.
pub fn blocking_window(
    windows: &[FreezeWindow],
    environment: &str,
    service: &str,
    rollback: bool,
    now_ms: i64,
) -> Option<FreezeSpan> {
    windows
        .iter()
        .filter(|w| w.environment == environment && w.covers(service))
        .filter(|w| !rollback || w.rollbacks == RollbackRule::Deny)
        .find_map(|w| w.open_at(now_ms))
}

/// The window of `environment` in force now, else the next to open, for `service` (or the
/// whole environment).
pub fn current_or_next(
    windows: &[FreezeWindow],
    environment: &str,
    service: Option<&str>,
    now_ms: i64,
) -> Option<FreezeSpan> {
    let relevant = || {
        windows
            .iter()
            .filter(move |w| w.environment == environment && service.is_none_or(|s| w.covers(s)))
    };
    relevant()
        .filter_map(|w| w.open_at(now_ms))
        .min_by_key(|s| s.from)
        .or_else(|| {
            relevant()
                .filter_map(|w| w.next_after(now_ms))
                .min_by_key(|s| s.from)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn window(deny: &str, duration: &str, tz: &str, rollbacks: RollbackRule) -> FreezeWindow {
        let config = FreezeWindowConfig {
            deny: deny.into(),
            duration: duration.into(),
            tz: Some(tz.into()),
            reason: "weekend".into(),
            services: None,
            rollbacks,
        };
        FreezeWindow::parse("production", &config, "UTC").expect("valid window")
    }

    fn ms(text: &str) -> i64 {
        Timestamp::from_str(text).unwrap().as_millisecond()
    }

    #[test]
    fn a_weekend_window_is_open_from_friday_to_monday_in_its_zone() {
        // Friday 16:00 Berlin for 64 h: 2026-12-04T15:00Z to 2026-12-07T07:00Z (CET = UTC+1).
        let w = window("0 16 * * 5", "64h", "Europe/Berlin", RollbackRule::Allow);
        let open = [
            "2026-12-04T15:00:00Z",
            "2026-12-05T12:00:00Z",
            "2026-12-06T23:59:00Z",
            "2026-12-07T06:59:59Z",
        ];
        let closed = [
            "2026-12-04T14:59:59Z",
            "2026-12-07T07:00:00Z",
            "2026-12-02T17:30:00Z",
            "2026-12-08T12:00:00Z",
        ];
        for t in open {
            let s = w.open_at(ms(t)).unwrap_or_else(|| panic!("open at {t}"));
            assert_eq!(s.from, ms("2026-12-04T15:00:00Z"), "{t}");
            assert_eq!(s.until, ms("2026-12-07T07:00:00Z"), "{t}");
        }
        for t in closed {
            assert_eq!(w.open_at(ms(t)), None, "closed at {t}");
        }
        let next = w.next_after(ms("2026-12-02T17:30:00Z")).unwrap();
        assert_eq!(next.from, ms("2026-12-04T15:00:00Z"));
        // In summer the same wall time is 14:00Z (CEST = UTC+2).
        let summer = w.next_after(ms("2026-07-01T00:00:00Z")).unwrap();
        assert_eq!(summer.from, ms("2026-07-03T14:00:00Z"));
        // Over the weekend the clocks go forward (28 Mar 2027) the opening is still Friday
        // 16:00 local, and the 64 h are elapsed time: it closes at 09:00 local (07:00Z).
        let spring = w.next_after(ms("2027-03-24T00:00:00Z")).unwrap();
        assert_eq!(spring.from, ms("2027-03-26T15:00:00Z"));
        assert_eq!(spring.until, ms("2027-03-29T07:00:00Z"));
    }

    #[test]
    fn rollbacks_pass_unless_the_window_denies_them_and_services_narrow_it() {
        let now = ms("2026-12-05T12:00:00Z");
        let allow = window("0 16 * * 5", "64h", "Europe/Berlin", RollbackRule::Allow);
        let deny = window("0 16 * * 5", "64h", "Europe/Berlin", RollbackRule::Deny);
        assert!(blocking_window(
            std::slice::from_ref(&allow),
            "production",
            "api",
            false,
            now
        )
        .is_some());
        assert!(
            blocking_window(std::slice::from_ref(&allow), "production", "api", true, now).is_none()
        );
        assert!(
            blocking_window(std::slice::from_ref(&deny), "production", "api", true, now).is_some()
        );
        let mut narrow = allow.clone();
        narrow.services = Some(vec!["payments-api".into()]);
        let ws = [narrow];
        assert!(blocking_window(&ws, "production", "payments-api", false, now).is_some());
        assert!(blocking_window(&ws, "production", "billionmail", false, now).is_none());
        assert!(current_or_next(&ws, "production", Some("billionmail"), now).is_none());
        assert!(current_or_next(&ws, "production", None, now).is_some());
    }

    #[test]
    fn bad_windows_are_named_for_the_config_check() {
        let mut c = FreezeWindowConfig {
            deny: "0 16 * * 5".into(),
            duration: "64h".into(),
            tz: Some("Europe/Berlin".into()),
            reason: "r".into(),
            services: None,
            rollbacks: RollbackRule::Allow,
        };
        assert!(FreezeWindow::parse("p", &c, "UTC").is_ok());
        for (field, bad) in [
            ("deny", "every friday"),
            ("deny", "61 * * * *"),
            ("deny", "0 0 16 * * 5"),
            ("deny", "@weekly"),
            ("duration", "a fortnight"),
            ("duration", "0h"),
            ("tz", "Mars/Olympus"),
        ] {
            let mut b = c.clone();
            match field {
                "deny" => b.deny = bad.into(),
                "duration" => b.duration = bad.into(),
                _ => b.tz = Some(bad.into()),
            }
            let e = FreezeWindow::parse("p", &b, "UTC").unwrap_err();
            assert!(e.contains(bad), "{field} {bad}: {e}");
        }
        c.tz = None;
        assert_eq!(FreezeWindow::parse("p", &c, "UTC").unwrap().tz_name, "UTC");
    }
}
