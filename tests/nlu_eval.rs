//! The NLU quality bar: on the team's development set, intent accuracy >= 98% with zero false
//! actions (a `none` row read as an action or as `affirm`); the same for names that appear only
//! in a held-out config; zero false actions on the adversarial set; >= 85% on the paraphrase
//! set with the lexical classifier alone. The evaluation sets stay apart from the training
//! examples, and the phrasings users type reach their intent with their slots.

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
    assert!(r.intent_accuracy >= 0.98, "{}", r.render(true));
    assert_eq!(r.false_actions, 0, "{}", r.render(true));
    assert!(r.slot_exact_match >= 0.95, "{}", r.render(true));
}

#[test]
fn paraphrase_set_meets_the_bar_with_the_lexical_classifier() {
    // Wordings written apart from the training examples (none of them is one).
    let r = report("examples/deckhand.yaml", "tests/data/nlu_paraphrase.jsonl");
    assert_eq!(r.nlu, "lexical");
    assert!(r.rows >= 100, "{} rows", r.rows);
    assert!(r.intent_accuracy >= 0.85, "{}", r.render(true));
    assert_eq!(r.false_actions, 0, "{}", r.render(true));
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
    // Held-out near-misses written to trip the classifier (negations, idioms, past tense):
    // none of them may read as an action or a yes.
    let r = report("examples/deckhand.yaml", "tests/data/nlu_adversarial.jsonl");
    assert!(r.intent_accuracy >= 0.95, "{}", r.render(true));
    assert_eq!(r.false_actions, 0, "{}", r.render(true));
}

/// Lowercased, punctuation that the tokenizer drops turned to spaces, whitespace collapsed.
fn normalized(text: &str) -> String {
    text.to_lowercase()
        .replace([',', '.', '!', '?', ';', ':', '"'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An example's text without its `[text](entity)` / `[text]{...}` marks.
fn unmarked(example: &str) -> String {
    let mut out = String::new();
    let mut rest = example;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push('[');
            rest = after;
            continue;
        };
        out.push_str(&after[..close]);
        let tail = &after[close + 1..];
        let end = match tail.chars().next() {
            Some('(') => tail.find(')').map(|e| e + 1),
            Some('{') => tail.find('}').map(|e| e + 1),
            _ => Some(0),
        };
        rest = &tail[end.unwrap_or(0)..];
    }
    out.push_str(rest);
    out
}

fn training_texts() -> std::collections::HashSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    let mut texts = std::collections::HashSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for ex in file["examples"].as_sequence().unwrap() {
            texts.insert(normalized(&unmarked(ex.as_str().unwrap())));
        }
    }
    assert!(texts.len() > 1000, "{} training texts", texts.len());
    texts
}

