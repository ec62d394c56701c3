//! Migrations compiled into the binary, one list per backend (the SQL files stay the source).

use super::Backend;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "core",
        include_str!("../../migrations/sqlite/0001_core.sql"),
    ),
    (
        2,
        "governance",
        include_str!("../../migrations/sqlite/0002_governance.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "core",
        include_str!("../../migrations/postgres/0001_core.sql"),
    ),
    (
        2,
        "governance",
        include_str!("../../migrations/postgres/0002_governance.sql"),
    ),
];

/// The migrator for a backend.
pub fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let migrations = list
        .iter()
        .map(|(v, d, sql)| {
            Migration::new(
                *v,
                Cow::Borrowed(*d),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}
