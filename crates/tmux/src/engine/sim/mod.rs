//! [`SimEngine`]: an in-memory model of one tmux 3.3a server, driven by the same argv the real
//! engines send, for fast tests of everything above the engine.
//!
//! What it models: sessions, windows and panes with tmux's ids (`$N`, `@N`, `%N`, numbered per
//! server from 0 and never reused while it runs), names, indexes, active flags and sizes; paste
//! buffers; options and environments per scope; pane screens as lines of text that `send-keys`
//! and `paste-buffer` write and `capture-pane` reads. Error messages, default list formats and
//! `-P` output use tmux 3.3a's wording, checked against a real server.
//!
//! What it is not: a terminal. No process runs in a pane (so nothing echoes, nothing exits and
//! `pane_dead` is always 0), there are no clients (`list-clients` prints nothing, `client_*`
//! formats are empty), and layouts are a flat list of panes rather than tmux's tree.
//!
//! Choices where tmux depends on the host:
//! - A pane runs "`sh`" unless a shell command is given, in which case its first word (without
//!   its directory) is `pane_current_command`; windows are named after that command unless
//!   `-n` names them (tmux's automatic rename gives the shell's name, e.g. `bash`).
//! - `pane_current_path` is `-c` or the session's directory, which is `-c` of `new-session` or
//!   `/`. `pane_title` and `#{host}` are `sim`. `pane_pid` counts up from 1000.
//! - The "no server" error names `/tmp/tmux-sim/NAME` for a socket name, or the socket path.
//! - `session_created` is the real clock; list-sessions prints it in UTC.

mod args;
mod commands;
mod options;
mod state;

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::command::{CommandOutput, TmuxCommand};
use crate::engine::{Engine, EngineError};
use crate::socket::Socket;
use crate::version::TmuxVersion;

use state::Server;

/// The tmux release the sim imitates unless told otherwise.
pub const SIM_DEFAULT_VERSION: TmuxVersion = TmuxVersion::new(3, 3, 1);

/// An in-memory tmux server behind the [`Engine`] trait.
///
/// ```
/// use cao_tmux::engine::{Engine, SimEngine};
/// use cao_tmux::TmuxCommand;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sim = SimEngine::new();
/// let created = sim
///     .execute(TmuxCommand::new(["new-session", "-d", "-s", "work", "-P", "-F", "#{pane_id}"]))
///     .await
///     .unwrap();
/// assert_eq!(created.stdout, vec!["%0"]);
/// # });
/// ```
pub struct SimEngine {
    socket: Socket,
    server: Mutex<Server>,
}

impl SimEngine {
    /// A stopped server on `-L sim` that will report tmux 3.3a.
    pub fn new() -> Self {
        Self::with_version(SIM_DEFAULT_VERSION)
    }

    /// A stopped server that will report `version`.
    pub fn with_version(version: TmuxVersion) -> Self {
        Self::with_socket(Socket::Name("sim".to_string()), version)
    }

    /// A stopped server at `socket` (only used in messages and `#{socket_path}`).
    pub fn with_socket(socket: Socket, version: TmuxVersion) -> Self {
        let socket_path = match &socket {
            Socket::Name(name) => format!("/tmp/tmux-sim/{name}"),
            Socket::Path(path) => path.display().to_string(),
        };
        Self {
            socket,
            server: Mutex::new(Server::new(version, socket_path)),
        }
    }

    /// Whether the simulated server is running (it has sessions, or `start-server` ran).
    pub fn is_running(&self) -> bool {
        self.lock().running
    }

    /// Runs one argv synchronously; [`Engine::execute`] is this behind `async`.
    pub fn run(&self, command: &TmuxCommand) -> CommandOutput {
        let mut server = self.lock();
        run_command(&mut server, command)
    }

    fn lock(&self) -> MutexGuard<'_, Server> {
        // A panic inside a handler leaves the model as it was mid-command; tests that
        // continue after one get that state rather than a second panic.
        crate::engine::lock(&self.server)
    }
}

impl Default for SimEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SimEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimEngine")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

fn run_command(server: &mut Server, command: &TmuxCommand) -> CommandOutput {
    let name = command.name();
    let Some(entry) = commands::find(name) else {
        return CommandOutput::failed(format!("unknown command: {name}"));
    };
    let words = command.argv.get(1..).unwrap_or_default();
    let args = match args::parse(entry.name, &entry.spec, words) {
        Ok(args) => args,
        Err(usage) => return CommandOutput::failed(usage),
    };
    if !server.running {
        if !entry.starts_server {
            return CommandOutput::failed(format!("no server running on {}", server.socket_path));
        }
        server.start();
    }
    let call = commands::Call {
        args,
        stdin: command.stdin.as_deref(),
    };
    let outcome = (entry.handler)(server, &call);
    if server.running && server.sessions.is_empty() && !server.kept_empty {
        // exit-empty: a server with no sessions exits (also after a failed new-session).
        server.stop();
    }
    match outcome {
        Ok(lines) => CommandOutput::ok(lines),
        Err(message) => CommandOutput::failed(message),
    }
}

#[async_trait]
impl Engine for SimEngine {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    async fn execute(&self, command: TmuxCommand) -> Result<CommandOutput, EngineError> {
        Ok(self.run(&command))
    }

    async fn server_version(&self) -> Result<TmuxVersion, EngineError> {
        Ok(self.lock().version)
    }
}

#[cfg(test)]
mod tests;
