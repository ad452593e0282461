//! The request guards: Host (DNS rebinding), Origin on state-changing methods (CSRF) and the
//! bearer token. Pure checks plus the two middleware functions that apply them.

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

    /// Whether the `Authorization` header carries the token (always true when auth is off).
    pub(crate) fn token_ok(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, presented)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && constant_time_eq(presented.trim().as_bytes(), expected.as_bytes())
    }
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

/// The bearer-token check, applied to every route but the public ones.
pub(crate) async fn check_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let guard = state.guard();
    if guard.token_ok(header_text(request.headers(), header::AUTHORIZATION)) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized {
            token_file: guard.token_file.clone(),
        })
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
        let token_guard = guard(AuthMode::Token("abc123".to_string()));
        assert!(token_guard.token_ok(Some("Bearer abc123")));
        assert!(token_guard.token_ok(Some("bearer abc123")));
        assert!(!token_guard.token_ok(None));
        assert!(!token_guard.token_ok(Some("Bearer abc124")));
        assert!(!token_guard.token_ok(Some("Bearer abc12")));
        assert!(!token_guard.token_ok(Some("Basic abc123")));
        assert!(!token_guard.token_ok(Some("abc123")));
        assert!(guard(AuthMode::Disabled).token_ok(None));
    }
}
