//! The `terminals` table: one row per agent terminal, live or exited.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{decode_json, expect_changed, now_rfc3339, Store, StoreError};
use crate::TerminalStatus;

/// What the caller knows when it creates a terminal; the store adds status and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTerminal {
    /// 8 lowercase hex characters (`CAO_TERMINAL_ID`).
    pub id: String,
    /// The multiplexer session (`cao-<name>`).
    pub session_name: String,
    /// The window (`<profile>-<4hex>`).
    pub window_name: String,
    /// The backend's pane id (`%7`), once the pane exists.
    pub pane_ref: Option<String>,
    /// The provider pack name (`claude_code`, `codex`…).
    pub provider: String,
    /// The agent profile name.
    pub agent_profile: String,
    /// Where the agent runs.
    pub working_directory: Option<String>,
    /// The terminal that created this one (the supervisor), if any.
    pub creator_id: Option<String>,
    /// The tools the agent may use; `None` when unrestricted by the caller.
    pub allowed_tools: Option<Vec<String>>,
}

/// A stored terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TerminalRow {
    /// 8 lowercase hex characters.
    pub id: String,
    /// The multiplexer session.
    pub session_name: String,
    /// The window.
    pub window_name: String,
    /// The backend's pane id.
    pub pane_ref: Option<String>,
    /// The provider pack name.
    pub provider: String,
    /// The agent profile name.
    pub agent_profile: String,
    /// Where the agent runs.
    pub working_directory: Option<String>,
    /// The terminal that created this one.
    pub creator_id: Option<String>,
    /// The tools the agent may use.
    pub allowed_tools: Option<Vec<String>>,
    /// The last status the status engine recorded.
    pub status: TerminalStatus,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// When the terminal was deleted or its CLI exited.
    pub exited_at: Option<String>,
    /// Why (`deleted`, `exited`, `killed`…).
    pub exit_reason: Option<String>,
}

/// A session and how many live terminals it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The session name.
    pub session_name: String,
    /// Live (not exited) terminals in it.
    pub terminal_count: u32,
    /// When its oldest live terminal was created.
    pub created_at: String,
}

const COLUMNS: &str = "id, session_name, window_name, pane_ref, provider, agent_profile, \
    working_directory, creator_id, allowed_tools, status, created_at, updated_at, exited_at, \
    exit_reason";

struct RawTerminal {
    row: TerminalRow,
    allowed_tools: Option<String>,
    status: String,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<RawTerminal> {
    Ok(RawTerminal {
        row: TerminalRow {
            id: row.get(0)?,
            session_name: row.get(1)?,
            window_name: row.get(2)?,
            pane_ref: row.get(3)?,
            provider: row.get(4)?,
            agent_profile: row.get(5)?,
            working_directory: row.get(6)?,
            creator_id: row.get(7)?,
            allowed_tools: None,
            status: TerminalStatus::Unknown,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
            exited_at: row.get(12)?,
            exit_reason: row.get(13)?,
        },
        allowed_tools: row.get(8)?,
        status: row.get(9)?,
    })
}

fn finish(raw: RawTerminal) -> Result<TerminalRow, StoreError> {
    let mut row = raw.row;
    row.allowed_tools = raw
        .allowed_tools
        .map(|text| decode_json("terminals.allowed_tools", &text))
        .transpose()?;
    row.status = TerminalStatus::parse(&raw.status).ok_or_else(|| StoreError::Corrupt {
        what: "terminals.status",
        detail: format!("unknown status '{}'", raw.status),
    })?;
    Ok(row)
}

impl Store {
    /// Records a new terminal with status `unknown`.
    pub fn insert_terminal(&self, terminal: &NewTerminal) -> Result<TerminalRow, StoreError> {
        let now = now_rfc3339();
        let allowed_tools = terminal
            .allowed_tools
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|error| StoreError::Corrupt {
                what: "terminals.allowed_tools",
                detail: error.to_string(),
            })?;
        self.lock().execute(
            &format!("INSERT INTO terminals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, NULL, NULL)"),
            params![
                terminal.id,
                terminal.session_name,
                terminal.window_name,
                terminal.pane_ref,
                terminal.provider,
                terminal.agent_profile,
                terminal.working_directory,
                terminal.creator_id,
                allowed_tools,
                TerminalStatus::Unknown.as_str(),
                now,
            ],
        )?;
        self.get_terminal(&terminal.id)?
            .ok_or_else(|| StoreError::NotFound {
                what: "terminal",
                key: terminal.id.clone(),
            })
    }

