//! Teams: `handoff` (blocking delegation) and `assign` (fire-and-forget delegation), the
//! spawning half of the orchestration tools. `send_message` and the inbox are in `inbox.rs`.
//!
//! # handoff
//! The job is a row (`pending`) before anything else. It then runs as its own task, so it
//! finishes (and its result is stored) even when the caller stops waiting: a caller whose
//! MCP call outlived its client's tool timeout fetches the result later by `job_id`. The
//! task creates the worker in the caller's session (the worker profile's provider, else the
//! caller's), waits for it to be ready, sends the task, checks that the worker picked it up,
//! waits for `completed` (status events, no polling), takes the pack's extraction of the last
//! reply as the result, records it, and only then tears the worker down (the pack's exit
//! sequence, a short wait, then its whole process tree is killed). A worker that crashes
//! fails the job with its exit status as soon as the pane's death is seen.
//!
//! # assign
//! Creates the worker and returns its id at once (errors found before the pane exists, such
//! as a missing binary or an unknown profile, are returned to the caller directly). In the
//! background the worker is waited for, given the task with a footer asking it to report
//! back with `send_message`, and its pickup is verified. If it cannot start or never takes the
//! task, the caller gets an inbox message naming the reason and the worker is torn down.
//!
//! # Authorization
//! As in CAO: a call with a caller identity may spawn only if the caller's allowed tools
//! include `*` or `@cao-mcp-server` (a terminal with no allow-list may); calls without an
//! identity (the operator's CLI and HTTP) may.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    lock, random_hex, CreateTerminal, Orchestrator, OrchestratorError, OrchestratorEvent,
    OutputMode, SESSION_PREFIX,
};
use crate::store::{HandoffJob, HandoffStatus, NewHandoffJob, TerminalRow};
use crate::TerminalStatus;

/// CAO's default handoff timeout.
pub const DEFAULT_HANDOFF_TIMEOUT: Duration = Duration::from_secs(600);
/// CAO's largest handoff timeout.
pub const MAX_HANDOFF_TIMEOUT: Duration = Duration::from_secs(3600);
/// Words of the footer appended to an assigned task; agents (and the mock agent) key on it.
pub const ASSIGN_FOOTER_MARK: &str = "with the send_message tool";

/// How long a worker gets to leave after its exit sequence before its tree is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A blocking delegation.
#[derive(Debug, Clone)]
pub struct HandoffRequest {
    /// The terminal asking (`None`: the operator).
    pub caller_id: Option<String>,
    pub agent_profile: String,
    pub message: String,
    /// How long the worker may take, from creation to its answer.
    pub timeout: Duration,
    /// How long this call waits for the answer before returning the job id with
    /// `pending: true` (default: the whole timeout).
    pub wait: Option<Duration>,
    pub working_directory: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
}

/// A handoff's answer, in CAO's shape plus `status` and `pending`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffOutcome {
    pub success: bool,
    /// What happened, in one line.
    pub message: String,
    /// The worker's last reply.
    pub output: Option<String>,
    pub terminal_id: Option<String>,
    pub job_id: String,
    pub status: HandoffStatus,
    /// The job is still running: fetch the result later with `get_handoff_result(job_id)`.
    pub pending: bool,
}

impl HandoffOutcome {
    /// The outcome a stored job stands for.
    pub fn from_job(job: &HandoffJob) -> HandoffOutcome {
        let (success, message) = match job.status {
            HandoffStatus::Completed => (true, format!("{} finished the task", job.agent_profile)),
            HandoffStatus::Pending | HandoffStatus::Running => (
                false,
                format!(
                    "{} is still working: call get_handoff_result(\"{}\") later",
                    job.agent_profile, job.job_id
                ),
            ),
            HandoffStatus::Failed | HandoffStatus::TimedOut => (
                false,
                job.error
                    .clone()
                    .unwrap_or_else(|| format!("the handoff ended {}", job.status.as_str())),
            ),
        };
        HandoffOutcome {
            success,
            message,
            output: job.result.clone(),
            terminal_id: job.worker_id.clone(),
            job_id: job.job_id.clone(),
            status: job.status,
            pending: !job.status.is_finished(),
        }
    }
}

