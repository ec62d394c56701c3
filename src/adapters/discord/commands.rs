//! Deckhand's slash commands: their definitions, built from the config at start-up (service
//! autocomplete, environment choices), and the request each invocation stands for, which
//! enters the same dialogue as typed text (missing parts asked for, actions confirmed) without
//! a round trip through the NLU.

use crate::bot::{reply_for, Structured};
use crate::command::{EnvName, ServiceName};
use crate::config::{Config, Strategy};
use crate::nlu::{parse_lock_details, parse_version, Intent, LockDetails, Slots};
use serde_json::{json, Value};

const STRING: u8 = 3;

fn option(name: &str, description: &str) -> Value {
    json!({ "type": STRING, "name": name, "description": description, "required": false })
}

fn service_option(description: &str) -> Value {
    let mut o = option("service", description);
    o["autocomplete"] = true.into();
    o
}

fn environment_option(config: &Config, description: &str) -> Value {
    let mut envs: Vec<_> = config.environments.iter().collect();
    envs.sort_by_key(|e| e.order);
    let choices: Vec<Value> = envs
        .iter()
        .take(25)
        .map(|e| json!({ "name": e.name, "value": e.name }))
        .collect();
    let mut o = option("environment", description);
    o["choices"] = choices.into();
    o
}

fn command(name: &str, description: &str, options: Vec<Value>) -> Value {
    json!({ "name": name, "type": 1, "description": description, "options": options })
}

/// The commands to register (a bulk overwrite, so removed ones disappear).
pub fn definitions(config: &Config) -> Value {
    let strategies: Vec<Value> = Strategy::ALL
        .iter()
        .map(|s| json!({ "name": s.as_str(), "value": s.as_str() }))
        .collect();
    let mut strategy = option(
        "strategy",
        "How to roll it out (default: the environment's)",
    );
    strategy["choices"] = strategies.into();
    json!([
        command(
            "deploy",
            "Deploy a service; anything you leave out is asked for in the thread",
            vec![
                service_option("Service to deploy"),
                environment_option(config, "Where to deploy it"),
                option("version", "Version (default: the latest build)"),
                strategy,
            ]
        ),
        command(
            "rollback",
            "Roll a service back to its previous release (or a given version)",
            vec![
                service_option("Service to roll back"),
                environment_option(config, "Where"),
                option(
                    "version",
                    "Version to return to (default: the previous one)"
                ),
            ]
        ),
        command(
            "status",
            "What is running where, and what is locked",
            vec![
                service_option("Only this service"),
                environment_option(config, "Only this environment"),
            ]
        ),
        command(
            "history",
            "Recent deployments",
            vec![
                service_option("Only this service"),
                environment_option(config, "Only this environment"),
            ]
        ),
        command(
            "lock",
            "Stop deploys to an environment (or one service there)",
            vec![
                environment_option(config, "Environment to lock"),
                service_option("Only this service"),
                option(
                    "duration",
                    "How long, e.g. 2h or 30m (default: until unlocked)"
                ),
                option("reason", "Why, shown to anyone who tries to deploy"),
            ]
        ),
        command(
            "unlock",
            "Remove a lock",
            vec![
                environment_option(config, "Environment to unlock"),
                service_option("Only this service"),
            ]
        ),
    ])
}

/// The string value of option `name` in an interaction's `data.options`.
pub fn option_value<'a>(data: &'a Value, name: &str) -> Option<&'a str> {
    data.get("options")?
        .as_array()?
        .iter()
        .find(|o| o.get("name").and_then(|n| n.as_str()) == Some(name))?
        .get("value")?
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The request a command invocation stands for, built from its options directly (no
/// sentence for the NLU to re-read): names are checked against the config, a version must be
/// one version, a duration must read as one, a reason is taken as written. Err is the reply
/// when an option cannot be used; nothing is done then.
pub fn request(config: &Config, data: &Value) -> Result<Structured, String> {
    let name = data.get("name").and_then(|n| n.as_str()).unwrap_or("help");
    // Option text is read like a message: capped, invisible and compatibility characters
    // dropped, before it is checked or stored (a lock's reason reaches other people).
    let opt = |n: &str| {
        option_value(data, n).map(|v| {
            let capped = crate::nlu::limits::cap_message(v).text.to_string();
            crate::nlu::normalize(&capped).trim().to_string()
        })
    };
    let intent = match name {
        "deploy" => Intent::Deploy,
        "rollback" => Intent::Rollback,
        "status" => Intent::Status,
        "history" => Intent::History,
        "lock" => Intent::Lock,
        "unlock" => Intent::Unlock,
        _ => Intent::Help,
    };
    // An option given but empty once invisible characters are gone is not "left out": it
    // would widen `/lock service:` to the whole environment.
    for (n, v) in given_options(data) {
        if opt(n).is_none_or(|v| v.is_empty()) && !v.trim().is_empty() {
            return Err(unusable(n, v, "has no visible text"));
        }
    }
    let opt = |n: &str| opt(n).filter(|v| !v.is_empty());
    let mut slots = Slots::default();
    if let Some(s) = opt("service") {
        let service = ServiceName::resolve(config, &s).map_err(|r| reply_for(&r))?;
        slots.service = Some(service.to_string());
    }
    if let Some(e) = opt("environment") {
        let environment = EnvName::resolve(config, &e).map_err(|r| reply_for(&r))?;
        slots.environment = Some(environment.to_string());
    }
    if let Some(v) = opt("version") {
        slots.version = Some(parse_version(&v).ok_or_else(|| {
            unusable(
                "version",
                &v,
                "is not a single version (e.g. `2.4.1` or a commit sha)",
            )
        })?);
    }
    if let Some(st) = opt("strategy") {
        slots.strategy = Some(
            Strategy::parse(&st).ok_or_else(|| unusable("strategy", &st, "is not a strategy"))?,
        );
    }
    if intent == Intent::Lock {
        let mut details = LockDetails::default();
        if let Some(d) = opt("duration") {
            let read = parse_lock_details(&format!("for {d}"));
            // Only a duration: words after it ("2h because ...") would be dropped unread.
            if read.duration.is_none()
                || read.reason.is_some()
                || read.unreadable_duration.is_some()
            {
                return Err(unusable(
                    "duration",
                    &d,
                    "is not just a duration (e.g. `2h`, `30m`)",
                ));
            }
            details.duration = read.duration;
            details.duration_text = read.duration_text;
        }
        details.reason = opt("reason");
        slots.lock = Some(details);
    }
    Ok(Structured { intent, slots })
}

/// The (name, raw value) of every string option given.
fn given_options(data: &Value) -> Vec<(&str, &str)> {
    data.get("options")
        .and_then(|o| o.as_array())
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o.get("name")?.as_str()?, o.get("value")?.as_str()?)))
        .collect()
}

