//! Results: what an operation's reply means — status, typed payload (new ids, lines, list
//! rows, options) — and the `-F` formats list operations render to get parseable rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::CommandOutput;
use crate::ids::{PaneId, SessionId, WindowId};

use super::target::TargetKind;
use super::{Operation, FIELD_SEPARATOR};

/// `#{a}<US>#{b}…`: formats whose fields are joined by [`FIELD_SEPARATOR`].
macro_rules! unit_separated {
    ($first:literal $(, $rest:literal)* $(,)?) => {
        concat!("#{", $first, "}" $(, "\u{1f}#{", $rest, "}")*)
    };
}

/// The `-F` format of `list-sessions`: one [`SessionRow`] per line.
pub const SESSION_FORMAT: &str = unit_separated!(
    "session_id",
    "session_name",
    "session_windows",
    "session_attached",
    "session_created",
);

/// The `-F` format of `list-windows`: one [`WindowRow`] per line.
pub const WINDOW_FORMAT: &str = unit_separated!(
    "session_id",
    "session_name",
    "window_id",
    "window_index",
    "window_name",
    "window_active",
    "window_panes",
    "window_width",
    "window_height",
    "window_layout",
);

/// The `-F` format of `list-panes`: one [`PaneRow`] per line, with the pane's session and
/// window, so a whole [`crate::snapshot::Snapshot`] comes from one read.
pub const PANE_FORMAT: &str = unit_separated!(
    "session_id",
    "session_name",
    "session_attached",
    "window_id",
    "window_index",
    "window_name",
    "window_active",
    "window_width",
    "window_height",
    "window_layout",
    "pane_id",
    "pane_index",
    "pane_active",
    "pane_width",
    "pane_height",
    "pane_pid",
    "pane_current_command",
    "pane_current_path",
    "pane_dead",
    "pane_dead_status",
    "pane_title",
);

/// The `-F` format of `list-clients`: one [`ClientRow`] per line.
pub const CLIENT_FORMAT: &str = unit_separated!(
    "client_name",
    "client_session",
    "client_tty",
    "client_width",
    "client_height",
);

/// The `-F` format of `list-buffers`: one [`BufferRow`] per line.
pub const BUFFER_FORMAT: &str = unit_separated!("buffer_name", "buffer_size");

/// Whether the command did what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// It succeeded and its output, if any, was understood.
    Complete,
    /// tmux reported an error (non-zero exit or error text).
    Failed,
    /// tmux reported success but the output could not be read (e.g. a creator's id line is
    /// missing); the state of the server should be checked.
    Unknown,
}

/// The ids a creator printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewIds {
    pub session: SessionId,
    pub window: WindowId,
    pub pane: PaneId,
}

impl NewIds {
    /// Reads a line printed with [`super::ID_CAPTURE_FORMAT`].
    pub fn parse(line: &str) -> Option<NewIds> {
        let mut words = line.split(' ');
        let ids = NewIds {
            session: words.next()?.parse().ok()?,
            window: words.next()?.parse().ok()?,
            pane: words.next()?.parse().ok()?,
        };
        words.next().is_none().then_some(ids)
    }
}

/// One session, from [`SESSION_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: SessionId,
    pub name: String,
    /// Number of windows.
    pub windows: u32,
    /// Number of attached clients.
    pub attached: u32,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
}

/// One window, from [`WINDOW_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRow {
    pub session_id: SessionId,
    pub session_name: String,
    pub id: WindowId,
    pub index: u32,
    pub name: String,
    pub active: bool,
    /// Number of panes.
    pub panes: u32,
    pub width: u32,
    pub height: u32,
    pub layout: String,
}

