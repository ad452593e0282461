//! One test world: a throwaway HOME seeded for every CLI, the scripted model server
//! (`cao mock-model serve`) and a real `cao server` on loopback with its own tmux server, an
//! event recorder on the server's event stream, and the helpers the cases share.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::install::{cache_dir, AgentCli, CLIS};

/// The model name every CLI is configured with.
pub const MODEL: &str = "mock-model";
/// The API key every CLI is given (the mock model accepts anything).
const API_KEY: &str = "sk-cao-conformance-0123456789abcdefghij";

pub type Outcome<T = ()> = Result<T, String>;

/// One event from cao's event stream, with the moment it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// The same moment as Unix epoch milliseconds (to compare with the model's log).
    pub wall_ms: u128,
    pub event: Value,
}

pub struct World {
    pub root: tempfile::TempDir,
    pub home: PathBuf,
    pub work: PathBuf,
    pub cao_home: PathBuf,
    pub socket: String,
    pub cao_port: u16,
    pub model_port: u16,
    pub model_log: PathBuf,
    pub agent_log: PathBuf,
    server: Option<Child>,
    model: Option<Child>,
    http: reqwest::Client,
    token: String,
    events: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<tokio::sync::Notify>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

impl World {
    /// Seeds HOME and the work directory, starts `cao server` (the model server starts later,
    /// with [`World::start_model`], once the script can name the terminals it needs).
    pub async fn start(label: &str) -> Outcome<World> {
        // Not under /tmp: Codex refuses to put helpers there. (Gemini CLI would skip a system
        // settings file there; its pack gives it a home of its own instead, and a clone under
        // /tmp passes its case.)
        let parent = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(parent).map_err(|error| error.to_string())?;
        let root = tempfile::Builder::new()
            .prefix(&format!("conformance-{label}-"))
            .tempdir_in(parent)
            .map_err(|error| error.to_string())?;
        let home = root.path().join("home");
        let work = root.path().join("work");
        let cao_home = root.path().join("cao");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&cao_home).unwrap();
        let model_port = free_port();
        let cao_port = free_port();
        let mut world = World {
            socket: format!("cao-conf-{label}-{}-{cao_port}", std::process::id()),
            model_log: root.path().join("model.jsonl"),
            agent_log: root.path().join("mock-agents.jsonl"),
            root,
            home,
            work,
            cao_home,
            cao_port,
            model_port,
            server: None,
            model: None,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            token: String::new(),
            events: Arc::new(Mutex::new(Vec::new())),
            arrived: Arc::new(tokio::sync::Notify::new()),
        };
        world.seed();
        world.start_server().await?;
        Ok(world)
    }

