//! Which tmux server an engine talks to: a named socket (`-L`) or a socket path (`-S`).

use std::ffi::OsString;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The environment variable that overrides cao's default socket name.
pub const SOCKET_ENV: &str = "CAO_TMUX_SOCKET";
/// cao's own socket name: cao never touches the user's default server unless asked.
pub const DEFAULT_SOCKET_NAME: &str = "cao";

/// A tmux server address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Socket {
    /// `tmux -L NAME`: a socket named NAME in tmux's socket directory.
    Name(String),
    /// `tmux -S PATH`: a socket at an explicit path.
    Path(PathBuf),
}

impl Socket {
    /// A named socket.
    pub fn named(name: impl Into<String>) -> Self {
        Socket::Name(name.into())
    }

    /// cao's socket: `CAO_TMUX_SOCKET` when set (a value containing `/` is a path), else `cao`.
    pub fn from_env() -> Self {
        match std::env::var(SOCKET_ENV) {
            Ok(value) if !value.trim().is_empty() => Self::parse(value.trim()),
            _ => Socket::Name(DEFAULT_SOCKET_NAME.to_string()),
        }
    }

    /// Reads a user-given socket: a value containing `/` is a path, anything else a name.
    pub fn parse(value: &str) -> Self {
        if value.contains('/') {
            Socket::Path(PathBuf::from(value))
        } else {
            Socket::Name(value.to_string())
        }
    }

    /// The arguments that select this server, placed before the tmux command.
    pub fn tmux_args(&self) -> [OsString; 2] {
        match self {
            Socket::Name(name) => ["-L".into(), name.into()],
            Socket::Path(path) => ["-S".into(), path.into()],
        }
    }

    /// A short label for messages: `-L cao` or `-S /path`.
    pub fn describe(&self) -> String {
        match self {
            Socket::Name(name) => format!("-L {name}"),
            Socket::Path(path) => format!("-S {}", path.display()),
        }
    }
}

impl Default for Socket {
    fn default() -> Self {
        Socket::Name(DEFAULT_SOCKET_NAME.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(Socket::parse("work"), Socket::Name("work".into()));
        assert_eq!(Socket::parse("/tmp/s"), Socket::Path("/tmp/s".into()));
        assert_eq!(Socket::default().describe(), "-L cao");
    }
}
