//! The backend-neutral multiplexer surface the cao orchestrator drives.
//!
//! What lives here: the [`Multiplexer`] trait (create a pane from a [`LaunchSpec`], stamp and
//! find its identity, paste text, send keys, capture the screen, read [`PaneFacts`], kill, list,
//! and a stream of [`PaneEvent`]s), its tmux backend ([`tmux::TmuxMux`], over the control
//! engine of `cao_tmux`), and an in-memory one for tests (`fake::FakeMux`, with the `fake`
//! feature).
//!
//! What does not: anything about agents. The trait was shaped from both tmux's and WezTerm's
//! primitives: panes are named by an opaque [`PaneRef`], groups by a session name (a tmux
//! session, a WezTerm workspace), identity is a set of key/value stamps (tmux pane user options;
//! a backend without them keeps the stamps itself), keys use tmux key names (a backend without
//! key names translates them to bytes), and change events may come from a push stream (tmux
//! `%output`) or from the backend's own polling (WezTerm `get-text`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::broadcast;

#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod process;
pub mod tmux;

/// Whether `name` can name an environment variable: ASCII letters, digits and `_`, not
/// starting with a digit (what a shell accepts, and nothing it would parse).
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a plain word cao may give a session, window or buffer: ASCII letters,
/// digits, `_` and `-`, at least one. tmux changes `.` and `:` in session names and reads a
/// leading `=` or `$` specially; plain words keep every target unambiguous.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `text` as it may be pasted into a pane: the bytes a terminal would act on instead of
/// showing are removed, so pasted text can never leave the paste (`ESC [201~` ends a
/// bracketed paste early; what follows it would be typed as keys) nor act as a key itself.
///
/// The rule: tab and line feed stay; carriage return, alone or before a line feed, becomes a
/// line feed; every other C0 control (NUL, ESC, BEL, backspace, …), DEL and the C1 controls
/// (U+0080–U+009F) are dropped. Everything else, all printable Unicode included, is kept byte
/// for byte.
pub fn paste_text(text: &str) -> std::borrow::Cow<'_, str> {
    let clean = |c: char| c == '\t' || c == '\n' || !(c.is_control());
    if text.chars().all(clean) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() != Some(&'\n') {
                out.push('\n');
            }
        } else if clean(c) {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Captured lines as one text: each line without its trailing spaces and ending with a
/// newline, the form every backend's [`Multiplexer::capture`] returns.
pub(crate) fn screen_text<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.trim_end_matches(' '));
        text.push('\n');
    }
    text
}

/// A pane as its backend names it (`%7` for tmux, `12` for WezTerm). Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PaneRef(pub String);

impl PaneRef {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PaneRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a new pane goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A new session (group) named `session`, with this pane in its first window.
    NewSession,
    /// A new window (tab) in the existing session.
    NewWindow,
}

/// What to run in a new pane, and where.
#[derive(Debug, Clone, Default)]
pub struct LaunchSpec {
    /// The session (tmux session, WezTerm workspace) the pane belongs to.
    pub session: String,
    /// The window (tab) name.
    pub window: String,
    /// The program and its arguments, executed directly (no shell parses them). `None` runs the
    /// backend's default shell.
    pub argv: Option<Vec<String>>,
    /// Environment for the program, on top of the backend's own.
    pub env: Vec<(String, String)>,
    /// Variables removed from what the program inherits from the backend; a name also in
    /// `env` keeps that value.
    pub env_unset: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Columns and rows, when the backend lets the caller choose.
    pub size: Option<(u16, u16)>,
    /// Identity stamps set on the pane before its program can write anything.
    pub identity: BTreeMap<String, String>,
}

/// A pane as listed by its backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaneInfo {
    pub pane: PaneRef,
    pub session: String,
    pub window: String,
    pub identity: BTreeMap<String, String>,
}

/// What the backend knows about a pane's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaneFacts {
    pub pid: Option<u32>,
    /// The foreground command's name (`#{pane_current_command}`), when known.
    pub current_command: Option<String>,
    /// True once the pane's program has exited (the pane stays so its screen can be read).
    pub dead: bool,
    /// The exit status, once known.
    pub exit_status: Option<i32>,
    pub cwd: Option<PathBuf>,
    pub width: u16,
    pub height: u16,
    /// Lines that scrolled off the top into the history (0 for a program on the alternate
    /// screen, which keeps none).
    pub history_size: u32,
}

/// How much of a pane to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureRange {
    /// The visible screen only.
    Visible,
    /// The visible screen and up to this many lines of history above it.
    WithHistory(u32),
    /// Everything the backend kept.
    All,
}

/// Options for a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    pub range: CaptureRange,
    /// Join lines the terminal wrapped, so a long line reads as one.
    pub join_wrapped: bool,
}

impl Capture {
    /// The visible screen as drawn (what a screen classifier reads).
    pub const SCREEN: Capture = Capture {
        range: CaptureRange::Visible,
        join_wrapped: false,
    };
}

/// Something happened to a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneEvent {
    /// The pane's program wrote to its terminal.
    Output(PaneRef),
    /// The pane's program exited (the pane may still be readable).
    Exited(PaneRef),
    /// Events may have been missed (a reconnection), or a pane or window closed: re-read
    /// whatever matters.
    Resync,
    /// The backend server exited or cannot be reached any more: every pane made before is
    /// gone (operations on them fail with [`MuxError::ServerGone`]).
    ServerLost { reason: String },
}

/// The backend's identity and version, for reports and pre-flight checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendInfo {
    pub backend: &'static str,
    pub version: String,
}

