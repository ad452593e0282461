//! MCP over streamable HTTP: the ops server at `/mcp/ops` and the orchestration server of each
//! agent at `/mcp/agents/{terminal_id}`. The calling terminal is the one whose agent token the
//! request carries (the token guard admits it only on its own path), or, with the operator
//! token, the path segment.
//!
//! Both are rmcp's `StreamableHttpService` in stateless mode with plain JSON responses: each
//! POST carries one JSON-RPC message and gets its JSON-RPC answer as `application/json` (202
//! with no body for a notification); no session id, no server-to-client stream (GET and DELETE
//! get 405). So any HTTP client, and the thin `cao mcp-server` stdio proxy, can talk to them.
//! They sit behind the same guards as the REST routes (Host, Origin, bearer token), which run
//! before rmcp sees the request; rmcp's own Host check is off so the two lists cannot differ.
//! Every refusal is a JSON-RPC error (id null): a body that is not JSON is a parse error (400),
//! one over the body limit an invalid request naming the limit (413), and rmcp's own plain-text
//! refusals (406, 415) keep their status with their text as the message.
//! Nothing times a call out on the server side: a tool call runs until it finishes, the
//! client disconnects (which cancels it) or the server shuts down.

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cao_mcp::{AgentServer, CallerTerminal, OpsServer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::error::McpRequestError;
use crate::guard::Access;
use crate::orchestrator::Orchestrator;
use crate::state::AppState;

/// The two MCP services, built once per router.
#[derive(Clone)]
pub(crate) struct McpEndpoints {
    ops: StreamableHttpService<OpsServer, NeverSessionManager>,
    agents: StreamableHttpService<AgentServer, NeverSessionManager>,
}

impl McpEndpoints {
    /// `stop` ends the calls still running when the server shuts down.
    pub(crate) fn new(
        orchestrator: &Orchestrator,
        body_limit: usize,
        stop: CancellationToken,
    ) -> McpEndpoints {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_sse_retry(None)
            .with_max_request_body_bytes(body_limit)
            .disable_allowed_hosts()
            .with_cancellation_token(stop);
        let ops = OpsServer::new(orchestrator.clone());
        let agents = AgentServer::new(orchestrator.clone());
        McpEndpoints {
            ops: StreamableHttpService::new(
                move || Ok(ops.clone()),
                Default::default(),
                config.clone(),
            ),
            agents: StreamableHttpService::new(
                move || Ok(agents.clone()),
                Default::default(),
                config,
            ),
        }
    }
}

/// The longest plain-text refusal of rmcp's that is turned into a JSON-RPC error (its texts are
/// one short line).
const REFUSAL_LIMIT: usize = 64 * 1024;

/// The method of a JSON-RPC message (a response has none).
#[derive(serde::Deserialize)]
struct JsonRpcMethod {
    method: Option<String>,
}

/// A POSTed message, read and checked before rmcp sees it.
struct Message {
    parts: axum::http::request::Parts,
    body: axum::body::Bytes,
    /// Empty for a response, or for JSON that is not a JSON-RPC message (rmcp refuses it).
    method: String,
}

impl Message {
    /// Reads the body (at most `limit` bytes) and checks that it is JSON, so that a body rmcp
    /// would refuse in plain text gets a JSON-RPC error instead.
    async fn read(request: Request, limit: usize) -> Result<Message, McpRequestError> {
        let (parts, body) = request.into_parts();
        // Over the limit, or cut off by a client that went away (it reads no answer then).
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| McpRequestError::TooLarge { limit })?;
        // Checked without building a value (skipping a string does not check its UTF-8, so
        // that is checked first); then only the method is read: rmcp parses the message.
        let text = std::str::from_utf8(&body)
            .map_err(|error| McpRequestError::NotJson(format!("it is not UTF-8: {error}")))?;
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map_err(|error| McpRequestError::NotJson(error.to_string()))?;
        let method = serde_json::from_str::<JsonRpcMethod>(text)
            .ok()
            .and_then(|message| message.method)
            .unwrap_or_default();
        Ok(Message {
            parts,
            body,
            method,
        })
    }

    fn into_request(self) -> Request {
        Request::from_parts(self.parts, axum::body::Body::from(self.body))
    }
}

/// Hands a request to rmcp; a refusal it answers in plain text (a missing `Accept`, a wrong
/// `Content-Type`, JSON that is not a JSON-RPC message) becomes a JSON-RPC error.
async fn answer<S>(
    service: &StreamableHttpService<S, NeverSessionManager>,
    request: Request,
) -> Response
where
    S: rmcp::ServerHandler + Send + 'static,
{
    let response = service.handle(request).await.map(axum::body::Body::new);
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), REFUSAL_LIMIT)
        .await
        .map(|body| String::from_utf8_lossy(&body).trim().to_string())
        .unwrap_or_default();
    let message = match text.lines().next() {
        Some(line) if !line.is_empty() => line.to_string(),
        _ => format!("the MCP request was refused (HTTP {})", status.as_u16()),
    };
    McpRequestError::Refused { status, message }.into_response()
}

/// `POST /mcp/ops`.
pub(crate) async fn ops(State(state): State<AppState>, request: Request) -> Response {
    let message = match Message::read(request, state.body_limit()).await {
        Ok(message) => message,
        Err(error) => return error.into_response(),
    };
    answer(&state.mcp().ops, message.into_request()).await
}

/// `POST /mcp/agents/{terminal_id}`: the caller of every tool is the terminal of the agent
/// token the request carries, else (operator token) the path's. A served `tools/list` tells the
/// orchestrator that the caller's model can see cao's tools now.
pub(crate) async fn agent(
    State(state): State<AppState>,
    Path(path_terminal_id): Path<String>,
    request: Request,
) -> Response {
    // The token guard let an agent token through only on its own terminal's path; its
    // identity is the token's all the same.
    let terminal_id = match request.extensions().get::<Access>() {
        Some(Access::Terminal(terminal_id)) => terminal_id.clone(),
        Some(Access::Operator) | None => path_terminal_id,
    };
    let message = match Message::read(request, state.body_limit()).await {
        Ok(message) => message,
        Err(error) => return error.into_response(),
    };
    tracing::debug!(terminal = %terminal_id, method = %message.method, "agent MCP request");
    let lists_tools = message.method == "tools/list";
    let mut request = message.into_request();
    request
        .extensions_mut()
        .insert(CallerTerminal(terminal_id.clone()));
    let response = answer(&state.mcp().agents, request).await;
    if lists_tools && response.status().is_success() {
        state.orchestrator().agent_listed_tools(&terminal_id);
    }
    response
}
