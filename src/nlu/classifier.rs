//! Lexical intent classifier: word uni/bigrams and character 3/4-grams (entities replaced by
//! placeholders), L2-normalized, fed to a multinomial logistic regression trained at start-up.
//!
//! A message carries an intent only on evidence the training data gave: at least one known
//! content word, a placeholder for a name the config knows, or a typo of a known word (five
//! letters or more, one edit away: `deplyo` reads as `deploy`, `unsure` is not `sure`). Any
//! other word never seen is `<unk>`, which training teaches to weigh towards `none`; its
//! letters count for nothing, and the length of a message is no evidence on its own.

use super::Intent;
use std::collections::{HashMap, HashSet};

/// Sparse feature vector: (feature index, weight).
type Features = Vec<(usize, f32)>;

/// A trained linear model over vocabulary-indexed features.
pub struct Classifier {
    vocab: HashMap<String, usize>,
    /// Every word of the training examples (placeholders excluded).
    words: HashSet<String>,
    /// The same words (function words excepted), most frequent first: typo candidates.
    typo_words: Vec<(Vec<char>, String)>,
    /// Each candidate and each of its one-letter deletions -> candidate indices: two words
    /// one edit apart share an entry, so a look-up costs a word's length, not the vocabulary.
    deletions: HashMap<String, Vec<usize>>,
    /// weights[class * dim + feature]
    weights: Vec<f32>,
    bias: Vec<f32>,
    dim: usize,
}

const EPOCHS: usize = 40;
const LEARNING_RATE: f32 = 0.8;
const L2: f32 = 1e-5;
/// Class weights are (largest class / class size) ^ this: `none` has several times the
/// examples of any command, and unweighted it swallows paraphrases of the smaller intents.
const CLASS_BALANCE: f32 = 0.2;
const WEIGHT_LENGTH: f32 = 0.5;
const WEIGHT_BIGRAM: f32 = 0.7;
const WEIGHT_CHAR: f32 = 0.3;

/// Words that say nothing about what is asked: alone (with unknown words) they are no
/// evidence of an intent.
const FUNCTION_WORDS: [&str; 30] = [
    "a", "an", "the", "to", "in", "on", "of", "at", "for", "with", "and", "or", "is", "are", "be",
    "was", "i", "i'm", "me", "my", "you", "we", "it", "this", "that", "so", "please", "pls", "plz",
    "just",
];

/// How a token of the message relates to the training vocabulary.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known<'a> {
    /// A placeholder (`__service__`): a name the config knows.
    Placeholder,
    /// A word of the training examples.
    Word,
    /// One edit from this word of the training examples, and read as it.
    Typo(&'a str),
    /// Never seen.
    Unknown,
}

fn is_placeholder(t: &str) -> bool {
    t.starts_with("__")
}

/// Stands for a word the training data never had. Learned from examples whose rare words
/// are replaced by it: small talk is full of them, commands are not, so an unknown word
/// beside a command verb ("reject the premise") weighs against the command.
const UNKNOWN: &str = "<unk>";

/// Feature strings of a token sequence (placeholders and [`UNKNOWN`] have no character n-grams).
fn feature_strings(tokens: &[String]) -> Vec<(String, f32)> {
    let mut out = Vec::with_capacity(tokens.len() * 12);
    let bucket = match tokens.len() {
        0 => "0",
        1 => "1",
        2 => "2",
        3..=4 => "3-4",
        _ => "5+",
    };
    out.push((format!("len:{bucket}"), WEIGHT_LENGTH));
    let mut prev = "<s>";
    for t in tokens {
        out.push((format!("w:{t}"), 1.0));
        out.push((format!("b:{prev} {t}"), WEIGHT_BIGRAM));
        prev = t;
        if is_placeholder(t) || t == UNKNOWN {
            continue;
        }
        let chars: Vec<char> = format!("#{t}#").chars().collect();
        for n in [3usize, 4] {
            for win in chars.windows(n) {
                out.push((format!("c:{}", win.iter().collect::<String>()), WEIGHT_CHAR));
            }
        }
    }
    out.push((format!("b:{prev} </s>"), WEIGHT_BIGRAM));
    out
}

