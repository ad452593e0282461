//! `cao mcp-server` and `cao ops-mcp-server`: MCP over stdio as a thin proxy to cao server's
//! MCP endpoints (`/mcp/agents/$CAO_TERMINAL_ID`, `/mcp/ops`).
//!
//! Each line of stdin is one JSON-RPC message. It is POSTed as it is, with a bearer token (for
//! the agent endpoint the terminal's own, `CAO_TERMINAL_TOKEN`, when set; else the operator's
//! from the cao home) and `Accept: application/json, text/event-stream`; every JSON-RPC message of
//! the answer (a JSON body, or the `data:` of each server-sent event) is written to stdout on
//! one line, as soon as it arrives. Messages are forwarded concurrently, so a `ping` is answered
//! while a long `handoff` runs; no request has a time limit, only connecting does. A request
//! that cannot be forwarded (no server, no `CAO_TERMINAL_ID`, a refused token) gets a JSON-RPC
//! error response naming the cause and the fix, and one line on stderr; a notification gets
//! nothing. The proxy keeps the `Mcp-Session-Id` a server sets and the protocol version
//! `initialize` settled on, and sends them with later messages, as an HTTP client does.
//!
//! A bad line never ends the session: a line that is not UTF-8 or not JSON gets a JSON-RPC parse
//! error (id null), and a line longer than [`MAX_LINE_BYTES`] is skipped to its newline without
//! being held in memory and gets an error naming the limit. Only the end of stdin (or a failure
//! to read it) ends the proxy, and then after every message in flight is answered.
//!
//! It loads nothing before the first line arrives (no HTTP client, no token read, no server
//! start), so `initialize` is answered in a few milliseconds and the process stays small.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, OnceCell};
use tokio::task::JoinSet;

use crate::client;

/// Connecting to a server on this machine takes microseconds; longer means it is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// JSON-RPC's "server error" code, for failures of the proxy itself.
const PROXY_ERROR: i64 = -32000;
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// The longest line (one JSON-RPC message) read from stdin: 8 MiB, twice cao server's default
/// body limit, so every message the server could take fits. Only this much of a line is ever
/// buffered; a longer one is skipped to its newline and answered with an error.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Which of cao server's MCP endpoints the proxy forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The orchestration server of the agent in this terminal (`CAO_TERMINAL_ID`).
    Agent { terminal_id: Option<String> },
    /// The operations server; the proxy starts cao server when none answers.
    Ops,
}

impl Endpoint {
    /// The agent endpoint of the terminal named by `CAO_TERMINAL_ID`.
    pub fn agent_from_env() -> Endpoint {
        Endpoint::Agent {
            terminal_id: std::env::var("CAO_TERMINAL_ID")
                .ok()
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty()),
        }
    }

    /// The path to POST to, or why there is none.
    fn path(&self) -> Result<String, String> {
        match self {
            Endpoint::Ops => Ok("/mcp/ops".into()),
            Endpoint::Agent {
                terminal_id: Some(id),
            } if id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Ok(format!("/mcp/agents/{id}"))
            }
            Endpoint::Agent {
                terminal_id: Some(id),
            } => Err(format!(
                "CAO_TERMINAL_ID '{}' is not a terminal id: cao mcp-server must run inside a \
                 terminal started by cao, which sets it",
                id.escape_debug()
            )),
            Endpoint::Agent { terminal_id: None } => Err(
                "CAO_TERMINAL_ID is not set: cao mcp-server must run inside a terminal started \
                 by cao, which sets it (an agent's MCP config passes it on)"
                    .into(),
            ),
        }
    }
}

