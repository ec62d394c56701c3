//! The NLU quality bar: on the team's development set, intent accuracy >= 95% with zero false
//! actions; and the same holds for names that appear only in a held-out config.

use deckhand::config::Config;
use deckhand::nlu::{eval, Nlu};
use std::path::Path;

fn report(config: &str, data: &str) -> eval::Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let nlu = Nlu::new(&Config::load(&root.join(config)).unwrap()).unwrap();
    let rows = eval::parse_rows(&std::fs::read_to_string(root.join(data)).unwrap()).unwrap();
    eval::evaluate(&nlu, &rows)
}

#[test]
fn development_set_meets_the_bar() {
    let r = report("examples/deckhand.yaml", "tests/data/nlu_dev.jsonl");
    assert!(
        r.rows >= 300,
        "the development set needs at least 300 rows, has {}",
        r.rows
    );
    assert!(r.intent_accuracy >= 0.95, "{}", r.render(true));
    assert_eq!(r.false_actions, 0, "{}", r.render(true));
    assert!(r.slot_exact_match >= 0.95, "{}", r.render(true));
}

#[test]
fn names_only_in_the_config_are_understood() {
    let r = report("tests/data/alt_deckhand.yaml", "tests/data/nlu_alt.jsonl");
    assert!(r.intent_accuracy >= 0.95, "{}", r.render(true));
    assert_eq!(r.false_actions, 0, "{}", r.render(true));
    assert!(r.slot_exact_match >= 0.95, "{}", r.render(true));
}

#[test]
fn hubot_style_commands_from_the_shared_fixtures_are_deploys() {
    // Real chat-ops utterances (hubot-deploy's tests) when ../shared is present.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/platform/chatops_nl/hubot_deploy_utterances.tsv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("note: {} not found; skipped", path.display());
        return;
    };
    let config =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml"))
            .unwrap();
    let nlu = Nlu::new(&config).unwrap();
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let utterance = line.split('\t').next().unwrap_or_default();
        let Some(rest) = utterance
            .strip_prefix("Hubot ")
            .or_else(|| utterance.strip_prefix("hubot "))
        else {
            continue;
        };
        // hubot-deploy: "deploy X [to env]" deploys, "deploys X in env" lists recent deploys;
        // its token and sub-commands (`deploy-token:…`, `deploy:version`) are not ours.
        let expected = if rest.contains(':') {
            continue;
        } else if rest.starts_with("deploys ") {
            "history"
        } else if rest.starts_with("deploy ") || rest.starts_with("deploy! ") {
            "deploy"
        } else {
            continue;
        };
        let parsed = nlu.parse(rest);
        assert_eq!(parsed.intent.as_str(), expected, "{rest:?} -> {parsed:?}");
        checked += 1;
    }
    assert!(
        checked > 0,
        "no deploy utterances found in {}",
        path.display()
    );
}

#[test]
fn adversarial_set_stays_within_its_bar() {
    // Held-out near-misses written to trip the classifier (negations, idioms, past tense).
    // Anything that slips through still meets a confirmation, an approval check or a
    // "nothing to cancel" reply before it acts; this bar keeps regressions visible.
    let r = report("examples/deckhand.yaml", "tests/data/nlu_adversarial.jsonl");
    assert!(r.intent_accuracy >= 0.92, "{}", r.render(true));
    assert!(r.false_action_rate <= 0.05, "{}", r.render(true));
}
