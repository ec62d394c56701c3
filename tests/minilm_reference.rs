//! The MiniLM embedder against reference vectors from Python's sentence-transformers
//! (`../shared/fixtures/minilm/reference.jsonl`): every embedding must have a cosine
//! similarity of at least 0.9999 with its reference. Runs with `--features semantic` when the
//! model folder (`DECKHAND_MODEL_DIR`, default `models/all-MiniLM-L6-v2`) and the fixtures exist.
#![cfg(feature = "semantic")]

use deckhand::nlu::semantic::embed::{cosine, Embedder};
use deckhand::nlu::semantic::minilm::MiniLm;
use std::path::{Path, PathBuf};

fn model_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("DECKHAND_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("models/all-MiniLM-L6-v2"))
}

#[test]
fn embeddings_match_sentence_transformers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = root.join("../shared/fixtures/minilm/reference.jsonl");
    let dir = model_dir();
    if !reference.is_file() || !dir.join("model.safetensors").is_file() {
        eprintln!(
            "note: model folder or reference fixtures missing; skipped (scripts/fetch-model.sh)"
        );
        return;
    }
    let model = MiniLm::load(&dir).unwrap();
    assert_eq!(model.dim(), 384);
    let mut rows = Vec::new();
    for line in std::fs::read_to_string(&reference).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap().to_string();
        let embedding: Vec<f32> = v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        rows.push((text, embedding));
    }
    assert!(rows.len() >= 10);
    // One at a time and as one padded batch: both must match.
    let texts: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    let batch = model.embed(&texts).unwrap();
    for ((text, reference), batched) in rows.iter().zip(&batch) {
        let single = model.embed(&[text]).unwrap().remove(0);
        let s = cosine(&single, reference);
        assert!(s >= 0.9999, "{text:?}: cosine {s}");
        let b = cosine(batched, reference);
        assert!(b >= 0.9999, "{text:?} in a batch: cosine {b}");
    }
}

#[test]
fn a_missing_or_corrupt_model_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let err = MiniLm::load(tmp.path()).err().unwrap().to_string();
    assert!(err.contains("config.json is missing"), "{err}");
    std::fs::write(tmp.path().join("config.json"), "{not json").unwrap();
    let err = MiniLm::load(tmp.path()).err().unwrap().to_string();
    assert!(err.contains("config.json is unusable"), "{err}");
    let dir = model_dir();
    if dir.join("config.json").is_file() {
        std::fs::copy(dir.join("config.json"), tmp.path().join("config.json")).unwrap();
        std::fs::copy(
            dir.join("tokenizer.json"),
            tmp.path().join("tokenizer.json"),
        )
        .unwrap();
        std::fs::write(tmp.path().join("model.safetensors"), b"not weights").unwrap();
        let err = MiniLm::load(tmp.path()).err().unwrap().to_string();
        assert!(err.contains("model.safetensors is unusable"), "{err}");
    }
}