/// Where the proxy forwards to and what it remembers between messages.
pub struct Proxy {
    endpoint: Endpoint,
    /// `http://host:port`.
    base: String,
    /// The token file; read per message, so a server started after the proxy is usable.
    token_file: Option<std::path::PathBuf>,
    /// The agent token of this terminal (`CAO_TERMINAL_TOKEN`), sent instead of the token
    /// file's: it binds every call to this terminal.
    terminal_token: Option<String>,
    http: OnceCell<reqwest::Client>,
    server_started: OnceCell<()>,
    session_id: Mutex<Option<String>>,
    protocol_version: Mutex<Option<String>>,
}

impl Proxy {
    /// A proxy to the server named by `CAO_API_HOST`/`CAO_API_PORT`, with the terminal's own
    /// token (`CAO_TERMINAL_TOKEN`, agent endpoint only) or else the token of `CAO_HOME_DIR`.
    pub fn from_env(endpoint: Endpoint) -> Proxy {
        let (host, port) = client::server_address();
        let token_file = cao_orchestrator::home::CaoHome::from_env()
            .ok()
            .map(|home| home.token_file());
        // An agent token opens only its terminal's endpoint; the ops endpoint needs the
        // operator's.
        let terminal_token = match endpoint {
            Endpoint::Agent { .. } => std::env::var("CAO_TERMINAL_TOKEN").ok(),
            Endpoint::Ops => None,
        };
        Proxy::new(endpoint, &host, port, token_file).with_terminal_token(terminal_token)
    }

    /// Sends this agent token instead of the token file's (an empty one counts as none).
    pub fn with_terminal_token(mut self, token: Option<String>) -> Proxy {
        self.terminal_token = token
            .map(|token| token.trim().to_string())
            .filter(|token| !token.is_empty());
        self
    }

    pub fn new(
        endpoint: Endpoint,
        host: &str,
        port: u16,
        token_file: Option<std::path::PathBuf>,
    ) -> Proxy {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Proxy {
            endpoint,
            base: format!("http://{host}:{port}"),
            token_file,
            terminal_token: None,
            http: OnceCell::new(),
            server_started: OnceCell::new(),
            session_id: Mutex::new(None),
            protocol_version: Mutex::new(None),
        }
    }

    /// The configuration problem that makes every message fail, if any (said once at start).
    pub fn problem(&self) -> Option<String> {
        self.endpoint.path().err()
    }

    async fn http(&self) -> Result<&reqwest::Client, String> {
        self.http
            .get_or_try_init(|| async {
                reqwest::Client::builder()
                    .no_proxy()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_nodelay(true)
                    .build()
                    .map_err(|error| format!("cannot build the HTTP client: {error}"))
            })
            .await
    }

    /// For the ops endpoint: start cao server once, when none answers.
    async fn ensure_server(&self) -> Result<(), String> {
        if self.endpoint != Endpoint::Ops {
            return Ok(());
        }
        // Only success is remembered: after a failed start, the next message tries again
        // (the user may have started the server by hand meanwhile).
        self.server_started
            .get_or_try_init(|| async {
                let client = client::Client::from_env().map_err(|error| format!("{error:#}"))?;
                client
                    .ensure_server()
                    .await
                    .map_err(|error| format!("{error:#}"))
            })
            .await
            .map(|_| ())
    }

    fn token(&self) -> Option<String> {
        if let Some(token) = &self.terminal_token {
            return Some(token.clone());
        }
        cao_orchestrator::home::client_token(self.token_file.as_ref()?)
    }

