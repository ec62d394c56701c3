//! Slack request signing, v0: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{ts}:{raw body}">`
//! keyed with the app's signing secret, with `X-Slack-Request-Timestamp` inside a replay window.
//! Verification compares in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::adapters::signed_request::{fresh, headers};
pub use crate::adapters::signed_request::{SignatureError, REPLAY_WINDOW_SECS};

/// Verifies Slack request signatures with one signing secret.
#[derive(Clone)]
pub struct SlackVerifier {
    secret: Vec<u8>,
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl SlackVerifier {
    /// A verifier for this signing secret (from the environment, never from the config file).
    pub fn new(signing_secret: &str) -> SlackVerifier {
        SlackVerifier {
            secret: signing_secret.as_bytes().to_vec(),
        }
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC accepts keys of any length");
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// The `v0=...` signature Slack would send for this body (used by tests and the fake Slack).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let tag = self.mac(timestamp, body).finalize().into_bytes();
        format!(
            "v0={}",
            tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
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
            "X-Slack-Request-Timestamp",
            signature,
            "X-Slack-Signature",
        )?;
        fresh(ts, now_secs)?;
        let tag = signature
            .strip_prefix("v0=")
            .and_then(decode_hex)
            .filter(|t| t.len() == 32)
            .ok_or(SignatureError::Malformed("X-Slack-Signature"))?;
        self.mac(timestamp, body)
            .verify_slice(&tag)
            .map_err(|_| SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_within_the_window() {
        let v = SlackVerifier::new("s3cret");
        let sig = v.sign("1700000000", b"payload");
        assert!(sig.starts_with("v0=") && sig.len() == 67);
        assert_eq!(
            v.verify(Some("1700000000"), Some(&sig), b"payload", 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            v.verify(Some("1700000000"), Some(&sig), b"payload!", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            SlackVerifier::new("other").verify(
                Some("1700000000"),
                Some(&sig),
                b"payload",
                1_700_000_000
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(Some("1700000000"), Some(&sig), b"payload", 1_700_000_301),
            Err(SignatureError::Stale { age_secs: 301 })
        );
        assert_eq!(
            v.verify(Some("1700000000"), Some(&sig), b"payload", 1_699_999_600),
            Err(SignatureError::Stale { age_secs: -400 })
        );
    }

    #[test]
    fn malformed_and_missing_headers_are_refused() {
        let v = SlackVerifier::new("s3cret");
        assert_eq!(
            v.verify(None, Some("v0=00"), b"", 0),
            Err(SignatureError::Missing("X-Slack-Request-Timestamp"))
        );
        assert_eq!(
            v.verify(Some("0"), Some(""), b"", 0),
            Err(SignatureError::Missing("X-Slack-Signature"))
        );
        assert_eq!(
            v.verify(Some("abc"), Some("v0=00"), b"", 0),
            Err(SignatureError::Malformed("X-Slack-Request-Timestamp"))
        );
        assert_eq!(
            v.verify(Some("0"), Some("v1=00"), b"", 0),
            Err(SignatureError::Malformed("X-Slack-Signature"))
        );
        assert_eq!(
            v.verify(Some("0"), Some("v0=zz"), b"", 0),
            Err(SignatureError::Malformed("X-Slack-Signature"))
        );
    }
}
