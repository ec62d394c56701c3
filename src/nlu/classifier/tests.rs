//! Classes of messages without known vocabulary never carry an intent; typos of commands
//! beside known words still do.

use super::within_edits;
use crate::config::Config;
use crate::nlu::{training, Intent, Nlu};
use std::collections::HashSet;
use std::sync::OnceLock;

fn nlu() -> &'static Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
        Nlu::new(&Config::load(&path).unwrap()).unwrap()
    })
}

/// Every training example, lowercased: a generated message equal to one is known text.
fn examples() -> &'static HashSet<String> {
    static EX: OnceLock<HashSet<String>> = OnceLock::new();
    EX.get_or_init(|| {
        training::load_examples(None)
            .unwrap()
            .into_iter()
            .map(|e| e.text.to_lowercase())
            .collect()
    })
}

/// Deterministic xorshift, so a failure names a reproducible message.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn random_word(rng: &mut Rng, alphabet: &[char], min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    (0..len)
        .map(|_| alphabet[rng.below(alphabet.len())])
        .collect()
}

fn assert_no_intent(class: &str, messages: &[String]) {
    let nlu = nlu();
    let mut checked = 0;
    for m in messages {
        if examples().contains(&m.to_lowercase()) {
            continue;
        }
        let p = nlu.parse(m);
        assert_eq!(
            p.intent,
            Intent::None,
            "{class}: {m:?} read as {:?} ({:.2})",
            p.intent,
            p.confidence
        );
        checked += 1;
    }
    assert!(
        checked * 10 >= messages.len() * 9,
        "{class}: too few checked"
    );
}

#[test]
fn random_strings_of_any_length_carry_no_intent() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let letters: Vec<char> = ('a'..='z').collect();
    let mut messages = Vec::new();
    for i in 0..600 {
        // One to four words mostly, and some long runs: length alone is no evidence.
        let words = if i % 10 == 0 {
            20 + rng.below(300)
        } else {
            1 + rng.below(4)
        };
        let msg: Vec<String> = (0..words)
            .map(|_| random_word(&mut rng, &letters, 4, 11))
            .collect();
        messages.push(msg.join(" "));
    }
    assert_no_intent("random strings", &messages);
}

#[test]
fn keyboard_mashes_carry_no_intent() {
    let rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"];
    let mut rng = Rng(0x5EED_1234_ABCD_0002);
    let mut messages = Vec::new();
    for _ in 0..300 {
        let row: Vec<char> = rows[rng.below(rows.len())].chars().collect();
        let start = rng.below(row.len() - 3);
        let run: String = row[start..(start + 3 + rng.below(row.len() - start - 2)).min(row.len())]
            .iter()
            .collect();
        let repeat = 1 + rng.below(3);
        let mashed = run.repeat(repeat);
        messages.push(if rng.below(2) == 0 {
            mashed.to_uppercase()
        } else {
            mashed
        });
    }
    for m in [
        "jkjk",
        "jkjkjk",
        "asdf asdf",
        "hjkl",
        "sdfsdfsdf",
        "xD",
        "xDDD",
        "kekw",
    ] {
        messages.push(m.to_string());
    }
    assert_no_intent("keyboard mashes", &messages);
}