    /// Forwards one message; returns the lines to write (JSON-RPC messages) through `out`.
    async fn forward(&self, line: String, out: &mpsc::UnboundedSender<String>) {
        let message: Value = match serde_json::from_str(&line) {
            Ok(message) => message,
            Err(error) => {
                let text =
                    format!("the line is not JSON ({error}): send one JSON-RPC message per line");
                eprintln!("cao mcp proxy: {text}");
                let _ = out.send(error_response(&Value::Null, PARSE_ERROR, &text));
                return;
            }
        };
        let id = request_id(&message);
        let fail = |text: String| {
            eprintln!("cao mcp proxy: {text}");
            if let Some(id) = &id {
                let _ = out.send(error_response(id, PROXY_ERROR, &text));
            }
        };
        let path = match self.endpoint.path() {
            Ok(path) => path,
            Err(text) => return fail(text),
        };
        if let Err(text) = self.ensure_server().await {
            return fail(text);
        }
        let http = match self.http().await {
            Ok(http) => http,
            Err(text) => return fail(text),
        };
        let url = format!("{}{path}", self.base);
        let mut request = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            )
            .body(line);
        if let Some(token) = self.token() {
            request = request.bearer_auth(token);
        }
        if let Some(session_id) = lock(&self.session_id).clone() {
            request = request.header("Mcp-Session-Id", session_id);
        }
        for (name, value) in protocol_headers(&message, lock(&self.protocol_version).as_deref()) {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return fail(format!(
                    "cao server is not reachable at {}: {}; start it with `cao server`",
                    self.base,
                    root_cause(&error)
                ))
            }
        };
        if let Some(session_id) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok())
        {
            *lock(&self.session_id) = Some(session_id.to_string());
        }
        let status = response.status();
        let is_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if status.is_success() && is_stream {
            let mut events = SseMessages::default();
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(error) => {
                        return fail(format!(
                            "the answer from {url} broke off: {}",
                            root_cause(&error)
                        ))
                    }
                };
                for data in events.push(&chunk) {
                    self.emit(&data, out);
                }
            }
            return;
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return fail(format!(
                    "the answer from {url} broke off: {}",
                    root_cause(&error)
                ))
            }
        };
        let text = String::from_utf8_lossy(&body);
        if status.is_success() {
            if !text.trim().is_empty() {
                self.emit(&text, out);
            }
            return;
        }
        // An HTTP error whose body is a JSON-RPC message is the server's answer; pass it on.
        if let Ok(mut value) = serde_json::from_str::<Value>(&text) {
            if value.get("jsonrpc").is_some() {
                // A body the server refused unread (too large, not JSON) gets an error with id
                // null; the client matches answers by id, so it gets the request's own.
                if value.get("id").is_some_and(Value::is_null) {
                    match &id {
                        Some(id) => value["id"] = id.clone(),
                        None => {
                            let reason = value.pointer("/error/message").and_then(Value::as_str);
                            eprintln!(
                                "cao mcp proxy: cao server refused a notification (HTTP {}): {}",
                                status.as_u16(),
                                reason.unwrap_or("no reason given")
                            );
                            return;
                        }
                    }
                }
                self.emit(&value.to_string(), out);
                return;
            }
            if let Some(detail) = value.get("detail").and_then(Value::as_str) {
                return fail(format!(
                    "cao server refused the message (HTTP {}): {detail}",
                    status.as_u16()
                ));
            }
        }
        let first_line = text.lines().next().unwrap_or("").trim();
        fail(format!(
            "cao server refused the message (HTTP {}){}{first_line}",
            status.as_u16(),
            if first_line.is_empty() { "" } else { ": " }
        ))
    }

    /// Writes one JSON-RPC message on one line, remembering the protocol version an
    /// `initialize` result settles on.
    fn emit(&self, data: &str, out: &mpsc::UnboundedSender<String>) {
        match serde_json::from_str::<Value>(data) {
            Ok(value) => {
                if let Some(version) = value
                    .pointer("/result/protocolVersion")
                    .and_then(Value::as_str)
                    .filter(|_| value.pointer("/result/serverInfo").is_some())
                {
                    *lock(&self.protocol_version) = Some(version.to_string());
                }
                let _ = out.send(value.to_string());
            }
            Err(error) => {
                eprintln!("cao mcp proxy: the server sent a message that is not JSON ({error})")
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is one assignment or clone; a poisoned lock holds a valid value.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_connect() && error.is_timeout() {
        return "connecting timed out".into();
    }
    source.to_string()
}

/// The id of a request (a message with a method and an id), which its answer must carry.
pub fn request_id(message: &Value) -> Option<Value> {
    let object = message.as_object()?;
    if object.contains_key("method") {
        object.get("id").cloned()
    } else {
        None
    }
}

/// The protocol headers a message travels with. A message carrying its own protocol version
/// (`_meta`, the stateless protocol of 2026-07-28 and later) is sent with that version and the
/// `Mcp-Method`/`Mcp-Name` headers that protocol requires; any other message with the version
/// `initialize` settled on, if any.
pub fn protocol_headers(message: &Value, negotiated: Option<&str>) -> Vec<(&'static str, String)> {
    let own_version = message
        .pointer("/params/_meta")
        .and_then(|meta| meta.get("io.modelcontextprotocol/protocolVersion"))
        .and_then(Value::as_str);
    let Some(version) = own_version else {
        return negotiated
            .map(|version| vec![("MCP-Protocol-Version", version.to_string())])
            .unwrap_or_default();
    };
    let mut headers = vec![("MCP-Protocol-Version", version.to_string())];
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return headers;
    };
    headers.push(("Mcp-Method", method.to_string()));
    let name_key = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    };
    if let Some(name) = name_key
        .and_then(|key| message.get("params")?.get(key))
        .and_then(Value::as_str)
    {
        headers.push(("Mcp-Name", header_text(name)));
    }
    headers
}

