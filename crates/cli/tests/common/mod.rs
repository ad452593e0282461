//! What the tests of the orchestrator and of teams share: a private tmux server and cao home
//! per test, the mock agents' own logs, and ([`live`]) a real server in front of them.
#![allow(dead_code)]

pub mod live;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cao_mux::tmux::TmuxMux;
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{CreateTerminal, Orchestrator, OrchestratorConfig, Terminal};
use cao_orchestrator::TerminalStatus;
use cao_tmux::engine::ControlOptions;
use cao_tmux::Socket;

pub const DEADLINE: Duration = Duration::from_secs(20);

/// A private tmux server and CAO_HOME_DIR; the server is killed on drop.
pub struct Fixture {
    pub socket: String,
    pub home: tempfile::TempDir,
    /// A mock-agent script every agent runs.
    pub script: Option<std::path::PathBuf>,
}

impl Fixture {
    pub fn new() -> Fixture {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Fixture {
            socket: format!(
                "cao-orch-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
            home: tempfile::tempdir().unwrap(),
            script: None,
        }
    }

    /// A fixture whose agents all run `script` (TOML, written into the home).
    pub fn with_script(script: &str) -> Fixture {
        let mut fixture = Fixture::new();
        let path = fixture.home.path().join("script.toml");
        std::fs::write(&path, script).unwrap();
        fixture.script = Some(path);
        fixture
    }

    pub fn mux(&self) -> Arc<TmuxMux> {
        let options = ControlOptions::new(Socket::named(&self.socket)).config_file("/dev/null");
        Arc::new(TmuxMux::with_options(
            options,
            vec!["cao_terminal_id".to_string()],
        ))
    }

    pub async fn start(&self) -> (Orchestrator, Arc<TmuxMux>) {
        self.start_with_path(std::env::var_os("PATH").unwrap_or_default())
            .await
    }

    pub async fn start_with_path(&self, path: std::ffi::OsString) -> (Orchestrator, Arc<TmuxMux>) {
        self.start_with(|config| config.path = path).await
    }

    /// Starts an orchestrator on this fixture's server and home, with `adjust` applied to its
    /// configuration last.
    pub async fn start_with(
        &self,
        adjust: impl FnOnce(&mut OrchestratorConfig),
    ) -> (Orchestrator, Arc<TmuxMux>) {
        let mux = self.mux();
        let mut config = OrchestratorConfig::new(CaoHome::at(self.home.path()), mux.clone());
        config.cao_binary = env!("CARGO_BIN_EXE_cao").into();
        config.default_provider = "mock".into();
        config.path = std::env::var_os("PATH").unwrap_or_default();
        // Every agent (workers made by handoff and assign too) logs to this test's file.
        config.agent_env = vec![(
            "CAO_MOCK_AGENT_LOG".to_string(),
            self.log_path().display().to_string(),
        )];
        if let Some(script) = &self.script {
            config.agent_env.push((
                "CAO_MOCK_AGENT_SCRIPT".to_string(),
                script.display().to_string(),
            ));
        }
        adjust(&mut config);
        let orchestrator = Orchestrator::start(config)
            .await
            .expect("orchestrator starts");
        (orchestrator, mux)
    }

    pub fn log_path(&self) -> std::path::PathBuf {
        self.home.path().join("mock-agent.jsonl")
    }

    pub fn logged_inputs(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["input"].as_str().unwrap().to_string()
            })
            .collect()
    }

    pub fn request(&self, session: &str) -> CreateTerminal {
        CreateTerminal {
            agent_profile: "developer".into(),
            provider: Some("mock".into()),
            session_name: Some(session.into()),
            env_vars: BTreeMap::from([(
                "CAO_MOCK_AGENT_LOG".to_string(),
                self.log_path().display().to_string(),
            )]),
            ..CreateTerminal::default()
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
        let socket = Socket::named(&self.socket).path();
        let _ = std::fs::remove_file(socket);
    }
}

pub fn ready(status: TerminalStatus) -> bool {
    status.is_ready()
}

/// Creates a terminal from `request` and waits (up to [`DEADLINE`]) until it is ready.
pub async fn ready_terminal(orchestrator: &Orchestrator, request: CreateTerminal) -> Terminal {
    let terminal = orchestrator.create_session(request).await.unwrap();
    orchestrator
        .wait_for_status(&terminal.id, ready, DEADLINE)
        .await
        .unwrap();
    terminal
}

/// One line of a mock agent's log.
#[derive(Debug, Clone)]
pub struct Logged {
    pub terminal_id: String,
    pub input: String,
}

impl Fixture {
    /// Every input the mock agents of this test logged, in order.
    pub fn logged(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|value| value["input"].is_string())
            .map(|value| Logged {
                terminal_id: value["terminal_id"].as_str().unwrap_or("").to_string(),
                input: value["input"].as_str().unwrap().to_string(),
            })
            .collect()
    }

    /// The inputs terminal `id` logged.
    pub fn inputs_of(&self, id: &str) -> Vec<String> {
        self.logged()
            .into_iter()
            .filter(|line| line.terminal_id == id)
            .map(|line| line.input)
            .collect()
    }
}

/// Waits (up to `limit`) until `check` holds, re-checking every 20 ms.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// The mock agent's pack as a user pack named `mock_tools` whose input waits until the agent
/// listed cao's MCP tools (`input.after_cao_tools`).
pub fn mock_pack_needing_tools() -> String {
    let pack = include_str!("../../../orchestrator/src/provider/packs/mock.toml")
        .replace("name = \"mock\"", "name = \"mock_tools\"")
        .replace("aliases = [\"mock_cli\"]", "aliases = []")
        .replace("[input]\n", "[input]\nafter_cao_tools = true\n");
    assert!(pack.contains("after_cao_tools = true"));
    pack
}

/// An MCP `initialize` request (JSON-RPC id 1) from a client named `client`.
pub fn mcp_initialize(client: &str) -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": client, "version": "1" },
        },
    })
}

/// Serves `orchestrator`'s HTTP API on `listener` in a task of its own, until the returned
/// sender is used or dropped.
pub fn serve_in_background(
    listener: tokio::net::TcpListener,
    orchestrator: Orchestrator,
    config: cao_server::ServerConfig,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        cao_server::serve_on(listener, orchestrator, &config, async {
            let _ = stopped.await;
        })
        .await
    });
    stop
}
