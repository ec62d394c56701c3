//! `deckhand eval`: accuracy, slot exact-match, false actions and latency of the NLU on a
//! JSON Lines data set.

use super::{limits, Intent, Nlu, SlotKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// One labelled row.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Message text.
    pub text: String,
    /// Expected intent name.
    pub intent: String,
    /// Expected canonical slots.
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
}

/// Why a data set could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A line is not a valid row.
    #[error("line {line}: {message}")]
    BadRow {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has no rows.
    #[error("the data set has no rows")]
    Empty,
}

/// Precision and recall of one intent.
#[derive(Debug, Serialize)]
pub struct IntentScore {
    /// Rows labelled with this intent.
    pub support: usize,
    /// Of the rows predicted as this intent, the share that were right.
    pub precision: f64,
    /// Of the rows labelled with this intent, the share predicted right.
    pub recall: f64,
}

/// A row the NLU got wrong.
#[derive(Debug, Serialize)]
pub struct Miss {
    /// Message text.
    pub text: String,
    /// Expected intent.
    pub expected: String,
    /// Predicted intent.
    pub predicted: String,
    /// Classifier confidence.
    pub confidence: f32,
    /// Expected slots.
    pub expected_slots: BTreeMap<String, String>,
    /// Produced slots.
    pub predicted_slots: BTreeMap<String, String>,
}

/// The evaluation result (`--json` prints it as is).
#[derive(Debug, Serialize)]
pub struct Report {
    /// Which NLU pipeline was measured.
    pub nlu: String,
    /// Rows evaluated.
    pub rows: usize,
    /// Share of rows with the right intent.
    pub intent_accuracy: f64,
    /// Share of rows whose five slots match exactly.
    pub slot_exact_match: f64,
    /// `none` rows classified as an action intent or as `affirm` (at a yes/no question an
    /// `affirm` starts what the question was about).
    pub false_actions: usize,
    /// false_actions / none rows.
    pub false_action_rate: f64,
    /// Median parse latency.
    pub latency_p50_us: u64,
    /// 99th percentile parse latency.
    pub latency_p99_us: u64,
    /// Start-up time: load and train, and for `semantic` load the model and embed (or read the
    /// cached) examples.
    pub training_ms: u64,
    /// Whether the example embeddings came from the disk cache (semantic only).
    pub embeddings_cached: bool,
    /// Peak resident memory of the process, MiB (Linux; 0 elsewhere).
    pub peak_rss_mib: u64,
    /// Per intent scores.
    pub per_intent: BTreeMap<String, IntentScore>,
    /// Rows with a wrong intent or wrong slots.
    pub misses: Vec<Miss>,
}

/// Whether reading a `none` row as `predicted` would act: an action intent, or a yes that
/// answers whatever question is pending.
pub fn is_false_action(predicted: Intent) -> bool {
    predicted.is_action() || predicted == Intent::Affirm
}

/// Parses JSON Lines rows, skipping blank lines; texts are cut to
/// [`limits::MAX_MESSAGE_CHARS`], as the bot cuts messages.
pub fn parse_rows(text: &str) -> Result<Vec<Row>, EvalError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut row: Row = serde_json::from_str(line).map_err(|e| EvalError::BadRow {
            line: i + 1,
            message: e.to_string(),
        })?;
        let capped = limits::cap_message(&row.text);
        if capped.cut {
            row.text = capped.text.to_string();
        }
        if Intent::parse(&row.intent).is_none() {
            return Err(EvalError::BadRow {
                line: i + 1,
                message: format!("unknown intent `{}`", row.intent),
            });
        }
        if let Some(k) = row.slots.keys().find(|k| SlotKind::parse(k).is_none()) {
            return Err(EvalError::BadRow {
                line: i + 1,
                message: format!("unknown slot `{k}`"),
            });
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(rows)
}

const SLOT_KINDS: [SlotKind; 5] = [
    SlotKind::Service,
    SlotKind::Environment,
    SlotKind::Version,
    SlotKind::Strategy,
    SlotKind::Percent,
];

