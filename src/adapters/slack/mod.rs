//! Slack adapter: Events API (signed HTTP requests to `deckhand serve`) or Socket Mode
//! (WebSocket), mentions, direct messages, thread replies, slash commands, Block Kit buttons
//! and live progress. Slack types stay inside this module; the bot sees [`crate::chat`] types.

pub mod app;
pub mod http;
pub mod render;
pub mod signature;
pub mod socket;
pub mod surface;
pub mod threads;
pub mod web_api;

use crate::adapters::adapter::{
    secret_from_env as env, stop_task, Adapter, AdapterContext, Connection, Outlet,
};
use crate::adapters::delivery::outbox::Outbox;
use crate::adapters::delivery::BoxFut;
use crate::config::{SlackConfig, SlackTransport};
use app::SlackApp;
use std::sync::Arc;
use std::time::Duration;
use surface::SlackSurface;
use tokio::task::JoinHandle;
use web_api::{Retry, WebApi};

/// Environment variable holding the bot token (`xoxb-…`).
pub const BOT_TOKEN_ENV: &str = "SLACK_BOT_TOKEN";
/// Environment variable holding the signing secret (Events API).
pub const SIGNING_SECRET_ENV: &str = "SLACK_SIGNING_SECRET";
/// Environment variable holding the app-level token (`xapp-…`, Socket Mode).
pub const APP_TOKEN_ENV: &str = "SLACK_APP_TOKEN";

/// Why the Slack adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// A required environment variable is not set.
    #[error("{var} is not set: {why}")]
    MissingSecret {
        /// Variable name.
        var: &'static str,
        /// What it is for.
        why: &'static str,
    },
    /// `auth.test` failed: wrong token or Slack unreachable.
    #[error("cannot sign in to Slack with {BOT_TOKEN_ENV} ({0}); check the token and slack.api_base_url")]
    Auth(web_api::ApiError),
}

/// The secrets, read from the environment (never from the config file).
#[derive(Clone)]
pub struct SlackSecrets {
    /// Bot token.
    pub bot_token: String,
    /// Signing secret (Events API).
    pub signing_secret: Option<String>,
    /// App-level token (Socket Mode).
    pub app_token: Option<String>,
}

impl std::fmt::Debug for SlackSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackSecrets(redacted)")
    }
}

impl SlackSecrets {
    /// Reads the variables `transport` needs; names the missing one.
    pub fn from_env(transport: SlackTransport) -> Result<SlackSecrets, SlackError> {
        let bot_token = env(BOT_TOKEN_ENV).ok_or(SlackError::MissingSecret {
            var: BOT_TOKEN_ENV,
            why: "set it to the app's Bot User OAuth Token (xoxb-…)",
        })?;
        let mut s = SlackSecrets {
            bot_token,
            signing_secret: env(SIGNING_SECRET_ENV),
            app_token: env(APP_TOKEN_ENV),
        };
        s.require(transport)?;
        // Keep only what the transport uses.
        match transport {
            SlackTransport::EventsApi => s.app_token = None,
            SlackTransport::SocketMode => s.signing_secret = None,
        }
        Ok(s)
    }

    fn require(&self, transport: SlackTransport) -> Result<(), SlackError> {
        match transport {
            SlackTransport::EventsApi if self.signing_secret.is_none() => {
                Err(SlackError::MissingSecret {
                    var: SIGNING_SECRET_ENV,
                    why: "the Events API transport verifies every request with the app's Signing Secret",
                })
            }
            SlackTransport::SocketMode if self.app_token.is_none() => {
                Err(SlackError::MissingSecret {
                    var: APP_TOKEN_ENV,
                    why: "Socket Mode needs an app-level token (xapp-…) with connections:write",
                })
            }
            _ => Ok(()),
        }
    }
}

/// A running Slack adapter.
pub struct Slack {
    app: Arc<SlackApp>,
    /// HTTP routes to serve (Events API transport only).
    routes: Option<axum::Router>,
    /// The Socket Mode connection (Socket Mode transport only); it ends on the shutdown signal.
    socket: Option<JoinHandle<()>>,
    /// Up while Socket Mode is connected (always, for the Events API).
    connection: Connection,
}

impl Slack {
    /// Signs in (`auth.test`), starts the outbox and the chosen transport.
    pub async fn start(
        cx: &AdapterContext,
        config: &SlackConfig,
        secrets: SlackSecrets,
    ) -> Result<Slack, SlackError> {
        secrets.require(config.transport)?;
        let bot = cx.bot.clone();
        let api = WebApi::new(&config.api_base_url, &secrets.bot_token)
            .with_metrics(bot.metrics().clone());
        let me: web_api::AuthInfo = api
            .call_with_retry("auth.test", &serde_json::json!({}), Retry::NORMAL)
            .await
            .map_err(SlackError::Auth)?;
        tracing::info!(bot_user = %me.user_id, team = %me.team_id, transport = ?config.transport, "signed in to Slack");
        let outbox = Outbox::start(
            Arc::new(SlackSurface::new(api.clone())),
            bot.store().clone(),
            Duration::from_millis(config.edit_interval_ms),
            Duration::from_secs(bot.config().session.ttl_secs),
        );
        bot.deliver_recovery("slack", Arc::new(outbox.clone()))
            .await;
        let app = Arc::new(SlackApp::new(bot, outbox, api.clone(), me.user_id));
        let mut slack = Slack {
            app: app.clone(),
            routes: None,
            socket: None,
            connection: Connection::up(),
        };
        match config.transport {
            SlackTransport::EventsApi => {
                let secret = secrets.signing_secret.unwrap_or_default();
                slack.routes = Some(http::routes(app, signature::SlackVerifier::new(&secret)));
            }
            SlackTransport::SocketMode => {
                let app_api = api.with_token(&secrets.app_token.unwrap_or_default());
                slack.connection = Connection::down();
                let task = tokio::spawn(socket::run(
                    app,
                    app_api,
                    cx.shutdown.clone(),
                    slack.connection.clone(),
                ));
                slack.socket = Some(task);
            }
        }
        Ok(slack)
    }
}

impl Adapter for Slack {
    fn name(&self) -> &'static str {
        threads::PLATFORM
    }

    fn routes(&self) -> Option<axum::Router> {
        self.routes.clone()
    }

    /// Waits for Socket Mode to close (the HTTP routes are stopped by their server), then for
    /// the handlers already started.
    fn stop_intake(&mut self, limit: Duration) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if let Some(mut task) = self.socket.take() {
                stop_task(&mut task).await;
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
            channel: |c| threads::SlackThread::new("", c, "").key(),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn connection(&self) -> Connection {
        self.connection.clone()
    }
}
