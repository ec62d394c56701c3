//! The one gate for tests that need PostgreSQL. Locally, without `DECKHAND_TEST_POSTGRES_URL`,
//! such a test is skipped with a visible note; in CI (`CI` set) the missing variable is a
//! failure, so a misconfigured pipeline cannot report the PostgreSQL variants green.
#![allow(dead_code)]

use deckhand::store::testing::{self, TestStore, POSTGRES_ENV};
use std::io::Write;

/// Whether this run is a CI run (`CI` set and not empty, as CI services and `.ci/run` set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty())
}

/// The admin PostgreSQL URL for `test`, or None (after a note) when it is not configured
/// locally. Panics in CI when it is not configured.
pub fn admin_url(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if in_ci() => panic!(
            "{test}: {POSTGRES_ENV} is not set but CI is; the PostgreSQL tests must run in CI"
        ),
        _ => {
            // Straight to stderr: libtest hides `eprintln!` of passing tests, and a skip that
            // nobody sees is the silent pass this gate exists to end.
            let _ = writeln!(
                std::io::stderr(),
                "note: {POSTGRES_ENV} is not set; {test} skipped on PostgreSQL"
            );
            None
        }
    }
}

/// A fresh PostgreSQL store for `test` (see [`admin_url`] for when there is none).
pub async fn store(test: &str) -> Option<TestStore> {
    admin_url(test)?;
    let store = testing::postgres().await;
    assert!(
        store.is_some(),
        "{test}: {POSTGRES_ENV} is set but no store opened"
    );
    store
}
