//! Deploy memory: from a service's recent deploys in an environment, the facts that matter
//! (failure rate, failing stages, time since the last success, services that failed when
//! deployed around the same time) and, through the config's rules, a recommended strategy.
//! Pure functions over a list of outcomes, so they are deterministic and easy to test.

use crate::config::{MemoryConfig, Strategy};
use crate::store::DeployOutcome;
use crate::timefmt::span as timefmt_span;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What history says about one service in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Facts {
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Deploys considered (at most the window).
    pub considered: usize,
    /// Failures among them.
    pub failures: usize,
    /// Failed stage name -> count, among those failures.
    pub failing_stages: BTreeMap<String, usize>,
    /// Last successful deploy (anywhere in the history given), unix ms.
    pub last_success_at: Option<i64>,
    /// Other service -> how many of this service's failures had it failing nearby in time.
    pub co_failures: BTreeMap<String, usize>,
    /// A release one of these deploys left live although its checks did not pass:
    /// "3.2.0-rc.1 is live (its verify failed)".
    pub live_problem: Option<String>,
}

/// A strategy suggested by the rules, with the reason to show.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recommendation {
    /// Suggested strategy.
    pub strategy: Strategy,
    /// Suggested canary percent.
    pub percent: Option<u8>,
    /// One line for confirmations and approval requests.
    pub reason: String,
}

/// Gathers the facts from `history` (deploys in the environment, any order).
pub fn facts(
    history: &[DeployOutcome],
    service: &str,
    environment: &str,
    cfg: &MemoryConfig,
) -> Facts {
    let mut own: Vec<&DeployOutcome> = history
        .iter()
        .filter(|d| d.service == service && d.environment == environment)
        .collect();
    own.sort_by_key(|d| std::cmp::Reverse((d.at, d.run_id)));
    let recent: Vec<&DeployOutcome> = own.iter().take(cfg.window).copied().collect();
    let mut failing_stages = BTreeMap::new();
    let mut co_failures = BTreeMap::new();
    let window_ms = cfg.co_deploy_window_secs as i64 * 1000;
    for d in recent.iter().filter(|d| !d.succeeded) {
        if let Some(stage) = &d.failed_stage {
            *failing_stages.entry(stage.clone()).or_insert(0) += 1;
        }
        let mut nearby: Vec<&str> = history
            .iter()
            .filter(|o| {
                o.service != service
                    && o.environment == environment
                    && !o.succeeded
                    && (o.at - d.at).abs() <= window_ms
            })
            .map(|o| o.service.as_str())
            .collect();
        nearby.sort_unstable();
        nearby.dedup();
        for s in nearby {
            *co_failures.entry(s.to_string()).or_insert(0) += 1;
        }
    }
    Facts {
        service: service.into(),
        environment: environment.into(),
        considered: recent.len(),
        failures: recent.iter().filter(|d| !d.succeeded).count(),
        failing_stages,
        last_success_at: own.iter().find(|d| d.succeeded).map(|d| d.at),
        co_failures,
        live_problem: own.iter().find_map(|d| d.live_problem.clone()),
    }
}

impl Facts {
    /// "billionmail failed 2 of its last 5 production deploys (verify stage)".
    pub fn failure_line(&self) -> Option<String> {
        if self.failures == 0 {
            return None;
        }
        let stages = if self.failing_stages.is_empty() {
            String::new()
        } else {
            let mut by_count: Vec<(&String, &usize)> = self.failing_stages.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let names: Vec<&str> = by_count.iter().map(|(n, _)| n.as_str()).collect();
            format!(
                " ({} stage{})",
                names.join(", "),
                if names.len() > 1 { "s" } else { "" }
            )
        };
        Some(format!(
            "{} failed {} of its last {} {} deploys{stages}",
            self.service, self.failures, self.considered, self.environment
        ))
    }

    /// The full sentence for `status` and `explain`; None when history is unremarkable.
    pub fn summary(&self, now_ms: i64) -> Option<String> {
        let failure = self.failure_line();
        if failure.is_none() && self.live_problem.is_none() {
            return None;
        }
        // What the target runs now comes first: it is the fact a deployer must not miss.
        let mut parts: Vec<String> = self.live_problem.iter().cloned().chain(failure).collect();
        match self.last_success_at {
            Some(at) => parts.push(format!(
                "last success {} ago",
                timefmt_span(Duration::from_millis((now_ms - at).max(0) as u64))
            )),
            None => parts.push("no successful deploy on record".into()),
        }
        for (svc, n) in &self.co_failures {
            parts.push(format!(
                "{svc} also failed around the same time {n} time{}",
                if *n > 1 { "s" } else { "" }
            ));
        }
        Some(parts.join("; "))
    }
}

/// Applies the rules: the one with the most failures that still matches wins.
pub fn recommend(facts: &Facts, cfg: &MemoryConfig) -> Option<Recommendation> {
    let rule = cfg
        .rules
        .iter()
        .filter(|r| facts.failures >= r.min_failures)
        .max_by_key(|r| r.min_failures)?;
    let strategy = match (rule.recommend, rule.percent) {
        (Strategy::Canary, Some(p)) => format!("canary {p}%"),
        (s, _) => s.to_string(),
    };
    Some(Recommendation {
        strategy: rule.recommend,
        percent: if rule.recommend == Strategy::Canary {
            rule.percent
        } else {
            None
        },
        reason: format!("{}; recommending {strategy}", facts.failure_line()?),
    })
}

#[cfg(test)]
mod tests;
