//! The status of an agent terminal, as CAO names it.

use serde::{Deserialize, Serialize};

/// What an agent CLI in a pane is doing, read from its screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalStatus {
    /// Nothing recognisable on the screen yet.
    Unknown,
    /// Ready for input and has not answered anything since it started.
    Idle,
    /// Working on the last input.
    Processing,
    /// Ready again after replying to the last input.
    Completed,
    /// Blocked on a question, an approval or a dialog.
    WaitingUserAnswer,
    /// The CLI failed or exited.
    Error,
}

impl TerminalStatus {
    /// Every status, in CAO's order.
    pub const ALL: [TerminalStatus; 6] = [
        TerminalStatus::Unknown,
        TerminalStatus::Idle,
        TerminalStatus::Processing,
        TerminalStatus::Completed,
        TerminalStatus::WaitingUserAnswer,
        TerminalStatus::Error,
    ];

    /// The wire name (`waiting_user_answer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalStatus::Unknown => "unknown",
            TerminalStatus::Idle => "idle",
            TerminalStatus::Processing => "processing",
            TerminalStatus::Completed => "completed",
            TerminalStatus::WaitingUserAnswer => "waiting_user_answer",
            TerminalStatus::Error => "error",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<TerminalStatus> {
        TerminalStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Ready for a new input (idle or completed).
    pub fn is_ready(self) -> bool {
        matches!(self, TerminalStatus::Idle | TerminalStatus::Completed)
    }
}

impl std::fmt::Display for TerminalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
