//! Engines run [`TmuxCommand`]s against one tmux server; they only move bytes.
//!
//! - [`SubprocessEngine`]: one `tmux` process per command (the child is killed if the call is
//!   cancelled).
//! - [`ControlEngine`]: one persistent `tmux -C` connection, pipelined, with a notification
//!   stream and flow control.
//! - [`SimEngine`]: an in-memory model of a server for fast tests of the layers above.
//!
//! Every engine reads the tmux version from the running server, never from the binary on PATH
//! (except to learn which version a server it is about to start will have).

use std::time::Duration;

use async_trait::async_trait;

use crate::command::{CommandOutput, TmuxCommand};
use crate::quote::QuoteError;
use crate::socket::Socket;
use crate::version::{TmuxVersion, VersionParseError};

pub mod control;
pub mod sim;
pub mod subprocess;

pub use control::{
    ControlEngine, ControlOptions, ControlStats, Notification, ServerIdentity, ServerState,
    WeakControlEngine,
};
pub use sim::SimEngine;
pub use subprocess::SubprocessEngine;

/// The tmux binary engines run, unless told otherwise: `CAO_TMUX_BIN` or `tmux` on PATH.
pub fn default_tmux_binary() -> std::path::PathBuf {
    std::env::var_os("CAO_TMUX_BIN")
        .filter(|value| !value.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "tmux".into())
}

/// Why an engine could not run a command (as opposed to tmux running it and reporting failure,
/// which is a [`CommandOutput`] with a non-zero exit code).
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start {binary}: {reason}; install tmux (apt-get install tmux) or set CAO_TMUX_BIN to its path")]
    Spawn { binary: String, reason: String },
    #[error("tmux connection to {socket} lost: {reason}")]
    ConnectionLost { socket: String, reason: String },
    #[error("could not connect to tmux on {socket}: {reason}")]
    Connect { socket: String, reason: String },
    #[error("no tmux server is running on {socket}")]
    NoServer { socket: String },
    #[error("tmux I/O failed: {0}")]
    Io(String),
    #[error("tmux control-mode protocol violation: {0}")]
    Protocol(String),
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error("tmux reported an unreadable version: {0}")]
    Version(#[from] VersionParseError),
    #[error("tmux did not answer `{command}` within {timeout:?}")]
    Timeout { command: String, timeout: Duration },
    #[error("the engine was shut down")]
    Closed,
    #[error("the tmux server on {socket} is not the one expected (it exited; {found} runs there now, not {expected})")]
    ServerChanged {
        socket: String,
        expected: String,
        found: String,
    },
}

/// A way of running tmux commands against one server.
#[async_trait]
pub trait Engine: Send + Sync {
    /// A short name for reports: `subprocess`, `control`, `sim`.
    fn name(&self) -> &'static str;

    /// The server this engine talks to.
    fn socket(&self) -> &Socket;

    /// Runs one command and returns what it printed.
    async fn execute(&self, command: TmuxCommand) -> Result<CommandOutput, EngineError>;

    /// Runs commands in order and returns one result each, in the same order. Engines that can
    /// pipeline send them all at once; a failed command does not stop the ones after it.
    async fn execute_batch(
        &self,
        commands: Vec<TmuxCommand>,
    ) -> Vec<Result<CommandOutput, EngineError>> {
        let mut results = Vec::with_capacity(commands.len());
        for command in commands {
            results.push(self.execute(command).await);
        }
        results
    }

    /// The version of the running server (`#{version}`), or of the binary that would start it
    /// when no server runs yet.
    async fn server_version(&self) -> Result<TmuxVersion, EngineError>;
}

/// Reads `#{version}` from an output of `display-message -p '#{version}'`.
/// `mutex` locked, poisoned or not. Every engine's critical sections are a few field or map
/// updates: a panic inside one cannot leave the data inconsistent, so the poison flag carries
/// no information.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn version_from_output(output: &CommandOutput) -> Result<TmuxVersion, EngineError> {
    let line = output.stdout.first().map(String::as_str).unwrap_or("");
    Ok(line.parse()?)
}

/// The argv that asks a server for its version.
pub(crate) fn version_query() -> TmuxCommand {
    TmuxCommand::new(["display-message", "-p", "#{version}"])
}
