//! The `handoff_jobs` table: blocking handoffs, kept so a caller whose MCP call timed out can
//! still fetch the result (`get_handoff_result(job_id)`).

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{expect_changed, now_rfc3339, Store, StoreError};

/// Where a handoff job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    /// Recorded; no worker yet.
    Pending,
    /// A worker has the task.
    Running,
    /// The worker answered; `result` holds the answer.
    Completed,
    /// The worker could not start or broke; `error` says why.
    Failed,
    /// The worker did not finish in time.
    TimedOut,
}

impl HandoffStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::Pending => "pending",
            HandoffStatus::Running => "running",
            HandoffStatus::Completed => "completed",
            HandoffStatus::Failed => "failed",
            HandoffStatus::TimedOut => "timed_out",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<HandoffStatus> {
        [
            HandoffStatus::Pending,
            HandoffStatus::Running,
            HandoffStatus::Completed,
            HandoffStatus::Failed,
            HandoffStatus::TimedOut,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Completed, failed or timed out.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            HandoffStatus::Completed | HandoffStatus::Failed | HandoffStatus::TimedOut
        )
    }
}

/// A job about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandoffJob {
    /// Unique id returned to the caller.
    pub job_id: String,
    /// The terminal that asked, if the call came from one.
    pub caller_id: Option<String>,
    /// The worker's profile.
    pub agent_profile: String,
    /// The task text.
    pub message: String,
}

/// A stored handoff job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffJob {
    /// Unique id.
    pub job_id: String,
    /// The terminal that asked.
    pub caller_id: Option<String>,
    /// The worker terminal, once created (kept after the worker is deleted).
    pub worker_id: Option<String>,
    /// The worker's profile.
    pub agent_profile: String,
    /// The task text.
    pub message: String,
    /// Where the job is.
    pub status: HandoffStatus,
    /// The worker's answer.
    pub result: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// When it reached a finished status.
    pub finished_at: Option<String>,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<(HandoffJob, String)> {
    Ok((
        HandoffJob {
            job_id: row.get(0)?,
            caller_id: row.get(1)?,
            worker_id: row.get(2)?,
            agent_profile: row.get(3)?,
            message: row.get(4)?,
            status: HandoffStatus::Pending,
            result: row.get(6)?,
            error: row.get(7)?,
            created_at: row.get(8)?,
            finished_at: row.get(9)?,
        },
        row.get(5)?,
    ))
}

impl Store {
    /// Records a new job as `pending`.
    pub fn insert_handoff(&self, job: &NewHandoffJob) -> Result<HandoffJob, StoreError> {
        self.lock().execute(
            "INSERT INTO handoff_jobs (job_id, caller_id, agent_profile, message, status, \
             created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            params![
                job.job_id,
                job.caller_id,
                job.agent_profile,
                job.message,
                now_rfc3339()
            ],
        )?;
        self.get_handoff(&job.job_id)?
            .ok_or_else(|| StoreError::NotFound {
                what: "handoff job",
                key: job.job_id.clone(),
            })
    }

    /// The job `job_id`.
    pub fn get_handoff(&self, job_id: &str) -> Result<Option<HandoffJob>, StoreError> {
        let raw = self
            .lock()
            .query_row(
                "SELECT job_id, caller_id, worker_id, agent_profile, message, status, result, \
                 error, created_at, finished_at FROM handoff_jobs WHERE job_id = ?1",
                [job_id],
                read_row,
            )
            .optional()?;
        raw.map(|(mut job, status)| {
            job.status = HandoffStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                what: "handoff_jobs.status",
                detail: format!("unknown status '{status}'"),
            })?;
            Ok(job)
        })
        .transpose()
    }

    /// Records the worker and marks the job `running`.
    pub fn set_handoff_worker(&self, job_id: &str, worker_id: &str) -> Result<(), StoreError> {
        let changed = self.lock().execute(
            "UPDATE handoff_jobs SET worker_id = ?2, status = 'running' WHERE job_id = ?1",
            params![job_id, worker_id],
        )?;
        expect_changed(changed, "handoff job", job_id)
    }

    /// Sets the status, result and error; a finished status also sets `finished_at`.
    pub fn update_handoff(
        &self,
        job_id: &str,
        status: HandoffStatus,
        result: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let finished_at = status.is_finished().then(now_rfc3339);
        let changed = self.lock().execute(
            "UPDATE handoff_jobs SET status = ?2, result = ?3, error = ?4, \
             finished_at = COALESCE(?5, finished_at) WHERE job_id = ?1",
            params![job_id, status.as_str(), result, error, finished_at],
        )?;
        expect_changed(changed, "handoff job", job_id)
    }

    /// The newest jobs first, of one caller or of all, at most `limit`.
    pub fn list_handoffs(
        &self,
        caller_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<HandoffJob>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT job_id, caller_id, worker_id, agent_profile, message, status, result, \
             error, created_at, finished_at FROM handoff_jobs \
             WHERE (?1 IS NULL OR caller_id = ?1) ORDER BY rowid DESC LIMIT ?2",
        )?;
        let raws = statement
            .query_map(params![caller_id, limit], read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(statement);
        drop(connection);
        raws.into_iter()
            .map(|(mut job, status)| {
                job.status = HandoffStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                    what: "handoff_jobs.status",
                    detail: format!("unknown status '{status}'"),
                })?;
                Ok(job)
            })
            .collect()
    }

    /// After a restart: jobs that were pending or running can no longer finish (their waiter
    /// is gone); they become `failed` with `reason`. Returns them.
    pub fn fail_unfinished_handoffs(&self, reason: &str) -> Result<Vec<HandoffJob>, StoreError> {
        let unfinished: Vec<HandoffJob> = self
            .list_handoffs(None, usize::MAX)?
            .into_iter()
            .filter(|job| !job.status.is_finished())
            .collect();
        for job in &unfinished {
            self.update_handoff(&job.job_id, HandoffStatus::Failed, None, Some(reason))?;
        }
        Ok(unfinished)
    }
}