/// A fire-and-forget delegation.
#[derive(Debug, Clone)]
pub struct AssignRequest {
    /// The terminal asking (`None`: the operator); it receives the worker's report.
    pub caller_id: Option<String>,
    pub agent_profile: String,
    pub message: String,
    /// The session for the worker when there is no caller (default: a new one).
    pub session_name: Option<String>,
    pub working_directory: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
}

/// What `assign` returns at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssignOutcome {
    pub success: bool,
    pub terminal_id: String,
    pub session_name: String,
    pub message: String,
}

/// A running handoff task, to cancel it.
pub(super) struct RunningJob {
    task: tokio::task::AbortHandle,
}

impl Orchestrator {
    /// Refuses spawning for a caller whose allowed tools include neither `*` nor
    /// `@cao-mcp-server`; returns the caller's row.
    fn authorize_spawn(
        &self,
        caller: Option<&str>,
        tool: &str,
    ) -> Result<Option<TerminalRow>, OrchestratorError> {
        let Some(caller) = caller else {
            return Ok(None);
        };
        let row = self.row(caller)?;
        if let Some(allowed) = &row.allowed_tools {
            if !allowed
                .iter()
                .any(|tool| tool == "*" || tool == "@cao-mcp-server")
            {
                return Err(OrchestratorError::Forbidden(format!(
                    "'{tool}' is not allowed for terminal {caller} (profile {}): add \"@cao-mcp-server\" to the profile's allowedTools",
                    row.agent_profile
                )));
            }
        }
        Ok(Some(row))
    }

    /// The worker's terminal request: the caller's session and working directory unless
    /// given, the worker profile's provider, else the caller's.
    fn worker_request(
        &self,
        caller: Option<&TerminalRow>,
        agent_profile: &str,
        provider: Option<&String>,
        working_directory: Option<&String>,
        model: Option<&String>,
    ) -> Result<CreateTerminal, OrchestratorError> {
        let profile = self.inner.profiles.find(agent_profile)?;
        let provider = provider
            .cloned()
            .or_else(|| profile.provider.clone())
            .or_else(|| caller.map(|row| row.provider.clone()));
        Ok(CreateTerminal {
            agent_profile: profile.name.clone(),
            provider,
            working_directory: working_directory
                .cloned()
                .or_else(|| caller.and_then(|row| row.working_directory.clone())),
            model: model.cloned(),
            caller_id: caller.map(|row| row.id.clone()),
            ..CreateTerminal::default()
        })
    }

    async fn create_worker(
        &self,
        caller: Option<&TerminalRow>,
        session: Option<&str>,
        request: CreateTerminal,
    ) -> Result<super::Terminal, OrchestratorError> {
        match (caller, session) {
            (Some(row), _) => {
                self.create_terminal_in_session(&row.session_name, request)
                    .await
            }
            (None, Some(session)) => self.create_terminal_in_session(session, request).await,
            (None, None) => {
                let request = CreateTerminal {
                    session_name: Some(format!("{SESSION_PREFIX}team-{}", random_hex(3)?)),
                    ..request
                };
                self.create_session(request).await
            }
        }
    }

