//! The `inbox` table: messages waiting for, or delivered to, a terminal.
//!
//! A message is a row before it is sent. Delivery is recorded in two steps around the send:
//! `mark_delivering` (the attempt) before, `mark_delivered` or `mark_failed` after, so a
//! crash in between leaves a `delivering` row ([`Store::interrupted_deliveries`]) that the
//! orchestrator settles at its next start, by the rule in `service::inbox`, instead of
//! sending it twice or losing it silently.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{expect_changed, now_rfc3339, Store, StoreError};

/// Where a message is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Waiting for the receiver to be ready.
    Pending,
    /// Being sent right now.
    Delivering,
    /// Pasted into the receiver.
    Delivered,
    /// Can never be sent (the receiver is gone); `last_error` says why.
    Failed,
    /// A send was interrupted and cao could not tell whether it reached the receiver; it is
    /// not sent again automatically.
    Uncertain,
}

impl InboxStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Pending => "pending",
            InboxStatus::Delivering => "delivering",
            InboxStatus::Delivered => "delivered",
            InboxStatus::Failed => "failed",
            InboxStatus::Uncertain => "uncertain",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<InboxStatus> {
        [
            InboxStatus::Pending,
            InboxStatus::Delivering,
            InboxStatus::Delivered,
            InboxStatus::Failed,
            InboxStatus::Uncertain,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxMessage {
    /// Increasing: the order messages were queued in.
    pub id: i64,
    /// The sending terminal, or `None` for a message from outside (CLI, API).
    pub sender_id: Option<String>,
    /// The receiving terminal.
    pub receiver_id: String,
    /// The text to paste.
    pub body: String,
    /// Where it is in its delivery.
    pub status: InboxStatus,
    /// How many sends were started.
    pub attempts: u32,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// When it was delivered.
    pub delivered_at: Option<String>,
}

const COLUMNS: &str = "id, sender_id, receiver_id, body, status, attempts, last_error, \
    created_at, updated_at, delivered_at";

fn read_row(row: &Row<'_>) -> rusqlite::Result<(InboxMessage, String)> {
    Ok((
        InboxMessage {
            id: row.get(0)?,
            sender_id: row.get(1)?,
            receiver_id: row.get(2)?,
            body: row.get(3)?,
            status: InboxStatus::Pending,
            attempts: row.get(5)?,
            last_error: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
            delivered_at: row.get(9)?,
        },
        row.get(4)?,
    ))
}

fn finish((mut message, status): (InboxMessage, String)) -> Result<InboxMessage, StoreError> {
    message.status = InboxStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
        what: "inbox.status",
        detail: format!("unknown status '{status}'"),
    })?;
    Ok(message)
}

impl Store {
    /// Queues a message for `receiver_id` (which must be a known terminal).
    pub fn enqueue_message(
        &self,
        sender_id: Option<&str>,
        receiver_id: &str,
        body: &str,
    ) -> Result<InboxMessage, StoreError> {
        let now = now_rfc3339();
        let id = {
            let connection = self.lock();
            connection
                .execute(
                    "INSERT INTO inbox (sender_id, receiver_id, body, status, attempts, \
                     created_at, updated_at) VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4)",
                    params![sender_id, receiver_id, body, now],
                )
                .map_err(|error| match StoreError::from(error) {
                    StoreError::Constraint(_) => StoreError::NotFound {
                        what: "terminal",
                        key: receiver_id.to_string(),
                    },
                    other => other,
                })?;
            connection.last_insert_rowid()
        };
        self.get_message(id)?.ok_or_else(|| StoreError::NotFound {
            what: "inbox message",
            key: id.to_string(),
        })
    }

