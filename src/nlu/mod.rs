//! Natural-language understanding: intent classification plus slot extraction.
//!
//! `Nlu::new` trains the lexical classifier from `intents/*.yaml` and builds the entity
//! gazetteer from the config; `Nlu::parse` turns one message into a [`Parsed`].

mod classifier;
mod entities;
pub mod eval;
pub mod limits;
mod lock_scope;
mod lock_times;
pub mod lock_words;
pub mod normalize;
pub mod parts;
mod refine;
mod replies;
pub mod schedule_words;
pub mod semantic;
pub mod time_words;
mod tokens;
mod training;
pub mod update_words;

pub use entities::{
    damerau_levenshtein, parse_version, version_order_key, Entity, Extraction, SlotKind,
    UnknownTerm, VersionKey,
};
pub use lock_words::{parse_lock_details, LockDetails, SaidTime};
pub use normalize::normalize;
pub use parts::Parts;
pub use replies::Reply;
pub use training::TrainingError;

use crate::config::{Config, Strategy};
use classifier::Classifier;
use entities::EntityExtractor;
use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// What the user wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Deploy a service.
    Deploy,
    /// Roll a service back.
    Rollback,
    /// What is running where.
    Status,
    /// Past deployments.
    History,
    /// Why the last run failed.
    Explain,
    /// Can this service be deployed now: newest build, what runs where, locks, approvals.
    Readiness,
    /// Approve a pending request.
    Approve,
    /// Reject a pending request.
    Reject,
    /// Abandon the current request or run.
    Cancel,
    /// Yes.
    Affirm,
    /// No (possibly with a correction).
    Negate,
    /// What can the bot do.
    Help,
    /// Lock an environment or service.
    Lock,
    /// Remove a lock.
    Unlock,
    /// Not a command.
    None,
}

impl Intent {
    /// Every intent, in a fixed order (the classifier's class index).
    pub const ALL: [Intent; 15] = [
        Intent::Deploy,
        Intent::Rollback,
        Intent::Status,
        Intent::History,
        Intent::Explain,
        Intent::Readiness,
        Intent::Approve,
        Intent::Reject,
        Intent::Cancel,
        Intent::Affirm,
        Intent::Negate,
        Intent::Help,
        Intent::Lock,
        Intent::Unlock,
        Intent::None,
    ];

    /// Class index.
    pub fn index(self) -> usize {
        Intent::ALL
            .iter()
            .position(|i| *i == self)
            .unwrap_or(Intent::ALL.len() - 1)
    }

    /// The intent's name as used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Deploy => "deploy",
            Intent::Rollback => "rollback",
            Intent::Status => "status",
            Intent::History => "history",
            Intent::Explain => "explain",
            Intent::Readiness => "readiness",
            Intent::Approve => "approve",
            Intent::Reject => "reject",
            Intent::Cancel => "cancel",
            Intent::Affirm => "affirm",
            Intent::Negate => "negate",
            Intent::Help => "help",
            Intent::Lock => "lock",
            Intent::Unlock => "unlock",
            Intent::None => "none",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Intent> {
        Intent::ALL.iter().copied().find(|i| i.as_str() == s)
    }

    /// All names.
    pub fn names() -> Vec<&'static str> {
        Intent::ALL.iter().map(|i| i.as_str()).collect()
    }

    /// Intents that change something; misreading small talk as one of these is a false action.
    pub fn is_action(self) -> bool {
        matches!(
            self,
            Intent::Deploy
                | Intent::Rollback
                | Intent::Cancel
                | Intent::Approve
                | Intent::Reject
                | Intent::Lock
                | Intent::Unlock
        )
    }
}

/// Where a promotion takes its version from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromoteFrom {
    /// The environment before the target in the configured `order`.
    Previous,
    /// This environment ("promote wix from dev to staging").
    Environment(String),
}

