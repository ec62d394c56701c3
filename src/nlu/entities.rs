//! Entity extraction: services and environments from the config's names and aliases
//! (multi-word, case-insensitive, typo-tolerant), plus versions, strategies and percents.

use super::tokens::Token;
use crate::config::{normalize_term, Config};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

mod values;
mod version;

pub use version::{parse_version, version_order_key, VersionKey};

/// Which slot an entity fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// A configured service.
    Service,
    /// A configured environment.
    Environment,
    /// A version, tag or git sha.
    Version,
    /// Rollout strategy.
    Strategy,
    /// Canary percentage.
    Percent,
}

impl SlotKind {
    /// The slot's name in flows, templates and eval data.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Service => "service",
            SlotKind::Environment => "environment",
            SlotKind::Version => "version",
            SlotKind::Strategy => "strategy",
            SlotKind::Percent => "percent",
        }
    }

    /// Parses a slot name.
    pub fn parse(s: &str) -> Option<SlotKind> {
        Some(match s {
            "service" => SlotKind::Service,
            "environment" => SlotKind::Environment,
            "version" => SlotKind::Version,
            "strategy" => SlotKind::Strategy,
            "percent" => SlotKind::Percent,
            _ => return None,
        })
    }

    /// Placeholder that replaces the entity's words before classification, so the classifier
    /// learns `"deploy <service> to <environment>"` and works for names it never saw.
    pub fn placeholder(self) -> Option<&'static str> {
        match self {
            SlotKind::Service => Some("__service__"),
            SlotKind::Environment => Some("__environment__"),
            SlotKind::Version => Some("__version__"),
            SlotKind::Percent => Some("__percent__"),
            SlotKind::Strategy => None,
        }
    }
}

/// One recognized entity: canonical value and the tokens it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Slot it fills.
    pub kind: SlotKind,
    /// Canonical value (config name, version exactly as typed, strategy spelling, percent digits).
    pub value: String,
    /// First token index.
    pub start: usize,
    /// One past the last token index.
    pub end: usize,
    /// True when matched with a typo.
    pub fuzzy: bool,
}

/// A word that looks like a name the config does not know (`deploy foo` -> `foo`).
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownTerm {
    /// The word as typed (lowercased).
    pub text: String,
    /// True when it follows "to", "in", "on", "into" or "onto", i.e. probably an environment.
    pub after_preposition: bool,
    /// Token index in the message.
    pub index: usize,
}

struct Term {
    words: Vec<String>,
    compact: String,
    /// Characters in `compact`.
    compact_len: usize,
    kind: SlotKind,
    canonical: String,
    /// An alias that is also an English word ("stage", "live"): a name only where a name is expected.
    ambiguous: bool,
}

/// What [`EntityExtractor::extract`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    /// Recognized entities, in text order.
    pub entities: Vec<Entity>,
    /// Name-like words the config does not know.
    pub unknown: Vec<UnknownTerm>,
    /// Values that look like a slot but are not valid ("150%"), as sentences for the user.
    pub invalid: Vec<String>,
    /// Token ranges of versions refused for junk glued to them (`1.0;id`): no slot, but the
    /// classifier reads them as a version, as it would the version alone.
    pub refused_versions: Vec<Range<usize>>,
}

/// English words (4-14 letters): never read as typos of names. See `data/README.md`.
/// True for a word of the English word list.
pub(super) fn is_english_word(w: &str) -> bool {
    english().contains(w)
}

fn english() -> &'static HashSet<&'static str> {
    static WORDS: std::sync::OnceLock<HashSet<&'static str>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| include_str!("data/english-words.txt").lines().collect())
}

/// Words after which an ambiguous alias is read as a name ("deploy to stage", "is prod
/// down", "did payments fail", "why isn't payments building").
const NAME_CONTEXT: [&str; 59] = [
    "to",
    "in",
    "on",
    "into",
    "onto",
    "from",
    "for",
    "of",
    "at",
    "with",
    "about",
    "is",
    "was",
    "are",
    "isn't",
    "wasn't",
    "did",
    "didn't",
    "does",
    "doesn't",
    "has",
    "hasn't",
    "will",
    "can",
    "deploy",
    "ship",
    "release",
    "push",
    "promote",
    "rollback",
    "back",
    "revert",
    "status",
    "explain",
    "history",
    "lock",
    "unlock",
    "freeze",
    "unfreeze",
    "redeploy",
    "update",
    "upgrade",
    "check",
    "show",
    "undo",
    "cancel",
    "stop",
    "restart",
    "rebuild",
    "build",
    "deploying",
    "releasing",
    "shipping",
    "rolling",
    "reverting",
    "promoting",
    "locking",
    "unlocking",
    "checking",
];

