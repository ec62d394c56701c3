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
    /// Appends an entry (a batch of one, see [`Store::audit_append_batch`]). `hash` computes
    /// the entry hash from (seq, prev_hash).
    pub async fn audit_append(
        &self,
        at: i64,
        actor: &str,
        kind: &str,
        subject: &str,
        details: &str,
        hash: impl Fn(i64, &str) -> String,
    ) -> Result<i64, StoreError> {
        let entry = NewAuditEntry {
            at,
            actor,
            kind,
            subject,
            details,
        };
        let seqs = self
            .audit_append_batch(&[entry], |_, seq, prev| hash(seq, prev))
            .await?;
        Ok(seqs[0])
    }

    /// Appends several entries in one transaction, in order (group commit: one head-row lock
    /// and one commit for a batch of concurrent writers). The head row is locked first (a
    /// write, so SQLite takes its write lock and PostgreSQL its row lock), so concurrent
    /// writers, in this or another process, queue up and never fork the chain. `hash` computes
    /// entry `i`'s hash from its (seq, prev_hash). Returns their seqs.
    ///
    /// Five statements whatever the batch's size (lock and read the head, one multi-row
    /// insert, move the head, commit): each statement is a round trip to the database (for
    /// SQLite a hand-off to its worker thread), and those hand-offs, not SQLite's work, were
    /// most of an audited request's cost.
    pub async fn audit_append_batch(
        &self,
        entries: &[NewAuditEntry<'_>],
        hash: impl Fn(usize, i64, &str) -> String,
    ) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        let (mut seq, mut prev_hash): (i64, String) = (get(&head, "seq")?, get(&head, "hash")?);
        let mut rows = Vec::with_capacity(entries.len());
        for (i, _) in entries.iter().enumerate() {
            seq += 1;
            let own = hash(i, seq, &prev_hash);
            rows.push((seq, std::mem::replace(&mut prev_hash, own.clone()), own));
        }
        let sql = format!(
            "INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) VALUES {}",
            super::group::values_placeholders(entries.len(), 8)
        );
        // Not kept prepared: a statement per batch size would push the store's other statements
        // out of the connection's cache.
        let mut insert = sqlx::query(&sql).persistent(false);
        for (e, (seq, prev, own)) in entries.iter().zip(&rows) {
            insert = insert
                .bind(*seq)
                .bind(e.at)
                .bind(e.actor)
                .bind(e.kind)
                .bind(e.subject)
                .bind(e.details)
                .bind(prev.as_str())
                .bind(own.as_str());
        }
        insert.execute(&mut *tx).await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&prev_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.after_batch();
        Ok(rows.iter().map(|(seq, _, _)| *seq).collect())
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
