//! Where a lock request's scope ends and its reason begins.
//!
//! The scope is read from the words right after the lock verb: determiners ("all",
//! "the"), at most one service and one environment, a duration ("for 2 hours", "2h"). The
//! first word after the environment that is none of these, a punctuation break ("lock
//! staging - redis migration", "lock staging: ...", "(...)") or a reason marker ("while",
//! "because", ...) starts the reason, so names in a reason never narrow or widen the scope.
//! A word in a name's place before the environment that does not resolve ("lock database
//! in staging", "lock Ьillionmail in staging") is reported, never skipped.

use super::entities::Entity;
use super::lock_words::{duration_at, is_duration_like, starts_reason};
use super::tokens::Token;
use super::SlotKind;

/// What [`read`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LockScope {
    /// Token index where the scope ends (the reason, if any, starts here).
    pub end: usize,
    /// Token indexes of words in a name's place that do not resolve.
    pub unresolved: Vec<usize>,
    /// Token index and length of a duration within the scope.
    pub duration: Option<(usize, usize)>,
    /// Words that look like a duration but do not parse ("for a fortnight", "2 blorps").
    pub unreadable: Option<String>,
    /// A time instead of a duration ("in 2 hours", "at 6pm", "until tomorrow").
    pub time: Option<String>,
}

/// Words a scope may contain besides names and durations.
const SCOPE_WORDS: [&str; 64] = [
    "lock",
    "locks",
    "locking",
    "lockdown",
    "freeze",
    "freezing",
    "frozen",
    "unlock",
    "unlocking",
    "unfreeze",
    "thaw",
    "lift",
    "remove",
    "put",
    "place",
    "set",
    "a",
    "an",
    "the",
    "all",
    "any",
    "every",
    "everything",
    "deploys",
    "deployments",
    "deploy",
    "deploying",
    "deployment",
    "releases",
    "rollbacks",
    "rollouts",
    "changes",
    "env",
    "environment",
    "environments",
    "service",
    "services",
    "please",
    "pls",
    "plz",
    "now",
    "immediately",
    "right",
    "asap",
    "for",
    "in",
    "on",
    "of",
    "to",
    "hey",
    "can",
    "could",
    "would",
    "you",
    "we",
    "want",
    "need",
    "let's",
    "lets",
    "and",
    "whole",
    "entire",
    "just",
    "only",
];

/// A punctuation break between token `i - 1` and token `i`.
fn break_before(text: &str, toks: &[Token], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    if matches!(toks[i].text.as_str(), "-" | "—" | "–" | "--") {
        return true;
    }
    let between = &text[toks[i - 1].start..toks[i].start];
    let between = between.trim_end();
    between.ends_with(':') || between.contains([',', ';', '(', '—', '–'])
}

/// Reads the scope of a lock or unlock request.
pub fn read(text: &str, toks: &[Token], entities: &[Entity]) -> LockScope {
    let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    let mut entity_at: Vec<Option<&Entity>> = vec![None; toks.len()];
    for e in entities {
        if e.start < entity_at.len() {
            entity_at[e.start] = Some(e);
        }
    }
    let mut scope = LockScope {
        end: toks.len(),
        ..LockScope::default()
    };
    let mut seen_env = false;
    let mut env_end = 0;
    let mut i = 0;
    while i < toks.len() {
        if i > 0 && starts_reason(&words, i) {
            scope.end = i;
            break;
        }
        if seen_env && break_before(text, toks, i) {
            scope.end = i;
            break;
        }
        if let Some(e) = entity_at[i] {
            match e.kind {
                SlotKind::Environment => {
                    seen_env = true;
                    env_end = e.end;
                }
                SlotKind::Service if seen_env => {
                    // "lock staging billionmail" / "lock staging for billionmail" name the
                    // service only when nothing follows; "for redis upgrade" is a reason.
                    let adjacent =
                        e.start == env_end || (e.start == env_end + 1 && words[env_end] == "for");
                    let last = e.end >= toks.len() || starts_reason(&words, e.end);
                    if !(adjacent && last) {
                        scope.end = if words[e.start - 1] == "for" {
                            e.start - 1
                        } else {
                            e.start
                        };
                        break;
                    }
                }
                SlotKind::Service => {}
                // A version, strategy or percent is no lock scope.
                _ if seen_env => {
                    scope.end = i;
                    break;
                }
                _ => scope.unresolved.push(i),
            }
            i = e.end.max(i + 1);
            continue;
        }
        if let Some((_, used)) = duration_at(&words, i) {
            if i > 0 && words[i - 1] == "in" {
                // "lock dev in 2 hours" asks for a later start, not a duration.
                scope.time = Some(words[i - 1..i + used].join(" "));
            }
            scope.duration.get_or_insert((i, used));
            i += used;
            continue;
        }
        let w = words[i];
        if w == "for"
            && words.get(i + 1).is_some_and(|n| is_duration_like(n))
            && duration_at(&words, i + 1).is_none()
        {
            scope.unreadable = Some(words[i + 1..(i + 3).min(words.len())].join(" "));
        }
        if SCOPE_WORDS.contains(&w) || w.starts_with('@') || w == "deckhand" || w == "?" {
            i += 1;
            continue;
        }
        if seen_env {
            // The first word that is not part of a scope starts the reason.
            if is_duration_like(w) && scope.unreadable.is_none() {
                scope.unreadable = Some(words[i..(i + 2).min(words.len())].join(" "));
            }
            if let Some(n) = super::parts::time_at(&words, i) {
                scope.time = Some(words[i..(i + n).min(words.len())].join(" "));
            }
            scope.end = i;
            break;
        }
        scope.unresolved.push(i);
        i += 1;
    }
    // A "for" right before the reason belongs to it ("lock staging for redis upgrade").
    if scope.end > 0 && scope.end < toks.len() && words[scope.end - 1] == "for" {
        scope.end -= 1;
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    fn env(start: usize) -> Entity {
        Entity {
            kind: SlotKind::Environment,
            value: "staging".into(),
            start,
            end: start + 1,
            fuzzy: false,
        }
    }

    #[test]
    fn punctuation_and_unknown_words_after_the_environment_start_the_reason() {
        for text in [
            "lock staging - redis migration",
            "lock staging: redis migration in progress",
            "lock staging, redis is down",
            "lock staging (redis migration)",
            "lock staging; redis upgrade",
            "lock staging — redis upgrade",
            "lock staging whilst redis is down",
            "lock staging so that redis can be migrated",
            "lock staging after redis broke",
        ] {
            let toks = tokenize(text);
            let s = read(text, &toks, &[env(1)]);
            assert_eq!(s.end, 2, "{text}: {s:?}");
            assert!(s.unresolved.is_empty(), "{text}");
        }
    }

    #[test]
    fn words_in_a_name_place_must_resolve() {
        let text = "lock database in staging";
        let toks = tokenize(text);
        let s = read(text, &toks, &[env(3)]);
        assert_eq!(s.unresolved, vec![1]);
        let text = "lock staging for 2 hours";
        let toks = tokenize(text);
        let s = read(text, &toks, &[env(1)]);
        assert_eq!(s.end, toks.len());
        assert_eq!(s.duration, Some((3, 2)));
    }
}
