//! What the words around the slots change about a parse: "help lock" is help; a reason
//! ("... while redis is migrated") names nothing; excluded names ("not staging", "except
//! billionmail") fill no slot; a lock's scope comes from the words before its reason;
//! "promote wix from dev" takes its version from dev and its target from elsewhere.

use super::entities::Entity;
use super::tokens::Token;
use super::{
    lock_scope, lock_words, slots_from, Intent, LockDetails, Nlu, Parsed, PromoteFrom, SlotKind,
    UnknownTerm,
};

/// True when entity `e` follows a word that excludes it ("not staging", "except redis").
fn excluded(words: &[&str], e: &Entity) -> bool {
    let before = |k: usize| e.start.checked_sub(k).map(|i| words[i]);
    match before(1) {
        Some("not" | "except" | "excluding" | "besides" | "without" | "minus" | "leave") => true,
        Some("but") => before(2) != Some("and"),
        Some("than") => before(2) == Some("other"),
        Some("from") => before(2) == Some("apart"),
        Some("of") => before(2) == Some("instead"),
        _ => false,
    }
}

/// Distinct values of one kind, in order.
fn values(entities: &[&Entity], kind: SlotKind, skip: impl Fn(&Entity) -> bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in entities.iter().filter(|e| e.kind == kind && !skip(e)) {
        if !out.contains(&e.value) {
            out.push(e.value.clone());
        }
    }
    out
}

