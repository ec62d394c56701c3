//! The `deckhand.yaml` schema: every struct rejects unknown fields so a typo is reported
//! with its line and field name instead of being silently ignored.

use super::windows::FreezeWindowConfig;
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
    /// People by name: their platform identities and roles.
    #[serde(default)]
    pub people: BTreeMap<String, Person>,
    /// Approval and rate-limit settings.
    #[serde(default)]
    pub governance: GovernanceConfig,
    /// Deploy-memory rules that turn history into a recommended strategy.
    #[serde(default)]
    pub memory: MemoryConfig,
    /// `deckhand serve`: the HTTP listener for platform webhooks.
    #[serde(default)]
    pub serve: ServeConfig,
    /// The REST API under `/api/v1` on `deckhand serve`, when present: its callers, by token.
    #[serde(default)]
    pub api: Option<ApiConfig>,
    /// The Slack app, when Deckhand is served to Slack. Tokens come from the environment.
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    /// The Discord bot, when Deckhand is served to Discord. Secrets come from the environment.
    #[serde(default)]
    pub discord: Option<DiscordConfig>,
    /// IANA time zone times are read and shown in when a person has none of their own
    /// (`Europe/Berlin`); default `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Recurring deploys or rollbacks on a cron line (`jobs:`).
    #[serde(default)]
    pub jobs: Vec<super::JobConfig>,
    /// Folder of the config file; relative paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Settings of the HTTP listener started by `deckhand serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on, e.g. `0.0.0.0:3000`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Platform events handled at once, at most, per platform (Socket Mode and gateway events
    /// count too). Past it a webhook request is refused before anything of it is recorded: a
    /// Slack event or click with 503 and `Retry-After` (Slack retries an event, up to three
    /// times on its own schedule), a slash command or Discord interaction with a private "too
    /// busy" answer (those are not sent again). Overload is shed early instead of queueing
    /// handlers without limit.
    #[serde(default = "default_max_pending_events")]
    pub max_pending_events: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: default_listen(),
            max_pending_events: default_max_pending_events(),
        }
    }
}

fn default_max_pending_events() -> usize {
    2000
}

fn default_listen() -> String {
    "127.0.0.1:3000".into()
}

/// The REST API's settings: each bearer token stands for one person of `people:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The tokens that may call the API.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
}

/// One API token. The token itself is never in the file: either the name of an environment
/// variable that holds it, or its SHA-256 (hex).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// The person the token acts as (a key of `people:`).
    pub person: String,
    /// Environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// SHA-256 of the token, 64 hex digits (`printf %s "$TOKEN" | sha256sum`).
    #[serde(default)]
    pub token_sha256: Option<String>,
}

/// How Slack delivers events to Deckhand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackTransport {
    /// Slack POSTs signed requests to `deckhand serve` (needs a public URL).
    EventsApi,
    /// Deckhand opens a WebSocket to Slack (no public URL needed).
    SocketMode,
}

/// The Slack app's settings; the bot token, app token and signing secret are read from
/// `SLACK_BOT_TOKEN`, `SLACK_APP_TOKEN` and `SLACK_SIGNING_SECRET`, never from this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// `events_api` or `socket_mode`.
    pub transport: SlackTransport,
    /// Web API base URL; tests point it at a local fake Slack.
    #[serde(default = "default_slack_api")]
    pub api_base_url: String,
    /// Shortest gap between two edits of one message, in milliseconds.
    #[serde(default = "default_edit_interval")]
    pub edit_interval_ms: u64,
}

/// The Discord bot's settings; the bot token and the application's public key are read from
/// `DISCORD_BOT_TOKEN` and `DISCORD_PUBLIC_KEY`, never from this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// Connect to the gateway (messages that mention the bot or are in its threads, and
    /// interactions unless an interactions endpoint URL is set in the application).
    #[serde(default = "default_true")]
    pub gateway: bool,
    /// Serve the HTTP interactions endpoint at `/discord/interactions` (needs a public URL).
    #[serde(default)]
    pub interactions_endpoint: bool,
    /// REST API base (`https://discord.com`); tests point it at a local fake Discord.
    #[serde(default = "default_discord_api")]
    pub api_base_url: String,
    /// Register the slash commands in this guild only (they appear at once) instead of globally.
    #[serde(default)]
    pub guild_id: Option<String>,
    /// Shortest gap between two edits of one message, in milliseconds.
    #[serde(default = "default_edit_interval")]
    pub edit_interval_ms: u64,
}