/// A header value as the MCP standard headers encode it: printable ASCII as it is, anything
/// else as `=?base64?…?=`.
fn header_text(value: &str) -> String {
    let plain = !value.starts_with([' ', '\t'])
        && !value.ends_with([' ', '\t'])
        && value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !value.starts_with("=?base64?");
    if plain {
        return value.to_string();
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::from("=?base64?");
    for chunk in value.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                encoded.push(char::from(
                    ALPHABET[((bits >> (18 - 6 * index)) & 63) as usize],
                ));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded.push_str("?=");
    encoded
}

/// A JSON-RPC error response on one line.
pub fn error_response(id: &Value, code: i64, message: &str) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    })
    .to_string()
}

/// Splits a server-sent event stream into the `data` of each event, chunk by chunk.
#[derive(Debug, Default)]
pub struct SseMessages {
    pending: String,
}

impl SseMessages {
    /// Takes the next chunk of the stream; returns the data of every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending
            .push_str(&String::from_utf8_lossy(chunk).replace("\r\n", "\n"));
        let mut messages = Vec::new();
        while let Some(end) = self.pending.find("\n\n") {
            let event: String = self.pending.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|data| data.strip_prefix(' ').unwrap_or(data))
                .collect();
            let data = data.join("\n");
            if !data.trim().is_empty() {
                messages.push(data);
            }
        }
        messages
    }
}

/// One line of input.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The bytes before the newline, without it (nor a `\r` before it).
    Bytes(Vec<u8>),
    /// A line longer than the cap, skipped; how long it was, in bytes.
    TooLong { length: usize },
}

/// Reads the next line, buffering at most `cap` bytes of it; `None` once the input ended. A
/// last line without a newline counts as a line.
async fn next_line(
    input: &mut (impl AsyncBufRead + Unpin),
    cap: usize,
) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut length = 0usize;
    let mut read_any = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            if !read_any {
                return Ok(None);
            }
            break;
        }
        read_any = true;
        let newline = available.iter().position(|&byte| byte == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        length = length.saturating_add(part.len());
        if length <= cap {
            line.extend_from_slice(part);
        } else if line.capacity() > 0 {
            line = Vec::new();
        }
        let used = newline.map_or(available.len(), |index| index + 1);
        input.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if length > cap {
        return Ok(Some(Line::TooLong { length }));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(Line::Bytes(line)))
}

