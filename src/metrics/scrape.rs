//! The families built afresh at each scrape: sessions from the dialogue's session store, and
//! the state read from the store (DORA measures, approvals, runs in progress, last success).

use super::dora::summarize;
use super::labels::{EnvironmentLabels, TargetLabels, TargetWindowLabels};
use crate::store::{Store, StoreError};
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

type F64Gauges<L> = Family<L, Gauge<f64, AtomicU64>>;
type IntGauges<L> = Family<L, Gauge>;

/// The DORA windows: label and length in days.
pub(super) const WINDOWS: [(&str, i64); 2] = [("7d", 7), ("30d", 30)];
const DAY_MS: i64 = 86_400_000;

fn text(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = encode_registry(&mut out, registry);
    out
}

/// `deckhand_sessions_active` (when a session store is tracked).
pub(super) fn live_families(sessions: Option<usize>) -> String {
    let Some(active) = sessions else {
        return String::new();
    };
    let mut r = Registry::with_prefix("deckhand");
    let g: Gauge = Gauge::default();
    g.set(active as i64);
    r.register(
        "sessions_active",
        "Chat threads with a message within the session TTL",
        g,
    );
    text(&r)
}

/// Everything read from the store, with `deckhand_store_up` saying whether it answered.
pub(super) async fn store_families(store: &Store, now: i64) -> String {
    let mut r = Registry::with_prefix("deckhand");
    let up: Gauge = Gauge::default();
    r.register(
        "store_up",
        "1 when the store answered this scrape's queries, else 0",
        up.clone(),
    );
    match fill(&mut r, store, now).await {
        Ok(()) => {
            up.set(1);
            text(&r)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the store did not answer");
            // Only `store_up`: half-read state would be wrong, not just missing.
            let mut only = Registry::with_prefix("deckhand");
            only.register(
                "store_up",
                "1 when the store answered this scrape's queries, else 0",
                up,
            );
            text(&only)
        }
    }
}

async fn fill(r: &mut Registry, store: &Store, now: i64) -> Result<(), StoreError> {
    let longest = WINDOWS.iter().map(|(_, d)| *d).max().unwrap_or(30);
    let runs = store.finished_runs_since(now - longest * DAY_MS).await?;
    let windows: Vec<(&'static str, i64)> = WINDOWS
        .iter()
        .map(|(label, days)| (*label, now - days * DAY_MS))
        .collect();
    dora_families(r, &summarize(&runs, &windows));
    let pending = store.pending_approval_summary(now).await?;
    let count: IntGauges<EnvironmentLabels> = Family::default();
    let age: F64Gauges<EnvironmentLabels> = Family::default();
    for p in &pending {
        let l = EnvironmentLabels {
            environment: p.environment.clone(),
        };
        count.get_or_create(&l).set(p.count);
        age.get_or_create(&l)
            .set((now - p.oldest_created_at).max(0) as f64 / 1000.0);
    }
    r.register(
        "approvals_pending",
        "Approval requests waiting for a decision (not expired), per environment",
        count,
    );
    r.register_with_unit(
        "approvals_oldest_pending_age",
        "Age of the oldest approval request still waiting, per environment",
        Unit::Seconds,
        age,
    );
    let running: IntGauges<EnvironmentLabels> = Family::default();
    for t in store.running_by_environment().await? {
        running
            .get_or_create(&EnvironmentLabels {
                environment: t.environment,
            })
            .set(t.value);
    }
    r.register(
        "runs_in_progress",
        "Runs in progress in any process, per environment",
        running,
    );
    let last: F64Gauges<TargetLabels> = Family::default();
    for t in store.last_successful_deploys().await? {
        last.get_or_create(&TargetLabels {
            service: t.service,
            environment: t.environment,
        })
        .set(t.value as f64 / 1000.0);
    }
    r.register_with_unit(
        "last_successful_deploy_timestamp",
        "When the newest successful deploy of each target ended (unix time)",
        Unit::Seconds,
        last,
    );
    Ok(())
}

fn dora_families(r: &mut Registry, summary: &[super::TargetDora]) {
    let deployments: IntGauges<TargetWindowLabels> = Family::default();
    let changes: IntGauges<TargetWindowLabels> = Family::default();
    let failures: IntGauges<TargetWindowLabels> = Family::default();
    let ratio: F64Gauges<TargetWindowLabels> = Family::default();
    let mean: F64Gauges<TargetWindowLabels> = Family::default();
    let last: F64Gauges<TargetWindowLabels> = Family::default();
    for d in summary {
        let l = TargetWindowLabels {
            service: d.service.clone(),
            environment: d.environment.clone(),
            window: d.window,
        };
        deployments.get_or_create(&l).set(d.deployments as i64);
        changes.get_or_create(&l).set(d.changes as i64);
        failures.get_or_create(&l).set(d.change_failures as i64);
        if let Some(v) = d.change_failure_ratio() {
            ratio.get_or_create(&l).set(v);
        }
        if let Some(v) = d.restore_mean_secs {
            mean.get_or_create(&l).set(v);
        }
        if let Some(v) = d.restore_last_secs {
            last.get_or_create(&l).set(v);
        }
    }
    r.register(
        "dora_deployments",
        "DORA deployment frequency: successful deploys that ended in the window",
        deployments,
    );
    r.register(
        "dora_changes",
        "Deploys in the window that changed the target (succeeded, or failed after switching)",
        changes,
    );
    r.register(
        "dora_change_failures",
        "Changes in the window that failed after switching, or were rolled back within 24 h",
        failures,
    );
    r.register(
        "dora_change_failure_ratio",
        "DORA change failure rate: change failures / changes in the window",
        ratio,
    );
    r.register_with_unit(
        "dora_time_to_restore_mean",
        "DORA time to restore: mean over the change failures of the window that were restored",
        Unit::Seconds,
        mean,
    );
    r.register_with_unit(
        "dora_time_to_restore_last",
        "Time to restore of the most recently restored change failure of the window",
        Unit::Seconds,
        last,
    );
}
