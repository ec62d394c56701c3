//! "what's new", "any updates for billionmail in staging?", "check for updates": a question
//! about newer versions, read by a fixed list of phrases before the classifier (whose
//! training has no such intent). The names in it are read as usual; an action ("update all
//! services") is never taken for the question.

const PHRASES: [&str; 20] = [
    "what's new",
    "whats new",
    "what is new",
    "anything new",
    "any updates",
    "any update",
    "any new version",
    "any newer version",
    "updates available",
    "update available",
    "new versions available",
    "new version available",
    "newer version",
    "newer versions",
    "check for updates",
    "check for new versions",
    "what can be updated",
    "what needs updating",
    "is there an update",
    "are there updates",
];

const ACTIONS: [&str; 9] = [
    "deploy", "update", "upgrade", "roll", "rollback", "lock", "unlock", "promote", "release",
];

/// Whether `word` (lowercase) is one of the phrases' own words, not a name to look up.
pub fn is_phrase_word(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    PHRASES
        .iter()
        .flat_map(|p| p.split(|c: char| c.is_whitespace() || c == '\''))
        .any(|w| w == word)
}

/// Whether `text` asks what newer versions there are.
pub fn asks_whats_new(text: &str) -> bool {
    let lower = text.to_lowercase().replace(['’', '`'], "'");
    let first = lower
        .split_whitespace()
        .map(|w| {
            w.trim_start_matches('@')
                .trim_matches(|c: char| !c.is_alphanumeric())
        })
        .find(|w| !w.is_empty() && *w != "deckhand" && *w != "please" && *w != "hey");
    if first.is_some_and(|w| ACTIONS.contains(&w)) {
        return false;
    }
    PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_about_new_versions() {
        let tails = [
            "",
            " in staging",
            " for billionmail",
            " for billionmail in production?",
        ];
        for head in [
            "what's new",
            "What’s new",
            "whats new",
            "@deckhand what is new",
            "any updates",
            "are there updates",
            "is there an update",
            "check for updates",
            "hey deckhand, anything new",
            "what can be updated",
        ] {
            for tail in tails {
                let t = format!("{head}{tail}");
                assert!(asks_whats_new(&t), "{t}");
            }
        }
    }

    #[test]
    fn the_phrases_own_words_are_not_names() {
        for w in [
            "updates",
            "update",
            "new",
            "newer",
            "versions",
            "available",
            "check",
        ] {
            assert!(is_phrase_word(w), "{w}");
        }
        for w in ["billionmail", "staging", "nosuch"] {
            assert!(!is_phrase_word(w), "{w}");
        }
    }

    #[test]
    fn actions_and_other_questions_are_not_it() {
        for t in [
            "update all services",
            "update billionmail and redis",
            "deploy the newer version of billionmail",
            "upgrade redis to the new version available",
            "status",
            "what's live in staging",
            "what is running",
            "history of billionmail",
            "new",
        ] {
            assert!(!asks_whats_new(t), "{t}");
        }
    }
}
