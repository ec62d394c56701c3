//! What Slack's and Discord's request signing have in common: the replay window, the reasons a
//! request is refused (every one answered 401), and reading the timestamp header.

/// Requests whose timestamp is further than this from now are refused.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is absent or empty.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header is not in the expected form.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// The timestamp is outside the replay window.
    #[error(
        "stale request: timestamp is {age_secs} s away from now (window {REPLAY_WINDOW_SECS} s)"
    )]
    Stale {
        /// Distance from the verifier's clock.
        age_secs: i64,
    },
    /// The signature does not match the body.
    #[error("signature does not match")]
    Mismatch,
}

/// The two headers, present and non-empty, and the timestamp as a number.
pub fn headers<'a>(
    timestamp: Option<&'a str>,
    timestamp_header: &'static str,
    signature: Option<&'a str>,
    signature_header: &'static str,
) -> Result<(&'a str, i64, &'a str), SignatureError> {
    let timestamp = timestamp
        .filter(|t| !t.is_empty())
        .ok_or(SignatureError::Missing(timestamp_header))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing(signature_header))?;
    let ts = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed(timestamp_header))?;
    Ok((timestamp, ts, signature))
}

/// Refuses a timestamp outside the replay window around `now_secs`.
pub fn fresh(ts: i64, now_secs: i64) -> Result<(), SignatureError> {
    let age_secs = now_secs - ts;
    if age_secs.abs() > REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale { age_secs });
    }
    Ok(())
}
