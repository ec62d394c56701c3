//! Migrations compiled into the binary, one list per backend (the SQL files stay the source).

use super::Backend;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

type Migrations = &'static [(i64, &'static str, &'static str)];

const SQLITE: Migrations = &[
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
    (
        3,
        "run owner",
        include_str!("../../migrations/sqlite/0003_run_owner.sql"),
    ),
    (
        4,
        "delivered events",
        include_str!("../../migrations/sqlite/0004_delivered_events.sql"),
    ),
    (
        5,
        "bot threads",
        include_str!("../../migrations/sqlite/0005_bot_threads.sql"),
    ),
    (
        6,
        "live releases",
        include_str!("../../migrations/sqlite/0006_live_releases.sql"),
    ),
    (
        7,
        "approval command",
        include_str!("../../migrations/sqlite/0007_approval_command.sql"),
    ),
    (
        8,
        "lock windows",
        include_str!("../../migrations/sqlite/0008_lock_windows.sql"),
    ),
    (
        9,
        "schedules",
        include_str!("../../migrations/sqlite/0009_schedules.sql"),
    ),
    (
        10,
        "schedule jobs",
        include_str!("../../migrations/sqlite/0010_schedule_jobs.sql"),
    ),
    (
        11,
        "plans",
        include_str!("../../migrations/sqlite/0011_plans.sql"),
    ),
    (
        12,
        "plan step times",
        include_str!("../../migrations/sqlite/0012_plan_step_times.sql"),
    ),
    (
        13,
        "plan heartbeat",
        include_str!("../../migrations/sqlite/0013_plan_heartbeat.sql"),
    ),
];
const POSTGRES: Migrations = &[
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
    (
        3,
        "run owner",
        include_str!("../../migrations/postgres/0003_run_owner.sql"),
    ),
    (
        4,
        "delivered events",
        include_str!("../../migrations/postgres/0004_delivered_events.sql"),
    ),
    (
        5,
        "bot threads",
        include_str!("../../migrations/postgres/0005_bot_threads.sql"),
    ),
    (
        6,
        "live releases",
        include_str!("../../migrations/postgres/0006_live_releases.sql"),
    ),
    (
        7,
        "approval command",
        include_str!("../../migrations/postgres/0007_approval_command.sql"),
    ),
    (
        8,
        "lock windows",
        include_str!("../../migrations/postgres/0008_lock_windows.sql"),
    ),
    (
        9,
        "schedules",
        include_str!("../../migrations/postgres/0009_schedules.sql"),
    ),
    (
        10,
        "schedule jobs",
        include_str!("../../migrations/postgres/0010_schedule_jobs.sql"),
    ),
    (
        11,
        "plans",
        include_str!("../../migrations/postgres/0011_plans.sql"),
    ),
    (
        12,
        "plan step times",
        include_str!("../../migrations/postgres/0012_plan_step_times.sql"),
    ),
    (
        13,
        "plan heartbeat",
        include_str!("../../migrations/postgres/0013_plan_heartbeat.sql"),
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

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_the_same_migrations() {
        let names = |l: super::Migrations| l.iter().map(|(v, d, _)| (*v, *d)).collect::<Vec<_>>();
        assert_eq!(names(super::SQLITE), names(super::POSTGRES));
    }
}
