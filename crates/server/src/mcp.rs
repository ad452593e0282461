//! MCP over streamable HTTP: the ops server at `/mcp/ops` and the orchestration server of each
//! agent at `/mcp/agents/{terminal_id}`, the path segment naming the calling terminal.
//!
//! Both are rmcp's `StreamableHttpService` in stateless mode with plain JSON responses: each
//! POST carries one JSON-RPC message and gets its JSON-RPC answer as `application/json` (202
//! with no body for a notification); no session id, no server-to-client stream (GET and DELETE
//! get 405). So any HTTP client, and the thin `cao mcp-server` stdio proxy, can talk to them.
//! They sit behind the same guards as the REST routes (Host, Origin, bearer token), which run
//! before rmcp sees the request; rmcp's own Host check is off so the two lists cannot differ.
//! Nothing times a call out on the server side: a tool call runs until it finishes, the
//! client disconnects (which cancels it) or the server shuts down.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use cao_mcp::{AgentServer, CallerTerminal, OpsServer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

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

/// `POST /mcp/ops`.
pub(crate) async fn ops(State(state): State<AppState>, request: Request) -> Response {
    state
        .mcp()
        .ops
        .handle(request)
        .await
        .map(axum::body::Body::new)
}

/// The method of a JSON-RPC message (a response has none).
#[derive(serde::Deserialize)]
struct JsonRpcMethod {
    method: Option<String>,
}

/// `POST /mcp/agents/{terminal_id}`: the path names the caller for every tool. A served
/// `tools/list` tells the orchestrator that the agent's model can see cao's tools now.
pub(crate) async fn agent(
    State(state): State<AppState>,
    Path(terminal_id): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, state.body_limit()).await {
        Ok(body) => body,
        // Over the limit, or cut off by a client that went away (it reads no answer then).
        Err(_) => {
            return crate::error::ApiError::PayloadTooLarge {
                limit: state.body_limit(),
            }
            .into_response()
        }
    };
    // Only the method is read here (the rest is skipped, not built); rmcp parses the message.
    let method = serde_json::from_slice::<JsonRpcMethod>(&body)
        .ok()
        .and_then(|message| message.method)
        .unwrap_or_default();
    tracing::debug!(terminal = %terminal_id, %method, "agent MCP request");
    let lists_tools = method == "tools/list";
    let mut request = Request::from_parts(parts, axum::body::Body::from(body));
    request
        .extensions_mut()
        .insert(CallerTerminal(terminal_id.clone()));
    let response = state
        .mcp()
        .agents
        .handle(request)
        .await
        .map(axum::body::Body::new);
    if lists_tools && response.status().is_success() {
        state.orchestrator().agent_listed_tools(&terminal_id);
    }
    response
}
