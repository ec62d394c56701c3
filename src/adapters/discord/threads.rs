//! Discord conversations as thread keys: (guild, channel, thread) <-> [`ThreadKey`].

use crate::adapters::delivery::thread_key;
use crate::chat::ThreadKey;

/// The platform name used in thread keys and identities.
pub const PLATFORM: &str = "discord";
/// The guild part of direct-message keys.
pub const DIRECT: &str = "@me";

/// One Discord conversation: a thread in a guild channel, or a direct-message channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordThread {
    /// Guild id, or `@me` for direct messages.
    pub guild: String,
    /// The parent channel id (for DMs, the DM channel).
    pub channel: String,
    /// The thread's channel id (for DMs, the DM channel): where messages are posted.
    pub thread: String,
}

impl DiscordThread {
    /// A thread from its parts.
    pub fn new(guild: &str, channel: &str, thread: &str) -> DiscordThread {
        DiscordThread {
            guild: guild.into(),
            channel: channel.into(),
            thread: thread.into(),
        }
    }

    /// The session key: channel is `guild/channel`, thread the thread's channel id.
    pub fn key(&self) -> ThreadKey {
        thread_key::encode(PLATFORM, &self.guild, &self.channel, &self.thread)
    }

    /// Back from a key; `None` for keys of other platforms.
    pub fn from_key(key: &ThreadKey) -> Option<DiscordThread> {
        let (guild, channel, thread) = thread_key::decode(PLATFORM, key)?;
        Some(DiscordThread::new(guild, channel, thread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let t = DiscordThread::new("81384788765712384", "381870553235193857", "999");
        let k = t.key();
        assert_eq!(
            k.to_string(),
            "discord:81384788765712384/381870553235193857:999"
        );
        assert_eq!(DiscordThread::from_key(&k), Some(t));
        assert_eq!(
            DiscordThread::from_key(&ThreadKey::new("slack", "T/C", "1")),
            None
        );
    }
}
