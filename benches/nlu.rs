//! NLU speed: start-up training and single-message parse latency (one thread).
//! Run with `cargo bench --bench nlu`.

use criterion::{criterion_group, criterion_main, Criterion};
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

criterion_group!(benches, training, parsing);
criterion_main!(benches);
