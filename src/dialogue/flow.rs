//! Dialogue flows from `dialogues/<intent>.yaml`: which slots an intent needs, how to ask for
//! them, and how to confirm. Templates use `{name}` placeholders.

use crate::nlu::{Intent, SlotKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Why flows could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A file could not be read.
    #[error("cannot read dialogue flows from {path}: {source}")]
    Read {
        /// The file or folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A flow is malformed.
    #[error("dialogue flow {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One intent's dialogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Intent name.
    pub intent: String,
    /// True when the intent changes something (confirmation, then a run).
    #[serde(default)]
    pub action: bool,
    /// One-line usage for help.
    pub usage: String,
    /// One-line description for help.
    pub description: String,
    /// Slots that must be filled, asked for in this order.
    #[serde(default)]
    pub required: Vec<String>,
    /// Slots that may be given.
    #[serde(default)]
    pub optional: Vec<String>,
    /// Display values for empty optional slots in templates.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// `ask_<slot>`, `invalid_<slot>` and `invalid_<slot>_unknown` templates.
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    /// Confirmation template (action flows; without one the action runs at once).
    #[serde(default)]
    pub confirm: Option<String>,
}

impl Flow {
    /// Required slot kinds, in asking order.
    pub fn required_slots(&self) -> Vec<SlotKind> {
        self.required
            .iter()
            .filter_map(|s| SlotKind::parse(s))
            .collect()
    }

    /// True when the flow uses this slot at all.
    pub fn uses(&self, kind: SlotKind) -> bool {
        self.required
            .iter()
            .chain(&self.optional)
            .any(|s| s == kind.as_str())
    }

    /// A prompt template by key.
    pub fn prompt(&self, key: &str) -> Option<&str> {
        self.prompts.get(key).map(String::as_str)
    }

    fn check(&self, path: &str) -> Result<Intent, FlowError> {
        let err = |message: String| FlowError::Invalid {
            path: path.to_string(),
            message,
        };
        let intent = Intent::parse(&self.intent)
            .ok_or_else(|| err(format!("unknown intent `{}`", self.intent)))?;
        for s in self.required.iter().chain(&self.optional) {
            if SlotKind::parse(s).is_none() {
                return Err(err(format!("unknown slot `{s}`; slots are service, environment, version, strategy, percent")));
            }
        }
        for s in &self.required {
            if !self.prompts.contains_key(&format!("ask_{s}")) {
                return Err(err(format!("required slot `{s}` has no `ask_{s}` prompt")));
            }
        }
        if !self.action && self.confirm.is_some() {
            return Err(err(
                "only action flows may have `confirm` (an action without it runs at once)".into(),
            ));
        }
        Ok(intent)
    }
}

const BUILTIN: [(&str, &str); 8] = [
    ("deploy", include_str!("../../dialogues/deploy.yaml")),
    ("rollback", include_str!("../../dialogues/rollback.yaml")),
    ("status", include_str!("../../dialogues/status.yaml")),
    ("history", include_str!("../../dialogues/history.yaml")),
    ("explain", include_str!("../../dialogues/explain.yaml")),
    ("readiness", include_str!("../../dialogues/readiness.yaml")),
    ("lock", include_str!("../../dialogues/lock.yaml")),
    ("unlock", include_str!("../../dialogues/unlock.yaml")),
];

/// All flows, by intent.
#[derive(Debug, Clone)]
pub struct Flows {
    by_intent: BTreeMap<&'static str, Flow>,
}

impl Flows {
    /// Loads flows from `dir` (every `*.yaml`) or the built-in set.
    pub fn load(dir: Option<&Path>) -> Result<Flows, FlowError> {
        let mut sources: Vec<(String, String)> = Vec::new();
        match dir {
            None => sources.extend(
                BUILTIN
                    .iter()
                    .map(|(n, t)| (format!("dialogues/{n}.yaml"), t.to_string())),
            ),
            Some(dir) => {
                let rd = std::fs::read_dir(dir).map_err(|source| FlowError::Read {
                    path: dir.display().to_string(),
                    source,
                })?;
                let mut paths: Vec<_> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                    .collect();
                paths.sort();
                for p in paths {
                    let text = std::fs::read_to_string(&p).map_err(|source| FlowError::Read {
                        path: p.display().to_string(),
                        source,
                    })?;
                    sources.push((p.display().to_string(), text));
                }
            }
        }
        let mut by_intent = BTreeMap::new();
        for (path, text) in sources {
            let flow: Flow = serde_yaml::from_str(&text).map_err(|e| FlowError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let intent = flow.check(&path)?;
            if by_intent.insert(intent.as_str(), flow).is_some() {
                return Err(FlowError::Invalid {
                    path,
                    message: format!("a second flow for `{}`", intent.as_str()),
                });
            }
        }
        Ok(Flows { by_intent })
    }

    /// The flow for an intent, if it has one.
    pub fn get(&self, intent: Intent) -> Option<&Flow> {
        self.by_intent.get(intent.as_str())
    }

    /// Every flow, by intent name.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.by_intent.values()
    }
}

/// Fills `{name}` placeholders; unknown names are left as written.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if vars.contains_key(&after[..close]) => {
                out.push_str(&vars[&after[..close]]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// "a, b or c".
pub fn join_choices(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_flows_are_valid() {
        let flows = Flows::load(None).unwrap();
        let deploy = flows.get(Intent::Deploy).unwrap();
        assert!(deploy.action);
        assert_eq!(
            deploy.required_slots(),
            vec![SlotKind::Service, SlotKind::Environment]
        );
        assert!(flows.get(Intent::Status).is_some_and(|f| !f.action));
        assert!(flows.get(Intent::Affirm).is_none());
    }

    #[test]
    fn flows_on_disk_match_the_builtin_set() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialogues");
        assert_eq!(
            Flows::load(Some(&dir)).unwrap().iter().count(),
            BUILTIN.len()
        );
    }

    #[test]
    fn a_required_slot_without_prompt_is_rejected() {
        let dir = std::env::temp_dir().join(format!("deckhand-flow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("x.yaml"),
            "intent: explain\nusage: u\ndescription: d\nrequired: [service]\n",
        )
        .unwrap();
        let err = Flows::load(Some(&dir)).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("no `ask_service` prompt"), "{err}");
    }

    #[test]
    fn templates_fill_known_names_only() {
        let vars = BTreeMap::from([("service", "billionmail".to_string())]);
        assert_eq!(
            render("Deploy {service} {x}?", &vars),
            "Deploy billionmail {x}?"
        );
        assert_eq!(
            join_choices(&["dev".into(), "staging".into(), "production".into()]),
            "dev, staging or production"
        );
    }
}
