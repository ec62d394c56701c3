//! Resolving a read moment to an instant: the next one for times, weekdays and yearless
//! dates; as said (and checked not past) for "today", "tomorrow", "tonight" and dated days.

use super::read::{Clock, ClockWord, Day, Fail, Moment, ZoneSpec};
use super::TimeContext;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The instant of a moment: the first one after `anchor` for times without a day, weekdays
/// and dates without a year; as said for "today", "tomorrow", "tonight" and dated days (then
/// `InThePast` if not ahead of now). A day alone is 00:00 of it only when `day_alone`.
/// Errors cover the phrase up to `w[k]`.
pub(super) fn resolve(
    m: &Moment,
    anchor: Timestamp,
    ctx: &TimeContext,
    day_alone: bool,
    k: usize,
) -> Result<Timestamp, Fail> {
    let bad = Fail::Unreadable(k);
    let tz = match &m.zone {
        Some(ZoneSpec::Zone(tz)) => tz.clone(),
        _ => ctx.tz.clone(),
    };
    let clock = match (m.clock, m.day) {
        (Some(c), _) => c,
        (None, Some(_)) if day_alone => Clock::START_OF_DAY,
        _ => return Err(bad), // "on monday": at what time?
    };
    let today = ctx.now.to_zoned(tz.clone()).date();
    let from = anchor.to_zoned(tz.clone()).date();
    let midnight = clock.word == Some(ClockWord::Midnight);
    let days = |n: i64| (0..n).filter_map(move |k| from.checked_add(k.days()).ok());
    let next = |mut dates: Box<dyn Iterator<Item = Date>>| {
        dates.find_map(|d| instant(d, clock, &tz).filter(|t| *t > anchor))
    };
    let (at, fixed) = match m.day {
        None => (next(Box::new(days(2))), false),
        Some(_) if midnight && m.day != Some(Day::Tonight) => return Err(bad), // which midnight?
        Some(Day::Weekday(wd)) => (
            next(Box::new(days(8).filter(move |d| d.weekday() == wd))),
            false,
        ),
        Some(Day::Date { y: None, m: mo, d }) => {
            let years = from.year()..from.year().saturating_add(9);
            (
                next(Box::new(
                    years.filter_map(move |y| Date::new(y, mo, d).ok()),
                )),
                false,
            )
        }
        Some(Day::Date {
            y: Some(y),
            m: mo,
            d,
        }) => {
            let date = Date::new(y, mo, d).ok();
            (date.and_then(|d| instant(d, clock, &tz)), true)
        }
        Some(Day::Today) => (instant(today, clock, &tz), true),
        Some(Day::Tomorrow) => {
            let date = today.tomorrow().ok();
            (date.and_then(|d| instant(d, clock, &tz)), true)
        }
        Some(Day::Tonight) => (
            tonight(today, clock).and_then(|(d, c)| instant(d, c, &tz)),
            true,
        ),
    };
    let at = at.ok_or(bad)?;
    if fixed && at <= ctx.now {
        return Err(Fail::Past(k));
    }
    if let Some(ZoneSpec::Abbrev(name)) = &m.zone {
        if !tz
            .to_offset_info(at)
            .abbreviation()
            .eq_ignore_ascii_case(name)
        {
            return Err(bad); // "18:00 EST" said in Berlin: ask for a zone name
        }
    }
    Ok(at)
}

/// A wall time on a date in `tz`: a time in a DST gap moves forward, one in a fold takes the
/// earlier instant (jiff's `compatible`).
fn instant(date: Date, c: Clock, tz: &TimeZone) -> Option<Timestamp> {
    let time = Time::new(c.h, c.m, c.s, 0).ok()?;
    let zoned = tz.to_ambiguous_zoned(date.to_datetime(time)).compatible();
    zoned.ok().map(|z| z.timestamp())
}

/// "tonight at 11" is 23:00 today, "tonight at 1am" / "at midnight" / "at 12:30" the coming
/// night; "tonight at 9am" and "tonight at noon" do not read.
fn tonight(today: Date, c: Clock) -> Option<(Date, Clock)> {
    let next = today.tomorrow().ok()?;
    let at = |h: i8| Clock { h, ..c };
    match (c.word, c.pm) {
        (Some(ClockWord::Midnight), _) => Some((next, c)),
        (Some(ClockWord::Noon), _) => None,
        (None, Some(false)) => (c.h < 5).then_some((next, c)),
        (None, Some(true)) => (c.h != 12).then_some((today, c)),
        (None, None) => Some(match c.h {
            0..=4 => (next, c),
            5..=11 => (today, at(c.h + 12)),
            12 => (next, at(0)),
            _ => (today, c),
        }),
    }
}
