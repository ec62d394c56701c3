//! The DORA measures of each target (service in an environment), worked out from the runs the
//! store holds, so every replica reports the same numbers.
//!
//! Definitions (also in the README, "Metrics and health"):
//! - A **deployment** is a deploy run that succeeded, counted when it ended.
//! - A **change** is a deploy that changed the target: one that succeeded, or one that failed
//!   after its main phase switched the target (a `live_releases` row) or that its automatic
//!   rollback undid. A deploy that failed before switching (build, test) changed nothing.
//! - A **change failure** is a change that failed (as above), or a deployment whose target's
//!   next run is a rollback started within [`ROLLBACK_BLAME_MS`] of it ending.
//! - **Change failure rate** = change failures / changes, both counted when the deploy ended.
//! - **Time to restore** of a change failure runs from the failure (the failing stage ended,
//!   or the rollback was started) to the restore (its automatic rollback finished, or the next
//!   run on the target that succeeded ended); failures not yet restored have none.
//! - **Lead time for changes** needs commit times, which Deckhand does not record: not exported.

use crate::pipeline::RunStatus;
use crate::store::{Action, FinishedRun};
use std::collections::BTreeMap;

/// A rollback started this soon after a successful deploy ended blames that deploy: 24 h.
pub const ROLLBACK_BLAME_MS: i64 = 24 * 3_600_000;

/// The DORA measures of one target over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDora {
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// The window's label (`7d`, `30d`).
    pub window: &'static str,
    /// Deployments that ended in the window.
    pub deployments: u64,
    /// Changes that ended in the window.
    pub changes: u64,
    /// Change failures among them.
    pub change_failures: u64,
    /// Mean time to restore of the change failures that failed in the window and were
    /// restored, seconds.
    pub restore_mean_secs: Option<f64>,
    /// Time to restore of the most recently restored of them, seconds.
    pub restore_last_secs: Option<f64>,
}

impl TargetDora {
    /// Change failures / changes, when there was a change.
    pub fn change_failure_ratio(&self) -> Option<f64> {
        (self.changes > 0).then(|| self.change_failures as f64 / self.changes as f64)
    }
}

/// One change failure: when the deploy it blames ended, when it failed, when it was restored.
struct Failure {
    deploy_ended: i64,
    failed_at: i64,
    restored_at: Option<i64>,
}

/// The first run from `from` on that succeeded: when it ended.
fn next_success(runs: &[&FinishedRun], from: usize) -> Option<i64> {
    runs.iter()
        .skip(from)
        .find(|r| r.status == RunStatus::Succeeded)
        .map(|r| r.finished_at)
}

/// The change failures of one target's runs (oldest first).
fn failures(runs: &[&FinishedRun]) -> Vec<Failure> {
    let mut out = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        if r.action != Action::Deploy {
            continue;
        }
        if r.status == RunStatus::Failed && (r.switched || r.rolled_back) {
            out.push(Failure {
                deploy_ended: r.finished_at,
                failed_at: r.failed_at.unwrap_or(r.finished_at).min(r.finished_at),
                restored_at: if r.rolled_back {
                    Some(r.finished_at)
                } else {
                    next_success(runs, i + 1)
                },
            });
        } else if r.status == RunStatus::Succeeded {
            let Some(next) = runs.get(i + 1) else {
                continue;
            };
            if next.action == Action::Rollback
                && next.started_at - r.finished_at <= ROLLBACK_BLAME_MS
            {
                out.push(Failure {
                    deploy_ended: r.finished_at,
                    failed_at: next.started_at,
                    restored_at: next_success(runs, i + 1),
                });
            }
        }
    }
    out
}

fn is_change(r: &FinishedRun) -> bool {
    r.action == Action::Deploy
        && (r.status == RunStatus::Succeeded
            || (r.status == RunStatus::Failed && (r.switched || r.rolled_back)))
}

/// The measures of every target with a change or a deployment in each window. `windows` are
/// (label, start in unix ms); `runs` must cover the longest window, oldest first.
pub fn summarize(runs: &[FinishedRun], windows: &[(&'static str, i64)]) -> Vec<TargetDora> {
    let mut by_target: BTreeMap<(&str, &str), Vec<&FinishedRun>> = BTreeMap::new();
    for r in runs {
        by_target
            .entry((r.service.as_str(), r.environment.as_str()))
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for ((service, environment), list) in by_target {
        let failed = failures(&list);
        for &(window, since) in windows {
            let deployments = list
                .iter()
                .filter(|r| {
                    r.action == Action::Deploy
                        && r.status == RunStatus::Succeeded
                        && r.finished_at >= since
                })
                .count() as u64;
            let changes = list
                .iter()
                .filter(|r| is_change(r) && r.finished_at >= since)
                .count() as u64;
            if deployments == 0 && changes == 0 {
                continue;
            }
            let change_failures = failed.iter().filter(|f| f.deploy_ended >= since).count() as u64;
            let restored: Vec<(i64, f64)> = failed
                .iter()
                .filter(|f| f.failed_at >= since)
                .filter_map(|f| {
                    let at = f.restored_at?;
                    Some((at, (at - f.failed_at).max(0) as f64 / 1000.0))
                })
                .collect();
            let restore_mean_secs = (!restored.is_empty())
                .then(|| restored.iter().map(|(_, s)| s).sum::<f64>() / restored.len() as f64);
            let restore_last_secs = restored.iter().max_by_key(|(at, _)| *at).map(|(_, s)| *s);
            out.push(TargetDora {
                service: service.to_string(),
                environment: environment.to_string(),
                window,
                deployments,
                changes,
                change_failures,
                restore_mean_secs,
                restore_last_secs,
            });
        }
    }
    out
}
