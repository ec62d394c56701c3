//! `deckhand serve`: the long-running mode. Starts the configured platform adapters and an
//! HTTP listener for their webhooks (plus `/healthz`), and shuts down cleanly on a signal:
//! stop taking requests, let running pipelines finish, deliver queued messages.

use super::adapter::{Adapter, AdapterContext};
use super::discord::{Discord, DiscordError, DiscordSecrets};
use super::shutdown::Shutdown;
use super::signals::Signals;
use super::slack::{Slack, SlackError, SlackSecrets};
use crate::api::auth::Tokens;
use crate::api::ApiState;
use crate::bot::Bot;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why `serve` could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No adapter is configured.
    #[error("nothing to serve: add an `api:`, `slack:` or `discord:` section to the config (see README, \"HTTP API\", \"Slack\" and \"Discord\")")]
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
#[derive(Default)]
pub struct Secrets {
    /// Slack's.
    pub slack: Option<SlackSecrets>,
    /// Discord's.
    pub discord: Option<DiscordSecrets>,
    /// The API tokens' environment variables (name → value), instead of the process's.
    pub api_env: Option<std::collections::BTreeMap<String, String>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Token values never reach a log line: only which variables are handed in.
        f.debug_struct("Secrets")
            .field("slack", &self.slack)
            .field("discord", &self.discord)
            .field(
                "api_env",
                &self.api_env.as_ref().map(|m| m.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

/// A started server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The configured platform adapters, in the order they started.
    adapters: Vec<Box<dyn Adapter>>,
    /// Stops the HTTP listener and every adapter's intake.
    shutdown: Shutdown,
    http: tokio::task::JoinHandle<()>,
    bot: Arc<Bot>,
    background: tokio::task::JoinHandle<()>,
}

/// Starts the adapters the config names, with `secrets` or (when not handed in) the
/// environment's.
async fn start_adapters(
    cx: &AdapterContext,
    secrets: Secrets,
) -> Result<Vec<Box<dyn Adapter>>, ServeError> {
    let bot = cx.bot.clone();
    let config = bot.config();
    let mut adapters: Vec<Box<dyn Adapter>> = Vec::new();
    if let Some(cfg) = &config.slack {
        let secrets = match secrets.slack {
            Some(s) => s,
            None => SlackSecrets::from_env(cfg.transport)?,
        };
        adapters.push(Box::new(Slack::start(cx, cfg, secrets).await?));
    }
    if let Some(cfg) = &config.discord {
        let secrets = match secrets.discord {
            Some(s) => s,
            None => DiscordSecrets::from_env(cfg)?,
        };
        adapters.push(Box::new(Discord::start(cx, cfg, secrets).await?));
    }
    Ok(adapters)
}

/// The REST API's router, when the config turns it on; its tokens come from `env` when
/// handed in (tests), else from the process environment.
fn api_router(
    bot: &Arc<Bot>,
    env: Option<std::collections::BTreeMap<String, String>>,
    outlets: std::collections::BTreeMap<String, super::adapter::Outlet>,
) -> Option<Router> {
    let api = bot.config().api.as_ref()?;
    let (tokens, unusable) = match env {
        Some(env) => Tokens::load(api, |v| env.get(v).cloned()),
        None => Tokens::load(api, super::adapter::secret_from_env),
    };
    for t in &unusable {
        tracing::warn!(
            person = %t.person,
            variable = %t.variable,
            "API token variable is not set: this person cannot use the API"
        );
    }
    tracing::info!(tokens = tokens.len(), "REST API on /api/v1");
    Some(crate::api::router(ApiState::new(
        bot.commander().clone(),
        tokens,
        outlets,
    )))
}

impl Server {
    /// Starts the adapters configured in the bot's config and listens on `listen`.
    pub async fn start(
        bot: Arc<Bot>,
        listen: &str,
        mut secrets: Secrets,
    ) -> Result<Server, ServeError> {
        let shutdown = Shutdown::default();
        let cx = AdapterContext {
            bot: bot.clone(),
            shutdown: shutdown.clone(),
        };
        // Bound before any adapter starts taking events, so a taken port stops nothing midway.
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let secrets_api_env = secrets.api_env.take();
        let adapters = match start_adapters(&cx, secrets).await {
            Ok(a) => a,
            Err(e) => {
                // Adapters that did start (Socket Mode, the gateway) stop on the signal.
                shutdown.trigger();
                return Err(e);
            }
        };
        for a in &adapters {
            let outlet = a.outlet();
            bot.attach(a.name(), outlet.sink, outlet.channel);
        }
        let outlets = adapters
            .iter()
            .map(|a| (a.name().to_string(), a.outlet()))
            .collect();
        let api = api_router(&bot, secrets_api_env, outlets);
        if adapters.is_empty() && api.is_none() {
            return Err(ServeError::NothingToServe);
        }
        let readiness = crate::metrics::health::Readiness::new(
            bot.store().clone(),
            adapters
                .iter()
                .map(|a| (a.name(), a.connection()))
                .collect(),
        );
        let mut router = Router::new()
            .merge(crate::metrics::health::routes(readiness))
            .merge(crate::metrics::routes(
                bot.metrics().clone(),
                bot.store().clone(),
            ));
        if let Some(api) = api {
            router = router.merge(api);
        }
        for routes in adapters.iter().filter_map(|a| a.routes()) {
            router = router.merge(routes);
        }
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: listen.to_string(),
            source,
        })?;
        let http = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { shutdown.triggered().await })
                    .await
                {
                    tracing::error!(error = %e, "HTTP server stopped");
                }
            }
        });
        let background = bot.spawn_background(shutdown.clone());
        tracing::info!(%addr, "deckhand serving");
        Ok(Server {
            addr,
            adapters,
            shutdown,
            http,
            bot,
            background,
        })
    }

    /// The Discord adapter, if configured (tests feed it gateway messages).
    pub fn discord(&self) -> Option<&Discord> {
        self.adapters
            .iter()
            .find_map(|a| a.as_any().downcast_ref::<Discord>())
    }

    /// Waits until everything queued for the platforms is delivered (tests).
    pub async fn flush(&self, limit: Duration) -> bool {
        let mut all = true;
        for adapter in &self.adapters {
            all &= adapter.flush(limit).await;
        }
        all
    }

    /// Stops taking requests and events, lets the handlers already started finish, waits
    /// for running pipelines, then delivers queued messages (final run states included).
    pub async fn shutdown(mut self) {
        self.shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.http).await;
        for adapter in &mut self.adapters {
            adapter.stop_intake(Duration::from_secs(30)).await;
        }
        let running = self.bot.active_runs();
        if !running.is_empty() {
            tracing::info!(runs = ?running, "waiting for running pipelines to finish");
        }
        self.bot.wait_idle().await;
        // The upkeep loop saw the same signal; it ends after the sweep it may be in, whose
        // expiry notices the drain below still delivers.
        let _ = self.background.await;
        for adapter in &self.adapters {
            adapter.drain(Duration::from_secs(60)).await;
        }
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