#[test]
fn emoji_numbers_and_single_letters_carry_no_intent() {
    let mut messages: Vec<String> = [
        "🤷",
        "🤔",
        "😬",
        "🙃",
        "🫠",
        "🤷‍♂️",
        "🤷🏽‍♀️",
        "😅😅",
        "🔥",
        "🎉🎉🎉",
        "👀",
        "💀",
        "🙈",
        "🤡",
        "🥲",
        "😐",
        "🧐",
        "🐙",
        "🍕",
        "☕",
        "⚠️",
        "‼️",
        "🤷 🤔",
        "...",
        "¯\\_(ツ)_/¯",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rng = Rng(0x5EED_1234_ABCD_0003);
    for n in 0..120 {
        messages.push(n.to_string());
        messages.push(format!("{}", rng.next() % 1_000_000_007));
    }
    for n in [
        "-1000",
        "3.14",
        "0.5",
        "1e9",
        "10000000000000000000000",
        "1,000",
        "007",
    ] {
        messages.push(n.to_string());
    }
    for c in ('a'..='z').chain('A'..='Z') {
        messages.push(c.to_string());
    }
    // One long token (longer than any typo check) and a message at the length bound.
    messages.push("x".repeat(4000));
    messages.push("deployyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy".to_string());
    assert_no_intent("emoji, numbers, letters", &messages);
}

#[test]
fn other_scripts_and_languages_carry_no_intent() {
    // "No", "yes", "maybe", "deploy" and everyday words in scripts the training data does
    // not have: an intent needs vocabulary Deckhand was taught.
    let words = [
        "нет",
        "да",
        "Nein",
        "Ja",
        "nee",
        "いいえ",
        "はい",
        "لا",
        "نعم",
        "ربما",
        "不",
        "是",
        "好",
        "部署",
        "回滚",
        "没有",
        "아니요",
        "네",
        "ไม่",
        "ใช่",
        "नहीं",
        "हाँ",
        "לא",
        "כן",
        "όχι",
        "ναι",
        "hayır",
        "evet",
        "nie",
        "tak",
        "não",
        "sim",
        "ne",
        "igen",
        "nem",
        "tidak",
        "ya",
        "vielleicht",
        "bitte",
        "danke",
        "merci",
        "gracias",
        "jamais",
        "nunca",
        "peut-être",
        "развернуть",
        "откатить",
        "デプロイ",
        "ロールバック",
        "承認",
        "拒否",
    ];
    let mut messages: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let mut rng = Rng(0x5EED_1234_ABCD_0004);
    let scripts: [&[char]; 5] = [
        &[
            'а', 'б', 'в', 'г', 'д', 'е', 'ж', 'з', 'и', 'к', 'л', 'м', 'н', 'о', 'п', 'р',
        ],
        &[
            '的', '一', '是', '不', '了', '人', '我', '在', '有', '他', '这', '中',
        ],
        &[
            'ا', 'ب', 'ت', 'ث', 'ج', 'ح', 'خ', 'د', 'ر', 'س', 'ل', 'م', 'ن', 'ي',
        ],
        &[
            'あ', 'い', 'う', 'え', 'お', 'か', 'き', 'く', 'さ', 'し', 'た', 'な',
        ],
        &['α', 'β', 'γ', 'δ', 'ε', 'ζ', 'η', 'θ', 'ι', 'κ', 'λ', 'μ'],
    ];
    for _ in 0..250 {
        let script = scripts[rng.below(scripts.len())];
        let n = 1 + rng.below(3);
        let msg: Vec<String> = (0..n)
            .map(|_| random_word(&mut rng, script, 1, 6))
            .collect();
        messages.push(msg.join(" "));
    }
    assert!(messages.len() >= 300);
    assert_no_intent("other scripts", &messages);
}

#[test]
fn function_words_around_unknown_words_are_no_evidence() {
    let mut rng = Rng(0x5EED_1234_ABCD_0005);
    let letters: Vec<char> = ('a'..='z').collect();
    let glue = [
        "the", "to", "a", "in", "it", "is", "please", "this", "my", "for", "of",
    ];
    let mut messages = Vec::new();
    for _ in 0..200 {
        let w1 = random_word(&mut rng, &letters, 5, 9);
        let w2 = random_word(&mut rng, &letters, 5, 9);
        messages.push(format!("{} {w1} {} {w2}", rng.pick(&glue), rng.pick(&glue)));
    }
    for m in [
        "unsure",
        "idk",
        "whoami",
        "jkjk",
        "the unsure",
        "it is unsure",
        "xD please",
    ] {
        messages.push(m.to_string());
    }
    assert_no_intent("function words", &messages);
}

#[test]
fn unknown_words_sharing_letters_with_answers_are_not_answers() {
    // They share character n-grams with yes/no words but are not one edit from them.
    for m in [
        "unsure",
        "ensured",
        "yesterday",
        "yessir",
        "okayish",
        "nowhere",
        "nobody",
        "nothing",
        "surely not",
        "goahead",
        "approvingly",
        "deployable?",
        "unsure tbh",
    ] {
        let p = nlu().parse(m);
        assert!(
            !matches!(p.intent, Intent::Affirm) && !p.intent.is_action(),
            "{m:?} read as {:?} ({:.2})",
            p.intent,
            p.confidence
        );
    }
}

#[test]
fn typos_of_commands_beside_known_words_still_work() {
    let nlu = nlu();
    for (m, intent, service) in [
        (
            "plz deplyo bilionmail to prodcution",
            Intent::Deploy,
            "billionmail",
        ),
        ("depoly redis to staging", Intent::Deploy, "redis"),
        ("please deploi wix to dev", Intent::Deploy, "wix-backend"),
        ("rollbak redis in staging", Intent::Rollback, "redis"),
        (
            "rollbakc billionmail on prod",
            Intent::Rollback,
            "billionmail",
        ),
        ("statsu of billionmail", Intent::Status, "billionmail"),
    ] {
        let p = nlu.parse(m);
        assert_eq!(p.intent, intent, "{m:?}: {p:?}");
        assert_eq!(p.slots.service.as_deref(), Some(service), "{m:?}");
    }
}

#[test]
fn edit_distance_is_bounded_and_counts_swaps() {
    let c = |s: &str| s.chars().collect::<Vec<_>>();
    assert!(within_edits(&c("deplyo"), &c("deploy"), 1));
    assert!(within_edits(&c("dpeloy"), &c("deploy"), 1));
    assert!(!within_edits(&c("unsure"), &c("sure"), 1));
    assert!(within_edits(&c("unsure"), &c("sure"), 2));
    assert!(!within_edits(&c("abcdef"), &c("uvwxyz"), 2));
    let long = "a".repeat(40);
    assert!(!within_edits(&c(&long), &c(&long), 2), "too long to check");
}
