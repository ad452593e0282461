//! One thin async function per route: extract, call the orchestrator once, shape the answer.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::orchestrator::{
    AssignRequest, CreateTerminal, HandoffRequest, OutputMode, DEFAULT_HANDOFF_TIMEOUT,
};
use crate::params::{number, string_list, Params};
use crate::state::AppState;
use cao_orchestrator::store::InboxStatus;

type Reply = Result<axum::response::Response, ApiError>;

fn ok<T: serde::Serialize>(value: T) -> Reply {
    Ok(Json(value).into_response())
}

fn created<T: serde::Serialize>(value: T) -> Reply {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

fn success() -> Reply {
    ok(json!({ "success": true }))
}

pub(crate) async fn health(State(state): State<AppState>) -> Json<Value> {
    let health = state.orchestrator().health();
    Json(json!({
        "status": health.status,
        "service": "cli-agent-orchestrator",
        "implementation": "cao",
        "version": env!("CARGO_PKG_VERSION"),
        "terminal_backend": "tmux",
        "components": { "cao": "ok", "tmux": health.backend },
        "terminals": health.terminals,
        "terminals_in_error": health.terminals_in_error,
    }))
}

pub(crate) async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// `POST /sessions`: parameters of CAO's query string and JSON body.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateSessionParams {
    agent_profile: String,
    provider: Option<String>,
    session_name: Option<String>,
    working_directory: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    allowed_tools: Option<Vec<String>>,
    model: Option<String>,
    initial_message: Option<String>,
    #[serde(default)]
    env_vars: BTreeMap<String, String>,
}

pub(crate) async fn create_session(
    State(state): State<AppState>,
    Params(params): Params<CreateSessionParams>,
) -> Reply {
    let request = CreateTerminal {
        agent_profile: params.agent_profile,
        provider: params.provider,
        session_name: params.session_name,
        working_directory: params.working_directory,
        env_vars: params.env_vars,
        model: params.model,
        allowed_tools: params.allowed_tools,
        caller_id: None,
        initial_message: params.initial_message,
    };
    created(state.orchestrator().create_session(request).await?)
}

pub(crate) async fn list_sessions(State(state): State<AppState>) -> Reply {
    ok(state.orchestrator().list_sessions()?)
}

pub(crate) async fn get_session(
    State(state): State<AppState>,
    Path(session_name): Path<String>,
) -> Reply {
    ok(state.orchestrator().get_session(&session_name)?)
}

pub(crate) async fn delete_session(
    State(state): State<AppState>,
    Path(session_name): Path<String>,
) -> Reply {
    let terminal_ids = state.orchestrator().delete_session(&session_name).await?;
    ok(json!({
        "success": true,
        "deleted": [session_name],
        "errors": [],
        "terminal_ids": terminal_ids,
    }))
}

/// `POST /sessions/{session_name}/terminals`.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateTerminalParams {
    agent_profile: String,
    provider: Option<String>,
    caller_id: Option<String>,
    working_directory: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    allowed_tools: Option<Vec<String>>,
    model: Option<String>,
    initial_message: Option<String>,
    #[serde(default)]
    env_vars: BTreeMap<String, String>,
}

pub(crate) async fn create_terminal(
    State(state): State<AppState>,
    Path(session_name): Path<String>,
    Params(params): Params<CreateTerminalParams>,
) -> Reply {
    let request = CreateTerminal {
        agent_profile: params.agent_profile,
        provider: params.provider,
        session_name: Some(session_name.clone()),
        working_directory: params.working_directory,
        env_vars: params.env_vars,
        model: params.model,
        allowed_tools: params.allowed_tools,
        caller_id: params.caller_id,
        initial_message: params.initial_message,
    };
    let terminal = state
        .orchestrator()
        .create_terminal_in_session(&session_name, request)
        .await?;
    created(terminal)
}

pub(crate) async fn list_terminals(
    State(state): State<AppState>,
    Path(session_name): Path<String>,
) -> Reply {
    ok(state.orchestrator().list_terminals(&session_name)?)
}

pub(crate) async fn get_terminal(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
) -> Reply {
    ok(state.orchestrator().get_terminal(&terminal_id)?)
}

pub(crate) async fn delete_terminal(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
) -> Reply {
    state.orchestrator().delete_terminal(&terminal_id).await?;
    success()
}

