//! The client subcommands' flags (clap derive); `main.rs` flattens [`ClientCommand`] into
//! the binary's subcommands.

use std::path::PathBuf;

/// Where the server is and how to print: the flags every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The Deckhand server's base URL.
    #[arg(
        long,
        env = "DECKHAND_SERVER",
        default_value = "http://127.0.0.1:3000",
        value_name = "URL"
    )]
    pub server: String,
    /// Read the API token from this file (default: the DECKHAND_TOKEN environment variable).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Print the server's JSON as is (one object) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A deploy strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// Switch everything at once.
    Direct,
    /// A percentage first (see --percent).
    Canary,
    /// A second environment, then the switch.
    #[value(name = "blue-green", alias = "blue_green")]
    BlueGreen,
}

impl StrategyArg {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyArg::Direct => "direct",
            StrategyArg::Canary => "canary",
            StrategyArg::BlueGreen => "blue-green",
        }
    }
}

/// A chat platform to report a run to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformArg {
    /// Slack.
    Slack,
    /// Discord.
    Discord,
}

impl PlatformArg {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformArg::Slack => "slack",
            PlatformArg::Discord => "discord",
        }
    }
}

/// A chat channel the server also reports a run (or its approval request) to.
#[derive(Debug, Clone, clap::Args)]
pub struct NotifyArgs {
    /// Also report the run (and an approval request) on this chat platform (one the server
    /// is connected to) ...
    #[arg(long, value_enum, requires = "notify_channel")]
    pub notify_platform: Option<PlatformArg>,
    /// ... in this channel (the platform's channel id).
    #[arg(long, requires = "notify_platform")]
    pub notify_channel: Option<String>,
}

impl NotifyArgs {
    /// The request's `notify` object, when both flags are given.
    pub fn body(&self) -> Option<serde_json::Value> {
        match (self.notify_platform, &self.notify_channel) {
            (Some(p), Some(c)) => Some(serde_json::json!({"platform": p.as_str(), "channel": c})),
            _ => None,
        }
    }
}

/// `deckhand deploy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    /// Service to deploy.
    pub service: String,
    /// Environment to deploy to.
    pub environment: String,
    /// Version (default: what the pipeline builds).
    #[arg(long)]
    pub version: Option<String>,
    /// Strategy (default: the environment's, or what deploy memory recommends).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Canary percentage.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub percent: Option<u8>,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Follow the run to its end (through an approval, if one is needed); exit 0 when it
    /// succeeded, 1 when it did not.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand rollback`.
#[derive(Debug, Clone, clap::Args)]
pub struct RollbackArgs {
    /// Service to roll back.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Version to return to (default: the one before the live release).
    #[arg(long)]
    pub version: Option<String>,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Follow the run to its end; exit 0 when it succeeded, 1 when it did not.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// One service (default: every service with something live or running).
    pub service: Option<String>,
    /// One environment (default: all).
    #[arg(long, short)]
    pub environment: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand history`.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// One service (default: all).
    pub service: Option<String>,
    /// One environment (default: all).
    #[arg(long, short)]
    pub environment: Option<String>,
    /// How many entries at most.
    #[arg(long, short = 'n')]
    pub limit: Option<u32>,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand context`.
#[derive(Debug, Clone, clap::Args)]
pub struct ContextArgs {
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    #[command(flatten)]
    pub conn: Connection,
}

/// A run's status, for `runs list --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunStatusArg {
    /// In progress.
    Running,
    /// Every stage succeeded.
    Succeeded,
    /// A stage failed.
    Failed,
    /// Someone cancelled it.
    Cancelled,
    /// Deckhand stopped while it ran.
    Interrupted,
}

