//! `read_order`: phrasings generated per wish kind over every name of a plan.

use deckhand::plan::{read_order, OrderError, OrderWish};

const NAMES: &[&str] = &["redis", "billionmail", "wix-backend"];

fn first(n: &str) -> OrderWish {
    OrderWish::First(n.to_string())
}
fn last(n: &str) -> OrderWish {
    OrderWish::Last(n.to_string())
}
fn before(a: &str, b: &str) -> OrderWish {
    OrderWish::Before(a.to_string(), b.to_string())
}
fn seq(names: &[&str]) -> OrderWish {
    OrderWish::Sequence(names.iter().map(|n| n.to_string()).collect())
}
fn missing(word: &str) -> Result<Vec<OrderWish>, OrderError> {
    Err(OrderError::NotInPlan(word.to_string()))
}

/// Fills `{}` (or `{a}`/`{b}`) and also yields an upper-cased and a shouted variant, since case
/// and surrounding punctuation must not matter.
fn variants(text: &str) -> Vec<String> {
    vec![
        text.to_string(),
        text.to_uppercase(),
        format!("{text}!"),
        format!("{text}."),
    ]
}

fn check(text: &str, expected: &[OrderWish]) {
    for t in variants(text) {
        assert_eq!(read_order(&t, NAMES), Ok(expected.to_vec()), "text: {t:?}");
    }
}

const FIRST: &[&str] = &[
    "{} first",
    "yes but {} first",
    "Yes, {} first please",
    "do {} first",
    "start with {}",
    "starting with {}",
    "begin with {}",
    "{} goes first",
    "{} should go first",
    "{} has to be the first",
    "first {}",
    "first, {}",
    "first deploy {}",
    "ok. {} first",
    "{}, and it should be deployed first",
    "{} before everything else",
    "{} before all the others",
    "no, {} first",
    "first of all, {} first",
    "{} and then everything else",
    "ok, but before that, {}",
];

#[test]
fn first_phrasings() {
    for template in FIRST {
        for name in NAMES {
            check(&template.replace("{}", name), &[first(name)]);
        }
    }
}

const LAST: &[&str] = &[
    "{} last",
    "yes, {} last",
    "do {} last",
    "finish with {}",
    "end with {}",
    "ending with {}",
    "{} goes last",
    "{} should be the last one",
    "last {}",
    "{} after everything else",
    "{} after the rest",
];

#[test]
fn last_phrasings() {
    for template in LAST {
        for name in NAMES {
            check(&template.replace("{}", name), &[last(name)]);
        }
    }
}

const BEFORE: &[&str] = &[
    "{a} before {b}",
    "{b} after {a}",
    "{a} then {b}",
    "{a}, then {b}",
    "{a} and then {b}",
    "{a}, and then {b}",
    "do {a} before {b}",
    "{a} should go before {b}",
    "deploy {b} after {a} please",
    "yes but {a} before {b}",
    "{a} -> {b}",
    "{a}->{b}",
    "{a} → {b}",
    "{a}, after that {b}",
    "{a} followed by {b}",
    "{b}, but before that {a}",
    "{a} is fine, then {b}",
];

#[test]
fn before_phrasings_over_every_ordered_pair() {
    for template in BEFORE {
        for a in NAMES {
            for b in NAMES.iter().filter(|b| *b != a) {
                let text = template.replace("{a}", a).replace("{b}", b);
                check(&text, &[before(a, b)]);
            }
        }
    }
}

fn permutations(items: &[&'static str]) -> Vec<Vec<&'static str>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let head = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, head);
            all.push(tail);
        }
    }
    all
}

const SEQUENCE: &[&str] = &[
    "in this order: {0}, {1}, {2}",
    "in this order {0} {1} {2}",
    "yes, in the following order: {0}, {1} and {2}",
    "{0}, {1} and {2} in that order",
    "{0}, {1}, {2}, in that order please",
    "please deploy {0} {1} {2} in this order",
    "I want {0}, {1}, {2} in that order",
    "{0}, {1} and {2} in order",
];

#[test]
fn sequence_phrasings_over_every_permutation() {
    for template in SEQUENCE {
        for p in permutations(NAMES) {
            let text = template
                .replace("{0}", p[0])
                .replace("{1}", p[1])
                .replace("{2}", p[2]);
            check(&text, &[seq(&p)]);
        }
    }
}

#[test]
fn sequence_with_then_also_gives_the_pairs() {
    let got = read_order(
        "in this order: redis, then billionmail, then wix-backend",
        NAMES,
    );
    let expected = vec![
        seq(&["redis", "billionmail", "wix-backend"]),
        before("redis", "billionmail"),
        before("billionmail", "wix-backend"),
    ];
    assert_eq!(got, Ok(expected));
}

