//! Deckhand's slash commands: their definitions, built from the config at start-up (service
//! autocomplete, environment choices), and the sentence each invocation stands for, which then
//! goes through the same NLU and dialogue as typed text.

use crate::config::{Config, Strategy};
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

/// The sentence a command invocation stands for, e.g. `/deploy service:billionmail
/// environment:staging` -> `deploy billionmail to staging`.
pub fn sentence(data: &Value) -> String {
    let name = data.get("name").and_then(|n| n.as_str()).unwrap_or("help");
    let opt = |n: &str| option_value(data, n);
    let first = if name == "history" {
        "show deploy history"
    } else {
        name
    };
    let mut words: Vec<String> = vec![first.to_string()];
    let mut push = |prefix: &str, v: Option<&str>| {
        if let Some(v) = v {
            if !prefix.is_empty() {
                words.push(prefix.to_string());
            }
            words.push(v.to_string());
        }
    };
    match name {
        "deploy" => {
            push("", opt("service"));
            push("", opt("version"));
            push("to", opt("environment"));
            push("using", opt("strategy"));
        }
        "rollback" => {
            push("", opt("service"));
            push("on", opt("environment"));
            push("to", opt("version"));
        }
        "status" => {
            push("", opt("service"));
            push("in", opt("environment"));
        }
        "history" => {
            push("for", opt("service"));
            push("in", opt("environment"));
        }
        "lock" | "unlock" => {
            push("", opt("service"));
            push(
                if opt("service").is_some() { "in" } else { "" },
                opt("environment"),
            );
            if name == "lock" {
                push("for", opt("duration"));
                push("because", opt("reason"));
            }
        }
        _ => {}
    }
    words.join(" ")
}

/// Options whose text is free; the NLU reads them along with the rest of the sentence.
const FREE_TEXT: [&str; 3] = ["version", "duration", "reason"];

/// When free text (a version, duration or reason) would change what the structured options
/// say once the sentence is read (`reason: deploys to production` naming another environment,
/// a version with `canary 50%` in it), the refusal to show; `None` when they agree.
pub fn free_text_conflict(bot: &crate::bot::Bot, data: &Value) -> Option<String> {
    let given: Vec<&str> = FREE_TEXT
        .iter()
        .copied()
        .filter(|n| option_value(data, n).is_some())
        .collect();
    if given.is_empty() {
        return None;
    }
    let mut structured = data.clone();
    if let Some(options) = structured.get_mut("options").and_then(|o| o.as_array_mut()) {
        options.retain(|o| {
            let name = o.get("name").and_then(|n| n.as_str()).unwrap_or("");
            !FREE_TEXT.contains(&name)
        });
    }
    let full = bot.understand(&sentence(data));
    let base = bot.understand(&sentence(&structured));
    let fields = given
        .iter()
        .map(|n| format!("`{n}:`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let refuse = |what: &str, seen: String| {
        Some(format!(
            "The text in {fields} changes the {what} ({seen}), so nothing was done. Put only a version in `version:`, a duration like `2h` in `duration:` and plain words in `reason:`."
        ))
    };
    if full.intent != base.intent {
        return refuse("command", format!("read as `{}`", full.intent.as_str()));
    }
    let (a, b) = (&full.slots, &base.slots);
    for (what, x, y) in [
        ("service", &a.service, &b.service),
        ("environment", &a.environment, &b.environment),
    ] {
        if x != y {
            return refuse(what, format!("`{}`", x.as_deref().unwrap_or("none")));
        }
    }
    if a.strategy != b.strategy || a.percent != b.percent {
        return refuse("strategy", "a rollout strategy appears in it".into());
    }
    if let Some(v) = option_value(data, "version") {
        if a.version.as_deref() != Some(v) {
            return refuse("version", format!("`{v}` is not a single version"));
        }
    }
    None
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

    #[test]
    fn invocations_become_sentences() {
        let d = data(
            "deploy",
            &[("service", "billionmail"), ("environment", "staging")],
        );
        assert_eq!(sentence(&d), "deploy billionmail to staging");
        let d = data(
            "deploy",
            &[
                ("service", "redis"),
                ("version", "7.2.5"),
                ("environment", "production"),
                ("strategy", "canary"),
            ],
        );
        assert_eq!(
            sentence(&d),
            "deploy redis 7.2.5 to production using canary"
        );
        assert_eq!(
            sentence(&data("deploy", &[("service", "billionmail")])),
            "deploy billionmail"
        );
        assert_eq!(
            sentence(&data(
                "rollback",
                &[
                    ("service", "x"),
                    ("environment", "prod"),
                    ("version", "1.0")
                ]
            )),
            "rollback x on prod to 1.0"
        );
        assert_eq!(sentence(&data("status", &[])), "status");
        assert_eq!(
            sentence(&data("history", &[("service", "redis")])),
            "show deploy history for redis"
        );
        assert_eq!(
            sentence(&data(
                "lock",
                &[
                    ("environment", "production"),
                    ("duration", "2h"),
                    ("reason", "incident")
                ]
            )),
            "lock production for 2h because incident"
        );
        assert_eq!(
            sentence(&data(
                "unlock",
                &[("environment", "staging"), ("service", "redis")]
            )),
            "unlock redis in staging"
        );
    }
}