    /// The message `id`.
    pub fn get_message(&self, id: i64) -> Result<Option<InboxMessage>, StoreError> {
        let raw = self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM inbox WHERE id = ?1"),
                [id],
                read_row,
            )
            .optional()?;
        raw.map(finish).transpose()
    }

    /// The oldest pending message for `receiver_id`.
    pub fn next_pending_message(
        &self,
        receiver_id: &str,
    ) -> Result<Option<InboxMessage>, StoreError> {
        let raw = self
            .lock()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM inbox WHERE receiver_id = ?1 AND status = 'pending' \
                     ORDER BY id LIMIT 1"
                ),
                [receiver_id],
                read_row,
            )
            .optional()?;
        raw.map(finish).transpose()
    }

    /// Claims a pending message for sending and counts the attempt; call it before sending.
    ///
    /// Fails with `NotFound` unless the message is pending, so two deliverers cannot both
    /// claim it.
    pub fn mark_message_delivering(&self, id: i64) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE inbox SET status = 'delivering', attempts = attempts + 1, updated_at = ?2 \
             WHERE id = ?1 AND status = 'pending'",
            params![id, now_rfc3339()],
        )?;
        expect_changed(changed, "pending inbox message", &id.to_string())
    }

    /// Records a successful send.
    pub fn mark_message_delivered(&self, id: i64) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let changed = self.lock().execute(
            "UPDATE inbox SET status = 'delivered', delivered_at = ?2, updated_at = ?2, \
             last_error = NULL WHERE id = ?1",
            params![id, now],
        )?;
        expect_changed(changed, "inbox message", &id.to_string())
    }

    /// Records a failed send with its reason.
    pub fn mark_message_failed(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE inbox SET status = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, reason, now_rfc3339()],
        )?;
        expect_changed(changed, "inbox message", &id.to_string())
    }

    /// Gives a claimed message back: `delivering` → `pending`, with the reason it was not
    /// sent (kept in `last_error` so a stuck message shows why).
    pub fn release_message(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE inbox SET status = 'pending', last_error = ?2, updated_at = ?3 \
             WHERE id = ?1 AND status = 'delivering'",
            params![id, reason, now_rfc3339()],
        )?;
        expect_changed(changed, "delivering inbox message", &id.to_string())
    }

    /// Records that a send was interrupted and its outcome cannot be known.
    pub fn mark_message_uncertain(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE inbox SET status = 'uncertain', last_error = ?2, updated_at = ?3 \
             WHERE id = ?1",
            params![id, reason, now_rfc3339()],
        )?;
        expect_changed(changed, "inbox message", &id.to_string())
    }

    /// Messages left `delivering` (a crash interrupted their send), oldest first.
    pub fn interrupted_deliveries(&self) -> Result<Vec<InboxMessage>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM inbox WHERE status = 'delivering' ORDER BY id"
        ))?;
        let raws = statement
            .query_map([], read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(statement);
        drop(connection);
        raws.into_iter().map(finish).collect()
    }

    /// Fails every message still waiting for `receiver_id` (pending or claimed) with
    /// `reason`; returns how many.
    pub fn fail_undelivered_messages(
        &self,
        receiver_id: &str,
        reason: &str,
    ) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "UPDATE inbox SET status = 'failed', last_error = ?2, updated_at = ?3 \
             WHERE receiver_id = ?1 AND status IN ('pending', 'delivering')",
            params![receiver_id, reason, now_rfc3339()],
        )?)
    }

    /// Messages sent by `sender_id`, oldest first, at most `limit`.
    pub fn list_sent_messages(
        &self,
        sender_id: &str,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM inbox WHERE sender_id = ?1 ORDER BY id LIMIT ?2"
        ))?;
        let raws = statement
            .query_map(params![sender_id, limit], read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(statement);
        drop(connection);
        raws.into_iter().map(finish).collect()
    }

    /// Messages for `receiver_id`, oldest first, optionally of one status, at most `limit`.
    pub fn list_messages(
        &self,
        receiver_id: &str,
        status: Option<InboxStatus>,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {COLUMNS} FROM inbox WHERE receiver_id = ?1 AND (?2 IS NULL OR status = ?2) \
             ORDER BY id LIMIT ?3"
        ))?;
        let raws = statement
            .query_map(
                params![receiver_id, status.map(InboxStatus::as_str), limit],
                read_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(finish).collect()
    }

    /// Terminals with at least one pending message, in the order of their oldest one.
    pub fn pending_receivers(&self) -> Result<Vec<String>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT receiver_id FROM inbox WHERE status = 'pending' \
             GROUP BY receiver_id ORDER BY MIN(id)",
        )?;
        let receivers = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(receivers)
    }
}
