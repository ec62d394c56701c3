//! How bot events look in Discord: message content (2,000 characters at most), buttons as
//! message components, the run status message and failure notes.

use crate::adapters::delivery::markup::{self, Markup};
pub use crate::adapters::delivery::text::{head, tail};
use crate::adapters::delivery::RunView;
use crate::chat::StageState;
use crate::pipeline::Phase;
use serde_json::{json, Value};

/// Longest message content Discord accepts.
pub const MAX_CONTENT: usize = 2_000;
/// `custom_id` of the Confirm button.
pub const CONFIRM: &str = "deckhand:confirm";
/// `custom_id` of the Cancel button.
pub const CANCEL: &str = "deckhand:cancel";
/// `custom_id` prefix of the Approve button (`deckhand:approve:<id>`).
pub const APPROVE: &str = "deckhand:approve:";
/// `custom_id` prefix of the Reject button (`deckhand:reject:<id>`).
pub const REJECT: &str = "deckhand:reject:";

/// A message body: content, components, and mentions limited to users (never @everyone or
/// roles, whatever chat text is echoed).
pub fn message(content: &str, components: Value) -> Value {
    json!({
        "content": head(content, MAX_CONTENT),
        "components": components,
        "allowed_mentions": { "parse": ["users"] },
    })
}

fn button(label: &str, style: u8, custom_id: &str) -> Value {
    json!({ "type": 2, "style": style, "label": label, "custom_id": custom_id })
}

/// A yes/no question with Confirm and Cancel buttons.
pub fn confirm(text: &str) -> Value {
    let row = json!({ "type": 1, "components": [
        button("Confirm", 3, CONFIRM),
        button("Cancel", 2, CANCEL),
    ]});
    message(text, json!([row]))
}

/// An approval request with Approve and Reject buttons naming it.
pub fn approval(text: &str, approval_id: i64) -> Value {
    let row = json!({ "type": 1, "components": [
        button("Approve", 3, &format!("{APPROVE}{approval_id}")),
        button("Reject", 4, &format!("{REJECT}{approval_id}")),
    ]});
    message(text, json!([row]))
}

/// A settled question: its text, the outcome, no buttons.
pub fn answered(shown: &str, outcome: &str) -> Value {
    let outcome = head(outcome, 300);
    let budget = MAX_CONTENT - outcome.chars().count() - 1;
    message(&format!("{}\n{outcome}", head(shown, budget)), json!([]))
}

/// How Discord spells a status message: Unicode emoji, `**bold**`, names as they are.
const MARKUP: Markup = Markup {
    icons: ["⏳", "✅", "❌", "🚫", "⚠️"],
    bold: "**",
    escape: str::to_string,
    quote: |line| line.replace('`', "'"),
};

/// The status message text of a run.
pub fn status_text(view: &RunView) -> String {
    markup::status_text(view, &MARKUP)
}

/// The note for a failed stage: what failed and the end of its output in a code block, cut
/// from the front so the last lines (usually the error) survive.
pub fn failure_note(stage: &str, phase: Phase, state: StageState, lines: &[String]) -> String {
    let state = state.as_str();
    let stage = head(stage, 100);
    let what = if phase == Phase::Rollback {
        format!("Rollback stage `{stage}` {}", state.replace('_', " "))
    } else {
        format!("Stage `{stage}` {}", state.replace('_', " "))
    };
    if lines.is_empty() {
        return format!("❌ {what}; it printed nothing.");
    }
    // Triple backticks inside the log would end the code block early.
    let log = lines.join("\n").replace("```", "'''");
    let budget = MAX_CONTENT.saturating_sub(what.chars().count() + 40);
    format!("❌ {what}. Last output:\n```\n{}\n```", tail(&log, budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_note_fits_in_one_message_and_keeps_the_end() {
        let lines: Vec<String> = (0..2_000).map(|i| format!("line {i}")).collect();
        let note = failure_note("deploy", Phase::Main, StageState::Failed, &lines);
        assert!(
            note.chars().count() <= MAX_CONTENT,
            "{}",
            note.chars().count()
        );
        assert!(note.contains("line 1999\n```"));
        assert!(!note.contains("line 0\n"));
    }

    #[test]
    fn buttons_and_mentions() {
        let m = approval("Approve?", 7);
        assert_eq!(
            m["components"][0]["components"][0]["custom_id"],
            "deckhand:approve:7"
        );
        assert_eq!(m["components"][0]["components"][1]["style"], 4);
        assert_eq!(m["allowed_mentions"]["parse"], json!(["users"]));
        let a = answered(&"x".repeat(5_000), "✅ Approved by <@1>");
        assert!(a["content"].as_str().unwrap().chars().count() <= MAX_CONTENT);
        assert!(a["content"]
            .as_str()
            .unwrap()
            .ends_with("✅ Approved by <@1>"));
        assert_eq!(a["components"], json!([]));
    }
}
