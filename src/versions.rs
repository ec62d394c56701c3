//! What versions of a service are available, newest last: from the command the config names
//! (`versions:` on the service or its pipeline, printing one version per line, oldest first),
//! else from the builds its pipeline recorded. `status`, "what's new" and "update all
//! services" compare the newest with what runs in each environment.
//!
//! The command runs like a stage (`sh -c` in the config folder, the pipeline's `env`,
//! `DECKHAND_SERVICE`, its own process group, killed at the timeout), never with chat text in
//! it. A line that is not a version is an error naming it, not a version skipped: a listing
//! that does not read must not make "no updates" look true.

use crate::config::Config;
use crate::nlu::{parse_version, version_order_key};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::process::Stdio;
use std::time::Duration;

/// How the available versions were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionSource {
    /// The config's `versions` command.
    Command,
    /// The newest good build the pipeline recorded.
    Builds,
}

/// The versions of one service that could be deployed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Available {
    /// Oldest first, newest last.
    pub versions: Vec<String>,
    /// Where they came from.
    pub source: VersionSource,
}

impl Available {
    /// The newest one.
    pub fn newest(&self) -> Option<&str> {
        self.versions.last().map(String::as_str)
    }
}

/// Why the versions could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// The command could not be started.
    #[error("the versions command of {service} could not start: {reason}")]
    Spawn {
        /// The service.
        service: String,
        /// Why.
        reason: String,
    },
    /// It ran longer than its timeout.
    #[error("the versions command of {service} took longer than {secs} s and was stopped")]
    Timeout {
        /// The service.
        service: String,
        /// The timeout.
        secs: u64,
    },
    /// It failed.
    #[error("the versions command of {service} failed (exit {code}): {stderr}")]
    Failed {
        /// The service.
        service: String,
        /// Its exit code (-1: killed by a signal).
        code: i32,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    /// It printed a line that is not a version.
    #[error("the versions command of {service} printed `{line}`, which is not a version")]
    NotAVersion {
        /// The service.
        service: String,
        /// The line.
        line: String,
    },
    /// A listing that failed a moment ago (see [`available_cached`]), as it failed.
    #[error("{0}")]
    Recent(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Default time a versions command may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The versions of `service` available now (None: no command and nothing built yet).
pub async fn available(
    config: &Config,
    store: &Store,
    service: &str,
) -> Result<Option<Available>, VersionsError> {
    let Some(svc) = config.service(service) else {
        return Ok(None);
    };
    let pipeline = config.pipelines.get(&svc.pipeline);
    let command = svc
        .versions
        .as_ref()
        .or(pipeline.and_then(|p| p.versions.as_ref()));
    match command {
        Some(c) => {
            let env: Vec<(String, String)> = pipeline
                .map(|p| {
                    p.env
                        .iter()
                        .map(|(k, v)| (k.clone(), config.resolve_env_value(v)))
                        .collect()
                })
                .unwrap_or_default();
            let timeout = Duration::from_secs(c.timeout_secs.unwrap_or(DEFAULT_TIMEOUT.as_secs()));
            let versions = listed(config, &svc.name, &c.command, &env, timeout).await?;
            Ok(Some(Available {
                versions,
                source: VersionSource::Command,
            }))
        }
        None => Ok(store
            .newest_good_build(&svc.name)
            .await?
            .and_then(|b| b.version)
            .map(|v| Available {
                versions: vec![v],
                source: VersionSource::Builds,
            })),
    }
}

/// Runs the command and reads its lines (oldest first, as the command prints them: a git sha
/// has no order of its own).
async fn listed(
    config: &Config,
    service: &str,
    command: &str,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<String>, VersionsError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&config.base_dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("DECKHAND_SERVICE", service)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| VersionsError::Spawn {
        service: service.to_string(),
        reason: e.to_string(),
    })?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            return Err(VersionsError::Spawn {
                service: service.to_string(),
                reason: e.to_string(),
            })
        }
        Err(_) => {
            return Err(VersionsError::Timeout {
                service: service.to_string(),
                secs: timeout.as_secs(),
            })
        }
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim();
        let cut = stderr.len().saturating_sub(300);
        let start = (cut..=stderr.len())
            .find(|i| stderr.is_char_boundary(*i))
            .unwrap_or(stderr.len());
        let tail = stderr[start..].to_string();
        return Err(VersionsError::Failed {
            service: service.to_string(),
            code: out.status.code().unwrap_or(-1),
            stderr: tail,
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut versions = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(10_000)
    {
        if parse_version(line).as_deref() != Some(line) {
            return Err(VersionsError::NotAVersion {
                service: service.to_string(),
                line: line.chars().take(80).collect(),
            });
        }
        if !versions.iter().any(|v: &String| v == line) {
            versions.push(line.to_string());
        }
    }
    Ok(versions)
}

/// How long [`available_cached`] reuses a listing.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

type Cache = std::sync::Mutex<
    std::collections::HashMap<String, (tokio::time::Instant, Result<Available, String>)>,
>;

/// [`available`], reusing a listing from a command for [`CACHE_TTL`]: for `status`, which is
/// asked often and must not start a process (or wait for a hanging one) each time. A failed
/// listing is kept too, with its reason, so a broken command costs one wait per minute.
pub async fn available_cached(
    config: &Config,
    store: &Store,
    service: &str,
) -> Result<Option<Available>, VersionsError> {
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = format!("{}\u{0}{service}", config.base_dir.display());
    let now = tokio::time::Instant::now();
    if let Some((at, kept)) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        if now.saturating_duration_since(*at) < CACHE_TTL {
            return match kept {
                Ok(a) => Ok(Some(a.clone())),
                Err(why) => Err(VersionsError::Recent(why.clone())),
            };
        }
    }
    let fresh = available(config, store, service).await;
    let kept = match &fresh {
        Ok(Some(a)) if a.source == VersionSource::Command => Some(Ok(a.clone())),
        Err(VersionsError::Store(_)) | Ok(_) => None,
        Err(e) => Some(Err(e.to_string())),
    };
    if let Some(kept) = kept {
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (now, kept));
    }
    fresh
}

