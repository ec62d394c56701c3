use super::*;
use crate::nlu::tokens::tokenize;
use std::path::Path;

fn extractor() -> EntityExtractor {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
    let config = Config::load(&path).unwrap();
    EntityExtractor::new(&config, &HashSet::new())
}

fn slots(text: &str) -> Vec<(&'static str, String)> {
    extractor()
        .extract(text, &tokenize(text))
        .entities
        .into_iter()
        .map(|e| (e.kind.as_str(), e.value))
        .collect()
}

#[test]
fn names_and_aliases_resolve_case_insensitively() {
    assert_eq!(
        slots("Deploy BillionMail to PROD"),
        vec![
            ("service", "billionmail".into()),
            ("environment", "production".into())
        ]
    );
    assert_eq!(
        slots("ship auth to stg"),
        vec![
            ("service", "auth-service".into()),
            ("environment", "staging".into())
        ]
    );
    assert_eq!(
        slots("status of the wix backend on live"),
        vec![
            ("service", "wix-backend".into()),
            ("environment", "production".into())
        ]
    );
    assert_eq!(
        slots("roll back payments api"),
        vec![("service", "payments-api".into())]
    );
}

#[test]
fn typos_are_tolerated_but_ordinary_words_are_not_names() {
    assert_eq!(
        slots("deploy bilionmail to prodcution"),
        vec![
            ("service", "billionmail".into()),
            ("environment", "production".into())
        ]
    );
    assert_eq!(
        slots("paymnets-api to stagign"),
        vec![
            ("service", "payments-api".into()),
            ("environment", "staging".into())
        ]
    );
    assert!(slots("what is the state of things").is_empty());
    assert!(slots("the stage was set for the production of the play")
        .iter()
        .all(|(k, _)| *k == "environment"));
    assert!(slots("reddit is down").is_empty());
}

#[test]
fn versions_strategies_and_percents() {
    assert_eq!(
        slots("billionmail@2.3.1"),
        vec![
            ("service", "billionmail".into()),
            ("version", "2.3.1".into())
        ]
    );
    assert_eq!(
        slots("deploy v2.5.0-rc.1"),
        vec![("version", "v2.5.0-rc.1".into())]
    );
    assert_eq!(slots("deploy 3f9c2ab"), vec![("version", "3f9c2ab".into())]);
    assert_eq!(
        slots("canary at 5%"),
        vec![("strategy", "canary".into()), ("percent", "5".into())]
    );
    assert_eq!(
        slots("10 percent canary"),
        vec![("percent", "10".into()), ("strategy", "canary".into())]
    );
    assert_eq!(
        slots("a blue green deploy"),
        vec![("strategy", "blue-green".into())]
    );
    assert_eq!(
        slots("blue/green please"),
        vec![("strategy", "blue-green".into())]
    );
    assert!(slots("in 2 hours").is_empty());
    assert!(
        slots("deadbeef").is_empty(),
        "an all-letter word is not a sha"
    );
}

#[test]
fn unknown_names_are_reported_with_their_position() {
    let Extraction {
        entities: ents,
        unknown,
        ..
    } = extractor().extract("deploy foo to qa", &tokenize("deploy foo to qa"));
    assert!(ents.is_empty());
    assert_eq!(unknown[0].text, "foo");
    assert!(!unknown[0].after_preposition);
    assert_eq!(unknown[1].text, "qa");
    assert!(unknown[1].after_preposition);
}

#[test]
fn suggestions_pick_the_closest_name() {
    let x = extractor();
    assert_eq!(
        x.suggest("billionmale", SlotKind::Service).as_deref(),
        Some("billionmail")
    );
    assert_eq!(x.suggest("zzzzzzzz", SlotKind::Service), None);
}

#[test]
fn edit_distance_counts_swaps_as_one() {
    assert_eq!(damerau_levenshtein("prodcution", "production"), 1);
    assert_eq!(damerau_levenshtein("", "abc"), 3);
}

#[test]
fn english_words_are_never_typos_of_names() {
    for text in [
        "ugh, I'm staying late",
        "stating the obvious",
        "stop staring",
        "a stale PR",
        "what's at stake",
        "stags",
        "a productive day",
        "productions",
        "redid it",
    ] {
        assert!(slots(text).is_empty(), "{text:?} -> {:?}", slots(text));
    }
}

#[test]
fn aliases_that_are_english_words_need_a_name_position() {
    assert!(slots("what stage failed for billionmail")
        .iter()
        .all(|(k, _)| *k != "environment"));
    assert!(slots("live music tonight anyone").is_empty());
    assert_eq!(
        slots("deploy billionmail to stage"),
        vec![
            ("service", "billionmail".into()),
            ("environment", "staging".into())
        ]
    );
    assert_eq!(
        slots("is prod down"),
        vec![("environment", "production".into())]
    );
    assert_eq!(
        slots("billionmail live"),
        vec![
            ("service", "billionmail".into()),
            ("environment", "production".into())
        ]
    );
    assert_eq!(slots("stage"), vec![("environment", "staging".into())]);
}

#[test]
fn unknown_services_with_versions_and_invalid_percents_are_reported() {
    let x = extractor().extract(
        "deploy foo@1.2.3 to staging",
        &tokenize("deploy foo@1.2.3 to staging"),
    );
    assert_eq!(x.unknown[0].text, "foo");
    assert!(x
        .entities
        .iter()
        .any(|e| e.kind == SlotKind::Version && e.value == "1.2.3"));
    assert_eq!(
        slots("deploy billionmail@latest"),
        vec![("service", "billionmail".into())]
    );
    let x = extractor().extract("canary at 150%", &tokenize("canary at 150%"));
    assert_eq!(
        x.invalid,
        vec!["150% is not a valid canary percentage; use 1 to 100."]
    );
    assert!(!x.entities.iter().any(|e| e.kind == SlotKind::Percent));
    assert_eq!(
        extractor()
            .extract("0 percent canary", &tokenize("0 percent canary"))
            .invalid
            .len(),
        1
    );
}
