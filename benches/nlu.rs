//! NLU speed: start-up training, single-message parse latency (one thread), and parse time
//! per word from 10 to 10,000 words (flat when the parse is linear).
//! Run with `cargo bench --bench nlu` (`-- parse_per_word` for the scaling group alone).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use deckhand::config::Config;
use deckhand::nlu::Nlu;
use std::hint::black_box;
use std::path::Path;

fn config() -> Config {
    Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml")).unwrap()
}

fn training(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("nlu");
    group.sample_size(20);
    group.bench_function("train_at_startup", |b| {
        b.iter(|| Nlu::new(black_box(&config)).unwrap())
    });
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let nlu = Nlu::new(&config()).unwrap();
    let mut group = c.benchmark_group("nlu");
    for (name, text) in [
        ("parse_short", "yes"),
        (
            "parse_command",
            "deploy billionmail 2.3.1 to prod with a 10% canary",
        ),
        ("parse_typo", "plz deplyo bilionmail to prodcution"),
        (
            "parse_small_talk",
            "deploys on a friday are scary, let's talk about it in the retro",
        ),
    ] {
        group.bench_function(name, |b| b.iter(|| nlu.parse(black_box(text))));
    }
    group.finish();
}

/// `n` words of chat: names, aliases, typos, versions, percents, unknown words, filler.
fn chatter(n: usize) -> String {
    const WORDS: [&str; 24] = [
        "please",
        "deploy",
        "billionmail",
        "2.3.1",
        "to",
        "staging",
        "with",
        "a",
        "10%",
        "canary",
        "because",
        "auth",
        "service",
        "looked",
        "fine",
        "on",
        "live",
        "yesterday",
        "bilionmail",
        "wix-backend",
        "foo-bar",
        "don't",
        "redis",
        "v2.4.0-rc.1",
    ];
    WORDS
        .iter()
        .cycle()
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn scaling(c: &mut Criterion) {
    // Past the 4,000-character cap on purpose: this measures the parse, not the cut.
    let nlu = Nlu::new(&config()).unwrap().with_max_chars(usize::MAX);
    let mut group = c.benchmark_group("parse_per_word");
    group.sample_size(10);
    for words in [10usize, 100, 1_000, 10_000] {
        let chat = chatter(words);
        // A lock with a long reason also runs the lock-scope reading.
        let lock = format!("lock staging because {}", chatter(words.saturating_sub(3)));
        group.throughput(Throughput::Elements(words as u64));
        for (series, text) in [("chat", &chat), ("lock_reason", &lock)] {
            group.bench_with_input(BenchmarkId::new(series, words), text, |b, text| {
                b.iter(|| nlu.parse(black_box(text)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, training, parsing, scaling);
criterion_main!(benches);