/// `POST /terminals/{terminal_id}/input`.
#[derive(Debug, Deserialize)]
pub(crate) struct InputParams {
    message: String,
    // Accepted for CAO clients; the orchestrator does not record who typed the input.
    #[allow(dead_code)]
    sender_id: Option<String>,
}

pub(crate) async fn send_input(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
    Params(params): Params<InputParams>,
) -> Reply {
    state
        .orchestrator()
        .send_input(&terminal_id, &params.message)
        .await?;
    success()
}

/// `POST /terminals/{terminal_id}/key`.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyParams {
    key: String,
}

pub(crate) async fn send_key(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
    Params(params): Params<KeyParams>,
) -> Reply {
    state
        .orchestrator()
        .send_key(&terminal_id, &params.key)
        .await?;
    success()
}

/// `GET /terminals/{terminal_id}/output`.
#[derive(Debug, Deserialize)]
pub(crate) struct OutputParams {
    mode: Option<String>,
}

pub(crate) async fn output(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
    Params(params): Params<OutputParams>,
) -> Reply {
    let mode = OutputMode::parse(params.mode.as_deref().unwrap_or("full"))?;
    let output = state.orchestrator().output(&terminal_id, mode).await?;
    ok(json!({ "output": output, "mode": mode.as_str() }))
}

pub(crate) async fn exit_terminal(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
) -> Reply {
    state.orchestrator().exit_terminal(&terminal_id).await?;
    success()
}

pub(crate) async fn restore_terminal(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
) -> Reply {
    let terminal = state.orchestrator().restore_terminal(&terminal_id).await?;
    ok(json!(terminal))
}

pub(crate) async fn working_directory(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
) -> Reply {
    let working_directory = state.orchestrator().working_directory(&terminal_id).await?;
    ok(json!({ "working_directory": working_directory }))
}

pub(crate) async fn list_profiles(State(state): State<AppState>) -> Reply {
    ok(state.orchestrator().profiles().list())
}

pub(crate) async fn get_profile(State(state): State<AppState>, Path(name): Path<String>) -> Reply {
    ok(state.orchestrator().profiles().find(&name)?)
}

pub(crate) async fn list_providers(State(state): State<AppState>) -> Reply {
    ok(state.orchestrator().providers())
}

