//! Store queries for governance: approval requests and decisions, locks, deploy outcomes.

use super::records::Action;
use super::{get, Store, StoreError};
use crate::origin::{Origin, ThreadKey};
use serde::Serialize;
use sqlx::any::AnyRow;

/// A person's decision on an approval request.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let it run (counts towards the approvals needed).
    Approve,
    /// Stop it (one rejection closes the request).
    Reject,
}

impl Decision {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// Where an approval request stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for decisions.
    Pending,
    /// Enough approvals; its run was started (or refused at start).
    Approved,
    /// Someone rejected it.
    Rejected,
    /// Its time ran out.
    Expired,
    /// The requester withdrew it.
    Cancelled,
}

impl ApprovalStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        Some(match s {
            "pending" => ApprovalStatus::Pending,
            "approved" => ApprovalStatus::Approved,
            "rejected" => ApprovalStatus::Rejected,
            "expired" => ApprovalStatus::Expired,
            "cancelled" => ApprovalStatus::Cancelled,
            _ => return None,
        })
    }
}

/// An approval request about to be stored.
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version (None = latest build).
    pub version: Option<String>,
    /// Strategy.
    pub strategy: crate::config::Strategy,
    /// Canary percent.
    pub percent: Option<u8>,
    /// Person who asked.
    pub requested_by: String,
    /// Where the request was made (and, for a chat thread, where it is answered).
    pub origin: Origin,
    /// The command that runs when it is approved, serialised by the command layer.
    pub command: String,
    /// Approvals needed.
    pub required: u32,
    /// Recommendation or warning shown with the request.
    pub note: String,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Expiry time, unix ms.
    pub expires_at: i64,
}

/// A stored approval request.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRecord {
    /// Id.
    pub id: i64,
    /// Deploy or rollback.
    pub action: Action,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version.
    pub version: Option<String>,
    /// Strategy.
    pub strategy: crate::config::Strategy,
    /// Canary percent.
    pub percent: Option<i64>,
    /// Person who asked.
    pub requested_by: String,
    /// Where it was asked for.
    pub origin: Origin,
    /// The command waiting on it, serialised (None for requests stored before commands were).
    pub command: Option<String>,
    /// Approvals needed.
    pub required: i64,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Recommendation shown with it.
    pub note: String,
    /// Created, unix ms.
    pub created_at: i64,
    /// Expires, unix ms.
    pub expires_at: i64,
    /// When it left `pending`.
    pub decided_at: Option<i64>,
    /// Run started from it.
    pub run_id: Option<i64>,
}

impl ApprovalRecord {
    pub(super) fn from_row(r: &AnyRow) -> Result<ApprovalRecord, sqlx::Error> {
        Ok(ApprovalRecord {
            id: get(r, "id")?,
            action: if get::<String>(r, "action")? == "rollback" {
                Action::Rollback
            } else {
                Action::Deploy
            },
            service: get(r, "service")?,
            environment: get(r, "environment")?,
            version: get(r, "version")?,
            strategy: {
                let s: String = get(r, "strategy")?;
                crate::config::Strategy::parse(&s).ok_or_else(|| sqlx::Error::ColumnDecode {
                    index: "strategy".into(),
                    source: format!("unknown strategy `{s}`").into(),
                })?
            },
            percent: get(r, "percent")?,
            requested_by: get(r, "requested_by")?,
            origin: Origin::from_key(ThreadKey {
                platform: get(r, "platform")?,
                channel: get(r, "channel")?,
                thread: get(r, "thread")?,
            }),
            command: get(r, "command")?,
            required: get(r, "required")?,
            status: {
                let s: String = get(r, "status")?;
                ApprovalStatus::parse(&s).ok_or_else(|| sqlx::Error::ColumnDecode {
                    index: "status".into(),
                    source: format!("unknown approval status `{s}`").into(),
                })?
            },
            note: get(r, "note")?,
            created_at: get(r, "created_at")?,
            expires_at: get(r, "expires_at")?,
            decided_at: get(r, "decided_at")?,
            run_id: get(r, "run_id")?,
        })
    }
}

