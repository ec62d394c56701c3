//! The states of runs and stages, and the phases a run goes through: domain facts the store
//! records and every surface (chat, API) renders in its own words.

use serde::Serialize;

/// How a run ended (or that it is still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Stages are executing.
    Running,
    /// Every stage succeeded.
    Succeeded,
    /// A stage failed (and a rollback may have run).
    Failed,
    /// A user cancelled it.
    Cancelled,
    /// The process died while it was running; found at the next start.
    Interrupted,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }
}

/// State of one stage in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    /// Not started yet.
    Pending,
    /// Executing now.
    Running,
    /// Exited 0.
    Succeeded,
    /// Exited non-zero or could not start.
    Failed,
    /// Exceeded its timeout and was stopped.
    TimedOut,
    /// Stopped because the run was cancelled.
    Cancelled,
}

impl StageState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Pending => "pending",
            StageState::Running => "running",
            StageState::Succeeded => "succeeded",
            StageState::Failed => "failed",
            StageState::TimedOut => "timed_out",
            StageState::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<StageState> {
        Some(match s {
            "pending" => StageState::Pending,
            "running" => StageState::Running,
            "succeeded" => StageState::Succeeded,
            "failed" => StageState::Failed,
            "timed_out" => StageState::TimedOut,
            "cancelled" => StageState::Cancelled,
            _ => return None,
        })
    }
}

/// Which part of a run a stage belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The requested pipeline.
    Main,
    /// The rollback pipeline after a failure.
    Rollback,
}

impl Phase {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Main => "main",
            Phase::Rollback => "rollback",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Phase> {
        match s {
            "main" => Some(Phase::Main),
            "rollback" => Some(Phase::Rollback),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_read_back() {
        for s in [
            StageState::Pending,
            StageState::Running,
            StageState::Succeeded,
            StageState::Failed,
            StageState::TimedOut,
            StageState::Cancelled,
        ] {
            assert_eq!(StageState::parse(s.as_str()), Some(s));
        }
        for p in [Phase::Main, Phase::Rollback] {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            serde_json::to_string(&StageState::TimedOut).unwrap(),
            "\"timed_out\""
        );
    }
}
