//! Lexical intent classifier: word uni/bigrams and character 3/4-grams (entities replaced by
//! placeholders), L2-normalized, fed to a multinomial logistic regression trained at start-up.

use super::Intent;
use std::collections::HashMap;

/// Sparse feature vector: (feature index, weight).
type Features = Vec<(usize, f32)>;

/// A trained linear model over hashed-free, vocabulary-indexed features.
pub struct Classifier {
    vocab: HashMap<String, usize>,
    /// weights[class * dim + feature]
    weights: Vec<f32>,
    bias: Vec<f32>,
    dim: usize,
}

const EPOCHS: usize = 40;
const LEARNING_RATE: f32 = 0.8;
const L2: f32 = 1e-5;

fn feature_strings(tokens: &[String]) -> Vec<(String, f32)> {
    let mut out = Vec::with_capacity(tokens.len() * 12);
    let bucket = match tokens.len() {
        0 => "0",
        1 => "1",
        2 => "2",
        3..=4 => "3-4",
        _ => "5+",
    };
    out.push((format!("len:{bucket}"), 0.5));
    let mut prev = "<s>";
    for t in tokens {
        out.push((format!("w:{t}"), 1.0));
        out.push((format!("b:{prev} {t}"), 0.7));
        prev = t;
        if t.starts_with("__") {
            continue;
        }
        let chars: Vec<char> = format!("#{t}#").chars().collect();
        for n in [3usize, 4] {
            for win in chars.windows(n) {
                out.push((format!("c:{}", win.iter().collect::<String>()), 0.3));
            }
        }
    }
    out.push((format!("b:{prev} </s>"), 0.7));
    out
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
    fn featurize(&self, tokens: &[String]) -> Features {
        normalize(
            feature_strings(tokens)
                .into_iter()
                .filter_map(|(s, w)| self.vocab.get(&s).map(|i| (*i, w)))
                .collect(),
        )
    }

    /// Trains on (placeholder-masked tokens, intent) pairs. Deterministic: same data, same model.
    pub fn train(data: &[(Vec<String>, Intent)]) -> Classifier {
        let mut vocab = HashMap::new();
        for (tokens, _) in data {
            for (s, _) in feature_strings(tokens) {
                let next = vocab.len();
                vocab.entry(s).or_insert(next);
            }
        }
        let dim = vocab.len();
        let classes = Intent::ALL.len();
        let mut model = Classifier {
            vocab,
            weights: vec![0.0; classes * dim],
            bias: vec![0.0; classes],
            dim,
        };
        let samples: Vec<(Features, usize)> = data
            .iter()
            .map(|(t, i)| (model.featurize(t), i.index()))
            .collect();
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut probs = vec![0.0f32; classes];
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
                    let g = p - if c == *y { 1.0 } else { 0.0 };
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
        let x = self.featurize(tokens);
        let mut probs = vec![0.0f32; Intent::ALL.len()];
        if x.is_empty() {
            // Nothing we have ever seen: certainly not a command.
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