#[test]
fn text_without_order_words_has_no_wishes() {
    let texts = [
        "",
        "   ",
        "yes",
        "yes please",
        "ok",
        "OK!",
        "sure, go ahead",
        "looks good, ship it",
        "yep",
        "Yes.",
        "do it",
        "redis",
        "redis and billionmail",
        "first of all, thanks",
        "at last!",
        "after all, yes",
        "is everything in order?",
        "deploy in order to test",
        "by then it should be fine",
        "ok then",
        "then go",
        "lunch, then coffee",
        "last time it broke",
        "don't do redis first",
        "redis not last",
        "never put billionmail before redis",
        "in this order",
        "do them in the order listed",
    ];
    for text in texts {
        assert_eq!(read_order(text, NAMES), Ok(vec![]), "text: {text:?}");
    }
}

#[test]
fn unknown_names_in_order_requests_are_errors() {
    let texts = [
        "postgres first",
        "Postgres first!",
        "yes but postgres first",
        "do postgres first",
        "start with postgres",
        "first postgres",
        "postgres last",
        "finish with postgres",
        "redis before postgres",
        "postgres before redis",
        "postgres after redis",
        "redis then postgres",
        "postgres, then redis",
        "postgres -> redis",
        "in this order: redis, postgres, billionmail",
        "in this order: postgres, redis",
        "redis, postgres and billionmail in that order",
        "postgres before mysql",
        "redis and postgres before billionmail",
        "billionmail after redis and postgres",
        "postgres and redis first",
    ];
    for text in texts {
        assert_eq!(
            read_order(text, NAMES),
            missing("postgres"),
            "text: {text:?}"
        );
    }
}

#[test]
fn hyphenated_names_are_whole_words() {
    let names = ["wix-backend", "wix-frontend", "redis"];
    let got = read_order("wix-frontend first, then wix-backend", &names);
    let expected = vec![first("wix-frontend"), before("wix-frontend", "wix-backend")];
    assert_eq!(got, Ok(expected));
    // A prefix of a hyphenated name is not that name.
    assert_eq!(read_order("wix first", &names), missing("wix"));
    assert_eq!(read_order("backend last", &names), missing("backend"));
    // Quotes and dashes around a name are punctuation.
    assert_eq!(
        read_order("'wix-backend' last", &names),
        Ok(vec![last("wix-backend")])
    );
    assert_eq!(
        read_order("-redis- first", &names),
        Ok(vec![first("redis")])
    );
}

#[test]
fn several_cues_in_one_message() {
    let got = read_order("Yes, but redis first and wix-backend last.", NAMES);
    assert_eq!(got, Ok(vec![first("redis"), last("wix-backend")]));
    let got = read_order("first redis, then billionmail", NAMES);
    assert_eq!(
        got,
        Ok(vec![first("redis"), before("redis", "billionmail")])
    );
    let got = read_order("redis first. billionmail after wix-backend", NAMES);
    assert_eq!(
        got,
        Ok(vec![first("redis"), before("wix-backend", "billionmail")])
    );
    let got = read_order("redis then billionmail then wix-backend", NAMES);
    let expected = vec![
        before("redis", "billionmail"),
        before("billionmail", "wix-backend"),
    ];
    assert_eq!(got, Ok(expected));
}

#[test]
fn groups_of_names_around_a_cue() {
    let got = read_order("redis and billionmail before wix-backend", NAMES);
    let expected = vec![
        before("redis", "wix-backend"),
        before("billionmail", "wix-backend"),
    ];
    assert_eq!(got, Ok(expected));
    let got = read_order("wix-backend after redis and billionmail", NAMES);
    assert_eq!(
        got,
        Ok(vec![
            before("redis", "wix-backend"),
            before("billionmail", "wix-backend")
        ])
    );
    // A comma-only list in front of "then" is a chain; one joined by "and" is not.
    let got = read_order("redis, billionmail, then wix-backend", NAMES);
    let expected = vec![
        before("redis", "billionmail"),
        before("billionmail", "wix-backend"),
    ];
    assert_eq!(got, Ok(expected));
    let got = read_order("redis and billionmail, then wix-backend", NAMES);
    assert_eq!(
        got,
        Ok(vec![
            before("redis", "wix-backend"),
            before("billionmail", "wix-backend")
        ])
    );
    // Two names "first" both precede every other service.
    let got = read_order("redis and billionmail first", NAMES);
    let expected = vec![
        before("redis", "wix-backend"),
        before("billionmail", "wix-backend"),
    ];
    assert_eq!(got, Ok(expected));
}

#[test]
fn a_wish_said_twice_is_returned_once() {
    let got = read_order("redis first. yes, redis first!", NAMES);
    assert_eq!(got, Ok(vec![first("redis")]));
}
