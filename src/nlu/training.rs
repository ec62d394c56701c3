//! Training data: `intents/<name>.yaml` files whose examples carry Rasa-style slot marks,
//! `[text](entity)` or `[text]{"entity": "environment", "value": "production"}`.

use super::Intent;
use serde::Deserialize;
use std::path::Path;

/// Why training data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// A file could not be read.
    #[error("cannot read intent file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid YAML of the expected shape.
    #[error("intent file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    intent: String,
    examples: Vec<String>,
}

/// A marked span inside an example.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Byte range in the plain text.
    pub range: std::ops::Range<usize>,
    /// Entity name (`service`, `environment`, ...).
    pub entity: String,
    /// Canonical value, when the mark gave one.
    pub value: Option<String>,
}

/// One example with its marks removed from the text.
#[derive(Debug, Clone)]
pub struct Example {
    /// Intent it demonstrates.
    pub intent: Intent,
    /// Text without mark syntax.
    pub text: String,
    /// Marked entities.
    pub marks: Vec<Mark>,
}

const BUILTIN: [(&str, &str); 15] = [
    ("deploy", include_str!("../../intents/deploy.yaml")),
    ("rollback", include_str!("../../intents/rollback.yaml")),
    ("status", include_str!("../../intents/status.yaml")),
    ("history", include_str!("../../intents/history.yaml")),
    ("explain", include_str!("../../intents/explain.yaml")),
    ("readiness", include_str!("../../intents/readiness.yaml")),
    ("approve", include_str!("../../intents/approve.yaml")),
    ("reject", include_str!("../../intents/reject.yaml")),
    ("cancel", include_str!("../../intents/cancel.yaml")),
    ("affirm", include_str!("../../intents/affirm.yaml")),
    ("negate", include_str!("../../intents/negate.yaml")),
    ("help", include_str!("../../intents/help.yaml")),
    ("lock", include_str!("../../intents/lock.yaml")),
    ("unlock", include_str!("../../intents/unlock.yaml")),
    ("none", include_str!("../../intents/none.yaml")),
];

/// Loads examples from `dir` (every `*.yaml`), or the set compiled into the binary.
pub fn load_examples(dir: Option<&Path>) -> Result<Vec<Example>, TrainingError> {
    let mut out = Vec::new();
    match dir {
        None => {
            for (name, text) in BUILTIN {
                out.extend(parse_file(text, &format!("intents/{name}.yaml"))?);
            }
        }
        Some(dir) => {
            let read_err = |source| TrainingError::Read {
                path: dir.display().to_string(),
                source,
            };
            let mut paths: Vec<_> = std::fs::read_dir(dir)
                .map_err(read_err)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            paths.sort();
            for p in paths {
                let text = std::fs::read_to_string(&p).map_err(|source| TrainingError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                out.extend(parse_file(&text, &p.display().to_string())?);
            }
        }
    }
    Ok(out)
}

fn parse_file(text: &str, path: &str) -> Result<Vec<Example>, TrainingError> {
    let err = |message: String| TrainingError::Parse {
        path: path.to_string(),
        message,
    };
    let file: IntentFile = serde_yaml::from_str(text).map_err(|e| err(e.to_string()))?;
    let intent = Intent::parse(&file.intent).ok_or_else(|| {
        err(format!(
            "unknown intent `{}`; expected one of {}",
            file.intent,
            Intent::names().join(", ")
        ))
    })?;
    file.examples
        .iter()
        .map(|ex| {
            let (text, marks) = parse_marks(ex).map_err(|m| err(format!("example {ex:?}: {m}")))?;
            Ok(Example {
                intent,
                text,
                marks,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct JsonMark {
    entity: String,
    value: Option<String>,
}

/// Strips Rasa-style marks from an example, returning the plain text and the marks.
pub fn parse_marks(src: &str) -> Result<(String, Vec<Mark>), String> {
    let mut text = String::new();
    let mut marks = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find('[') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            text.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &after[..close];
        let tail = &after[close + 1..];
        let (entity, value, consumed) = if let Some(body) = tail.strip_prefix('(') {
            let end = body.find(')').ok_or("unclosed `(` after a mark")?;
            let spec = &body[..end];
            let (entity, value) = match spec.split_once(':') {
                Some((e, v)) => (e.to_string(), Some(v.to_string())),
                None => (spec.to_string(), None),
            };
            (entity, value, end + 2)
        } else if tail.starts_with('{') {
            let end = tail.find('}').ok_or("unclosed `{` after a mark")?;
            let json: JsonMark =
                serde_json::from_str(&tail[..=end]).map_err(|e| format!("bad mark JSON: {e}"))?;
            (json.entity, json.value, end + 1)
        } else {
            text.push('[');
            rest = after;
            continue;
        };
        let start = text.len();
        text.push_str(inner);
        marks.push(Mark {
            range: start..text.len(),
            entity,
            value,
        });
        rest = &tail[consumed..];
    }
    text.push_str(rest);
    Ok((text, marks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mark_forms_are_parsed() {
        let (text, marks) = parse_marks(
            r#"ship [auth](service) to [prod]{"entity": "environment", "value": "production"} now"#,
        )
        .unwrap();
        assert_eq!(text, "ship auth to prod now");
        assert_eq!(
            marks[0],
            Mark {
                range: 5..9,
                entity: "service".into(),
                value: None
            }
        );
        assert_eq!(marks[1].entity, "environment");
        assert_eq!(marks[1].value.as_deref(), Some("production"));
        assert_eq!(&text[marks[1].range.clone()], "prod");
    }

    #[test]
    fn brackets_without_marks_stay_literal() {
        let (text, marks) = parse_marks("see [docs] please").unwrap();
        assert_eq!(text, "see [docs] please");
        assert!(marks.is_empty());
        assert!(parse_marks("bad [x](service").is_err());
    }

    #[test]
    fn builtin_intents_load() {
        let ex = load_examples(None).unwrap();
        for intent in Intent::ALL {
            assert!(
                ex.iter().filter(|e| e.intent == intent).count() >= 20,
                "{intent:?} has too few examples"
            );
        }
    }
}