    /// Hands a task to a new worker and waits for its answer (see the module docs).
    pub async fn handoff(
        &self,
        request: HandoffRequest,
    ) -> Result<HandoffOutcome, OrchestratorError> {
        super::check_message(&request.message)?;
        if request.timeout.is_zero() || request.timeout > MAX_HANDOFF_TIMEOUT {
            return Err(OrchestratorError::Invalid(format!(
                "timeout must be between 1 and {} seconds",
                MAX_HANDOFF_TIMEOUT.as_secs()
            )));
        }
        let caller = self.authorize_spawn(request.caller_id.as_deref(), "handoff")?;
        // Checked before the job exists: an unknown profile is the caller's mistake.
        let worker = self.worker_request(
            caller.as_ref(),
            &request.agent_profile,
            request.provider.as_ref(),
            request.working_directory.as_ref(),
            request.model.as_ref(),
        )?;
        let job_id = random_hex(8)?;
        self.inner.store.insert_handoff(&NewHandoffJob {
            job_id: job_id.clone(),
            caller_id: request.caller_id.clone(),
            agent_profile: worker.agent_profile.clone(),
            message: request.message.clone(),
        })?;
        self.handoff_event(&job_id, HandoffStatus::Pending, None);
        let (done, answer) = oneshot::channel();
        let orchestrator = self.clone();
        let job = job_id.clone();
        let wait = request
            .wait
            .unwrap_or(request.timeout + Duration::from_secs(5));
        let task = tokio::spawn(async move {
            let outcome = orchestrator
                .run_handoff(&job, caller, worker, request)
                .await;
            lock(&orchestrator.inner.jobs).remove(&job);
            let _ = done.send(outcome);
        });
        lock(&self.inner.jobs).insert(
            job_id.clone(),
            RunningJob {
                task: task.abort_handle(),
            },
        );
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(outcome)) => Ok(outcome),
            // The task was cancelled, or the wait ended: report what is stored.
            Ok(Err(_)) | Err(_) => self.handoff_result(&job_id),
        }
    }

    async fn run_handoff(
        &self,
        job_id: &str,
        caller: Option<TerminalRow>,
        worker: CreateTerminal,
        request: HandoffRequest,
    ) -> HandoffOutcome {
        let deadline = Instant::now() + request.timeout;
        let mut worker_id = None;
        let result = self
            .handoff_steps(
                job_id,
                caller.as_ref(),
                worker,
                &request,
                deadline,
                &mut worker_id,
            )
            .await;
        let store = &self.inner.store;
        let recorded = match &result {
            Ok(output) => {
                store.update_handoff(job_id, HandoffStatus::Completed, Some(output), None)
            }
            Err(OrchestratorError::Timeout(reason)) => {
                store.update_handoff(job_id, HandoffStatus::TimedOut, None, Some(reason))
            }
            Err(error) => store.update_handoff(
                job_id,
                HandoffStatus::Failed,
                None,
                Some(&error.to_string()),
            ),
        };
        if let Err(error) = recorded {
            tracing::warn!(job = %job_id, %error, "could not record a handoff's end");
        }
        let outcome = match store.get_handoff(job_id) {
            Ok(Some(job)) => HandoffOutcome::from_job(&job),
            _ => HandoffOutcome {
                success: result.is_ok(),
                message: result
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                output: result.ok(),
                terminal_id: worker_id.clone(),
                job_id: job_id.to_string(),
                status: HandoffStatus::Failed,
                pending: false,
            },
        };
        self.handoff_event(job_id, outcome.status, worker_id.clone());
        if let Some(worker) = worker_id {
            let orchestrator = self.clone();
            tokio::spawn(async move { orchestrator.tear_down(&worker).await });
        }
        outcome
    }

    async fn handoff_steps(
        &self,
        job_id: &str,
        caller: Option<&TerminalRow>,
        worker: CreateTerminal,
        request: &HandoffRequest,
        deadline: Instant,
        worker_id: &mut Option<String>,
    ) -> Result<String, OrchestratorError> {
        let terminal = self.create_worker(caller, None, worker).await?;
        let id = terminal.id;
        *worker_id = Some(id.clone());
        self.inner.store.set_handoff_worker(job_id, &id)?;
        self.handoff_event(job_id, HandoffStatus::Running, Some(id.clone()));
        let init = self.live(&id)?.init_timeout;
        self.wait_for_status(&id, TerminalStatus::is_ready, init.min(remaining(deadline)))
            .await
            .map_err(|error| in_time(error, &id, "to start", request.timeout))?;
        self.submit_task(&id, &request.message).await?;
        self.wait_for_status(
            &id,
            |status| status == TerminalStatus::Completed,
            remaining(deadline),
        )
        .await
        .map_err(|error| in_time(error, &id, "to finish", request.timeout))?;
        self.output(&id, OutputMode::Last).await
    }

    /// Sends a task and makes sure the agent took it: its screen must change after Enter;
    /// Enter is pressed again (up to a bound) when it does not.
    async fn submit_task(&self, id: &str, text: &str) -> Result<(), OrchestratorError> {
        if self.submit_checked(id, text).await? {
            return Ok(());
        }
        let live = self.live(id)?;
        if *live.watch.status.borrow() == TerminalStatus::Error {
            let reason = lock(&live.exit_reason)
                .clone()
                .unwrap_or_else(|| "its screen shows an error".into());
            return Err(OrchestratorError::Unavailable(format!(
                "terminal {id} failed: {reason}"
            )));
        }
        Err(OrchestratorError::Unavailable(format!(
            "terminal {id} did not take the task: its screen did not change after the submission and {} more Enter presses",
            super::SUBMIT_TRIES - 1
        )))
    }

    /// Ends a worker: the pack's exit sequence, a short wait for it to leave, then its process
    /// tree is killed and the terminal removed.
    pub(super) async fn tear_down(&self, id: &str) {
        if self.row(id).is_err() {
            return;
        }
        let alive = self
            .live(id)
            .map(|live| *live.watch.status.borrow() != TerminalStatus::Error)
            .unwrap_or(false);
        if alive && self.exit_terminal(id).await.is_ok() {
            let _ = self
                .wait_for_status(id, |status| status == TerminalStatus::Error, EXIT_GRACE)
                .await;
        }
        if let Err(error) = self.delete_terminal(id).await {
            if self.row(id).is_ok() {
                tracing::warn!(terminal = %id, %error, "could not remove a worker");
            }
        }
    }

    /// A handoff job as a handoff answer.
    pub fn handoff_result(&self, job_id: &str) -> Result<HandoffOutcome, OrchestratorError> {
        match self.inner.store.get_handoff(job_id)? {
            Some(job) => Ok(HandoffOutcome::from_job(&job)),
            None => Err(OrchestratorError::NotFound(format!(
                "handoff job '{}' does not exist: use the job_id a handoff returned",
                job_id.escape_debug()
            ))),
        }
    }

    /// A caller's handoff jobs (all jobs for `None`), newest first.
    pub fn handoff_jobs(
        &self,
        caller_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<HandoffJob>, OrchestratorError> {
        Ok(self.inner.store.list_handoffs(caller_id, limit)?)
    }

    /// Stops a running handoff: the job fails as cancelled and its worker is torn down.
    pub async fn cancel_handoff(&self, job_id: &str) -> Result<HandoffOutcome, OrchestratorError> {
        let job = self.handoff_result(job_id)?;
        if !job.pending {
            return Err(OrchestratorError::Conflict(format!(
                "handoff {job_id} already ended ({}): nothing to cancel",
                job.status.as_str()
            )));
        }
        if let Some(running) = lock(&self.inner.jobs).remove(job_id) {
            running.task.abort();
        }
        self.inner.store.update_handoff(
            job_id,
            HandoffStatus::Failed,
            None,
            Some("cancelled before the worker finished"),
        )?;
        let worker = self
            .inner
            .store
            .get_handoff(job_id)?
            .and_then(|job| job.worker_id);
        self.handoff_event(job_id, HandoffStatus::Failed, worker.clone());
        if let Some(worker) = worker {
            self.tear_down(&worker).await;
        }
        self.handoff_result(job_id)
    }

    fn handoff_event(&self, job_id: &str, status: HandoffStatus, worker_id: Option<String>) {
        super::record_event(
            &self.inner.store,
            worker_id.as_deref(),
            "handoff.status",
            &serde_json::json!({"job_id": job_id, "status": status}),
        );
        let _ = self.inner.events.send(OrchestratorEvent::Handoff {
            job_id: job_id.to_string(),
            status,
            worker_id,
        });
    }

    /// At start: jobs whose task died with the previous server process fail, and their
    /// workers are torn down.
    pub(super) fn fail_interrupted_handoffs(&self) -> Result<(), OrchestratorError> {
        let failed = self
            .inner
            .store
            .fail_unfinished_handoffs("the server stopped while the handoff was running")?;
        for job in failed {
            if let Some(worker) = job.worker_id {
                let orchestrator = self.clone();
                tokio::spawn(async move { orchestrator.tear_down(&worker).await });
            }
        }
        Ok(())
    }

    /// Starts a worker and returns at once; the task follows in the background (see the
    /// module docs).
    pub async fn assign(&self, request: AssignRequest) -> Result<AssignOutcome, OrchestratorError> {
        super::check_message(&request.message)?;
        let caller = self.authorize_spawn(request.caller_id.as_deref(), "assign")?;
        let worker = self.worker_request(
            caller.as_ref(),
            &request.agent_profile,
            request.provider.as_ref(),
            request.working_directory.as_ref(),
            request.model.as_ref(),
        )?;
        let terminal = self
            .create_worker(caller.as_ref(), request.session_name.as_deref(), worker)
            .await?;
        let task = match &request.caller_id {
            Some(caller) => format!(
                "{}\n\n---\nWhen you finish, send your result to terminal {caller} {ASSIGN_FOOTER_MARK} (receiver_id=\"{caller}\").",
                request.message
            ),
            None => request.message.clone(),
        };
        let orchestrator = self.clone();
        let worker_id = terminal.id.clone();
        let caller_id = request.caller_id.clone();
        lock(&self.inner.assigning).insert(worker_id.clone());
        tokio::spawn(async move {
            orchestrator
                .run_assign(&worker_id, caller_id.as_deref(), &task)
                .await;
            lock(&orchestrator.inner.assigning).remove(&worker_id);
        });
        Ok(AssignOutcome {
            success: true,
            message: format!(
                "{} ({}) is starting and will get the task; its result comes back by send_message",
                terminal.agent_profile, terminal.id
            ),
            terminal_id: terminal.id,
            session_name: terminal.session_name,
        })
    }

    async fn run_assign(&self, worker: &str, caller: Option<&str>, task: &str) {
        let started = async {
            let init = self.live(worker)?.init_timeout;
            self.wait_for_status(worker, TerminalStatus::is_ready, init)
                .await
                .map_err(|error| in_time(error, worker, "to start", init))?;
            self.submit_task(worker, task).await
        };
        let Err(error) = started.await else {
            return;
        };
        tracing::warn!(terminal = %worker, %error, "an assigned worker could not take its task");
        if let Some(caller) = caller {
            let profile = self
                .inner
                .store
                .get_terminal(worker)
                .ok()
                .flatten()
                .map(|row| row.agent_profile)
                .unwrap_or_default();
            let text = format!(
                "assign failed: worker {worker} ({profile}) could not take the task: {error}. The worker was removed."
            );
            if let Err(error) = self.send_message(Some(worker), Some(caller), &text) {
                tracing::warn!(terminal = %caller, %error, "could not tell the caller that an assign failed");
            }
        }
        self.tear_down(worker).await;
    }
}

