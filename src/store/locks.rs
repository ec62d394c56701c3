//! Store side of locks: in force, made to start later (freeze windows said in chat), and
//! lifted.

use super::{get, Store, StoreError};
use crate::config::RollbackRule;
use serde::Serialize;
use sqlx::any::AnyRow;

/// A lock on an environment, or on one service in it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LockRecord {
    /// Id.
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Service, or None for the whole environment.
    pub service: Option<String>,
    /// Person holding it.
    pub holder: String,
    /// Why.
    pub reason: String,
    /// Since, unix ms.
    pub created_at: i64,
    /// Until, unix ms (None: until unlocked).
    pub expires_at: Option<i64>,
    /// From, unix ms, when it starts later than it was made (a freeze window said in chat).
    pub starts_at: Option<i64>,
    /// Whether rollbacks go through it (plain locks stop them too).
    pub rollbacks: RollbackRule,
}

impl LockRecord {
    /// When it takes effect, unix ms.
    pub fn effective_from(&self) -> i64 {
        self.starts_at.unwrap_or(self.created_at)
    }

    fn from_row(r: &AnyRow) -> Result<LockRecord, sqlx::Error> {
        Ok(LockRecord {
            id: get(r, "id")?,
            environment: get(r, "environment")?,
            service: get(r, "service")?,
            holder: get(r, "holder")?,
            reason: get(r, "reason")?,
            created_at: get(r, "created_at")?,
            expires_at: get(r, "expires_at")?,
            starts_at: get(r, "starts_at")?,
            rollbacks: match get::<String>(r, "rollbacks")?.as_str() {
                "allow" => RollbackRule::Allow,
                _ => RollbackRule::Deny,
            },
        })
    }
}

const LOCK_COLUMNS: &str =
    "SELECT id, environment, service, holder, reason, created_at, expires_at, starts_at, rollbacks FROM locks";

impl Store {
    /// Locks in force now, optionally only in one environment.
    pub async fn active_locks(
        &self,
        environment: Option<&str>,
        now: i64,
    ) -> Result<Vec<LockRecord>, StoreError> {
        self.locks_where(
            "(expires_at IS NULL OR expires_at > $1) AND (starts_at IS NULL OR starts_at <= $1)",
            "id",
            environment,
            now,
        )
        .await
    }

    /// Locks made to start later that have not started yet (nor been lifted), soonest first.
    pub async fn scheduled_locks(
        &self,
        environment: Option<&str>,
        now: i64,
    ) -> Result<Vec<LockRecord>, StoreError> {
        self.locks_where("starts_at > $1", "starts_at, id", environment, now)
            .await
    }

    /// Unlifted locks matching `condition` (on `$1` = now), in `environment` when given.
    async fn locks_where(
        &self,
        condition: &str,
        order: &str,
        environment: Option<&str>,
        now: i64,
    ) -> Result<Vec<LockRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{LOCK_COLUMNS} WHERE released_at IS NULL AND {condition} AND ($2 IS NULL OR environment = $2) ORDER BY {order}"
        ))
        .bind(now)
        .bind(environment.map(str::to_string))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(LockRecord::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Stores a lock; returns its id.
    pub async fn create_lock(&self, l: &LockRecord) -> Result<i64, StoreError> {
        let row = sqlx::query("INSERT INTO locks (environment, service, holder, reason, created_at, expires_at, starts_at, rollbacks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(&l.environment)
            .bind(l.service.clone())
            .bind(&l.holder)
            .bind(&l.reason)
            .bind(l.created_at)
            .bind(l.expires_at)
            .bind(l.starts_at)
            .bind(match l.rollbacks {
                RollbackRule::Allow => "allow",
                RollbackRule::Deny => "deny",
            })
            .fetch_one(&self.pool)
            .await?;
        Ok(get(&row, "id")?)
    }

    /// Releases one lock; false when it was already released.
    pub async fn release_lock(&self, id: i64, by: &str, at: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE locks SET released_at = $1, released_by = $2 WHERE id = $3 AND released_at IS NULL")
            .bind(at)
            .bind(by)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