/// `word` with one character left out, at each position.
fn one_deletions(word: &[char]) -> impl Iterator<Item = String> + '_ {
    (0..word.len()).map(move |i| word[..i].iter().chain(&word[i + 1..]).collect::<String>())
}

/// Longest word checked for typos; longer unknown words are just unknown.
const MAX_TYPO_CHARS: usize = 24;

/// Whether `a` and `b` (at most [`MAX_TYPO_CHARS`] long) are at most `k` edits apart
/// (insert, delete, substitute, swap of neighbours), with three rolling rows on the stack.
fn within_edits(a: &[char], b: &[char], k: usize) -> bool {
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > k || n > MAX_TYPO_CHARS || m > MAX_TYPO_CHARS {
        return false;
    }
    let mut before = [0usize; MAX_TYPO_CHARS + 1];
    let mut prev: [usize; MAX_TYPO_CHARS + 1] = std::array::from_fn(|j| j);
    let mut cur = [0usize; MAX_TYPO_CHARS + 1];
    for i in 1..=n {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(before[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > k {
            return false;
        }
        before = prev;
        prev = cur;
    }
    prev[m] <= k
}

fn normalize(mut f: Features) -> Features {
    f.sort_by_key(|(i, _)| *i);
    f.dedup_by(|a, b| {
        if a.0 == b.0 {
            b.1 += a.1;
            true
        } else {
            false
        }
    });
    let norm = f.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, w) in &mut f {
            *w /= norm;
        }
    }
    f
}