/// One person's decision on a request.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// Person.
    pub person: String,
    /// Platform identity used.
    pub identity: String,
    /// What they decided.
    pub decision: Decision,
    /// When, unix ms.
    pub decided_at: i64,
}

/// The outcome of one deploy, for deploy memory.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployOutcome {
    /// Run id.
    pub run_id: i64,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// True when the run succeeded.
    pub succeeded: bool,
    /// First failed stage of the main phase.
    pub failed_stage: Option<String>,
    /// Start time, unix ms.
    pub at: i64,
    /// When the target still runs a release this run switched to and its checks did not
    /// pass: "3.2.0-rc.1 is live (its verify failed)".
    pub live_problem: Option<String>,
}

pub(super) const APPROVAL_COLUMNS: &str = "SELECT id, action, service, environment, version, strategy, percent, requested_by, platform, channel, thread, command, required, status, note, created_at, expires_at, decided_at, run_id FROM approvals";
impl Store {
    /// Records a platform event as handled; false when it was handled before (a redelivery).
    pub async fn first_delivery(
        &self,
        platform: &str,
        event_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.marks
            .write(super::marks::Mark::Delivery {
                platform: platform.to_string(),
                event_id: event_id.to_string(),
                at: now,
            })
            .await
    }

    /// Forgets handled events older than `before` (platforms stop retrying within minutes).
    pub async fn prune_deliveries(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM delivered_events WHERE seen_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Records that the bot takes part in `thread` (idempotent, keeps the first time). A
    /// thread whose row this process inserted within the last hour is not written again: its
    /// `joined_at` is that recent, and rows are pruned 90 days after it (a prune here also
    /// forgets what was remembered).
    pub async fn join_thread(&self, thread: &ThreadKey, now: i64) -> Result<(), StoreError> {
        if self.marks.joined_recently(thread, now) {
            return Ok(());
        }
        let inserted = self
            .marks
            .write(super::marks::Mark::Join {
                thread: thread.clone(),
                at: now,
            })
            .await?;
        if inserted {
            self.marks.remember_join(thread, now);
        }
        Ok(())
    }

    /// Does the bot take part in `thread`?
    pub async fn in_thread(&self, thread: &ThreadKey) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM bot_threads WHERE platform = $1 AND channel = $2 AND thread = $3",
        )
        .bind(&thread.platform)
        .bind(&thread.channel)
        .bind(&thread.thread)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// The key of a joined thread found by its thread id alone (platforms whose thread ids
    /// are unique, like Discord's channel ids).
    pub async fn find_thread(
        &self,
        platform: &str,
        thread: &str,
    ) -> Result<Option<ThreadKey>, StoreError> {
        let row = sqlx::query(
            "SELECT channel FROM bot_threads WHERE platform = $1 AND thread = $2 ORDER BY joined_at LIMIT 1",
        )
        .bind(platform)
        .bind(thread)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => {
                let channel: String = get(&r, "channel")?;
                Some(ThreadKey::new(platform, &channel, thread))
            }
            None => None,
        })
    }

    /// Forgets threads joined before `before`; a reply there then needs a mention again.
    pub async fn prune_threads(&self, before: i64) -> Result<u64, StoreError> {
        let pruned = sqlx::query("DELETE FROM bot_threads WHERE joined_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if pruned > 0 {
            self.marks.forget_joins();
        }
        Ok(pruned)
    }

    /// Stores a pending approval request; returns its id.
    pub async fn create_approval(&self, a: &NewApproval) -> Result<i64, StoreError> {
        let key = a.origin.to_key();
        let row = sqlx::query(
            "INSERT INTO approvals (action, service, environment, version, strategy, percent, requested_by, platform, channel, thread, command, required, status, note, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14, $15) RETURNING id",
        )
        .bind(a.action.as_str())
        .bind(&a.service)
        .bind(&a.environment)
        .bind(a.version.clone())
        .bind(a.strategy.as_str())
        .bind(a.percent.map(i64::from))
        .bind(&a.requested_by)
        .bind(key.platform)
        .bind(key.channel)
        .bind(key.thread)
        .bind(&a.command)
        .bind(i64::from(a.required))
        .bind(&a.note)
        .bind(a.created_at)
        .bind(a.expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(get(&row, "id")?)
    }

    /// One approval request.
    pub async fn approval(&self, id: i64) -> Result<Option<ApprovalRecord>, StoreError> {
        let row = sqlx::query(&format!("{APPROVAL_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| ApprovalRecord::from_row(&r)).transpose()?)
    }

    /// The newest approval request made from an origin (a chat thread, an API client).
    pub async fn latest_approval_from(
        &self,
        origin: &Origin,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        let thread = &origin.to_key();
        let row = sqlx::query(&format!("{APPROVAL_COLUMNS} WHERE platform = $1 AND channel = $2 AND thread = $3 ORDER BY id DESC LIMIT 1"))
            .bind(&thread.platform)
            .bind(&thread.channel)
            .bind(&thread.thread)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| ApprovalRecord::from_row(&r)).transpose()?)
    }

    /// Pending requests whose time is up.
    pub async fn expired_pending_approvals(
        &self,
        now: i64,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{APPROVAL_COLUMNS} WHERE status = 'pending' AND expires_at <= $1 ORDER BY id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(ApprovalRecord::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Records a person's decision; false when that person already decided on this request.
    pub async fn record_decision(
        &self,
        approval_id: i64,
        d: &DecisionRecord,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("INSERT INTO approval_decisions (approval_id, person, identity, decision, decided_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(approval_id)
            .bind(&d.person)
            .bind(&d.identity)
            .bind(d.decision.as_str())
            .bind(d.decided_at)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every decision on a request, in order.
    pub async fn decisions(&self, approval_id: i64) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = sqlx::query("SELECT person, identity, decision, decided_at FROM approval_decisions WHERE approval_id = $1 ORDER BY id")
            .bind(approval_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DecisionRecord {
                    person: get(r, "person")?,
                    identity: get(r, "identity")?,
                    decision: {
                        let d: String = get(r, "decision")?;
                        Decision::parse(&d).ok_or_else(|| sqlx::Error::ColumnDecode {
                            index: "decision".into(),
                            source: format!("unknown decision `{d}`").into(),
                        })?
                    },
                    decided_at: get(r, "decided_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Moves a request out of `pending`; false when it was no longer pending (single use).
    pub async fn close_approval(
        &self,
        id: i64,
        status: ApprovalStatus,
        at: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE approvals SET status = $1, decided_at = $2 WHERE id = $3 AND status = 'pending'")
            .bind(status.as_str())
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Links a request to the run it started.
    pub async fn set_approval_run(&self, id: i64, run_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE approvals SET run_id = $1 WHERE id = $2")
            .bind(run_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The latest finished deploys in an environment (all services), newest first.
    pub async fn deploy_outcomes(
        &self,
        environment: &str,
        limit: i64,
    ) -> Result<Vec<DeployOutcome>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.service, r.environment, r.status, r.started_at,
                    (SELECT s.name FROM stage_results s WHERE s.run_id = r.id AND s.phase = 'main' AND s.status <> 'succeeded' ORDER BY s.id LIMIT 1) AS failed_stage
             FROM runs r
             WHERE r.environment = $1 AND r.action = 'deploy' AND r.status IN ('succeeded', 'failed')
             ORDER BY r.id DESC LIMIT $2",
        )
        .bind(environment)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let live = self.live_versions(None, Some(environment)).await?;
        let problem = |run_id: i64| {
            live.iter()
                .find(|d| d.run_id == run_id && d.live_note().is_some())
                .map(|d| d.live_phrase())
        };
        rows.iter()
            .map(|r| {
                let run_id: i64 = get(r, "id")?;
                Ok(DeployOutcome {
                    live_problem: problem(run_id),
                    run_id,
                    service: get(r, "service")?,
                    environment: get(r, "environment")?,
                    succeeded: get::<String>(r, "status")? == "succeeded",
                    failed_stage: get(r, "failed_stage")?,
                    at: get(r, "started_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
