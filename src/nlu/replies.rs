//! Explicit replies: the answers that decide a yes/no question or an approval request.
//!
//! A classifier guesses; a question that starts a deploy must not be answered by a guess. A
//! reply counts only when the whole message (after normalisation, without a leading
//! `@mention`) is one of the answers listed in the training data (the examples of
//! `intents/affirm.yaml`, `negate.yaml`, `approve.yaml` and `reject.yaml` that carry no slot
//! marks), one of a few symbols (👍 ✅ 👎 ❌), or an obvious typo of a listed one-word answer
//! (`yse`, `yesss`, `noo`, `aprove`). Everything else is not an answer.

use super::Intent;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// What an explicit reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Yes, go ahead.
    Yes,
    /// No.
    No,
    /// Approve the pending request.
    Approve,
    /// Reject the pending request.
    Reject,
}

impl Reply {
    fn of(intent: Intent) -> Option<Reply> {
        match intent {
            Intent::Affirm => Some(Reply::Yes),
            Intent::Negate => Some(Reply::No),
            Intent::Approve => Some(Reply::Approve),
            Intent::Reject => Some(Reply::Reject),
            _ => None,
        }
    }

    /// True for the answers to a yes/no question.
    pub fn is_yes_no(self) -> bool {
        matches!(self, Reply::Yes | Reply::No)
    }
}

/// Symbols that answer a yes/no question on their own.
const SYMBOLS: [(&str, Reply); 8] = [
    ("👍", Reply::Yes),
    ("✅", Reply::Yes),
    ("✔", Reply::Yes),
    ("☑", Reply::Yes),
    ("👎", Reply::No),
    ("❌", Reply::No),
    ("✖", Reply::No),
    ("🚫", Reply::No),
];

/// The listed answers, as token sequences.
pub struct ReplyLexicon {
    phrases: HashMap<String, Reply>,
    /// One-word answers, for typo matching.
    words: Vec<(String, Reply)>,
}

