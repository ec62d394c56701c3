//! Sentence embeddings behind a small trait, so the classifier does not care which backend
//! computes them (candle's MiniLM today; a libtorch backend could be added later).

use std::path::PathBuf;

/// Why embeddings are unavailable.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file is missing.
    #[error(
        "model file {0} is missing; put the model folder in place with scripts/fetch-model.sh DIR"
    )]
    Missing(PathBuf),
    /// A model file cannot be read or is not what it should be.
    #[error("model file {path} is unusable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Inference failed.
    #[error("embedding failed: {0}")]
    Inference(String),
    /// This binary was built without the `semantic` feature.
    #[error("nlu.model_dir is set, but this deckhand was built without the `semantic` feature (cargo build --features semantic)")]
    NotBuilt,
}

/// Turns sentences into L2-normalised vectors.
pub trait Embedder: Send + Sync {
    /// One vector per text, each of length [`Embedder::dim`].
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Vector length.
    fn dim(&self) -> usize;
    /// Identifies the model (a hash of its files), for caches.
    fn fingerprint(&self) -> &str;
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length (left as is when it is all zeros).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
