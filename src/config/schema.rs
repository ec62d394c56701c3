//! The `deckhand.yaml` schema: every struct rejects unknown fields so a typo is reported
//! with its line and field name instead of being silently ignored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where runs, stage results and deployments are stored.
    #[serde(default)]
    pub store: StoreConfig,
    /// Per-thread conversation settings.
    #[serde(default)]
    pub session: SessionConfig,
    /// Language-understanding settings.
    #[serde(default)]
    pub nlu: NluConfig,
    /// Dialogue flow settings.
    #[serde(default)]
    pub dialogue: DialogueConfig,
    /// Deployable services.
    pub services: Vec<Service>,
    /// Target environments.
    pub environments: Vec<Environment>,
    /// Named pipelines referenced by services.
    pub pipelines: BTreeMap<String, Pipeline>,
    /// Folder of the config file; relative paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Store settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path` (relative to the config folder) or `postgres://...`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: default_store_url(),
        }
    }
}

fn default_store_url() -> String {
    "sqlite://.deckhand/deckhand.db".to_string()
}

/// Conversation session settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// Seconds of inactivity after which a half-finished request expires.
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
    /// Turns of history kept per thread.
    #[serde(default = "default_history")]
    pub max_history: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ttl_secs: default_ttl(),
            max_history: default_history(),
        }
    }
}

fn default_ttl() -> u64 {
    3600
}
fn default_history() -> usize {
    20
}

/// NLU settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NluConfig {
    /// Minimum classifier confidence; below it the intent is `none`.
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// Folder of `<intent>.yaml` training files; the built-in set when absent.
    #[serde(default)]
    pub intents_dir: Option<PathBuf>,
}

impl Default for NluConfig {
    fn default() -> Self {
        NluConfig {
            threshold: default_threshold(),
            intents_dir: None,
        }
    }
}

fn default_threshold() -> f32 {
    0.45
}

/// Dialogue settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogueConfig {
    /// Folder of `<intent>.yaml` flows; the built-in set when absent.
    #[serde(default)]
    pub flows_dir: Option<PathBuf>,
}

/// A deployable service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Canonical name, passed to stages as `DECKHAND_SERVICE`.
    pub name: String,
    /// Other names users may type (multi-word allowed).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Name of the pipeline that deploys it.
    pub pipeline: String,
}

/// A target environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Canonical name, passed to stages as `DECKHAND_ENVIRONMENT`.
    pub name: String,
    /// Other names users may type.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Position in the promotion order (dev < staging < production); used for listing.
    pub order: u32,
    /// Strategy used when the user names none.
    #[serde(default)]
    pub default_strategy: Strategy,
    /// Run the pipeline's rollback pipeline when a deploy fails.
    #[serde(default)]
    pub auto_rollback: bool,
}

/// How a new version reaches traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Replace the running version at once.
    #[default]
    Direct,
    /// Send a percentage of traffic to the new version first.
    Canary,
    /// Switch between two full environments.
    BlueGreen,
}

impl Strategy {
    /// The canonical spelling (`direct`, `canary`, `blue-green`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::Canary => "canary",
            Strategy::BlueGreen => "blue-green",
        }
    }

    /// Parses a canonical spelling.
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "direct" => Some(Strategy::Direct),
            "canary" => Some(Strategy::Canary),
            "blue-green" => Some(Strategy::BlueGreen),
            _ => None,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ordered list of stages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Extra environment variables for every stage (values starting with `./` or `../` are
    /// resolved against the config folder).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Stages, run in order.
    pub stages: Vec<Stage>,
    /// Pipeline run to undo a failed deploy and for `rollback` commands.
    #[serde(default)]
    pub rollback: Option<String>,
}

/// One step of a pipeline, run as a child process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Short name shown in progress (`build`, `test`, ...).
    pub name: String,
    /// Command line run with `sh -c` in the config folder. Written by the operator, never by chat.
    pub command: String,
    /// Seconds before the stage is stopped and counted as failed.
    #[serde(default = "default_stage_timeout")]
    pub timeout_secs: u64,
}

fn default_stage_timeout() -> u64 {
    600
}
