//! Persistence: runs, stage results and deployments, in SQLite (default) or PostgreSQL.
//!
//! One implementation over sqlx's `Any` driver; SQL is written to run unchanged on both
//! (`$n` parameters, integers for times and flags). Schemas live in `migrations/<backend>/`
//! and are applied at start-up.

mod audit;
mod builds;
mod checkpoints;
mod connect;
mod governance;
mod group;
mod listing;
mod live;
mod locks;
mod marks;
mod metrics;
mod migrate;
mod plans;
mod records;
mod schedules;
#[doc(hidden)]
pub mod testing;

pub use audit::{AuditRow, NewAuditEntry};
pub use builds::BuildRecord;
use connect::{redact, sqlite_in_memory, sqlite_path, sqlite_pragmas};
pub use governance::{
    ApprovalRecord, ApprovalStatus, Decision, DecisionRecord, DeployOutcome, NewApproval,
};
pub use group::{BatchWrite, GroupCommit};
pub use listing::RunFilter;
pub use locks::LockRecord;
pub use metrics::{FinishedRun, PendingSummary, SchemaState, TargetValue};
pub use plans::{NewStep, PlanRecord, PlanStatus, StepRecord, StepStatus};
pub use records::{Action, Deployment, NewRun, RunRecord, StageRecord};
pub use schedules::{FireOutcome, NewSchedule, ScheduleKind, ScheduleRecord};

use crate::origin::ThreadKey;
use crate::pipeline::RunStatus;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database.
    #[error("unsupported store URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot open the store at {url}: {source}")]
    Open {
        /// URL without credentials.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// Applying the schema failed.
    #[error("cannot apply the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Another run is already in progress for the same service and environment.
    #[error("run {} is already in progress for {} in {}", .0.id, .0.service, .0.environment)]
    Busy(Box<RunRecord>),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A group write failed in a way that leaves unknown whether it was committed (the
    /// connection broke, the server shut down), so it is not tried again.
    #[error("database error in a group write (whether it was saved is unknown): {0}")]
    Unconfirmed(String),
}

pub use crate::clock::now_ms;

/// A run whose heartbeat is older than this is considered abandoned by its owner.
pub const RUN_LEASE_MS: i64 = 90_000;

/// This process as a run owner: `host:pid`.
pub fn instance_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let host = if ok {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown-host".to_string()
    };
    format!("{host}:{}", std::process::id())
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Delivery claims and thread joins, written in groups.
    marks: std::sync::Arc<marks::Marks>,
    /// Background WAL checkpoints (a SQLite file only).
    checkpoints: Option<std::sync::Arc<checkpoints::Checkpoints>>,
}

