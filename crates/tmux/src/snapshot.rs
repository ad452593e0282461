//! Snapshots: the whole server tree (sessions → windows → panes) from one
//! `list-panes -a -F` [`SNAPSHOT_FORMAT`] read.

use serde::{Deserialize, Serialize};

use crate::command::TmuxCommand;
use crate::engine::{Engine, EngineError};
use crate::ids::{PaneId, SessionId, WindowId};
use crate::ops::result::{PaneRow, RowError, PANE_FORMAT};

/// The format of a snapshot read: the same fields as [`PaneRow`] (`list_panes` rows).
pub const SNAPSHOT_FORMAT: &str = PANE_FORMAT;

/// The one command a snapshot needs.
pub fn snapshot_command() -> TmuxCommand {
    TmuxCommand::new(["list-panes", "-a", "-F", SNAPSHOT_FORMAT])
}

/// Why a snapshot could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("list-panes failed: {0}")]
    Failed(String),
}

/// Every session on a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Ordered by session id.
    pub sessions: Vec<SessionSnapshot>,
}

/// One session and its windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    pub id: SessionId,
    pub name: String,
    /// Number of attached clients.
    pub attached: u32,
    /// Ordered by window index.
    pub windows: Vec<WindowSnapshot>,
}

/// One window and its panes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSnapshot {
    pub id: WindowId,
    pub index: u32,
    pub name: String,
    pub active: bool,
    pub width: u32,
    pub height: u32,
    pub layout: String,
    /// Ordered by pane index.
    pub panes: Vec<PaneSnapshot>,
}

/// One pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneSnapshot {
    pub id: PaneId,
    pub index: u32,
    pub active: bool,
    pub width: u32,
    pub height: u32,
    pub pid: Option<u32>,
    pub current_command: String,
    pub current_path: String,
    pub dead: bool,
    pub dead_status: Option<i32>,
    pub title: String,
}

impl Snapshot {
    /// Builds a snapshot from the lines of a [`snapshot_command`] reply.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Snapshot, SnapshotError> {
        let rows = lines
            .iter()
            .map(AsRef::as_ref)
            .filter(|line| !line.is_empty())
            .map(PaneRow::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Snapshot::from_rows(rows))
    }

    /// Builds a snapshot from `list_panes` rows. A window linked into several sessions appears
    /// under each of them.
    pub fn from_rows(rows: impl IntoIterator<Item = PaneRow>) -> Snapshot {
        let mut rows: Vec<PaneRow> = rows.into_iter().collect();
        rows.sort_by_key(|row| (row.session_id, row.window_index, row.index));
        let mut sessions: Vec<SessionSnapshot> = Vec::new();
        for row in rows {
            if sessions.last().is_none_or(|s| s.id != row.session_id) {
                sessions.push(SessionSnapshot {
                    id: row.session_id,
                    name: row.session_name.clone(),
                    attached: row.session_attached,
                    windows: Vec::new(),
                });
            }
            let Some(session) = sessions.last_mut() else {
                continue; // unreachable: pushed just above when missing
            };
            if session
                .windows
                .last()
                .is_none_or(|w| w.index != row.window_index)
            {
                session.windows.push(WindowSnapshot {
                    id: row.window_id,
                    index: row.window_index,
                    name: row.window_name.clone(),
                    active: row.window_active,
                    width: row.window_width,
                    height: row.window_height,
                    layout: row.window_layout.clone(),
                    panes: Vec::new(),
                });
            }
            if let Some(window) = session.windows.last_mut() {
                window.panes.push(PaneSnapshot {
                    id: row.id,
                    index: row.index,
                    active: row.active,
                    width: row.width,
                    height: row.height,
                    pid: row.pid,
                    current_command: row.current_command,
                    current_path: row.current_path,
                    dead: row.dead,
                    dead_status: row.dead_status,
                    title: row.title,
                });
            }
        }
        Snapshot { sessions }
    }

    /// The session with exactly this name.
    pub fn find_session(&self, name: &str) -> Option<&SessionSnapshot> {
        self.sessions.iter().find(|session| session.name == name)
    }

    /// A pane with its window and session.
    pub fn pane(&self, id: PaneId) -> Option<(&SessionSnapshot, &WindowSnapshot, &PaneSnapshot)> {
        self.sessions.iter().find_map(|session| {
            session.windows.iter().find_map(|window| {
                window
                    .panes
                    .iter()
                    .find(|pane| pane.id == id)
                    .map(|pane| (session, window, pane))
            })
        })
    }

    /// The snapshot without the named session (e.g. an engine's own hidden control session).
    pub fn without_session(mut self, name: &str) -> Snapshot {
        self.sessions.retain(|session| session.name != name);
        self
    }

    /// Every pane, in order.
    pub fn panes(&self) -> impl Iterator<Item = &PaneSnapshot> {
        self.sessions
            .iter()
            .flat_map(|s| s.windows.iter().flat_map(|w| w.panes.iter()))
    }
}