/// One pane with its window and session, from [`PANE_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneRow {
    pub session_id: SessionId,
    pub session_name: String,
    /// Number of clients attached to the session.
    pub session_attached: u32,
    pub window_id: WindowId,
    pub window_index: u32,
    pub window_name: String,
    pub window_active: bool,
    pub window_width: u32,
    pub window_height: u32,
    pub window_layout: String,
    pub id: PaneId,
    pub index: u32,
    pub active: bool,
    pub width: u32,
    pub height: u32,
    /// The pane's process id, when tmux reports one.
    pub pid: Option<u32>,
    pub current_command: String,
    pub current_path: String,
    /// Whether the pane's process has exited (with `remain-on-exit`).
    pub dead: bool,
    /// The exit status of a dead pane's process.
    pub dead_status: Option<i32>,
    pub title: String,
    /// The user options `list_panes` was asked for (`user_options`), by name without the
    /// `@`; an option the pane does not have reads as empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_options: BTreeMap<String, String>,
}

/// One client, from [`CLIENT_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRow {
    pub name: String,
    /// The name of its session.
    pub session: String,
    pub tty: String,
    pub width: u32,
    pub height: u32,
}

/// One paste buffer, from [`BUFFER_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferRow {
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a row could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable {what} row {line:?}: {reason}")]
pub struct RowError {
    pub what: &'static str,
    pub line: String,
    pub reason: String,
}

/// The fields of one row, with typed readers that name the field on failure.
struct Fields<'a> {
    what: &'static str,
    line: &'a str,
    parts: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    fn split(what: &'static str, line: &'a str, count: usize) -> Result<Self, RowError> {
        let parts: Vec<&str> = line.split(FIELD_SEPARATOR).collect();
        let fields = Fields { what, line, parts };
        if fields.parts.len() != count {
            return Err(fields.error(format!(
                "expected {count} fields, found {}",
                fields.parts.len()
            )));
        }
        Ok(fields)
    }

    fn error(&self, reason: String) -> RowError {
        RowError {
            what: self.what,
            line: self.line.to_string(),
            reason,
        }
    }

    fn text(&self, index: usize) -> String {
        self.parts[index].to_string()
    }

    fn parse<T: std::str::FromStr>(&self, index: usize, name: &str) -> Result<T, RowError> {
        self.parts[index]
            .parse()
            .map_err(|_| self.error(format!("{name} {:?} is not valid", self.parts[index])))
    }

    fn optional<T: std::str::FromStr>(
        &self,
        index: usize,
        name: &str,
    ) -> Result<Option<T>, RowError> {
        if self.parts[index].is_empty() {
            Ok(None)
        } else {
            self.parse(index, name).map(Some)
        }
    }

    fn flag(&self, index: usize, name: &str) -> Result<bool, RowError> {
        match self.parts[index] {
            "1" => Ok(true),
            "0" | "" => Ok(false),
            other => Err(self.error(format!("{name} {other:?} is not 0 or 1"))),
        }
    }
}

impl SessionRow {
    /// Reads a line printed with [`SESSION_FORMAT`].
    pub fn parse(line: &str) -> Result<Self, RowError> {
        let f = Fields::split("session", line, 5)?;
        Ok(SessionRow {
            id: f.parse(0, "session_id")?,
            name: f.text(1),
            windows: f.parse(2, "session_windows")?,
            attached: f.parse(3, "session_attached")?,
            created: f.parse(4, "session_created")?,
        })
    }
}

impl WindowRow {
    /// Reads a line printed with [`WINDOW_FORMAT`].
    pub fn parse(line: &str) -> Result<Self, RowError> {
        let f = Fields::split("window", line, 10)?;
        Ok(WindowRow {
            session_id: f.parse(0, "session_id")?,
            session_name: f.text(1),
            id: f.parse(2, "window_id")?,
            index: f.parse(3, "window_index")?,
            name: f.text(4),
            active: f.flag(5, "window_active")?,
            panes: f.parse(6, "window_panes")?,
            width: f.parse(7, "window_width")?,
            height: f.parse(8, "window_height")?,
            layout: f.text(9),
        })
    }
}

impl PaneRow {
    /// Reads a line printed with [`PANE_FORMAT`].
    pub fn parse(line: &str) -> Result<Self, RowError> {
        Self::parse_with_options(line, &[])
    }

