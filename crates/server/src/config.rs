//! How the server listens and whom it answers: address, bearer-token mode, extra host names,
//! connection timeouts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use cao_orchestrator::home::{CaoHome, HomeError};

/// CAO's default port (`CAO_API_PORT`).
pub const DEFAULT_PORT: u16 = 9889;

/// The largest request body accepted; larger ones get 413.
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// How long a client may take to send a request head once its first bytes arrived.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may stay open with no request in flight. Longer than the 90 s for
/// which reqwest (the CLI's client) keeps an idle connection, so that the client, not the
/// server, closes a pooled connection and no request is sent on one the server is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether requests must carry `Authorization: Bearer <token>`.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Every route except `/health` requires this token.
    Token(String),
    /// No token is checked (the Host and Origin guards still apply).
    Disabled,
}

impl AuthMode {
    /// Token mode with the server token of `home` (created 0600 on first use).
    pub fn from_home(home: &CaoHome) -> Result<AuthMode, HomeError> {
        Ok(AuthMode::Token(home.server_token()?))
    }
}

// Hand-written so the token never reaches a log line.
impl fmt::Debug for AuthMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::Token(_) => formatter.write_str("Token(<redacted>)"),
            AuthMode::Disabled => formatter.write_str("Disabled"),
        }
    }
}

/// Where and how the server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to bind (CAO: `CAO_API_HOST`, default 127.0.0.1).
    pub host: IpAddr,
    /// The port to bind; 0 picks a free one (CAO: `CAO_API_PORT`, default 9889).
    pub port: u16,
    /// Bearer-token mode.
    pub auth: AuthMode,
    /// Host names accepted in `Host` and `Origin` besides localhost, 127.0.0.1, [::1] and the
    /// bind address (for example a machine name when binding 0.0.0.0). Without a port.
    pub allowed_hosts: Vec<String>,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// A connection whose request head is not complete this long after its first bytes is
    /// closed (slow or stalled clients).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this long. A request being
    /// served (an `/events` stream, a long MCP call) is never timed.
    pub idle_timeout: Duration,
}

impl ServerConfig {
    /// 127.0.0.1:9889 with the given auth mode and the default limits.
    pub fn local(auth: AuthMode) -> ServerConfig {
        ServerConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            auth,
            allowed_hosts: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }

    /// The same configuration on another port.
    pub fn with_port(mut self, port: u16) -> ServerConfig {
        self.port = port;
        self
    }
}
