//! Slack conversations as thread keys: (team, channel, thread_ts) <-> [`ThreadKey`].

use crate::adapters::delivery::thread_key;
use crate::chat::ThreadKey;

/// The platform name used in thread keys and identities.
pub const PLATFORM: &str = "slack";

/// One Slack thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackThread {
    /// Workspace id (`T…`).
    pub team: String,
    /// Channel id (`C…`, `D…`, `G…`).
    pub channel: String,
    /// `ts` of the thread's parent message.
    pub thread_ts: String,
}

impl SlackThread {
    /// A thread from its parts.
    pub fn new(team: &str, channel: &str, thread_ts: &str) -> SlackThread {
        SlackThread {
            team: team.into(),
            channel: channel.into(),
            thread_ts: thread_ts.into(),
        }
    }

    /// The session key: channel is `team/channel`, thread is the parent's `ts`.
    pub fn key(&self) -> ThreadKey {
        thread_key::encode(PLATFORM, &self.team, &self.channel, &self.thread_ts)
    }

    /// Back from a key; `None` for keys of other platforms.
    pub fn from_key(key: &ThreadKey) -> Option<SlackThread> {
        let (team, channel, thread_ts) = thread_key::decode(PLATFORM, key)?;
        Some(SlackThread::new(team, channel, thread_ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let t = SlackThread::new("T1", "C2", "1700000000.000100");
        let k = t.key();
        assert_eq!(k.to_string(), "slack:T1/C2:1700000000.000100");
        assert_eq!(SlackThread::from_key(&k), Some(t));
        assert_eq!(
            SlackThread::from_key(&ThreadKey::new("console", "T1/C2", "x")),
            None
        );
    }
}
