//! Group commit: one writer task takes whatever callers have queued and writes it in one go, so
//! N concurrent writes cost one transaction (one commit, and for SQLite one hand-off to its
//! worker thread per statement) instead of N. Every caller still waits for its own result, so a
//! write is as durable when the call returns as it was before; alone, a caller waits for its own
//! statement only.

use super::StoreError;
use std::future::Future;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// Items queued together are written together, at most this many.
pub const BATCH: usize = 256;

/// How a kind of item is written: all of a batch at once, or one alone.
pub trait BatchWrite: Clone + Send + Sync + 'static {
    /// What a caller asks to write.
    type Item: Send + Sync + 'static;
    /// What the caller learns back (a seq, "was it new?").
    type Out: Send + 'static;
    /// Writes `items` in order, in one transaction: all or nothing. Returns one answer per item.
    fn write_all(
        &self,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Out>, StoreError>> + Send;
    /// Writes one item alone: after its batch failed (so each caller gets its own answer), or
    /// when no writer task can run (no runtime, or the runtime is shutting down).
    fn write_one(
        &self,
        item: &Self::Item,
    ) -> impl Future<Output = Result<Self::Out, StoreError>> + Send;
}

struct Queued<W: BatchWrite> {
    item: W::Item,
    done: oneshot::Sender<Result<W::Out, StoreError>>,
}

/// A queue of writes of one kind and the task that writes them in batches (started by the first
/// write, on that write's runtime: a store is used from one runtime, which outlives it; when
/// that runtime is gone, writes are made by their callers). A statement that never returns
/// holds the queue, as it would hold its own caller without one; no timer guards it, because a
/// test's paused clock would fire one while SQLite's worker thread is busy.
pub struct GroupCommit<W: BatchWrite> {
    writer: W,
    queue: OnceLock<mpsc::UnboundedSender<Queued<W>>>,
}

impl<W: BatchWrite> GroupCommit<W> {
    /// Writes through `writer`.
    pub fn new(writer: W) -> GroupCommit<W> {
        GroupCommit {
            writer,
            queue: OnceLock::new(),
        }
    }

    /// The writer task's queue; `None` outside a runtime.
    fn queue(&self) -> Option<&mpsc::UnboundedSender<Queued<W>>> {
        if let Some(q) = self.queue.get() {
            return Some(q);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            runtime.spawn(write_batches(self.writer.clone(), rx));
            tx
        }))
    }

    /// Writes `item` (with whatever else is queued) and returns its answer once it is committed.
    pub async fn write(&self, item: W::Item) -> Result<W::Out, StoreError> {
        let (done, answer) = oneshot::channel();
        let queued = Queued { item, done };
        let sent = match self.queue() {
            Some(queue) => queue.send(queued).map_err(|e| e.0),
            None => Err(queued),
        };
        if let Err(queued) = sent {
            // The writer is gone (its runtime is shutting down) or cannot start: write here.
            return self.writer.write_one(&queued.item).await;
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Query(sqlx::Error::WorkerCrashed)),
        }
    }
}

/// The writer: takes what is queued (up to [`BATCH`]) and writes it in one go.
async fn write_batches<W: BatchWrite>(writer: W, mut rx: mpsc::UnboundedReceiver<Queued<W>>) {
    let mut batch: Vec<Queued<W>> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        let (items, waiting): (Vec<W::Item>, Vec<_>) =
            batch.drain(..).map(|q| (q.item, q.done)).unzip();
        match writer.write_all(&items).await {
            Ok(outs) if outs.len() == items.len() => {
                for (done, out) in waiting.into_iter().zip(outs) {
                    let _ = done.send(Ok(out));
                }
            }
            // The database refused the batch, so it was rolled back as a whole: each item is
            // tried alone, so each caller gets its own answer.
            Err(StoreError::Query(sqlx::Error::Database(e)))
                if rolled_back(e.code().as_deref()) =>
            {
                for (item, done) in items.iter().zip(waiting) {
                    let _ = done.send(writer.write_one(item).await);
                }
            }
            // Whether the batch was committed is unknown (the connection broke, an answer
            // could not be read): trying again could find its own rows and call a new event
            // a repeat, or append an entry twice. Every caller gets the error instead.
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(outs) => format!("{} answers for {} writes", outs.len(), items.len()),
                };
                for done in waiting {
                    let _ = done.send(Err(StoreError::Unconfirmed(why.clone())));
                }
            }
        }
    }
}

