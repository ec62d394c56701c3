//! The sentence-embedding stage of the NLU. Every training example is embedded once (with its
//! names masked the way the lexical classifier masks them) and kept as a matrix, cached on disk
//! under a hash of the examples and the model. A message is embedded the same way and compared
//! with every example; the nearest example of each intent gives that intent's similarity.
//!
//! How it is combined with the lexical classifier (measured on the development sets, see the
//! README): the lexical answer stands whenever it is confident. Only when the lexical classifier
//! would say `none` does the semantic stage decide, and only with a nearest example at least
//! `accept` similar and `margin` ahead of the next intent; the `none` examples (small talk) are
//! neighbours too, so chatter that resembles small talk stays `none`. This way paraphrases the
//! lexical features miss are understood, while every message the lexical classifier already
//! handles keeps its answer, and nothing that was not an action before becomes one unless it is
//! very close to an example of that action.

pub mod embed;
#[cfg(feature = "semantic")]
pub mod minilm;

use crate::nlu::Intent;
use embed::{cosine, EmbedError, Embedder};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Texts whose embedding is kept for repeated messages ("yes", "status", ...).
const CACHE_ENTRIES: usize = 4096;

/// The semantic verdict on one message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Intent of the nearest example.
    pub intent: Intent,
    /// Its cosine similarity.
    pub similarity: f32,
    /// How far ahead of the best example of another intent.
    pub margin: f32,
}

/// The example matrix and the embedder.
pub struct SemanticStage {
    embedder: Box<dyn Embedder>,
    intents: Vec<Intent>,
    vectors: Vec<Vec<f32>>,
    cache: Mutex<HashMap<String, Vec<f32>>>,
    /// Similarity the nearest example needs before the stage may answer with an action.
    pub accept: f32,
    /// The same for intents that change nothing (questions, yes/no, help).
    pub accept_query: f32,
    /// Lead over the next intent the nearest example needs.
    pub margin: f32,
    /// Whether the example matrix came from the disk cache.
    pub from_cache: bool,
}