impl Store {
    /// Connects (creating a SQLite file and its folder if needed) and applies migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            let path = sqlite_path(url);
            let in_memory = sqlite_in_memory(url);
            if !in_memory {
                if let Some(dir) = std::path::Path::new(path).parent() {
                    std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
                }
            }
            // A private in-memory database exists per connection, so keep exactly one.
            options = options
                .max_connections(if in_memory { 1 } else { 4 })
                .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)));
        } else {
            options = options.max_connections(8);
        }
        let pool = options.connect(url).await.map_err(open_err)?;
        migrate::migrator(backend).run(&pool).await?;
        let checkpoints = (backend == Backend::Sqlite && !sqlite_in_memory(url))
            .then(std::sync::Arc::<checkpoints::Checkpoints>::default);
        let marks = std::sync::Arc::new(marks::Marks::new(pool.clone(), checkpoints.clone()));
        Ok(Store {
            pool,
            backend,
            marks,
            checkpoints,
        })
    }

    /// Opens a store that already exists, creating nothing: `None` when the SQLite file is
    /// missing (or in memory) or the PostgreSQL database has no Deckhand tables. For read-only
    /// tools (`deckhand audit verify`/`export`), where a typo in `store.url` must not quietly
    /// produce a new, empty store.
    pub async fn open_existing(url: &str) -> Result<Option<Store>, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            if sqlite_in_memory(url) || !std::path::Path::new(sqlite_path(url)).is_file() {
                return Ok(None);
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let probe = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|source| StoreError::Open {
                    url: redact(url),
                    source,
                })?;
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM information_schema.tables WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
            )
            .fetch_optional(&probe)
            .await?;
            probe.close().await;
            if found.is_none() {
                return Ok(None);
            }
        }
        Store::open(url).await.map(Some)
    }

    /// A group writer committed a batch: counts it towards the next background checkpoint.
    pub(crate) fn after_batch(&self) {
        if let Some(c) = &self.checkpoints {
            c.after_batch(&self.pool);
        }
    }

    /// Background WAL checkpoints completed so far (0 for PostgreSQL and in-memory SQLite).
    pub fn checkpoints_done(&self) -> u64 {
        self.checkpoints.as_ref().map_or(0, |c| c.done())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Marks runs left `running` by a process that is gone as `interrupted`; returns them.
    /// A run is abandoned when its owner ran on this host and that process no longer exists,
    /// or when its heartbeat is older than [`RUN_LEASE_MS`] (an owner on another host died).
    /// Runs owned by live processes are left alone.
    pub async fn mark_interrupted(&self) -> Result<Vec<RunRecord>, StoreError> {
        let now = now_ms();
        let me = instance_id();
        let host = me
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default();
        let mut stale = Vec::new();
        for run in self.running_runs().await? {
            let owner_gone = match run.owner.as_deref().and_then(|o| o.rsplit_once(':')) {
                Some((h, pid)) if h == host => {
                    pid.parse::<i32>().map_or(true, |p| !process_alive(p))
                        || run.owner.as_deref() == Some(&me)
                }
                Some(_) => run.heartbeat_at.is_none_or(|hb| now - hb > RUN_LEASE_MS),
                None => true,
            };
            if !owner_gone {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let changed = sqlx::query("UPDATE runs SET status = 'interrupted', finished_at = $1, error = $2 WHERE id = $3 AND status = 'running'")
                .bind(now)
                .bind("Deckhand stopped while this run was in progress")
                .bind(run.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 1 {
                insert_deployment(
                    &mut tx,
                    &run,
                    RunStatus::Interrupted,
                    run.version.as_deref(),
                    now,
                )
                .await?;
                settle_open_switches(&mut tx, run.id, RunStatus::Interrupted).await?;
            }
            tx.commit().await?;
            if changed == 1 {
                stale.push(run);
            }
        }
        Ok(stale)
    }

    /// Proves the owner of a run is alive.
    pub async fn heartbeat(&self, run_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND status = 'running'")
            .bind(now_ms())
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the process group of the stage a run is executing.
    pub async fn set_run_pgid(&self, run_id: i64, pgid: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET pgid = $1 WHERE id = $2")
            .bind(pgid)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a new run as `running`, or reports the run already in progress for the target.
    pub async fn start_run(&self, run: &NewRun) -> Result<i64, StoreError> {
        let key = run.origin.to_key();
        let result = sqlx::query(
            "INSERT INTO runs (action, service, environment, version, strategy, percent, requested_by, platform, channel, thread, status, rolled_back, started_at, owner, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'running', 0, $11, $12, $11) RETURNING id",
        )
        .bind(run.action.as_str())
        .bind(&run.service)
        .bind(&run.environment)
        .bind(run.version.clone())
        .bind(run.strategy.as_str())
        .bind(run.percent.map(i64::from))
        .bind(&run.requested_by)
        .bind(&key.platform)
        .bind(&key.channel)
        .bind(&key.thread)
        .bind(now_ms())
        .bind(instance_id())
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => Ok(row.try_get::<i64, _>(0)?),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                match self.running_run(&run.service, &run.environment).await? {
                    Some(existing) => Err(StoreError::Busy(Box::new(existing))),
                    None => Err(StoreError::Query(sqlx::Error::Database(e))),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records the version a run is deploying once a stage reports it.
    pub async fn set_run_version(&self, run_id: i64, version: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET version = $1 WHERE id = $2")
            .bind(version)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores one finished stage.
    pub async fn record_stage(&self, s: &StageRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stage_results (run_id, phase, position, name, status, exit_code, duration_ms, log_tail, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.run_id)
        .bind(s.phase.as_str())
        .bind(s.position)
        .bind(&s.name)
        .bind(s.status.as_str())
        .bind(s.exit_code)
        .bind(s.duration_ms)
        .bind(&s.log_tail)
        .bind(s.finished_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes a run and records the deployment outcome, atomically. Returns false (and changes
    /// nothing) when the run is no longer `running`, e.g. another process marked it interrupted.
    pub async fn finish_run(
        &self,
        run: &RunRecord,
        status: RunStatus,
        rolled_back: bool,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE runs SET status = $1, rolled_back = $2, error = $3, finished_at = $4, version = $5, pgid = NULL WHERE id = $6 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(i64::from(rolled_back))
        .bind(error.map(str::to_string))
        .bind(now)
        .bind(run.version.clone())
        .bind(run.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            insert_deployment(&mut tx, run, status, run.version.as_deref(), now).await?;
            // Normally each phase settles its own switches; this catches any left open.
            settle_open_switches(&mut tx, run.id, status).await?;
            if status == RunStatus::Succeeded {
                switch_at_the_end(
                    &mut tx,
                    run,
                    "main",
                    run.action,
                    run.version.as_deref(),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// Records how the automatic rollback to `version` after run `run` failed went
    /// (`Succeeded` when it restored the version and its checks passed).
    pub async fn record_auto_rollback(
        &self,
        run: &RunRecord,
        version: Option<&str>,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut rb = run.clone();
        rb.action = Action::Rollback;
        let now = now_ms();
        insert_deployment(&mut tx, &rb, status, version, now).await?;
        if status == RunStatus::Succeeded {
            switch_at_the_end(&mut tx, run, "rollback", Action::Rollback, version, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One run by id.
    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!("{RUN_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| RunRecord::from_row(&r))
            .transpose()
            .map_err(Into::into)
    }

    /// The run in progress for a service and environment, if any.
    pub async fn running_run(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE service = $1 AND environment = $2 AND status = 'running'"
        ))
        .bind(service)
        .bind(environment)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| RunRecord::from_row(&r))
            .transpose()
            .map_err(Into::into)
    }

    /// Every run in progress.
    pub async fn running_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE status = 'running' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, RunRecord::from_row)
    }

    /// Stage results of a run in execution order.
    pub async fn stages(&self, run_id: i64) -> Result<Vec<StageRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, phase, position, name, status, exit_code, duration_ms, log_tail, finished_at
             FROM stage_results WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, StageRecord::from_row)
    }

    /// Latest deployments (any outcome), newest first.
    pub async fn history(
        &self,
        service: Option<&str>,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(&format!(
            "{DEPLOYMENT_COLUMNS} d WHERE ($1 IS NULL OR d.service = $1) AND ($2 IS NULL OR d.environment = $2)
             ORDER BY d.id DESC LIMIT $3"
        ))
        .bind(service.map(str::to_string))
        .bind(environment.map(str::to_string))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, Deployment::from_row)
    }

    /// The newest deploy run (any outcome, running included) started from a thread: what
    /// "undo last deployment" means in that conversation.
    pub async fn latest_deploy_in_thread(
        &self,
        thread: &ThreadKey,
    ) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE action = 'deploy' AND platform = $1 AND channel = $2 AND thread = $3
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(&thread.platform)
        .bind(&thread.channel)
        .bind(&thread.thread)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| RunRecord::from_row(&r))
            .transpose()
            .map_err(Into::into)
    }

    /// The newest deploy run (any outcome, running included) requested by a person, from any
    /// thread: "undo last deployment" when the thread has none.
    pub async fn latest_deploy_by(&self, person: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE action = 'deploy' AND requested_by = $1 ORDER BY id DESC LIMIT 1"
        ))
        .bind(person)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| RunRecord::from_row(&r))
            .transpose()
            .map_err(Into::into)
    }

    /// The most recent failed run of a service (optionally in one environment), with its stages.
    pub async fn last_failed_run(
        &self,
        service: &str,
        environment: Option<&str>,
    ) -> Result<Option<(RunRecord, Vec<StageRecord>)>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE service = $1 AND ($2 IS NULL OR environment = $2) AND status IN ('failed', 'interrupted')
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(service)
        .bind(environment.map(str::to_string))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => {
                let run = RunRecord::from_row(&r)?;
                let stages = self.stages(run.id).await?;
                Ok(Some((run, stages)))
            }
            None => Ok(None),
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

const RUN_COLUMNS: &str = "SELECT id, action, service, environment, version, strategy, percent, requested_by, platform, channel, thread, status, rolled_back, error, started_at, finished_at, owner, heartbeat_at, pgid, stage, stage_phase FROM runs";
/// A deployment row with the first stage that did not succeed in the phase that produced it
/// (`rollback` for an automatic rollback, whose action differs from its run's).
const DEPLOYMENT_COLUMNS: &str =
    "SELECT d.run_id, d.action, d.service, d.environment, d.version, d.status, d.requested_by, d.created_at,
            (SELECT st.name FROM stage_results st WHERE st.run_id = d.run_id AND st.status <> 'succeeded'
               AND st.phase = CASE WHEN d.action = (SELECT r.action FROM runs r WHERE r.id = d.run_id) THEN 'main' ELSE 'rollback' END
             ORDER BY st.id LIMIT 1) AS failed_stage
     FROM deployments";

async fn insert_deployment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run: &RunRecord,
    status: RunStatus,
    version: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deployments (run_id, action, service, environment, version, status, requested_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(run.id)
    .bind(run.action.as_str())
    .bind(&run.service)
    .bind(&run.environment)
    .bind(version.map(str::to_string))
    .bind(status.as_str())
    .bind(&run.requested_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A phase that succeeded without reporting a switch (no `::live` line, no `rollback_from`
/// stage) switched its target when it ended: record that, already settled.
async fn switch_at_the_end(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run: &RunRecord,
    phase: &str,
    action: Action,
    version: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_releases (run_id, phase, action, service, environment, version, requested_by, switched_at, outcome)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'succeeded'
         WHERE NOT EXISTS (SELECT 1 FROM live_releases WHERE run_id = $1 AND phase = $2)",
    )
    .bind(run.id)
    .bind(phase)
    .bind(action.as_str())
    .bind(&run.service)
    .bind(&run.environment)
    .bind(version.map(str::to_string))
    .bind(&run.requested_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives the switches a run left open the run's final status.
async fn settle_open_switches(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: i64,
    status: RunStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE live_releases SET outcome = $1 WHERE run_id = $2 AND outcome IS NULL")
        .bind(status.as_str())
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col)
}

#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod tests;

/// Decodes every row with `decode` (the record types' `from_row`).
pub(crate) fn decode_all<T>(
    rows: &[sqlx::any::AnyRow],
    decode: fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(decode)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}
