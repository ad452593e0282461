//! The request guards: Host (DNS rebinding), Origin on state-changing methods (CSRF) and the
//! bearer token. Pure checks plus the two middleware functions that apply them.
//!
//! Two kinds of token open the API: the operator token (the token file in the cao home) opens
//! every route, and a terminal's own agent token (the orchestrator knows which terminal it
//! belongs to) opens only `/mcp/agents/{that terminal}`, where it is the caller's identity. So
//! an agent can act only as itself, whatever path it writes.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::{AuthMode, ServerConfig};
use crate::error::ApiError;
use crate::state::AppState;

/// What the guards accept, fixed when the router is built.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    /// Lower-case host names without port; IPv6 literals in brackets.
    allowed_hosts: Vec<String>,
    token: Option<String>,
    token_file: String,
}

impl Guard {
    pub(crate) fn new(config: &ServerConfig, token_file: String) -> Guard {
        let mut allowed_hosts = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "[::1]".to_string(),
        ];
        // An unspecified bind address (0.0.0.0, ::) is not a name any client uses.
        if !config.host.is_unspecified() {
            allowed_hosts.push(match config.host {
                IpAddr::V4(address) => address.to_string(),
                IpAddr::V6(address) => format!("[{address}]"),
            });
        }
        for name in &config.allowed_hosts {
            allowed_hosts.push(name.to_ascii_lowercase());
        }
        let token = match &config.auth {
            AuthMode::Token(token) => Some(token.clone()),
            AuthMode::Disabled => None,
        };
        Guard {
            allowed_hosts,
            token,
            token_file,
        }
    }

    /// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names this server.
    pub(crate) fn host_allowed(&self, authority: &str) -> bool {
        match split_authority(authority) {
            Some(host) => {
                let host = host.to_ascii_lowercase();
                self.allowed_hosts.contains(&host)
            }
            None => false,
        }
    }

    /// Whether an `Origin` value is a page served from this machine: `http(s)://host[:port]`.
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        match authority {
            Some(authority) if !authority.contains('/') => self.host_allowed(authority),
            _ => false,
        }
    }

    /// Who a request acts as, from its `Authorization` header and its path.
    /// `terminal_for_token` names the terminal an agent token belongs to (the orchestrator
    /// knows them). The operator token may call every route; an agent token only its own
    /// terminal's MCP endpoint, whatever auth mode the server runs in; with auth off any other
    /// request is the operator's.
    pub(crate) fn access(
        &self,
        authorization: Option<&str>,
        path: &str,
        terminal_for_token: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Access, Refusal> {
        let presented = authorization.and_then(bearer);
        if let (Some(presented), Some(expected)) = (presented, &self.token) {
            if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
                return Ok(Access::Operator);
            }
        }
        if let Some(terminal_id) = presented.and_then(terminal_for_token) {
            return if path == agent_path(&terminal_id) {
                Ok(Access::Terminal(terminal_id))
            } else {
                Err(Refusal::NotOwnEndpoint { terminal_id })
            };
        }
        match self.token {
            None => Ok(Access::Operator),
            Some(_) => Err(Refusal::NoValidToken),
        }
    }
}

/// Who a request acts as, decided by the token guard and kept in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// The operator token (or auth is off): every route; on an agent's MCP endpoint the path
    /// names the caller.
    Operator,
    /// The agent token of this terminal: its own MCP endpoint only, as itself.
    Terminal(String),
}

/// Why the token guard refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No token, or one that is neither the operator's nor an agent's (401).
    NoValidToken,
    /// An agent token outside its own terminal's MCP endpoint (403).
    NotOwnEndpoint { terminal_id: String },
}

/// The MCP endpoint of a terminal's agent, the only route its agent token opens.
fn agent_path(terminal_id: &str) -> String {
    format!("/mcp/agents/{terminal_id}")
}

/// The token of a `Bearer` authorization value.
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The host part of an authority, or `None` when it is malformed (empty, bad port).
fn split_authority(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    (!host.is_empty() && port_ok).then_some(host)
}

/// Compares without an early exit, so the time taken does not reveal how many leading bytes
/// of a guess were right. Only the length can leak, and the token's length is public.
fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    let difference = presented
        .iter()
        .zip(expected)
        .fold(0u8, |accumulated, (left, right)| {
            accumulated | (left ^ right)
        });
    std::hint::black_box(difference) == 0
}

fn is_state_changing(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).map(|value| value.to_str().unwrap_or(""))
}

/// Host and Origin checks, applied to every route (health included).
pub(crate) async fn check_host_and_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let guard = state.guard();
    let host = header_text(request.headers(), header::HOST)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .unwrap_or("");
    if !guard.host_allowed(host) {
        return Err(ApiError::Forbidden(format!(
            "host '{host}' is not allowed: cao answers only to localhost, 127.0.0.1, [::1] \
             or its bind address (DNS-rebinding guard); use http://127.0.0.1:<port>"
        )));
    }
    if is_state_changing(request.method()) {
        if let Some(origin) = header_text(request.headers(), header::ORIGIN) {
            if !guard.origin_allowed(origin) {
                return Err(ApiError::Forbidden(format!(
                    "origin '{origin}' may not change state here: only pages from localhost, \
                     127.0.0.1 or [::1] may (cross-site request guard)"
                )));
            }
        }
    }
    Ok(next.run(request).await)
}

