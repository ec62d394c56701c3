//! The semantic pipeline measured against the lexical one on the same data: it must not lose
//! accuracy on any intent of the development set, must keep zero false actions there, must not
//! add false actions on the adversarial set, and must understand more of the paraphrase set.
//! Runs with `--features semantic` when the model folder exists (`DECKHAND_MODEL_DIR`, default
//! `models/all-MiniLM-L6-v2`; `scripts/fetch-model.sh` puts it there).
#![cfg(feature = "semantic")]

use deckhand::config::Config;
use deckhand::nlu::{eval, Nlu, NluMode};
use std::path::{Path, PathBuf};

fn model_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("DECKHAND_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("models/all-MiniLM-L6-v2"))
}

fn both(config: &str, data: &str, cache: &Path) -> Option<(eval::Report, eval::Report)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !model_dir().join("model.safetensors").is_file() {
        eprintln!("note: no model folder; skipped (scripts/fetch-model.sh)");
        return None;
    }
    let mut config = Config::load(&root.join(config)).unwrap();
    config.nlu.model_dir = Some(std::fs::canonicalize(model_dir()).unwrap());
    config.nlu.cache_dir = cache.to_path_buf();
    let rows = eval::parse_rows(&std::fs::read_to_string(root.join(data)).unwrap()).unwrap();
    let lexical = eval::evaluate(&Nlu::with_mode(&config, NluMode::Lexical).unwrap(), &rows);
    let semantic = eval::evaluate(&Nlu::with_mode(&config, NluMode::Semantic).unwrap(), &rows);
    Some((lexical, semantic))
}

#[test]
fn development_set_no_intent_loses_and_no_false_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((lex, sem)) = both(
        "examples/deckhand.yaml",
        "tests/data/nlu_dev.jsonl",
        tmp.path(),
    ) else {
        return;
    };
    assert_eq!(sem.nlu, "semantic");
    assert_eq!(sem.false_actions, 0, "{}", sem.render(true));
    assert!(
        sem.intent_accuracy >= lex.intent_accuracy,
        "{}\n{}",
        lex.render(false),
        sem.render(true)
    );
    for (intent, l) in &lex.per_intent {
        let s = &sem.per_intent[intent];
        assert!(
            s.recall >= l.recall,
            "{intent}: recall {} < {}\n{}",
            s.recall,
            l.recall,
            sem.render(true)
        );
    }
    assert!(sem.slot_exact_match >= lex.slot_exact_match);
}

#[test]
fn paraphrases_are_understood_better_and_adversarial_rows_stay_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((lex, sem)) = both(
        "examples/deckhand.yaml",
        "tests/data/nlu_paraphrase.jsonl",
        tmp.path(),
    ) else {
        return;
    };
    assert!(
        sem.intent_accuracy > lex.intent_accuracy,
        "semantic {:.3} vs lexical {:.3}\n{}",
        sem.intent_accuracy,
        lex.intent_accuracy,
        sem.render(true)
    );
    assert_eq!(sem.false_actions, 0, "{}", sem.render(true));
    let Some((lex, sem)) = both(
        "examples/deckhand.yaml",
        "tests/data/nlu_adversarial.jsonl",
        tmp.path(),
    ) else {
        return;
    };
    // Written to trip the classifier: the semantic stage may read a question into some
    // chatter, but must not turn any more of it into actions.
    assert!(
        sem.false_actions <= lex.false_actions,
        "{}",
        sem.render(true)
    );
    assert!(
        sem.intent_accuracy >= lex.intent_accuracy - 0.01,
        "{}",
        sem.render(true)
    );
}

#[test]
fn example_embeddings_are_cached_across_starts() {
    let tmp = tempfile::tempdir().unwrap();
    if !model_dir().join("model.safetensors").is_file() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(&root.join("examples/deckhand.yaml")).unwrap();
    config.nlu.model_dir = Some(std::fs::canonicalize(model_dir()).unwrap());
    config.nlu.cache_dir = tmp.path().to_path_buf();
    let first = Nlu::new(&config).unwrap();
    assert!(first.is_semantic() && !first.embeddings_cached());
    let second = Nlu::new(&config).unwrap();
    assert!(
        second.embeddings_cached(),
        "the restart read the matrix from disk"
    );
    for text in ["we need redis shipped to stg", "good morning team", "yes"] {
        assert_eq!(
            first.parse(text).intent,
            second.parse(text).intent,
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_understands_a_paraphrase_through_the_semantic_stage() {
    if !model_dir().join("model.safetensors").is_file() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(&root.join("examples/deckhand.yaml")).unwrap();
    config.nlu.model_dir = Some(std::fs::canonicalize(model_dir()).unwrap());
    config.nlu.cache_dir = tmp.path().join("cache");
    config.store.url = format!("sqlite://{}/d.db", tmp.path().display());
    // "rundown" is outside the lexical training rows; the nearest example is a status question.
    let text = "quick rundown of prod please";
    let lexical = Nlu::with_mode(&config, NluMode::Lexical)
        .unwrap()
        .parse(text);
    assert_eq!(
        lexical.intent,
        deckhand::nlu::Intent::None,
        "the lexical stage alone misses it"
    );
    let bot = deckhand::bot::Bot::new(config).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = std::sync::Arc::new(deckhand::chat::ChannelSink(tx));
    let intent = bot
        .handle(
            deckhand::chat::Incoming {
                thread: deckhand::chat::ThreadKey::new("console", "console", "p"),
                user: "alice".into(),
                text: text.into(),
                event_id: None,
            },
            sink,
        )
        .await;
    assert_eq!(intent, deckhand::nlu::Intent::Status);
    let event = rx.recv().await.unwrap();
    let json = serde_json::to_value(&event).unwrap();
    // Understood as a status question, answered from the (empty) store.
    assert_eq!(json["intent"], "status", "{json}");
    let said = json["text"].as_str().unwrap();
    assert!(said.contains("Nothing has been deployed"), "{json}");
}