/// Why a session is not settled yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionActivity {
    /// Nothing is working, waiting to be delivered or being handed over.
    pub settled: bool,
    /// One line per thing still going on.
    pub busy: Vec<String>,
}

impl Orchestrator {
    /// Whether a session's team has finished: every terminal ready (or failed for good), no
    /// message waiting for one of them, no handoff running for one of them, no assigned task
    /// still being handed over.
    pub fn session_activity(&self, session: &str) -> Result<SessionActivity, OrchestratorError> {
        let terminals = self.list_terminals(session)?;
        let mut busy = Vec::new();
        for terminal in &terminals {
            if !terminal.status.is_ready() && terminal.status != TerminalStatus::Error {
                busy.push(format!("terminal {} is {}", terminal.id, terminal.status));
            }
            if lock(&self.inner.assigning).contains(&terminal.id) {
                busy.push(format!("terminal {} is getting its task", terminal.id));
            }
            // Only the waiting messages are read: this runs on every event a waiter sees.
            for status in [
                crate::store::InboxStatus::Pending,
                crate::store::InboxStatus::Delivering,
            ] {
                let waiting = self
                    .inner
                    .store
                    .list_messages(&terminal.id, Some(status), 1)?;
                if let Some(message) = waiting.first() {
                    busy.push(format!(
                        "message #{} to {} is {}",
                        message.id,
                        terminal.id,
                        status.as_str()
                    ));
                }
            }
            for job in self.inner.store.list_handoffs(Some(&terminal.id), 50)? {
                if !job.status.is_finished() {
                    busy.push(format!(
                        "handoff {} of {} is running",
                        job.job_id, terminal.id
                    ));
                }
            }
        }
        if terminals.is_empty() {
            return Err(OrchestratorError::NotFound(format!(
                "session '{session}' has no terminals (list them with `cao session list`)"
            )));
        }
        Ok(SessionActivity {
            settled: busy.is_empty(),
            busy,
        })
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// A wait's timeout, said as what the worker failed to do in time.
fn in_time(error: OrchestratorError, id: &str, what: &str, limit: Duration) -> OrchestratorError {
    match error {
        OrchestratorError::Timeout(_) => OrchestratorError::Timeout(format!(
            "worker {id} did not manage {what} within {}s: see its output (cao terminal output {id})",
            limit.as_secs()
        )),
        other => other,
    }
}