/// Slot values found in a message, already canonical (config names, `blue-green`, digits).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Slots {
    /// Service name.
    pub service: Option<String>,
    /// Environment name.
    pub environment: Option<String>,
    /// Version exactly as typed (`v2.4.1` keeps its `v`, letter case is kept); order
    /// versions with [`version_order_key`].
    pub version: Option<String>,
    /// Strategy.
    pub strategy: Option<Strategy>,
    /// Canary percent, 1-100.
    pub percent: Option<u8>,
    /// A lock's duration and reason, read from the message that asked for the lock.
    pub lock: Option<LockDetails>,
    /// "promote X [from dev] to staging": deploy what the source environment runs.
    pub promote_from: Option<PromoteFrom>,
    /// A deploy's or rollback's time ("at 18:00"): it is scheduled, not run now.
    pub when: Option<lock_words::SaidTime>,
}

impl Slots {
    /// The slot's value as text.
    pub fn get(&self, kind: SlotKind) -> Option<String> {
        match kind {
            SlotKind::Service => self.service.clone(),
            SlotKind::Environment => self.environment.clone(),
            SlotKind::Version => self.version.clone(),
            SlotKind::Strategy => self.strategy.map(|s| s.as_str().to_string()),
            SlotKind::Percent => self.percent.map(|p| p.to_string()),
        }
    }

    /// True when no slot is set.
    pub fn is_empty(&self) -> bool {
        *self == Slots::default()
    }
}

/// The NLU's reading of one message.
#[derive(Debug, Clone, Serialize)]
pub struct Parsed {
    /// Intent after applying the confidence threshold.
    pub intent: Intent,
    /// Confidence of the classifier's top intent.
    pub confidence: f32,
    /// Slots found.
    pub slots: Slots,
    /// Name-like words the config does not know.
    #[serde(skip)]
    pub unknown: Vec<UnknownTerm>,
    /// Values that look like slots but are invalid, as sentences for the user.
    #[serde(skip)]
    pub invalid: Vec<String>,
    /// Every distinct service named, in order (more than one is refused for actions).
    #[serde(skip)]
    pub services: Vec<String>,
    /// True when the message negates an action ("don't deploy", "never cancel").
    #[serde(skip)]
    pub negated: bool,
    /// Times, further environments, run numbers, help topics ...: what a reply must not drop.
    pub parts: Parts,
    /// The explicit answer the whole message gives ("yes", "nope", "lgtm", "👍"), if any: the
    /// only thing that answers a yes/no question or decides an approval.
    pub reply: Option<Reply>,
    /// Words that are neither slot values nor filler ("please", "the", "use", ...): a reply
    /// with many of them is conversation, not an answer to "which environment?".
    #[serde(skip)]
    pub other_words: usize,
}

/// Why the NLU could not start.
#[derive(Debug, thiserror::Error)]
pub enum NluError {
    /// Training data could not be loaded.
    #[error(transparent)]
    Training(#[from] TrainingError),
    /// The embedding model could not be loaded.
    #[error(transparent)]
    Model(#[from] semantic::embed::EmbedError),
}

/// Which stages the NLU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NluMode {
    /// The lexical classifier only.
    Lexical,
    /// The lexical classifier, with the sentence-embedding stage for what it finds no intent in.
    Semantic,
}

/// Intent classifier plus entity extractor for one config.
pub struct Nlu {
    classifier: Classifier,
    extractor: EntityExtractor,
    threshold: f32,
    training_time: Duration,
    examples: usize,
    semantic: Option<semantic::SemanticStage>,
    /// Most characters of a message `parse` reads ([`limits::MAX_MESSAGE_CHARS`]).
    max_chars: usize,
    replies: replies::ReplyLexicon,
    /// Every word of the training examples outside slot marks.
    known: HashSet<String>,
    /// The zone times in messages are read in (the config's `timezone`).
    timezone: jiff::tz::TimeZone,
}

impl Nlu {
    /// Loads the training examples (the config's `nlu.intents_dir`, or the built-in set) and
    /// trains; with `nlu.model_dir` set, also builds the sentence-embedding stage.
    pub fn new(config: &Config) -> Result<Nlu, NluError> {
        let mode = if config.nlu.model_dir.is_some() {
            NluMode::Semantic
        } else {
            NluMode::Lexical
        };
        Nlu::with_mode(config, mode)
    }

