//! Parts of a message that are not the slots a dialogue fills one at a time, found so that
//! none of them is dropped silently: a time ("at 6pm", "tomorrow"), several target
//! environments, a promotion source ("from dev"), a run number ("stop run 12"), "the last
//! deployment", a help topic ("help lock") and where a lock's reason begins.

use super::entities::Entity;
use super::lock_words::starts_reason;
use super::tokens::Token;
use super::{Intent, SlotKind};
use serde::Serialize;

/// What [`read`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Parts {
    /// A time expression, as typed ("at 18:00", "tomorrow", "in 2 hours").
    pub time: Option<String>,
    /// Every distinct target environment named, in order (not the one after "from").
    pub environments: Vec<String>,
    /// The environment after "from" ("promote wix from dev to staging").
    pub source_environment: Option<String>,
    /// The message asks to promote ("promote wix to staging").
    pub promote: bool,
    /// A run number ("stop run 12", "cancel #12"): the first of `run_refs`, when it is one.
    pub run_id: Option<i64>,
    /// Everything named as a run, as typed ("12", "#12", "abc").
    pub run_refs: Vec<String>,
    /// The message refers to the last deployment ("undo last deployment").
    pub last_deployment: bool,
    /// "help lock": help about one command.
    pub help_topic: Option<Intent>,
    /// Token index where a reason begins ("... while redis is migrated").
    pub reason_from: Option<usize>,
    /// Every distinct version named.
    pub versions: Vec<String>,
    /// Names after "not", "except", "instead of" ...: they fill no slot.
    pub excluded: Vec<String>,
    /// "everywhere", "all environments", "all services", "everything", "the last 2 deploys":
    /// more than one target, as typed.
    pub many: Option<String>,
}

const WEEKDAYS: [&str; 14] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
];
const DAY_PARTS: [&str; 6] = [
    "morning",
    "afternoon",
    "evening",
    "night",
    "weekend",
    "week",
];

fn is_clock(w: &str) -> bool {
    let w = w.trim_end_matches(['.', ',']);
    let digits = w.trim_end_matches(['a', 'm', 'p', 'h']);
    let suffix = &w[digits.len()..];
    if !matches!(suffix, "" | "am" | "pm" | "h") {
        return false;
    }
    // "18:00", "18.00", "10.30pm", "6pm", "18h".
    let (h, m) = match digits.split_once([':', '.']) {
        Some((h, m)) => (h, Some(m)),
        None => (digits, None),
    };
    let hour_ok = !h.is_empty() && h.len() <= 2 && h.parse::<u32>().is_ok_and(|h| h <= 24);
    let minute_ok = m.is_none_or(|m| m.len() == 2 && m.parse::<u32>().is_ok_and(|m| m < 60));
    hour_ok && minute_ok
}

const MONTHS: [&str; 24] = [
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "sept",
];

/// "12/24", "24.12.", "2026-12-02", "2026-12-02T18:00".
fn is_date(w: &str) -> bool {
    let parts: Vec<&str> = w
        .split(['/', '-', 'T', 't'])
        .filter(|p| !p.is_empty())
        .collect();
    let numeric = parts.iter().all(|p| {
        p.chars().all(|c| c.is_ascii_digit() || c == ':')
            && p.chars().next().is_some_and(|c| c.is_ascii_digit())
    });
    let has_sep = w.contains('/') || (w.len() >= 10 && w.as_bytes().get(4) == Some(&b'-'));
    numeric && has_sep && parts.len() >= 2
}

fn is_amount(w: &str) -> bool {
    w.parse::<u32>().is_ok()
        || matches!(
            w,
            "a" | "an" | "one" | "two" | "three" | "few" | "couple" | "half"
        )
}

fn is_time_unit(w: &str) -> bool {
    matches!(
        w,
        "minute"
            | "minutes"
            | "min"
            | "mins"
            | "hour"
            | "hours"
            | "hr"
            | "hrs"
            | "h"
            | "day"
            | "days"
            | "week"
            | "weeks"
    )
}

