//! Freeze windows in the config: the `windows:` entries of an environment (parsed and
//! evaluated in `governance::freeze`).

use serde::{Deserialize, Serialize};

/// A recurring deny window (after Argo CD's sync windows): it opens at each time the cron line
/// matches, in its zone, and stays open for `duration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindowConfig {
    /// Five-field cron line of the opening times, e.g. `0 16 * * 5` (Friday 16:00).
    pub deny: String,
    /// How long each window stays open: `64h`, `90m`, `2d`.
    pub duration: String,
    /// IANA zone the cron line is read in; default: the config's `timezone`.
    #[serde(default)]
    pub tz: Option<String>,
    /// Shown with every refusal and in `status`.
    pub reason: String,
    /// Only these services (absent: the whole environment).
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// Whether rollbacks go through the window (default `allow`: a rollback is how a bad
    /// change is undone during a freeze).
    #[serde(default)]
    pub rollbacks: RollbackRule,
}

/// What a freeze does to rollbacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackRule {
    /// Rollbacks go through.
    #[default]
    Allow,
    /// Rollbacks are refused too.
    Deny,
}