    /// Reads a line printed with [`PANE_FORMAT`] followed by the user options `names` (see
    /// [`super::ListPanes::user_options`]).
    pub fn parse_with_options(line: &str, names: &[String]) -> Result<Self, RowError> {
        let f = Fields::split("pane", line, 21 + names.len())?;
        let user_options = names
            .iter()
            .enumerate()
            .map(|(index, name)| (name.clone(), f.text(21 + index)))
            .collect();
        Ok(PaneRow {
            session_id: f.parse(0, "session_id")?,
            session_name: f.text(1),
            session_attached: f.parse(2, "session_attached")?,
            window_id: f.parse(3, "window_id")?,
            window_index: f.parse(4, "window_index")?,
            window_name: f.text(5),
            window_active: f.flag(6, "window_active")?,
            window_width: f.parse(7, "window_width")?,
            window_height: f.parse(8, "window_height")?,
            window_layout: f.text(9),
            id: f.parse(10, "pane_id")?,
            index: f.parse(11, "pane_index")?,
            active: f.flag(12, "pane_active")?,
            width: f.parse(13, "pane_width")?,
            height: f.parse(14, "pane_height")?,
            pid: f.optional(15, "pane_pid")?,
            current_command: f.text(16),
            current_path: f.text(17),
            dead: f.flag(18, "pane_dead")?,
            dead_status: f.optional(19, "pane_dead_status")?,
            title: f.text(20),
            user_options,
        })
    }
}

impl BufferRow {
    /// Reads a line printed with [`BUFFER_FORMAT`].
    pub fn parse(line: &str) -> Result<Self, RowError> {
        let f = Fields::split("buffer", line, 2)?;
        Ok(BufferRow {
            name: f.text(0),
            size: f.parse(1, "buffer_size")?,
        })
    }
}

impl ClientRow {
    /// Reads a line printed with [`CLIENT_FORMAT`].
    pub fn parse(line: &str) -> Result<Self, RowError> {
        let f = Fields::split("client", line, 5)?;
        Ok(ClientRow {
            name: f.text(0),
            session: f.text(1),
            tty: f.text(2),
            width: f.parse(3, "client_width")?,
            height: f.parse(4, "client_height")?,
        })
    }
}

/// What a result carries, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// Nothing to report (and every failed result).
    None,
    /// A creator's new ids.
    NewIds(NewIds),
    /// Output lines: capture_pane, show_buffer, display_message.
    Lines(Vec<String>),
    /// list_sessions rows.
    Sessions(Vec<SessionRow>),
    /// list_windows rows.
    Windows(Vec<WindowRow>),
    /// list_panes rows.
    Panes(Vec<PaneRow>),
    /// list_clients rows.
    Clients(Vec<ClientRow>),
    /// list_buffers rows.
    Buffers(Vec<BufferRow>),
    /// show_options `(name, value)` pairs.
    Options(Vec<(String, String)>),
    /// run_shell output, lines joined with `\n`.
    Text(String),
    /// has_session's answer.
    Exists(bool),
}

/// An operation's outcome: status, typed payload and the raw output it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    pub status: ResultStatus,
    pub payload: Payload,
    pub output: CommandOutput,
}

/// What a failed command's error means, as far as a caller needs to act on it. tmux reports
/// errors only as English text; this is the one place that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The session, window, pane or client named does not exist (`can't find …`); the kind
    /// when tmux says which.
    NotFound(Option<TargetKind>),
    /// A session of that name exists already (`duplicate session`).
    DuplicateSession,
    /// No server runs on the socket (`no server running`).
    NoServer,
    /// Anything else: the error text says what.
    Other,
}

