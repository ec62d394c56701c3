//! Listings for the API: runs by service, environment and status; approval requests by status.

use super::governance::APPROVAL_COLUMNS;
use super::{
    decode_all, ApprovalRecord, ApprovalStatus, RunRecord, Store, StoreError, RUN_COLUMNS,
};
use crate::pipeline::RunStatus;

/// Which runs to list (every field optional but the limit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Only this service.
    pub service: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// At most this many, newest first.
    pub limit: i64,
}

impl Store {
    /// Runs matching `filter`, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE ($1 IS NULL OR service = $1) AND ($2 IS NULL OR environment = $2) AND ($3 IS NULL OR status = $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.service.clone())
        .bind(filter.environment.clone())
        .bind(filter.status.map(|s| s.as_str().to_string()))
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, RunRecord::from_row)
    }

    /// Approval requests in `status`, newest first, with how many approvals each has.
    pub async fn approvals_in(
        &self,
        status: ApprovalStatus,
        limit: i64,
    ) -> Result<Vec<(ApprovalRecord, i64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "{APPROVAL_COLUMNS} WHERE status = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(status.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let records = rows
            .iter()
            .map(ApprovalRecord::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(records.len());
        for a in records {
            let approvals = self.approval_count(a.id).await?;
            out.push((a, approvals));
        }
        Ok(out)
    }

    /// How many people approved a request.
    pub async fn approval_count(&self, approval_id: i64) -> Result<i64, StoreError> {
        Ok(self
            .decisions(approval_id)
            .await?
            .iter()
            .filter(|d| d.decision == super::Decision::Approve)
            .count() as i64)
    }
}