/// `deckhand runs ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
        /// Only this environment.
        #[arg(long, short)]
        environment: Option<String>,
        /// Only runs with this status.
        #[arg(long, value_enum)]
        status: Option<RunStatusArg>,
        /// How many at most (server default 20, at most 200).
        #[arg(long, short = 'n')]
        limit: Option<u32>,
        #[command(flatten)]
        conn: Connection,
    },
    /// One run: its facts and stages.
    Show {
        /// Run id.
        id: i64,
        #[command(flatten)]
        conn: Connection,
    },
    /// A run's output: the stored stages' log tails, or with --follow its live event stream
    /// to the end (exit 0 when it succeeded, 1 when it did not).
    Logs {
        /// Run id.
        id: i64,
        /// Stream the events until the run ends (with --json: one event object per line).
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// Stop a running run.
    Cancel {
        /// Run id.
        id: i64,
        #[command(flatten)]
        conn: Connection,
    },
}

/// An approval request's status, for `approvals --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApprovalStatusArg {
    /// Waiting for decisions.
    Pending,
    /// Approved (its run started, or was refused).
    Approved,
    /// Rejected.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// The requester withdrew it.
    Withdrawn,
}

/// `deckhand approvals`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApprovalsArgs {
    /// Which requests.
    #[arg(long, value_enum, default_value = "pending")]
    pub status: ApprovalStatusArg,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand approve` / `deckhand reject`.
#[derive(Debug, Clone, clap::Args)]
pub struct DecideArgs {
    /// Approval request id.
    pub id: i64,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand lock`.
#[derive(Debug, Clone, clap::Args)]
pub struct LockArgs {
    /// Environment to lock.
    pub environment: String,
    /// Lock only this service in it.
    #[arg(long, short)]
    pub service: Option<String>,
    /// For how long: 30m, 2h, 1d (default: until unlocked).
    #[arg(long, short)]
    pub duration: Option<String>,
    /// Why (shown to whoever is refused).
    #[arg(long, short)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand unlock`.
#[derive(Debug, Clone, clap::Args)]
pub struct UnlockArgs {
    /// Environment to unlock.
    pub environment: String,
    /// Only this service's lock.
    #[arg(long, short)]
    pub service: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand locks`.
#[derive(Debug, Clone, clap::Args)]
pub struct LocksArgs {
    /// Only this environment.
    #[arg(long, short)]
    pub environment: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// `deckhand healthcheck`.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The URL to check (default: /healthz on DECKHAND_SERVER, else on serve.listen of
    /// --config / DECKHAND_CONFIG, else http://127.0.0.1:3000/healthz).
    #[arg(long)]
    pub url: Option<String>,
    /// Config whose serve.listen gives the address (only that key is read).
    #[arg(long, env = "DECKHAND_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

/// The subcommands that talk to a running Deckhand server over its HTTP API (plus
/// `completions`). Exit codes: 0 ok, 1 the run failed (or was cancelled or interrupted),
/// 2 usage, 3 refused by the server, 4 no usable answer (unreachable, 401, server error).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCommand {
    /// Start a deploy on the server (exit 3 when refused; with --wait 1 when the run fails).
    Deploy(DeployArgs),
    /// Start a rollback on the server.
    Rollback(RollbackArgs),
    /// What is live where, what is running, the locks.
    Status(StatusArgs),
    /// Recent deployments and rollbacks.
    History(HistoryArgs),
    /// Deploy memory of a service in an environment, and the recommended strategy.
    Context(ContextArgs),
    /// List, show, follow and cancel runs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Approval requests (pending by default).
    Approvals(ApprovalsArgs),
    /// Approve a request (four-eyes: not your own).
    Approve(DecideArgs),
    /// Reject a request.
    Reject(DecideArgs),
    /// Lock an environment (or one service in it).
    Lock(LockArgs),
    /// Lift a lock.
    Unlock(UnlockArgs),
    /// Active locks.
    Locks(LocksArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Exit 0 when the server's /healthz answers 200, 1 otherwise (for container health
    /// checks; needs no curl).
    Healthcheck(HealthArgs),
}