/// Runs the NLU over every row and scores it.
pub fn evaluate(nlu: &Nlu, rows: &[Row]) -> Report {
    let mut latencies = Vec::with_capacity(rows.len());
    let (mut correct, mut slots_ok, mut false_actions, mut none_rows) = (0, 0, 0, 0);
    let mut tp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut predicted_n: BTreeMap<&str, usize> = BTreeMap::new();
    let mut support: BTreeMap<&str, usize> = BTreeMap::new();
    let mut misses = Vec::new();
    for row in rows {
        let t = Instant::now();
        let parsed = nlu.parse(&row.text);
        latencies.push(t.elapsed().as_micros() as u64);
        let expected = Intent::parse(&row.intent).unwrap_or(Intent::None);
        let produced: BTreeMap<String, String> = SLOT_KINDS
            .iter()
            .filter_map(|k| parsed.slots.get(*k).map(|v| (k.as_str().to_string(), v)))
            .collect();
        *support.entry(expected.as_str()).or_default() += 1;
        *predicted_n.entry(parsed.intent.as_str()).or_default() += 1;
        let intent_ok = parsed.intent == expected;
        if intent_ok {
            correct += 1;
            *tp.entry(expected.as_str()).or_default() += 1;
        }
        if expected == Intent::None {
            none_rows += 1;
            if is_false_action(parsed.intent) {
                false_actions += 1;
            }
        }
        let slot_ok = produced == row.slots;
        if slot_ok {
            slots_ok += 1;
        }
        if !intent_ok || !slot_ok {
            misses.push(Miss {
                text: row.text.clone(),
                expected: row.intent.clone(),
                predicted: parsed.intent.as_str().to_string(),
                confidence: parsed.confidence,
                expected_slots: row.slots.clone(),
                predicted_slots: produced,
            });
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let per_intent = Intent::ALL
        .iter()
        .map(|i| {
            let name = i.as_str();
            let tp = tp.get(name).copied().unwrap_or(0);
            let score = IntentScore {
                support: support.get(name).copied().unwrap_or(0),
                precision: ratio(tp, predicted_n.get(name).copied().unwrap_or(0)),
                recall: ratio(tp, support.get(name).copied().unwrap_or(0)),
            };
            (name.to_string(), score)
        })
        .collect();
    Report {
        nlu: if nlu.is_semantic() {
            "semantic"
        } else {
            "lexical"
        }
        .into(),
        rows: rows.len(),
        intent_accuracy: ratio(correct, rows.len()),
        slot_exact_match: ratio(slots_ok, rows.len()),
        false_actions,
        false_action_rate: if none_rows == 0 {
            0.0
        } else {
            false_actions as f64 / none_rows as f64
        },
        latency_p50_us: pct(0.5),
        latency_p99_us: pct(0.99),
        training_ms: nlu.training_time().as_millis() as u64,
        embeddings_cached: nlu.embeddings_cached(),
        peak_rss_mib: peak_rss_mib(),
        per_intent,
        misses,
    }
}

/// The process's peak resident set (VmHWM), MiB.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

impl Report {
    /// Human-readable summary.
    pub fn render(&self, show_misses: bool) -> String {
        let mut s = format!(
            "NLU: {}\nrows: {}\nintent accuracy: {:.1}%\nslot exact-match: {:.1}%\nfalse actions: {} ({:.1}% of none rows)\nlatency per message: p50 {} µs, p99 {} µs\nstart-up: {} ms{}\npeak memory: {} MiB\n\n{:<10} {:>7} {:>9} {:>7}\n",
            self.nlu,
            self.rows,
            self.intent_accuracy * 100.0,
            self.slot_exact_match * 100.0,
            self.false_actions,
            self.false_action_rate * 100.0,
            self.latency_p50_us,
            self.latency_p99_us,
            self.training_ms,
            if self.embeddings_cached { " (example embeddings from the cache)" } else { "" },
            self.peak_rss_mib,
            "intent",
            "support",
            "precision",
            "recall"
        );
        for (name, sc) in &self.per_intent {
            s.push_str(&format!(
                "{:<10} {:>7} {:>8.1}% {:>6.1}%\n",
                name,
                sc.support,
                sc.precision * 100.0,
                sc.recall * 100.0
            ));
        }
        if show_misses && !self.misses.is_empty() {
            s.push_str(&format!("\nmisses ({}):\n", self.misses.len()));
            for m in &self.misses {
                s.push_str(&format!(
                    "  {:?}: expected {} {:?}, got {} ({:.2}) {:?}\n",
                    m.text,
                    m.expected,
                    m.expected_slots,
                    m.predicted,
                    m.confidence,
                    m.predicted_slots
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn nlu() -> Nlu {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deckhand.yaml");
        Nlu::new(&Config::load(&path).unwrap()).unwrap()
    }

    #[test]
    fn a_yes_on_a_none_row_is_a_false_action() {
        let rows = parse_rows(
            "{\"text\": \"yes\", \"intent\": \"none\"}\n{\"text\": \"sure\", \"intent\": \"none\"}\n{\"text\": \"no\", \"intent\": \"none\"}\n",
        )
        .unwrap();
        let r = evaluate(&nlu(), &rows);
        // Both yeses would start what a pending question asked about; a no would not.
        assert_eq!(r.false_actions, 2, "{}", r.render(true));
        assert!(is_false_action(Intent::Affirm) && is_false_action(Intent::Deploy));
        assert!(!is_false_action(Intent::Negate) && !is_false_action(Intent::Status));
    }

    #[test]
    fn long_rows_are_cut_to_the_message_bound() {
        for unit in ["a ", "é ", "部署 ", "🚀 "] {
            let long = unit.repeat(50_000);
            let line = serde_json::json!({"text": long, "intent": "none"}).to_string();
            let rows = parse_rows(&line).unwrap();
            let kept = rows[0].text.chars().count();
            // Cut on a word boundary, within the bound and close to it.
            assert!(
                kept <= limits::MAX_MESSAGE_CHARS && kept + 3 >= limits::MAX_MESSAGE_CHARS,
                "{unit:?}: {kept}"
            );
            assert!(long.starts_with(&rows[0].text));
        }
        // One unbroken 100k-character word: nothing of it is kept (no half a name).
        let line = serde_json::json!({"text": "x".repeat(100_000), "intent": "none"}).to_string();
        assert!(parse_rows(&line).unwrap()[0].text.is_empty());
        let rows = parse_rows("{\"text\": \"deploy redis\", \"intent\": \"deploy\"}").unwrap();
        assert_eq!(rows[0].text, "deploy redis");
    }
}
