//! Test support: a strict reader of the OpenMetrics text `/metrics` serves, so tests assert
//! values by family and labels instead of searching for substrings.

use std::collections::{BTreeMap, HashMap};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`deckhand_runs_total`, `..._bucket`).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Family name → its `# TYPE`.
    pub types: HashMap<String, String>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

/// What is wrong with an exposition.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

fn parse_labels(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        out.insert(name.trim().to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(out)
}

/// The family a sample belongs to, given the declared families.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_total", "_bucket", "_sum", "_count", "_created"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| types.contains_key(*base))
}

/// Parses OpenMetrics text: every sample must belong to a declared family and the text must
/// end with `# EOF`.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut exp = Exposition::default();
    let mut eof = false;
    for (i, line) in text.lines().enumerate() {
        let err = |why: String| ParseError { line: i + 1, why };
        if eof {
            return Err(err("text after # EOF".into()));
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| err("TYPE without a type".into()))?;
            if exp.types.insert(name.into(), kind.into()).is_some() {
                return Err(err(format!("family {name} declared twice")));
            }
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            return Err(err(format!("unexpected line {line:?}")));
        }
        let (head, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| err("sample without a value".into()))?;
        let value: f64 = value
            .parse()
            .map_err(|_| err(format!("bad value {value:?}")))?;
        let (name, labels) = match head.split_once('{') {
            Some((name, l)) => {
                let l = l
                    .strip_suffix('}')
                    .ok_or_else(|| err("unclosed labels".into()))?;
                (
                    name,
                    parse_labels(l).ok_or_else(|| err(format!("bad labels {l:?}")))?,
                )
            }
            None => (head, BTreeMap::new()),
        };
        family_of(name, &exp.types)
            .ok_or_else(|| err(format!("sample {name} of no declared family")))?;
        exp.samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    if !eof {
        return Err(ParseError {
            line: text.lines().count(),
            why: "no # EOF".into(),
        });
    }
    Ok(exp)
}

impl Exposition {
    /// The samples named `name` whose labels include every pair of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The value of the one sample named `name` with these labels; None when there is none.
    /// Panics when several match (the test's labels are not specific enough).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} matches {} samples",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    /// The declared family a sample name belongs to (`x_bucket` → `x`), if any.
    pub fn family<'a>(&self, sample: &'a str) -> Option<&'a str> {
        family_of(sample, &self.types)
    }

    /// The sum of the samples named `name` with these labels (0 when none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }
}
