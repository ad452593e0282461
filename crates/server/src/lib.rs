//! cao's HTTP server: CAO's REST API over the orchestrator, plus server-sent events and an
//! OpenAPI document.
//!
//! What it is: routing, parameter parsing (query strings as CAO sends them, or the same
//! names in a JSON body — the body wins), the guards (Host against DNS rebinding, Origin on
//! state-changing methods against CSRF, a bearer token, a body-size limit) and the mapping of
//! orchestrator errors to FastAPI's `{"detail": "…"}` bodies. Every route is one entry of
//! the table in `routes.rs`; the router and `/openapi.json` are both built from it.
//!
//! MCP over streamable HTTP is served beside the REST routes, from the same table and behind
//! the same guards: `POST /mcp/ops` is the ops server for agents outside cao (CAO's
//! `cao-ops-mcp`) and `POST /mcp/agents/{terminal_id}` the orchestration server of the agent in
//! that terminal (CAO's `cao-mcp-server`), the path segment being the caller's identity. Both
//! are stateless with plain JSON responses (one JSON-RPC message per POST, no session id, no
//! server-to-client stream; GET and DELETE get 405) and never time a call out. The tools live
//! in `cao-mcp`; see `mcp.rs`.
//!
//! Connections are served by hyper directly (`connection.rs`): a request head must arrive
//! within `header_read_timeout` of its first bytes and a connection with no request in flight
//! closes after `idle_timeout`; requests being served are never timed.
//!
//! What it is not: any orchestration. Each handler turns one request into one
//! [`Orchestrator`] call and its result into JSON. It does not parse signals either: the
//! caller of [`serve`] passes the shutdown future.
//!
//! Differences from CAO 2.5.4's FastAPI server:
//! - auth is on by default (bearer token from the token file in the cao home); `/health`
//!   stays open for probes;
//! - a foreign Host is refused with 403 (Starlette answers 400);
//! - `DELETE /sessions/{s}` also lists the removed `terminal_ids`;
//! - `GET /events` is always on (CAO gates it behind `CAO_MCP_APPS_ENABLED`) and takes an
//!   optional `terminal_id` filter; a slow reader gets a `{"type":"lagged","missed":n}` event;
//! - `sender_id` on input and `description` on session creation are accepted and ignored;
//!   CAO-only parameters (`use_worktree`, `defer_init`, `idempotency_key`, `engine`, …) are
//!   ignored; parameter-shape errors are 422 as in FastAPI, with a readable `detail` string;
//! - MCP is served over HTTP by this one process (CAO runs one Python stdio MCP server per
//!   agent); `cao mcp-server` is a thin stdio proxy to `/mcp/agents/{terminal_id}`;
//! - not served yet: inbox, run-step/handoff results, flows, skills, the PTY WebSocket, the
//!   web UI and CAO's newer surfaces (workflows, memory, plugins, AG-UI).

mod config;
mod connection;
mod error;
mod guard;
mod handlers;
mod mcp;
mod openapi;
mod params;
mod routes;
mod state;

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::{
    AuthMode, ServerConfig, DEFAULT_BODY_LIMIT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_PORT,
};
pub use error::{ApiError, ServerError};

/// The orchestrator API this server translates to.
pub(crate) use cao_orchestrator::service as orchestrator;
pub use cao_orchestrator::service::Orchestrator;

/// The API as an axum router, guards included. Long-lived streams (`/events`) end only when
/// their client leaves; [`serve`] also ends them on shutdown.
pub fn router(orchestrator: Orchestrator, config: &ServerConfig) -> Router {
    // The sender is dropped at once, which the state reads as "never shutting down".
    let (_never, shutdown) = watch::channel(false);
    build_router(orchestrator, config, shutdown, CancellationToken::new())
}

fn build_router(
    orchestrator: Orchestrator,
    config: &ServerConfig,
    shutdown: watch::Receiver<bool>,
    stop_mcp: CancellationToken,
) -> Router {
    let token_file = orchestrator.home().token_file().display().to_string();
    let guard = guard::Guard::new(config, token_file);
    let mcp = mcp::McpEndpoints::new(&orchestrator, config.body_limit, stop_mcp);
    let state = state::AppState::new(orchestrator, guard, mcp, config.body_limit, shutdown);
    let mut public = Router::new();
    let mut protected = Router::new();
    for route in routes::ROUTES {
        let method_router = (route.handler)(route.verb.filter());
        if route.public {
            public = public.route(route.path, method_router);
        } else {
            protected = protected.route(route.path, method_router);
        }
    }
    let protected = protected.route_layer(from_fn_with_state(state.clone(), guard::check_token));
    public
        .merge(protected)
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(from_fn_with_state(
            state.clone(),
            guard::check_host_and_origin,
        ))
        .with_state(state)
}

/// Binds `config.host:config.port`, serves until `shutdown` resolves, then drains open
/// requests. Fails at once, in one line, when the port is taken.
pub async fn serve(
    orchestrator: Orchestrator,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = bind(config).await?;
    serve_on(listener, orchestrator, config, shutdown).await
}

/// Binds the configured address, mapping "address in use" to [`ServerError::PortInUse`].
pub async fn bind(config: &ServerConfig) -> Result<TcpListener, ServerError> {
    let addr = SocketAddr::new(config.host, config.port);
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            ServerError::PortInUse {
                host: config.host,
                port: config.port,
            }
        } else {
            ServerError::Bind { addr, source }
        }
    })
}

/// Serves on a listener the caller bound (tests bind port 0 and read the port back).
pub async fn serve_on(
    listener: TcpListener,
    orchestrator: Orchestrator,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop, stopping) = watch::channel(false);
    let stop_mcp = CancellationToken::new();
    let app = build_router(orchestrator, config, stopping, stop_mcp.clone());
    match listener.local_addr() {
        Ok(addr) => tracing::info!("cao-server listening on http://{addr}"),
        Err(error) => tracing::warn!("cao-server listening (address unknown: {error})"),
    }
    let timeouts = connection::Timeouts {
        header_read: config.header_read_timeout,
        idle: config.idle_timeout,
    };
    connection::serve(listener, app, timeouts, async move {
        shutdown.await;
        tracing::info!("cao-server shutting down");
        // No receiver left only means no stream is open; nothing to end.
        let _ = stop.send(true);
        // MCP calls still running (a handoff can run for an hour) end now.
        stop_mcp.cancel();
    })
    .await;
    Ok(())
}