/// Whether a database error with this SQLSTATE means the statement was refused (and so rolled
/// back). PostgreSQL also reports a lost connection (class 08), a server shutting down (57) and
/// internal errors (XX) as database errors, and those can come after a commit.
fn rolled_back(code: Option<&str>) -> bool {
    !matches!(
        code.map(|c| c.get(..2).unwrap_or(c)),
        Some("08" | "57" | "XX")
    )
}

/// `($1, $2, …), ($n+1, …)`: the placeholders of a multi-row `VALUES` for `rows` rows of
/// `columns` values each.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Doubles numbers; counts batches; a batch holding 13 fails as a whole.
    #[derive(Clone, Default)]
    struct Doubler {
        batches: Arc<AtomicUsize>,
        largest: Arc<AtomicUsize>,
    }

    impl BatchWrite for Doubler {
        type Item = u32;
        type Out = u32;
        async fn write_all(&self, items: &[u32]) -> Result<Vec<u32>, StoreError> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.largest.fetch_max(items.len(), Ordering::SeqCst);
            tokio::task::yield_now().await;
            if items.contains(&13) {
                return Err(StoreError::Query(sqlx::Error::Database(Box::new(Refused))));
            }
            if items.contains(&99) {
                // Not a refusal: whether this was committed is unknown.
                return Err(StoreError::Query(sqlx::Error::WorkerCrashed));
            }
            Ok(items.iter().map(|i| i * 2).collect())
        }
        async fn write_one(&self, item: &u32) -> Result<u32, StoreError> {
            if *item == 13 {
                return Err(StoreError::Query(sqlx::Error::Database(Box::new(Refused))));
            }
            Ok(item * 2)
        }
    }

    #[tokio::test]
    async fn concurrent_writes_share_batches_and_each_gets_its_own_answer() {
        let doubler = Doubler::default();
        let group = Arc::new(GroupCommit::new(doubler.clone()));
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move { (i, group.write(i).await) })
            })
            .collect();
        for t in tasks {
            let (i, answer) = t.await.unwrap();
            match answer {
                Ok(out) => assert_eq!(out, i * 2),
                Err(_) => assert_eq!(i, 13, "only 13 fails"),
            }
        }
        let batches = doubler.batches.load(Ordering::SeqCst);
        assert!(batches < 200, "{batches} batches for 200 concurrent writes");
        assert!(doubler.largest.load(Ordering::SeqCst) > 1);
    }

    /// A database error as a refusal of the whole batch (rolled back).
    #[derive(Debug)]
    struct Refused;

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused")
        }
    }

    impl std::error::Error for Refused {}

    impl sqlx::error::DatabaseError for Refused {
        fn message(&self) -> &str {
            "refused"
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    /// A batch that failed without a refusal may have been committed: nobody's write is tried
    /// again, everyone in it gets an error.
    #[tokio::test]
    async fn a_batch_of_unknown_fate_is_not_tried_again() {
        let doubler = Doubler::default();
        let group = Arc::new(GroupCommit::new(doubler.clone()));
        let tasks: Vec<_> = [98u32, 99, 100]
            .into_iter()
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move { group.write(i).await })
            })
            .collect();
        for t in tasks {
            match t.await.unwrap() {
                Err(StoreError::Unconfirmed(why)) => assert!(why.contains("worker"), "{why}"),
                other => panic!("expected an unconfirmed write, got {other:?}"),
            }
        }
        assert_eq!(
            doubler.batches.load(Ordering::SeqCst),
            1,
            "one batch, no retries"
        );
    }

    #[test]
    fn connection_and_shutdown_errors_are_not_taken_as_rolled_back() {
        for code in [None, Some("23505"), Some("40001"), Some("2067")] {
            assert!(rolled_back(code), "{code:?}");
        }
        for code in ["08006", "08P01", "57P01", "XX000"] {
            assert!(!rolled_back(Some(code)), "{code}");
        }
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(values_placeholders(1, 2), "($1, $2)");
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
