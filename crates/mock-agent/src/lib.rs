//! `cao mock-agent`: a small scripted agent-like terminal program for tests and the offline
//! demo.
//!
//! It behaves like a coding-agent CLI as far as a screen reader can tell: a banner, a `mock> `
//! prompt, a spinner while "working", a `● ` reply, `✓ done in 0.2s`, approval questions and
//! fatal errors, all chosen by a TOML [`script`]. It reads the terminal in raw mode with
//! bracketed paste on, and can log every submitted input byte for byte (`--log`), so delivery
//! tests can compare what was sent with what arrived.
//!
//! It is not an agent: it calls no model and runs no tools. The logic lives in the sans-I/O
//! [`agent::Agent`] (bytes and clock in, [`agent::Action`]s out); [`run`] is the thin shell
//! that owns the real terminal.

pub mod agent;
pub mod input;
pub mod script;
mod terminal;

use std::path::PathBuf;

pub use script::{Script, ScriptError};
pub use terminal::run;

/// How `cao mock-agent` was started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The script (`--script`, `CAO_MOCK_AGENT_SCRIPT`); echo replies without one.
    pub script: Option<PathBuf>,
    /// Where to append one JSON line per submitted input (`--log`, `CAO_MOCK_AGENT_LOG`).
    pub log: Option<PathBuf>,
    /// Value of the `terminal_id` field in log lines (from `CAO_TERMINAL_ID`).
    pub terminal_id: Option<String>,
}

/// Why the mock agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum MockAgentError {
    /// The script is missing or malformed (nothing was drawn).
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The log file could not be opened (nothing was drawn).
    #[error("log {}: cannot open it for appending: {source}", path.display())]
    LogOpen {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A log line could not be written.
    #[error("log {}: cannot write to it: {source}", path.display())]
    LogWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The terminal could not be set up or written.
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
}

impl MockAgentError {
    /// The exit status for this error: 2 for bad arguments found before drawing, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Script(_) | Self::LogOpen { .. } => 2,
            Self::LogWrite { .. } | Self::Terminal(_) => 1,
        }
    }
}
