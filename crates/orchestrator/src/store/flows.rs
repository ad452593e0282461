//! The `flows` table: scheduled agent runs (`cao schedule` / `cao flow`).

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{expect_changed, Store, StoreError};

/// A stored flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRow {
    /// Unique name; its runs use the session `cao-flow-<name>`.
    pub name: String,
    /// A 5-field cron expression.
    pub schedule: String,
    /// The profile each run launches.
    pub agent_profile: String,
    /// A provider override.
    pub provider: Option<String>,
    /// An optional gate script deciding whether a run happens.
    pub script: Option<String>,
    /// The prompt template (`[[var]]` placeholders).
    pub prompt: String,
    /// Whether the scheduler runs it.
    pub enabled: bool,
    /// RFC 3339 UTC of the last run.
    pub last_run_at: Option<String>,
    /// RFC 3339 UTC of the next planned run.
    pub next_run_at: Option<String>,
}

const COLUMNS: &str =
    "name, schedule, agent_profile, provider, script, prompt, enabled, last_run_at, next_run_at";

fn read_row(row: &Row<'_>) -> rusqlite::Result<FlowRow> {
    Ok(FlowRow {
        name: row.get(0)?,
        schedule: row.get(1)?,
        agent_profile: row.get(2)?,
        provider: row.get(3)?,
        script: row.get(4)?,
        prompt: row.get(5)?,
        enabled: row.get(6)?,
        last_run_at: row.get(7)?,
        next_run_at: row.get(8)?,
    })
}

impl Store {
    /// Adds a flow; a flow of the same name is a `Constraint` error.
    pub fn insert_flow(&self, flow: &FlowRow) -> Result<(), StoreError> {
        self.lock().execute(
            &format!("INSERT INTO flows ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                flow.name,
                flow.schedule,
                flow.agent_profile,
                flow.provider,
                flow.script,
                flow.prompt,
                flow.enabled,
                flow.last_run_at,
                flow.next_run_at
            ],
        )?;
        Ok(())
    }

    /// The flow `name`.
    pub fn get_flow(&self, name: &str) -> Result<Option<FlowRow>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM flows WHERE name = ?1"),
                [name],
                read_row,
            )
            .optional()?)
    }

    /// Every flow, by name.
    pub fn list_flows(&self) -> Result<Vec<FlowRow>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare(&format!("SELECT {COLUMNS} FROM flows ORDER BY name"))?;
        let flows = statement
            .query_map([], read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(flows)
    }

    /// Enables or disables a flow.
    pub fn update_flow_enabled(&self, name: &str, enabled: bool) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE flows SET enabled = ?2 WHERE name = ?1",
            params![name, enabled],
        )?;
        expect_changed(changed, "flow", name)
    }

    /// Records a run and the next planned one.
    pub fn update_flow_runs(
        &self,
        name: &str,
        last_run_at: Option<&str>,
        next_run_at: Option<&str>,
    ) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE flows SET last_run_at = ?2, next_run_at = ?3 WHERE name = ?1",
            params![name, last_run_at, next_run_at],
        )?;
        expect_changed(changed, "flow", name)
    }

    /// Removes a flow.
    pub fn delete_flow(&self, name: &str) -> Result<(), StoreError> {
        let changed = self
            .lock()
            .execute("DELETE FROM flows WHERE name = ?1", [name])?;
        expect_changed(changed, "flow", name)
    }
}
