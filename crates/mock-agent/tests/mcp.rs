//! The mock agent as a real MCP client, in real tmux panes on a private server, against real
//! rmcp servers: streamable HTTP (served here with axum on 127.0.0.1:0) and stdio.
//!
//! Runs without libtest: this test binary is also the mock agent in its panes
//! (`CAO_MOCK_AGENT_TEST_ROLE=mock-agent`, the library's `run`) and the stdio MCP server the
//! agents start (`CAO_MOCK_AGENT_TEST_ROLE=stdio-server`), and libtest's own output would
//! garble the screen and the MCP stream.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServiceExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

const ROLE: &str = "CAO_MOCK_AGENT_TEST_ROLE";
const RECORD: &str = "CAO_MOCK_AGENT_TEST_RECORD";
const DEADLINE: Duration = Duration::from_secs(20);

type Test = (&'static str, fn());

const TESTS: [Test; 3] = [
    (
        "http_calls_carry_templated_arguments_while_the_agent_works",
        http_calls_carry_templated_arguments_while_the_agent_works,
    ),
    (
        "stdio_server_serves_the_built_in_team_scripts",
        stdio_server_serves_the_built_in_team_scripts,
    ),
    (
        "an_unreachable_server_fails_the_call_not_the_agent",
        an_unreachable_server_fails_the_call_not_the_agent,
    ),
];

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("mock-agent") => run_mock_agent(),
        Ok("stdio-server") => run_stdio_server(),
        _ => {}
    }
    // Behave like libtest for `--list` and name filters.
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.iter().any(|argument| argument == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return;
    }
    let filters: Vec<&String> = arguments
        .iter()
        .filter(|argument| !argument.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in TESTS {
        if !filters.is_empty() && !filters.iter().any(|filter| name.contains(filter.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// `cao mock-agent [--script F] [--log F] [--mcp-config F] [--profile NAME]`, as the CLI runs it.
fn run_mock_agent() -> ! {
    let mut options = cao_mock_agent::Options {
        terminal_id: std::env::var("CAO_TERMINAL_ID").ok(),
        ..Default::default()
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments.next();
        match flag.as_str() {
            "--script" => options.script = value.map(Into::into),
            "--log" => options.log = value.map(Into::into),
            "--mcp-config" => options.mcp_config = value.map(Into::into),
            "--profile" => options.profile = value,
            other => panic!("unexpected argument {other}"),
        }
    }
    match cao_mock_agent::run(&options) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(error.exit_code())
        }
    }
}

/// An MCP server on stdin and stdout that appends its pid, then each call, to `$RECORD`.
fn run_stdio_server() -> ! {
    let record = PathBuf::from(std::env::var_os(RECORD).expect("the record file"));
    append_json(&record, &json!({"pid": std::process::id()}));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let server = TeamServer {
        calls: Arc::default(),
        gate: None,
        record: Some(record),
    };
    runtime.block_on(async {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .expect("the client initializes");
        // Ends when the client closes our stdin.
        let _ = running.waiting().await;
    });
    std::process::exit(0)
}

fn append_json(path: &Path, value: &Value) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(format!("{value}\n").as_bytes()).unwrap();
}

/// cao's team tools as far as a test needs them: each call is recorded, `handoff` waits for
/// the gate (when there is one) and answers with the message it got.
#[derive(Clone)]
struct TeamServer {
    calls: Arc<Mutex<Vec<Value>>>,
    gate: Option<Arc<Semaphore>>,
    record: Option<PathBuf>,
}

impl ServerHandler for TeamServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = |properties: Value| {
            let Value::Object(schema) = json!({"type": "object", "properties": properties}) else {
                unreachable!()
            };
            Arc::new(schema)
        };
        let text = json!({"type": "string"});
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new(
                "handoff",
                "Hand a task to a new worker and wait for its reply",
                schema(
                    json!({"agent_profile": text, "message": text, "timeout": {"type": "integer"}}),
                ),
            ),
            Tool::new(
                "assign",
                "Give a task to a new worker",
                schema(json!({"agent_profile": text, "message": text})),
            ),
            Tool::new(
                "send_message",
                "Send a message to a terminal's inbox",
                schema(json!({"message": text, "receiver_id": text})),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        let authorization = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get("authorization"))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let call = json!({"tool": request.name, "args": args, "authorization": authorization});
        self.calls.lock().unwrap().push(call.clone());
        if let Some(record) = &self.record {
            append_json(record, &call);
        }
        let message = args["message"].as_str().unwrap_or_default();
        let reply = match request.name.as_ref() {
            "handoff" => {
                if let Some(gate) = &self.gate {
                    // Held until the test has seen the agent working; bounded so a failed test
                    // cannot leave the server waiting forever.
                    let _ = tokio::time::timeout(DEADLINE, gate.acquire()).await;
                }
                json!({"success": true, "message": "handoff done", "output": format!("built: {message}"),
                       "terminal_id": "dev00001", "job_id": "job-1"})
            }
            "assign" => json!({"success": true, "terminal_id": "rev00002", "message": "assigned"}),
            "send_message" => json!({"success": true, "message_id": 42}),
            other => {
                return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                    "no tool {other}"
                ))])
                .into())
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(reply.to_string())]).into())
    }
}