    /// What a user of each CLI would have set up: credentials pointing at the model server,
    /// first-run state done. MCP wiring and trust are the packs' job, not seeded here.
    fn seed(&self) {
        let base = format!("http://127.0.0.1:{}", self.model_port);
        let work = self.work.display().to_string();
        // A git repository: aider wants one, the others do not mind.
        let _ = Command::new("git")
            .args(["init", "-q"])
            .current_dir(&self.work)
            .status();
        write(
            &self.home.join(".claude.json"),
            &json!({
                "hasCompletedOnboarding": true,
                "projects": { work.clone(): { "hasTrustDialogAccepted": true } },
            })
            .to_string(),
        );
        write(
            &self.home.join(".codex").join("config.toml"),
            &format!(
                "model = \"{MODEL}\"\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n\n\
                 [model_providers.mock]\nname = \"mock\"\nbase_url = \"{base}/v1\"\n\
                 env_key = \"MOCK_MODEL_API_KEY\"\nwire_api = \"responses\"\n\
                 request_max_retries = 0\nstream_max_retries = 0\n\n\
                 [projects.\"{work}\"]\ntrust_level = \"trusted\"\n"
            ),
        );
        let gemini_like = json!({
            "security": {
                "auth": { "selectedType": "gemini-api-key" },
                "folderTrust": { "enabled": false },
            },
            "general": { "disableAutoUpdate": true, "disableUpdateNag": true },
            "privacy": { "usageStatisticsEnabled": false },
            "model": { "name": MODEL },
        });
        write(
            &self.home.join(".gemini").join("settings.json"),
            &gemini_like.to_string(),
        );
        let mut qwen = gemini_like.clone();
        qwen["security"]["auth"] = json!({ "selectedType": "openai" });
        write(
            &self.home.join(".qwen").join("settings.json"),
            &qwen.to_string(),
        );
        write(
            &self
                .home
                .join(".config")
                .join("opencode")
                .join("opencode.json"),
            &json!({
                "$schema": "https://opencode.ai/config.json",
                "model": format!("mock/{MODEL}"),
                "autoupdate": false,
                "share": "disabled",
                "provider": {
                    "mock": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "Mock model",
                        "options": { "baseURL": format!("{base}/v1"), "apiKey": API_KEY },
                        "models": { MODEL: { "name": "Mock model" } },
                    }
                },
            })
            .to_string(),
        );
    }

    /// The environment of `cao server`, which its tmux server and every pane inherit.
    fn server_env(&self) -> Vec<(String, String)> {
        let base = format!("http://127.0.0.1:{}", self.model_port);
        let cache = cache_dir();
        let mut path: Vec<String> = CLIS
            .iter()
            .map(|cli: &AgentCli| cli.bin_dir(&cache).display().to_string())
            .collect();
        path.push(std::env::var("PATH").unwrap_or_default());
        let pairs = [
            ("HOME", self.home.display().to_string()),
            ("PATH", path.join(":")),
            ("CAO_HOME_DIR", self.cao_home.display().to_string()),
            ("CAO_TMUX_SOCKET", self.socket.clone()),
            ("CAO_API_HOST", "127.0.0.1".into()),
            ("CAO_API_PORT", self.cao_port.to_string()),
            ("CAO_MOCK_AGENT_LOG", self.agent_log.display().to_string()),
            // Claude Code
            ("ANTHROPIC_BASE_URL", base.clone()),
            ("ANTHROPIC_AUTH_TOKEN", API_KEY.into()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ("DISABLE_AUTOUPDATER", "1".into()),
            ("DISABLE_TELEMETRY", "1".into()),
            ("DISABLE_ERROR_REPORTING", "1".into()),
            // Codex
            ("CODEX_HOME", self.home.join(".codex").display().to_string()),
            ("MOCK_MODEL_API_KEY", API_KEY.into()),
            // Gemini CLI
            ("GOOGLE_GEMINI_BASE_URL", base.clone()),
            ("GEMINI_API_KEY", API_KEY.into()),
            // Qwen Code and aider (OpenAI-compatible)
            ("OPENAI_BASE_URL", format!("{base}/v1")),
            ("OPENAI_API_BASE", format!("{base}/v1")),
            ("OPENAI_API_KEY", API_KEY.into()),
            ("OPENAI_MODEL", MODEL.into()),
            ("AIDER_MODEL", format!("openai/{MODEL}")),
            ("LITELLM_LOCAL_MODEL_COST_MAP", "True".into()),
        ];
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    }

    async fn start_server(&mut self) -> Outcome {
        let stderr = std::fs::File::create(self.root.path().join("server.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cao"))
            .arg("server")
            .envs(self.server_env())
            .env("CAO_LOG", "info,cao_server::mcp=debug")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|error| format!("cao server: {error}"))?;
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health = self.http.get(self.url("/health")).send().await;
            if health.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                return Err("cao server did not answer /health within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.token = std::fs::read_to_string(self.cao_home.join("server.token"))
            .map(|token| token.trim().to_string())
            .unwrap_or_default();
        self.record_events().await
    }

    /// Starts the scripted model server with `script` (TOML).
    pub async fn start_model(&mut self, script: &str) -> Outcome {
        let script_path = self.root.path().join("model-script.toml");
        write(&script_path, script);
        let mut command = Command::new(env!("CARGO_BIN_EXE_cao"));
        command
            .args(["mock-model", "serve", "--port"])
            .arg(self.model_port.to_string())
            .arg("--script")
            .arg(&script_path)
            .arg("--log")
            .arg(&self.model_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("CAO_CONFORMANCE_KEEP").is_some() {
            // A kept world keeps every request body too.
            let bodies = std::fs::File::create(self.root.path().join("model-bodies.log")).unwrap();
            command
                .env("CAO_LOG", "cao_mock_model::body=trace")
                .stderr(bodies);
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("cao mock-model serve: {error}"))?;
        let stdout = child.stdout.take().unwrap();
        self.model = Some(child);
        let line = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            line
        })
        .await
        .unwrap();
        if !line.starts_with("listening on ") {
            return Err(format!("the mock model did not start: {line:?}"));
        }
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.cao_port)
    }

    async fn record_events(&self) -> Outcome {
        let response = self
            .http
            .get(self.url("/events"))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|error| format!("GET /events: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("GET /events: {}", response.status()));
        }
        let events = self.events.clone();
        let arrived = self.arrived.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut stream = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                let at = Instant::now();
                let wall_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    for line in block.lines() {
                        if let Some(data) = line.strip_prefix("data:") {
                            if let Ok(event) = serde_json::from_str::<Value>(data.trim()) {
                                events.lock().unwrap().push(Seen { at, wall_ms, event });
                            }
                        }
                    }
                }
                arrived.notify_waiters();
            }
        });
        Ok(())
    }

    /// The number of events seen so far: a mark to wait from.
    pub fn mark(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// The events seen since `from`.
    pub fn events_since(&self, from: usize) -> Vec<Seen> {
        self.events.lock().unwrap()[from..].to_vec()
    }

    /// Waits for the first event after `from` that `accept` takes.
    pub async fn wait_event(
        &self,
        from: usize,
        limit: Duration,
        what: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> Outcome<Seen> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.arrived.notified();
            if let Some(seen) = self
                .events_since(from)
                .into_iter()
                .find(|seen| accept(&seen.event))
            {
                return Ok(seen);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(format!("no {what} within {} s", limit.as_secs()));
            }
        }
    }

    /// Waits for terminal `id` to reach one of `statuses` (events after `from`).
    pub async fn wait_status(
        &self,
        id: &str,
        from: usize,
        statuses: &[&str],
        limit: Duration,
    ) -> Outcome<Seen> {
        let what = format!("status {} of {id}", statuses.join("|"));
        self.wait_event(from, limit, &what, |event| {
            event["type"] == "status"
                && event["terminal_id"] == id
                && statuses.iter().any(|status| event["status"] == *status)
        })
        .await
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Outcome<Value> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("{method} {path}: {error}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{method} {path}: HTTP {status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> Outcome<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Outcome<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Outcome<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    pub async fn status(&self, id: &str) -> Outcome<String> {
        let terminal = self.get(&format!("/terminals/{id}")).await?;
        Ok(terminal["status"].as_str().unwrap_or_default().to_string())
    }

    pub async fn last_output(&self, id: &str) -> Outcome<String> {
        let output = self
            .get(&format!("/terminals/{id}/output?mode=last"))
            .await?;
        Ok(output["output"].as_str().unwrap_or_default().to_string())
    }

    /// Calls one of the terminal's own MCP tools on cao's server, as the terminal.
    pub async fn mcp_call(&self, caller: &str, tool: &str, arguments: Value) -> Outcome<Value> {
        let response = self
            .http
            .post(self.url(&format!("/mcp/agents/{caller}")))
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": { "name": tool, "arguments": arguments },
            }))
            .send()
            .await
            .map_err(|error| format!("MCP {tool}: {error}"))?;
        let text = response.text().await.unwrap_or_default();
        let value: Value =
            serde_json::from_str(&text).map_err(|_| format!("MCP {tool}: {text}"))?;
        if value["result"]["isError"] == true || value.get("error").is_some() {
            return Err(format!("MCP {tool} failed: {value}"));
        }
        Ok(value["result"].clone())
    }

    /// Writes an agent profile into cao's local store.
    pub fn profile(&self, name: &str, frontmatter: &str, prompt: &str) {
        write(
            &self.cao_home.join("agent-store").join(format!("{name}.md")),
            &format!("---\nname: {name}\ndescription: conformance test agent\n{frontmatter}---\n\n{prompt}\n"),
        );
    }

    /// The tmux target of a terminal's pane.
    pub async fn target(&self, id: &str) -> Outcome<String> {
        let terminal = self.get(&format!("/terminals/{id}")).await?;
        Ok(format!(
            "{}:{}",
            terminal["session_name"].as_str().unwrap_or_default(),
            terminal["name"].as_str().unwrap_or_default()
        ))
    }

    /// The screen of a pane as tmux has it now (for failure reports).
    pub fn screen(&self, target: &str) -> String {
        Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", target])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The pid of the process running in a pane.
    pub fn pane_pid(&self, target: &str) -> Option<u32> {
        let output = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                target,
                "#{pane_pid}",
            ])
            .output()
            .ok()?;
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    }

    /// The model server's request log.
    pub fn model_requests(&self) -> Vec<Value> {
        read_jsonl(&self.model_log)
    }

    /// The mock agents' log (inputs they read, tools they called).
    pub fn agent_lines(&self) -> Vec<Value> {
        read_jsonl(&self.agent_log)
    }
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// `pid` and all its descendants, read from /proc.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name may hold spaces and parentheses: fields follow the last ')'.
            let Some(after) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
                continue;
            };
            if let Some(parent) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((child, parent));
            }
        }
    }
    let mut tree = vec![pid];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        index += 1;
    }
    tree
}

