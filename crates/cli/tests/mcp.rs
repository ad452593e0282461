//! cao's MCP servers as clients meet them: rmcp's own client over streamable HTTP against a
//! real cao server (real tmux on a private socket, real `cao mock-agent` agents), and the same
//! client spawning the real `cao mcp-server` stdio proxy. Each test kills the tmux server it
//! started (by socket) and the processes it spawned (by handle).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cao_mux::tmux::TmuxMux;
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{
    ApiEndpoint, CreateTerminal, Orchestrator, OrchestratorConfig, OutputMode,
};
use cao_orchestrator::TerminalStatus;
use cao_server::{AuthMode, ServerConfig};

mod common;
use cao_tmux::engine::ControlOptions;
use cao_tmux::Socket;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Bounds every wait so a broken build fails instead of hanging; never a timing assertion.
const DEADLINE: Duration = Duration::from_secs(20);

/// A cao server on a free port over a private tmux server and data directory, with the mock
/// agent as its default provider; everything it started is removed on drop.
struct Cao {
    socket: String,
    home: tempfile::TempDir,
    addr: SocketAddr,
    orchestrator: Orchestrator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Cao {
    async fn start() -> Cao {
        Cao::start_with_packs(&[]).await
    }

    /// A server whose home has these provider packs (file name, TOML) besides the built-in ones.
    async fn start_with_packs(packs: &[(&str, &str)]) -> Cao {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "cao-mcp-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let home = tempfile::tempdir().unwrap();
        let options = ControlOptions::new(Socket::named(&socket)).config_file("/dev/null");
        let mux = Arc::new(TmuxMux::with_options(
            options,
            vec!["cao_terminal_id".to_string()],
        ));
        let cao_home = CaoHome::at(home.path());
        std::fs::create_dir_all(cao_home.providers_dir()).unwrap();
        for (name, text) in packs {
            std::fs::write(cao_home.providers_dir().join(name), text).unwrap();
        }
        let server_config =
            ServerConfig::local(AuthMode::from_home(&cao_home).expect("token")).with_port(0);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = OrchestratorConfig::new(cao_home.clone(), mux);
        config.cao_binary = env!("CARGO_BIN_EXE_cao").into();
        config.default_provider = "mock".into();
        config.path = std::env::var_os("PATH").unwrap_or_default();
        // Agents reach this server (their MCP config and environment name it).
        config.api = ApiEndpoint {
            host: "127.0.0.1".into(),
            port: addr.port(),
        };
        let orchestrator = Orchestrator::start(config).await.expect("orchestrator");
        let stop =
            common::serve_in_background(listener, orchestrator.clone(), server_config.clone());
        Cao {
            socket,
            home,
            addr,
            orchestrator,
            stop: Some(stop),
        }
    }

    fn token(&self) -> String {
        CaoHome::at(self.home.path()).server_token().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn client(&self, path: &str, token: Option<String>) -> Result<Client, String> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url(path));
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        tokio::time::timeout(
            DEADLINE,
            ().serve(StreamableHttpClientTransport::from_config(config)),
        )
        .await
        .expect("initialize answers")
        .map_err(|error| error.to_string())
    }

    /// A mock-agent terminal in `session` (created when `creator` is `None` and the session
    /// does not exist yet) running `script`.
    async fn terminal(
        &self,
        session: &str,
        profile: &str,
        creator: Option<&str>,
        script: Option<&std::path::Path>,
    ) -> String {
        let mut env_vars = BTreeMap::new();
        if let Some(script) = script {
            env_vars.insert(
                "CAO_MOCK_AGENT_SCRIPT".to_string(),
                script.display().to_string(),
            );
        }
        let request = CreateTerminal {
            agent_profile: profile.into(),
            provider: Some("mock".into()),
            session_name: Some(session.into()),
            env_vars,
            caller_id: creator.map(str::to_string),
            ..CreateTerminal::default()
        };
        let terminal = if self
            .orchestrator
            .list_terminals(session)
            .unwrap()
            .is_empty()
        {
            self.orchestrator.create_session(request).await
        } else {
            self.orchestrator
                .create_terminal_in_session(session, request)
                .await
        }
        .expect("terminal created");
        self.wait(&terminal.id, TerminalStatus::is_ready).await;
        terminal.id
    }