/// The team server over streamable HTTP on 127.0.0.1, on a runtime of its own.
struct HttpServer {
    runtime: Option<tokio::runtime::Runtime>,
    url: String,
    calls: Arc<Mutex<Vec<Value>>>,
    gate: Arc<Semaphore>,
}

impl HttpServer {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = TeamServer {
            calls: Arc::default(),
            gate: Some(Arc::new(Semaphore::new(0))),
            record: None,
        };
        let (calls, gate) = (server.calls.clone(), server.gate.clone().unwrap());
        let service: StreamableHttpService<TeamServer, LocalSessionManager> =
            StreamableHttpService::new(
                move || Ok(server.clone()),
                Default::default(),
                StreamableHttpServerConfig::default(),
            );
        let path = "/mcp/agents/term-1";
        let router = axum::Router::new().nest_service(path, service);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, router).await });
        Self {
            runtime: Some(runtime),
            url: format!("http://{address}{path}"),
            calls,
            gate,
        }
    }

    fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        // Let a handoff still waiting go, then stop serving.
        self.gate.add_permits(100);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// A tmux server on its own socket with one mock agent per window; killed on drop, with any
/// stdio MCP server the agents left behind.
struct Panes {
    socket: String,
    dir: tempfile::TempDir,
    started: bool,
    /// Stdio MCP servers started by the agents (pids read from their record files).
    stdio_pids: Mutex<Vec<u32>>,
}