/// Words after an ambiguous alias that make it a name whatever precedes it
/// ("the stage env", "what payments service").
const NAME_BEFORE: [&str; 13] = [
    "env",
    "environment",
    "cluster",
    "deploy",
    "deploys",
    "deployment",
    "build",
    "canary",
    "service",
    "rollout",
    "release",
    "rollback",
    "api",
];

/// Words after an ambiguous alias that make it a name at the start of a clause ("payments
/// failed", "live is down") but not after a determiner ("what stage failed").
const NAME_SUBJECT_OF: [&str; 30] = [
    "fail",
    "failed",
    "fails",
    "failing",
    "broke",
    "broken",
    "down",
    "up",
    "ready",
    "deployed",
    "deploying",
    "building",
    "built",
    "running",
    "status",
    "history",
    "healthy",
    "is",
    "was",
    "isn't",
    "wasn't",
    "has",
    "hasn't",
    "did",
    "didn't",
    "works",
    "working",
    "rolled",
    "released",
    "locked",
];

/// Words that make the next word an ordinary noun ("what stage", "the payments").
const DETERMINERS: [&str; 16] = [
    "the", "a", "an", "what", "which", "this", "that", "each", "every", "any", "some", "no", "my",
    "our", "your", "their",
];

/// Recognizes entities using the config's vocabulary.
pub struct EntityExtractor {
    terms: Vec<Term>,
    /// Indices into `terms` by first word, longest term first.
    by_first: HashMap<String, Vec<usize>>,
    /// Index into `terms` by all words joined with a space.
    by_words: HashMap<String, usize>,
    /// Compact spellings of one-word names and aliases.
    single_compacts: HashSet<String>,
    /// Longest compact name or alias, in characters (bounds typo matching).
    longest: usize,
    known_words: HashSet<String>,
}

// Words that are never names, so neither typo matching nor unknown-name detection fires on them.
const COMMON_WORDS: &str = "a about above after again against all also am an and any are as at back be been before being below between both but by can cancel could current currently deploy deployed deploying deploys did do does doing done down during each else ever every few for from further get go going got had has have having he her here hers him his how i if in into is it its itself just last latest let lets like ll me more most my myself need new next no nor not now of off on once only or other our ours out over own please previous put re release same she should so some such than that the their them then there these they this those through to too under until up us very was we were what when where which while who whom why will with would you your yours yes ok okay thanks thank hey hi hello state stats stable status story stuff start started stop stopped store stored stages stage staged staff stand static steady still step things thing think time today tomorrow tonight week weekend friday monday morning night team people payment payments release released releases version versions service services server servers env environment environments build builds test tests tested testing check checks checked verify rollback roll rolled rolling revert reverted undo lock locked locks unlock freeze frozen unfreeze approve approved reject rejected deny denied help history explain failed fail failure failures error errors broke broken why what running live prod dev redo ready reddit retro retry review";

const PREPOSITIONS: [&str; 5] = ["to", "in", "on", "into", "onto"];

/// Work in progress of one [`EntityExtractor::extract`] call.
struct Scan<'a> {
    text: &'a str,
    tokens: &'a [Token],
    words: Vec<&'a str>,
    taken: Vec<bool>,
    out: Extraction,
}

impl Scan<'_> {
    fn push(&mut self, kind: SlotKind, value: String, range: Range<usize>, fuzzy: bool) {
        for flag in &mut self.taken[range.clone()] {
            *flag = true;
        }
        self.out.entities.push(Entity {
            kind,
            value,
            start: range.start,
            end: range.end,
            fuzzy,
        });
    }
}

impl EntityExtractor {
    /// Builds the gazetteer from the config. `extra_known` are words from training examples:
    /// a word the bot already knows as ordinary vocabulary is never read as a typo'd name.
    pub fn new(config: &Config, extra_known: &HashSet<String>) -> EntityExtractor {
        let mut terms = Vec::new();
        let mut add = |text: &str, kind: SlotKind, canonical: &str| {
            let norm = normalize_term(text);
            if norm.is_empty() {
                return;
            }
            let words: Vec<String> = norm.split(' ').map(str::to_string).collect();
            let ambiguous =
                norm != canonical && words.len() == 1 && english().contains(norm.as_str());
            let compact = norm.replace(' ', "");
            terms.push(Term {
                compact_len: compact.chars().count(),
                compact,
                words,
                kind,
                canonical: canonical.to_string(),
                ambiguous,
            });
        };
        for s in &config.services {
            add(&s.name, SlotKind::Service, &s.name);
            for a in &s.aliases {
                add(a, SlotKind::Service, &s.name);
            }
        }
        for e in &config.environments {
            add(&e.name, SlotKind::Environment, &e.name);
            for a in &e.aliases {
                add(a, SlotKind::Environment, &e.name);
            }
        }
        // Longest terms first so "auth service" wins over "auth".
        terms.sort_by_key(|t| std::cmp::Reverse(t.words.len()));
        let mut known_words: HashSet<String> = COMMON_WORDS
            .split_whitespace()
            .map(str::to_string)
            .collect();
        known_words.extend(extra_known.iter().cloned());
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_words = HashMap::new();
        let mut single_compacts = HashSet::new();
        // A configured name is not "ordinary vocabulary", even if a training example used it.
        for (k, t) in terms.iter().enumerate() {
            for w in &t.words {
                known_words.remove(w);
            }
            known_words.remove(&t.compact);
            by_first.entry(t.words[0].clone()).or_default().push(k);
            by_words.entry(t.words.join(" ")).or_insert(k);
            if t.words.len() == 1 {
                single_compacts.insert(t.compact.clone());
            }
        }
        EntityExtractor {
            longest: terms.iter().map(|t| t.compact_len).max().unwrap_or(0),
            terms,
            by_first,
            by_words,
            single_compacts,
            known_words,
        }
    }