/// "The `version:` option `1.0 canary 50%` is not a single version, so nothing was done."
fn unusable(option: &str, value: &str, why: &str) -> String {
    format!(
        "The `{option}:` option `{}` {why}, so nothing was done. Put only a version in `version:`, a duration like `2h` in `duration:` and plain words in `reason:`.",
        value.replace('`', "'")
    )
}

/// Autocomplete choices for the focused option (services by name or alias).
pub fn autocomplete(config: &Config, data: &Value) -> Value {
    let focused = data
        .get("options")
        .and_then(|o| o.as_array())
        .and_then(|o| {
            o.iter()
                .find(|o| o.get("focused").and_then(|f| f.as_bool()) == Some(true))
        });
    let typed = focused
        .and_then(|o| o.get("value"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_lowercase();
    let is_service =
        focused.and_then(|o| o.get("name")).and_then(|n| n.as_str()) == Some("service");
    let choices: Vec<Value> = if is_service {
        config
            .services
            .iter()
            .filter(|s| {
                s.name.to_lowercase().contains(&typed)
                    || s.aliases.iter().any(|a| a.to_lowercase().contains(&typed))
            })
            .take(25)
            .map(|s| json!({ "name": s.name, "value": s.name }))
            .collect()
    } else {
        Vec::new()
    };
    json!({ "type": 8, "data": { "choices": choices } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str, options: &[(&str, &str)]) -> Value {
        let options: Vec<Value> = options
            .iter()
            .map(|(n, v)| json!({"type": 3, "name": n, "value": v}))
            .collect();
        json!({ "name": name, "options": options })
    }

    fn config() -> Config {
        Config::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn invocations_become_requests() {
        let c = config();
        let r = request(
            &c,
            &data(
                "deploy",
                &[("service", "billionmail"), ("environment", "staging")],
            ),
        )
        .unwrap();
        assert_eq!(r.intent, Intent::Deploy);
        assert_eq!(r.slots.service.as_deref(), Some("billionmail"));
        assert_eq!(r.slots.environment.as_deref(), Some("staging"));
        let r = request(
            &c,
            &data(
                "deploy",
                &[
                    ("service", "redis"),
                    ("version", "7.2.5"),
                    ("environment", "production"),
                    ("strategy", "canary"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(
            (r.slots.version.as_deref(), r.slots.strategy),
            (Some("7.2.5"), Some(Strategy::Canary))
        );
        let r = request(&c, &data("deploy", &[("service", "billionmail")])).unwrap();
        assert_eq!(r.slots.environment, None, "asked for in the thread");
        assert_eq!(
            request(&c, &data("status", &[])).unwrap().intent,
            Intent::Status
        );
        let r = request(
            &c,
            &data(
                "lock",
                &[
                    ("environment", "production"),
                    ("duration", "2h"),
                    ("reason", "deploys to staging"),
                ],
            ),
        )
        .unwrap();
        let lock = r.slots.lock.unwrap();
        assert_eq!(lock.duration, Some(std::time::Duration::from_secs(7200)));
        assert_eq!(lock.reason.as_deref(), Some("deploys to staging"));
        assert_eq!(
            r.slots.environment.as_deref(),
            Some("production"),
            "a reason never moves the scope"
        );
    }

    #[test]
    fn unusable_options_do_nothing_and_say_which() {
        let c = config();
        for (name, options, needle) in [
            (
                "deploy",
                vec![("service", "billionmail"), ("version", "1.0 canary 50%")],
                "`version:`",
            ),
            ("deploy", vec![("service", "nosuch")], "nosuch"),
            (
                "lock",
                vec![("environment", "staging"), ("duration", "a fortnight")],
                "`duration:`",
            ),
            (
                "deploy",
                vec![("service", "redis"), ("strategy", "yolo")],
                "`strategy:`",
            ),
            (
                "lock",
                vec![("environment", "production"), ("service", "\u{200B}")],
                "`service:`",
            ),
        ] {
            let err = request(&c, &data(name, &options)).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