fn default_true() -> bool {
    true
}

fn default_discord_api() -> String {
    "https://discord.com".into()
}

fn default_slack_api() -> String {
    "https://slack.com/api".into()
}

fn default_edit_interval() -> u64 {
    1000
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
    /// all-MiniLM-L6-v2 model folder (config.json, tokenizer.json, model.safetensors): turns
    /// on the sentence-embedding stage (needs a build with the `semantic` feature).
    #[serde(default)]
    pub model_dir: Option<PathBuf>,
    /// Where the example embeddings are cached between starts.
    #[serde(default = "default_nlu_cache")]
    pub cache_dir: PathBuf,
    /// Similarity the nearest example needs before the semantic stage may answer with an
    /// action (deploy, rollback, lock, approve, ...).
    #[serde(default = "default_semantic_accept")]
    pub semantic_accept: f32,
    /// The same for questions (status, history, explain, help, yes/no), which change nothing.
    #[serde(default = "default_semantic_accept_query")]
    pub semantic_accept_query: f32,
    /// Lead over the next intent the nearest example needs.
    #[serde(default = "default_semantic_margin")]
    pub semantic_margin: f32,
}

impl Default for NluConfig {
    fn default() -> Self {
        NluConfig {
            threshold: default_threshold(),
            intents_dir: None,
            model_dir: None,
            cache_dir: default_nlu_cache(),
            semantic_accept: default_semantic_accept(),
            semantic_accept_query: default_semantic_accept_query(),
            semantic_margin: default_semantic_margin(),
        }
    }
}

fn default_nlu_cache() -> PathBuf {
    PathBuf::from(".deckhand/nlu-cache")
}

fn default_semantic_accept() -> f32 {
    0.9
}

fn default_semantic_accept_query() -> f32 {
    0.8
}

fn default_semantic_margin() -> f32 {
    0.05
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
    /// Per-environment policy overrides for this service (fields given replace the environment's).
    #[serde(default)]
    pub policies: BTreeMap<String, Policy>,
    /// How to list the versions that can be deployed (default: the pipeline's, else the
    /// newest good build recorded).
    #[serde(default)]
    pub versions: Option<VersionsCommand>,
    /// Services that go before this one in a plan (unless the user says otherwise); a cycle
    /// is a config error.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// A command printing one deployable version per line, oldest first (newest last); run like a
/// stage (`sh -c` in the config folder, the pipeline's `env`, `DECKHAND_SERVICE`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionsCommand {
    /// The command.
    pub command: String,
    /// Seconds before it is stopped (default 30).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
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
    /// Who may do what here; absent fields allow every known person.
    #[serde(default)]
    pub policy: Policy,
    /// Recurring freeze windows: deploys here are refused while one is open.
    #[serde(default)]
    pub windows: Vec<FreezeWindowConfig>,
}

/// How a new version reaches traffic.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, utoipa::ToSchema,
)]
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

    /// Every strategy, in the order choices are offered.
    pub const ALL: [Strategy; 3] = [Strategy::Direct, Strategy::Canary, Strategy::BlueGreen];

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
    /// The first stage that changes the target (e.g. `deploy`): when an earlier stage fails
    /// (build, test) nothing has changed, so no automatic rollback runs. Absent: any failure.
    #[serde(default)]
    pub rollback_from: Option<String>,
    /// How to list the deployable versions of the services it deploys (a service's own
    /// `versions` wins).
    #[serde(default)]
    pub versions: Option<VersionsCommand>,
}

/// One step of a pipeline. Written `{ name, command, timeout_secs }` for a shell command
/// (the default kind); `type:` names another kind once one exists.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawStage")]
pub struct Stage {
    /// Short name shown in progress (`build`, `test`, ...).
    pub name: String,
    /// What the stage does, and its kind's settings.
    pub kind: StageKind,
    /// Seconds before the stage is stopped and counted as failed.
    pub timeout_secs: u64,
}

/// The kinds of stage; each has a runner in `pipeline::stage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageKind {
    /// A command line run with `sh -c` in the config folder, in its own process group.
    /// Written by the operator, never by chat.
    Process {
        /// The command line.
        command: String,
    },
}

/// The `type:` of a stage in the YAML.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum StageType {
    #[default]
    Process,
}

/// A stage as written: the fields of every kind, checked by [`Stage`]'s `TryFrom`, so a kind's
/// fields are required for it (and only accepted by it) without a `type:` on process stages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: String,
    #[serde(rename = "type", default)]
    kind: StageType,
    command: Option<String>,
    #[serde(default = "default_stage_timeout")]
    timeout_secs: u64,
}