    /// Like [`Nlu::new`], with the stages chosen explicitly (`deckhand eval --nlu`).
    pub fn with_mode(config: &Config, mode: NluMode) -> Result<Nlu, NluError> {
        let started = Instant::now();
        let dir = config
            .nlu
            .intents_dir
            .as_ref()
            .map(|d| config.base_dir.join(d));
        let examples = training::load_examples(dir.as_deref())?;
        let mut known = HashSet::new();
        let mut data = Vec::with_capacity(examples.len());
        for ex in &examples {
            let toks = tokens::tokenize(&ex.text);
            let mut masked: Vec<String> = Vec::with_capacity(toks.len());
            let mut last_mark = None;
            for t in &toks {
                let mark = ex.marks.iter().position(|m| m.range.contains(&t.start));
                let placeholder = mark
                    .and_then(|m| SlotKind::parse(&ex.marks[m].entity))
                    .and_then(SlotKind::placeholder);
                match placeholder {
                    // One placeholder per mark, even when it spans several words.
                    Some(_) if mark == last_mark => {}
                    Some(p) => masked.push(p.to_string()),
                    None => {
                        if mark.is_none() {
                            known.insert(t.text.clone());
                        }
                        masked.push(t.text.clone());
                    }
                }
                last_mark = mark;
            }
            data.push((masked, ex.intent));
        }
        let classifier = Classifier::train(&data);
        let extractor = EntityExtractor::new(config, &known);
        let replies = replies::ReplyLexicon::new(
            data.iter()
                .zip(&examples)
                .filter(|(_, ex)| ex.marks.is_empty())
                .map(|((masked, intent), _)| (masked.as_slice(), *intent)),
        );
        let semantic = match mode {
            NluMode::Lexical => None,
            NluMode::Semantic => {
                let texts: Vec<(String, Intent)> = data
                    .iter()
                    .map(|(masked, intent)| (semantic::embedding_text(masked), *intent))
                    .collect();
                Some(semantic::SemanticStage::build(
                    load_embedder(config)?,
                    &texts,
                    &config.base_dir.join(&config.nlu.cache_dir),
                    (config.nlu.semantic_accept, config.nlu.semantic_accept_query),
                    config.nlu.semantic_margin,
                )?)
            }
        };
        Ok(Nlu {
            classifier,
            extractor,
            threshold: config.nlu.threshold,
            training_time: started.elapsed(),
            examples: examples.len(),
            semantic,
            max_chars: limits::MAX_MESSAGE_CHARS,
            replies,
            known,
            timezone: jiff::tz::TimeZone::get(&config.timezone).unwrap_or(jiff::tz::TimeZone::UTC),
        })
    }

    /// Whether the sentence-embedding stage runs (parsing then does real inference work and
    /// belongs off the async runtime).
    pub fn is_semantic(&self) -> bool {
        self.semantic.is_some()
    }

    /// Whether the example embeddings were read from the disk cache at start-up.
    pub fn embeddings_cached(&self) -> bool {
        self.semantic.as_ref().is_some_and(|s| s.from_cache)
    }

    /// How long loading and training took.
    pub fn training_time(&self) -> Duration {
        self.training_time
    }

    /// Number of training examples.
    pub fn example_count(&self) -> usize {
        self.examples
    }

    /// Number of classifier features.
    pub fn feature_count(&self) -> usize {
        self.classifier.dimensions()
    }

    /// Reads more than [`limits::MAX_MESSAGE_CHARS`] of a message: for benchmarks and tests
    /// that measure how the parse scales past the cap; chat input keeps the default.
    pub fn with_max_chars(mut self, max_chars: usize) -> Nlu {
        self.max_chars = max_chars;
        self
    }

    /// Reads one message (at most its first [`limits::MAX_MESSAGE_CHARS`] characters), in
    /// time linear in its length. A lock's start and end ("freeze production from Friday 16:00
    /// to Monday 08:00") are read as a window; other times stay words Deckhand cannot honour.
    pub fn parse(&self, text: &str) -> Parsed {
        lock_times::parse_with_window(self, text, &self.timezone)
    }

