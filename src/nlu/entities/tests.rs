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

fn nlu_for(config: &str) -> (crate::nlu::Nlu, Config) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(config);
    let config = Config::load(&path).unwrap();
    (crate::nlu::Nlu::new(&config).unwrap(), config)
}

/// Versions as people type them: with or without `v`/`V`, pre-releases, build metadata, shas.
fn typed_versions() -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["", "v", "V"] {
        for core in ["2.4.1", "1.0", "10.20.30", "0.9.0.1"] {
            for suffix in ["", "-rc.1", "-RC1", "+build.7", "-beta.2+exp.sha.5114f85"] {
                out.push(format!("{prefix}{core}{suffix}"));
            }
        }
    }
    out.extend(
        [
            "3f9c2ab",
            "3F9C2AB0d",
            "0123456789abcdef0123456789abcdef01234567",
        ]
        .map(String::from),
    );
    out
}

#[test]
fn versions_are_kept_exactly_as_typed() {
    let (nlu, _) = nlu_for("examples/deckhand.yaml");
    let mut checked = 0;
    for v in typed_versions() {
        for frame in [
            "deploy billionmail {v} to staging",
            "deploy billionmail@{v} to staging",
            "ship bm `{v}` to prod",
            "rollback billionmail in staging to {v}.",
            "deploy billionmail ({v}) to dev, please",
            "deploy \"{v}\" of billionmail to dev!",
            "is billionmail {v} ready?",
            "no, {v}",
            "{v}",
        ] {
            let text = frame.replace("{v}", &v);
            let p = nlu.parse(&text);
            assert_eq!(p.slots.version.as_deref(), Some(v.as_str()), "{text:?}");
            assert!(p.invalid.is_empty(), "{text:?}: {:?}", p.invalid);
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn version_order_key_orders_releases_and_ignores_the_v() {
    let key = version_order_key;
    assert_eq!(key("v2.4.1"), key("2.4.1"));
    assert_eq!(key("V2.4.1"), key("2.4.1"));
    assert_eq!(key("1.2"), key("1.2.0"));
    let ascending = [
        "3f9c2ab",
        "0.9.0",
        "1.9.0",
        "v1.10.0-alpha",
        "1.10.0-alpha.1",
        "1.10.0-alpha.beta",
        "1.10.0-beta.2",
        "1.10.0-beta.11",
        "1.10.0-rc.1",
        "v1.10.0",
        "1.10.1",
        "2.0.0",
    ];
    for (i, a) in ascending.iter().enumerate() {
        for b in &ascending[i + 1..] {
            assert!(key(a) < key(b), "{a} < {b}");
        }
    }
}

/// Text glued to a version that must not be cut off and deployed.
const JUNK: [&str; 32] = [
    ";id", ";", "`id`", "$(id)", "|x", "||id", "&&id", "&", "$", "$HOME", "${IFS}id", "'id'",
    "\"x\"", "\\x", ")x", "(x)", "]x", "{x}", "#x", "!x", "?x", ",x", ":x", "/x", "~x", "^x", "*x",
    "=x", "@x", "%0a", "<x", ">x",
];

#[test]
fn versions_with_junk_glued_on_are_refused_naming_them() {
    let (nlu, _) = nlu_for("examples/deckhand.yaml");
    let mut checked = 0;
    for v in ["1.0", "2.4.0", "v1.2", "v2.4.1-rc.1", "3f9c2ab", "2.4.0+b7"] {
        for junk in JUNK {
            let glued = format!("{v}{junk}");
            // A lone closing mark is sentence punctuation ("deploy 2.4.0;"), not junk.
            let punctuation = matches!(junk, ";");
            for frame in [
                "deploy billionmail {g} to staging",
                "deploy billionmail@{g} to staging",
                "rollback billionmail to {g}",
                "no, {g}",
                "{g}",
            ] {
                let text = frame.replace("{g}", &glued);
                let p = nlu.parse(&text);
                if punctuation {
                    assert!(p.invalid.is_empty(), "{text:?}: {:?}", p.invalid);
                    continue;
                }
                assert_eq!(p.slots.version, None, "{text:?}");
                assert_eq!(p.invalid.len(), 1, "{text:?}: {:?}", p.invalid);
                assert!(
                    p.invalid[0].contains(&glued) && p.invalid[0].contains("not a valid version"),
                    "{text:?}: {:?}",
                    p.invalid
                );
                checked += 1;
            }
        }
    }
    // Junk in front of a version, too.
    for junk in JUNK
        .iter()
        .filter(|j| **j != ";" && !j.ends_with(char::is_alphanumeric))
    {
        let text = format!("deploy billionmail {junk}2.4.0 to staging");
        let p = nlu.parse(&text);
        assert_eq!(p.slots.version, None, "{text:?}");
        assert_eq!(p.invalid.len(), 1, "{text:?}: {:?}", p.invalid);
        checked += 1;
    }
    for junk in ["$", "x=", "id'", "#", "^", "&", "|", "\\", "$(id)"] {
        let text = format!("deploy billionmail {junk}2.4.0 to staging");
        let p = nlu.parse(&text);
        assert_eq!(p.slots.version, None, "{text:?}");
        assert_eq!(p.invalid.len(), 1, "{text:?}: {:?}", p.invalid);
        checked += 1;
    }
    assert!(checked > 900, "{checked}");
}

#[test]
fn refused_versions_still_read_as_a_deploy_so_the_refusal_is_given() {
    let (nlu, _) = nlu_for("examples/deckhand.yaml");
    for text in [
        "deploy billionmail 1.0;id to staging",
        "deploy billionmail 2.4.0`id` to dev",
    ] {
        let p = nlu.parse(text);
        assert_eq!(p.intent, crate::nlu::Intent::Deploy, "{text:?}");
        assert_eq!(p.slots.service.as_deref(), Some("billionmail"));
        assert!(
            p.unknown.is_empty(),
            "the junk is not a name: {:?}",
            p.unknown
        );
    }
}

#[test]
fn ordinary_numbers_next_to_punctuation_are_not_refused_versions() {
    let (nlu, _) = nlu_for("examples/deckhand.yaml");
    for text in [
        "canary at 12.5%",
        "lock dev for 1.5h",
        "it got 2.5x faster",
        "deploy billionmail to staging at 10:30",
        "deploy billionmail 2.4.0; thanks",
        "deploy billionmail 2.4.0, then redis",
        "is 2.4.0's build ready?",
        "(2.4.0)",
        "**2.4.0**",
        "_2.4.0_",
        "~2.4.0~",
        "[2.4.0]",
        "“2.4.0”",
        "'2.4.0'",
        "deploy billionmail 2.4.0...",
    ] {
        let p = nlu.parse(text);
        assert!(p.invalid.is_empty(), "{text:?}: {:?}", p.invalid);
    }
}

/// Sentences where a service is expected; `{s}` is the service, `{e}` an environment.
const SERVICE_FRAMES: [&str; 34] = [
    "deploy {s}",
    "deploy {s} to {e}",
    "push {s} to {e}",
    "release {s}",
    "update {s} in {e}",
    "is {s} ready",
    "check build status for {s}",
    "can I deploy {s}",
    "rollback {s}",
    "roll back {s} in {e}",
    "revert {s} deployment",
    "why isn't {s} building?",
    "why is {s} failing in {e}",
    "did {s} fail",
    "did {s} fail in {e}?",
    "why did {s} fail",
    "status of {s}",
    "what's the status of {s}",
    "{s} status",
    "history of {s}",
    "{s} history",
    "show {s} history",
    "explain {s}",
    "lock {s} in {e}",
    "unlock {s} in {e}",
    "has {s} been deployed to {e}",
    "is {s} down",
    "{s} failed",
    "{s} is down in {e}",
    "what version of {s} is running",
    "when was {s} last deployed",
    "how is {s} doing",
    "what about {s}",
    "undo {s}",
];

/// Sentences where an environment is expected; `{s}` is a service, `{e}` the environment.
const ENVIRONMENT_FRAMES: [&str; 12] = [
    "deploy {s} to {e}",
    "is {e} down",
    "status in {e}",
    "what's running in {e}",
    "what is on {e}",
    "lock {e}",
    "freeze {e} deploys",
    "rollback {s} in {e}",
    "history of {e}",
    "did {s} fail in {e}",
    "why is {s} failing in {e}",
    "{s} on {e}",
];

#[test]
fn every_alias_is_recognised_wherever_a_name_is_expected() {
    let mut checked = 0;
    for file in ["examples/deckhand.yaml", "tests/data/alt_deckhand.yaml"] {
        let (nlu, config) = nlu_for(file);
        let (svc0, env0) = (&config.services[0].name, &config.environments[0].name);
        let mut fails = Vec::new();
        for s in &config.services {
            for alias in std::iter::once(&s.name).chain(&s.aliases) {
                for frame in SERVICE_FRAMES {
                    let text = frame.replace("{s}", alias).replace("{e}", env0);
                    let p = nlu.parse(&text);
                    if p.slots.service.as_deref() != Some(s.name.as_str())
                        || p.services != [s.name.clone()]
                    {
                        fails.push(format!("{text:?} -> {:?}", p.services));
                    }
                    checked += 1;
                }
            }
        }
        for e in &config.environments {
            for alias in std::iter::once(&e.name).chain(&e.aliases) {
                for frame in ENVIRONMENT_FRAMES {
                    let text = frame.replace("{e}", alias).replace("{s}", svc0);
                    let p = nlu.parse(&text);
                    if p.slots.environment.as_deref() != Some(e.name.as_str()) {
                        fails.push(format!("{text:?} -> {:?}", p.slots.environment));
                    }
                    checked += 1;
                }
            }
        }
        assert!(
            fails.is_empty(),
            "{file}: {} misses:\n{}",
            fails.len(),
            fails.join("\n")
        );
    }
    assert!(checked > 600, "{checked}");
}

#[test]
fn english_aliases_in_ordinary_sentences_stay_words() {
    // After a determiner, or with no name position around them, these are plain English.
    for (text, kind) in [
        ("what payments failed yesterday", "service"),
        ("the payments are late this month", "service"),
        ("some payments bounced", "service"),
        ("what stage failed for billionmail", "environment"),
        ("which stage is slow", "environment"),
        ("live music tonight anyone", "environment"),
        ("a live demo is down", "environment"),
        ("the development of the app took a year", "environment"),
    ] {
        let found = slots(text);
        assert!(
            !found.iter().any(|(k, _)| *k == kind),
            "{text:?} -> {found:?}"
        );
    }
}

#[test]
fn random_text_around_versions_never_panics() {
    // Pieces that stress the tokenizer, the junk check and the name matcher together.
    const PIECES: [&str; 30] = [
        "1.0",
        "v2.4.1",
        "V3.0.0-RC.1",
        "3f9c2ab",
        "@",
        ";",
        "`",
        "$(",
        ")",
        "|",
        "'s",
        "’",
        "…",
        ".",
        ",",
        "?",
        " ",
        "  ",
        "\n",
        "billionmail",
        "payments",
        "stage",
        "-",
        "_",
        "%",
        "日本",
        "🚀",
        "é",
        "\u{200b}",
        "deploy",
    ];
    let (nlu, _) = nlu_for("examples/deckhand.yaml");
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(rng % 12) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            text.push_str(PIECES[(rng % PIECES.len() as u64) as usize]);
        }
        let p = nlu.parse(&text);
        // A version slot is always a valid version, character for character from the text.
        if let Some(v) = &p.slots.version {
            assert!(
                parse_version(v).is_some() && text.contains(v.as_str()),
                "{text:?} -> {v:?}"
            );
        }
    }
}
