//! `cao mock-agent`: a small scripted agent-like terminal program for tests and the offline
//! demo.
//!
//! It behaves like a coding-agent CLI as far as a screen reader can tell: a banner, a `mock> `
//! prompt, a spinner while "working", a `● ` reply, `✓ done in 0.2s`, approval questions and
//! fatal errors, all chosen by a TOML [`script`]. It reads the terminal in raw mode with
//! bracketed paste on, and can log every submitted input byte for byte (`--log`), so delivery
//! tests can compare what was sent with what arrived.
//!
//! It calls no model, but it is a real MCP client: given the servers of an `--mcp-config` file
//! ([`mcp_config`], Claude Code's format, stdio and streamable HTTP), a script rule can call
//! their tools before replying and put the results in its reply, so a whole team of mock
//! agents can work through cao's `handoff`, `assign` and `send_message` offline. The servers
//! are connected at start-up in the background, without holding back the prompt; a server
//! that cannot be reached fails the calls to it (`● tool NAME failed: REASON`), not the agent. Without
//! `--script`, the agent profile (`--profile`) picks a built-in script (see [`script`]): a
//! `code_supervisor` delegates to a developer and a reviewer, other profiles answer assigned
//! tasks with `send_message` and echo the rest.
//!
//! The logic lives in the sans-I/O [`agent::Agent`] (bytes, clock and tool results in,
//! [`agent::Action`]s out); [`run`] is the thin shell that owns the real terminal and makes
//! the tool calls on a thread of its own, with a small tokio runtime.
//!
//! The `--log` file gets one JSON line per submitted input,
//! `{"at_ms", "input", "terminal_id"}`, and one per finished tool call,
//! `{"at_ms", "tool", "args", "result", "is_error", "terminal_id"}` (`result` is the text of
//! the result, or the reason a call failed; `terminal_id` is this agent's).

pub mod agent;
pub mod input;
mod mcp;
pub mod mcp_config;
pub mod script;
pub mod template;
mod terminal;

use std::path::PathBuf;

pub use mcp_config::{McpConfig, McpConfigError};
pub use script::{Script, ScriptError};
pub use terminal::run;

/// How `cao mock-agent` was started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The script (`--script`, `CAO_MOCK_AGENT_SCRIPT`); the profile's built-in script without
    /// one.
    pub script: Option<PathBuf>,
    /// Where to append one JSON line per submitted input and per tool call (`--log`,
    /// `CAO_MOCK_AGENT_LOG`).
    pub log: Option<PathBuf>,
    /// Value of the `terminal_id` field in log lines (from `CAO_TERMINAL_ID`).
    pub terminal_id: Option<String>,
    /// MCP servers to connect to (`--mcp-config`, `CAO_MOCK_AGENT_MCP_CONFIG`).
    pub mcp_config: Option<PathBuf>,
    /// The agent profile (`--profile`, `CAO_MOCK_AGENT_PROFILE`), which picks the built-in
    /// script when there is no `script`.
    pub profile: Option<String>,
}

/// Why the mock agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum MockAgentError {
    /// The script is missing or malformed (nothing was drawn).
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The MCP config is missing or malformed (nothing was drawn).
    #[error(transparent)]
    McpConfig(#[from] McpConfigError),
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
            Self::Script(_) | Self::McpConfig(_) | Self::LogOpen { .. } => 2,
            Self::LogWrite { .. } | Self::Terminal(_) => 1,
        }
    }
}
