//! `cao launch`, `cao session`, `cao shutdown` and `cao server` as a user runs them: real
//! binaries, a real server on a free 127.0.0.1 port, a private tmux server and data directory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Env {
    home: tempfile::TempDir,
    socket: String,
    port: u16,
}

impl Env {
    fn new() -> Env {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Env {
            home: tempfile::tempdir().unwrap(),
            socket: format!("cao-launch-{}-{port}", std::process::id()),
            port,
        }
    }

    fn cao(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cao"))
            .args(args)
            .env("CAO_HOME_DIR", self.home.path())
            .env("CAO_TMUX_SOCKET", &self.socket)
            .env("CAO_API_PORT", self.port.to_string())
            .env("CAO_API_HOST", "127.0.0.1")
            .env_remove("TMUX")
            .output()
            .unwrap()
    }

    /// A raw HTTP request without a token; returns the status line.
    fn raw_request(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.lines().next().unwrap_or("").to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(record) = std::fs::read_to_string(self.home.path().join("server.pid")) {
            let record: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
            if let Some(pid) = record["pid"].as_i64().map(|pid| pid as i32) {
                // SAFETY: the pid our own server wrote.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
        let socket = cao_tmux::Socket::named(&self.socket).path();
        let _ = std::fs::remove_file(&socket);
        // The server's lock beside the socket, left when it was killed.
        let mut lock = socket.into_os_string();
        lock.push(".cao.lock");
        let _ = std::fs::remove_file(lock);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn headless_launch_prints_the_reply_and_shutdown_leaves_nothing() {
    let env = Env::new();
    let task = "two lines; \"quoted\" $(not run) `nor this`\nsecond line ✓";
    let output = env.cao(&[
        "launch",
        "--agents",
        "developer",
        "--provider",
        "mock",
        "--session-name",
        "t1",
        "--headless",
        task,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), format!("echo: {task}\n"));

    let list = env.cao(&["session", "list", "--json"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let sessions: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(sessions[0]["name"], "cao-t1");

    let status = env.cao(&["session", "status", "t1", "--json"]);
    let detail: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(detail["terminals"][0]["status"], "completed");
    assert_eq!(detail["terminals"][0]["provider"], "mock");

    // The API refuses callers without the token, and foreign hosts.
    assert!(env
        .raw_request("GET /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .contains("401"));
    assert!(env
        .raw_request("GET /health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .contains("403"));

    let shutdown = env.cao(&["shutdown", "--all", "--server"]);
    assert!(shutdown.status.success(), "{}", text(&shutdown.stderr));
    assert!(!env.home.path().join("server.pid").exists());
    let sessions = Command::new("tmux")
        .args(["-L", &env.socket, "list-sessions", "-F", "#{session_name}"])
        .output()
        .unwrap();
    assert!(!text(&sessions.stdout).contains("cao-t1"));
    let log = std::fs::read_dir(env.home.path().join("logs/terminal"))
        .unwrap()
        .count();
    assert_eq!(log, 1, "the scrollback was saved");
}

#[test]
fn bad_input_fails_fast_with_one_line_naming_the_fix() {
    let env = Env::new();
    let started = Instant::now();
    let output = env.cao(&[
        "launch",
        "--agents",
        "nobody",
        "--provider",
        "mock",
        "--headless",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("nobody") && stderr.contains("developer"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let output = env.cao(&[
        "launch",
        "--agents",
        "developer",
        "--provider",
        "nonesuch",
        "--headless",
        "x",
    ]);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("nonesuch") && stderr.contains("claude_code"),
        "{stderr}"
    );

    let output = env.cao(&[
        "launch",
        "--agents",
        "developer",
        "--provider",
        "mock",
        "--session-name",
        "a;b",
        "--headless",
        "x",
    ]);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("invalid session name"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // A second server on the same port says so at once (another data directory and tmux
    // socket: a second server on the same ones is refused before it binds).
    let other_home = tempfile::tempdir().unwrap();
    let second = Command::new(env!("CARGO_BIN_EXE_cao"))
        .args(["server", "--port", &env.port.to_string()])
        .env("CAO_HOME_DIR", other_home.path())
        .env("CAO_TMUX_SOCKET", format!("{}-other", env.socket))
        .env_remove("TMUX")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("already in use"),
        "{}",
        text(&second.stderr)
    );

    let list = env.cao(&["session", "list"]);
    assert_eq!(text(&list.stdout).trim(), "no sessions");
    let _ = env.cao(&["shutdown", "--server"]);
}

#[test]
fn without_a_server_client_commands_say_how_to_start_one() {
    let env = Env::new();
    let output = env.cao(&["session", "list"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("cao server"),
        "{}",
        text(&output.stderr)
    );
}

/// The README's main command: a mock supervisor hands off to a developer and assigns a
/// reviewer over cao's MCP tools, the reviewer reports back by send_message, and the
/// supervisor's final answer is printed.
#[test]
fn headless_team_demo_hands_off_assigns_and_prints_the_final_answer() {
    let env = Env::new();
    let log = env.home.path().join("agents.jsonl");
    let started = Instant::now();
    let output = env.cao(&[
        "launch",
        "--agents",
        "code_supervisor",
        "--provider",
        "mock",
        "--session-name",
        "team",
        "--env",
        &format!("CAO_MOCK_AGENT_LOG={}", log.display()),
        "--headless",
        "add a --verbose flag",
        "--timeout",
        "60",
    ]);
    eprintln!("team demo: {:?}", started.elapsed());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "Final answer:\nReviewed: Review this change: echo: Implement: add a --verbose flag\n"
    );
    // The supervisor's own log shows the real MCP calls and their results.
    let calls: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["tool"].is_string())
        .collect();
    let tool = |name: &str| {
        calls
            .iter()
            .find(|call| call["tool"] == name)
            .unwrap_or_else(|| panic!("no {name} call in {calls:?}"))
    };
    assert_eq!(tool("handoff")["is_error"], false, "{calls:?}");
    assert!(tool("handoff")["result"]
        .as_str()
        .unwrap()
        .contains("echo: Implement: add a --verbose flag"));
    assert_eq!(tool("assign")["is_error"], false, "{calls:?}");
    assert_eq!(tool("send_message")["is_error"], false, "{calls:?}");
    // The handoff worker is gone; the supervisor and the assigned reviewer remain.
    let status = env.cao(&["session", "status", "team", "--json"]);
    let detail: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let profiles: Vec<&str> = detail["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|terminal| terminal["agent_profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["code_supervisor", "reviewer"]);
    let _ = env.cao(&["shutdown", "--all", "--server"]);
}

/// The CLI twins of the orchestration tools, as an operator runs them.
#[test]
fn agent_commands_hand_off_assign_message_and_inspect_workers() {
    let env = Env::new();
    let log = env.home.path().join("agents.jsonl");
    let launched = env.cao(&[
        "launch",
        "--agents",
        "code_supervisor",
        "--provider",
        "mock",
        "--session-name",
        "twins",
        "--env",
        &format!("CAO_MOCK_AGENT_LOG={}", log.display()),
        "--async",
        "--json",
    ]);
    assert!(launched.status.success(), "{}", text(&launched.stderr));
    let supervisor: serde_json::Value = serde_json::from_slice(&launched.stdout).unwrap();
    let supervisor = supervisor["id"].as_str().unwrap().to_string();

    // handoff from the operator, on behalf of the supervisor: prints the worker's answer.
    let handoff = env.cao(&[
        "agent",
        "handoff",
        "developer",
        "fix the; \"bug\"",
        "--from",
        &supervisor,
        "--timeout",
        "60",
    ]);
    assert!(handoff.status.success(), "{}", text(&handoff.stderr));
    assert_eq!(text(&handoff.stdout), "echo: fix the; \"bug\"\n");

    // assign prints the worker's id; the worker is in the supervisor's session.
    let assign = env.cao(&[
        "agent",
        "assign",
        "reviewer",
        "look at it",
        "--from",
        &supervisor,
    ]);
    assert!(assign.status.success(), "{}", text(&assign.stderr));
    let worker = text(&assign.stdout).trim().to_string();
    assert_eq!(worker.len(), 8, "{worker:?}");
    let status = env.cao(&["agent", "status", &worker]);
    assert!(status.status.success(), "{}", text(&status.stderr));

    // A message from the worker without --to goes to its creator.
    let sent = env.cao(&[
        "agent",
        "send-message",
        "done, all good",
        "--from",
        &worker,
        "--json",
    ]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let sent: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(sent["receiver_id"], supervisor.as_str());

    // Errors: one line, the right exit code.
    let unknown = env.cao(&["agent", "handoff", "nobody", "x", "--from", &supervisor]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("nobody"),
        "{}",
        text(&unknown.stderr)
    );
    let missing = env.cao(&["agent", "result", "0123456789abcdef"]);
    assert_eq!(missing.status.code(), Some(1));

    let cancel = env.cao(&["agent", "cancel", &worker, "--delete"]);
    assert!(cancel.status.success(), "{}", text(&cancel.stderr));
    let gone = env.cao(&["agent", "status", &worker]);
    assert_eq!(gone.status.code(), Some(1));
    let _ = env.cao(&["shutdown", "--all", "--server"]);
}