/// The bearer-token check, applied to every route but the public ones. The caller's
/// [`Access`] goes into the request's extensions for the handlers.
pub(crate) async fn check_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let guard = state.guard();
    let access = guard.access(
        header_text(request.headers(), header::AUTHORIZATION),
        request.uri().path(),
        |token| state.orchestrator().terminal_for_token(token),
    );
    match access {
        Ok(access) => {
            request.extensions_mut().insert(access);
            Ok(next.run(request).await)
        }
        Err(Refusal::NoValidToken) => Err(ApiError::Unauthorized {
            token_file: guard.token_file.clone(),
        }),
        Err(Refusal::NotOwnEndpoint { terminal_id }) => Err(ApiError::Forbidden(format!(
            "this token belongs to terminal {terminal_id}: it may only call {}",
            agent_path(&terminal_id)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;

    fn guard(auth: AuthMode) -> Guard {
        let mut config = ServerConfig::local(auth);
        config.allowed_hosts = vec!["Devbox".to_string()];
        Guard::new(&config, "/home/u/.cao/token".to_string())
    }

    #[test]
    fn hosts() {
        let guard = guard(AuthMode::Disabled);
        for good in [
            "localhost",
            "LOCALHOST:9889",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:9889",
            "devbox:80",
        ] {
            assert!(guard.host_allowed(good), "{good}");
        }
        for bad in [
            "",
            "evil.com",
            "localhost.evil.com",
            "127.0.0.1.nip.io",
            "localhost:",
            "localhost:80x",
            "[::1]x",
            "::1",
            "127.0.0.2",
            "localhost:80:80",
        ] {
            assert!(!guard.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let guard = guard(AuthMode::Disabled);
        for good in [
            "http://localhost:3000",
            "https://127.0.0.1",
            "http://[::1]:8080",
        ] {
            assert!(guard.origin_allowed(good), "{good}");
        }
        for bad in [
            "null",
            "http://evil.com",
            "file://localhost",
            "http://localhost.evil.com",
            "http://localhost/path",
            "localhost",
        ] {
            assert!(!guard.origin_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn tokens() {
        const OPERATOR: &str = "abc123";
        let known = |token: &str| match token {
            "agent-a" => Some("aaaa1111".to_string()),
            "agent-b" => Some("bbbb2222".to_string()),
            _ => None,
        };
        let own = "/mcp/agents/aaaa1111";
        let forbidden = |terminal_id: &str| {
            Err(Refusal::NotOwnEndpoint {
                terminal_id: terminal_id.to_string(),
            })
        };
        let operator = || Ok(Access::Operator);
        let terminal_a = || Ok(Access::Terminal("aaaa1111".to_string()));
        let cases = [
            // (auth, Authorization, path, expected)
            (
                Some(OPERATOR),
                Some("Bearer abc123"),
                "/sessions",
                operator(),
            ),
            (Some(OPERATOR), Some("bearer abc123"), own, operator()),
            (
                Some(OPERATOR),
                Some("Bearer abc123"),
                "/mcp/ops",
                operator(),
            ),
            (Some(OPERATOR), Some("Bearer agent-a"), own, terminal_a()),
            (Some(OPERATOR), Some("Bearer  agent-a "), own, terminal_a()),
            (
                Some(OPERATOR),
                Some("Bearer agent-a"),
                "/mcp/agents/bbbb2222",
                forbidden("aaaa1111"),
            ),
            (
                Some(OPERATOR),
                Some("Bearer agent-a"),
                "/mcp/agents/aaaa1111/x",
                forbidden("aaaa1111"),
            ),
            (
                Some(OPERATOR),
                Some("Bearer agent-a"),
                "/mcp/ops",
                forbidden("aaaa1111"),
            ),
            (
                Some(OPERATOR),
                Some("Bearer agent-a"),
                "/sessions",
                forbidden("aaaa1111"),
            ),
            (
                Some(OPERATOR),
                Some("Bearer agent-a"),
                "/terminals/aaaa1111/input",
                forbidden("aaaa1111"),
            ),
            (
                Some(OPERATOR),
                None,
                "/sessions",
                Err(Refusal::NoValidToken),
            ),
            (Some(OPERATOR), None, own, Err(Refusal::NoValidToken)),
            (
                Some(OPERATOR),
                Some("Bearer abc124"),
                own,
                Err(Refusal::NoValidToken),
            ),
            (
                Some(OPERATOR),
                Some("Bearer abc12"),
                "/sessions",
                Err(Refusal::NoValidToken),
            ),
            (
                Some(OPERATOR),
                Some("Bearer "),
                "/sessions",
                Err(Refusal::NoValidToken),
            ),
            (
                Some(OPERATOR),
                Some("Basic abc123"),
                "/sessions",
                Err(Refusal::NoValidToken),
            ),
            (
                Some(OPERATOR),
                Some("Basic agent-a"),
                own,
                Err(Refusal::NoValidToken),
            ),
            (
                Some(OPERATOR),
                Some("abc123"),
                "/sessions",
                Err(Refusal::NoValidToken),
            ),
            // Auth off: anyone is the operator, but an agent token still binds its holder.
            (None, None, "/sessions", operator()),
            (None, Some("Bearer whatever"), own, operator()),
            (None, Some("Bearer agent-a"), own, terminal_a()),
            (
                None,
                Some("Bearer agent-a"),
                "/sessions",
                forbidden("aaaa1111"),
            ),
        ];
        for (auth, authorization, path, expected) in cases {
            let auth = match auth {
                Some(token) => AuthMode::Token(token.to_string()),
                None => AuthMode::Disabled,
            };
            assert_eq!(
                guard(auth).access(authorization, path, known),
                expected,
                "{authorization:?} on {path}"
            );
        }
    }

    #[test]
    fn the_operator_token_is_never_looked_up_as_an_agent_token() {
        let guard = guard(AuthMode::Token("abc123".to_string()));
        let access = guard.access(Some("Bearer abc123"), "/sessions", |_| {
            panic!("the operator token matched first")
        });
        assert_eq!(access, Ok(Access::Operator));
    }
}