/// How the link to the backend stands, for health reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BackendState {
    /// Nothing was needed from the backend yet (no server runs until a pane is made).
    Idle,
    /// Connected; `server` names the backend server instance.
    Connected { server: String },
    /// The backend server exited or the connection to it was lost.
    Lost { server: String, reason: String },
}

/// Why a multiplexer call failed.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{backend} {found} is too old: cao needs {needed} or newer; upgrade it")]
    TooOld {
        backend: &'static str,
        found: String,
        needed: String,
    },
    #[error("session '{0}' already exists")]
    SessionExists(String),
    #[error("session '{0}' does not exist")]
    NoSession(String),
    #[error("pane {0} does not exist")]
    NoPane(PaneRef),
    /// The server (or backend process) the pane lived on is gone, and with it every pane it
    /// had; a pane reference never reaches a pane of a server started since.
    #[error("{0}")]
    ServerGone(String),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("{command} failed: {reason}")]
    Command { command: String, reason: String },
}

/// The surface the orchestrator uses; one implementation per terminal multiplexer.
#[async_trait]
pub trait Multiplexer: Send + Sync {
    /// Checks that the backend can be used and returns its version.
    async fn check(&self) -> Result<BackendInfo, MuxError>;

    /// Creates a pane running `spec.argv`, stamped with `spec.identity`.
    async fn spawn(&self, spec: &LaunchSpec, placement: Placement) -> Result<PaneInfo, MuxError>;

    /// Makes sure events flow for a pane this process did not create (re-adoption after a
    /// restart).
    async fn watch(&self, pane: &PaneRef) -> Result<(), MuxError>;

    /// Every pane of cao's own (hidden panes of the backend's bookkeeping left out).
    async fn list(&self) -> Result<Vec<PaneInfo>, MuxError>;

    /// True when a session of that name exists.
    async fn session_exists(&self, session: &str) -> Result<bool, MuxError>;

    /// Pastes `text` into the pane, byte for byte (bracketed when `bracketed` and the program
    /// asked for it).
    async fn paste(&self, pane: &PaneRef, text: &str, bracketed: bool) -> Result<(), MuxError>;

    /// Stages `text` in the named buffer, to be pasted later by [`Multiplexer::paste_staged`].
    ///
    /// Staging and pasting are two steps so that a caller can record in between that a
    /// delivery is under way: the buffer survives a crash of the caller, and whether it still
    /// exists ([`Multiplexer::has_staged`]) tells afterwards whether the paste happened.
    async fn stage(&self, name: &str, text: &str) -> Result<(), MuxError>;

    /// Pastes the named staged buffer into the pane and deletes it, in one step of the
    /// multiplexer (the buffer is gone if and only if the paste happened).
    async fn paste_staged(
        &self,
        pane: &PaneRef,
        name: &str,
        bracketed: bool,
    ) -> Result<(), MuxError>;

    /// Whether the named staged buffer still exists.
    async fn has_staged(&self, name: &str) -> Result<bool, MuxError>;

    /// Deletes the named staged buffer; a missing one is not an error.
    async fn drop_staged(&self, name: &str) -> Result<(), MuxError>;

    /// Sends keys by tmux key name (`Enter`, `C-c`, `Escape`, `Up`, `y`, …).
    async fn send_keys(&self, pane: &PaneRef, keys: &[String]) -> Result<(), MuxError>;

    /// The pane's text, trailing spaces of each line trimmed.
    async fn capture(&self, pane: &PaneRef, capture: Capture) -> Result<String, MuxError>;

    /// The pane's process facts.
    async fn facts(&self, pane: &PaneRef) -> Result<PaneFacts, MuxError>;

    /// Ends the pane's whole process tree, then removes the pane (and its window when it was
    /// the last pane).
    async fn kill_pane(&self, pane: &PaneRef) -> Result<(), MuxError>;

    /// Removes a whole session and ends every process tree in it.
    async fn kill_session(&self, session: &str) -> Result<(), MuxError>;

    /// Events about panes. Receivers that lag get `Resync` semantics by seeing
    /// `RecvError::Lagged`, and should treat it like [`PaneEvent::Resync`].
    fn events(&self) -> broadcast::Receiver<PaneEvent>;

    /// How the link to the backend stands now (no I/O).
    fn state(&self) -> BackendState;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pasted_text_keeps_words_and_lines_and_drops_what_a_terminal_acts_on() {
        assert_eq!(
            paste_text("plain ✓ text\tand\nlines"),
            "plain ✓ text\tand\nlines"
        );
        assert!(matches!(paste_text("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(paste_text("a\u{1b}[201~b"), "a[201~b");
        assert_eq!(paste_text("a\r\nb\rc"), "a\nb\nc");
        assert_eq!(paste_text("x\u{0}\u{3}\u{7}\u{8}\u{7f}\u{9b}y"), "xy");
    }

    proptest! {
        #[test]
        fn pasted_text_never_carries_a_control_byte(text in any::<String>()) {
            let pasted = paste_text(&text);
            prop_assert!(pasted.chars().all(|c| c == '\t' || c == '\n' || !c.is_control()));
            let again = paste_text(&pasted).into_owned();
            prop_assert_eq!(again.as_str(), pasted.as_ref());
            let kept: String = text.chars().filter(|c| !c.is_control()).collect();
            let shown: String = pasted.chars().filter(|c| !c.is_control()).collect();
            prop_assert_eq!(kept, shown);
        }
    }
}
