//! Bearer tokens: each configured token stands for one person of `people:`. Only SHA-256
//! digests are held in memory (a token given through an environment variable is hashed when
//! the server starts), compared in constant time; a token never reaches a log line.

use super::problem::ApiError;
use super::ApiState;
use crate::config::{ApiConfig, Config};
use crate::governance::Actor;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use sha2::{Digest, Sha256};

/// The identity prefix of API callers in the audit log and in approvals (`api:alice`).
pub const PLATFORM: &str = "api";

/// The configured tokens, as digests.
#[derive(Debug, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], String)>,
}

/// A token of the config that cannot be used (its variable is not set): the server starts
/// without it and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableToken {
    /// The person it stands for.
    pub person: String,
    /// The environment variable that is not set.
    pub variable: String,
}

impl Tokens {
    /// The tokens of `api`, reading `token_env` variables through `env` (the process
    /// environment in production). Tokens whose variable is unset or blank are returned apart.
    pub fn load(
        api: &ApiConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Tokens, Vec<UnusableToken>) {
        let mut entries = Vec::new();
        let mut unusable = Vec::new();
        for t in &api.tokens {
            let digest = match (&t.token_env, &t.token_sha256) {
                (Some(var), _) => match env(var).filter(|v| !v.trim().is_empty()) {
                    Some(token) => Some(sha256(token.trim())),
                    None => {
                        unusable.push(UnusableToken {
                            person: t.person.clone(),
                            variable: var.clone(),
                        });
                        None
                    }
                },
                (None, Some(hex)) => parse_hex(hex),
                (None, None) => None,
            };
            if let Some(d) = digest {
                entries.push((d, t.person.clone()));
            }
        }
        (Tokens { entries }, unusable)
    }

    /// The person a presented token stands for. Every entry is compared (in constant time),
    /// so the time taken says nothing about which one matched.
    pub fn person(&self, token: &str) -> Option<&str> {
        let presented = sha256(token);
        let mut found = None;
        for (digest, person) in &self.entries {
            if constant_time_eq(digest, &presented) && found.is_none() {
                found = Some(person.as_str());
            }
        }
        found
    }

    /// How many tokens can be used.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token can be used (every request is then refused with 401).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The person calling, from the `Authorization: Bearer` header; the request is refused with
/// 401 before any handler runs when the token is missing or unknown.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl Caller {
    /// The actor for a person of the config, as an API caller.
    pub fn for_person(config: &Config, person: &str) -> Caller {
        let roles = config
            .people
            .get(person)
            .map(|p| p.roles.clone())
            .unwrap_or_default();
        Caller(Actor {
            identity: format!("{PLATFORM}:{person}"),
            person: Some(person.to_string()),
            roles,
        })
    }
}

impl Caller {
    /// Where the caller's commands come from: the API, as this person.
    pub fn origin(&self) -> crate::origin::Origin {
        crate::origin::Origin::Api {
            client: self.0.name().to_string(),
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Caller, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let person = state.tokens.person(token).ok_or(ApiError::Unauthorized)?;
        Ok(Caller::for_person(state.commander.config(), person))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiToken;

    fn api(tokens: Vec<ApiToken>) -> ApiConfig {
        ApiConfig { tokens }
    }

    #[test]
    fn tokens_from_variables_and_digests_resolve_to_their_person() {
        let hashed = "s3cret-bob";
        let hex: String = sha256(hashed).iter().map(|b| format!("{b:02x}")).collect();
        let config = api(vec![
            ApiToken {
                person: "alice".into(),
                token_env: Some("TOKEN_A".into()),
                token_sha256: None,
            },
            ApiToken {
                person: "bob".into(),
                token_env: None,
                token_sha256: Some(hex.to_uppercase()),
            },
            ApiToken {
                person: "carol".into(),
                token_env: Some("TOKEN_UNSET".into()),
                token_sha256: None,
            },
        ]);
        let (tokens, unusable) = Tokens::load(&config, |v| {
            (v == "TOKEN_A").then(|| "alice-token".to_string())
        });
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.person("alice-token"), Some("alice"));
        assert_eq!(tokens.person(hashed), Some("bob"));
        for wrong in ["", "alice-token ", "ALICE-TOKEN", "s3cret-bo", &hex] {
            assert_eq!(tokens.person(wrong), None, "{wrong:?}");
        }
        assert_eq!(
            unusable,
            vec![UnusableToken {
                person: "carol".into(),
                variable: "TOKEN_UNSET".into()
            }]
        );
    }
}