/// The time expression starting at token `i`, as the number of tokens it spans.
pub(super) fn time_at(words: &[&str], i: usize) -> Option<usize> {
    let w = words[i];
    let next = words.get(i + 1).copied().unwrap_or("");
    let after = words.get(i + 2).copied().unwrap_or("");
    match w {
        "tomorow" | "tommorow" | "tommorrow" | "tmorrow" | "2morrow" | "2moro" | "tmrow" => Some(1),
        // A condition is a time Deckhand cannot wait for either.
        "once" | "whenever" => Some(1),
        "as" if next == "soon" && after == "as" => Some(3),
        "after" if matches!(next, "the" | "my" | "our") && !after.is_empty() => Some(3),
        "at" if next.len() == 4
            && next
                .parse::<u32>()
                .is_ok_and(|t| t / 100 <= 24 && t % 100 < 60) =>
        {
            Some(2)
        }
        "in" if matches!(next, "a" | "an")
            && matches!(
                after,
                "few"
                    | "couple"
                    | "bit"
                    | "while"
                    | "sec"
                    | "second"
                    | "moment"
                    | "minute"
                    | "hour"
            ) =>
        {
            Some(if matches!(after, "few" | "couple") {
                4
            } else {
                3
            })
        }
        "in" if next.parse::<u32>().is_ok_and(|n| n <= 120) && after.is_empty() => Some(2),
        "tomorrow" | "tmrw" | "tmr" | "tonight" | "tonite" | "overnight" | "later" | "eod"
        | "yesterday" | "ago" | "eow" | "midnight" | "noon" | "schedule" | "scheduled"
        | "weekly" | "daily" | "nightly" | "weekday" | "weekdays" => Some(1),
        "every"
            if WEEKDAYS.contains(&next)
                || DAY_PARTS.contains(&next)
                || matches!(next, "day" | "hour" | "weekday" | "night" | "monday")
                || next.parse::<u32>().is_ok() =>
        {
            Some(2)
        }
        "in" if next == "the" && DAY_PARTS.contains(&after) => Some(3),
        "after" | "before" | "at"
            if matches!(
                next,
                "lunch" | "work" | "hours" | "noon" | "midnight" | "dinner" | "standup"
            ) =>
        {
            Some(2)
        }
        "on" | "by" | "until" | "till" if MONTHS.contains(&next) || is_date(next) => {
            if after.parse::<u32>().is_ok() {
                Some(3)
            } else {
                Some(2)
            }
        }
        _ if MONTHS.contains(&w)
            && after.is_empty()
            && next.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d)) =>
        {
            Some(2)
        }
        _ if is_date(w) => Some(1),
        _ if WEEKDAYS.contains(&w) => Some(1),
        "at" | "by" | "after" | "before" | "around" | "from" | "until" | "till"
            if is_clock(next)
                && (next.contains(':')
                    || next.ends_with('m')
                    || next.ends_with('h')
                    || matches!(w, "at" | "by" | "around")) =>
        {
            if matches!(after, "am" | "pm" | "o'clock") {
                Some(3)
            } else {
                Some(2)
            }
        }
        "in" if next == "half" && after == "an" => Some(4),
        "in" if is_amount(next) && is_time_unit(after) => Some(3),
        "in" if next.len() > 1
            && next.ends_with(['h', 'm'])
            && next[..next.len() - 1].parse::<u32>().is_ok() =>
        {
            Some(2)
        }
        "next" | "this" | "coming" | "on"
            if WEEKDAYS.contains(&next) || (w != "on" && DAY_PARTS.contains(&next)) =>
        {
            Some(2)
        }
        "end" if next == "of" && matches!(after, "day" | "week" | "today") => Some(3),
        _ if is_clock(w) && (w.contains(':') || w.ends_with("am") || w.ends_with("pm")) => Some(1),
        _ => None,
    }
}

fn topic_of(w: &str) -> Option<Intent> {
    Some(match w {
        "deploy" | "deploys" | "deploying" | "ship" | "release" | "promote" => Intent::Deploy,
        "rollback" | "rollbacks" | "revert" | "undo" => Intent::Rollback,
        "status" => Intent::Status,
        "history" => Intent::History,
        "explain" => Intent::Explain,
        "lock" | "locks" | "locking" | "freeze" | "freezes" => Intent::Lock,
        "unlock" | "unfreeze" => Intent::Unlock,
        "ready" | "readiness" => Intent::Readiness,
        "cancel" | "stop" => Intent::Cancel,
        "approve" | "approval" | "approvals" | "reject" => Intent::Approve,
        _ => return None,
    })
}

