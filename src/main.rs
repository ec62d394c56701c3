//! The `deckhand` binary: flags -> config -> tracing -> run.

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use deckhand::adapters::console::{self, ConsoleOptions};
use deckhand::adapters::serve::{self, Server};
use deckhand::adapters::signals::Signals;
use deckhand::audit::{parse_since, Audit, VerifyError};
use deckhand::bot::Bot;
use deckhand::config::Config;
use deckhand::nlu::{eval, Nlu, NluMode};
use deckhand::store::Store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Deckhand: chat-ops deploys in plain language.
#[derive(Parser)]
#[command(name = "deckhand", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Talk to the bot in the terminal (human mode, or JSON Lines with --json).
    Chat {
        /// Config file.
        #[arg(
            long,
            default_value = "examples/deckhand.yaml",
            env = "DECKHAND_CONFIG"
        )]
        config: PathBuf,
        /// Your name in the conversation.
        #[arg(long, env = "USER", default_value = "you")]
        user: String,
        /// Read {"user","text","thread"} objects per line; write one JSON event per line.
        #[arg(long)]
        json: bool,
    },
    /// Serve the platform adapters configured in the config (Slack, Discord) until SIGINT/SIGTERM.
    Serve {
        /// Config file.
        #[arg(
            long,
            default_value = "examples/deckhand.yaml",
            env = "DECKHAND_CONFIG"
        )]
        config: PathBuf,
        /// Listen address (overrides serve.listen), e.g. 0.0.0.0:3000.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check or export the hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Measure the NLU on a JSON Lines data set.
    Eval(EvalArgs),
    /// The clients of a running server's HTTP API, completions and healthcheck (src/cli).
    #[command(flatten)]
    Client(deckhand::cli::ClientCommand),
}

/// The flags of `deckhand eval`.
#[derive(clap::Args)]
struct EvalArgs {
    /// Config whose services and environments the data uses.
    #[arg(long, default_value = "examples/deckhand.yaml")]
    config: PathBuf,
    /// JSON Lines: {"text","intent","slots"} per line.
    #[arg(long)]
    data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also list every row the NLU got wrong.
    #[arg(long)]
    misses: bool,
    /// Which pipeline: `lexical`, or `semantic` (needs nlu.model_dir or --model and a build
    /// with `--features semantic`). Default: semantic when the config sets nlu.model_dir.
    #[arg(long, value_enum)]
    nlu: Option<NluChoice>,
    /// The MiniLM model folder (overrides nlu.model_dir).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Override nlu.semantic_accept (for tuning).
    #[arg(long)]
    accept: Option<f32>,
    /// Override nlu.semantic_accept_query (for tuning).
    #[arg(long)]
    accept_query: Option<f32>,
    /// Override nlu.semantic_margin (for tuning).
    #[arg(long)]
    margin: Option<f32>,
}

/// The NLU pipeline `deckhand eval --nlu` measures.
#[derive(Clone, Copy, clap::ValueEnum)]
enum NluChoice {
    /// The lexical classifier only.
    Lexical,
    /// The lexical classifier plus the sentence-embedding stage.
    Semantic,
}

impl From<NluChoice> for NluMode {
    fn from(choice: NluChoice) -> Self {
        match choice {
            NluChoice::Lexical => NluMode::Lexical,
            NluChoice::Semantic => NluMode::Semantic,
        }
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain; exit 0 with the entry count, or 1 naming the first bad entry.
    Verify {
        /// Config file (for the store URL).
        #[arg(
            long,
            default_value = "examples/deckhand.yaml",
            env = "DECKHAND_CONFIG"
        )]
        config: PathBuf,
    },
    /// Write entries as JSON Lines.
    Export {
        /// Config file (for the store URL).
        #[arg(
            long,
            default_value = "examples/deckhand.yaml",
            env = "DECKHAND_CONFIG"
        )]
        config: PathBuf,
        /// Only entries at or after this time: 2026-11-01, 2026-11-01T10:00:00Z, 24h, 7d or unix ms.
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file; exits non-zero with the problems when it is wrong.
    Check {
        /// Config file.
        file: PathBuf,
    },
}

fn init_tracing(default: &str) {
    let filter: tracing_subscriber::filter::Targets = std::env::var("DECKHAND_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| default.parse().unwrap_or_default());
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                // Stderr, or above the live progress lines while `chat` draws them.
                .with_writer(console::LogWriter)
                .with_filter(filter),
        )
        .init();
}

/// Where a store URL points, without credentials.
fn describe_store(url: &str) -> String {
    match url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Some(path) => format!(
            "no SQLite file at {}",
            path.split('?').next().unwrap_or_default()
        ),
        None => "the PostgreSQL database has no Deckhand tables".to_string(),
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| {
        format!(
            "the config {} is not usable (check it with `deckhand config check {}`)",
            path.display(),
            path.display()
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match run(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    });
    // Everything has been awaited and the store closed by now. Terminal input is read by a
    // blocking thread that no one can interrupt; waiting for it would hang until Enter.
    runtime.shutdown_background();
    code
}

/// Signal handling for the long-running commands, installed before anything else they do
/// (loading the config, training the NLU, serving): a signal from then on is counted, never
/// the default "die now".
fn install_signals() -> anyhow::Result<Signals> {
    Signals::install().context("cannot install the SIGINT/SIGTERM handlers")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Chat { config, user, json } => cmd_chat(&config, user, json).await,
        Command::Serve { config, listen } => cmd_serve(&config, listen).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => Ok(cmd_config_check(&file)),
        Command::Audit { command } => cmd_audit(command).await,
        Command::Eval(args) => cmd_eval(args),
        Command::Client(command) => {
            init_tracing("warn");
            Ok(deckhand::cli::run(command, Cli::command()).await)
        }
    }
}