impl Nlu {
    /// Applies the rules above to a parse.
    pub(super) fn refine(
        &self,
        parsed: &mut Parsed,
        text: &str,
        toks: &[Token],
        entities: &[Entity],
    ) {
        let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
        if parsed.parts.help_topic.is_some() && !parsed.negated {
            // "help lock" asks about locking; it never starts a lock.
            parsed.intent = Intent::Help;
        }
        if let (Some(r), false) = (
            parsed.parts.reason_from,
            matches!(parsed.intent, Intent::Lock | Intent::Unlock) || parsed.negated,
        ) {
            // A long reason can drown the command: "lock staging during the storage upgrade"
            // is a lock when the words before the reason are one.
            let head = self.parse(&text[..toks[r].start]);
            // Also "stop run 1 because it is slow": a command drowned by its reason. Only a
            // question, or a stop that names its run (it asks first), is taken from the head:
            // "priya rejected the wix request because ..." stays talk.
            let safe_head = !head.intent.is_action()
                || (head.intent == Intent::Cancel && !head.parts.run_refs.is_empty());
            let drowned = parsed.intent == Intent::None
                && head.intent != Intent::None
                && safe_head
                && !matches!(head.intent, Intent::Affirm | Intent::Negate);
            if matches!(head.intent, Intent::Lock | Intent::Unlock) || drowned {
                parsed.intent = head.intent;
                parsed.confidence = head.confidence;
            }
        }
        let verb_first = words
            .iter()
            .find(|w| !w.starts_with('@'))
            .is_some_and(|w| matches!(*w, "lock" | "freeze" | "unlock" | "unfreeze" | "thaw"));
        if verb_first && !parsed.negated && !matches!(parsed.intent, Intent::Lock | Intent::Unlock)
        {
            // "lock staging so that the storage upgrade can run": the scope decides.
            let end = lock_scope::read(text, toks, entities).end;
            if end < toks.len() {
                let head = self.parse(&text[..toks[end].start]);
                if matches!(head.intent, Intent::Lock | Intent::Unlock) {
                    parsed.intent = head.intent;
                    parsed.confidence = head.confidence;
                }
            }
        }
        let lock = matches!(parsed.intent, Intent::Lock | Intent::Unlock);
        let scope = if lock {
            Some(lock_scope::read(text, toks, entities))
        } else {
            None
        };
        let end = match &scope {
            Some(s) => s.end,
            None => parsed.parts.reason_from.unwrap_or(toks.len()),
        };
        let before_end: Vec<&Entity> = entities.iter().filter(|e| e.end <= end).collect();
        parsed.parts.excluded = values(&before_end, SlotKind::Service, |e| !excluded(&words, e));
        parsed
            .parts
            .excluded
            .extend(values(&before_end, SlotKind::Environment, |e| {
                !excluded(&words, e)
            }));
        if let Some(s) = scope.as_ref().filter(|s| s.end < words.len()) {
            // "lock staging except billionmail": the scope ends at the exclusion.
            let w = words[s.end];
            let excluding = matches!(
                w,
                "except"
                    | "excluding"
                    | "besides"
                    | "without"
                    | "minus"
                    | "but"
                    | "not"
                    | "apart"
                    | "instead"
                    | "other"
                    | "leave"
            );
            if excluding {
                let near: Vec<&Entity> = entities
                    .iter()
                    .filter(|e| e.start > s.end && e.start <= s.end + 3)
                    .collect();
                parsed
                    .parts
                    .excluded
                    .extend(values(&near, SlotKind::Service, |_| false));
                parsed
                    .parts
                    .excluded
                    .extend(values(&near, SlotKind::Environment, |_| false));
            }
        }
        let kept: Vec<Entity> = before_end
            .iter()
            .filter(|e| !excluded(&words, e))
            .map(|e| (*e).clone())
            .collect();
        if end < toks.len() || !parsed.parts.excluded.is_empty() {
            // Names in a reason or after "not" fill no slot and count for nothing.
            let kept_refs: Vec<&Entity> = kept.iter().collect();
            parsed.slots = slots_from(&kept, toks);
            parsed.services = values(&kept_refs, SlotKind::Service, |_| false);
            parsed.parts.environments = values(&kept_refs, SlotKind::Environment, |e| {
                e.start > 0 && words[e.start - 1] == "from"
            });
            parsed.parts.versions = values(&kept_refs, SlotKind::Version, |_| false);
            parsed.unknown.retain(|u| u.index < end);
        }
        if let Some(scope) = scope {
            self.read_lock_scope(parsed, text, &words, toks, scope);
        } else if end < toks.len() || words.contains(&"for") {
            // An answer to "Lock which environment?" may carry the reason or duration
            // ("staging while redis is migrated", "dev for 2 hours"): keep them as slots,
            // and count only the words before the reason as the answer.
            let sc = lock_scope::read(text, toks, entities);
            let starts: Vec<usize> = toks.iter().map(|t| t.start).collect();
            let (details, _) =
                lock_words::details_from(text, &words, &starts, end.min(sc.end), sc.duration);
            if let (Some(bad), None) = (&sc.unreadable, details.duration) {
                parsed.invalid.push(format!(
                    "I can't read the duration `{bad}`; say for example \"for 2 hours\", \"for 90 min\" or \"for 1h30\"."
                ));
            }
            if details != LockDetails::default() {
                parsed.slots.lock = Some(details);
            }
            let mut covered = vec![false; toks.len()];
            for e in entities {
                covered[e.start..e.end.min(toks.len())].fill(true);
            }
            parsed.other_words = (0..end.min(sc.end))
                .filter(|&i| {
                    !covered[i]
                        && !super::FILLER.contains(&words[i])
                        && !lock_words::is_duration_word(words[i])
                })
                .count();
        }
        if parsed.parts.promote || parsed.parts.source_environment.is_some() {
            self.read_promotion(parsed, &words, &kept);
        }
        if matches!(parsed.intent, Intent::Deploy | Intent::Rollback) {
            refuse_unread_versions(parsed, &words, entities);
        }
    }

    /// A lock's scope, duration and reason; every word in a name's place must resolve.
    fn read_lock_scope(
        &self,
        parsed: &mut Parsed,
        text: &str,
        words: &[&str],
        toks: &[Token],
        scope: lock_scope::LockScope,
    ) {
        let starts: Vec<usize> = toks.iter().map(|t| t.start).collect();
        let (details, time) =
            lock_words::details_from(text, words, &starts, scope.end, scope.duration);
        parsed
            .unknown
            .retain(|u| !lock_words::is_duration_word(&u.text));
        for i in scope.unresolved {
            if !parsed.unknown.iter().any(|u| u.index == i) {
                parsed.unknown.push(UnknownTerm {
                    text: words[i].to_string(),
                    after_preposition: i > 0 && matches!(words[i - 1], "in" | "on" | "to"),
                    index: i,
                });
            }
        }
        parsed.unknown.sort_by_key(|u| u.index);
        if let Some(t) = scope.time.or(time) {
            parsed.invalid.push(format!(
                "I can't read \"{t}\" as the start or end of a lock; nothing was changed. Say for example \"from Friday 16:00 to Monday 08:00\", \"until 18:00\" or \"for 2 hours\", or leave it out to lock until someone unlocks."
            ));
        } else if let (Some(bad), None) = (&scope.unreadable, details.duration) {
            parsed.invalid.push(format!(
                "I can't read the duration `{bad}`; say for example \"for 2 hours\", \"for 90 min\" or \"for 1h30\", or leave it out to lock until someone unlocks."
            ));
        }
        // Words of a duration are not other conversation.
        let duration_words = words
            .iter()
            .filter(|w| lock_words::is_duration_word(w) && w.parse::<f64>().is_err())
            .count();
        parsed.other_words = parsed.other_words.saturating_sub(duration_words);
        if details != LockDetails::default() {
            parsed.slots.lock = Some(details);
        }
    }

