//! How bot events look in Slack: mrkdwn text, Block Kit buttons, the per-run status message
//! and failure notes, all kept within Slack's size limits.

use crate::adapters::delivery::markup::{self, Markup};
pub use crate::adapters::delivery::text::{head, tail};
use crate::adapters::delivery::RunView;
use crate::chat::StageState;
use crate::pipeline::Phase;
use slack_morphism::prelude::*;

/// `action_id` of the Confirm button.
pub const CONFIRM: &str = "deckhand_confirm";
/// `action_id` of the Cancel button.
pub const CANCEL: &str = "deckhand_cancel";
/// `action_id` of the Approve button (value: the approval id).
pub const APPROVE: &str = "deckhand_approve";
/// `action_id` of the Reject button (value: the approval id).
pub const REJECT: &str = "deckhand_reject";

/// Longest `text` Slack keeps in a message (it truncates beyond 40,000 characters).
pub const MAX_TEXT: usize = 39_000;
/// Longest text of a section block.
pub const MAX_SECTION: usize = 3_000;

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A plain text message.
pub fn plain(text: &str) -> SlackMessageContent {
    SlackMessageContent::new().with_text(head(&escape(text), MAX_TEXT))
}

fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(md!(head(&escape(text), MAX_SECTION)))
        .into()
}

fn button(
    label: &str,
    action: &str,
    value: &str,
    style: Option<SlackBlockButtonStyle>,
) -> SlackActionBlockElement {
    let b = SlackBlockButtonElement::new(pt!(label))
        .with_action_id(action.into())
        .with_value(value.to_string());
    SlackActionBlockElement::Button(match style {
        Some(s) => b.with_style(s),
        None => b,
    })
}

/// A yes/no question with Confirm and Cancel buttons.
pub fn confirm(text: &str) -> SlackMessageContent {
    let actions = SlackActionsBlock::new(vec![
        button(
            "Confirm",
            CONFIRM,
            "yes",
            Some(SlackBlockButtonStyle::Primary),
        ),
        button("Cancel", CANCEL, "no", None),
    ]);
    SlackMessageContent::new()
        .with_text(head(&escape(text), MAX_TEXT))
        .with_blocks(vec![section(text), actions.into()])
}

/// An approval request with Approve and Reject buttons naming the request; `note` is mrkdwn
/// shown under the text (approvals so far).
pub fn approval(text: &str, approval_id: i64, note: Option<&str>) -> SlackMessageContent {
    let id = approval_id.to_string();
    let actions = SlackActionsBlock::new(vec![
        button(
            "Approve",
            APPROVE,
            &id,
            Some(SlackBlockButtonStyle::Primary),
        ),
        button("Reject", REJECT, &id, Some(SlackBlockButtonStyle::Danger)),
    ]);
    let mut blocks = vec![section(text)];
    let mut fallback = head(&escape(text), MAX_TEXT);
    if let Some(note) = note {
        let context = SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(note.to_string()),
        )]);
        blocks.push(context.into());
        fallback = format!("{}\n{note}", head(&escape(text), MAX_SECTION));
    }
    blocks.push(actions.into());
    SlackMessageContent::new()
        .with_text(fallback)
        .with_blocks(blocks)
}

/// A question or request that was answered: the original text, the outcome, no buttons.
/// `outcome` is mrkdwn written by the adapter (it may mention users).
pub fn answered(text: &str, outcome: &str) -> SlackMessageContent {
    answered_mrkdwn(&escape(text), outcome)
}

/// [`answered`] for text that is already mrkdwn (e.g. read back from Slack).
pub fn answered_mrkdwn(mrkdwn: &str, outcome: &str) -> SlackMessageContent {
    let mrkdwn = head(mrkdwn, MAX_SECTION);
    let context = SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(outcome.to_string()),
    )]);
    let section = SlackSectionBlock::new().with_text(md!(mrkdwn.clone()));
    SlackMessageContent::new()
        .with_text(format!("{mrkdwn}\n{outcome}"))
        .with_blocks(vec![section.into(), context.into()])
}