/// The text the embedder sees for masked tokens: placeholders read as plain words.
pub fn embedding_text(masked: &[String]) -> String {
    masked
        .iter()
        .map(|t| t.trim_matches('_'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn cache_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("examples-{key}.f32"))
}

fn read_cache(path: &Path, rows: usize, dim: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != 8 + rows * dim * 4 {
        return None;
    }
    let n = u32::from_le_bytes(bytes[0..4].try_into().ok()?) as usize;
    let d = u32::from_le_bytes(bytes[4..8].try_into().ok()?) as usize;
    if n != rows || d != dim {
        return None;
    }
    let floats: Vec<f32> = bytes[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(floats.chunks(dim).map(<[f32]>::to_vec).collect())
}

fn write_cache(path: &Path, vectors: &[Vec<f32>], dim: usize) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = Vec::with_capacity(8 + vectors.len() * dim * 4);
    bytes.extend_from_slice(&(vectors.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(dim as u32).to_le_bytes());
    for v in vectors {
        for x in v {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    // Written whole then renamed, so a crash never leaves half a matrix behind.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

impl SemanticStage {
    /// Embeds `examples` (masked text, intent), or reads them from `cache_dir` when the same
    /// examples were embedded by the same model before.
    pub fn build(
        embedder: Box<dyn Embedder>,
        examples: &[(String, Intent)],
        cache_dir: &Path,
        accept: (f32, f32),
        margin: f32,
    ) -> Result<SemanticStage, EmbedError> {
        let mut hash = Sha256::new();
        hash.update(embedder.fingerprint().as_bytes());
        for (text, intent) in examples {
            hash.update(intent.as_str().as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
            hash.update([0]);
        }
        let key: String = hash
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = cache_file(cache_dir, &key);
        let dim = embedder.dim();
        let (vectors, from_cache) = match read_cache(&path, examples.len(), dim) {
            Some(v) => (v, true),
            None => {
                let mut vectors = Vec::with_capacity(examples.len());
                for chunk in examples.chunks(64) {
                    let texts: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
                    vectors.extend(embedder.embed(&texts)?);
                }
                if let Err(e) = write_cache(&path, &vectors, dim) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot cache the example embeddings; they will be computed again at the next start");
                }
                (vectors, false)
            }
        };
        Ok(SemanticStage {
            embedder,
            intents: examples.iter().map(|(_, i)| *i).collect(),
            vectors,
            cache: Mutex::new(HashMap::new()),
            accept: accept.0,
            accept_query: accept.1,
            margin,
            from_cache,
        })
    }

    /// The embedding of `text`, from the cache when it was seen before.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(text)
        {
            return Ok(v.clone());
        }
        let v = self
            .embedder
            .embed(&[text])?
            .pop()
            .ok_or_else(|| EmbedError::Inference("no vector returned".into()))?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(text.to_string(), v.clone());
        Ok(v)
    }

    /// The nearest example's intent, its similarity and its lead over other intents.
    pub fn verdict(&self, text: &str) -> Result<Verdict, EmbedError> {
        let v = self.embed(text)?;
        let mut best: HashMap<Intent, f32> = HashMap::new();
        for (intent, example) in self.intents.iter().zip(&self.vectors) {
            let s = cosine(&v, example);
            let e = best.entry(*intent).or_insert(f32::MIN);
            if s > *e {
                *e = s;
            }
        }
        let mut ranked: Vec<(Intent, f32)> = best.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (intent, similarity) = ranked.first().copied().unwrap_or((Intent::None, 0.0));
        let second = ranked.get(1).map(|r| r.1).unwrap_or(0.0);
        Ok(Verdict {
            intent,
            similarity,
            margin: similarity - second,
        })
    }

    /// Whether the verdict is strong enough to stand in for a lexical `none`.
    pub fn decides(&self, v: &Verdict) -> bool {
        let needed = if v.intent.is_action() {
            self.accept
        } else {
            self.accept_query
        };
        // Yes and no are explicit answers or nothing: never a guess from similarity.
        let answer = matches!(v.intent, Intent::Affirm | Intent::Negate);
        v.intent != Intent::None && !answer && v.similarity >= needed && v.margin >= self.margin
    }

    /// Number of examples in the matrix.
    pub fn examples(&self) -> usize {
        self.vectors.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in embedder for the matrix, cache and scoring logic: bag of known words. (The
    /// real model is tested against reference vectors in tests/minilm_reference.rs.)
    struct Words(Vec<&'static str>);

    impl Embedder for Words {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v: Vec<f32> = self
                        .0
                        .iter()
                        .map(|w| t.split_whitespace().filter(|x| x == w).count() as f32)
                        .collect();
                    embed::normalize(&mut v);
                    v
                })
                .collect())
        }
        fn dim(&self) -> usize {
            self.0.len()
        }
        fn fingerprint(&self) -> &str {
            "words"
        }
    }

    fn examples() -> Vec<(String, Intent)> {
        vec![
            ("ship service to environment".into(), Intent::Deploy),
            ("roll back service".into(), Intent::Rollback),
            ("hello there".into(), Intent::None),
        ]
    }

    #[test]
    fn nearest_example_wins_and_the_matrix_is_cached() {
        let tmp = tempfile::tempdir().unwrap();
        let words = || {
            Box::new(Words(vec![
                "ship",
                "service",
                "environment",
                "roll",
                "back",
                "hello",
                "there",
            ]))
        };
        let stage =
            SemanticStage::build(words(), &examples(), tmp.path(), (0.5, 0.5), 0.1).unwrap();
        assert!(!stage.from_cache);
        let v = stage.verdict("ship service environment").unwrap();
        assert_eq!(v.intent, Intent::Deploy);
        assert!(stage.decides(&v));
        let v = stage.verdict("hello").unwrap();
        assert_eq!(v.intent, Intent::None);
        assert!(!stage.decides(&v), "small talk never decides");
        let again =
            SemanticStage::build(words(), &examples(), tmp.path(), (0.5, 0.5), 0.1).unwrap();
        assert!(again.from_cache, "a restart reads the matrix from disk");
        assert_eq!(again.vectors, stage.vectors);
        let mut other = examples();
        other.push(("back".into(), Intent::Rollback));
        let changed = SemanticStage::build(words(), &other, tmp.path(), (0.5, 0.5), 0.1).unwrap();
        assert!(!changed.from_cache, "other examples, other cache entry");
    }

    #[test]
    fn placeholders_read_as_words() {
        let masked: Vec<String> = ["deploy", "__service__", "to", "__environment__"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(embedding_text(&masked), "deploy service to environment");
    }
}
