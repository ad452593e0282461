//! The CLI's HTTP client of `cao server`: base URL, bearer token, errors, starting the server
//! in the background, and waiting for a terminal's status over the server's event stream.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use cao_orchestrator::home::CaoHome;
use futures_util::StreamExt;
use serde_json::Value;

/// An error that ends the process with a specific exit code (see `docs/cli.md`).
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Exit codes.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_NO_SERVER: u8 = 3;
pub const EXIT_TIMEOUT: u8 = 4;
pub const EXIT_AGENT_FAILED: u8 = 5;

pub fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code,
        message: message.into(),
    })
}

/// Where the server listens: `CAO_API_HOST` / `CAO_API_PORT`, default 127.0.0.1:9889.
pub fn server_address() -> (String, u16) {
    let host = std::env::var("CAO_API_HOST")
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = std::env::var("CAO_API_PORT")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(9889);
    (host, port)
}

/// A client of one server.
pub struct Client {
    base: String,
    home: CaoHome,
    http: reqwest::Client,
}

impl Client {
    /// The server from the environment; the token is read from `CAO_HOME_DIR` per request, so
    /// a server started by this process is usable at once.
    pub fn from_env() -> Result<Client> {
        let (host, port) = server_address();
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        Ok(Client {
            base: format!("http://{host}:{port}"),
            home: CaoHome::from_env()?,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .context("cannot build the HTTP client")?,
        })
    }

    fn token(&self) -> Option<String> {
        cao_orchestrator::home::client_token(&self.home.token_file())
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = self.token() {
            request = request.bearer_auth(token);
        }
        request
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        exit(
            EXIT_NO_SERVER,
            format!(
                "cao server is not reachable at {}: {}; start it with `cao server` (cao launch starts it for you)",
                self.base,
                root_cause(&error)
            ),
        )
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let response = request
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.unreachable(error))?;
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        if status.is_success() {
            return Ok(value);
        }
        let detail = value
            .get("detail")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        Err(exit(
            EXIT_FAILURE,
            format!("{detail} (HTTP {})", status.as_u16()),
        ))
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn get_query(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(self.request(reqwest::Method::GET, path).query(query))
            .await
    }

