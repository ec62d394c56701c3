//! Test support: a fresh store per test on SQLite and, when `DECKHAND_TEST_POSTGRES_URL` is
//! set, on a throw-away PostgreSQL database created from that server.

use super::{Store, StoreError};
use sqlx::{AnyConnection, Connection};
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable naming an admin PostgreSQL URL (e.g. `postgres://postgres@127.0.0.1:5432/test`).
pub const POSTGRES_ENV: &str = "DECKHAND_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A store used by one test, plus what is needed to clean it up.
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// URL of the store's database.
    pub url: String,
    admin_url: Option<String>,
    db_name: Option<String>,
    dir: Option<std::path::PathBuf>,
}

impl TestStore {
    /// Drops the PostgreSQL database (SQLite files go with their temp dir).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let (Some(admin), Some(db)) = (self.admin_url, self.db_name) {
            if let Ok(mut conn) = AnyConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

/// A fresh SQLite store in a temp dir.
pub async fn sqlite() -> Result<TestStore, StoreError> {
    let dir = std::env::temp_dir().join(format!(
        "deckhand-store-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        super::now_ms()
    ));
    let url = format!("sqlite://{}/deckhand.db?mode=rwc", dir.display());
    Ok(TestStore {
        store: Store::open(&url).await?,
        backend: "sqlite",
        url,
        admin_url: None,
        db_name: None,
        dir: Some(dir),
    })
}

/// A fresh PostgreSQL database, or None when `DECKHAND_TEST_POSTGRES_URL` is unset.
pub async fn postgres() -> Option<TestStore> {
    let admin = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
    sqlx::any::install_default_drivers();
    let name = format!(
        "deckhand_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        super::now_ms() % 1_000_000
    );
    let mut conn = AnyConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base}/{name}");
    let store = Store::open(&url).await.expect("open test database");
    Some(TestStore {
        store,
        backend: "postgres",
        url,
        admin_url: Some(admin),
        db_name: Some(name),
        dir: None,
    })
}

/// Every backend available to this test run: SQLite always, PostgreSQL when configured.
pub async fn all() -> Vec<TestStore> {
    let mut out = vec![sqlite().await.expect("sqlite test store")];
    if let Some(pg) = postgres().await {
        out.push(pg);
    } else if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
        panic!("{POSTGRES_ENV} is not set but CI is; the PostgreSQL variants must run in CI");
    } else {
        eprintln!("note: {POSTGRES_ENV} is not set; PostgreSQL variant skipped");
    }
    out
}
