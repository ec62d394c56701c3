//! Store side of the audit log: serialized appends and ordered reads.

use super::{get, Store, StoreError};
use serde::Serialize;

/// One stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, unix ms.
    pub at: i64,
    /// Who (person or identity, or `deckhand`).
    pub actor: String,
    /// What happened (`command`, `refusal`, `approval.requested`, `run.started`, ...).
    pub kind: String,
    /// What it was about (`billionmail/staging`, `run 7`, ...).
    pub subject: String,
    /// Canonical JSON details.
    pub details: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// SHA-256 of this entry's canonical encoding.
    pub hash: String,
}

/// An audit entry to append (its seq and hashes are given by the append).
#[derive(Debug, Clone, Copy)]
pub struct NewAuditEntry<'a> {
    /// When, unix ms.
    pub at: i64,
    /// Who.
    pub actor: &'a str,
    /// What happened.
    pub kind: &'a str,
    /// What it was about.
    pub subject: &'a str,
    /// Canonical JSON details.
    pub details: &'a str,
}

impl Store {
    /// Appends an entry. The head row is locked first (a write, so SQLite takes its write lock
    /// and PostgreSQL its row lock), so concurrent writers, in this or another process, queue up
    /// and never fork the chain. `hash` computes the entry hash from (seq, prev_hash).
    pub async fn audit_append(
        &self,
        at: i64,
        actor: &str,
        kind: &str,
        subject: &str,
        details: &str,
        hash: impl Fn(i64, &str) -> String,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let (prev_seq, prev_hash): (i64, String) = (get(&head, "seq")?, get(&head, "hash")?);
        let seq = prev_seq + 1;
        let own = hash(seq, &prev_hash);
        sqlx::query("INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(seq)
            .bind(at)
            .bind(actor)
            .bind(kind)
            .bind(subject)
            .bind(details)
            .bind(&prev_hash)
            .bind(&own)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&own)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Appends several entries in one transaction, in order (group commit: one head-row lock
    /// and one commit for a batch of concurrent writers). `hash` computes entry `i`'s hash from
    /// its (seq, prev_hash). Returns their seqs.
    pub async fn audit_append_batch(
        &self,
        entries: &[NewAuditEntry<'_>],
        hash: impl Fn(usize, i64, &str) -> String,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let (mut seq, mut prev_hash): (i64, String) = (get(&head, "seq")?, get(&head, "hash")?);
        let mut seqs = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            seq += 1;
            let own = hash(i, seq, &prev_hash);
            sqlx::query("INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(seq)
                .bind(e.at)
                .bind(e.actor)
                .bind(e.kind)
                .bind(e.subject)
                .bind(e.details)
                .bind(&prev_hash)
                .bind(&own)
                .execute(&mut *tx)
                .await?;
            prev_hash = own;
            seqs.push(seq);
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&prev_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seqs)
    }

    /// Entries in storage order of `seq` after `after_seq`, at most `limit`.
    pub async fn audit_page(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query("SELECT seq, at, actor, kind, subject, details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: get(r, "seq")?,
                    at: get(r, "at")?,
                    actor: get(r, "actor")?,
                    kind: get(r, "kind")?,
                    subject: get(r, "subject")?,
                    details: get(r, "details")?,
                    prev_hash: get(r, "prev_hash")?,
                    hash: get(r, "hash")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The recorded head of the chain: (last seq, last hash).
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok((get(&row, "seq")?, get(&row, "hash")?))
    }

    /// Runs raw SQL; for tests that tamper with the log the way an attacker would.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}
