//! The engine-neutral shape of one tmux command and of what it printed.

use serde::{Deserialize, Serialize};

/// One tmux command as argv (the command name first, no socket flags), plus bytes for its
/// standard input.
///
/// When `stdin` is set, the last argv word is `-`, tmux's name for "standard input" (as in
/// `load-buffer -b name -`). An engine that cannot pipe standard input (the control engine: its
/// stdin is the protocol) writes the bytes to a private file and replaces that word with the
/// file's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmuxCommand {
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Vec<u8>>,
}

impl TmuxCommand {
    /// A command from its words.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    /// The same command fed `data` on standard input.
    pub fn with_stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// The tmux command name, e.g. `new-session`.
    pub fn name(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }
}

/// What one command printed: its output lines, its error lines and whether it succeeded.
///
/// Over a fork this is stdout, stderr and the exit code; over control mode it is the body of the
/// reply block, with `%error` blocks giving their body as `stderr` and exit code 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub exit_code: i32,
}

impl CommandOutput {
    /// A successful reply with these lines.
    pub fn ok(stdout: Vec<String>) -> Self {
        Self {
            stdout,
            stderr: Vec::new(),
            exit_code: 0,
        }
    }

    /// A failed reply with this message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            stdout: Vec::new(),
            stderr: vec![message.into()],
            exit_code: 1,
        }
    }

    /// True when the command exited 0 and wrote nothing to stderr.
    pub fn succeeded(&self) -> bool {
        self.exit_code == 0 && self.stderr.iter().all(|line| line.is_empty())
    }

    /// The error text, lines joined, for messages.
    pub fn error_text(&self) -> String {
        self.stderr.join("\n")
    }
}