#[test]
fn evaluation_sets_are_kept_apart_from_the_training_examples() {
    let training = training_texts();
    assert!(training.contains("deploy billionmail to staging"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (set, allowed_short) in [
        ("nlu_paraphrase.jsonl", false),
        ("nlu_adversarial.jsonl", false),
        ("nlu_alt.jsonl", false),
        ("nlu_dev.jsonl", true),
    ] {
        let rows =
            eval::parse_rows(&std::fs::read_to_string(root.join("tests/data").join(set)).unwrap())
                .unwrap();
        let shared: Vec<&str> = rows
            .iter()
            .filter(|r| training.contains(&normalized(&r.text)))
            .map(|r| r.text.as_str())
            .collect();
        if !allowed_short {
            assert!(shared.is_empty(), "{set}: training examples {shared:?}");
            continue;
        }
        // The development set may repeat the short explicit replies ("yes", "lgtm",
        // "no thanks") that the training lists are made of; nothing longer.
        let long: Vec<&&str> = shared
            .iter()
            .filter(|t| normalized(t).split(' ').count() > 2)
            .collect();
        assert!(long.is_empty(), "{set}: training examples {long:?}");
        assert!(
            shared.len() * 100 <= rows.len() * 15,
            "{set}: {} of {} rows are training examples",
            shared.len(),
            rows.len()
        );
    }
}

/// (as typed, canonical name) pairs.
type Names = Vec<(String, String)>;

/// Every way of naming each service and environment of the example config.
fn names(config: &Config) -> (Names, Names) {
    let services = config
        .services
        .iter()
        .flat_map(|s| {
            std::iter::once(s.name.clone())
                .chain(s.aliases.iter().cloned())
                .map(move |n| (n, s.name.clone()))
        })
        .collect();
    let environments = config
        .environments
        .iter()
        .flat_map(|e| {
            std::iter::once(e.name.clone())
                .chain(e.aliases.iter().cloned())
                .map(move |n| (n, e.name.clone()))
        })
        .collect();
    (services, environments)
}

#[test]
fn the_phrasings_users_type_reach_their_intent_with_their_slots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load(&root.join("examples/deckhand.yaml")).unwrap();
    let nlu = Nlu::new(&config).unwrap();
    let (services, environments) = names(&config);
    // (template, intent, whether {environment} is in it); "production" is written out where
    // the form names it.
    let templates = [
        ("deploy {s} to {e}", "deploy", true),
        ("push {s} to production", "deploy", false),
        ("release {s}", "deploy", false),
        ("update {s} in {e}", "deploy", true),
        ("is {s} ready", "readiness", false),
        ("check build status for {s}", "readiness", false),
        ("can I deploy {s}", "readiness", false),
        ("rollback {s}", "rollback", false),
        ("revert {s} deployment", "rollback", false),
        ("why isn't {s} building?", "explain", false),
        ("why is {s} failing in {e}", "explain", true),
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (template, intent, with_env) in templates {
        for (s_text, s_name) in &services {
            let envs: Vec<&(String, String)> = if with_env {
                environments.iter().collect()
            } else {
                environments.iter().take(1).collect()
            };
            for (e_text, e_name) in envs {
                let text = template.replace("{s}", s_text).replace("{e}", e_text);
                let p = nlu.parse(&text);
                let env_expected = if with_env {
                    Some(e_name.as_str())
                } else if template.contains("production") {
                    Some("production")
                } else {
                    None
                };
                checked += 1;
                if p.intent.as_str() != intent
                    || p.slots.service.as_deref() != Some(s_name.as_str())
                    || p.slots.environment.as_deref() != env_expected
                {
                    failures.push(format!(
                        "{text:?}: {} {:?}/{:?} ({:.2})",
                        p.intent.as_str(),
                        p.slots.service,
                        p.slots.environment,
                        p.confidence
                    ));
                }
            }
        }
    }
    assert!(checked >= 200, "{checked} checked");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for text in [
        "undo last deployment",
        "undo the last deployment",
        "please undo last deployment",
    ] {
        let p = nlu.parse(text);
        assert_eq!(p.intent.as_str(), "rollback", "{text:?}: {p:?}");
        assert!(
            p.slots.is_empty(),
            "{text:?}: the service comes from the store"
        );
    }
}

#[test]
fn refusals_at_an_approval_are_never_read_as_approvals() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let nlu = Nlu::new(&Config::load(&root.join("examples/deckhand.yaml")).unwrap()).unwrap();
    for text in [
        "block this deploy",
        "nope, not this one",
        "block it",
        "no, not this one",
        "nope, not approving",
    ] {
        assert_eq!(nlu.parse(text).intent.as_str(), "reject", "{text:?}");
    }
    // "don't approve": the classifier reads a refusal; the negation rule (a "not" before an
    // action verb) keeps it from being any action, so it is never an approval either.
    for text in [
        "do not approve",
        "don't approve",
        "dont approve",
        "please don't approve this",
        "I do not approve",
        "not approved",
        "I won't approve that",
    ] {
        let p = nlu.parse(text);
        assert!(
            !matches!(p.intent.as_str(), "approve" | "affirm"),
            "{text:?} read as {}",
            p.intent.as_str()
        );
    }
}