impl TryFrom<RawStage> for Stage {
    type Error = String;

    fn try_from(raw: RawStage) -> Result<Stage, String> {
        let kind = match raw.kind {
            StageType::Process => StageKind::Process {
                command: raw.command.ok_or("missing field `command`")?,
            },
        };
        Ok(Stage {
            name: raw.name,
            kind,
            timeout_secs: raw.timeout_secs,
        })
    }
}

impl Stage {
    /// A shell-command stage (tests, defaults).
    pub fn process(name: &str, command: &str, timeout_secs: u64) -> Stage {
        Stage {
            name: name.into(),
            kind: StageKind::Process {
                command: command.into(),
            },
            timeout_secs,
        }
    }
}

fn default_stage_timeout() -> u64 {
    600
}

/// A person: the platform identities that are them, and their roles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// `platform:id`, e.g. `slack:U024BE7LH`, `discord:80351110224678912`, `console:alice`.
    pub identities: Vec<String>,
    /// Role names, e.g. `deployer`, `approver`, `sre`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The IANA zone this person reads and writes times in (default: the config's `timezone`).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// Which roles may act in an environment (or for one service in it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Roles that may deploy (absent: any known person).
    #[serde(default)]
    pub deploy: Option<Vec<String>>,
    /// Roles that may roll back.
    #[serde(default)]
    pub rollback: Option<Vec<String>>,
    /// Roles that may lock and unlock.
    #[serde(default)]
    pub lock: Option<Vec<String>>,
    /// Roles that may approve or reject requests.
    #[serde(default)]
    pub approve: Option<Vec<String>>,
    /// Approvals a deploy or rollback needs before it runs (absent: 0).
    #[serde(default)]
    pub approvals: Option<u32>,
}

impl Policy {
    /// This policy with every field `over` sets replaced.
    pub fn overlay(&self, over: &Policy) -> Policy {
        Policy {
            deploy: over.deploy.clone().or_else(|| self.deploy.clone()),
            rollback: over.rollback.clone().or_else(|| self.rollback.clone()),
            lock: over.lock.clone().or_else(|| self.lock.clone()),
            approve: over.approve.clone().or_else(|| self.approve.clone()),
            approvals: over.approvals.or(self.approvals),
        }
    }
}

/// Approval and rate-limit settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceConfig {
    /// Seconds an approval request stays open.
    #[serde(default = "default_approval_timeout")]
    pub approval_timeout_secs: u64,
    /// Action intents one person may send per window.
    #[serde(default = "default_rate_actions")]
    pub rate_limit_actions: u32,
    /// The rate-limit window in seconds.
    #[serde(default = "default_rate_window")]
    pub rate_limit_window_secs: u64,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        GovernanceConfig {
            approval_timeout_secs: default_approval_timeout(),
            rate_limit_actions: default_rate_actions(),
            rate_limit_window_secs: default_rate_window(),
        }
    }
}

fn default_timezone() -> String {
    "UTC".into()
}
fn default_approval_timeout() -> u64 {
    1800
}
fn default_rate_actions() -> u32 {
    10
}
fn default_rate_window() -> u64 {
    60
}

/// Deploy-memory settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// How many recent deploys of a service in an environment are considered.
    #[serde(default = "default_memory_window")]
    pub window: usize,
    /// Two deploys within this many seconds count as deployed together (co-deploy pattern).
    #[serde(default = "default_co_deploy_window")]
    pub co_deploy_window_secs: u64,
    /// Rules, most failures first wins.
    #[serde(default = "default_memory_rules")]
    pub rules: Vec<MemoryRule>,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            window: default_memory_window(),
            co_deploy_window_secs: default_co_deploy_window(),
            rules: default_memory_rules(),
        }
    }
}

fn default_memory_window() -> usize {
    5
}
fn default_co_deploy_window() -> u64 {
    1800
}
fn default_memory_rules() -> Vec<MemoryRule> {
    vec![MemoryRule {
        min_failures: 2,
        recommend: Strategy::Canary,
        percent: Some(10),
    }]
}

/// "When at least `min_failures` of the last `window` deploys failed, recommend this."
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryRule {
    /// Failures among the recent deploys that trigger the rule.
    pub min_failures: usize,
    /// Strategy to recommend.
    pub recommend: Strategy,
    /// Canary percent to recommend.
    #[serde(default)]
    pub percent: Option<u8>,
}