    /// True for a word that is a configured name (or alias), or a version.
    fn is_plain_name(&self, w: &str) -> bool {
        parse_version(w).is_some() || self.single_compacts.contains(&w.replace(['-', '_'], ""))
    }

    /// Whether an ambiguous alias at token `i` stands where a name is expected.
    fn name_expected(&self, words: &[&str], i: usize) -> bool {
        let prev = i.checked_sub(1).map(|p| words[p]);
        let next = words.get(i + 1).copied();
        words.len() <= 2
            || prev.is_some_and(|p| NAME_CONTEXT.contains(&p) || self.is_plain_name(p))
            || next.is_some_and(|n| NAME_BEFORE.contains(&n) || self.is_plain_name(n))
            || (next.is_some_and(|n| NAME_SUBJECT_OF.contains(&n))
                && !prev.is_some_and(|p| DETERMINERS.contains(&p)))
    }

    /// Finds all entities, unknown name-like words and invalid values in the tokens of
    /// `text`. Each pass looks at every token a bounded number of times, so the work is
    /// linear in the message length.
    pub fn extract(&self, text: &str, tokens: &[Token]) -> Extraction {
        let mut scan = Scan {
            text,
            tokens,
            words: tokens.iter().map(|t| t.text.as_str()).collect(),
            taken: vec![false; tokens.len()],
            out: Extraction::default(),
        };
        values::refuse_glued_versions(&mut scan);
        // service@version next: it is one token holding two entities.
        self.service_at_version(&mut scan);
        values::percents(&mut scan);
        values::strategies(&mut scan);
        self.names(&mut scan);
        values::versions(&mut scan);
        self.typos_and_unknown(&mut scan);
        let mut out = scan.out;
        out.entities.sort_by_key(|e| (e.start, e.kind.as_str()));
        out
    }

    fn service_at_version(&self, scan: &mut Scan) {
        for i in 0..scan.words.len() {
            let Some((svc, ver)) = scan.words[i].split_once('@') else {
                continue;
            };
            if scan.taken[i] {
                continue;
            }
            let typed = version::typed_version(scan.text, &scan.tokens[i]);
            let version = parse_version(typed);
            let service = self.lookup_single(svc);
            match (service, version) {
                (Some((kind, name, fuzzy)), Some(v)) => {
                    scan.push(kind, name, i..i + 1, fuzzy);
                    scan.push(SlotKind::Version, v, i..i + 1, false);
                }
                (Some((kind, name, fuzzy)), None) if ver == "latest" => {
                    scan.push(kind, name, i..i + 1, fuzzy);
                }
                (None, Some(v)) => {
                    // "foo@1.2.3": the version is fine, the service is unknown.
                    scan.push(SlotKind::Version, v, i..i + 1, false);
                    scan.out.unknown.push(UnknownTerm {
                        text: svc.to_string(),
                        after_preposition: false,
                        index: i,
                    });
                }
                _ => {}
            }
        }
    }

