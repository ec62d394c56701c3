//! The `deckhand` binary: flags -> config -> tracing -> run.

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    Eval {
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
        #[arg(long, value_parser = ["lexical", "semantic"])]
        nlu: Option<String>,
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
    },
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
        Command::Chat { config, user, json } => {
            let signals = install_signals()?;
            init_tracing("warn");
            let config = load(&config)?;
            let bot = Arc::new(Bot::new(config).await?);
            console::run(bot.clone(), ConsoleOptions { user, json }, signals).await?;
            // Last: every run has ended and written its result and audit entries.
            bot.store().close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config, listen } => {
            let signals = install_signals()?;
            init_tracing("info");
            let config = load(&config)?;
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
        Command::Config {
            command: ConfigCommand::Check { file },
        } => match Config::load(&file) {
            Ok(c) => {
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
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Audit { command } => {
            init_tracing("warn");
            let config_path = match &command {
                AuditCommand::Verify { config } | AuditCommand::Export { config, .. } => {
                    config.clone()
                }
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
                AuditCommand::Verify { .. } => match audit.verify().await {
                    Ok(n) => {
                        println!("audit log intact: {n} entries");
                        ExitCode::SUCCESS
                    }
                    Err(VerifyError::Broken(b)) => {
                        eprintln!("{b}");
                        ExitCode::FAILURE
                    }
                    Err(VerifyError::Store(e)) => return Err(e.into()),
                },
                AuditCommand::Export { since, output, .. } => {
                    let since = match since {
                        Some(s) => parse_since(&s, deckhand::clock::now_ms())
                            .map_err(anyhow::Error::msg)?,
                        None => 0,
                    };
                    let n = match output {
                        Some(path) => {
                            let file = std::fs::File::create(&path)
                                .with_context(|| format!("cannot write {}", path.display()))?;
                            let mut w = std::io::BufWriter::new(file);
                            let n = audit.export(since, &mut w).await?;
                            std::io::Write::flush(&mut w)?;
                            n
                        }
                        None => audit.export(since, &mut std::io::stdout().lock()).await?,
                    };
                    eprintln!("exported {n} audit entries");
                    ExitCode::SUCCESS
                }
            };
            store.close().await;
            Ok(code)
        }
        Command::Eval {
            config,
            data,
            json,
            misses,
            nlu,
            model,
            accept,
            accept_query,
            margin,
        } => {
            init_tracing("warn");
            let mut config = load(&config)?;
            if let Some(a) = accept {
                config.nlu.semantic_accept = a;
            }
            if let Some(q) = accept_query {
                config.nlu.semantic_accept_query = q;
            }
            if let Some(m) = margin {
                config.nlu.semantic_margin = m;
            }
            if let Some(dir) = model {
                config.nlu.model_dir = Some(std::fs::canonicalize(&dir).unwrap_or(dir));
            }
            let mode = match nlu.as_deref() {
                Some("semantic") => NluMode::Semantic,
                Some(_) => NluMode::Lexical,
                None if config.nlu.model_dir.is_some() => NluMode::Semantic,
                None => NluMode::Lexical,
            };
            let nlu = Nlu::with_mode(&config, mode)?;
            let text = std::fs::read_to_string(&data)
                .with_context(|| format!("cannot read {}", data.display()))?;
            let rows = eval::parse_rows(&text)
                .with_context(|| format!("{} is not a valid data set", data.display()))?;
            let report = eval::evaluate(&nlu, &rows);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render(misses));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