/// How Slack spells a status message: emoji codes, `*bold*`, mrkdwn escaping.
const MARKUP: Markup = Markup {
    icons: [
        ":hourglass_flowing_sand:",
        ":white_check_mark:",
        ":x:",
        ":no_entry_sign:",
        ":warning:",
    ],
    bold: "*",
    escape,
    quote: escape,
};

/// The status message text of a run.
pub fn status_text(view: &RunView) -> String {
    markup::status_text(view, &MARKUP)
}

/// The thread note for a failed stage: what failed and the end of its output in a code block,
/// cut from the front so the last lines (usually the error) survive.
pub fn failure_note(stage: &str, phase: Phase, state: StageState, lines: &[String]) -> String {
    let state = state.as_str();
    let what = if phase == Phase::Rollback {
        format!(
            "Rollback stage `{}` {}",
            escape(stage),
            state.replace('_', " ")
        )
    } else {
        format!("Stage `{}` {}", escape(stage), state.replace('_', " "))
    };
    if lines.is_empty() {
        return format!(":x: {what}; it printed nothing.");
    }
    // Triple backticks inside the log would end the code block early.
    let log = escape(&lines.join("\n")).replace("```", "'''");
    let budget = MAX_SECTION
        .saturating_sub(what.chars().count() + 40)
        .max(200);
    format!(":x: {what}. Last output:\n```\n{}\n```", tail(&log, budget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::RunStatus;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape("a <b> & c"), "a &lt;b&gt; &amp; c");
    }

    #[test]
    fn head_and_tail_cut_by_characters() {
        assert_eq!(head("héllo", 10), "héllo");
        assert_eq!(head("héllo world", 4), "hél…");
        assert_eq!(tail("héllo world", 4), "…rld");
    }

    #[test]
    fn failure_note_keeps_the_last_lines_within_the_limit() {
        let lines: Vec<String> = (0..2_000).map(|i| format!("line {i} <x>")).collect();
        let note = failure_note("deploy", Phase::Main, StageState::Failed, &lines);
        assert!(note.chars().count() <= MAX_SECTION, "{}", note.len());
        assert!(note.contains("line 1999 &lt;x&gt;"));
        assert!(!note.contains("line 0 "));
        assert!(note.starts_with(":x: Stage `deploy` failed. Last output:\n```\n…"));
        assert!(note.ends_with("\n```"));
    }

    #[test]
    fn failure_note_survives_a_huge_stage_name() {
        let name = "s".repeat(5_000);
        let note = failure_note(
            &name,
            Phase::Rollback,
            StageState::TimedOut,
            &["x".to_string()],
        );
        assert!(note.starts_with(":x: Rollback stage `sss"));
        assert!(note.contains("timed out"));
    }

    #[test]
    fn buttons_carry_their_action_and_value() {
        let json = serde_json::to_value(approval("Approve it?", 42, None)).unwrap();
        let elements = &json["blocks"][1]["elements"];
        assert_eq!(elements[0]["action_id"], APPROVE);
        assert_eq!(elements[0]["value"], "42");
        assert_eq!(elements[1]["action_id"], REJECT);
        assert_eq!(elements[1]["style"], "danger");
        let json = serde_json::to_value(answered("Approve it?", "Approved by <@U1>")).unwrap();
        assert_eq!(json["blocks"].as_array().unwrap().len(), 2);
        assert_eq!(json["blocks"][1]["type"], "context");
    }

    #[test]
    fn status_text_shows_progress_then_outcome() {
        let mut v = RunView {
            run_id: 7,
            action: crate::store::Action::Deploy,
            service: "billionmail".into(),
            environment: "staging".into(),
            version: Some("1.4.0".into()),
            strategy: crate::config::Strategy::Canary,
            summary: "build ✓ 1s → deploy ⏳".into(),
            last_line: Some("rolling 5%".into()),
            finished: None,
        };
        let t = status_text(&v);
        assert!(t.contains("*Run #7* · deploy billionmail 1.4.0 → staging (canary) · running"));
        assert!(t.contains("`build ✓ 1s → deploy ⏳`"));
        assert!(t.contains("> rolling 5%"));
        v.finished = Some(RunStatus::Succeeded);
        let t = status_text(&v);
        assert!(t.starts_with(":white_check_mark:"));
        assert!(t.contains("· succeeded"));
        assert!(!t.contains("rolling"));
    }
}
