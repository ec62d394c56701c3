//! What a run tells the store about its target: switches (`::live` facts, the switching
//! stage succeeding), how the checks after them went, and what is live once they are settled.

use super::run::{safe_version, PhaseEnd, RunJob};
use super::status::Phase;
use crate::store::{Action, Deployment};
use tokio::sync::mpsc;

impl RunJob {
    /// Records a switch of the target to `version` now; false when the store failed.
    pub(super) async fn switch(&self, phase: Phase, action: Action, version: Option<&str>) -> bool {
        match self
            .store
            .record_switch(&self.record, phase, action, version)
            .await
        {
            Ok(()) => {
                tracing::info!(version = ?version, phase = phase.as_str(), "target switched");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not record the switch of the target");
                false
            }
        }
    }

    /// Records every `::live <version>` fact as a switch the moment the stage prints it
    /// (an empty value means the version being deployed). Returns whether one was recorded.
    pub(super) async fn record_live_facts(
        &self,
        phase: Phase,
        action: Action,
        mut version: Option<String>,
        mut facts: mpsc::UnboundedReceiver<(String, String)>,
    ) -> bool {
        let mut last: Option<Option<String>> = None;
        while let Some((key, value)) = facts.recv().await {
            match key.as_str() {
                "version" if safe_version(&value) => version = Some(value),
                "live" => {
                    let live = if value.is_empty() {
                        version.clone()
                    } else if safe_version(&value) {
                        Some(value)
                    } else {
                        tracing::warn!(value = %value, "ignored unsafe ::live fact");
                        continue;
                    };
                    // A stage repeating the same line (progress) is one switch.
                    if last.as_ref() != Some(&live)
                        && self.switch(phase, action, live.as_deref()).await
                    {
                        last = Some(live);
                    }
                }
                _ => {}
            }
        }
        last.is_some()
    }

    /// Settles the switches of a phase that has ended. (A phase that completed without
    /// reporting a switch switched at its end: the store records that with the outcome.)
    pub(super) async fn settle(&self, phase: Phase, end: &PhaseEnd) {
        let (outcome, stage) = end.settlement();
        if let Err(e) = self
            .store
            .settle_switches(self.record.id, phase, outcome, stage)
            .await
        {
            tracing::error!(error = %e, "could not record how the checks after the switch went");
        }
    }

    /// The release live on the run's target now (read after its switches are settled).
    pub(super) async fn live_release(&self) -> Option<Deployment> {
        let r = &self.record;
        match self
            .store
            .live_versions(Some(&r.service), Some(&r.environment))
            .await
        {
            Ok(l) => l.into_iter().next(),
            Err(e) => {
                tracing::error!(error = %e, "could not read what is live");
                None
            }
        }
    }
}