    pub async fn post(&self, path: &str, query: &[(&str, String)], body: &Value) -> Result<Value> {
        self.send(
            self.request(reqwest::Method::POST, path)
                .query(query)
                .json(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// True when `/health` answers.
    pub async fn healthy(&self) -> bool {
        matches!(
            self.http
                .get(format!("{}/health", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await,
            Ok(response) if response.status().is_success()
        )
    }

    /// Starts `cao server` in the background when none answers, and waits until it does.
    pub async fn ensure_server(&self) -> Result<()> {
        if self.healthy().await {
            return Ok(());
        }
        let (host, port) = server_address();
        self.home.ensure_dirs()?;
        let log_path = self.home.root().join("logs").join("server.log");
        if let Some(parent) = log_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let executable = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cao"));
        let mut command = std::process::Command::new(executable);
        command
            .args(["server", "--host", &host, "--port", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Its own session, so the server outlives this command and the terminal it ran in.
        unsafe_setsid(&mut command);
        let mut child = command
            .spawn()
            .context("cannot start `cao server` in the background")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.healthy().await {
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
                let last = tail
                    .lines()
                    .rev()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or("");
                return Err(exit(
                    EXIT_NO_SERVER,
                    format!(
                        "`cao server` exited at start ({status}): {last} (log: {})",
                        log_path.display()
                    ),
                ));
            }
            if Instant::now() > deadline {
                return Err(exit(
                    EXIT_NO_SERVER,
                    format!(
                        "`cao server` did not answer on {} within 10 s (log: {})",
                        self.base,
                        log_path.display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for a terminal's status to satisfy `accept`, reading the server's event stream;
    /// shows the status and elapsed time on a terminal while it waits.
    pub async fn wait_for_status(
        &self,
        terminal_id: &str,
        accept: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<String> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut stream = self.events().await?;
        // Read the current status after subscribing, so no change falls in between.
        let terminal = self.get(&format!("/terminals/{terminal_id}")).await?;
        let mut status = terminal["status"].as_str().unwrap_or("unknown").to_string();
        let progress = Progress::new(terminal["name"].as_str().unwrap_or(terminal_id));
        let mut buffer = String::new();
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        loop {
            if accept(&status) {
                progress.finish();
                return Ok(status);
            }
            if status == "error" {
                progress.finish();
                return Err(exit(
                    EXIT_AGENT_FAILED,
                    format!(
                        "terminal {terminal_id} failed (status error); see `cao terminal output {terminal_id}`"
                    ),
                ));
            }
            tokio::select! {
                chunk = stream.next() => {
                    let Some(chunk) = chunk else {
                        progress.finish();
                        return Err(exit(EXIT_NO_SERVER, "the server closed the event stream"));
                    };
                    let chunk = chunk.map_err(|error| self.unreachable(error))?;
                    buffer.push_str(&String::from_utf8_lossy(chunk.as_ref()));
                    while let Some(end) = buffer.find("\n\n") {
                        let event: String = buffer.drain(..end + 2).collect();
                        for line in event.lines() {
                            let Some(data) = line.strip_prefix("data:") else { continue };
                            let Ok(value) = serde_json::from_str::<Value>(data.trim()) else { continue };
                            if value["terminal_id"] == terminal_id {
                                match value["type"].as_str() {
                                    Some("status") => {
                                        status = value["status"].as_str().unwrap_or("unknown").to_string();
                                    }
                                    Some("terminal_deleted") => {
                                        progress.finish();
                                        return Err(exit(EXIT_FAILURE, format!("terminal {terminal_id} was deleted")));
                                    }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
                _ = ticker.tick() => progress.show(&status, started.elapsed()),
                _ = tokio::time::sleep_until(deadline) => {
                    progress.finish();
                    return Err(exit(
                        EXIT_TIMEOUT,
                        format!("terminal {terminal_id} is still '{status}' after {} s", timeout.as_secs()),
                    ));
                }
            }
        }
    }
}

impl Client {
    /// The server's event stream (`GET /events`), as raw chunks.
    async fn events(
        &self,
    ) -> Result<impl futures_util::Stream<Item = reqwest::Result<impl AsRef<[u8]>>>> {
        let response = self
            .request(reqwest::Method::GET, "/events")
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        if !response.status().is_success() {
            return Err(exit(
                EXIT_FAILURE,
                format!(
                    "the server refused the event stream (HTTP {})",
                    response.status()
                ),
            ));
        }
        Ok(response.bytes_stream())
    }

    /// Waits until a session's team has settled (`GET /sessions/{s}/activity`): checked at
    /// once and again after every server event, so it reacts as soon as the last worker's
    /// message is delivered and answered.
    pub async fn wait_settled(&self, session: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut stream = self.events().await?;
        let mut busy = Vec::new();
        loop {
            let activity = self.get(&format!("/sessions/{session}/activity")).await?;
            if activity["settled"] == Value::Bool(true) {
                return Ok(());
            }
            if let Some(reasons) = activity["busy"].as_array() {
                busy = reasons
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
            }
            tokio::select! {
                chunk = stream.next() => {
                    match chunk {
                        Some(Ok(_)) => {}
                        Some(Err(error)) => return Err(self.unreachable(error)),
                        None => return Err(exit(EXIT_NO_SERVER, "the server closed the event stream")),
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(exit(
                        EXIT_TIMEOUT,
                        format!(
                            "session {session} is still busy after {} s: {}",
                            timeout.as_secs(),
                            busy.join("; ")
                        ),
                    ));
                }
            }
        }
    }
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[allow(unsafe_code)]
fn unsafe_setsid(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A one-line live status on stderr when it is a terminal.
struct Progress {
    name: String,
    live: bool,
}

impl Progress {
    fn new(name: &str) -> Progress {
        Progress {
            name: name.to_string(),
            live: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, status: &str, elapsed: Duration) {
        if self.live {
            eprint!(
                "\r\x1b[2K{} {status} {:.1}s",
                self.name,
                elapsed.as_secs_f64()
            );
        }
    }

    fn finish(&self) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Reads `K=V` pairs.
pub fn parse_env_pairs(pairs: &[String]) -> Result<serde_json::Map<String, Value>> {
    let mut map = serde_json::Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--env '{pair}' is not KEY=VALUE"))?;
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
    Ok(map)
}
