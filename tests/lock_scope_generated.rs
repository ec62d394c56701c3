//! A lock's reason is not its scope, tested as a class: generated lock and unlock requests
//! whose reasons mention services, environments, unknown words and versions keep exactly the
//! scope named before the reason; names that do not resolve never widen a scope.

mod support;

use deckhand::nlu::{Intent, Nlu};
use support::{config_in, temp_dir};

fn nlu() -> Nlu {
    Nlu::new(&config_in(
        "examples/deckhand.yaml",
        &temp_dir("lock-scope"),
    ))
    .unwrap()
}

const SCOPES: [(&str, &str, Option<&str>); 6] = [
    ("staging", "staging", None),
    ("prod", "production", None),
    ("dev", "dev", None),
    ("billionmail in staging", "staging", Some("billionmail")),
    ("redis in production", "production", Some("redis")),
    ("payments-api in dev", "dev", Some("payments-api")),
];

const MARKERS: [&str; 12] = [
    "while",
    "because",
    "due to",
    "until",
    "since",
    "during",
    "for the",
    "because of",
    "whilst",
    "coz",
    "reason:",
    "re:",
];

/// Ways to start a reason without a marker word: punctuation, or any word that is not part
/// of a scope once the environment is named.
const BREAKS: [&str; 14] = [
    "-", ":", ",", "(", ";", "—", "so that", "to let", "after", "ahead of", "pending", "given",
    "now that", "as",
];

const REASONS: [&str; 12] = [
    "redis is being migrated",
    "billionmail 2.4.0 is broken in production",
    "payments is down",
    "the storage upgrade",
    "wix-backend v1.0.0 needs a fix on dev",
    "zorblax flargle is misbehaving",
    "the auth-service incident in staging",
    "qa signs off on staging and production",
    "kubernetes node drain",
    "release 3.2.0-rc.1 of payments-api",
    "quarterly audit of prod",
    "the redis cache and billionmail are resyncing",
];

