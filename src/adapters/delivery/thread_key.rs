//! The thread-key layout both chat platforms use: the channel part is `space/channel` (a
//! Slack team or a Discord guild, then the channel), the thread part the platform's thread id.

use crate::chat::ThreadKey;

/// The key of `thread` in `channel` of `space`, on `platform`.
pub fn encode(platform: &str, space: &str, channel: &str, thread: &str) -> ThreadKey {
    ThreadKey::new(platform, &format!("{space}/{channel}"), thread)
}

/// (space, channel, thread) back from a key of `platform`; `None` for other platforms' keys
/// or a channel part without a space.
/// Whether a key is one an [`crate::adapters::adapter::Outlet`] made (no workspace or guild
/// part): a conversation another surface opened in a channel.
pub fn is_outlet(key: &ThreadKey) -> bool {
    key.channel.starts_with('/')
}

pub fn decode<'a>(platform: &str, key: &'a ThreadKey) -> Option<(&'a str, &'a str, &'a str)> {
    if key.platform != platform {
        return None;
    }
    let (space, channel) = key.channel.split_once('/')?;
    Some((space, channel, &key.thread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_other_platforms_do_not_decode() {
        let k = encode("slack", "T1", "C2", "17.1");
        assert_eq!(k.to_string(), "slack:T1/C2:17.1");
        assert_eq!(decode("slack", &k), Some(("T1", "C2", "17.1")));
        assert_eq!(decode("discord", &k), None);
        assert_eq!(decode("slack", &ThreadKey::new("slack", "C2", "1")), None);
    }
}