/// `deckhand chat`: the console adapter until end of input or a signal.
async fn cmd_chat(config: &Path, user: String, json: bool) -> anyhow::Result<ExitCode> {
    let signals = install_signals()?;
    init_tracing("warn");
    let config = load(config)?;
    let bot = Arc::new(Bot::new(config).await?);
    console::run(bot.clone(), ConsoleOptions { user, json }, signals).await?;
    // Last: every run has ended and written its result and audit entries.
    bot.store().close().await;
    Ok(ExitCode::SUCCESS)
}

/// `deckhand serve`: the platform adapters until SIGINT/SIGTERM.
async fn cmd_serve(config: &Path, listen: Option<String>) -> anyhow::Result<ExitCode> {
    let signals = install_signals()?;
    init_tracing("info");
    let config = load(config)?;
    let listen = listen.unwrap_or_else(|| config.serve.listen.clone());
    let bot = Arc::new(Bot::new(config).await?);
    let server = Server::start(bot.clone(), &listen, Default::default()).await?;
    eprintln!(
        "deckhand: serving on http://{} (Ctrl-C to stop)",
        server.addr
    );
    serve::run_until_signalled(server, &bot, signals).await;
    // Last: every run has ended and written its result and audit entries.
    bot.store().close().await;
    Ok(ExitCode::SUCCESS)
}

/// `deckhand config check FILE`: the problems on stderr and a failure code, or a summary.
fn cmd_config_check(file: &Path) -> ExitCode {
    let c = match Config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let warnings = c.warnings();
    for w in &warnings {
        eprintln!("warning: {}: {w}", file.display());
    }
    println!(
        "{}: OK ({} services, {} environments, {} pipelines{})",
        file.display(),
        c.services.len(),
        c.environments.len(),
        c.pipelines.len(),
        match warnings.len() {
            0 => String::new(),
            n => format!("; {n} warning(s)"),
        }
    );
    ExitCode::SUCCESS
}

/// `deckhand audit verify|export`: read-only tools over an existing store.
async fn cmd_audit(command: AuditCommand) -> anyhow::Result<ExitCode> {
    init_tracing("warn");
    let config_path = match &command {
        AuditCommand::Verify { config } | AuditCommand::Export { config, .. } => config.clone(),
    };
    let config = load(&config_path)?;
    // Read-only tools: a store that is not there is an error, not a new empty one.
    let Some(store) = Store::open_existing(&config.store_url()).await? else {
        eprintln!(
            "error: the store of {} does not exist ({}); nothing was created. Check `store.url`, or start Deckhand once to create it.",
            config_path.display(),
            describe_store(&config.store_url())
        );
        return Ok(ExitCode::from(2));
    };
    let audit = Audit::new(store.clone());
    let code = match command {
        AuditCommand::Verify { .. } => audit_verify(&audit).await,
        AuditCommand::Export { since, output, .. } => {
            audit_export(&audit, since.as_deref(), output.as_deref()).await
        }
    };
    store.close().await;
    code
}

/// Walks the chain: the entry count, or the first bad entry and a failure code.
async fn audit_verify(audit: &Audit) -> anyhow::Result<ExitCode> {
    match audit.verify().await {
        Ok(n) => {
            println!("audit log intact: {n} entries");
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::Broken(b)) => {
            eprintln!("{b}");
            Ok(ExitCode::FAILURE)
        }
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}

/// Writes the entries at or after `since` as JSON Lines to `output` (or standard output).
async fn audit_export(
    audit: &Audit,
    since: Option<&str>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let since = match since {
        Some(s) => parse_since(s, deckhand::clock::now_ms()).map_err(anyhow::Error::msg)?,
        None => 0,
    };
    let n = match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let n = audit.export(since, &mut w).await?;
            std::io::Write::flush(&mut w)?;
            n
        }
        None => audit.export(since, &mut std::io::stdout().lock()).await?,
    };
    eprintln!("exported {n} audit entries");
    Ok(ExitCode::SUCCESS)
}

/// `deckhand eval`: the NLU's scores on a data set, as a table or JSON.
fn cmd_eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    init_tracing("warn");
    let mut config = load(&args.config)?;
    if let Some(a) = args.accept {
        config.nlu.semantic_accept = a;
    }
    if let Some(q) = args.accept_query {
        config.nlu.semantic_accept_query = q;
    }
    if let Some(m) = args.margin {
        config.nlu.semantic_margin = m;
    }
    if let Some(dir) = args.model {
        config.nlu.model_dir = Some(std::fs::canonicalize(&dir).unwrap_or(dir));
    }
    let mode = match args.nlu {
        Some(choice) => choice.into(),
        None if config.nlu.model_dir.is_some() => NluMode::Semantic,
        None => NluMode::Lexical,
    };
    let nlu = Nlu::with_mode(&config, mode)?;
    let data = &args.data;
    let text =
        std::fs::read_to_string(data).with_context(|| format!("cannot read {}", data.display()))?;
    let rows = eval::parse_rows(&text)
        .with_context(|| format!("{} is not a valid data set", data.display()))?;
    let report = eval::evaluate(&nlu, &rows);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render(args.misses));
    }
    Ok(ExitCode::SUCCESS)
}