    /// Exact names and aliases, longest first, aligned on token boundaries.
    fn names(&self, scan: &mut Scan) {
        // (token index, word) after splitting on - and _, and whether it starts its token.
        let mut sub: Vec<(usize, &str, bool)> = Vec::with_capacity(scan.words.len());
        for (i, w) in scan.words.iter().enumerate() {
            let parts = w.split(['-', '_']).filter(|p| !p.is_empty());
            for (k, p) in parts.enumerate() {
                sub.push((i, p, k == 0));
            }
        }
        let mut j = 0;
        while j < sub.len() {
            if scan.taken[sub[j].0] || !sub[j].2 {
                j += 1;
                continue;
            }
            let candidates = self.by_first.get(sub[j].1).map_or(&[][..], Vec::as_slice);
            let matched = candidates.iter().map(|k| &self.terms[*k]).find_map(|t| {
                let n = t.words.len();
                if j + n > sub.len() {
                    return None;
                }
                let end_tok = sub[j + n - 1].0;
                let ends_token = j + n == sub.len() || sub[j + n].0 != end_tok;
                (ends_token
                    && (j..j + n).all(|k| !scan.taken[sub[k].0])
                    && t.words.iter().enumerate().all(|(k, w)| sub[j + k].1 == w)
                    && (!t.ambiguous || self.name_expected(&scan.words, sub[j].0)))
                .then_some((t, n, end_tok))
            });
            match matched {
                Some((t, n, end_tok)) => {
                    scan.push(t.kind, t.canonical.clone(), sub[j].0..end_tok + 1, false);
                    j += n;
                }
                None => j += 1,
            }
        }
    }

    /// Typos of names, then whatever still looks like an unknown name.
    fn typos_and_unknown(&self, scan: &mut Scan) {
        for i in 0..scan.words.len() {
            if scan.taken[i] {
                continue;
            }
            let w = scan.words[i];
            if let Some((kind, canonical)) = self.fuzzy(w) {
                scan.push(kind, canonical, i..i + 1, true);
            } else if self.looks_like_name(w) {
                let after_preposition = i > 0 && PREPOSITIONS.contains(&scan.words[i - 1]);
                scan.out.unknown.push(UnknownTerm {
                    text: w.to_string(),
                    after_preposition,
                    index: i,
                });
            }
        }
    }

    fn lookup_single(&self, w: &str) -> Option<(SlotKind, String, bool)> {
        self.by_words
            .get(&normalize_term(w))
            .map(|k| (self.terms[*k].kind, self.terms[*k].canonical.clone(), false))
            .or_else(|| self.fuzzy(w).map(|(k, c)| (k, c, true)))
    }

    /// Typo-tolerant match of one word against names and aliases. Conservative on purpose:
    /// at least 5 letters, same first letter, one edit (two for 9+ letters), not an ordinary
    /// word, and only when exactly one name is that close.
    fn fuzzy(&self, w: &str) -> Option<(SlotKind, String)> {
        // No name is within two edits of a word this long (and the check stays cheap).
        if w.len() > 4 * (self.longest + 2) {
            return None;
        }
        let compact: String = w.chars().filter(|c| *c != '-' && *c != '_').collect();
        let len = compact.chars().count();
        if len < 5
            || len > self.longest + 2
            || self.known_words.contains(w)
            || english().contains(w)
            || !compact.chars().all(|c| c.is_alphanumeric())
        {
            return None;
        }
        let max = if len >= 9 { 2 } else { 1 };
        let first = compact.chars().next();
        let mut best: Option<(usize, &Term)> = None;
        let mut tie = false;
        for t in &self.terms {
            if t.compact_len < 5
                || t.compact_len.abs_diff(len) > max
                || t.compact.chars().next() != first
            {
                continue;
            }
            let d = damerau_levenshtein(&compact, &t.compact);
            if d == 0 || d > max {
                continue;
            }
            match best {
                Some((bd, bt)) if d == bd && bt.canonical != t.canonical => tie = true,
                Some((bd, _)) if d >= bd => {}
                _ => {
                    best = Some((d, t));
                    tie = false;
                }
            }
        }
        match best {
            Some((_, t)) if !tie => Some((t.kind, t.canonical.clone())),
            _ => None,
        }
    }

    fn looks_like_name(&self, w: &str) -> bool {
        w.len() >= 2
            && w.len() <= 40
            && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            && !self.known_words.contains(w)
    }

    /// The configured name closest to `word` of the given kind, for "did you mean" replies.
    pub fn suggest(&self, word: &str, kind: SlotKind) -> Option<String> {
        let compact: String = normalize_term(word).replace(' ', "");
        let len = compact.chars().count();
        self.terms
            .iter()
            .filter(|t| t.kind == kind)
            // Closer than half the longer word's length: the length gap alone rules most out.
            .filter(|t| t.compact_len.abs_diff(len) <= t.compact_len.max(len) / 2)
            .map(|t| (damerau_levenshtein(&compact, &t.compact), t))
            .filter(|(d, t)| *d <= t.compact_len.max(len) / 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, t)| t.canonical.clone())
    }
}

/// Edit distance counting insertions, deletions, substitutions and adjacent swaps. Keeps
/// three rows, so memory is linear in the shorter word's length.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let m = b.len();
    let (mut before, mut prev, mut cur): (Vec<usize>, Vec<usize>, Vec<usize>) =
        (vec![0; m + 1], (0..=m).collect(), vec![0; m + 1]);
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests;