/// "help lock", "lock help", "help with locks", "how do I lock", "how to roll back".
fn help_topic(words: &[&str]) -> Option<Intent> {
    let first = words.first()?;
    let lead = match *first {
        "help" | "usage" | "man" => 1,
        "how" => match words.get(1..3) {
            Some(["do", "i"]) | Some(["can", "i"]) | Some(["should", "i"]) => 3,
            _ if words.get(1) == Some(&"to") => 2,
            _ => return None,
        },
        _ => {
            // "lock help", "lock?": the command word then help.
            return match (words.len(), words.last()) {
                (2, Some(&"help")) | (2, Some(&"usage")) => topic_of(first),
                _ => None,
            };
        }
    };
    words
        .iter()
        .skip(lead)
        .filter(|w| {
            !matches!(
                **w,
                "with" | "on" | "for" | "about" | "the" | "a" | "command"
            )
        })
        .take(2)
        .find_map(|w| {
            if *w == "roll" {
                Some(Intent::Rollback)
            } else {
                topic_of(w)
            }
        })
}

/// Words that ask for several targets at once.
fn many_targets(words: &[&str]) -> Option<String> {
    for (k, w) in words.iter().enumerate() {
        let next = words.get(k + 1).copied().unwrap_or("");
        let found = match *w {
            "everywhere" | "everything" => Some(w.to_string()),
            "all" | "every" | "each" | "both"
                if matches!(
                    next,
                    "environments" | "envs" | "services" | "environment" | "service" | "of"
                ) =>
            {
                Some(format!("{w} {next}"))
            }
            "last" | "previous" | "latest"
                if next.parse::<u32>().is_ok_and(|n| n > 1)
                    || matches!(next, "two" | "three" | "few" | "couple") =>
            {
                Some(format!("{w} {next}"))
            }
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn run_number(w: &str) -> Option<i64> {
    w.strip_prefix('#')
        .unwrap_or(w)
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

/// Finds the parts of a message.
pub fn read(toks: &[Token], entities: &[Entity]) -> Parts {
    let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    let mut parts = Parts::default();
    // An index, not a search per word: the parse stays linear in the message length.
    let mut covered = vec![false; words.len()];
    for e in entities {
        covered[e.start.min(words.len())..e.end.min(words.len())].fill(true);
    }
    let in_entity = |i: usize| covered[i];
    let mut i = 0;
    while i < words.len() {
        if parts.time.is_none() && !in_entity(i) {
            if let Some(n) = time_at(&words, i) {
                parts.time = Some(words[i..(i + n).min(words.len())].join(" "));
                i += n;
                continue;
            }
        }
        i += 1;
    }
    for e in entities.iter().filter(|e| e.kind == SlotKind::Environment) {
        let from = e.start > 0 && words[e.start - 1] == "from";
        if from {
            parts
                .source_environment
                .get_or_insert_with(|| e.value.clone());
        } else if !parts.environments.contains(&e.value) {
            parts.environments.push(e.value.clone());
        }
    }
    for e in entities.iter().filter(|e| e.kind == SlotKind::Version) {
        if !parts.versions.contains(&e.value) {
            parts.versions.push(e.value.clone());
        }
    }
    parts.promote = words
        .iter()
        .any(|w| matches!(*w, "promote" | "promoting" | "promotion"));
    for (k, w) in words.iter().enumerate() {
        let after_run = k > 0 && matches!(words[k - 1], "run" | "job");
        let filler = matches!(
            *w,
            "the"
                | "it"
                | "that"
                | "this"
                | "please"
                | "now"
                | "too"
                | "and"
                | "for"
                | "in"
                | "on"
                | "?"
        );
        if (after_run || w.starts_with('#')) && !filler {
            parts.run_refs.push(w.to_string());
            if parts.run_refs.len() == 1 {
                parts.run_id = run_number(w);
            }
        }
        if matches!(
            *w,
            "last" | "latest" | "previous" | "recent" | "my" | "that"
        ) && words[k + 1..].iter().take(2).any(|n| {
            matches!(
                *n,
                "deployment" | "deploy" | "release" | "change" | "rollout"
            )
        }) {
            parts.last_deployment = true;
        }
    }
    parts.many = many_targets(&words);
    parts.help_topic = help_topic(&words);
    // "for the" starts a reason only in a lock ("lock staging for the upgrade"); elsewhere
    // it is part of the request ("rollback to v1.3.9 for the ledger service").
    parts.reason_from =
        (1..words.len()).find(|&k| words[k] != "for" && starts_reason(&words, k) && !in_entity(k));
    parts
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    fn parts(text: &str) -> Parts {
        read(&tokenize(text), &[])
    }

    #[test]
    fn time_expressions_are_found() {
        for (text, time) in [
            ("deploy billionmail to staging at 6pm", "at 6pm"),
            ("deploy billionmail to staging at 18:00", "at 18:00"),
            ("deploy billionmail to staging at 6 pm", "at 6 pm"),
            ("deploy billionmail tomorrow", "tomorrow"),
            ("deploy billionmail to prod tonight at 22:00", "tonight"),
            ("deploy billionmail in 2 hours", "in 2 hours"),
            ("deploy billionmail in an hour", "in an hour"),
            ("deploy billionmail in 30m", "in 30m"),
            ("ship it on friday", "on friday"),
            ("deploy billionmail next week", "next week"),
            ("deploy billionmail this evening", "this evening"),
            ("schedule a deploy of billionmail", "schedule"),
            ("deploy redis to dev yesterday", "yesterday"),
            ("deploy billionmail by end of day", "end of day"),
            ("every weekday at 06:00 run healthcheck", "every weekday"),
            ("deploy billionmail to staging at 18.00", "at 18.00"),
            ("deploy billionmail at 10.30pm", "at 10.30pm"),
            ("deploy billionmail after lunch", "after lunch"),
            ("deploy billionmail in the morning", "in the morning"),
            ("deploy billionmail on dec 24", "on dec 24"),
            ("deploy billionmail on 12/24", "on 12/24"),
            ("deploy billionmail at 2026-12-02T18:00", "2026-12-02t18:00"),
            ("deploy billionmail in half an hour", "in half an hour"),
            (
                "deploy billionmail to staging in a few minutes",
                "in a few minutes",
            ),
            ("deploy billionmail to staging tomorow", "tomorow"),
            ("deploy billionmail to staging at 1800", "at 1800"),
            (
                "deploy billionmail to staging after the standup",
                "after the standup",
            ),
            ("deploy billionmail to staging once tests pass", "once"),
            ("deploy billionmail to staging in 5", "in 5"),
            ("deploy billionmail as soon as ci is green", "as soon as"),
        ] {
            assert_eq!(parts(text).time.as_deref(), Some(time), "{text}");
        }
        for text in [
            "deploy billionmail 2.3.1 to staging",
            "deploy billionmail to production with a 10% canary",
            "deploy billionmail in staging",
            "deploy billionmail at version 2.4",
            "rollback billionmail in prod to 2.3.1",
            "deploy billionmail to every environment",
            "deploy billionmail 1.2 to staging",
        ] {
            assert_eq!(parts(text).time, None, "{text}");
        }
    }

    #[test]
    fn help_topics_and_run_numbers() {
        assert_eq!(parts("help lock").help_topic, Some(Intent::Lock));
        assert_eq!(parts("lock help").help_topic, Some(Intent::Lock));
        assert_eq!(parts("help with locks").help_topic, Some(Intent::Lock));
        assert_eq!(
            parts("how do I roll back").help_topic,
            Some(Intent::Rollback)
        );
        assert_eq!(parts("help").help_topic, None);
        assert_eq!(parts("lock staging").help_topic, None);
        assert_eq!(parts("stop run 12").run_id, Some(12));
        assert_eq!(parts("cancel #7").run_id, Some(7));
        assert_eq!(parts("cancel").run_id, None);
        assert!(parts("undo last deployment").last_deployment);
        assert!(parts("revert my last deploy").last_deployment);
        assert!(!parts("rollback billionmail").last_deployment);
    }
}