    /// [`Nlu::parse`] with times read in `tz` (the person's own zone) instead of the config's.
    pub fn parse_in(&self, text: &str, tz: &jiff::tz::TimeZone) -> Parsed {
        lock_times::parse_with_window(self, text, tz)
    }

    /// [`Nlu::parse`] without reading a lock window.
    fn parse_words(&self, text: &str) -> Parsed {
        // Defensive: callers cap messages (and say so); nobody can make the parse read more,
        // before normalising or after (NFKC can lengthen a text).
        let text = limits::cap_to(text, self.max_chars).text;
        let text = normalize(text);
        let text = limits::cap_to(text.as_ref(), self.max_chars).text;
        let toks = tokens::tokenize(text);
        let Extraction {
            entities,
            unknown,
            invalid,
            refused_versions,
        } = self.extractor.extract(text, &toks);
        let (masked, other_words) = mask(&toks, &entities, &unknown, &refused_versions);
        let ranked = self.classifier.rank(&masked);
        let (top, confidence) = ranked[0];
        let negated = negates_action(&toks);
        // "don't deploy X", "never cancel": whatever the classifier says, not a request to act.
        let mut intent = if confidence < self.threshold || (negated && top.is_action()) {
            Intent::None
        } else {
            top
        };
        let mut confidence = confidence;
        // Bare slot values ("15%", "canary", "payments-api on live please") answer prompts;
        // the semantic stage only reads messages with words of their own.
        if let (Intent::None, Some(stage), true) = (intent, &self.semantic, other_words > 0) {
            // The lexical classifier found nothing: a close paraphrase of an example may.
            match stage.verdict(&semantic::embedding_text(&masked)) {
                Ok(v) if stage.decides(&v) && !(negated && v.intent.is_action()) => {
                    intent = v.intent;
                    confidence = v.similarity;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "semantic stage failed; using the lexical answer")
                }
            }
        }
        let mut services: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for e in entities.iter().filter(|e| e.kind == SlotKind::Service) {
            if seen.insert(e.value.as_str()) {
                services.push(e.value.clone());
            }
        }
        let words: Vec<String> = toks.iter().map(|t| t.text.clone()).collect();
        let reply = self.replies.read(&words, |w| {
            self.known.contains(w) || entities::is_english_word(w)
        });
        let parts = parts::read(&toks, &entities);
        let mut parsed = Parsed {
            intent,
            confidence,
            reply,
            parts,
            slots: slots_from(&entities, &toks),
            unknown,
            invalid,
            services,
            negated,
            other_words,
        };
        self.refine(&mut parsed, text, &toks, &entities);
        parsed
    }

    /// The configured name closest to `word`, for "did you mean" replies.
    pub fn suggest(&self, word: &str, kind: SlotKind) -> Option<String> {
        self.extractor.suggest(word, kind)
    }
}

pub(super) const FILLER: [&str; 44] = [
    "please",
    "pls",
    "plz",
    "the",
    "a",
    "to",
    "in",
    "on",
    "into",
    "onto",
    "for",
    "with",
    "use",
    "using",
    "it",
    "that",
    "this",
    "env",
    "environment",
    "go",
    "let's",
    "lets",
    "do",
    "make",
    "i",
    "mean",
    "meant",
    "no",
    "nope",
    "nah",
    "actually",
    "instead",
    "rather",
    "yes",
    "yeah",
    "yep",
    "ok",
    "okay",
    "sure",
    "then",
    "and",
    "version",
    "at",
    "of",
];

const NEGATIONS: [&str; 11] = [
    "don't",
    "dont",
    "never",
    "not",
    "won't",
    "shouldn't",
    "mustn't",
    "can't",
    "cannot",
    "nobody",
    "noone",
];
const ACTION_WORDS: [&str; 24] = [
    "deploy",
    "deploying",
    "ship",
    "shipping",
    "release",
    "push",
    "roll",
    "rollback",
    "revert",
    "cancel",
    "cancelling",
    "stop",
    "abort",
    "lock",
    "unlock",
    "freeze",
    "unfreeze",
    "approve",
    "reject",
    "promote",
    "kill",
    "undo",
    "redeploy",
    "rolling",
];