/// Answers a line that cannot be forwarded: one line on stderr, a JSON-RPC error with id null
/// (its id cannot be read) on stdout.
fn refuse_line(out: &mpsc::UnboundedSender<String>, code: i64, text: &str) {
    eprintln!("cao mcp proxy: {text}");
    let _ = out.send(error_response(&Value::Null, code, text));
}

/// Reads messages from `input` until it ends, forwarding each concurrently, and writes the
/// answers to `output` as they complete. Returns once every forwarded message is answered,
/// even when reading `input` failed (that error is returned after).
pub async fn serve(
    proxy: Arc<Proxy>,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin + Send + 'static,
) -> std::io::Result<()> {
    let (out, mut lines_out) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(line) = lines_out.recv().await {
            output.write_all(line.as_bytes()).await?;
            output.write_all(b"\n").await?;
            output.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut in_flight = JoinSet::new();
    let mut input = BufReader::new(input);
    let read_error = loop {
        let bytes = match next_line(&mut input, MAX_LINE_BYTES).await {
            Ok(Some(Line::Bytes(bytes))) => bytes,
            Ok(Some(Line::TooLong { length })) => {
                refuse_line(
                    &out,
                    INVALID_REQUEST,
                    &format!(
                        "the line is {length} bytes, over cao mcp-server's limit of \
                         {MAX_LINE_BYTES} bytes (8 MiB) per message, and was skipped: send \
                         smaller messages (put large content in a file and pass its path)"
                    ),
                );
                continue;
            }
            Ok(None) => break None,
            Err(error) => break Some(error),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(error) => {
                refuse_line(
                    &out,
                    PARSE_ERROR,
                    &format!(
                        "the line is not UTF-8 ({}): send one JSON-RPC message per line, as \
                         UTF-8 JSON",
                        error.utf8_error()
                    ),
                );
                continue;
            }
        };
        let proxy = proxy.clone();
        let out = out.clone();
        in_flight.spawn(async move { proxy.forward(line, &out).await });
        // Reap finished calls so a long session does not accumulate them.
        while in_flight.try_join_next().is_some() {}
    };
    if let Some(error) = &read_error {
        eprintln!("cao mcp proxy: reading stdin failed ({error}); answering what is in flight");
    }
    while in_flight.join_next().await.is_some() {}
    drop(out);
    let written = match writer.await {
        Ok(result) => result,
        Err(error) => Err(std::io::Error::other(error)),
    };
    match read_error {
        Some(error) => Err(error),
        None => written,
    }
}

/// Runs the proxy on stdin/stdout in a current-thread runtime.
pub fn run(endpoint: Endpoint) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let proxy = Arc::new(Proxy::from_env(endpoint));
        if let Some(problem) = proxy.problem() {
            eprintln!("cao mcp proxy: {problem}");
        }
        serve(proxy, tokio::io::stdin(), tokio::io::stdout()).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    #[test]
    fn server_sent_events_split_into_their_data() {
        let mut events = SseMessages::default();
        assert!(events.push(b"retry: 3000\n\nid: 1\nda").is_empty());
        assert_eq!(
            events.push(b"ta: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: {\"b\":\ndata: 2}\n\n"),
            ["{\"a\":1}", "{\"b\":\n2}"]
        );
        assert!(events.push(b"data:\n\n").is_empty());
    }

    #[test]
    fn only_requests_get_answers() {
        assert_eq!(
            request_id(&json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})),
            Some(json!(7))
        );
        assert_eq!(
            request_id(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            None
        );
        assert_eq!(
            request_id(&json!({"jsonrpc": "2.0", "id": 7, "result": {}})),
            None
        );
        let error: Value =
            serde_json::from_str(&error_response(&json!("a"), -32000, "no")).unwrap();
        assert_eq!(error["id"], "a");
        assert_eq!(error["error"]["code"], -32000);
    }

    #[test]
    fn messages_carry_the_protocol_headers_of_their_generation() {
        let legacy = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        assert!(protocol_headers(&legacy, None).is_empty());
        assert_eq!(
            protocol_headers(&legacy, Some("2025-06-18")),
            [("MCP-Protocol-Version", "2025-06-18".to_string())]
        );
        let stateless = json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {
                "name": "list_siblings",
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"},
            },
        });
        assert_eq!(
            protocol_headers(&stateless, Some("2025-06-18")),
            [
                ("MCP-Protocol-Version", "2026-07-28".to_string()),
                ("Mcp-Method", "tools/call".to_string()),
                ("Mcp-Name", "list_siblings".to_string()),
            ]
        );
        assert_eq!(header_text("héllo"), "=?base64?aMOpbGxv?=");
        assert_eq!(header_text(" a"), "=?base64?IGE=?=");
        assert_eq!(header_text("ab"), "ab");
    }

    #[test]
    fn the_agent_endpoint_needs_a_terminal_id() {
        assert_eq!(
            Endpoint::Agent {
                terminal_id: Some("1a2b3c4d".into())
            }
            .path(),
            Ok("/mcp/agents/1a2b3c4d".into())
        );
        let missing = Endpoint::Agent { terminal_id: None }.path().unwrap_err();
        assert!(
            missing.starts_with("CAO_TERMINAL_ID is not set: "),
            "{missing}"
        );
        assert!(Endpoint::Agent {
            terminal_id: Some("../x".into())
        }
        .path()
        .is_err());
        assert_eq!(Endpoint::Ops.path(), Ok("/mcp/ops".into()));
    }

    async fn run_lines(proxy: Proxy, input: &str) -> Vec<Value> {
        run_bytes(Arc::new(proxy), input.as_bytes().to_vec()).await
    }

    async fn run_bytes(proxy: Arc<Proxy>, input: Vec<u8>) -> Vec<Value> {
        let (mut client, server_side) = tokio::io::duplex(1 << 16);
        let (read_half, write_half) = tokio::io::split(server_side);
        let feeder = tokio::spawn(async move {
            client.write_all(&input).await.unwrap();
            client.shutdown().await.unwrap();
            let mut text = String::new();
            client.read_to_string(&mut text).await.unwrap();
            text
        });
        serve(proxy, read_half, write_half).await.unwrap();
        let text = feeder.await.unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn without_a_terminal_id_requests_fail_clearly_and_notifications_stay_silent() {
        let proxy = Proxy::new(Endpoint::Agent { terminal_id: None }, "127.0.0.1", 1, None);
        let answers = run_lines(
            proxy,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}\n\
             {\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n\
             not json\n",
        )
        .await;
        assert_eq!(answers.len(), 2, "{answers:?}");
        let initialize = answers.iter().find(|a| a["id"] == 1).unwrap();
        assert!(initialize["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must run inside a terminal started by cao"));
        let parse = answers.iter().find(|a| a["id"].is_null()).unwrap();
        assert_eq!(parse["error"]["code"], PARSE_ERROR);
    }

    #[tokio::test]
    async fn an_absent_server_is_named_with_the_fix() {
        // A port that was just free: nothing listens there.
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let proxy = Proxy::new(
            Endpoint::Agent {
                terminal_id: Some("1a2b3c4d".into()),
            },
            "127.0.0.1",
            port,
            None,
        );
        let answers = run_lines(
            proxy,
            "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"}\n",
        )
        .await;
        let message = answers[0]["error"]["message"].as_str().unwrap();
        assert_eq!(answers[0]["id"], "x");
        assert!(
            message.starts_with(&format!(
                "cao server is not reachable at http://127.0.0.1:{port}: "
            )),
            "{message}"
        );
        assert!(message.ends_with("start it with `cao server`"), "{message}");
    }

    /// One canned HTTP answer per connection; returns the request heads it saw.
    async fn canned_server(answers: Vec<String>) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Read the head and the body (Content-Length) of one request.
                loop {
                    let count = stream.read(&mut buffer).await.unwrap();
                    request.extend_from_slice(&buffer[..count]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|line| {
                                line.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|value| value.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            heads.push(head.to_string());
                            break;
                        }
                    }
                }
                stream.write_all(answer.as_bytes()).await.unwrap();
                stream.shutdown().await.unwrap();
            }
            heads
        });
        (port, task)
    }

    #[tokio::test]
    async fn events_are_forwarded_one_per_line_and_the_session_id_is_kept() {
        let stream = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nmcp-session-id: s-1\r\n\
            connection: close\r\n\r\n\
            data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n\
            data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\",\"serverInfo\":{}}}\n\n";
        let json_answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
            content-length: 36\r\nconnection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}";
        let (port, server) = canned_server(vec![stream.to_string(), json_answer.to_string()]).await;
        let token_dir = tempfile::tempdir().unwrap();
        let token_file = token_dir.path().join("server.token");
        std::fs::write(&token_file, "secret\n").unwrap();
        let proxy = Arc::new(Proxy::new(
            Endpoint::Ops,
            "127.0.0.1",
            port,
            Some(token_file),
        ));
        // Ops would start a server when none answers; this one answers, so mark it started.
        proxy.server_started.set(()).unwrap();
        let (mut client, server_side) = tokio::io::duplex(1 << 16);
        let (read_half, write_half) = tokio::io::split(server_side);
        let serving = tokio::spawn(serve(proxy, read_half, write_half));
        client
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}\n")
            .await
            .unwrap();
        let mut reader = BufReader::new(client);
        let mut first = String::new();
        reader.read_line(&mut first).await.unwrap();
        let mut second = String::new();
        reader.read_line(&mut second).await.unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&first).unwrap()["method"],
            "notifications/progress"
        );
        assert_eq!(serde_json::from_str::<Value>(&second).unwrap()["id"], 1);
        let mut client = reader.into_inner();
        client
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n")
            .await
            .unwrap();
        client.shutdown().await.unwrap();
        let mut rest = String::new();
        client.read_to_string(&mut rest).await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(rest.trim()).unwrap()["id"], 2);
        serving.await.unwrap().unwrap();
        let heads = server.await.unwrap();
        let first_head = heads[0].to_ascii_lowercase();
        assert!(first_head.starts_with("post /mcp/ops "), "{first_head}");
        assert!(
            first_head.contains("authorization: bearer secret"),
            "{first_head}"
        );
        assert!(
            first_head.contains("accept: application/json, text/event-stream"),
            "{first_head}"
        );
        let second_head = heads[1].to_ascii_lowercase();
        assert!(second_head.contains("mcp-session-id: s-1"), "{second_head}");
        assert!(
            second_head.contains("mcp-protocol-version: 2025-06-18"),
            "{second_head}"
        );
    }

    async fn lines_of(input: &[u8], buffer: usize, cap: usize) -> Vec<Line> {
        let mut reader = BufReader::with_capacity(buffer, input);
        let mut lines = Vec::new();
        while let Some(line) = next_line(&mut reader, cap).await.unwrap() {
            lines.push(line);
        }
        lines
    }

    #[tokio::test]
    async fn lines_are_read_as_bytes_and_long_ones_skipped_to_their_end() {
        let bytes = |text: &[u8]| Line::Bytes(text.to_vec());
        // (input, cap, lines); each read with a 3-byte buffer too, so lines span many reads.
        let cases: [(&[u8], usize, Vec<Line>); 6] = [
            (b"", 8, vec![]),
            (
                b"ab\r\n\ncd",
                8,
                vec![bytes(b"ab"), bytes(b""), bytes(b"cd")],
            ),
            (b"\xff\xfe\n{}\n", 8, vec![bytes(b"\xff\xfe"), bytes(b"{}")]),
            (b"12345678\n", 8, vec![bytes(b"12345678")]),
            (
                b"123456789\nok\n",
                8,
                vec![Line::TooLong { length: 9 }, bytes(b"ok")],
            ),
            (
                b"ok\n0123456789abcdef",
                4,
                vec![bytes(b"ok"), Line::TooLong { length: 16 }],
            ),
        ];
        for (input, cap, expected) in cases {
            for buffer in [3, 64] {
                assert_eq!(
                    lines_of(input, buffer, cap).await,
                    expected,
                    "{:?} with a {buffer}-byte buffer",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[tokio::test]
    async fn bad_lines_get_errors_and_the_proxy_keeps_serving() {
        let refused_unread = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":\
            {\"code\":-32600,\"message\":\"too large\"}}";
        let answers = vec![
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 36\r\n\
             connection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}"
                .to_string(),
            format!(
                "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{refused_unread}",
                refused_unread.len()
            ),
        ];
        let (port, server) = canned_server(answers).await;
        let proxy = Arc::new(Proxy::new(Endpoint::Ops, "127.0.0.1", port, None));
        proxy.server_started.set(()).unwrap();
        let mut input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\xff\"}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 1));
        input.extend(b"\n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n");
        let answers = run_bytes(proxy.clone(), input).await;
        assert_eq!(answers.len(), 3, "{answers:?}");
        assert_eq!(answers[0]["id"], Value::Null);
        assert_eq!(answers[0]["error"]["code"], PARSE_ERROR);
        let not_utf8 = answers[0]["error"]["message"].as_str().unwrap();
        assert!(
            not_utf8.starts_with("the line is not UTF-8 (invalid utf-8 sequence"),
            "{not_utf8}"
        );
        assert_eq!(answers[1]["id"], Value::Null);
        assert_eq!(answers[1]["error"]["code"], INVALID_REQUEST);
        let too_long = answers[1]["error"]["message"].as_str().unwrap();
        assert!(
            too_long.starts_with(&format!(
                "the line is {} bytes, over cao mcp-server's limit of {MAX_LINE_BYTES} bytes",
                MAX_LINE_BYTES + 1
            )),
            "{too_long}"
        );
        assert_eq!(answers[2], json!({"jsonrpc": "2.0", "id": 3, "result": {}}));

        // The server's refusal of a body it did not read carries the request's id.
        let answers = run_bytes(
            proxy,
            b"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}".to_vec(),
        )
        .await;
        assert_eq!(
            answers,
            [json!({"jsonrpc": "2.0", "id": 4, "error": {"code": -32600, "message": "too large"}})]
        );
        assert_eq!(server.await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn the_agent_endpoint_sends_the_terminals_own_token() {
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 36\r\n\
            connection: close\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}";
        let (port, server) = canned_server(vec![answer.to_string(); 2]).await;
        let token_dir = tempfile::tempdir().unwrap();
        let token_file = token_dir.path().join("server.token");
        std::fs::write(&token_file, "operator\n").unwrap();
        let agent = Endpoint::Agent {
            terminal_id: Some("1a2b3c4d".into()),
        };
        let ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
        for terminal_token in [Some(" agent-1a2b \n"), Some(""), None] {
            let proxy = Proxy::new(agent.clone(), "127.0.0.1", port, Some(token_file.clone()))
                .with_terminal_token(terminal_token.map(str::to_string));
            if terminal_token == Some("") {
                // An empty variable counts as unset.
                assert_eq!(proxy.token().as_deref(), Some("operator"));
                continue;
            }
            assert_eq!(run_lines(proxy, ping).await.len(), 1);
        }
        let heads = server.await.unwrap();
        let first = heads[0].to_ascii_lowercase();
        assert!(first.starts_with("post /mcp/agents/1a2b3c4d "), "{first}");
        assert!(
            first.contains("authorization: bearer agent-1a2b\r\n"),
            "{first}"
        );
        let second = heads[1].to_ascii_lowercase();
        assert!(
            second.contains("authorization: bearer operator\r\n"),
            "{second}"
        );
    }
}