impl Failure {
    /// Classifies a failed command's output; `None` when it succeeded.
    pub fn of(output: &CommandOutput) -> Option<Failure> {
        if output.succeeded() {
            return None;
        }
        let text = output.error_text();
        let failure = if let Some(rest) = text.split("can't find ").nth(1) {
            let kind = [
                ("session", TargetKind::Session),
                ("window", TargetKind::Window),
                ("pane", TargetKind::Pane),
                ("client", TargetKind::Client),
            ]
            .into_iter()
            .find(|(word, _)| rest.starts_with(word))
            .map(|(_, kind)| kind);
            Failure::NotFound(kind)
        } else if text.contains("duplicate session") {
            Failure::DuplicateSession
        } else if text.contains("no server running") {
            Failure::NoServer
        } else {
            Failure::Other
        };
        Some(failure)
    }
}

impl OpResult {
    /// What the failure means, for a result whose status is `failed`.
    pub fn failure(&self) -> Option<Failure> {
        match self.status {
            ResultStatus::Failed => Failure::of(&self.output),
            _ => None,
        }
    }
}

fn rows<T>(lines: &[String], parse: fn(&str) -> Result<T, RowError>) -> Result<Vec<T>, RowError> {
    lines
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| parse(line))
        .collect()
}

/// Reads `show-options` lines: `name value`, with a double-quoted value unquoted.
pub fn parse_option_lines(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(' ') {
            Some((name, value)) => (name.to_string(), unquote_option_value(value)),
            None => (line.clone(), String::new()),
        })
        .collect()
}

fn unquote_option_value(value: &str) -> String {
    let quoted = value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    if !quoted {
        return value.to_string();
    }
    let inner = &value[1..value.len() - 1];
    let mut text = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            if let Some(escaped) = characters.next() {
                text.push(escaped);
            }
        } else {
            text.push(character);
        }
    }
    text
}

impl Operation {
    /// What `output` (this operation's reply) means.
    ///
    /// Failed when the exit code is non-zero or error text was written — except for
    /// `has_session`, whose exit code is the answer ([`Payload::Exists`], always complete).
    pub fn parse_result(&self, output: &CommandOutput) -> OpResult {
        let result = |status, payload| OpResult {
            status,
            payload,
            output: output.clone(),
        };
        if let Operation::HasSession(_) = self {
            return result(
                ResultStatus::Complete,
                Payload::Exists(output.exit_code == 0),
            );
        }
        if !output.succeeded() {
            return result(ResultStatus::Failed, Payload::None);
        }
        let parsed: Result<Payload, ()> = match self {
            _ if self.spec().captures_ids => output
                .stdout
                .iter()
                .find_map(|line| NewIds::parse(line.trim_end()))
                .map(Payload::NewIds)
                .ok_or(()),
            Operation::CapturePane(_) | Operation::ShowBuffer(_) | Operation::DisplayMessage(_) => {
                Ok(Payload::Lines(output.stdout.clone()))
            }
            Operation::ListSessions(_) => rows(&output.stdout, SessionRow::parse)
                .map(Payload::Sessions)
                .map_err(drop),
            Operation::ListWindows(_) => rows(&output.stdout, WindowRow::parse)
                .map(Payload::Windows)
                .map_err(drop),
            Operation::ListPanes(op) => output
                .stdout
                .iter()
                .filter(|line| !line.is_empty())
                .map(|line| PaneRow::parse_with_options(line, &op.user_options))
                .collect::<Result<Vec<_>, _>>()
                .map(Payload::Panes)
                .map_err(drop),
            Operation::ListClients(_) => rows(&output.stdout, ClientRow::parse)
                .map(Payload::Clients)
                .map_err(drop),
            Operation::ListBuffers(_) => rows(&output.stdout, BufferRow::parse)
                .map(Payload::Buffers)
                .map_err(drop),
            Operation::ShowOptions(_) => Ok(Payload::Options(parse_option_lines(&output.stdout))),
            Operation::RunShell(_) => Ok(Payload::Text(output.stdout.join("\n"))),
            _ => Ok(Payload::None),
        };
        match parsed {
            Ok(payload) => result(ResultStatus::Complete, payload),
            Err(()) => result(ResultStatus::Unknown, Payload::None),
        }
    }
}
