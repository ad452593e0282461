//! The SQLite store: terminals, inbox messages, handoff jobs, flows and the event log.
//!
//! One table per concept, typed rows, typed errors. The store is synchronous: a [`Store`]
//! holds one connection behind a mutex, is `Send + Sync`, and is shared as `Arc<Store>`; async
//! callers run its calls on a blocking thread (each call is a few small statements).
//! Several processes may open the same file: WAL mode lets readers run beside the writer,
//! and a 5 s busy timeout makes concurrent writers queue instead of failing.
//!
//! Timestamps are RFC 3339 UTC text with milliseconds (`2025-01-02T03:04:05.678Z`), the shape
//! CAO's API shows, and they sort as text.

mod events;
mod flows;
mod handoff;
mod inbox;
mod terminals;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior};

pub use events::EventRow;
pub use flows::FlowRow;
pub use handoff::{HandoffJob, HandoffStatus, NewHandoffJob};
pub use inbox::{InboxMessage, InboxStatus};
pub use terminals::{NewTerminal, SessionSummary, TerminalRow};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database directory could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was written by a newer cao.
    #[error(
        "the database schema is version {found}, newer than this cao knows ({known}); \
         upgrade cao or point CAO_HOME_DIR elsewhere"
    )]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: u32,
        /// [`SCHEMA_VERSION`].
        known: u32,
    },
    /// A row that must exist does not.
    #[error("no {what} '{key}'")]
    NotFound {
        /// `terminal`, `inbox message`, `handoff job`, `flow`.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// A write broke a constraint: a duplicate key, an unknown terminal, an invalid value.
    #[error("{0}")]
    Constraint(String),
    /// A stored value could not be read back (a JSON column, a status name).
    #[error("corrupt {what} in the database: {detail}")]
    Corrupt {
        /// Which column.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match &error {
            rusqlite::Error::SqliteFailure(failure, message)
                if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Constraint(message.clone().unwrap_or_else(|| error.to_string()))
            }
            _ => StoreError::Sqlite(error),
        }
    }
}

/// The schema, one step per version: step `i` takes `user_version` from `i` to `i + 1`.
///
/// Steps are append-only: a released step is never edited, a change is a new step.
const MIGRATIONS: &[&str] = &[
    // 1: terminals, their inboxes and handoff jobs.
    "CREATE TABLE terminals (
        id TEXT PRIMARY KEY NOT NULL
            CHECK (length(id) = 8 AND id NOT GLOB '*[^0-9a-f]*'),
        session_name TEXT NOT NULL,
        window_name TEXT NOT NULL,
        pane_ref TEXT,
        provider TEXT NOT NULL,
        agent_profile TEXT NOT NULL,
        working_directory TEXT,
        creator_id TEXT REFERENCES terminals(id) ON DELETE SET NULL,
        allowed_tools TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        exited_at TEXT,
        exit_reason TEXT
    );
    CREATE INDEX terminals_by_session ON terminals(session_name, created_at);
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sender_id TEXT,
        receiver_id TEXT NOT NULL REFERENCES terminals(id) ON DELETE CASCADE,
        body TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'uncertain')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        delivered_at TEXT
    );
    CREATE INDEX inbox_by_receiver ON inbox(receiver_id, status, id);
    CREATE TABLE handoff_jobs (
        job_id TEXT PRIMARY KEY NOT NULL,
        caller_id TEXT,
        worker_id TEXT,
        agent_profile TEXT NOT NULL,
        message TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'running', 'completed', 'failed', 'timed_out')),
        result TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
    );",
    // 2: scheduled flows and the append-only event log.
    "CREATE TABLE flows (
        name TEXT PRIMARY KEY NOT NULL,
        schedule TEXT NOT NULL,
        agent_profile TEXT NOT NULL,
        provider TEXT,
        script TEXT,
        prompt TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        last_run_at TEXT,
        next_run_at TEXT
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        terminal_id TEXT,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a writer waits for another connection's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the cao database. Share it as `Arc<Store>`.
#[derive(Debug)]
pub struct Store {
    connection: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to [`SCHEMA_VERSION`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
        }
        let connection = Connection::open(path)?;
        Store::setup(connection)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut connection: Connection) -> Result<Store, StoreError> {
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // journal_mode answers with the mode in force ("memory" for in-memory databases).
        let _mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        // NORMAL is durable across application crashes in WAL mode; only power loss can
        // drop the last transactions, a fair trade for not syncing on every status change.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        migrate(&mut connection)?;
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// The journal mode in force (`wal` for a file database).
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))?)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: an open transaction
        // is rolled back when its guard drops.
        crate::lock(&self.connection)
    }
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two processes opening
        // a fresh file cannot both apply the same step.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: u32 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        let Some(step) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        transaction.execute_batch(step)?;
        transaction.pragma_update(None, "user_version", version + 1)?;
        transaction.commit()?;
        tracing::debug!(version = version + 1, "database migrated");
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// `time` as RFC 3339 UTC with milliseconds, e.g. `2025-01-02T03:04:05.678Z`.
/// Times before 1970 are clamped to the epoch (cao never records any).
pub fn format_rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01, after Howard Hinnant's
/// `civil_from_days`, restricted to non-negative days.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Reads a JSON text column.
fn decode_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        what,
        detail: error.to_string(),
    })
}

/// Turns "no row changed" into [`StoreError::NotFound`].
fn expect_changed(changed: usize, what: &'static str, key: &str) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::NotFound {
            what,
            key: key.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
