//! The one error type handlers return, and how each case becomes a `{"detail": …}` response
//! (FastAPI's shape, which CAO clients read).

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
                | ProfileError::InvalidEnvKey { .. } => StatusCode::BAD_REQUEST,
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