/// The tokens as the classifier reads them (slot values replaced by placeholders), and the
/// number of words that are neither slot values nor filler. Per-token indexes keep both
/// linear in the message length.
fn mask(
    toks: &[tokens::Token],
    entities: &[Entity],
    unknown: &[UnknownTerm],
    refused_versions: &[std::ops::Range<usize>],
) -> (Vec<String>, usize) {
    let mut placeholder_at: Vec<Option<(&str, usize)>> = vec![None; toks.len()];
    let mut covered = vec![false; toks.len()];
    for e in entities {
        if let Some(p) = e.kind.placeholder() {
            placeholder_at[e.start].get_or_insert((p, e.end));
        }
        covered[e.start..e.end].fill(true);
    }
    for r in refused_versions {
        placeholder_at[r.start] = SlotKind::Version.placeholder().map(|p| (p, r.end));
        covered[r.clone()].fill(true);
    }
    let mut hyphenated_unknown = vec![false; toks.len()];
    for u in unknown
        .iter()
        .filter(|u| !u.after_preposition && u.text.contains('-'))
    {
        hyphenated_unknown[u.index] = true;
    }
    let mut masked = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        match placeholder_at[i] {
            Some((p, end)) => {
                masked.push(p.to_string());
                i = end.max(i + 1);
            }
            None => {
                // A hyphenated name the config does not know ("hubot-deploy") still reads
                // as a service to the classifier, as it would in the training examples.
                masked.push(if hyphenated_unknown[i] {
                    "__service__".to_string()
                } else {
                    toks[i].text.clone()
                });
                i += 1;
            }
        }
    }
    let other_words = toks
        .iter()
        .zip(&covered)
        .filter(|(t, c)| !**c && !FILLER.contains(&t.text.as_str()))
        .count();
    (masked, other_words)
}

/// A negation shortly before an action verb: "don't deploy", "do not cancel", "let's not roll back".
fn negates_action(toks: &[tokens::Token]) -> bool {
    toks.iter().enumerate().any(|(i, t)| {
        // "never mind" is a way to say cancel, not a negation.
        NEGATIONS.contains(&t.text.as_str())
            && !(t.text == "never" && toks.get(i + 1).is_some_and(|n| n.text == "mind"))
            && toks[i + 1..]
                .iter()
                .take(3)
                .any(|n| ACTION_WORDS.contains(&n.text.as_str()))
    })
}

pub(super) fn slots_from(entities: &[Entity], toks: &[tokens::Token]) -> Slots {
    let mut slots = Slots::default();
    let mut env_after_to = false;
    for e in entities {
        match e.kind {
            SlotKind::Service => {
                if slots.service.is_none() {
                    slots.service = Some(e.value.clone());
                }
            }
            SlotKind::Environment => {
                // "promote X from staging to prod": the target follows "to".
                let after_to = e.start > 0
                    && matches!(toks[e.start - 1].text.as_str(), "to" | "into" | "onto");
                if !env_after_to || after_to {
                    slots.environment = Some(e.value.clone());
                    env_after_to |= after_to;
                }
            }
            SlotKind::Version => slots.version = Some(e.value.clone()),
            SlotKind::Strategy => slots.strategy = Strategy::parse(&e.value),
            SlotKind::Percent => slots.percent = e.value.parse().ok(),
        }
    }
    slots
}

#[cfg(test)]
mod tests;

#[cfg(feature = "semantic")]
fn load_embedder(config: &Config) -> Result<Box<dyn semantic::embed::Embedder>, NluError> {
    let dir = config
        .nlu
        .model_dir
        .as_ref()
        .map(|d| config.base_dir.join(d))
        .ok_or_else(|| {
            semantic::embed::EmbedError::Missing(std::path::PathBuf::from("nlu.model_dir"))
        })?;
    Ok(Box::new(semantic::minilm::MiniLm::load(&dir)?))
}

#[cfg(not(feature = "semantic"))]
fn load_embedder(_config: &Config) -> Result<Box<dyn semantic::embed::Embedder>, NluError> {
    Err(semantic::embed::EmbedError::NotBuilt.into())
}
