//! Conformance with real Slack signing vectors from `../shared/fixtures/platform/slack/signing/`
//! (skipped when that folder is absent): each valid vector verifies with the clock pinned to its
//! timestamp, fails as stale with the real clock, and every negative case from its source fails.

use deckhand::adapters::slack::signature::{SignatureError, SlackVerifier};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/platform/slack/signing");
    d.is_dir().then_some(d)
}

#[test]
fn slack_signing_vectors_verify_as_documented() {
    let Some(dir) = dir() else {
        eprintln!("note: ../shared/fixtures/platform/slack/signing not found; skipped");
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".vector.json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let secret = v["signing_secret"].as_str().unwrap();
        let ts = v["X-Slack-Request-Timestamp"].as_str().unwrap();
        let sig = v["X-Slack-Signature"].as_str().unwrap();
        let body = std::fs::read(dir.join(v["body_file"].as_str().unwrap())).unwrap();
        let pinned: i64 = ts.parse().unwrap();
        let verifier = SlackVerifier::new(secret);
        assert_eq!(
            verifier.verify(Some(ts), Some(sig), &body, pinned),
            Ok(()),
            "{}",
            path.display()
        );
        assert_eq!(verifier.sign(ts, &body), sig, "{}", path.display());
        let now = deckhand::clock::now_ms() / 1000;
        assert!(
            matches!(
                verifier.verify(Some(ts), Some(sig), &body, now),
                Err(SignatureError::Stale { .. })
            ),
            "{}: real clock must see a stale request",
            path.display()
        );
        for case in v["negative_cases_from_source"].as_array().unwrap() {
            let secret = case["signing_secret"].as_str().unwrap_or(secret);
            let sig = case["X-Slack-Signature"].as_str().unwrap_or(sig);
            let mut body = match case["body_file"].as_str() {
                Some(f) => std::fs::read(dir.join(f)).unwrap(),
                None => body.clone(),
            };
            let what = case["what"].as_str().unwrap_or_default();
            if what.contains("appended") {
                body.extend_from_slice(b"------");
            }
            let now = if what.contains("real current clock") {
                deckhand::clock::now_ms() / 1000
            } else {
                pinned
            };
            let result = SlackVerifier::new(secret).verify(Some(ts), Some(sig), &body, now);
            assert!(result.is_err(), "{}: {case} verified", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "expected the documented negative cases, checked {checked}"
    );
}
