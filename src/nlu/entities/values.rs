//! Slot values that are not names: versions (as typed, refused with junk glued on),
//! percents and strategies.

use super::version::{self, parse_version};
use super::{Scan, SlotKind};
use crate::config::Strategy;

/// Versions with something glued to them (`1.0;id`) are refused, naming them: the tokens of
/// their chunk are neither a version nor anything else.
pub(super) fn refuse_glued_versions(scan: &mut Scan) {
    let mut i = 0;
    while i < scan.tokens.len() {
        let tok = &scan.tokens[i];
        let junk = (!scan.taken[i] && tok.text.bytes().any(|b| b.is_ascii_digit()))
            .then(|| version::glued_junk(scan.text, tok))
            .flatten();
        let Some(chunk) = junk else {
            i += 1;
            continue;
        };
        // The chunk's tokens are contiguous: each chunk is walked once.
        let (mut a, mut b) = (i, i + 1);
        while a > 0 && scan.tokens[a - 1].chunk == tok.chunk {
            a -= 1;
        }
        while b < scan.tokens.len() && scan.tokens[b].chunk == tok.chunk {
            b += 1;
        }
        for flag in &mut scan.taken[a..b] {
            *flag = true;
        }
        scan.out.invalid.push(version::junk_message(chunk));
        scan.out.refused_versions.push(a..b);
        i = b;
    }
}

/// Versions and shas, as typed.
pub(super) fn versions(scan: &mut Scan) {
    for i in 0..scan.tokens.len() {
        if !scan.taken[i] {
            if let Some(v) = parse_version(&scan.text[scan.tokens[i].span.clone()]) {
                scan.push(SlotKind::Version, v, i..i + 1, false);
            }
        }
    }
}

/// Percents: "5%", "10 percent", "10 pct"; "150%" is invalid.
pub(super) fn percents(scan: &mut Scan) {
    let n = scan.words.len();
    for i in 0..n {
        if scan.taken[i] {
            continue;
        }
        let w = scan.words[i];
        let unit_next =
            i + 1 < n && matches!(scan.words[i + 1], "percent" | "pct" | "%" | "per-cent");
        if let Some(p) = w.strip_suffix('%').and_then(parse_percent) {
            scan.push(SlotKind::Percent, p, i..i + 1, false);
        } else if let Some(p) = parse_percent(w).filter(|_| unit_next && !scan.taken[i + 1]) {
            scan.push(SlotKind::Percent, p, i..i + 2, false);
        }
    }
    for i in 0..n {
        let digits = scan.words[i].strip_suffix('%').or_else(|| {
            (i + 1 < n && matches!(scan.words[i + 1], "percent" | "pct")).then_some(scan.words[i])
        });
        if let Some(d) = digits
            .filter(|d| !scan.taken[i] && !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        {
            scan.out.invalid.push(format!(
                "{d}% is not a valid canary percentage; use 1 to 100."
            ));
            scan.taken[i] = true;
        }
    }
}

/// Strategies (two-word "blue green" included).
pub(super) fn strategies(scan: &mut Scan) {
    let n = scan.words.len();
    // Computed once: "direct" asks for this per occurrence.
    let deploy_talk = scan
        .words
        .iter()
        .any(|w| matches!(*w, "deploy" | "rollout" | "strategy"));
    for i in 0..n {
        if scan.taken[i] {
            continue;
        }
        if i + 1 < n
            && !scan.taken[i + 1]
            && scan.words[i] == "blue"
            && scan.words[i + 1] == "green"
        {
            scan.push(SlotKind::Strategy, "blue-green".into(), i..i + 2, false);
        } else if let Some(s) = parse_strategy(scan.words[i]).filter(|s| {
            *s != Strategy::Direct || direct_means_strategy(&scan.words, i, deploy_talk)
        }) {
            scan.push(SlotKind::Strategy, s.as_str().into(), i..i + 1, false);
        }
    }
}

fn parse_percent(w: &str) -> Option<String> {
    let n: u32 = w.parse().ok()?;
    (1..=100).contains(&n).then(|| n.to_string())
}

/// "direct" is also an everyday word ("direct message me"): a strategy only next to deploy words.
fn direct_means_strategy(words: &[&str], i: usize, deploy_talk: bool) -> bool {
    const NEAR: [&str; 12] = [
        "deploy",
        "deploys",
        "deployment",
        "rollout",
        "release",
        "strategy",
        "ship",
        "push",
        "use",
        "with",
        "go",
        "no",
    ];
    words.len() <= 2
        || (i > 0 && NEAR.contains(&words[i - 1]))
        || (i + 1 < words.len() && NEAR.contains(&words[i + 1]))
        || deploy_talk
}

fn parse_strategy(w: &str) -> Option<Strategy> {
    match w {
        "direct" => Some(Strategy::Direct),
        "canary" | "canaried" | "canarying" => Some(Strategy::Canary),
        "blue-green" | "blue/green" | "bluegreen" | "blue_green" => Some(Strategy::BlueGreen),
        _ => None,
    }
}
