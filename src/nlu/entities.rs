//! Entity extraction: services and environments from the config's names and aliases
//! (multi-word, case-insensitive, typo-tolerant), plus versions, strategies and percents.

use super::tokens::Token;
use crate::config::{normalize_term, Config, Strategy};
use std::collections::HashSet;

/// Which slot an entity fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// learns "deploy <service> to <environment>" and works for names it never saw.
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
    /// Canonical value (config name, version without `v`, strategy spelling, percent digits).
    pub value: String,
    /// First token index.
    pub start: usize,
    /// One past the last token index.
    pub end: usize,
    /// True when matched with a typo.
    pub fuzzy: bool,
}

impl Entity {
    /// An entity covering exactly token `i`.
    fn at(kind: SlotKind, value: String, i: usize, fuzzy: bool) -> Entity {
        Entity {
            kind,
            value,
            start: i,
            end: i + 1,
            fuzzy,
        }
    }
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

/// Words after which an ambiguous alias is read as a name ("deploy to stage", "is prod down").
const NAME_CONTEXT: [&str; 29] = [
    "to", "in", "on", "into", "onto", "from", "for", "of", "at", "with", "is", "was", "are",
    "deploy", "ship", "release", "push", "promote", "rollback", "back", "revert", "status",
    "explain", "history", "lock", "unlock", "freeze", "unfreeze", "redeploy",
];

/// Recognizes entities using the config's vocabulary.
pub struct EntityExtractor {
    terms: Vec<Term>,
    known_words: HashSet<String>,
}

// Words that are never names, so neither typo matching nor unknown-name detection fires on them.
const COMMON_WORDS: &str = "a about above after again against all also am an and any are as at back be been before being below between both but by can cancel could current currently deploy deployed deploying deploys did do does doing done down during each else ever every few for from further get go going got had has have having he her here hers him his how i if in into is it its itself just last latest let lets like ll me more most my myself need new next no nor not now of off on once only or other our ours out over own please previous put re release same she should so some such than that the their them then there these they this those through to too under until up us very was we were what when where which while who whom why will with would you your yours yes ok okay thanks thank hey hi hello state stats stable status story stuff start started stop stopped store stored stages stage staged staff stand static steady still step things thing think time today tomorrow tonight week weekend friday monday morning night team people payment payments release released releases version versions service services server servers env environment environments build builds test tests tested testing check checks checked verify rollback roll rolled rolling revert reverted undo lock locked locks unlock freeze frozen unfreeze approve approved reject rejected deny denied help history explain failed fail failure failures error errors broke broken why what running live prod dev redo ready reddit retro retry review";

const PREPOSITIONS: [&str; 5] = ["to", "in", "on", "into", "onto"];

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
            terms.push(Term {
                compact: norm.replace(' ', ""),
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
        // A configured name is not "ordinary vocabulary", even if a training example used it.
        for t in &terms {
            for w in &t.words {
                known_words.remove(w);
            }
            known_words.remove(&t.compact);
        }
        EntityExtractor { terms, known_words }
    }

    /// True for a word that is a configured name (or alias), or a version.
    fn is_plain_name(&self, w: &str) -> bool {
        parse_version(w).is_some()
            || self
                .terms
                .iter()
                .any(|t| t.words.len() == 1 && t.compact == w.replace(['-', '_'], ""))
    }

    /// Whether an ambiguous alias at token `i` stands where a name is expected.
    fn name_expected(&self, words: &[&str], i: usize) -> bool {
        words.len() <= 2
            || (i > 0 && (NAME_CONTEXT.contains(&words[i - 1]) || self.is_plain_name(words[i - 1])))
            || (i + 1 < words.len()
                && (matches!(
                    words[i + 1],
                    "env"
                        | "environment"
                        | "cluster"
                        | "deploy"
                        | "deploys"
                        | "deployment"
                        | "build"
                        | "canary"
                        | "service"
                        | "rollout"
                        | "release"
                        | "rollback"
                ) || self.is_plain_name(words[i + 1])))
    }

    /// Finds all entities, unknown name-like words and invalid values in the tokens.
    pub fn extract(&self, tokens: &[Token]) -> Extraction {
        let mut taken = vec![false; tokens.len()];
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        let mut unknown = Vec::new();
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();

        // service@version first: it is one token holding two entities.
        for (i, w) in words.iter().enumerate() {
            if let Some((svc, ver)) = w.split_once('@') {
                if let (Some(term), Some(v)) = (self.lookup_single(svc), parse_version(ver)) {
                    found.push(Entity::at(term.0, term.1, i, term.2));
                    found.push(Entity::at(SlotKind::Version, v, i, false));
                    taken[i] = true;
                } else if let Some(term) =
                    (ver == "latest").then(|| self.lookup_single(svc)).flatten()
                {
                    found.push(Entity::at(term.0, term.1, i, term.2));
                    taken[i] = true;
                } else if let (None, Some(v)) = (self.lookup_single(svc), parse_version(ver)) {
                    // "foo@1.2.3": the version is fine, the service is unknown.
                    found.push(Entity::at(SlotKind::Version, v, i, false));
                    unknown.push(UnknownTerm {
                        text: svc.to_string(),
                        after_preposition: false,
                        index: i,
                    });
                    taken[i] = true;
                }
            }
        }
        // Percents: "5%", "10 percent", "10 pct".
        for i in 0..words.len() {
            if taken[i] {
                continue;
            }
            if let Some(n) = words[i].strip_suffix('%').and_then(parse_percent) {
                found.push(Entity::at(SlotKind::Percent, n, i, false));
                taken[i] = true;
            } else if let Some(n) = parse_percent(words[i]) {
                if i + 1 < words.len()
                    && matches!(words[i + 1], "percent" | "pct" | "%" | "per-cent")
                {
                    found.push(Entity {
                        kind: SlotKind::Percent,
                        value: n,
                        start: i,
                        end: i + 2,
                        fuzzy: false,
                    });
                    taken[i] = true;
                    taken[i + 1] = true;
                }
            }
        }
        for i in 0..words.len() {
            let digits = words[i].strip_suffix('%').or_else(|| {
                (i + 1 < words.len() && matches!(words[i + 1], "percent" | "pct"))
                    .then_some(words[i])
            });
            if let Some(d) = digits
                .filter(|d| !taken[i] && !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            {
                invalid.push(format!(
                    "{d}% is not a valid canary percentage; use 1 to 100."
                ));
                taken[i] = true;
            }
        }
        // Strategies (two-word "blue green" included).
        for i in 0..words.len() {
            if taken[i] {
                continue;
            }
            let two = (i + 1 < words.len() && !taken[i + 1])
                .then(|| format!("{} {}", words[i], words[i + 1]));
            if two.as_deref() == Some("blue green") {
                found.push(Entity {
                    kind: SlotKind::Strategy,
                    value: "blue-green".into(),
                    start: i,
                    end: i + 2,
                    fuzzy: false,
                });
                taken[i] = true;
                taken[i + 1] = true;
            } else if let Some(s) = parse_strategy(words[i])
                .filter(|s| *s != Strategy::Direct || direct_means_strategy(&words, i))
            {
                found.push(Entity::at(SlotKind::Strategy, s.as_str().into(), i, false));
                taken[i] = true;
            }
        }
        // Exact names and aliases, longest first, aligned on token boundaries.
        let mut sub: Vec<(usize, &str)> = Vec::new(); // (token index, word) after splitting on - and _
        let mut first_of_token = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let parts: Vec<&str> = w.split(['-', '_']).filter(|p| !p.is_empty()).collect();
            for (k, p) in parts.iter().enumerate() {
                first_of_token.push(k == 0);
                sub.push((i, p));
            }
        }
        let mut j = 0;
        while j < sub.len() {
            if taken[sub[j].0] || !first_of_token[j] {
                j += 1;
                continue;
            }
            let mut matched = None;
            for t in &self.terms {
                let n = t.words.len();
                if j + n > sub.len() {
                    continue;
                }
                let end_tok = sub[j + n - 1].0;
                let ends_token = j + n == sub.len() || sub[j + n].0 != end_tok;
                if ends_token
                    && (j..j + n).all(|k| !taken[sub[k].0])
                    && t.words.iter().enumerate().all(|(k, w)| sub[j + k].1 == w)
                    && (!t.ambiguous || self.name_expected(&words, sub[j].0))
                {
                    matched = Some((t, n, end_tok));
                    break;
                }
            }
            if let Some((t, n, end_tok)) = matched {
                let start = sub[j].0;
                found.push(Entity {
                    kind: t.kind,
                    value: t.canonical.clone(),
                    start,
                    end: end_tok + 1,
                    fuzzy: false,
                });
                for flag in taken.iter_mut().take(end_tok + 1).skip(start) {
                    *flag = true;
                }
                j += n;
            } else {
                j += 1;
            }
        }
        // Versions and shas.
        for i in 0..words.len() {
            if !taken[i] {
                if let Some(v) = parse_version(words[i]) {
                    found.push(Entity::at(SlotKind::Version, v, i, false));
                    taken[i] = true;
                }
            }
        }
        // Typos of names, then whatever still looks like an unknown name.
        for i in 0..words.len() {
            if taken[i] {
                continue;
            }
            let w = words[i];
            if let Some((kind, canonical)) = self.fuzzy(w) {
                found.push(Entity {
                    kind,
                    value: canonical,
                    start: i,
                    end: i + 1,
                    fuzzy: true,
                });
                taken[i] = true;
            } else if self.looks_like_name(w) {
                let after_preposition = i > 0 && PREPOSITIONS.contains(&words[i - 1]);
                unknown.push(UnknownTerm {
                    text: w.to_string(),
                    after_preposition,
                    index: i,
                });
            }
        }
        found.sort_by_key(|e| (e.start, e.kind.as_str()));
        Extraction {
            entities: found,
            unknown,
            invalid,
        }
    }

    fn lookup_single(&self, w: &str) -> Option<(SlotKind, String, bool)> {
        let norm = normalize_term(w);
        self.terms
            .iter()
            .find(|t| t.words.join(" ") == norm)
            .map(|t| (t.kind, t.canonical.clone(), false))
            .or_else(|| self.fuzzy(w).map(|(k, c)| (k, c, true)))
    }

    /// Typo-tolerant match of one word against names and aliases. Conservative on purpose:
    /// at least 5 letters, same first letter, one edit (two for 9+ letters), not an ordinary
    /// word, and only when exactly one name is that close.
    fn fuzzy(&self, w: &str) -> Option<(SlotKind, String)> {
        let compact: String = w.chars().filter(|c| *c != '-' && *c != '_').collect();
        if compact.chars().count() < 5
            || self.known_words.contains(w)
            || english().contains(w)
            || !compact.chars().all(|c| c.is_alphanumeric())
        {
            return None;
        }
        let max = if compact.chars().count() >= 9 { 2 } else { 1 };
        let mut best: Option<(usize, &Term)> = None;
        let mut tie = false;
        for t in &self.terms {
            if t.compact.chars().count() < 5 || t.compact.chars().next() != compact.chars().next() {
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
        self.terms
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| (damerau_levenshtein(&compact, &t.compact), t))
            .filter(|(d, t)| *d <= t.compact.chars().count().max(compact.chars().count()) / 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, t)| t.canonical.clone())
    }
}

/// Parses a version: `2.3.1`, `v2.5.0-rc.1`, `1.2`, or a git sha (7-40 hex with a digit and
/// a letter). Returns it without the leading `v`.
pub fn parse_version(w: &str) -> Option<String> {
    let body = w.strip_prefix('v').unwrap_or(w);
    let (core, suffix) = match body.find(['-', '+']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() >= 2
        && parts.len() <= 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()));
    let suffix_ok = suffix.is_none_or(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    });
    if numeric && suffix_ok {
        return Some(body.to_string());
    }
    let is_sha = (7..=40).contains(&w.len())
        && w.chars().all(|c| c.is_ascii_hexdigit())
        && w.chars().any(|c| c.is_ascii_digit())
        && w.chars().any(|c| c.is_ascii_alphabetic());
    is_sha.then(|| w.to_string())
}

fn parse_percent(w: &str) -> Option<String> {
    let n: u32 = w.parse().ok()?;
    (1..=100).contains(&n).then(|| n.to_string())
}

/// "direct" is also an everyday word ("direct message me"): a strategy only next to deploy words.
fn direct_means_strategy(words: &[&str], i: usize) -> bool {
    const NEAR: [&str; 12] = [
        "deploy",
        "deploys",
        "deployment",
        "rollout",
        "release",
        "strategy",
        "ship",
        "push",
        "use",
        "with",
        "go",
        "no",
    ];
    words.len() <= 2
        || (i > 0 && NEAR.contains(&words[i - 1]))
        || (i + 1 < words.len() && NEAR.contains(&words[i + 1]))
        || words
            .iter()
            .any(|w| *w == "deploy" || *w == "rollout" || *w == "strategy")
}

fn parse_strategy(w: &str) -> Option<Strategy> {
    match w {
        "direct" => Some(Strategy::Direct),
        "canary" | "canaried" | "canarying" => Some(Strategy::Canary),
        "blue-green" | "blue/green" | "bluegreen" | "blue_green" => Some(Strategy::BlueGreen),
        _ => None,
    }
}

/// Edit distance counting insertions, deletions, substitutions and adjacent swaps.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests;
