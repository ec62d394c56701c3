//! Recurring jobs in the config (`jobs:`): a deploy or rollback fired at each time a cron
//! line matches, as a configured person, under that person's roles and every policy (a
//! production job posts an approval request instead of running). The rows they become are
//! kept in step with this list at start-up (`Bot::sync_jobs`).

use super::Strategy;
use serde::Deserialize;

/// One recurring job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Unique name (shown in `list schedules`; the stored schedule is found by it).
    pub name: String,
    /// Five-field cron line, e.g. `0 6 * * 1-5` (weekdays at 06:00).
    pub cron: String,
    /// IANA zone the cron line is read in; default: the config's `timezone`.
    #[serde(default)]
    pub tz: Option<String>,
    /// The person (of `people:`) it runs as; their roles apply.
    pub run_as: String,
    /// Deploy this.
    #[serde(default)]
    pub deploy: Option<JobRun>,
    /// Or roll this back.
    #[serde(default)]
    pub rollback: Option<JobRun>,
    /// Where each fire is reported (absent: the audit log and `GET /schedules` only).
    #[serde(default)]
    pub notify: Option<JobNotify>,
}

/// The target of a job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRun {
    /// Service (name or alias).
    pub service: String,
    /// Environment (name or alias).
    pub environment: String,
    /// Version (absent: the latest build; for a rollback, the previous release).
    #[serde(default)]
    pub version: Option<String>,
    /// Strategy (absent: deploy memory's recommendation or the environment's default).
    #[serde(default)]
    pub strategy: Option<Strategy>,
}

/// A chat channel to report to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobNotify {
    /// `console`, `slack` or `discord`.
    pub platform: String,
    /// The platform's channel id (for the console: a thread name).
    pub channel: String,
}

impl JobConfig {
    /// The deploy or rollback it runs (validation makes sure there is exactly one).
    pub fn target(&self) -> Option<(crate::store::Action, &JobRun)> {
        use crate::store::Action;
        match (&self.deploy, &self.rollback) {
            (Some(d), None) => Some((Action::Deploy, d)),
            (None, Some(r)) => Some((Action::Rollback, r)),
            _ => None,
        }
    }
}