/// Collapses runs of one letter: `yesss` -> `yes`, `noooo` -> `no`.
fn collapse_runs(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut last = None;
    for c in w.chars() {
        if Some(c) != last {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// True when `a` is `b` with two neighbouring letters swapped (`yse` / `yes`).
fn is_transposition(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() != b.len() {
        return false;
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    matches!(diff.as_slice(), [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i])
}

impl ReplyLexicon {
    /// Builds the lexicon from unmarked training examples (already tokenized).
    pub fn new<'a>(examples: impl IntoIterator<Item = (&'a [String], Intent)>) -> ReplyLexicon {
        let mut phrases: HashMap<String, Reply> = HashMap::new();
        let mut conflicting = HashSet::new();
        for (tokens, intent) in examples {
            let Some(reply) = Reply::of(intent) else {
                continue;
            };
            let key = Self::key(tokens);
            if key.is_empty() {
                continue;
            }
            match phrases.get(&key) {
                Some(r) if *r != reply => {
                    conflicting.insert(key);
                }
                _ => {
                    phrases.insert(key, reply);
                }
            }
        }
        // A phrase listed as both yes and no decides nothing.
        for key in conflicting {
            phrases.remove(&key);
        }
        for (symbol, reply) in SYMBOLS {
            phrases.entry(symbol.to_string()).or_insert(reply);
        }
        let words = phrases
            .iter()
            .filter(|(k, _)| !k.contains(' ') && k.chars().all(char::is_alphabetic))
            .map(|(k, r)| (k.clone(), *r))
            .collect();
        ReplyLexicon { phrases, words }
    }

    /// The lookup key: tokens without a leading `@mention`, emoji skin tones removed.
    fn key(tokens: &[String]) -> String {
        let start = tokens
            .iter()
            .position(|t| !t.starts_with('@'))
            .unwrap_or(tokens.len());
        let mut key = String::new();
        for t in &tokens[start..] {
            let t: String = t
                .chars()
                .filter(|c| !('\u{1F3FB}'..='\u{1F3FF}').contains(c))
                .collect();
            if t.is_empty() {
                continue;
            }
            if !key.is_empty() {
                key.push(' ');
            }
            // "don't approve" is "do not approve": one listed form covers both.
            key.push_str(match t.as_str() {
                "don't" | "dont" | "don’t" => "do not",
                "won't" | "wont" => "will not",
                _ => &t,
            });
        }
        key
    }

    /// The explicit reply `tokens` (the whole message) make, if any. `is_word` says whether a
    /// token is a real word (known to the training data, or English): a real word is never
    /// taken for a typo of an answer (`yet` is not `yes`).
    pub fn read(&self, tokens: &[String], is_word: impl Fn(&str) -> bool) -> Option<Reply> {
        let key = Self::key(tokens);
        if let Some(r) = self.phrases.get(&key) {
            return Some(*r);
        }
        if let Some(r) = self.segmented(&key) {
            return Some(r);
        }
        if key.contains(' ') || !key.chars().all(char::is_alphabetic) || is_word(&key) {
            return None;
        }
        let collapsed = collapse_runs(&key);
        let mut found: Option<Reply> = None;
        for (word, reply) in &self.words {
            let n = word.chars().count();
            let close = collapse_runs(word) == collapsed
                || (n >= 3 && is_transposition(&key, word))
                || (n >= 5 && super::damerau_levenshtein(&key, word) == 1);
            if close {
                if found.is_some_and(|f| f != *reply) {
                    return None;
                }
                found = Some(*reply);
            }
        }
        found
    }
}

/// What may follow a first answer in one message.
const FOLLOWERS: [&str; 20] = [
    "go ahead",
    "do it",
    "go for it",
    "go",
    "proceed",
    "yes",
    "y",
    "yep",
    "👍",
    "✅",
    "confirm",
    "confirmed",
    "ship it",
    "no",
    "nope",
    "n",
    "👎",
    "❌",
    "don't",
    "do not",
];

/// Words that only add politeness to an answer ("yes please", "no thanks").
const POLITE: [&str; 9] = [
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "🙏",
];

impl ReplyLexicon {
    /// A message made only of listed answers that agree, plus politeness: "ok go ahead",
    /// "yes thanks", "yes 👍", "no no". Short messages only (at most eight words).
    fn segmented(&self, key: &str) -> Option<Reply> {
        let words: Vec<&str> = key.split(' ').filter(|w| !POLITE.contains(w)).collect();
        if words.is_empty() || words.len() > 8 {
            return None;
        }
        // reach[i]: the reply every segmentation of words[..i] gives (None: unreachable).
        let mut reach: Vec<Option<Reply>> = vec![None; words.len() + 1];
        let mut conflict = false;
        for i in 0..words.len() {
            if i > 0 && reach[i].is_none() {
                continue;
            }
            for j in i + 1..=words.len().min(i + 4) {
                let Some(r) = self.phrases.get(&words[i..j].join(" ")).copied() else {
                    continue;
                };
                if i > 0 && reach[i] != Some(r) {
                    conflict = true;
                    continue;
                }
                // After the first answer only plain confirmations may follow: "ok go ahead",
                // "no no"; "yeah right" is not a yes.
                if i > 0 && !FOLLOWERS.contains(&words[i..j].join(" ").as_str()) {
                    continue;
                }
                match reach[j] {
                    Some(prev) if prev != r => conflict = true,
                    _ => reach[j] = Some(r),
                }
            }
        }
        if conflict {
            return None;
        }
        reach[words.len()].filter(|r| r.is_yes_no())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> ReplyLexicon {
        let rows: Vec<(Vec<String>, Intent)> = [
            ("yes", Intent::Affirm),
            ("y", Intent::Affirm),
            ("go ahead", Intent::Affirm),
            ("no", Intent::Negate),
            ("nope", Intent::Negate),
            ("approve", Intent::Approve),
            ("lgtm", Intent::Approve),
            ("reject", Intent::Reject),
            ("do not approve", Intent::Reject),
        ]
        .into_iter()
        .map(|(t, i)| (t.split(' ').map(String::from).collect(), i))
        .collect();
        ReplyLexicon::new(rows.iter().map(|(t, i)| (t.as_slice(), *i)))
    }

    fn read(l: &ReplyLexicon, text: &str) -> Option<Reply> {
        let toks: Vec<String> = text.split_whitespace().map(String::from).collect();
        l.read(&toks, |w| ["yet", "nap"].contains(&w))
    }

    #[test]
    fn listed_answers_and_their_typos_count() {
        let l = lexicon();
        for yes in [
            "yes",
            "y",
            "go ahead",
            "@deckhand yes",
            "yse",
            "yess",
            "yesss",
            "👍",
            "✅",
            "👍🏽",
        ] {
            assert_eq!(read(&l, yes), Some(Reply::Yes), "{yes}");
        }
        for yes in [
            "yes please",
            "y go ahead",
            "yes thanks",
            "yes 👍",
            "go ahead please",
        ] {
            assert_eq!(read(&l, yes), Some(Reply::Yes), "{yes}");
        }
        for no in [
            "no",
            "noo",
            "nooooo",
            "nope",
            "npoe",
            "👎",
            "❌",
            "no no",
            "nope thanks",
        ] {
            assert_eq!(read(&l, no), Some(Reply::No), "{no}");
        }
        assert_eq!(read(&l, "aprove"), Some(Reply::Approve));
        assert_eq!(read(&l, "do not approve"), Some(Reply::Reject));
    }

    #[test]
    fn anything_else_is_not_an_answer() {
        let l = lexicon();
        for other in [
            "",
            "yet",
            "nap",
            "yes ?",
            "ye",
            "yo",
            "n0",
            "yes deploy it now",
            "go",
            "ahead",
            "approve of this plan",
            "i approve of this plan",
            "sey",
            "🤔",
            "🤷",
        ] {
            assert_eq!(read(&l, other), None, "{other}");
        }
    }
}
