//! The cao data directory (`CAO_HOME_DIR`, else `<XDG data dir>/cao`) and the typed paths in it.
//!
//! Everything cao keeps on disk lives under one root so a test or a second install can point
//! `CAO_HOME_DIR` elsewhere. This module only names paths, creates directories and owns the
//! server token; what goes into each file belongs to the module that writes it.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The environment variable that overrides the data directory (CAO's name).
pub const HOME_ENV_VAR: &str = "CAO_HOME_DIR";

/// Why the data directory or the server token could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// Neither `CAO_HOME_DIR` nor a platform data directory is known.
    #[error("cannot find a data directory: set CAO_HOME_DIR to the directory cao should use")]
    NoDataDir,
    /// A file-system call failed on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The token file can be read by other users, so it no longer protects the server.
    #[error(
        "{path}: the server token is readable by group or others (mode {mode:o}); \
         run `chmod 600 {path}` or delete it to get a new one"
    )]
    TokenTooOpen {
        /// The token file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The token file holds something other than 64 hex characters.
    #[error("{path}: the server token is not 64 hex characters; delete the file to get a new one")]
    TokenMalformed {
        /// The token file.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    #[error("cannot read random bytes for the server token: {0}")]
    Random(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The cao data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaoHome {
    root: PathBuf,
}

impl CaoHome {
    /// `CAO_HOME_DIR` if set and not empty, else `<data dir>/cao` (`~/.local/share/cao` on Linux).
    pub fn from_env() -> Result<CaoHome, HomeError> {
        match std::env::var_os(HOME_ENV_VAR) {
            Some(dir) if !dir.is_empty() => Ok(CaoHome::at(dir)),
            _ => dirs::data_dir()
                .map(|dir| CaoHome::at(dir.join("cao")))
                .ok_or(HomeError::NoDataDir),
        }
    }

    /// A data directory at `root` (created by [`CaoHome::ensure_dirs`], not here).
    pub fn at(root: impl Into<PathBuf>) -> CaoHome {
        CaoHome { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database: `db/cao.sqlite3`.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db").join("cao.sqlite3")
    }

    /// Where pane transcripts go: `logs/terminal/`.
    pub fn terminal_log_dir(&self) -> PathBuf {
        self.root.join("logs").join("terminal")
    }

    /// The transcript of one terminal: `logs/terminal/<id>.log`.
    pub fn terminal_log(&self, terminal_id: &str) -> PathBuf {
        self.terminal_log_dir().join(format!("{terminal_id}.log"))
    }

    /// The local profile store: `agent-store/`.
    pub fn agent_store_dir(&self) -> PathBuf {
        self.root.join("agent-store")
    }

    /// User provider packs: `providers/`.
    pub fn providers_dir(&self) -> PathBuf {
        self.root.join("providers")
    }

    /// The managed environment file for `${VAR}` substitution: `.env`.
    pub fn env_file(&self) -> PathBuf {
        self.root.join(".env")
    }

    /// The HTTP server's bearer token: `server.token`.
    pub fn token_file(&self) -> PathBuf {
        self.root.join("server.token")
    }

    /// Per-terminal generated config (MCP config, prompt files): `terminals/<id>/`.
    pub fn terminal_config_dir(&self, terminal_id: &str) -> PathBuf {
        self.root.join("terminals").join(terminal_id)
    }

    /// User settings: `settings.json`.
    pub fn settings_file(&self) -> PathBuf {
        self.root.join("settings.json")
    }

    /// Creates the root and its fixed subdirectories, private to the user (0700 on Unix).
    ///
    /// Existing directories keep their mode: the user may have opened them up on purpose.
    pub fn ensure_dirs(&self) -> Result<(), HomeError> {
        let db_dir = self.root.join("db");
        let terminals_dir = self.root.join("terminals");
        let dirs = [
            self.root.clone(),
            db_dir,
            self.terminal_log_dir(),
            self.agent_store_dir(),
            self.providers_dir(),
            terminals_dir,
        ];
        for dir in &dirs {
            create_private_dir_all(dir)?;
        }
        Ok(())
    }

    /// Returns the server token, creating it on first use (32 random bytes as 64 hex digits).
    ///
    /// The file is created with mode 0600 under a temporary name and hard-linked into place,
    /// so a concurrent reader never sees an empty or partial token and two creators agree on
    /// one winner. An existing token readable by group or others is refused.
    pub fn server_token(&self) -> Result<String, HomeError> {
        let path = self.token_file();
        match read_token(&path) {
            Ok(token) => return Ok(token),
            Err(HomeError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(other) => return Err(other),
        }
        if let Some(parent) = path.parent() {
            create_private_dir_all(parent)?;
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| HomeError::Random(error.to_string()))?;
        let token = hex(&bytes);
        let temp = temp_sibling(&path)?;
        let written = write_new_file(&temp, format!("{token}\n").as_bytes(), 0o600)
            .map_err(io_error(&temp))
            .and_then(|()| fs::hard_link(&temp, &path).map_err(io_error(&path)));
        // Best-effort: the temp name is unique and unused once linked (or not).
        let _ = fs::remove_file(&temp);
        match written {
            Ok(()) => Ok(token),
            // Another process won the race: its token is the one clients will use.
            Err(HomeError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
                read_token(&path)
            }
            Err(other) => Err(other),
        }
    }
}

/// The token a client sends, from a token file: its contents trimmed, `None` when the file is
/// missing, unreadable or empty. Clients never create the token (the server does, in
/// [`CaoHome::server_token`]) and leave judging it to the server, which refuses a wrong one.
pub fn client_token(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty())
}

fn read_token(path: &Path) -> Result<String, HomeError> {
    let metadata = fs::metadata(path).map_err(io_error(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(HomeError::TokenTooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = fs::read_to_string(path).map_err(io_error(path))?;
    let token = text.trim();
    if token.len() != 64 || !token.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(HomeError::TokenMalformed {
            path: path.to_path_buf(),
        });
    }
    Ok(token.to_ascii_lowercase())
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

fn create_private_dir_all(dir: &Path) -> Result<(), HomeError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))
}

/// A fresh, unused name next to `path` for an atomic write.
fn temp_sibling(path: &Path) -> Result<PathBuf, HomeError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|error| HomeError::Random(error.to_string()))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(path.with_file_name(format!(".{name}.tmp-{}", hex(&bytes))))
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Replaces `path` with `contents` atomically (temp file with `mode`, then rename), so readers
/// see the old file or the new one, never a torn one.
pub(crate) fn write_file_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), HomeError> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
    }
    let temp = temp_sibling(path)?;
    let result = write_new_file(&temp, contents, mode)
        .map_err(io_error(&temp))
        .and_then(|()| fs::rename(&temp, path).map_err(io_error(path)));
    if result.is_err() {
        // Best-effort: the write's own error is what the caller needs; the temp name is unique.
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sit_under_the_root() {
        let home = CaoHome::at("/data/cao");
        assert_eq!(home.db_path(), Path::new("/data/cao/db/cao.sqlite3"));
        assert_eq!(
            home.terminal_log("0a1b2c3d"),
            Path::new("/data/cao/logs/terminal/0a1b2c3d.log")
        );
        assert_eq!(home.agent_store_dir(), Path::new("/data/cao/agent-store"));
        assert_eq!(home.providers_dir(), Path::new("/data/cao/providers"));
        assert_eq!(home.env_file(), Path::new("/data/cao/.env"));
        assert_eq!(home.token_file(), Path::new("/data/cao/server.token"));
        assert_eq!(
            home.terminal_config_dir("0a1b2c3d"),
            Path::new("/data/cao/terminals/0a1b2c3d")
        );
        assert_eq!(home.settings_file(), Path::new("/data/cao/settings.json"));
    }

    #[cfg(unix)]
    #[test]
    fn ensure_dirs_creates_private_directories() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let home = CaoHome::at(temp.path().join("home"));
        home.ensure_dirs().unwrap();
        for dir in [
            home.root().to_path_buf(),
            home.terminal_log_dir(),
            home.agent_store_dir(),
        ] {
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
        assert!(home.db_path().parent().unwrap().is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn server_token_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let home = CaoHome::at(temp.path());
        let token = home.server_token().unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|byte| byte.is_ascii_hexdigit()));
        let mode = fs::metadata(home.token_file())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(home.server_token().unwrap(), token);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(temp.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn server_token_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let home = CaoHome::at(temp.path());
        home.server_token().unwrap();
        fs::set_permissions(home.token_file(), fs::Permissions::from_mode(0o644)).unwrap();
        let error = home.server_token().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{0}: the server token is readable by group or others (mode 644); \
                 run `chmod 600 {0}` or delete it to get a new one",
                home.token_file().display()
            )
        );
    }

    #[test]
    fn malformed_token_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let home = CaoHome::at(temp.path());
        write_file_atomic(&home.token_file(), b"short\n", 0o600).unwrap();
        assert!(matches!(
            home.server_token(),
            Err(HomeError::TokenMalformed { .. })
        ));
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("settings.json");
        write_file_atomic(&path, b"one", 0o600).unwrap();
        write_file_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs::read_dir(temp.path()).unwrap().count(), 1);
    }
}
