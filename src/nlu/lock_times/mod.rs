//! A lock's start and end said in the request ("freeze production from Friday 16:00 to Monday
//! 08:00 because of the launch", "lock staging until 18:00"): the time phrase is read by
//! [`time_words`](super::time_words), cut out of the words the rest of the parse sees (so
//! "friday" is never taken for a name and the reason keeps only its own words), and carried
//! as the lock's window. Any other request keeps its times as words Deckhand cannot honour
//! yet, named to the user by the dialogue.

use super::lock_words::{SaidTime, SaidWindow};
use super::time_words::{find_time, TimeContext, TimeSpec};
use super::{Intent, LockDetails, Nlu, Parsed};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Parses `text`, reading a lock window when the message is a lock request with one.
pub(super) fn parse_with_window(nlu: &Nlu, text: &str, tz: &TimeZone) -> Parsed {
    // Only what the parse reads may hold the window (a phrase past the cap is not honoured).
    let text = super::limits::cap_to(text, nlu.max_chars).text;
    let now = Timestamp::from_millisecond(crate::clock::now_ms()).unwrap_or(Timestamp::UNIX_EPOCH);
    let ctx = TimeContext {
        now,
        tz: tz.clone(),
    };
    match find_time(text, &ctx) {
        Ok(Some(phrase)) => {
            let mut masked = text.to_string();
            masked.replace_range(phrase.span.clone(), &" ".repeat(phrase.span.len()));
            let mut parsed = nlu.parse_words(&masked);
            let said = text[phrase.span.clone()].trim().to_string();
            if matches!(parsed.intent, Intent::Deploy | Intent::Rollback) {
                run_time(&mut parsed, phrase.spec, said, tz);
                return parsed;
            }
            if parsed.intent != Intent::Lock {
                return nlu.parse_words(text);
            }
            match phrase.spec {
                TimeSpec::Between { from, to } => {
                    let details = parsed.slots.lock.get_or_insert_with(LockDetails::default);
                    details.window = Some(SaidWindow {
                        from: from.as_millisecond(),
                        until: to.as_millisecond(),
                        text: said,
                        tz: tz.iana_name().unwrap_or("UTC").to_string(),
                    });
                    if details.duration.take().is_some() {
                        parsed.invalid.push(format!(
                            "You gave both a window (\"{}\") and a duration; say one of them.",
                            details.window.as_ref().map(|w| w.text.as_str()).unwrap_or("")
                        ));
                    }
                }
                TimeSpec::At(_) => parsed.invalid.push(format!(
                    "A lock that starts later needs an end too (you said \"{said}\"); say for example \"from 16:00 to 18:00\" or \"at 16:00 for 2 hours\"."
                )),
                TimeSpec::Every { .. } => parsed.invalid.push(format!(
                    "I can't put a recurring freeze in place from chat (you said \"{said}\"); recurring freeze windows go in the environment's `windows:` in the Deckhand config."
                )),
            }
            parsed
        }
        Err(e) => {
            let mut parsed = nlu.parse_words(text);
            if matches!(
                parsed.intent,
                Intent::Lock | Intent::Deploy | Intent::Rollback
            ) {
                // The time is named with why it cannot be read, once, instead of generically.
                parsed.invalid.retain(|m| !m.starts_with("I can't read \""));
                parsed.parts.time = None;
                parsed.invalid.push(e.to_string());
            }
            parsed
        }
        Ok(None) => nlu.parse_words(text),
    }
}

/// A deploy's or rollback's time: one instant schedules it; a window or a recurrence cannot
/// be honoured from chat and is named.
fn run_time(parsed: &mut Parsed, spec: TimeSpec, said: String, tz: &TimeZone) {
    let verb = if parsed.intent == Intent::Deploy {
        "deploy"
    } else {
        "rollback"
    };
    match spec {
        TimeSpec::At(at) => {
            parsed.slots.when = Some(SaidTime {
                at: at.as_millisecond(),
                text: said,
                tz: tz.iana_name().unwrap_or("UTC").to_string(),
            });
        }
        TimeSpec::Between { .. } => parsed.invalid.push(format!(
            "A {verb} happens at one time, not over a window (you said \"{said}\"); say for example \"at 18:00\" or \"tomorrow at 9\"."
        )),
        TimeSpec::Every { .. } => parsed.invalid.push(format!(
            "I can't set up a recurring {verb} from chat (you said \"{said}\"); recurring ones go in the `jobs:` list of the Deckhand config."
        )),
    }
}

#[cfg(test)]
mod tests;