/// Whether a process still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rfind(')')
                .and_then(|at| stat[at + 1..].split_whitespace().next().map(str::to_string))
        })
        .is_some_and(|state| state != "Z")
}

/// Records a pane's screen every few milliseconds, keeping each distinct screen with the
/// moment it first appeared: when the CLI finished drawing a reply is the last change before
/// cao reported `completed`.
pub struct ScreenWatch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(Instant, String)>>>,
}

impl ScreenWatch {
    pub fn start(socket: &str, target: &str) -> ScreenWatch {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (socket, target) = (socket.to_string(), target.to_string());
        let thread = std::thread::spawn(move || {
            let mut changes: Vec<(Instant, String)> = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let output = Command::new("tmux")
                    .args(["-L", &socket, "capture-pane", "-p", "-t", &target])
                    .output();
                let seen = Instant::now();
                if let Ok(output) = output {
                    let screen = String::from_utf8_lossy(&output.stdout).into_owned();
                    if changes.last().is_none_or(|(_, last)| *last != screen) {
                        changes.push((seen, screen));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            changes
        });
        ScreenWatch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops watching; the moment of the last screen change at or before `until`. Every
    /// distinct screen is written under `keep` (`NNN-<ms since start>.txt`) for inspection and
    /// for harvesting fixtures.
    pub fn last_change_before(mut self, until: Instant, keep: &Path) -> Option<Instant> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let changes = self.thread.take()?.join().ok()?;
        if let Some((first, _)) = changes.first() {
            let _ = std::fs::create_dir_all(keep);
            for (index, (at, screen)) in changes.iter().enumerate() {
                let ms = at.duration_since(*first).as_millis();
                let _ = std::fs::write(keep.join(format!("{index:03}-{ms}.txt")), screen);
            }
        }
        changes
            .iter()
            .filter(|(at, _)| *at <= until)
            .map(|(at, _)| *at)
            .next_back()
    }
}

impl Drop for ScreenWatch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for child in [self.server.take(), self.model.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            // SAFETY: signalling our own child by pid.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Every pane's process tree, then the tmux server of this world (by socket).
        let panes = Command::new("tmux")
            .args(["-L", &self.socket, "list-panes", "-a", "-F", "#{pane_pid}"])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default();
        for pid in panes
            .lines()
            .filter_map(|line| line.trim().parse::<u32>().ok())
        {
            for member in process_tree(pid).into_iter().rev() {
                // SAFETY: killing processes this world started, by pid.
                unsafe {
                    libc::kill(member as i32, libc::SIGKILL);
                }
            }
        }
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(cao_tmux::Socket::named(&self.socket).path());
        if std::env::var_os("CAO_CONFORMANCE_KEEP").is_some() {
            eprintln!("conformance: keeping {}", self.root.path().display());
            self.root.disable_cleanup(true);
        }
    }
}
