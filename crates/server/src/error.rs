//! The one error type handlers return, and how each case becomes a `{"detail": …}` response
//! (FastAPI's shape, which CAO clients read); and the error of the MCP endpoints, which
//! answer in JSON-RPC's shape instead.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cao_orchestrator::profile::ProfileError;

use crate::orchestrator::OrchestratorError;

/// Why a request failed; each variant has one status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The orchestrator refused or failed; the status follows the variant.
    #[error(transparent)]
    Orchestrator(#[from] OrchestratorError),
    /// An agent profile could not be found or read.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The request's parameters or body have the wrong shape (422, as FastAPI).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is larger than the configured limit (413).
    #[error("request body is larger than {limit} bytes: send less (the limit guards the server's memory)")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No valid bearer token (401).
    #[error("missing or invalid bearer token: read it from {token_file} (cao does this for you)")]
    Unauthorized {
        /// Where the token lives, shown so a user can fix their client.
        token_file: String,
    },
    /// The Host or Origin guard refused the request (403).
    #[error("{0}")]
    Forbidden(String),
    /// No route has this path (404).
    #[error("Not Found")]
    NoRoute,
    /// The path exists but not with this method (405).
    #[error("Method Not Allowed")]
    MethodNotAllowed,
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Orchestrator(error) => match error {
                OrchestratorError::NotFound(_) => StatusCode::NOT_FOUND,
                OrchestratorError::Invalid(_) => StatusCode::BAD_REQUEST,
                OrchestratorError::Conflict(_) => StatusCode::CONFLICT,
                OrchestratorError::Forbidden(_) => StatusCode::FORBIDDEN,
                OrchestratorError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                OrchestratorError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                OrchestratorError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Profile(error) => match error {
                ProfileError::NotFound { .. } => StatusCode::NOT_FOUND,
                ProfileError::Parse { .. }
                | ProfileError::UnsupportedSource { .. }
                | ProfileError::InvalidEnvKey { .. }
                | ProfileError::Symlink { .. } => StatusCode::BAD_REQUEST,
                ProfileError::Io { .. } | ProfileError::Home(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "{self}");
        }
        let body = Json(serde_json::json!({ "detail": self.to_string() }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// An MCP request refused before the MCP server read it. MCP clients read JSON-RPC, not
/// `{"detail": …}`, so it is answered as a JSON-RPC error; its id is null because the message's
/// own id could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum McpRequestError {
    /// The body is not JSON (400, JSON-RPC parse error).
    #[error("the body is not JSON ({0}): POST one JSON-RPC message as JSON")]
    NotJson(String),
    /// The body is larger than the configured limit (413).
    #[error(
        "the message is larger than {limit} bytes, this server's limit for a request body: \
         send less (put large content in a file and pass its path)"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The MCP server refused the request in plain text (a missing `Accept`, a wrong
    /// `Content-Type`, JSON that is not a JSON-RPC message); its status is kept.
    #[error("{message}")]
    Refused {
        /// The status the MCP server answered with.
        status: StatusCode,
        /// Its text.
        message: String,
    },
}

impl McpRequestError {
    /// The HTTP status this error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            McpRequestError::NotJson(_) => StatusCode::BAD_REQUEST,
            McpRequestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            McpRequestError::Refused { status, .. } => *status,
        }
    }

    /// The JSON-RPC error code: parse error for a body that is not JSON, invalid request else.
    pub(crate) fn code(&self) -> i64 {
        match self {
            McpRequestError::NotJson(_) => -32700,
            McpRequestError::TooLarge { .. } | McpRequestError::Refused { .. } => -32600,
        }
    }
}

impl IntoResponse for McpRequestError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": self.code(), "message": self.to_string() },
        }));
        (self.status(), body).into_response()
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another process holds the port.
    #[error(
        "port {port} on {host} is already in use: stop the other server (cao shutdown / cao-server) or pass --port"
    )]
    PortInUse {
        /// The bind address.
        host: std::net::IpAddr,
        /// The port asked for.
        port: u16,
    },
    /// Binding failed for another reason (permissions, address not on this machine).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The accept loop failed.
    #[error("the HTTP server stopped: {0}")]
    Serve(std::io::Error),
}
