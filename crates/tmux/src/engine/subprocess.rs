//! The fork-per-call engine: every command is one `tmux` child process.
//!
//! Slow (about 1.8 ms a call, the cost of starting tmux) but independent of any connection, so
//! it also serves commands that must not share a control connection (`wait-for`, foreground
//! `run-shell`).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{default_tmux_binary, lock, version_from_output, version_query, Engine, EngineError};
use crate::command::{CommandOutput, TmuxCommand};
use crate::quote::{check_argv, escape_argv_word};
use crate::socket::Socket;
use crate::version::TmuxVersion;

/// Runs each command as `tmux -u [-f CONFIG] -L SOCKET CMD ARG…`.
#[derive(Debug)]
pub struct SubprocessEngine {
    binary: PathBuf,
    socket: Socket,
    config_file: Option<PathBuf>,
    version: Mutex<Option<TmuxVersion>>,
}

impl SubprocessEngine {
    /// An engine for the server at `socket`, using `CAO_TMUX_BIN` or `tmux` from PATH.
    pub fn new(socket: Socket) -> Self {
        Self {
            binary: default_tmux_binary(),
            socket,
            config_file: None,
            version: Mutex::new(None),
        }
    }

    /// Uses this tmux binary.
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = binary.into();
        self
    }

    /// Starts servers with this configuration file (`-f`), e.g. `/dev/null` for tests.
    pub fn with_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// The binary this engine runs.
    pub fn binary(&self) -> &std::path::Path {
        &self.binary
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        // -u: without it tmux replaces non-ASCII output with `_` under a non-UTF-8 locale.
        command.arg("-u");
        if let Some(config) = &self.config_file {
            command.arg("-f").arg(config);
        }
        command.args(self.socket.tmux_args());
        command.kill_on_drop(true);
        command
    }

    /// The version of the tmux binary itself (`tmux -V`): the version of any server this
    /// engine would start.
    pub async fn binary_version(&self) -> Result<TmuxVersion, EngineError> {
        let output = Command::new(&self.binary)
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|error| self.spawn_error(&error))?;
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text.trim().parse()?)
    }

    fn spawn_error(&self, error: &std::io::Error) -> EngineError {
        EngineError::Spawn {
            binary: self.binary.display().to_string(),
            reason: error.to_string(),
        }
    }
}

/// True when a tmux client's error says no server listens on the socket.
pub(crate) fn is_no_server_message(text: &str) -> bool {
    text.contains("no server running") || text.contains("error connecting to")
}

fn split_lines(bytes: &[u8]) -> Vec<String> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.strip_suffix('\n').unwrap_or(&text);
    trimmed.split('\n').map(str::to_string).collect()
}

#[async_trait]
impl Engine for SubprocessEngine {
    fn name(&self) -> &'static str {
        "subprocess"
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    async fn execute(&self, command: TmuxCommand) -> Result<CommandOutput, EngineError> {
        check_argv(&command.argv)?;
        let mut child_command = self.command();
        for word in &command.argv {
            child_command.arg(escape_argv_word(word).as_ref());
        }
        child_command
            .stdin(if command.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = child_command
            .spawn()
            .map_err(|error| self.spawn_error(&error))?;
        if let (Some(data), Some(mut stdin)) = (command.stdin, child.stdin.take()) {
            // Written from a task so a large input cannot deadlock against a full stdout pipe.
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
                let _ = stdin.shutdown().await;
            });
        }
        // If this future is dropped, `kill_on_drop` kills the child.
        let output = child
            .wait_with_output()
            .await
            .map_err(|error| EngineError::Io(error.to_string()))?;
        let output = CommandOutput {
            stdout: split_lines(&output.stdout),
            stderr: split_lines(&output.stderr),
            exit_code: output.status.code().unwrap_or(-1),
        };
        if output.exit_code != 0 && is_no_server_message(&output.error_text()) {
            // The server is gone; the next one may be another version.
            *lock(&self.version) = None;
        }
        Ok(output)
    }

    async fn server_version(&self) -> Result<TmuxVersion, EngineError> {
        if let Some(version) = *lock(&self.version) {
            return Ok(version);
        }
        let output = self.execute(version_query()).await?;
        if output.succeeded() {
            let version = version_from_output(&output)?;
            *lock(&self.version) = Some(version);
            return Ok(version);
        }
        if is_no_server_message(&output.error_text()) {
            // No server yet: the one this engine starts will be this binary's version. Not
            // cached, so the running server is asked once it exists.
            return self.binary_version().await;
        }
        Err(EngineError::Io(output.error_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_output_lines() {
        assert_eq!(split_lines(b""), Vec::<String>::new());
        assert_eq!(split_lines(b"a\nb\n"), vec!["a", "b"]);
        assert_eq!(split_lines(b"\n"), vec![""]);
    }
}
