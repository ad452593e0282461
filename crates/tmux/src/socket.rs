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

    /// The socket file this address names: the `-S` path, or for `-L NAME`
    /// `$TMUX_TMPDIR/tmux-UID/NAME` (`/tmp` when `TMUX_TMPDIR` is unset), as tmux computes it.
    pub fn path(&self) -> PathBuf {
        match self {
            Socket::Path(path) => path.clone(),
            Socket::Name(name) => {
                let base = std::env::var_os("TMUX_TMPDIR")
                    .filter(|value| !value.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/tmp"));
                // SAFETY: getuid has no preconditions and cannot fail.
                let uid = unsafe { libc::getuid() };
                base.join(format!("tmux-{uid}")).join(name)
            }
        }
    }

    /// True when a server accepts connections on this socket (a cheap check that starts
    /// nothing; a socket file left by a killed server does not count).
    pub fn has_listening_server(&self) -> bool {
        std::os::unix::net::UnixStream::connect(self.path()).is_ok()
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

    #[test]
    fn named_sockets_live_in_the_uid_directory() {
        let path = Socket::named("work").path();
        assert!(path.ends_with("work"));
        let directory = path.parent().and_then(|p| p.file_name()).unwrap();
        assert!(directory.to_string_lossy().starts_with("tmux-"));
        assert_eq!(Socket::Path("/x/y".into()).path(), PathBuf::from("/x/y"));
        assert!(!Socket::named("cao-no-such-server-for-tests").has_listening_server());
    }
}
