//! The compact stage line every adapter shows for a run (a chat rendering, kept here and fed by
//! `bot::progress::ChatProgress` from the executor's typed events):
//! `build ✓ 1.2s → test ✓ 0.8s → deploy[canary 5%] ⏳`, with ` ↩ ` before rollback stages.

use crate::config::Strategy;
use crate::pipeline::{Phase, StageState};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Slot {
    label: String,
    state: StageState,
    duration: Option<Duration>,
}

/// Live state of a run's stages, rendered as one line.
#[derive(Debug, Clone, Default)]
pub struct StageLine {
    main: Vec<Slot>,
    rollback: Vec<Slot>,
}

/// `0.4s`, `12s`, `2m05s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else if secs < 60.0 {
        format!("{}s", secs.round() as u64)
    } else {
        let s = secs.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// How a stage appears in the line: the deploy stage names its strategy
/// (`deploy[canary 5%]`, `deploy[blue-green]`), every other stage just its name.
pub fn stage_label(name: &str, strategy: Strategy, percent: Option<u8>) -> String {
    match (name, strategy) {
        ("deploy", Strategy::Canary) => match percent {
            Some(p) => format!("deploy[canary {p}%]"),
            None => "deploy[canary]".into(),
        },
        ("deploy", Strategy::BlueGreen) => "deploy[blue-green]".into(),
        _ => name.to_string(),
    }
}

fn symbol(state: StageState) -> &'static str {
    match state {
        StageState::Pending => "·",
        StageState::Running => "⏳",
        StageState::Succeeded => "✓",
        StageState::Failed => "✗",
        StageState::TimedOut => "⏱",
        StageState::Cancelled => "⊘",
    }
}

impl StageLine {
    /// A line for these stage labels (all pending).
    pub fn new(labels: &[String]) -> StageLine {
        StageLine {
            main: labels
                .iter()
                .map(|l| Slot {
                    label: l.clone(),
                    state: StageState::Pending,
                    duration: None,
                })
                .collect(),
            rollback: Vec::new(),
        }
    }

    /// Adds the rollback stages after a failure.
    pub fn begin_rollback(&mut self, labels: &[String]) {
        self.rollback = labels
            .iter()
            .map(|l| Slot {
                label: l.clone(),
                state: StageState::Pending,
                duration: None,
            })
            .collect();
    }

    /// Updates one stage.
    pub fn set(
        &mut self,
        phase: Phase,
        index: usize,
        state: StageState,
        duration: Option<Duration>,
    ) {
        let slots = match phase {
            Phase::Main => &mut self.main,
            Phase::Rollback => &mut self.rollback,
        };
        if let Some(s) = slots.get_mut(index) {
            s.state = state;
            s.duration = duration;
        }
    }

    /// Renders the stages that have started (pending ones are left out, as in the chat).
    pub fn render(&self) -> String {
        let part = |slots: &[Slot]| {
            slots
                .iter()
                .filter(|s| s.state != StageState::Pending)
                .map(|s| match s.duration {
                    Some(d) if s.state != StageState::Running => {
                        format!("{} {} {}", s.label, symbol(s.state), format_duration(d))
                    }
                    _ => format!("{} {}", s.label, symbol(s.state)),
                })
                .collect::<Vec<_>>()
                .join(" → ")
        };
        let main = part(&self.main);
        let rollback = part(&self.rollback);
        match (main.is_empty(), rollback.is_empty()) {
            (_, true) => main,
            (true, false) => format!("↩ {rollback}"),
            (false, false) => format!("{main} ↩ {rollback}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deploy_stage_names_its_strategy() {
        assert_eq!(
            stage_label("deploy", Strategy::Canary, Some(5)),
            "deploy[canary 5%]"
        );
        assert_eq!(
            stage_label("deploy", Strategy::Canary, None),
            "deploy[canary]"
        );
        assert_eq!(
            stage_label("deploy", Strategy::BlueGreen, None),
            "deploy[blue-green]"
        );
        assert_eq!(stage_label("deploy", Strategy::Direct, None), "deploy");
        assert_eq!(stage_label("build", Strategy::Canary, Some(5)), "build");
    }

    #[test]
    fn renders_started_stages_with_durations() {
        let mut line = StageLine::new(&["build".into(), "test".into(), "deploy[canary 5%]".into()]);
        assert_eq!(line.render(), "");
        line.set(
            Phase::Main,
            0,
            StageState::Succeeded,
            Some(Duration::from_millis(1200)),
        );
        line.set(
            Phase::Main,
            1,
            StageState::Succeeded,
            Some(Duration::from_secs(43)),
        );
        line.set(Phase::Main, 2, StageState::Running, None);
        assert_eq!(
            line.render(),
            "build ✓ 1.2s → test ✓ 43s → deploy[canary 5%] ⏳"
        );
        line.set(
            Phase::Main,
            2,
            StageState::Failed,
            Some(Duration::from_secs(125)),
        );
        line.begin_rollback(&["rollback".into()]);
        line.set(
            Phase::Rollback,
            0,
            StageState::Succeeded,
            Some(Duration::from_millis(100)),
        );
        assert_eq!(
            line.render(),
            "build ✓ 1.2s → test ✓ 43s → deploy[canary 5%] ✗ 2m05s ↩ rollback ✓ 0.1s"
        );
    }
}