impl Classifier {
    /// How `t` relates to the training vocabulary.
    fn known(&self, t: &str) -> Known<'_> {
        if is_placeholder(t) {
            return Known::Placeholder;
        }
        if self.words.contains(t) {
            return Known::Word;
        }
        let chars: Vec<char> = t.chars().collect();
        // Short words, numbers and symbols are too easily one edit from something (a random
        // "hlyp" is one from "help"); longer words get one edit (a swap of neighbours is
        // one), so "unsure" is not "sure".
        if !(5..=MAX_TYPO_CHARS).contains(&chars.len())
            || !chars
                .iter()
                .all(|c| c.is_alphabetic() || *c == '-' || *c == '\'')
        {
            return Known::Unknown;
        }
        std::iter::once(t.to_string())
            .chain(one_deletions(&chars))
            .filter_map(|d| self.deletions.get(&d))
            .flatten()
            .copied()
            .filter(|&i| within_edits(&chars, &self.typo_words[i].0, 1))
            .min()
            .map_or(Known::Unknown, |i| Known::Typo(&self.typo_words[i].1))
    }

    /// The message's features, and whether anything in it is evidence of an intent.
    fn featurize(&self, tokens: &[String]) -> (Features, bool) {
        let known: Vec<Known> = tokens.iter().map(|t| self.known(t)).collect();
        let evidence = tokens.iter().zip(&known).any(|(t, k)| match k {
            Known::Placeholder | Known::Typo(_) => true,
            Known::Word => !FUNCTION_WORDS.contains(&t.as_str()),
            Known::Unknown => false,
        });
        let tokens: Vec<String> = tokens
            .iter()
            .zip(&known)
            .map(|(t, k)| match k {
                Known::Unknown => UNKNOWN.to_string(),
                Known::Typo(word) => word.to_string(),
                _ => t.clone(),
            })
            .collect();
        let features = feature_strings(&tokens)
            .into_iter()
            .filter_map(|(s, w)| self.vocab.get(&s).map(|i| (*i, w)))
            .collect();
        (normalize(features), evidence)
    }

    /// Trains on (placeholder-masked tokens, intent) pairs. Deterministic: same data, same model.
    pub fn train(data: &[(Vec<String>, Intent)]) -> Classifier {
        let mut vocab = HashMap::new();
        let mut words = HashSet::new();
        for (tokens, _) in data {
            for (s, _) in feature_strings(tokens) {
                let next = vocab.len();
                vocab.entry(s).or_insert(next);
            }
            words.extend(tokens.iter().filter(|t| !is_placeholder(t)).cloned());
        }
        let mut frequency: HashMap<&str, usize> = HashMap::new();
        for (tokens, _) in data {
            for t in tokens {
                *frequency.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut by_frequency: Vec<(&str, usize)> = frequency
            .into_iter()
            .filter(|(w, _)| !is_placeholder(w) && !FUNCTION_WORDS.contains(w))
            .collect();
        by_frequency.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let typo_words: Vec<(Vec<char>, String)> = by_frequency
            .into_iter()
            .map(|(w, _)| (w.chars().collect(), w.to_string()))
            .collect();
        let mut deletions: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (chars, word)) in typo_words.iter().enumerate() {
            for d in std::iter::once(word.clone()).chain(one_deletions(chars)) {
                deletions.entry(d).or_default().push(i);
            }
        }
        let dim = vocab.len();
        let classes = Intent::ALL.len();
        let mut model = Classifier {
            vocab,
            words,
            typo_words,
            deletions,
            weights: vec![0.0; classes * dim],
            bias: vec![0.0; classes],
            dim,
        };
        let samples: Vec<(Features, usize)> = with_unknown_words(data)
            .iter()
            .map(|(t, i)| (model.featurize(t).0, i.index()))
            .collect();
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut probs = vec![0.0f32; classes];
        let mut counts = vec![0usize; classes];
        for (_, y) in &samples {
            counts[*y] += 1;
        }
        let largest = counts.iter().copied().max().unwrap_or(1) as f32;
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&c| (largest / c.max(1) as f32).powf(CLASS_BALANCE))
            .collect();
        for epoch in 0..EPOCHS {
            // Fisher-Yates with a fixed xorshift seed keeps training reproducible.
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                order.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.1);
            for &s in &order {
                let (x, y) = &samples[s];
                model.scores_into(x, &mut probs);
                softmax(&mut probs);
                for (c, p) in probs.iter().enumerate() {
                    let g = (p - if c == *y { 1.0 } else { 0.0 }) * class_weight[*y];
                    if g.abs() < 1e-6 {
                        continue;
                    }
                    let row = &mut model.weights[c * dim..(c + 1) * dim];
                    for (i, v) in x {
                        row[*i] -= lr * (g * v + L2 * row[*i]);
                    }
                    model.bias[c] -= lr * g * 0.1;
                }
            }
        }
        model
    }

    fn scores_into(&self, x: &Features, out: &mut [f32]) {
        for (c, o) in out.iter_mut().enumerate() {
            let row = &self.weights[c * self.dim..(c + 1) * self.dim];
            *o = self.bias[c] + x.iter().map(|(i, v)| row[*i] * v).sum::<f32>();
        }
    }

    /// Probability of every intent for the masked tokens, highest first.
    pub fn rank(&self, tokens: &[String]) -> Vec<(Intent, f32)> {
        let (x, evidence) = self.featurize(tokens);
        let mut probs = vec![0.0f32; Intent::ALL.len()];
        if x.is_empty() || !evidence {
            // Nothing we have ever seen (the length alone is no evidence): not a command,
            // and not an answer to a question.
            probs[Intent::None.index()] = 1.0;
        } else {
            self.scores_into(&x, &mut probs);
            softmax(&mut probs);
        }
        let mut ranked: Vec<(Intent, f32)> = Intent::ALL.iter().copied().zip(probs).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }

    /// Number of distinct features learned.
    pub fn dimensions(&self) -> usize {
        self.dim
    }
}

/// The examples, plus a copy of each example that has words seen only once in the whole
/// data, with those words as [`UNKNOWN`]: how a message with a word never seen reads.
fn with_unknown_words(data: &[(Vec<String>, Intent)]) -> Vec<(Vec<String>, Intent)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (tokens, _) in data {
        for t in tokens {
            *counts.entry(t.as_str()).or_default() += 1;
        }
    }
    let rare = |t: &str| !is_placeholder(t) && counts.get(t).is_some_and(|c| *c <= 2);
    let mut out = data.to_vec();
    for (tokens, intent) in data {
        if tokens.iter().any(|t| rare(t)) {
            let masked = tokens
                .iter()
                .map(|t| {
                    if rare(t) {
                        UNKNOWN.to_string()
                    } else {
                        t.clone()
                    }
                })
                .collect();
            out.push((masked, *intent));
        }
    }
    out
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in v.iter_mut() {
        *x /= sum;
    }
}

#[cfg(test)]
mod tests;
