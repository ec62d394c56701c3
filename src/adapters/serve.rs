//! `deckhand serve`: the long-running mode. Starts the configured platform adapters and an
//! HTTP listener for their webhooks (plus `/healthz`), and shuts down cleanly on a signal:
//! stop taking requests, let running pipelines finish, deliver queued messages.

use super::discord::{Discord, DiscordError, DiscordSecrets};
use super::signals::Signals;
use super::slack::{Slack, SlackError, SlackSecrets};
use crate::bot::Bot;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Why `serve` could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No adapter is configured.
    #[error("nothing to serve: add a `slack:` or `discord:` section to the config (see README, \"Slack\" and \"Discord\")")]
    NothingToServe,
    /// Slack could not start.
    #[error(transparent)]
    Slack(#[from] SlackError),
    /// Discord could not start.
    #[error(transparent)]
    Discord(#[from] DiscordError),
    /// The listen address is taken or invalid.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Secrets handed in directly (tests); `None` reads them from the environment.
#[derive(Debug, Default)]
pub struct Secrets {
    /// Slack's.
    pub slack: Option<SlackSecrets>,
    /// Discord's.
    pub discord: Option<DiscordSecrets>,
}

/// A started server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    slack: Option<Slack>,
    discord: Option<Discord>,
    stop: watch::Sender<bool>,
    http: tokio::task::JoinHandle<()>,
    bot: Arc<Bot>,
    background: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts the adapters configured in the bot's config and listens on `listen`.
    pub async fn start(
        bot: Arc<Bot>,
        listen: &str,
        secrets: Secrets,
    ) -> Result<Server, ServeError> {
        let slack = match (&bot.config().slack, secrets.slack) {
            (Some(cfg), Some(secrets)) => Some(Slack::start(bot.clone(), cfg, secrets).await?),
            (Some(cfg), None) => {
                let secrets = SlackSecrets::from_env(cfg.transport)?;
                Some(Slack::start(bot.clone(), cfg, secrets).await?)
            }
            (None, _) => None,
        };
        let discord = match (&bot.config().discord, secrets.discord) {
            (Some(cfg), Some(secrets)) => Some(Discord::start(bot.clone(), cfg, secrets).await?),
            (Some(cfg), None) => {
                let secrets = DiscordSecrets::from_env(cfg)?;
                Some(Discord::start(bot.clone(), cfg, secrets).await?)
            }
            (None, _) => None,
        };
        if slack.is_none() && discord.is_none() {
            return Err(ServeError::NothingToServe);
        }
        let mut router = Router::new().route("/healthz", get(|| async { "ok\n" }));
        if let Some(routes) = slack.as_ref().and_then(|s| s.routes.clone()) {
            router = router.merge(routes);
        }
        if let Some(routes) = discord.as_ref().and_then(|d| d.routes.clone()) {
            router = router.merge(routes);
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: listen.to_string(),
            source,
        })?;
        let (stop, mut stopped) = watch::channel(false);
        let http = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
        let background = bot.spawn_background();
        tracing::info!(%addr, "deckhand serving");
        Ok(Server {
            addr,
            slack,
            discord,
            stop,
            http,
            bot,
            background,
        })
    }

    /// The Discord adapter, if configured (tests feed it gateway messages).
    pub fn discord(&self) -> Option<&Discord> {
        self.discord.as_ref()
    }

    /// Waits until everything queued for the platforms is delivered (tests).
    pub async fn flush(&self, limit: Duration) -> bool {
        let slack = match &self.slack {
            Some(s) => s.flush(limit).await,
            None => true,
        };
        let discord = match &self.discord {
            Some(d) => d.flush(limit).await,
            None => true,
        };
        slack && discord
    }

    /// Stops taking requests and events, lets the handlers already started finish, waits
    /// for running pipelines, then delivers queued messages (final run states included).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.http).await;
        if let Some(slack) = self.slack.as_mut() {
            slack.stop_intake(Duration::from_secs(30)).await;
        }
        if let Some(discord) = self.discord.as_mut() {
            discord.stop_intake(Duration::from_secs(30)).await;
        }
        let running = self.bot.active_runs();
        if !running.is_empty() {
            tracing::info!(runs = ?running, "waiting for running pipelines to finish");
        }
        self.bot.wait_idle().await;
        if let Some(slack) = &self.slack {
            slack.drain(Duration::from_secs(60)).await;
        }
        if let Some(discord) = &self.discord {
            discord.drain(Duration::from_secs(60)).await;
        }
        self.background.abort();
    }
}

/// Serves until the first signal, then shuts down (see [`Server::shutdown`]): running
/// pipelines finish first. Any further signal cancels the runs still in progress, which then
/// end `cancelled` with their results recorded; shutdown goes on either way.
pub async fn run_until_signalled(server: Server, bot: &Arc<Bot>, mut signals: Signals) {
    // Returns at once when a signal came while the bot was starting.
    let seen = signals.beyond(0).await;
    tracing::info!("stopping; running pipelines finish first (signal again to cancel them)");
    let canceller = tokio::spawn({
        let bot = bot.clone();
        async move {
            let mut seen = seen;
            loop {
                seen = signals.beyond(seen).await;
                let ids = bot.cancel_all_runs();
                tracing::warn!(runs = ?ids, "signal received again: cancelling the running pipelines");
            }
        }
    });
    server.shutdown().await;
    canceller.abort();
    let _ = canceller.await;
}
