//! Tamper-evident audit log: every command, refusal, approval, lock, run start, stage result and
//! run end is appended as an entry that stores the previous entry's hash and its own SHA-256 over
//! a canonical encoding. `verify` walks the chain and names the first entry that does not fit.

mod event;
mod since;

pub use event::AuditEvent;
pub use since::parse_since;

use crate::store::{AuditRow, BatchWrite, GroupCommit, NewAuditEntry, Store, StoreError};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Entries read per query while verifying or exporting.
const PAGE: i64 = 1000;

/// The SHA-256 (hex) of an entry's canonical encoding: a JSON array of its fields in a fixed
/// order, with `details` already canonical (serde_json sorts object keys).
pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    kind: &str,
    subject: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let canonical =
        serde_json::json!([seq, at, actor, kind, subject, details, prev_hash]).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit log broken at entry {seq}: {reason}")]
pub struct ChainBreak {
    /// The first entry that does not fit.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// Why verification did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain is broken.
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Appends to and checks the audit log.
#[derive(Clone)]
pub struct Audit {
    store: Store,
    /// Appends queued entries in batches (group commit), each caller waiting for its own.
    writes: Arc<GroupCommit<AuditWriter>>,
}

/// An entry waiting to be appended.
struct Pending {
    at: i64,
    actor: String,
    kind: String,
    subject: String,
    details: String,
}

/// Appends entries to the store's chain.
#[derive(Clone)]
struct AuditWriter {
    store: Store,
}

impl Audit {
    /// The audit log in this store.
    pub fn new(store: Store) -> Audit {
        Audit {
            writes: Arc::new(GroupCommit::new(AuditWriter {
                store: store.clone(),
            })),
            store,
        }
    }

    /// Appends an entry; returns its seq. Concurrent records are appended in one transaction
    /// (one head-row lock and one commit for the batch); every caller still waits for its own
    /// entry to be committed.
    pub async fn record(
        &self,
        actor: &str,
        kind: &str,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<i64, StoreError> {
        self.writes
            .write(Pending {
                at: crate::clock::now_ms(),
                actor: actor.to_string(),
                kind: kind.to_string(),
                subject: subject.to_string(),
                details: details.to_string(),
            })
            .await
    }

    /// Records one typed event: one audit row and one `tracing` event. Logs (does not fail)
    /// when the store refuses: the action it records has already happened, and `verify`
    /// shows the gap.
    pub async fn log(&self, actor: &str, event: AuditEvent) {
        let (kind, subject) = (event.kind(), event.subject());
        tracing::info!(kind, subject = %subject, actor, "audit");
        self.note(actor, kind, &subject, event.details()).await;
    }

    /// Appends an entry, logging (not failing) when the store refuses: the action it records
    /// has already happened, and the log shows the gap on the next `verify` run anyway.
    async fn note(&self, actor: &str, kind: &str, subject: &str, details: serde_json::Value) {
        if let Err(e) = self.record(actor, kind, subject, details).await {
            tracing::error!(error = %e, kind, subject, "could not append to the audit log");
        }
    }

    /// Checks the whole chain; returns the number of entries when it is intact.
    pub async fn verify(&self) -> Result<i64, VerifyError> {
        let mut expected_seq = 1;
        let mut prev = GENESIS.to_string();
        loop {
            let page = self.store.audit_page(expected_seq - 1, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                check_entry(e, expected_seq, &prev)?;
                prev = e.hash.clone();
                expected_seq += 1;
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        // A later entry after a gap is not returned by the paging above; look for one.
        let beyond = self.store.audit_page(expected_seq - 1, 1).await?;
        if let Some(e) = beyond.first() {
            return Err(ChainBreak {
                seq: e.seq,
                reason: format!("entry {expected_seq} is missing before it (deleted)"),
            }
            .into());
        }
        let (head_seq, head_hash) = self.store.audit_head().await?;
        let last = expected_seq - 1;
        if head_seq != last || head_hash != prev {
            let reason = if head_seq > last {
                format!("the log ends at entry {last} but its head records {head_seq} entries: entries were deleted from the end")
            } else {
                format!("entry {last} does not match the recorded head (seq {head_seq}): entries were added or changed at the end")
            };
            return Err(ChainBreak {
                seq: if head_seq > last {
                    last + 1
                } else {
                    last.max(1)
                },
                reason,
            }
            .into());
        }
        Ok(last)
    }

    /// Writes entries recorded at or after `since_ms` as JSON Lines; returns how many.
    pub async fn export(&self, since_ms: i64, out: &mut impl Write) -> Result<usize, StoreError> {
        let mut after = 0;
        let mut n = 0;
        loop {
            let page = self.store.audit_page(after, PAGE).await?;
            for e in &page {
                after = e.seq;
                if e.at < since_ms {
                    continue;
                }
                let details: serde_json::Value = serde_json::from_str(&e.details)
                    .unwrap_or(serde_json::Value::String(e.details.clone()));
                let line = serde_json::json!({
                    "seq": e.seq, "at": e.at, "time": crate::timefmt::utc(e.at), "actor": e.actor, "kind": e.kind,
                    "subject": e.subject, "details": details, "prev_hash": e.prev_hash, "hash": e.hash,
                });
                writeln!(out, "{line}").map_err(|e| StoreError::Query(sqlx::Error::Io(e)))?;
                n += 1;
            }
            if (page.len() as i64) < PAGE {
                return Ok(n);
            }
        }
    }
}

fn check_entry(e: &AuditRow, expected_seq: i64, prev: &str) -> Result<(), ChainBreak> {
    if e.seq != expected_seq {
        return Err(ChainBreak {
            seq: e.seq,
            reason: format!(
                "expected entry {expected_seq} here: an entry was deleted, inserted or renumbered"
            ),
        });
    }
    if e.prev_hash != prev {
        return Err(ChainBreak {
            seq: e.seq,
            reason: "its previous-entry hash does not match the entry before it: entries were removed, inserted or reordered".into(),
        });
    }
    if entry_hash(
        e.seq,
        e.at,
        &e.actor,
        &e.kind,
        &e.subject,
        &e.details,
        &e.prev_hash,
    ) != e.hash
    {
        return Err(ChainBreak {
            seq: e.seq,
            reason: "its content does not match its hash: the entry was edited".into(),
        });
    }
    Ok(())
}

impl BatchWrite for AuditWriter {
    type Item = Pending;
    type Out = i64;

    async fn write_all(&self, batch: &[Pending]) -> Result<Vec<i64>, StoreError> {
        let entries: Vec<NewAuditEntry<'_>> = batch
            .iter()
            .map(|p| NewAuditEntry {
                at: p.at,
                actor: &p.actor,
                kind: &p.kind,
                subject: &p.subject,
                details: &p.details,
            })
            .collect();
        self.store
            .audit_append_batch(&entries, |i, seq, prev| {
                let e = &entries[i];
                entry_hash(seq, e.at, e.actor, e.kind, e.subject, e.details, prev)
            })
            .await
    }

    async fn write_one(&self, p: &Pending) -> Result<i64, StoreError> {
        self.store
            .audit_append(
                p.at,
                &p.actor,
                &p.kind,
                &p.subject,
                &p.details,
                |seq, prev| entry_hash(seq, p.at, &p.actor, &p.kind, &p.subject, &p.details, prev),
            )
            .await
    }
}

#[cfg(test)]
mod tests;
