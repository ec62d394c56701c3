//! The label sets of Deckhand's metrics. Every label is bounded: names from the config
//! (service, environment, stage), enum spellings (action, outcome, kind, intent, status) and
//! platform method names; never a version, a person or a run id.

use prometheus_client::encoding::EncodeLabelSet;

/// `deckhand_runs_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RunLabels {
    pub service: String,
    pub environment: String,
    pub action: &'static str,
    pub strategy: &'static str,
    pub outcome: &'static str,
}

/// `deckhand_run_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RunDurationLabels {
    pub service: String,
    pub environment: String,
    pub action: &'static str,
    pub outcome: &'static str,
}

/// `deckhand_stage_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StageLabels {
    pub service: String,
    pub phase: &'static str,
    pub stage: String,
    pub outcome: &'static str,
}

/// `deckhand_refusals_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabels {
    pub kind: &'static str,
}

/// `deckhand_nlu_intents_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct IntentLabels {
    pub intent: &'static str,
}

/// `deckhand_platform_calls_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CallLabels {
    pub platform: &'static str,
    pub method: String,
    pub status: &'static str,
}

/// `deckhand_platform_rate_limited_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MethodLabels {
    pub platform: &'static str,
    pub method: String,
}

/// `deckhand_platform_retries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RetryLabels {
    pub platform: &'static str,
    pub reason: &'static str,
}

/// `deckhand_events_received_total`, `deckhand_events_duplicate_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PlatformLabels {
    pub platform: String,
}

/// Per target and window (the DORA gauges).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TargetWindowLabels {
    pub service: String,
    pub environment: String,
    pub window: &'static str,
}

/// Per target.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TargetLabels {
    pub service: String,
    pub environment: String,
}

/// Per environment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EnvironmentLabels {
    pub environment: String,
}
