//! Discord adapter: slash commands registered from the config, the gateway (messages that
//! mention the bot or are in its threads) and the HTTP interactions endpoint, buttons and live
//! progress. Discord types stay inside this module; the bot sees [`crate::chat`] types.

pub mod app;
pub mod commands;
pub mod gateway;
pub mod http;
pub mod render;
pub mod rest;
pub mod signature;
pub mod surface;
pub mod threads;

use crate::adapters::adapter::{
    secret_from_env as env, stop_task, Adapter, AdapterContext, Connection, Outlet,
};
use crate::adapters::delivery::outbox::Outbox;
use crate::adapters::delivery::{BoxFut, SendError};
use crate::config::DiscordConfig;
use app::DiscordApp;
use rest::DiscordRest;
use std::sync::Arc;
use std::time::Duration;
use surface::DiscordSurface;
use tokio::task::JoinHandle;

/// Environment variable holding the bot token.
pub const BOT_TOKEN_ENV: &str = "DISCORD_BOT_TOKEN";
/// Environment variable holding the application's public key (interactions endpoint).
pub const PUBLIC_KEY_ENV: &str = "DISCORD_PUBLIC_KEY";

/// Why the Discord adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// A required environment variable is not set.
    #[error("{var} is not set: {why}")]
    MissingSecret {
        /// Variable name.
        var: &'static str,
        /// What it is for.
        why: &'static str,
    },
    /// The public key is unusable.
    #[error(transparent)]
    PublicKey(#[from] signature::BadPublicKey),
    /// Signing in (reading the bot user and application) failed.
    #[error("cannot sign in to Discord with {BOT_TOKEN_ENV} ({0}); check the token and discord.api_base_url")]
    Auth(SendError),
    /// The gateway client could not be built.
    #[error("cannot start the Discord gateway client: {0}")]
    Gateway(Box<serenity::Error>),
    /// The slash commands could not be registered.
    #[error("cannot register the slash commands ({0}); check that the bot was invited with the applications.commands scope")]
    Commands(SendError),
}

/// The secrets, read from the environment (never from the config file).
#[derive(Clone)]
pub struct DiscordSecrets {
    /// Bot token.
    pub bot_token: String,
    /// Application public key, hex (interactions endpoint).
    pub public_key: Option<String>,
}

impl std::fmt::Debug for DiscordSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscordSecrets(redacted)")
    }
}

impl DiscordSecrets {
    /// Reads the variables the configuration needs; names the missing one.
    pub fn from_env(config: &DiscordConfig) -> Result<DiscordSecrets, DiscordError> {
        let s = DiscordSecrets {
            bot_token: env(BOT_TOKEN_ENV).ok_or(DiscordError::MissingSecret {
                var: BOT_TOKEN_ENV,
                why: "set it to the bot's token (Developer Portal → Bot → Reset Token)",
            })?,
            public_key: env(PUBLIC_KEY_ENV),
        };
        s.require(config)?;
        Ok(s)
    }

    fn require(&self, config: &DiscordConfig) -> Result<(), DiscordError> {
        if config.interactions_endpoint && self.public_key.is_none() {
            return Err(DiscordError::MissingSecret {
                var: PUBLIC_KEY_ENV,
                why: "the interactions endpoint verifies every request with the application's Public Key",
            });
        }
        Ok(())
    }
}

/// A running Discord adapter.
pub struct Discord {
    app: Arc<DiscordApp>,
    /// HTTP routes to serve (interactions endpoint only).
    routes: Option<axum::Router>,
    /// The gateway client's task and the task that stops its shards on the shutdown signal.
    gateway: Option<(JoinHandle<()>, JoinHandle<()>)>,
    /// Whether the gateway is connected (always up without a gateway).
    connection: Connection,
}

impl Discord {
    /// Signs in, registers the slash commands, starts the outbox and the chosen ways in.
    pub async fn start(
        cx: &AdapterContext,
        config: &DiscordConfig,
        secrets: DiscordSecrets,
    ) -> Result<Discord, DiscordError> {
        secrets.require(config)?;
        let bot = cx.bot.clone();
        let verifier = secrets
            .public_key
            .as_deref()
            .filter(|_| config.interactions_endpoint)
            .map(signature::DiscordVerifier::new)
            .transpose()?;
        let rest = DiscordRest::new(&config.api_base_url, &secrets.bot_token)
            .with_metrics(bot.metrics().clone());
        let bot_user = rest.current_user_id().await.map_err(DiscordError::Auth)?;
        let application_id = rest.application_id().await.map_err(DiscordError::Auth)?;
        let definitions = commands::definitions(bot.config());
        rest.register_commands(&application_id, config.guild_id.as_deref(), &definitions)
            .await
            .map_err(DiscordError::Commands)?;
        tracing::info!(bot_user = %bot_user, application = %application_id, gateway = config.gateway, endpoint = config.interactions_endpoint, "signed in to Discord");
        let outbox = Outbox::start(
            Arc::new(DiscordSurface::new(rest.clone())),
            bot.store().clone(),
            Duration::from_millis(config.edit_interval_ms),
            Duration::from_secs(bot.config().session.ttl_secs),
        );
        bot.deliver_recovery("discord", Arc::new(outbox.clone()))
            .await;
        let app = Arc::new(DiscordApp::new(bot, outbox, rest, application_id, bot_user));
        let routes = verifier.map(|v| http::routes(app.clone(), v));
        // Messages arrive only through the gateway: without it, the endpoint is all there is.
        let connection = if config.gateway {
            Connection::down()
        } else {
            Connection::up()
        };
        let gateway = if config.gateway {
            let (shards, client) = gateway::start(app.clone(), connection.clone())
                .await
                .map_err(|e| DiscordError::Gateway(Box::new(e)))?;
            let shutdown = cx.shutdown.clone();
            let stopper = tokio::spawn(async move {
                shutdown.triggered().await;
                shards.shutdown_all().await;
            });
            Some((client, stopper))
        } else {
            None
        };
        Ok(Discord {
            app,
            routes,
            gateway,
            connection,
        })
    }

    /// The app (what the gateway handler calls).
    pub fn app(&self) -> &Arc<DiscordApp> {
        &self.app
    }
}

impl Adapter for Discord {
    fn name(&self) -> &'static str {
        threads::PLATFORM
    }

    fn routes(&self) -> Option<axum::Router> {
        self.routes.clone()
    }

    /// Waits for the gateway's shards to stop (the HTTP routes are stopped by their server),
    /// then for the handlers already started.
    fn stop_intake(&mut self, limit: Duration) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Some((mut client, mut stopper)) = self.gateway.take() {
                stop_task(&mut stopper).await;
                stop_task(&mut client).await;
            }
            self.app.intake().finish_handlers(limit).await;
        })
    }

    fn drain(&self, limit: Duration) -> BoxFut<'_, bool> {
        Box::pin(self.app.intake().drain(limit))
    }

    fn flush(&self, limit: Duration) -> BoxFut<'_, bool> {
        Box::pin(self.app.intake().settle(limit))
    }

    fn outlet(&self) -> Outlet {
        Outlet {
            sink: self.app.intake().sink(),
            // Posts go to the thread's channel id: a new conversation is the channel itself.
            channel: |c| threads::DiscordThread::new("", c, c).key(),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn connection(&self) -> Connection {
        self.connection.clone()
    }
}