impl Panes {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let socket = format!(
            "cao-mcp-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            socket,
            dir: tempfile::tempdir().unwrap(),
            started: false,
            stdio_pids: Mutex::default(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Starts this binary as the mock agent in window `window` (120×40), logging to
    /// `<window>.jsonl`; the window stays after the agent exits and `<window>.status` gets its
    /// exit status.
    fn launch(&mut self, window: &str, terminal_id: &str, arguments: &[&str]) {
        let exe = std::env::current_exe().unwrap();
        let mut command = format!(
            "{ROLE}=mock-agent CAO_TERMINAL_ID={terminal_id} {} --log {}",
            quote(exe.to_str().unwrap()),
            quote(&self.path(&format!("{window}.jsonl")).to_string_lossy()),
        );
        for argument in arguments {
            command.push(' ');
            command.push_str(&quote(argument));
        }
        command.push_str(&format!(
            "; echo $? > {}",
            quote(&self.path(&format!("{window}.status")).to_string_lossy())
        ));
        let output = if self.started {
            self.tmux_output(&["new-window", "-d", "-n", window, &command])
        } else {
            self.started = true;
            self.tmux_output(&[
                "start-server",
                ";",
                "set-option",
                "-g",
                "remain-on-exit",
                "on",
                ";",
                "new-session",
                "-d",
                "-s",
                "main",
                "-n",
                window,
                "-x",
                "120",
                "-y",
                "40",
                &command,
            ])
        };
        assert!(output.status.success(), "{output:?}");
    }

    fn tmux_output(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = self.tmux_output(args);
        assert!(output.status.success(), "tmux {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn target(window: &str) -> String {
        format!("main:{window}")
    }

    fn screen(&self, window: &str) -> String {
        self.tmux(&[
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-",
            "-t",
            &Self::target(window),
        ])
    }

    fn wait_for(&self, window: &str, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(window);
            if condition(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn wait_for_prompt(&self, window: &str) -> String {
        self.wait_for(window, "the prompt", |screen| {
            bottom_line(screen) == "mock>"
        })
    }

    /// Pastes `text` (newlines kept) and presses Enter; waits for the turn to end.
    fn submit(&self, window: &str, text: &str) -> String {
        let turns = self.screen(window).matches("✓ done in ").count();
        let mut child = Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(["load-buffer", "-b", "input", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        let target = Self::target(window);
        self.tmux(&[
            "paste-buffer",
            "-p",
            "-r",
            "-d",
            "-b",
            "input",
            "-t",
            &target,
        ]);
        std::thread::sleep(Duration::from_millis(100));
        self.tmux(&["send-keys", "-t", &target, "Enter"]);
        self.wait_for(window, "the end of the turn", |screen| {
            screen.matches("✓ done in ").count() > turns && bottom_line(screen) == "mock>"
        })
    }

    fn exit(&self, window: &str) -> i32 {
        let target = Self::target(window);
        self.tmux(&["send-keys", "-t", &target, "-l", "/exit"]);
        self.tmux(&["send-keys", "-t", &target, "Enter"]);
        let status_path = self.path(&format!("{window}.status"));
        let start = Instant::now();
        loop {
            let status = std::fs::read_to_string(&status_path).unwrap_or_default();
            if status.ends_with('\n') {
                return status.trim().parse().unwrap();
            }
            assert!(start.elapsed() < DEADLINE, "{window} still running");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn log(&self, window: &str) -> Vec<Value> {
        read_json_lines(&self.path(&format!("{window}.jsonl")))
    }
}

impl Drop for Panes {
    fn drop(&mut self) {
        if self.started {
            let socket_path = self
                .tmux_output(&["display-message", "-p", "#{socket_path}"])
                .stdout;
            let _ = self.tmux_output(&["kill-server"]);
            let socket_path = String::from_utf8_lossy(&socket_path).trim().to_owned();
            if socket_path.ends_with(&self.socket) {
                let _ = std::fs::remove_file(socket_path);
            }
        }
        // Agents killed with their panes leave their stdio servers to notice the end of
        // their input; make sure.
        for pid in self.stdio_pids.lock().unwrap().iter() {
            if is_running(*pid) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

fn read_json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the parenthesised command name.
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn bottom_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim_end()
}

fn is_working_line(line: &str) -> bool {
    let mut characters = line.chars();
    let spinner = characters.next().unwrap_or(' ');
    "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".contains(spinner)
        && characters
            .as_str()
            .starts_with(" working… (esc to interrupt, ")
        && line.ends_with("s)")
}

/// The lines after the last line equal to `marker`, up to the prompt.
fn lines_after<'a>(screen: &'a str, marker: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let at = lines
        .iter()
        .rposition(|line| *line == marker)
        .unwrap_or_else(|| panic!("no line {marker:?} in:\n{screen}"));
    let mut rest = lines[at + 1..].to_vec();
    while rest
        .last()
        .is_some_and(|line| line.is_empty() || *line == "mock>")
    {
        rest.pop();
    }
    rest
}

fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn http_calls_carry_templated_arguments_while_the_agent_works() {
    let server = HttpServer::start();
    let mut panes = Panes::new();
    let script = panes.write(
        "team.toml",
        r#"
[[rules]]
match = "build"
delay_ms = 50
reply = "developer: {result.0.output}\nreviewer: {result.1.terminal_id}"
[[rules.calls]]
tool = "handoff"
args = { agent_profile = "developer", message = "Implement: {first_line}", timeout = 30 }
[[rules.calls]]
tool = "team.assign"
args = { agent_profile = "reviewer", message = "Review this change: {result.0.output}" }
"#,
    );
    let config = json!({"mcpServers": {"team": {
        "type": "http", "url": server.url, "headers": {"Authorization": "Bearer test-token"},
    }}});
    let config = panes.write("mcp.json", &config.to_string());
    panes.launch(
        "agent",
        "term-1",
        &["--script", &script, "--mcp-config", &config],
    );
    panes.wait_for_prompt("agent");

    // Submitted without waiting for the turn: the handoff holds it until the gate opens.
    let target = Panes::target("agent");
    panes.tmux(&["send-keys", "-t", &target, "-l", "build the cache"]);
    panes.tmux(&["send-keys", "-t", &target, "Enter"]);
    let handoff = wait_until("the handoff call", || server.calls().first().cloned());
    let screen = panes.screen("agent");
    let calling = "● calling handoff(agent_profile=\"developer\", message=\"Implement: build the cache\", timeout=30)";
    assert_eq!(
        lines_after(&screen, "» build the cache")[0],
        calling,
        "{screen}"
    );
    assert!(
        is_working_line(bottom_line(&screen)),
        "the working line stays while the call runs:\n{screen}"
    );
    assert_eq!(
        handoff,
        json!({"tool": "handoff", "authorization": "Bearer test-token",
               "args": {"agent_profile": "developer", "message": "Implement: build the cache", "timeout": 30}})
    );
    server.gate.add_permits(1);

    let screen = panes.wait_for("agent", "the reply", |screen| {
        screen.contains("✓ done in ") && bottom_line(screen) == "mock>"
    });
    let block = lines_after(&screen, "» build the cache");
    assert_eq!(block[0], calling);
    assert!(block[1].starts_with("  ⎿ {\""), "{screen}");
    assert_eq!(
        block[2],
        "● calling team.assign(agent_profile=\"reviewer\", message=\"Review this change: built: Implement: build the cache\")"
    );
    assert!(block[3].starts_with("  ⎿ {"), "{screen}");
    assert_eq!(block[4], "● developer: built: Implement: build the cache");
    assert_eq!(block[5], "  reviewer: rev00002");
    assert!(block[6].starts_with("✓ done in "), "{screen}");
    assert!(!screen.contains("working…"), "{screen}");

    let calls = server.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[1],
        json!({"tool": "assign", "authorization": "Bearer test-token",
               "args": {"agent_profile": "reviewer", "message": "Review this change: built: Implement: build the cache"}})
    );

    let log = panes.log("agent");
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0]["input"], "build the cache");
    assert_eq!(log[1]["tool"], "handoff");
    assert_eq!(log[1]["args"], handoff["args"]);
    assert_eq!(log[1]["is_error"], false);
    assert_eq!(log[1]["terminal_id"], "term-1");
    let result: Value = serde_json::from_str(log[1]["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["output"], "built: Implement: build the cache");
    assert_eq!(log[2]["tool"], "team.assign");
    assert_eq!(log[2]["args"], calls[1]["args"]);
    assert!(log[2]["at_ms"].as_u64().unwrap() >= log[1]["at_ms"].as_u64().unwrap());

    assert_eq!(panes.exit("agent"), 0);
}

fn stdio_server_serves_the_built_in_team_scripts() {
    let mut panes = Panes::new();
    let record = panes.path("calls.jsonl");
    let exe = std::env::current_exe().unwrap();
    let config = json!({"mcpServers": {"cao": {
        "command": exe, "args": [],
        "env": {ROLE: "stdio-server", RECORD: record},
    }}});
    let config = panes.write("mcp.json", &config.to_string());
    panes.launch(
        "supervisor",
        "sup00001",
        &["--profile", "code_supervisor", "--mcp-config", &config],
    );
    panes.launch(
        "reviewer",
        "rev00002",
        &["--profile", "reviewer", "--mcp-config", &config],
    );
    panes.wait_for_prompt("supervisor");
    panes.wait_for_prompt("reviewer");
    // Both agents connect at start-up: their servers are running before any input.
    let pids: Vec<u32> = wait_until("two stdio servers", || {
        let pids: Vec<u32> = read_json_lines(&record)
            .iter()
            .filter_map(|line| line["pid"].as_u64())
            .map(|pid| pid as u32)
            .collect();
        (pids.len() == 2).then_some(pids)
    });
    panes.stdio_pids.lock().unwrap().extend(&pids);

    let screen = panes.submit("supervisor", "add a cache");
    let block = lines_after(&screen, "» add a cache");
    assert!(
        block[0].starts_with("● calling handoff(agent_profile=\"developer\""),
        "{screen}"
    );
    assert!(
        block.contains(&"● The developer finished: built: Implement: add a cache"),
        "{screen}"
    );
    assert!(
        block.contains(&"  Reviewer rev00002 is checking it; its verdict will follow."),
        "{screen}"
    );

    let task = "Review this change: built it\n\nWhen you are done, send your result back with the send_message tool.";
    let screen = panes.submit("reviewer", task);
    assert!(
        screen.contains("\n● Sent my result to my supervisor.\n"),
        "{screen}"
    );

    let screen = panes.submit(
        "supervisor",
        "[message from reviewer rev00002, cao inbox #1]\nReviewed: looks good",
    );
    let block = lines_after(&screen, "»   (+1 more lines)");
    assert_eq!(block[0], "● Final answer:");
    assert_eq!(block[1], "  Reviewed: looks good");

    let calls: Vec<Value> = read_json_lines(&record)
        .into_iter()
        .filter(|line| line.get("tool").is_some())
        .collect();
    let tools: Vec<&str> = calls
        .iter()
        .map(|call| call["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["handoff", "assign", "send_message"], "{calls:?}");
    assert_eq!(
        calls[1]["args"],
        json!({"agent_profile": "reviewer", "message": "Review this change: built: Implement: add a cache"})
    );
    assert_eq!(
        calls[2]["args"],
        json!({"message": "Reviewed: Review this change: built it"})
    );

    let log = panes.log("supervisor");
    let logged: Vec<(&str, bool)> = log
        .iter()
        .filter_map(|line| Some((line["tool"].as_str()?, line["is_error"].as_bool()?)))
        .collect();
    assert_eq!(logged, [("handoff", false), ("assign", false)], "{log:?}");
    let reviewer_log = panes.log("reviewer");
    assert_eq!(reviewer_log[1]["tool"], "send_message");
    let result: Value = serde_json::from_str(reviewer_log[1]["result"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({"success": true, "message_id": 42}));

    // On exit the agents close their servers' input; the servers end.
    assert_eq!(panes.exit("supervisor"), 0);
    assert_eq!(panes.exit("reviewer"), 0);
    wait_until("the stdio servers to end", || {
        pids.iter().all(|pid| !is_running(*pid)).then_some(())
    });
}

fn an_unreachable_server_fails_the_call_not_the_agent() {
    // A port nobody listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut panes = Panes::new();
    let config = json!({"mcpServers": {"down": {"type": "http", "url": format!("http://127.0.0.1:{port}/mcp")}}});
    let config = panes.write("mcp.json", &config.to_string());
    panes.launch(
        "worker",
        "dev00001",
        &["--profile", "developer", "--mcp-config", &config],
    );
    panes.wait_for_prompt("worker");

    let screen = panes.submit(
        "worker",
        "Fix the bug\n\nSend your result back with the send_message tool.",
    );
    let block = lines_after(&screen, "»   (+2 more lines)");
    assert!(
        block[0].starts_with("● calling send_message(message=\"Reviewed: Fix the bug\")"),
        "{screen}"
    );
    assert!(
        block[1].starts_with("● tool send_message failed: no connected MCP server offers the tool `send_message` (not connected: `down`: "),
        "{screen}"
    );
    assert_eq!(block[2], "● Sent my result to my supervisor.");
    assert!(!screen.contains('✗'), "{screen}");

    let log = panes.log("worker");
    assert_eq!(log[1]["tool"], "send_message");
    assert_eq!(log[1]["is_error"], true);
    assert!(
        log[1]["result"].as_str().unwrap().contains("`down`"),
        "{log:?}"
    );

    let screen = panes.submit("worker", "still there?");
    assert!(screen.contains("\n● echo: still there?\n"), "{screen}");
    assert_eq!(panes.exit("worker"), 0);
}