/// Whether `a` and `b` are numbered releases and `a` is the newer (`2.4.1` vs `2.4.0`; never
/// for shas or other strings, which have no real order).
pub fn is_numbered_newer(a: &str, b: &str) -> bool {
    let (ka, kb) = (version_order_key(a), version_order_key(b));
    ka.is_numbered() && kb.is_numbered() && ka > kb
}

/// Whether `a` and `b` name the same release (`v2.4.1` and `2.4.1`; a sha by its text).
pub fn same_release(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || version_order_key(a) == version_order_key(b)
}

/// Whether `newest` is a newer release than `live` (None live: anything is new).
pub fn is_newer(newest: &str, live: Option<&str>) -> bool {
    match live {
        None => true,
        Some(l) => version_order_key(newest) > version_order_key(l),
    }
}

#[cfg(test)]
mod order_tests {
    use super::{is_numbered_newer, same_release};

    #[test]
    fn only_numbered_releases_are_newer_than_one_another() {
        for (a, b) in [
            ("2.4.1", "2.4.0"),
            ("v1.10.0", "1.9.9"),
            ("2.5.0", "2.5.0-rc.1"),
        ] {
            assert!(is_numbered_newer(a, b), "{a} > {b}");
            assert!(!is_numbered_newer(b, a), "{b} < {a}");
        }
        // Shas and other strings have no real order: never newer, either way.
        for (a, b) in [
            ("f00dbabe", "deadbeef"),
            ("deadbeef", "f00dbabe"),
            ("2.4.1", "abc1234"),
            ("abc1234", "2.4.1"),
            ("main", "2.0"),
        ] {
            assert!(!is_numbered_newer(a, b), "{a} vs {b}");
        }
    }

    #[test]
    fn the_same_release_in_other_spellings() {
        for (a, b) in [
            ("2.4.1", "v2.4.1"),
            ("1.2", "1.2.0"),
            ("DEADBEEF", "deadbeef"),
        ] {
            assert!(same_release(a, b), "{a} = {b}");
        }
        for (a, b) in [
            ("2.4.1", "2.4.2"),
            ("deadbeef", "f00dbabe"),
            ("2.5.0-rc.1", "2.5.0"),
        ] {
            assert!(!same_release(a, b), "{a} != {b}");
        }
    }
}
