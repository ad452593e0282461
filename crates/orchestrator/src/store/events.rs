//! The `events` table: an append-only log (status changes, deliveries, handoffs…) that the
//! event stream replays from a sequence number after a reconnect.

use rusqlite::params;
use serde::Serialize;

use super::{decode_json, now_rfc3339, Store, StoreError};

/// A logged event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// Increasing, never reused.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// The terminal it concerns, if any.
    pub terminal_id: Option<String>,
    /// `terminal.status`, `inbox.delivered`, …
    pub kind: String,
    /// Details.
    pub data: serde_json::Value,
}

impl Store {
    /// Appends an event; returns its sequence number.
    pub fn append_event(
        &self,
        terminal_id: Option<&str>,
        kind: &str,
        data: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute(
            "INSERT INTO events (at, terminal_id, kind, data) VALUES (?1, ?2, ?3, ?4)",
            params![now_rfc3339(), terminal_id, kind, data.to_string()],
        )?;
        Ok(connection.last_insert_rowid())
    }

    /// Events after `seq` (exclusive), oldest first, at most `limit`.
    pub fn list_events_since(&self, seq: i64, limit: usize) -> Result<Vec<EventRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT seq, at, terminal_id, kind, data FROM events WHERE seq > ?1 \
             ORDER BY seq LIMIT ?2",
        )?;
        let raws = statement
            .query_map(params![seq, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter()
            .map(|(seq, at, terminal_id, kind, data)| {
                Ok(EventRow {
                    seq,
                    at,
                    terminal_id,
                    kind,
                    data: decode_json("events.data", &data)?,
                })
            })
            .collect()
    }
}