    async fn wait(&self, terminal_id: &str, accept: impl Fn(TerminalStatus) -> bool) {
        self.orchestrator
            .wait_for_status(terminal_id, accept, DEADLINE)
            .await
            .expect("status reached");
    }
}

impl Drop for Cao {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.orchestrator.stop_watching();
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(Socket::named(&self.socket).path());
    }
}

type Client = RunningService<RoleClient, ()>;

/// A tool's answer as a client reads it.
#[derive(Debug)]
struct Answer {
    is_error: bool,
    text: String,
    json: Value,
}

async fn call(client: &Client, tool: &str, arguments: Value) -> Answer {
    let mut request = CallToolRequestParams::new(tool.to_string());
    if let Value::Object(arguments) = arguments {
        request = request.with_arguments(arguments);
    }
    let result = tokio::time::timeout(DEADLINE, client.call_tool(request))
        .await
        .unwrap_or_else(|_| panic!("{tool} answers"))
        .unwrap_or_else(|error| panic!("{tool}: {error}"));
    let text = result.content[0]
        .as_text()
        .map(|text| text.text.clone())
        .unwrap_or_default();
    Answer {
        is_error: result.is_error == Some(true),
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn tool_names(client: &Client) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    names.sort();
    names
}

fn approval_script(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("approval.toml");
    std::fs::write(
        &path,
        "[[rules]]\nmatch = \"deploy\"\nask_approval = true\nreply = \"deployed {input}\"\n",
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_agent_runs_a_session_through_the_ops_server() {
    let cao = Cao::start().await;
    let ops = cao.client("/mcp/ops", Some(cao.token())).await.unwrap();
    assert_eq!(
        ops.peer_info()
            .and_then(|info| info.server_info.as_ref().map(|server| server.name.clone())),
        Some("cao-ops-mcp".to_string())
    );
    assert_eq!(
        tool_names(&ops).await,
        [
            "get_session_info",
            "get_terminal_status",
            "launch_session",
            "list_profiles",
            "list_sessions",
            "read_session_output",
            "send_session_message",
            "shutdown_session"
        ]
    );

    let profiles = call(&ops, "list_profiles", json!({})).await;
    assert!(!profiles.is_error, "{}", profiles.text);
    assert!(profiles.json["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|profile| profile["name"] == "developer"));

    let launched = call(
        &ops,
        "launch_session",
        json!({ "agent_profile": "developer", "provider": "mock", "session_name": "ops" }),
    )
    .await;
    assert!(!launched.is_error, "{}", launched.text);
    assert_eq!(launched.json["success"], true);
    assert_eq!(launched.json["session_name"], "cao-ops");
    assert_eq!(launched.json["provider"], "mock");
    let terminal_id = launched.json["terminal_id"].as_str().unwrap().to_string();
    cao.wait(&terminal_id, TerminalStatus::is_ready).await;

    let status = call(
        &ops,
        "get_terminal_status",
        json!({ "terminal_id": terminal_id }),
    )
    .await;
    assert_eq!(status.json["id"], terminal_id.as_str());
    assert_eq!(status.json["status"], "idle");
    assert_eq!(status.json["agent_profile"], "developer");

    let sent = call(
        &ops,
        "send_session_message",
        json!({ "terminal_id": terminal_id, "message": "hello over mcp" }),
    )
    .await;
    assert!(!sent.is_error, "{}", sent.text);
    assert_eq!(sent.json["terminal_id"], terminal_id.as_str());
    cao.wait(&terminal_id, |status| status == TerminalStatus::Completed)
        .await;

    let last = call(
        &ops,
        "read_session_output",
        json!({ "terminal_id": terminal_id, "mode": "last" }),
    )
    .await;
    assert!(!last.is_error, "{}", last.text);
    // Delivered through the inbox: a header line naming the sender, then the text.
    let output = last.json["output"].as_str().unwrap();
    assert!(output.starts_with("echo: [message from "), "{output}");
    assert!(output.ends_with("hello over mcp"), "{output}");
    assert_eq!(last.json["mode"], "last");
    let tail = call(
        &ops,
        "read_session_output",
        json!({ "session_name": "ops", "max_chars": 5 }),
    )
    .await;
    assert_eq!(tail.json["mode"], "full");
    assert_eq!(tail.json["truncated"], true);
    assert_eq!(tail.json["output"].as_str().unwrap().chars().count(), 5);
    assert!(tail.json["total_chars"].as_u64().unwrap() > 5);

    let sessions = call(&ops, "list_sessions", json!({})).await;
    assert_eq!(sessions.json["sessions"][0]["name"], "cao-ops");
    let info = call(&ops, "get_session_info", json!({ "session_name": "ops" })).await;
    assert_eq!(info.json["terminals"][0]["id"], terminal_id.as_str());
    let missing = call(&ops, "get_session_info", json!({ "session_name": "nope" })).await;
    assert!(missing.is_error);
    assert_eq!(
        missing.text,
        "session 'cao-nope' not found: list sessions with list_sessions"
    );
    let no_argument = call(&ops, "get_terminal_status", json!({})).await;
    assert!(no_argument.is_error, "{}", no_argument.text);
    assert!(
        no_argument.text.contains("terminal_id"),
        "{}",
        no_argument.text
    );
    let bad_mode = call(
        &ops,
        "read_session_output",
        json!({ "terminal_id": terminal_id, "mode": "middle" }),
    )
    .await;
    assert!(bad_mode.is_error);
    assert_eq!(bad_mode.text, "invalid mode 'middle': use 'full' or 'last'");

    let shut = call(&ops, "shutdown_session", json!({ "session_name": "ops" })).await;
    assert!(!shut.is_error, "{}", shut.text);
    assert_eq!(shut.json["deleted"], json!(["cao-ops"]));
    assert_eq!(shut.json["terminal_ids"], json!([terminal_id]));
    let sessions = call(&ops, "list_sessions", json!({})).await;
    assert_eq!(sessions.json["sessions"], json!([]));
    ops.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_with_its_siblings_through_its_own_endpoint() {
    let cao = Cao::start().await;
    let scripts = tempfile::tempdir().unwrap();
    let script = approval_script(scripts.path());
    let conductor = cao.terminal("team", "code_supervisor", None, None).await;
    let worker = cao
        .terminal("team", "developer", Some(&conductor), Some(&script))
        .await;
    let stranger = cao.terminal("team", "reviewer", None, None).await;

    let agent = cao
        .client(&format!("/mcp/agents/{conductor}"), Some(cao.token()))
        .await
        .unwrap();
    assert_eq!(
        agent
            .peer_info()
            .and_then(|info| info.server_info.as_ref().map(|server| server.name.clone())),
        Some("cao-mcp-server".to_string())
    );
    assert_eq!(
        tool_names(&agent).await,
        [
            "answer_user_prompt",
            "assign",
            "delete_terminal",
            "find_profiles",
            "get_handoff_result",
            "handoff",
            "list_siblings",
            "send_message"
        ]
    );

    let siblings = call(&agent, "list_siblings", json!({})).await;
    assert!(!siblings.is_error, "{}", siblings.text);
    assert_eq!(siblings.json["session_name"], "cao-team");
    let listed: Vec<(&str, &str, &str)> = siblings.json["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sibling| {
            (
                sibling["id"].as_str().unwrap(),
                sibling["agent_profile"].as_str().unwrap(),
                sibling["provider"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (worker.as_str(), "developer", "mock"),
            (stranger.as_str(), "reviewer", "mock")
        ]
    );
    assert_eq!(siblings.json["siblings"][0]["status"], "idle");

    let found = call(
        &agent,
        "find_profiles",
        json!({ "query": "reviews code", "limit": 2 }),
    )
    .await;
    assert!(!found.is_error, "{}", found.text);
    let found = found.json.as_array().unwrap();
    assert!(found.len() <= 2);
    assert_eq!(found[0]["name"], "reviewer");
    assert!(found[0]["score"].as_f64().unwrap() >= found[0]["coverage"].as_f64().unwrap());

    // A worker blocked on an approval prompt is answered by its creator.
    let not_waiting = call(
        &agent,
        "answer_user_prompt",
        json!({ "terminal_id": worker, "answer": "y" }),
    )
    .await;
    assert!(not_waiting.is_error);
    assert!(
        not_waiting.text.contains("not waiting for an answer"),
        "{}",
        not_waiting.text
    );
    cao.orchestrator
        .send_input(&worker, "deploy the site")
        .await
        .unwrap();
    cao.wait(&worker, |status| {
        status == TerminalStatus::WaitingUserAnswer
    })
    .await;
    let answered = call(
        &agent,
        "answer_user_prompt",
        json!({ "terminal_id": worker, "answer": "y" }),
    )
    .await;
    assert!(!answered.is_error, "{}", answered.text);
    assert_eq!(
        answered.json,
        json!({ "success": true, "terminal_id": worker, "message": "User prompt answer delivered." })
    );
    cao.wait(&worker, |status| status == TerminalStatus::Completed)
        .await;
    let reply = cao
        .orchestrator
        .output(&worker, OutputMode::Last)
        .await
        .unwrap();
    assert_eq!(reply, "deployed deploy the site");

    // Only yourself and your own workers.
    let refused = call(
        &agent,
        "answer_user_prompt",
        json!({ "terminal_id": stranger, "answer": "y" }),
    )
    .await;
    assert!(refused.is_error);
    assert!(
        refused
            .text
            .starts_with(&format!("terminal {stranger} was not created by you")),
        "{}",
        refused.text
    );
    let refused = call(
        &agent,
        "delete_terminal",
        json!({ "terminal_id": stranger }),
    )
    .await;
    assert!(refused.is_error, "{}", refused.text);

    let deleted = call(&agent, "delete_terminal", json!({ "terminal_id": worker })).await;
    assert!(!deleted.is_error, "{}", deleted.text);
    assert_eq!(
        deleted.json["message"],
        format!("Terminal {worker} deleted successfully")
    );
    let gone = call(&agent, "delete_terminal", json!({ "terminal_id": worker })).await;
    assert!(gone.is_error);
    assert_eq!(
        gone.text,
        format!("terminal {worker} not found: list terminals with list_siblings")
    );
    let siblings = call(&agent, "list_siblings", json!({})).await;
    assert_eq!(siblings.json["siblings"].as_array().unwrap().len(), 1);
    agent.cancel().await.unwrap();

    // A caller that is no live terminal: every tool says so.
    let unknown = cao
        .client("/mcp/agents/deadbeef", Some(cao.token()))
        .await
        .unwrap();
    for (tool, arguments) in [
        ("list_siblings", json!({})),
        ("find_profiles", json!({ "query": "code" })),
        ("delete_terminal", json!({ "terminal_id": stranger })),
    ] {
        let answer = call(&unknown, tool, arguments).await;
        assert!(answer.is_error, "{tool}");
        assert!(
            answer
                .text
                .starts_with("calling terminal deadbeef is not a live cao terminal: "),
            "{tool}: {}",
            answer.text
        );
    }
    unknown.cancel().await.unwrap();
    assert!(cao.orchestrator.get_terminal(&stranger).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_token_is_refused() {
    let cao = Cao::start().await;
    for token in [None, Some("wrong".to_string())] {
        for path in ["/mcp/ops", "/mcp/agents/deadbeef"] {
            let error = cao.client(path, token.clone()).await.unwrap_err();
            // rmcp's client reports a 401 as "Auth required".
            assert!(error.contains("Auth required"), "{path}: {error}");
        }
    }
    let refused = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(cao.url("/mcp/ops"))
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_waits_until_the_agent_listed_cao_tools_when_its_pack_says_so() {
    // The agent itself cannot reach cao's tools: only the test's client lists them.
    let pack = common::mock_pack_needing_tools().replace(
        "url = \"{cao_mcp_url}\"",
        "url = \"http://127.0.0.1:9/mcp\"",
    );
    assert!(pack.contains("127.0.0.1:9"));
    let cao = Cao::start_with_packs(&[("mock_tools.toml", &pack)]).await;
    let terminal = cao
        .orchestrator
        .create_session(CreateTerminal {
            agent_profile: "developer".into(),
            provider: Some("mock_tools".into()),
            session_name: Some("tools".into()),
            ..CreateTerminal::default()
        })
        .await
        .unwrap();
    cao.wait(&terminal.id, TerminalStatus::is_ready).await;
    let sending = tokio::spawn({
        let orchestrator = cao.orchestrator.clone();
        let id = terminal.id.clone();
        async move { orchestrator.send_input(&id, "needs tools").await }
    });
    // Ready, but nothing listed cao's tools for this terminal yet: the input waits.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !sending.is_finished(),
        "the input went in before the tools were listed"
    );
    // The agent's own endpoint serves tools/list for this terminal: the input goes in.
    let agent = cao
        .client(&format!("/mcp/agents/{}", terminal.id), Some(cao.token()))
        .await
        .unwrap();
    assert!(tool_names(&agent).await.contains(&"handoff".to_string()));
    tokio::time::timeout(DEADLINE, sending)
        .await
        .expect("the input went in once the tools were listed")
        .unwrap()
        .unwrap();
    cao.wait(&terminal.id, |status| status == TerminalStatus::Completed)
        .await;
}

fn proxy_command(subcommand: &str, cao: Option<&Cao>, port: u16) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cao"));
    command
        .arg(subcommand)
        .env("CAO_API_HOST", "127.0.0.1")
        .env("CAO_API_PORT", port.to_string())
        .env_remove("CAO_TERMINAL_ID")
        .env_remove("CAO_TERMINAL_TOKEN")
        .kill_on_drop(true);
    match cao {
        Some(cao) => command.env("CAO_HOME_DIR", cao.home.path()),
        None => command.env("CAO_HOME_DIR", "/nonexistent/cao-home"),
    };
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdio_proxy_carries_an_agents_calls() {
    let cao = Cao::start().await;
    let conductor = cao.terminal("proxied", "code_supervisor", None, None).await;
    let worker = cao
        .terminal("proxied", "developer", Some(&conductor), None)
        .await;

    let mut command = proxy_command("mcp-server", Some(&cao), cao.addr.port());
    command.env("CAO_TERMINAL_ID", &conductor);
    let agent = tokio::time::timeout(DEADLINE, ().serve(TokioChildProcess::new(command).unwrap()))
        .await
        .expect("initialize answers")
        .expect("initialize succeeds");
    assert_eq!(
        agent
            .peer_info()
            .and_then(|info| info.server_info.as_ref().map(|server| server.name.clone())),
        Some("cao-mcp-server".to_string())
    );
    assert_eq!(tool_names(&agent).await.len(), 8);
    // Calls in flight together are answered together.
    let (siblings, found) = tokio::join!(
        call(&agent, "list_siblings", json!({})),
        call(&agent, "find_profiles", json!({ "query": "code" })),
    );
    assert!(!siblings.is_error, "{}", siblings.text);
    assert_eq!(siblings.json["siblings"][0]["id"], worker.as_str());
    assert!(!found.is_error, "{}", found.text);

    // The team tools through the proxy: a blocking handoff, its stored result, a message.
    let handoff = call(
        &agent,
        "handoff",
        json!({ "agent_profile": "developer", "message": "stdio task; \"quoted\"", "timeout": 60 }),
    )
    .await;
    assert!(!handoff.is_error, "{}", handoff.text);
    assert_eq!(handoff.json["success"], true, "{}", handoff.text);
    assert_eq!(handoff.json["output"], "echo: stdio task; \"quoted\"");
    let job = handoff.json["job_id"].as_str().unwrap().to_string();
    let stored = call(&agent, "get_handoff_result", json!({ "job_id": job })).await;
    assert_eq!(stored.json["output"], handoff.json["output"]);
    let sent = call(
        &agent,
        "send_message",
        json!({ "message": "hello worker", "receiver_id": worker }),
    )
    .await;
    assert!(!sent.is_error, "{}", sent.text);
    assert_eq!(sent.json["receiver_id"], worker.as_str());
    let to_self = call(
        &agent,
        "send_message",
        json!({ "message": "me", "receiver_id": conductor }),
    )
    .await;
    assert!(
        to_self.is_error && to_self.text.contains("itself"),
        "{}",
        to_self.text
    );
    let assigned = call(
        &agent,
        "assign",
        json!({ "agent_profile": "reviewer", "message": "review it" }),
    )
    .await;
    assert!(!assigned.is_error, "{}", assigned.text);
    assert_eq!(assigned.json["terminal_id"].as_str().unwrap().len(), 8);
    agent.cancel().await.unwrap();

    let ops = tokio::time::timeout(
        DEADLINE,
        ().serve(
            TokioChildProcess::new(proxy_command("ops-mcp-server", Some(&cao), cao.addr.port()))
                .unwrap(),
        ),
    )
    .await
    .expect("initialize answers")
    .expect("initialize succeeds");
    let sessions = call(&ops, "list_sessions", json!({})).await;
    assert_eq!(sessions.json["sessions"][0]["name"], "cao-proxied");
    ops.cancel().await.unwrap();
}

/// Writes `lines` to a proxy, reads one answer per request, closes stdin and waits for the
/// exit; returns the answers and what the proxy said on stderr.
async fn talk(command: tokio::process::Command, lines: &[Value]) -> (Vec<Value>, String) {
    let requests = lines.iter().filter(|line| line.get("id").is_some()).count();
    let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
    talk_bytes(command, input.as_bytes(), requests).await
}

/// Writes `input` to a proxy, reads `answers` lines, closes stdin and waits for the exit;
/// returns the answers and what the proxy said on stderr.
async fn talk_bytes(
    mut command: tokio::process::Command,
    input: &[u8],
    answers: usize,
) -> (Vec<Value>, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    // Written while the proxy runs, so a long input does not wait for the answers.
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
        stdin
    });
    let expected = answers;
    let mut answers = Vec::new();
    for _ in 0..expected {
        let mut answer = String::new();
        tokio::time::timeout(DEADLINE, stdout.read_line(&mut answer))
            .await
            .expect("the proxy answers instead of hanging")
            .unwrap();
        answers.push(serde_json::from_str(&answer).unwrap());
    }
    drop(writer.await.unwrap());
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("the proxy exits when its input ends")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "a notification gets no answer");
    let mut said = String::new();
    stderr.read_to_string(&mut said).await.unwrap();
    (answers, said)
}

fn initialize() -> Value {
    common::mcp_initialize("test")
}

#[tokio::test]
async fn the_proxy_says_so_at_once_when_no_server_answers() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut command = proxy_command("mcp-server", None, port);
    command.env("CAO_TERMINAL_ID", "1a2b3c4d");
    let (answers, said) = talk(
        command,
        &[
            initialize(),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        ],
    )
    .await;
    let message = answers[0]["error"]["message"].as_str().unwrap();
    assert_eq!(answers[0]["id"], 1);
    assert!(
        message.starts_with(&format!(
            "cao server is not reachable at http://127.0.0.1:{port}: "
        )),
        "{message}"
    );
    assert!(message.ends_with("start it with `cao server`"), "{message}");
    assert!(said.contains("start it with `cao server`"), "{said}");
}

#[tokio::test]
async fn the_proxy_needs_a_terminal_started_by_cao() {
    let (answers, said) = talk(
        proxy_command("mcp-server", None, 9),
        &[
            initialize(),
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
        ],
    )
    .await;
    assert_eq!(answers.len(), 2);
    for answer in &answers {
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("CAO_TERMINAL_ID is not set: cao mcp-server must run inside a terminal started by cao"),
            "{message}"
        );
    }
    assert!(said.contains("CAO_TERMINAL_ID is not set"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_answers_bad_lines_and_keeps_serving() {
    let cao = Cao::start().await;
    let mut command = proxy_command("mcp-server", Some(&cao), cao.addr.port());
    command.env("CAO_TERMINAL_ID", "1a2b3c4d");
    let mut input = b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\xc3\x28\"}\n".to_vec();
    // A line of 16 MiB, twice the proxy's limit: skipped to its end, never held whole.
    input.extend(std::iter::repeat_n(b'x', 16 << 20));
    input.push(b'\n');
    input.extend(format!("{}\n", initialize()).as_bytes());
    input.extend(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
    let (answers, said) = talk_bytes(command, &input, 4).await;
    let not_utf8 = answers
        .iter()
        .find(|answer| answer["error"]["code"] == -32700);
    let not_utf8 = not_utf8.unwrap_or_else(|| panic!("{answers:?}"));
    assert_eq!(not_utf8["id"], Value::Null);
    assert!(not_utf8["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("the line is not UTF-8"));
    let too_long = answers
        .iter()
        .find(|answer| answer["error"]["code"] == -32600)
        .unwrap_or_else(|| panic!("{answers:?}"));
    assert_eq!(too_long["id"], Value::Null);
    assert!(too_long["error"]["message"]
        .as_str()
        .unwrap()
        .contains("over cao mcp-server's limit of 8388608 bytes (8 MiB)"));
    let initialized = answers.iter().find(|answer| answer["id"] == 1).unwrap();
    assert_eq!(
        initialized["result"]["serverInfo"]["name"], "cao-mcp-server",
        "{initialized}"
    );
    let pinged = answers.iter().find(|answer| answer["id"] == 2).unwrap();
    assert_eq!(pinged["result"], json!({}), "{pinged}");
    assert!(said.contains("the line is not UTF-8"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_proxy_sends_the_terminals_own_token_and_the_ops_proxy_does_not() {
    let cao = Cao::start().await;
    let mut agent = proxy_command("mcp-server", Some(&cao), cao.addr.port());
    agent
        .env("CAO_TERMINAL_ID", "1a2b3c4d")
        .env("CAO_TERMINAL_TOKEN", "no-such-agent-token");
    let (answers, _) = talk(agent, &[initialize()]).await;
    let message = answers[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("cao server refused the message (HTTP 401): "),
        "the token file's token was sent instead: {message}"
    );
    let mut ops = proxy_command("ops-mcp-server", Some(&cao), cao.addr.port());
    ops.env("CAO_TERMINAL_TOKEN", "no-such-agent-token");
    let (answers, _) = talk(ops, &[initialize()]).await;
    assert_eq!(
        answers[0]["result"]["serverInfo"]["name"], "cao-ops-mcp",
        "{}",
        answers[0]
    );
}
