use super::*;
use crate::store::testing;

async fn filled(store: &Store, n: usize) -> Audit {
    let audit = Audit::new(store.clone());
    for i in 0..n {
        audit
            .record(
                "alice",
                "command",
                &format!("deploy billionmail #{i}"),
                serde_json::json!({"n": i, "b": true}),
            )
            .await
            .unwrap();
    }
    audit
}

async fn broken_at(audit: &Audit) -> ChainBreak {
    match audit.verify().await {
        Err(VerifyError::Broken(b)) => b,
        other => panic!("expected a break, got {other:?}"),
    }
}

#[tokio::test]
async fn an_intact_log_verifies_with_its_count() {
    for t in testing::all().await {
        let audit = filled(&t.store, 5).await;
        assert_eq!(audit.verify().await.unwrap(), 5, "{}", t.backend);
        let empty = testing::sqlite().await.unwrap();
        assert_eq!(Audit::new(empty.store.clone()).verify().await.unwrap(), 0);
        empty.cleanup().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn every_kind_of_tampering_is_detected() {
    let cases: &[(&str, &[&str], i64, &str)] = &[
        ("edit", &["UPDATE audit_log SET subject = 'deploy redis' WHERE seq = 3"], 3, "edited"),
        ("edit details", &["UPDATE audit_log SET details = '{\"n\":9}' WHERE seq = 2"], 2, "edited"),
        ("delete", &["DELETE FROM audit_log WHERE seq = 3"], 4, "deleted"),
        ("delete last", &["DELETE FROM audit_log WHERE seq = 5"], 5, "deleted from the end"),
        (
            "insert",
            &["INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) SELECT 6, at, 'mallory', kind, subject, details, hash, hash FROM audit_log WHERE seq = 5"],
            6,
            "does not match its hash",
        ),
        (
            "reorder",
            &[
                "UPDATE audit_log SET seq = 100 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 100",
            ],
            2,
            "reordered",
        ),
    ];
    for t in testing::all().await {
        for (name, sql, seq, words) in cases {
            let fresh = if t.backend == "sqlite" {
                testing::sqlite().await.unwrap()
            } else {
                testing::postgres().await.unwrap()
            };
            let audit = filled(&fresh.store, 5).await;
            for stmt in *sql {
                fresh.store.execute_raw(stmt).await.unwrap();
            }
            let b = broken_at(&audit).await;
            assert_eq!(b.seq, *seq, "{name} on {}: {b}", t.backend);
            assert!(b.reason.contains(words), "{name} on {}: {b}", t.backend);
            fresh.cleanup().await;
        }
        t.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_writers_never_fork_the_chain() {
    for t in testing::all().await {
        // Two pools on one database behave like two processes: separate connections.
        let other = Store::open(&t.url).await.unwrap();
        let (a, b) = (Audit::new(t.store.clone()), Audit::new(other.clone()));
        let write = |audit: Audit, who: &'static str| async move {
            for i in 0..25 {
                audit
                    .record(
                        who,
                        "stage.finished",
                        &format!("run {i}"),
                        serde_json::json!({}),
                    )
                    .await
                    .unwrap();
            }
        };
        let mut tasks = Vec::new();
        for (audit, who) in [
            (a.clone(), "p1"),
            (b.clone(), "p2"),
            (a.clone(), "p3"),
            (b, "p4"),
        ] {
            tasks.push(tokio::spawn(write(audit, who)));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(a.verify().await.unwrap(), 100, "{}", t.backend);
        other.close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn export_writes_json_lines_since_a_time() {
    let t = testing::sqlite().await.unwrap();
    let audit = filled(&t.store, 3).await;
    let mut out = Vec::new();
    assert_eq!(audit.export(0, &mut out).await.unwrap(), 3);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["prev_hash"], GENESIS);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert_eq!(lines[2]["details"]["n"], 2);
    let mut none = Vec::new();
    assert_eq!(
        audit
            .export(crate::clock::now_ms() + 60_000, &mut none)
            .await
            .unwrap(),
        0
    );
    t.cleanup().await;
}

#[test]
fn the_hash_covers_every_field() {
    let base = entry_hash(1, 2, "a", "k", "s", "{}", GENESIS);
    assert_eq!(base.len(), 64);
    for other in [
        entry_hash(2, 2, "a", "k", "s", "{}", GENESIS),
        entry_hash(1, 3, "a", "k", "s", "{}", GENESIS),
        entry_hash(1, 2, "b", "k", "s", "{}", GENESIS),
        entry_hash(1, 2, "a", "x", "s", "{}", GENESIS),
        entry_hash(1, 2, "a", "k", "t", "{}", GENESIS),
        entry_hash(1, 2, "a", "k", "s", "{\"x\":1}", GENESIS),
        entry_hash(1, 2, "a", "k", "s", "{}", &base),
    ] {
        assert_ne!(base, other);
    }
}

#[tokio::test]
async fn an_entry_forged_with_a_valid_hash_is_caught_by_the_head() {
    for t in testing::all().await {
        let audit = filled(&t.store, 3).await;
        let (_, head_hash) = t.store.audit_head().await.unwrap();
        let hash = entry_hash(4, 1, "mallory", "command", "deploy", "{}", &head_hash);
        t.store
            .execute_raw(&format!(
                "INSERT INTO audit_log (seq, at, actor, kind, subject, details, prev_hash, hash) VALUES (4, 1, 'mallory', 'command', 'deploy', '{{}}', '{head_hash}', '{hash}')"
            ))
            .await
            .unwrap();
        let b = broken_at(&audit).await;
        assert_eq!(b.seq, 4, "{}: {b}", t.backend);
        assert!(
            b.reason.contains("added or changed at the end"),
            "{}: {b}",
            t.backend
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_records_are_committed_in_batches_each_with_its_own_seq() {
    for t in testing::all().await {
        let audit = Audit::new(t.store.clone());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let audit = audit.clone();
                tokio::spawn(async move {
                    audit
                        .record(
                            "p",
                            "refusal",
                            &format!("r {i}"),
                            serde_json::json!({"i": i}),
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<i64>>(), "{}", t.backend);
        assert_eq!(audit.verify().await.unwrap(), 200, "{}", t.backend);
        t.cleanup().await;
    }
}
