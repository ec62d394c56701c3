//! A run's status message, laid out once for every platform; only the markup differs.

use super::text::head;
use super::RunView;
use crate::chat::RunStatus;

/// How a platform spells the parts of a status message.
pub struct Markup {
    /// Icons for running, succeeded, failed, cancelled and interrupted runs.
    pub icons: [&'static str; 5],
    /// What surrounds bold text (`*` on Slack, `**` on Discord).
    pub bold: &'static str,
    /// Makes a name or the stage line safe to show as the platform's markup.
    pub escape: fn(&str) -> String,
    /// Makes a stage's output line safe to show after a quote marker.
    pub quote: fn(&str) -> String,
}

/// The status message text of a run: a headline with the run's target and state, the stage
/// line, and while it runs the latest output line.
pub fn status_text(view: &RunView, markup: &Markup) -> String {
    let [running, succeeded, failed, cancelled, interrupted] = markup.icons;
    let icon = match view.finished {
        None | Some(RunStatus::Running) => running,
        Some(RunStatus::Succeeded) => succeeded,
        Some(RunStatus::Failed) => failed,
        Some(RunStatus::Cancelled) => cancelled,
        Some(RunStatus::Interrupted) => interrupted,
    };
    let escape = markup.escape;
    let version = view
        .version
        .as_deref()
        .map(|v| format!(" {}", escape(v)))
        .unwrap_or_default();
    let b = markup.bold;
    let mut out = format!(
        "{icon} {b}Run #{}{b} · {} {}{version} → {} ({}) · {}",
        view.run_id,
        escape(view.action.as_str()),
        escape(&view.service),
        escape(&view.environment),
        escape(view.strategy.as_str()),
        view.state(),
    );
    if !view.summary.is_empty() {
        // Inside inline code: a backtick would end it.
        let summary = escape(&view.summary).replace('`', "'");
        out.push_str(&format!("\n`{}`", head(&summary, 1_000)));
    }
    if view.finished.is_none() {
        if let Some(line) = &view.last_line {
            out.push_str(&format!("\n> {}", head(&(markup.quote)(line), 200)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RunView {
        RunView {
            run_id: 3,
            action: crate::store::Action::Deploy,
            service: "a<b".into(),
            environment: "dev".into(),
            version: Some("2.0".into()),
            strategy: crate::config::Strategy::Direct,
            summary: "build `x` ✓".into(),
            last_line: Some("say `hi` & <go>".into()),
            finished: None,
        }
    }

    #[test]
    fn one_layout_each_platform_its_own_markup() {
        let slack_like = Markup {
            icons: ["R", "S", "F", "C", "I"],
            bold: "*",
            escape: |s| s.replace('<', "&lt;"),
            quote: |s| s.replace('<', "&lt;"),
        };
        let discord_like = Markup {
            icons: ["r", "s", "f", "c", "i"],
            bold: "**",
            escape: str::to_string,
            quote: |s| s.replace('`', "'"),
        };
        assert_eq!(
            status_text(&view(), &slack_like),
            "R *Run #3* · deploy a&lt;b 2.0 → dev (direct) · running\n`build 'x' ✓`\n> say `hi` & &lt;go>"
        );
        assert_eq!(
            status_text(&view(), &discord_like),
            "r **Run #3** · deploy a<b 2.0 → dev (direct) · running\n`build 'x' ✓`\n> say 'hi' & <go>"
        );
        let mut done = view();
        done.finished = Some(RunStatus::Failed);
        let text = status_text(&done, &discord_like);
        assert!(text.starts_with("f **Run #3**"), "{text}");
        assert!(
            !text.contains("say"),
            "no output line once finished: {text}"
        );
    }
}