    /// The terminal `id`, live or exited.
    pub fn get_terminal(&self, id: &str) -> Result<Option<TerminalRow>, StoreError> {
        let raw = self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM terminals WHERE id = ?1"),
                [id],
                read_row,
            )
            .optional()?;
        raw.map(finish).transpose()
    }

    /// Live terminals (not exited), oldest first.
    pub fn list_terminals(&self) -> Result<Vec<TerminalRow>, StoreError> {
        self.query_terminals(
            &format!(
                "SELECT {COLUMNS} FROM terminals WHERE exited_at IS NULL \
                 ORDER BY created_at, rowid"
            ),
            &[],
        )
    }

    /// Live terminals of `session_name`, oldest first: the first is the conductor.
    pub fn list_terminals_by_session(
        &self,
        session_name: &str,
    ) -> Result<Vec<TerminalRow>, StoreError> {
        self.query_terminals(
            &format!(
                "SELECT {COLUMNS} FROM terminals WHERE session_name = ?1 AND exited_at IS NULL \
                 ORDER BY created_at, rowid"
            ),
            &[&session_name],
        )
    }

    fn query_terminals(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<TerminalRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(sql)?;
        let raws = statement
            .query_map(params, read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Records a status change.
    pub fn update_terminal_status(
        &self,
        id: &str,
        status: TerminalStatus,
    ) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE terminals SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, status.as_str(), now_rfc3339()],
        )?;
        expect_changed(changed, "terminal", id)
    }

    /// Records the backend pane id once the pane exists (or after re-adoption).
    pub fn set_terminal_pane(&self, id: &str, pane_ref: &str) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE terminals SET pane_ref = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, pane_ref, now_rfc3339()],
        )?;
        expect_changed(changed, "terminal", id)
    }

    /// Marks a terminal as gone, keeping its row (its inbox and history stay readable).
    pub fn mark_terminal_exited(&self, id: &str, reason: &str) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let changed = self.lock().execute(
            "UPDATE terminals SET exited_at = COALESCE(exited_at, ?2), \
             exit_reason = COALESCE(exit_reason, ?3), updated_at = ?2 WHERE id = ?1",
            params![id, now, reason],
        )?;
        expect_changed(changed, "terminal", id)
    }

    /// Brings an exited terminal back under the same id in a new window: live again, status
    /// `unknown`, no pane until the caller sets one.
    pub fn revive_terminal(&self, id: &str, window_name: &str) -> Result<TerminalRow, StoreError> {
        let changed = self.lock().execute(
            "UPDATE terminals SET exited_at = NULL, exit_reason = NULL, window_name = ?2, \
             pane_ref = NULL, status = 'unknown', updated_at = ?3 WHERE id = ?1",
            params![id, window_name, now_rfc3339()],
        )?;
        expect_changed(changed, "terminal", id)?;
        self.get_terminal(id)?.ok_or_else(|| StoreError::NotFound {
            what: "terminal",
            key: id.to_string(),
        })
    }

    /// Deletes a terminal row; its inbox goes with it and terminals it created lose their
    /// creator (foreign keys).
    pub fn delete_terminal(&self, id: &str) -> Result<(), StoreError> {
        let changed = self
            .lock()
            .execute("DELETE FROM terminals WHERE id = ?1", [id])?;
        expect_changed(changed, "terminal", id)
    }

    /// Sessions with live terminals, oldest first, with their terminal counts.
    pub fn sessions(&self) -> Result<Vec<SessionSummary>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT session_name, COUNT(*), MIN(created_at) FROM terminals \
             WHERE exited_at IS NULL GROUP BY session_name ORDER BY MIN(created_at), session_name",
        )?;
        let sessions = statement
            .query_map([], |row| {
                Ok(SessionSummary {
                    session_name: row.get(0)?,
                    terminal_count: row.get(1)?,
                    created_at: row.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(sessions)
    }
}
