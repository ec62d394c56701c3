//! Discord interaction signatures: Ed25519 over `X-Signature-Timestamp ‖ raw body`, checked
//! against the application's public key, with a 5-minute window against replays.

use serenity::interactions_endpoint::Verifier;

use crate::adapters::signed_request::{fresh, headers};
pub use crate::adapters::signed_request::{SignatureError, REPLAY_WINDOW_SECS};

/// The public key is not a valid Ed25519 key in hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DISCORD_PUBLIC_KEY is not a 64-digit hex Ed25519 public key (copy it from the application's General Information page)")]
pub struct BadPublicKey;

/// Verifies interaction requests with one application public key.
pub struct DiscordVerifier {
    inner: Verifier,
}

impl DiscordVerifier {
    /// A verifier for the hex public key.
    pub fn new(public_key_hex: &str) -> Result<DiscordVerifier, BadPublicKey> {
        let hex = public_key_hex.trim();
        if hex.len() != 64 {
            return Err(BadPublicKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(BadPublicKey)?, 16)
                .map_err(|_| BadPublicKey)?;
        }
        Ok(DiscordVerifier {
            inner: Verifier::try_new(key).map_err(|_| BadPublicKey)?,
        })
    }

    /// Checks the headers against the raw body at `now_secs` (unix seconds).
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), SignatureError> {
        let (timestamp, ts, signature) = headers(
            timestamp,
            "X-Signature-Timestamp",
            signature,
            "X-Signature-Ed25519",
        )?;
        // The signature is checked first so a forged request learns nothing about the clock.
        self.inner
            .verify(signature, timestamp, body)
            .map_err(|_| SignatureError::Mismatch)?;
        fresh(ts, now_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_and_headers_are_refused() {
        assert!(DiscordVerifier::new("abc").is_err());
        assert!(DiscordVerifier::new(&"zz".repeat(32)).is_err());
        let v = DiscordVerifier::new(
            "122ddf58a895d7e1b76ff5d071b0aac9b7765e2ab515e11b7fcaf964db5490c6",
        )
        .unwrap();
        assert_eq!(
            v.verify(None, Some("00"), b"{}", 0),
            Err(SignatureError::Missing("X-Signature-Timestamp"))
        );
        assert_eq!(
            v.verify(Some("1"), Some(""), b"{}", 0),
            Err(SignatureError::Missing("X-Signature-Ed25519"))
        );
        assert_eq!(
            v.verify(Some("x"), Some("00"), b"{}", 0),
            Err(SignatureError::Malformed("X-Signature-Timestamp"))
        );
        assert_eq!(
            v.verify(Some("1"), Some("not hex"), b"{}", 1),
            Err(SignatureError::Mismatch)
        );
    }
}