#[test]
fn reasons_never_change_the_scope() {
    let nlu = nlu();
    let mut checked = 0;
    for verb in ["lock", "freeze", "unlock"] {
        for (scope, env, service) in SCOPES {
            for marker in MARKERS {
                for reason in REASONS {
                    let text = format!("{verb} {scope} {marker} {reason}");
                    let p = nlu.parse(&text);
                    let want = if verb == "unlock" {
                        Intent::Unlock
                    } else {
                        Intent::Lock
                    };
                    assert_eq!(p.intent, want, "{text}");
                    assert_eq!(p.slots.environment.as_deref(), Some(env), "{text}");
                    assert_eq!(p.slots.service.as_deref(), service, "{text}");
                    assert!(p.unknown.is_empty(), "{text}: unknown {:?}", p.unknown);
                    assert!(p.invalid.is_empty(), "{text}: invalid {:?}", p.invalid);
                    assert!(p.services.len() <= 1, "{text}: services {:?}", p.services);
                    assert!(
                        p.parts.environments.len() <= 1,
                        "{text}: {:?}",
                        p.parts.environments
                    );
                    let got = p.slots.lock.as_ref().and_then(|l| l.reason.clone());
                    let expected_reason = match marker {
                        "for the" => format!("the {reason}"),
                        _ => reason.to_string(),
                    };
                    assert_eq!(got.as_deref(), Some(expected_reason.as_str()), "{text}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 1900, "{checked}");
}

#[test]
fn a_duration_with_a_reason_keeps_both() {
    let nlu = nlu();
    for (dur, secs) in [("for 2 hours", 7200), ("for 30m", 1800), ("for 1h30", 5400)] {
        for reason in REASONS {
            for text in [
                format!("lock staging {dur} because {reason}"),
                format!("lock staging because {reason} {dur}"),
            ] {
                let p = nlu.parse(&text);
                assert_eq!(p.slots.environment.as_deref(), Some("staging"), "{text}");
                assert_eq!(p.slots.service, None, "{text}");
                let lock = p.slots.lock.clone().unwrap_or_default();
                assert_eq!(lock.duration.map(|d| d.as_secs()), Some(secs), "{text}");
                assert_eq!(lock.reason.as_deref(), Some(reason), "{text}");
            }
        }
    }
}

/// Letters that look Latin but are not (Cyrillic, Greek), put into service names.
fn disguised(name: &str) -> Vec<String> {
    let look_alikes = [
        ('a', 'а'),
        ('e', 'е'),
        ('o', 'о'),
        ('p', 'р'),
        ('c', 'с'),
        ('i', 'і'),
        ('b', 'Ь'),
        ('o', 'ο'),
        ('x', 'х'),
    ];
    let mut out = Vec::new();
    for (latin, other) in look_alikes {
        if let Some(at) = name.find(latin) {
            let mut s = name.to_string();
            s.replace_range(at..at + 1, &other.to_string());
            out.push(s);
        }
    }
    out
}

#[test]
fn names_that_do_not_resolve_never_widen_the_scope() {
    let nlu = nlu();
    let mut cases = 0;
    for service in [
        "billionmail",
        "auth-service",
        "wix-backend",
        "redis",
        "payments-api",
    ] {
        let mut names = disguised(service);
        names.push(format!("{service}™"));
        names.push(format!("{service}-ng"));
        names.push(format!("x{service}x"));
        for name in names {
            for verb in ["lock", "unlock", "freeze"] {
                let text = format!("{verb} {name} in staging");
                let p = nlu.parse(&text);
                let resolved = p.slots.service.is_some();
                let flagged = !p.unknown.is_empty() || !p.invalid.is_empty();
                // Either the name resolved to one service (and the question will name it), or
                // it is reported; never a lock of all of staging.
                assert!(resolved || flagged, "{text}: {p:?}");
                cases += 1;
            }
        }
    }
    assert!(cases >= 100, "{cases}");
}

#[test]
fn reasons_without_a_marker_word_never_change_the_scope() {
    let nlu = nlu();
    let mut checked = 0;
    for verb in ["lock", "freeze", "unlock"] {
        for (scope, env, service) in SCOPES {
            for brk in BREAKS {
                for reason in REASONS {
                    let text = match brk {
                        ":" | "," | ";" => format!("{verb} {scope}{brk} {reason}"),
                        "(" => format!("{verb} {scope} ({reason})"),
                        _ => format!("{verb} {scope} {brk} {reason}"),
                    };
                    let p = nlu.parse(&text);
                    assert_eq!(p.slots.environment.as_deref(), Some(env), "{text}");
                    assert_eq!(p.slots.service.as_deref(), service, "{text}");
                    assert!(p.unknown.is_empty(), "{text}: unknown {:?}", p.unknown);
                    assert!(p.services.len() <= 1, "{text}: services {:?}", p.services);
                    let got = p.slots.lock.as_ref().and_then(|l| l.reason.clone());
                    assert!(
                        got.as_deref().is_some_and(|r| r.contains(reason)),
                        "{text}: reason {got:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 3000, "{checked}");
}

/// Every word of the training data in a name's place: it resolves to a name, or it is
/// reported; it never leaves a lock of the whole environment.
#[test]
fn any_word_in_a_name_place_resolves_or_is_reported() {
    let nlu = nlu();
    let mut words = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(support::root().join("intents")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for w in text.split(|c: char| !c.is_alphanumeric() && c != '-') {
            let w = w.to_lowercase();
            if w.len() > 2 && w.chars().all(|c| c.is_ascii_lowercase()) {
                words.insert(w);
            }
        }
    }
    // Words that belong in a scope ("lock all staging deploys").
    let scope_words = [
        "lock",
        "locks",
        "locking",
        "lockdown",
        "freeze",
        "freezing",
        "frozen",
        "unlock",
        "unlocking",
        "unfreeze",
        "thaw",
        "lift",
        "remove",
        "put",
        "place",
        "set",
        "the",
        "all",
        "any",
        "every",
        "everything",
        "deploys",
        "deployments",
        "deploy",
        "deploying",
        "deployment",
        "releases",
        "rollbacks",
        "rollouts",
        "changes",
        "env",
        "environment",
        "environments",
        "service",
        "services",
        "please",
        "pls",
        "plz",
        "now",
        "immediately",
        "right",
        "asap",
        "for",
        "hey",
        "can",
        "could",
        "would",
        "you",
        "want",
        "need",
        "lets",
        "and",
        "whole",
        "entire",
        "just",
        "only",
        "deckhand",
        "half",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "ten",
        "twelve",
        "fifteen",
        "twenty",
        "thirty",
        "sec",
        "secs",
        "second",
        "seconds",
        "min",
        "mins",
        "minute",
        "minutes",
        "hour",
        "hours",
        "hrs",
        "day",
        "days",
        "week",
        "weeks",
        "wks",
    ];
    let config = config_in("examples/deckhand.yaml", &temp_dir("lock-scope-names"));
    let mut names: Vec<String> = Vec::new();
    for s in &config.services {
        names.push(s.name.clone());
        names.extend(
            s.aliases
                .iter()
                .flat_map(|a| a.split(' ').map(String::from)),
        );
    }
    for e in &config.environments {
        names.push(e.name.clone());
        names.extend(
            e.aliases
                .iter()
                .flat_map(|a| a.split(' ').map(String::from)),
        );
    }
    let mut cases = 0;
    for w in &words {
        if scope_words.contains(&w.as_str()) || names.contains(w) {
            continue;
        }
        for verb in ["lock", "unlock"] {
            let text = format!("{verb} {w} in staging");
            let p = nlu.parse(&text);
            if !matches!(p.intent, Intent::Lock | Intent::Unlock) {
                continue;
            }
            let whole_env = p.slots.environment.as_deref() == Some("staging")
                && p.slots.service.is_none()
                && p.unknown.is_empty()
                && p.invalid.is_empty()
                && p.parts.environments.len() <= 1;
            assert!(!whole_env, "{text} would {verb} all of staging: {p:?}");
            cases += 1;
        }
    }
    assert!(cases >= 500, "{cases}");
}

#[test]
fn exclusions_are_named_not_inverted() {
    let nlu = nlu();
    for text in [
        "lock staging except billionmail",
        "lock staging, not billionmail",
        "lock staging but not redis",
        "lock staging apart from redis",
        "lock staging instead of redis",
        "lock staging excluding redis",
        "lock staging without redis",
    ] {
        let p = nlu.parse(text);
        assert_eq!(p.slots.service, None, "{text}");
        assert!(!p.parts.excluded.is_empty(), "{text}: {:?}", p.parts);
    }
}
