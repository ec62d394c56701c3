//! Where a command came from and where its answers and progress go: a chat thread, an API
//! or MCP client, a schedule, a webhook. Below the command layer this is the only notion of
//! "where": the store and the executor keep an [`Origin`], never a chat type.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one conversation: sessions, runs and replies are bound to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThreadKey {
    /// `console`, `slack`, `discord`, ...
    pub platform: String,
    /// Channel (or team/channel) within the platform.
    pub channel: String,
    /// Thread within the channel.
    pub thread: String,
}

impl ThreadKey {
    /// Builds a key from its parts.
    pub fn new(platform: &str, channel: &str, thread: &str) -> ThreadKey {
        ThreadKey {
            platform: platform.into(),
            channel: channel.into(),
            thread: thread.into(),
        }
    }
}

impl fmt::Display for ThreadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.platform, self.channel, self.thread)
    }
}

/// Where a command came from. Stored with runs and approvals as three columns
/// (`platform`, `channel`, `thread`), so a chat thread keeps its natural key and other origins
/// get a reserved platform name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A chat thread (console, Slack, Discord): answers and progress go back to it.
    Thread(ThreadKey),
    /// A REST API client, by the person its token maps to.
    Api {
        /// Who called (the person's name, or a client label).
        client: String,
    },
    /// An MCP client (an agent), by the person its token or `--person` names.
    Mcp {
        /// Who called.
        client: String,
    },
    /// A stored schedule firing.
    Schedule {
        /// Schedule id in the store.
        id: i64,
    },
    /// A webhook delivery (a CI system, a git host).
    Webhook {
        /// Which configured webhook.
        source: String,
    },
}

/// Platform names reserved for origins that are not chat threads.
const API: &str = "api";
const MCP: &str = "mcp";
const SCHEDULE: &str = "schedule";
const WEBHOOK: &str = "webhook";

impl Origin {
    /// The chat thread to answer in, when the command came from one.
    pub fn thread(&self) -> Option<&ThreadKey> {
        match self {
            Origin::Thread(t) => Some(t),
            _ => None,
        }
    }

    /// `console`, `slack`, `discord`, `api`, `mcp`, `schedule` or `webhook`.
    pub fn platform(&self) -> &str {
        match self {
            Origin::Thread(t) => &t.platform,
            Origin::Api { .. } => API,
            Origin::Mcp { .. } => MCP,
            Origin::Schedule { .. } => SCHEDULE,
            Origin::Webhook { .. } => WEBHOOK,
        }
    }

    /// The three stored columns (`platform`, `channel`, `thread`).
    pub fn to_key(&self) -> ThreadKey {
        match self {
            Origin::Thread(t) => t.clone(),
            Origin::Api { client } => ThreadKey::new(API, client, ""),
            Origin::Mcp { client } => ThreadKey::new(MCP, client, ""),
            Origin::Schedule { id } => ThreadKey::new(SCHEDULE, "", &id.to_string()),
            Origin::Webhook { source } => ThreadKey::new(WEBHOOK, source, ""),
        }
    }

    /// Reads the stored columns back; an unknown platform is a chat thread.
    pub fn from_key(key: ThreadKey) -> Origin {
        match key.platform.as_str() {
            API => Origin::Api {
                client: key.channel,
            },
            MCP => Origin::Mcp {
                client: key.channel,
            },
            SCHEDULE => match key.thread.parse() {
                Ok(id) => Origin::Schedule { id },
                Err(_) => Origin::Thread(key),
            },
            WEBHOOK => Origin::Webhook {
                source: key.channel,
            },
            _ => Origin::Thread(key),
        }
    }
}

impl From<ThreadKey> for Origin {
    fn from(key: ThreadKey) -> Origin {
        Origin::Thread(key)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Thread(t) => t.fmt(f),
            Origin::Api { client } => write!(f, "api:{client}"),
            Origin::Mcp { client } => write!(f, "mcp:{client}"),
            Origin::Schedule { id } => write!(f, "schedule:{id}"),
            Origin::Webhook { source } => write!(f, "webhook:{source}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_survives_its_stored_columns() {
        let all = [
            Origin::Thread(ThreadKey::new("slack", "T1/C1", "1700000000.1")),
            Origin::Thread(ThreadKey::new("console", "console", "t1")),
            Origin::Api {
                client: "alice".into(),
            },
            Origin::Mcp {
                client: "claude".into(),
            },
            Origin::Schedule { id: 42 },
            Origin::Webhook {
                source: "github".into(),
            },
        ];
        for o in all {
            assert_eq!(Origin::from_key(o.to_key()), o, "{o}");
            assert_eq!(o.to_key().platform, o.platform());
        }
    }
}
