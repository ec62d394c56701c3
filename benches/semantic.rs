//! Semantic NLU speed, one thread, release build: embedding one message with MiniLM and the
//! whole parse (lexical + semantic stage). Needs the model folder:
//! `scripts/fetch-model.sh models/all-MiniLM-L6-v2`, then
//! `DECKHAND_MODEL_DIR=models/all-MiniLM-L6-v2 cargo bench --features semantic --bench semantic`.

use criterion::{criterion_group, criterion_main, Criterion};
use deckhand::config::Config;
use deckhand::nlu::semantic::embed::Embedder;
use deckhand::nlu::semantic::minilm::MiniLm;
use deckhand::nlu::Nlu;
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn model_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("DECKHAND_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("models/all-MiniLM-L6-v2"))
}

fn embedding(c: &mut Criterion) {
    // One thread: candle's CPU kernels use rayon, whose pool reads this when it starts.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let model = MiniLm::load(&model_dir()).expect("model folder (see the header of this file)");
    let mut group = c.benchmark_group("semantic");
    for (name, text) in [
        ("embed_short", "yes"),
        ("embed_command", "get wix-backend onto dev please"),
        (
            "embed_sentence",
            "deploys on a friday are scary, let's talk about it in the retro",
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| model.embed(black_box(&[text])).unwrap())
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(&root.join("examples/deckhand.yaml")).unwrap();
    config.nlu.model_dir = Some(std::fs::canonicalize(model_dir()).expect("model folder"));
    let nlu = Nlu::new(&config).unwrap();
    let mut group = c.benchmark_group("semantic");
    // Distinct texts each iteration would defeat the repeated-text cache; a paraphrase the
    // lexical stage does not take, with the cache emptied by variety, is measured here.
    let texts: Vec<String> = (0..10_000)
        .map(|i| format!("we need redis shipped to stg number {i}"))
        .collect();
    let mut i = 0;
    group.bench_function("parse_paraphrase_uncached", |b| {
        b.iter(|| {
            i = (i + 1) % texts.len();
            nlu.parse(black_box(&texts[i]))
        })
    });
    group.bench_function("parse_repeated_cached", |b| {
        b.iter(|| nlu.parse(black_box("we need redis shipped to stg")))
    });
    group.finish();
}

criterion_group!(benches, embedding, parsing);
criterion_main!(benches);