/// `GET /events`: an optional filter on one terminal.
#[derive(Debug, Deserialize)]
pub(crate) struct EventParams {
    terminal_id: Option<String>,
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Params(params): Params<EventParams>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.orchestrator().subscribe();
    let shutdown = Box::pin(state.shutting_down());
    let stream = futures_util::stream::unfold(
        (receiver, shutdown, params.terminal_id),
        |(mut receiver, mut shutdown, filter)| async move {
            loop {
                let received = tokio::select! {
                    () = &mut shutdown => return None,
                    received = receiver.recv() => received,
                };
                let data = match received {
                    Ok(event) => match serde_json::to_value(&event) {
                        Ok(value) if matches_terminal(&value, filter.as_deref()) => value,
                        Ok(_) => continue,
                        Err(error) => json!({ "type": "error", "detail": error.to_string() }),
                    },
                    // A slow reader missed events; say so instead of silently skipping them.
                    Err(RecvError::Lagged(missed)) => json!({ "type": "lagged", "missed": missed }),
                    Err(RecvError::Closed) => return None,
                };
                let event = Event::default().data(data.to_string());
                return Some((Ok(event), (receiver, shutdown, filter)));
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn matches_terminal(event: &Value, filter: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(terminal_id) => ["terminal_id", "receiver_id", "worker_id"]
            .iter()
            .any(|key| event.get(*key).and_then(Value::as_str) == Some(terminal_id)),
    }
}

/// `POST /terminals/{terminal_id}/inbox/messages`.
#[derive(Debug, Deserialize)]
pub(crate) struct QueueParams {
    message: String,
    sender_id: Option<String>,
}

fn queued(message: cao_orchestrator::store::InboxMessage) -> Reply {
    let mut value = serde_json::to_value(&message).map_err(|error| {
        ApiError::from(crate::orchestrator::OrchestratorError::Internal(
            error.to_string(),
        ))
    })?;
    if let Some(object) = value.as_object_mut() {
        object.insert("success".into(), json!(true));
        object.insert("message_id".into(), json!(message.id));
    }
    ok(value)
}

pub(crate) async fn queue_message(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
    Params(params): Params<QueueParams>,
) -> Reply {
    let message = state.orchestrator().send_message(
        params.sender_id.as_deref(),
        Some(&terminal_id),
        &params.message,
    )?;
    queued(message)
}

/// `GET /terminals/{terminal_id}/inbox/messages`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListMessagesParams {
    status: Option<String>,
    #[serde(default, deserialize_with = "number")]
    limit: Option<u64>,
}

pub(crate) async fn list_messages(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
    Params(params): Params<ListMessagesParams>,
) -> Reply {
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(InboxStatus::parse(text).ok_or_else(|| {
            ApiError::from(crate::orchestrator::OrchestratorError::Invalid(format!(
                "unknown message status '{}': use pending, delivering, delivered, failed or uncertain",
                text.escape_debug()
            )))
        })?),
    };
    let limit = params.limit.unwrap_or(100) as usize;
    ok(state.orchestrator().inbox(&terminal_id, status, limit)?)
}

/// `POST /agents/messages`.
#[derive(Debug, Deserialize)]
pub(crate) struct SendMessageParams {
    message: String,
    sender_id: Option<String>,
    receiver_id: Option<String>,
}

pub(crate) async fn send_message(
    State(state): State<AppState>,
    Params(params): Params<SendMessageParams>,
) -> Reply {
    let message = state.orchestrator().send_message(
        params.sender_id.as_deref(),
        params.receiver_id.as_deref(),
        &params.message,
    )?;
    queued(message)
}

/// `POST /agents/handoff`.
#[derive(Debug, Deserialize)]
pub(crate) struct HandoffParams {
    agent_profile: String,
    message: String,
    caller_id: Option<String>,
    #[serde(default, deserialize_with = "number")]
    timeout: Option<u64>,
    #[serde(default, deserialize_with = "number")]
    wait: Option<u64>,
    provider: Option<String>,
    working_directory: Option<String>,
    model: Option<String>,
}

pub(crate) async fn handoff(
    State(state): State<AppState>,
    Params(params): Params<HandoffParams>,
) -> Reply {
    let outcome = state
        .orchestrator()
        .handoff(HandoffRequest {
            caller_id: params.caller_id,
            agent_profile: params.agent_profile,
            message: params.message,
            timeout: params
                .timeout
                .map(std::time::Duration::from_secs)
                .unwrap_or(DEFAULT_HANDOFF_TIMEOUT),
            wait: params.wait.map(std::time::Duration::from_secs),
            working_directory: params.working_directory,
            model: params.model,
            provider: params.provider,
        })
        .await?;
    ok(outcome)
}

/// `POST /agents/assign`.
#[derive(Debug, Deserialize)]
pub(crate) struct AssignParams {
    agent_profile: String,
    message: String,
    caller_id: Option<String>,
    session_name: Option<String>,
    provider: Option<String>,
    working_directory: Option<String>,
    model: Option<String>,
}

pub(crate) async fn assign(
    State(state): State<AppState>,
    Params(params): Params<AssignParams>,
) -> Reply {
    let outcome = state
        .orchestrator()
        .assign(AssignRequest {
            caller_id: params.caller_id,
            agent_profile: params.agent_profile,
            message: params.message,
            session_name: params.session_name,
            working_directory: params.working_directory,
            model: params.model,
            provider: params.provider,
        })
        .await?;
    ok(outcome)
}

/// `GET /handoff-results`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListHandoffsParams {
    caller_id: Option<String>,
    #[serde(default, deserialize_with = "number")]
    limit: Option<u64>,
}

pub(crate) async fn list_handoffs(
    State(state): State<AppState>,
    Params(params): Params<ListHandoffsParams>,
) -> Reply {
    let limit = params.limit.unwrap_or(20) as usize;
    ok(state
        .orchestrator()
        .handoff_jobs(params.caller_id.as_deref(), limit)?)
}

pub(crate) async fn handoff_result(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Reply {
    ok(state.orchestrator().handoff_result(&job_id)?)
}

pub(crate) async fn cancel_handoff(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Reply {
    ok(state.orchestrator().cancel_handoff(&job_id).await?)
}

pub(crate) async fn session_activity(
    State(state): State<AppState>,
    Path(session_name): Path<String>,
) -> Reply {
    ok(state.orchestrator().session_activity(&session_name)?)
}
