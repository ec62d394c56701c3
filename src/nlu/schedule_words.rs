//! "list schedules" and "cancel schedule 3", read by a small fixed grammar before the
//! classifier: a listing is harmless, but a cancellation names one schedule by number, and a
//! plain "cancel" (stop this thread's runs) must never be taken for it, nor it for that.
//! Anything with words outside the grammar is left to the classifier.

/// What was asked about schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleAsk {
    /// Show the schedules waiting (`all`: the done and cancelled ones too).
    List {
        /// Include done and cancelled ones.
        all: bool,
    },
    /// Cancel one schedule (None: the number is missing).
    Cancel(Option<i64>),
}

const FILLER: [&str; 12] = [
    "please", "the", "my", "me", "can", "you", "could", "would", "deckhand", "now", "pls", "our",
];
const LIST_VERBS: [&str; 8] = [
    "list", "show", "what", "whats", "what's", "which", "view", "see",
];
const LIST_EXTRA: [&str; 9] = [
    "is", "are", "any", "there", "pending", "upcoming", "waiting", "all", "every",
];
const NOUNS: [&str; 8] = [
    "schedule",
    "schedules",
    "scheduled",
    "deploys",
    "deployments",
    "rollbacks",
    "jobs",
    "deploy",
];
const CANCEL_VERBS: [&str; 6] = ["cancel", "delete", "remove", "drop", "unschedule", "stop"];

/// Reads `text` as a schedules request, or None.
pub fn read(text: &str) -> Option<ScheduleAsk> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, '?' | '!' | ',' | '.' | ':'))
        .map(|w| w.trim_start_matches('@'))
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .collect();
    let has = |w: &str| words.contains(&w);
    let scheduley = has("schedule") || has("schedules") || has("scheduled") || has("unschedule");
    if !scheduley {
        return None;
    }
    if words.iter().any(|w| CANCEL_VERBS.contains(w)) {
        let mut number = None;
        for w in &words {
            if CANCEL_VERBS.contains(w) || NOUNS.contains(w) || *w == "number" || *w == "no" {
                continue;
            }
            match w.trim_start_matches('#').parse::<i64>() {
                Ok(n) if n > 0 && number.is_none() => number = Some(n),
                _ => return None,
            }
        }
        return Some(ScheduleAsk::Cancel(number));
    }
    let all = has("all") || has("every");
    let only_listing = words
        .iter()
        .all(|w| LIST_VERBS.contains(w) || LIST_EXTRA.contains(w) || NOUNS.contains(w));
    // "schedule" alone as a verb ("schedule a deploy") is a request, not a listing.
    let noun_form = has("schedules") || has("scheduled") || LIST_VERBS.iter().any(|v| has(v));
    (only_listing && noun_form).then_some(ScheduleAsk::List { all })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_in_many_words() {
        let heads = ["", "please ", "@deckhand ", "can you "];
        let bodies = [
            "list schedules",
            "show schedules",
            "show the schedules",
            "schedules",
            "what's scheduled",
            "what is scheduled?",
            "whats scheduled",
            "any scheduled deploys?",
            "show scheduled deployments",
            "list pending schedules",
            "what are the upcoming schedules",
            "show the schedule",
        ];
        for h in heads {
            for b in bodies {
                let t = format!("{h}{b}");
                assert_eq!(read(&t), Some(ScheduleAsk::List { all: false }), "{t}");
            }
        }
        for t in ["list all schedules", "show every schedule"] {
            assert_eq!(read(t), Some(ScheduleAsk::List { all: true }), "{t}");
        }
    }

    #[test]
    fn cancellations_name_a_number() {
        for verb in ["cancel", "delete", "remove", "drop", "stop"] {
            for form in [
                "schedule {n}",
                "schedule #{n}",
                "the schedule {n}",
                "scheduled deploy {n}",
            ] {
                for n in [1, 3, 42, 1000] {
                    let t = format!("{verb} {}", form.replace("{n}", &n.to_string()));
                    assert_eq!(read(&t), Some(ScheduleAsk::Cancel(Some(n))), "{t}");
                }
            }
        }
        assert_eq!(read("unschedule 7"), Some(ScheduleAsk::Cancel(Some(7))));
        assert_eq!(
            read("please cancel schedule #12."),
            Some(ScheduleAsk::Cancel(Some(12)))
        );
        for t in [
            "cancel schedule",
            "cancel the scheduled deploy",
            "unschedule",
        ] {
            assert_eq!(read(t), Some(ScheduleAsk::Cancel(None)), "{t}");
        }
    }

    #[test]
    fn other_requests_are_left_alone() {
        for t in [
            "cancel",
            "cancel it",
            "stop run 3",
            "deploy billionmail to staging at 18:00",
            "schedule a deploy of billionmail",
            "schedule billionmail for 18:00",
            "cancel schedule 3 and deploy redis",
            "cancel schedule 3 4",
            "cancel schedule 0",
            "cancel schedule -2",
            "what is the schedule for the billionmail release",
            "status",
            "show history",
        ] {
            assert_eq!(read(t), None, "{t}");
        }
    }
}
