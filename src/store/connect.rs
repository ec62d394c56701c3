//! Reading a store URL and setting up each SQLite connection.

use super::checkpoints;
use sqlx::AnyConnection;

/// The file path of a `sqlite:` URL (empty for an unnamed in-memory database).
pub fn sqlite_path(url: &str) -> &str {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or_default()
}

/// Whether a SQLite URL names a private in-memory database (no file, no log to checkpoint).
pub fn sqlite_in_memory(url: &str) -> bool {
    let path = sqlite_path(url);
    path.is_empty() || path.contains(":memory:")
}

/// The URL with a password hidden (postgres://user:secret@host/db), for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The settings of every SQLite connection.
pub async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut *conn)
        .await?;
    // WAL's recommended durability: a commit is written to the WAL without an fsync
    // (checkpoints sync), so an application crash loses nothing and nothing is ever corrupted;
    // only an OS crash or power loss can undo the commits since the last checkpoint. With FULL
    // (the default) every commit waits for an fsync, which held every writer (the audit log's
    // head row above all) to ~470 commits/s on the 2-core VM (README, "Performance").
    sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut *conn)
        .await?;
    // Checkpoints run in the background (src/store/checkpoints.rs); this is only the safety net.
    sqlx::query(&format!(
        "PRAGMA wal_autocheckpoint = {}",
        checkpoints::SAFETY_NET_PAGES
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query("PRAGMA busy_timeout = 5000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