/// Reads the whole tree of the engine's server with one command. No server (or no sessions)
/// is reported by tmux as an error, which this returns as [`SnapshotError::Failed`].
pub async fn take_snapshot<E: Engine + ?Sized>(engine: &E) -> Result<Snapshot, SnapshotError> {
    let output = engine.execute(snapshot_command()).await?;
    if !output.succeeded() {
        return Err(SnapshotError::Failed(output.error_text()));
    }
    Snapshot::parse(&output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        fields.join("\u{1f}")
    }

    fn pane_line(
        session: &str,
        name: &str,
        window: &str,
        index: &str,
        pane: &str,
        pane_index: &str,
    ) -> String {
        line(&[
            session,
            name,
            "1",
            window,
            index,
            "my window",
            "1",
            "80",
            "24",
            "b25d,80x24,0,0,0",
            pane,
            pane_index,
            "1",
            "80",
            "24",
            "4242",
            "bash",
            "/home/u",
            "0",
            "",
            "title; x",
        ])
    }

    #[test]
    fn builds_an_ordered_tree_from_one_read() {
        let lines = vec![
            pane_line("$2", "b", "@5", "1", "%7", "0"),
            pane_line("$0", "a b\tc", "@1", "2", "%3", "1"),
            pane_line("$0", "a b\tc", "@0", "0", "%0", "0"),
            pane_line("$0", "a b\tc", "@1", "2", "%2", "0"),
            String::new(),
        ];
        let snapshot = Snapshot::parse(&lines).unwrap();
        assert_eq!(snapshot.sessions.len(), 2);
        let first = &snapshot.sessions[0];
        assert_eq!(first.id, SessionId(0));
        assert_eq!(first.name, "a b\tc");
        assert_eq!(
            first.windows.iter().map(|w| w.index).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(
            first.windows[1]
                .panes
                .iter()
                .map(|p| p.id)
                .collect::<Vec<_>>(),
            [PaneId(2), PaneId(3)]
        );
        assert_eq!(first.windows[1].panes[0].pid, Some(4242));
        assert_eq!(first.windows[1].panes[0].dead_status, None);
        assert!(snapshot.find_session("b").is_some());
        let (session, window, pane) = snapshot.pane(PaneId(7)).unwrap();
        assert_eq!(
            (session.name.as_str(), window.id, pane.title.as_str()),
            ("b", WindowId(5), "title; x")
        );
        assert_eq!(snapshot.clone().without_session("b").sessions.len(), 1);
        assert_eq!(snapshot.panes().count(), 4);
        let json = serde_json::to_string(&snapshot).unwrap();
        assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), snapshot);
    }

    #[test]
    fn a_bad_row_is_an_error() {
        assert!(Snapshot::parse(&["$0\u{1f}a"]).is_err());
        assert_eq!(snapshot_command().argv[..3], ["list-panes", "-a", "-F"]);
    }
}