    /// "promote wix [from dev] to staging": the source is never the target, a source that
    /// does not resolve is reported, and a version cannot be both promoted and named.
    fn read_promotion(&self, parsed: &mut Parsed, words: &[&str], kept: &[Entity]) {
        let after_from = |e: &Entity| e.start > 0 && words[e.start - 1] == "from";
        parsed.slots.environment = kept
            .iter()
            .filter(|e| e.kind == SlotKind::Environment && !after_from(e))
            .map(|e| e.value.clone())
            .next_back();
        if let Some(i) = words.iter().position(|w| *w == "from") {
            let named = kept
                .iter()
                .any(|e| e.kind == SlotKind::Environment && e.start == i + 1);
            if let (false, Some(w)) = (named, words.get(i + 1)) {
                let hint = self
                    .suggest(w, SlotKind::Environment)
                    .map(|s| format!(" Did you mean `{s}`?"))
                    .unwrap_or_default();
                parsed.invalid.push(format!(
                    "I don't know the environment `{w}` to promote from; nothing was run.{hint}"
                ));
            }
        }
        if let Some(v) = &parsed.slots.version {
            parsed.invalid.push(format!(
                "A promotion deploys what the source environment runs, so it takes no version (you said {v}). Say \"deploy … {v} to …\" for that version."
            ));
        }
        parsed.slots.promote_from = Some(match &parsed.parts.source_environment {
            Some(env) => PromoteFrom::Environment(env.clone()),
            None => PromoteFrom::Previous,
        });
    }
}

/// Words that try to be a version but are none (`release-2.4.1`, `2.3.1-`, `ver2.3.1`,
/// `2.3.1rc1`, `v 2.4.1`): refused by name, never dropped for the latest build.
fn refuse_unread_versions(parsed: &mut Parsed, words: &[&str], entities: &[Entity]) {
    let mut covered = vec![false; words.len()];
    for e in entities {
        covered[e.start..e.end.min(words.len())].fill(true);
    }
    for (i, w) in words.iter().enumerate() {
        if covered[i] {
            // "v 2.4.1": the `v` belongs to the version.
            if i > 0 && matches!(words[i - 1], "v" | "ver" | "version:") && !covered[i - 1] {
                let is_version = entities
                    .iter()
                    .any(|e| e.start == i && e.kind == SlotKind::Version);
                if is_version && words[i - 1] != "ver" {
                    parsed.invalid.push(format!(
                        "`{} {w}` is not a valid version: write it as one word (`{}{w}`) or without the `{}`.",
                        words[i - 1], words[i - 1], words[i - 1]
                    ));
                }
            }
            continue;
        }
        let digits = w.bytes().any(|b| b.is_ascii_digit());
        let plain_number = w.bytes().all(|b| b.is_ascii_digit());
        let other_value = w.ends_with('%')
            || w.starts_with('#')
            || w.contains([':', '/'])
            || w.ends_with("am")
            || w.ends_with("pm")
            || lock_words::is_duration_word(w)
            || (i > 0 && matches!(words[i - 1], "run" | "job" | "last" | "in" | "at"));
        let named = parsed
            .invalid
            .iter()
            .any(|m| m.to_lowercase().contains(&w.to_lowercase()));
        if digits && !plain_number && !other_value && !named {
            parsed.invalid.push(format!(
                "`{w}` is not a valid version: a version is letters, digits, `.`, `-` and `+` only (like `2.4.1` or `v2.4.1`), typed on its own."
            ));
        }
    }
}
