//! Shared by the HTTP tests: a server on a free port in front of a real orchestrator on a
//! private tmux server (killed on drop), and a hand-written HTTP/1.1 client that can set any
//! header (Host, Origin) and read server-sent events.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cao_mux::tmux::TmuxMux;
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{Orchestrator, OrchestratorConfig};
use cao_server::{AuthMode, ServerConfig, ServerError};
use cao_tmux::engine::ControlOptions;
use cao_tmux::Socket;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The bearer token every test server requires.
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A server on a free port, its orchestrator's tmux server and home; torn down on drop.
pub struct Server {
    pub addr: SocketAddr,
    socket: String,
    pub home: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Server {
    /// A token-protected server whose orchestrator finds no agent CLI on its `PATH`.
    pub async fn start() -> Server {
        Server::start_with(|_| {}, |_| {}).await
    }

    pub async fn start_with(
        adjust_orchestrator: impl FnOnce(&mut OrchestratorConfig),
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> Server {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "cao-server-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let home = tempfile::tempdir().unwrap();
        let options = ControlOptions::new(Socket::named(&socket)).config_file("/dev/null");
        let mux = Arc::new(TmuxMux::with_options(
            options,
            vec!["cao_terminal_id".to_string()],
        ));
        let mut orchestrator_config = OrchestratorConfig::new(CaoHome::at(home.path()), mux);
        // No agent CLI can be found: creation fails fast at the pre-flight check.
        orchestrator_config.path = home.path().join("empty-path").into_os_string();
        adjust_orchestrator(&mut orchestrator_config);
        let orchestrator = Orchestrator::start(orchestrator_config).await.unwrap();

        let mut config = ServerConfig::local(AuthMode::Token(TOKEN.to_string())).with_port(0);
        adjust(&mut config);
        let listener = TcpListener::bind(SocketAddr::new(config.host, 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            cao_server::serve_on(listener, orchestrator, &config, async {
                let _ = stopped.await;
            })
            .await
        });
        Server {
            addr,
            socket,
            home,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn request(&self, method: &str, target: &str) -> Request {
        Request {
            addr: self.addr,
            method: method.to_string(),
            target: target.to_string(),
            headers: vec![
                (
                    "Host".to_string(),
                    format!("127.0.0.1:{}", self.addr.port()),
                ),
                ("Authorization".to_string(), format!("Bearer {TOKEN}")),
            ],
            body: None,
        }
    }

    /// Stops the server and waits for `serve_on` to return.
    pub async fn shutdown(&mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the server stops within 10 s")
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_file(Socket::named(&self.socket).path());
    }
}

/// One HTTP/1.1 request over a fresh connection, written by hand so any header can be set.
pub struct Request {
    addr: SocketAddr,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

impl Request {
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn without(mut self, name: &str) -> Request {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self
    }

    pub fn json(mut self, body: Value) -> Request {
        self.body = Some(body.to_string().into_bytes());
        self.header("Content-Type", "application/json")
    }

    pub fn raw_body(mut self, body: Vec<u8>) -> Request {
        self.body = Some(body);
        self
    }

    fn head_bytes(&self) -> Vec<u8> {
        let mut text = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        let length = self.body.as_ref().map_or(0, Vec::len);
        text.push_str(&format!(
            "Content-Length: {length}\r\nConnection: close\r\n\r\n"
        ));
        text.into_bytes()
    }

    pub async fn send(self) -> Response {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let mut bytes = self.head_bytes();
        bytes.extend(self.body.unwrap_or_default());
        // The server may answer (413) before reading everything; a failed write is fine then.
        let _ = stream.write_all(&bytes).await;
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received).await;
        parse_response(&received)
    }

    /// Sends the request and returns the stream after the response head (for SSE).
    pub async fn open(self) -> (String, TcpStream) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(&self.head_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(
                stream.read(&mut byte).await.unwrap(),
                1,
                "connection closed"
            );
            head.push(byte[0]);
        }
        (String::from_utf8(head).unwrap(), stream)
    }
}

fn parse_response(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Response {
        status,
        head: head.to_string(),
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

pub fn detail(response: &Response) -> &str {
    response.body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {} {}", response.status, response.body))
}

/// Reads `data:` lines of a server-sent event stream as JSON.
pub struct EventStream {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl EventStream {
    pub async fn open(request: Request) -> EventStream {
        let (head, stream) = request.open().await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        EventStream {
            stream,
            pending: Vec::new(),
        }
    }

    /// The next event, or `None` at the deadline or the end of the stream.
    pub async fn next(&mut self, deadline: tokio::time::Instant) -> Option<Value> {
        loop {
            while let Some(end) = self.pending.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                if let Some(data) = line.trim_end().strip_prefix("data: ") {
                    return Some(serde_json::from_str(data).expect("JSON event"));
                }
            }
            let mut buffer = [0u8; 4096];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await;
            match read {
                Ok(Ok(count)) if count > 0 => self.pending.extend_from_slice(&buffer[..count]),
                _ => return None,
            }
        }
    }

    /// Waits for a status event of `terminal_id` that `accept` takes; panics at the deadline.
    pub async fn wait_status(
        &mut self,
        terminal_id: &str,
        accept: impl Fn(&str) -> bool,
        within: Duration,
    ) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let Some(event) = self.next(deadline).await else {
                panic!("no accepted status for {terminal_id} within {within:?}");
            };
            if event["type"] == "status" && event["terminal_id"] == terminal_id {
                let status = event["status"].as_str().unwrap_or_default().to_string();
                if accept(&status) {
                    return status;
                }
            }
        }
    }
}
