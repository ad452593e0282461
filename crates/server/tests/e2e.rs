//! A whole session over HTTP: real tmux on a private socket, the orchestrator, and scripted
//! agents. The test binary is its own agent CLI: the orchestrator launches
//! `<this binary> mock-agent` (the mock provider's argv with this binary as `cao`), which runs
//! `cao_mock_agent` instead of the test. Status changes are awaited on `GET /events`.

mod common;

use std::time::Duration;

use common::{detail, EventStream, Server};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(20);

fn main() {
    if std::env::args().nth(1).as_deref() == Some("mock-agent") {
        run_mock_agent();
    }
    // Behave like libtest for `--list` and name filters (`cargo test -p cao-server hosts`).
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.iter().any(|argument| argument == "--list") {
        println!("a_session_over_http: test");
        return;
    }
    let filters: Vec<&String> = arguments
        .iter()
        .filter(|argument| !argument.starts_with('-'))
        .collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|filter| "a_session_over_http".contains(filter.as_str()))
    {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(a_session_over_http());
    println!("e2e: a_session_over_http ... ok");
}

/// `cao mock-agent [--script FILE]`, as `crates/cli` runs it.
fn run_mock_agent() -> ! {
    let mut arguments = std::env::args().skip(2);
    let mut script = std::env::var_os("CAO_MOCK_AGENT_SCRIPT").map(Into::into);
    while let Some(argument) = arguments.next() {
        if argument == "--script" {
            script = arguments.next().map(Into::into);
        }
    }
    let options = cao_mock_agent::Options {
        script,
        log: std::env::var_os("CAO_MOCK_AGENT_LOG").map(Into::into),
        terminal_id: std::env::var("CAO_TERMINAL_ID").ok(),
        ..Default::default()
    };
    match cao_mock_agent::run(&options) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(error.exit_code())
        }
    }
}

fn ready(status: &str) -> bool {
    matches!(status, "idle" | "completed")
}

async fn a_session_over_http() {
    let server = Server::start_with(
        |orchestrator| {
            orchestrator.cao_binary = std::env::current_exe().expect("the test binary's path");
            orchestrator.default_provider = "mock".into();
            orchestrator.path = std::env::var_os("PATH").unwrap_or_default();
        },
        |_| {},
    )
    .await;
    let mut events = EventStream::open(server.request("GET", "/events")).await;

    // CAO's query string for the routing fields, the env map in the body.
    let created = server
        .request(
            "POST",
            "/sessions?agent_profile=developer&provider=mock&session_name=e2e",
        )
        .json(json!({ "env_vars": { "E2E_MARKER": "1" } }))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let conductor = created.body["id"].as_str().unwrap().to_string();
    for key in [
        "id",
        "name",
        "provider",
        "session_name",
        "agent_profile",
        "status",
    ] {
        assert!(created.body.get(key).is_some(), "{key} in {}", created.body);
    }
    assert_eq!(created.body["session_name"], "cao-e2e");
    assert_eq!(created.body["provider"], "mock");
    events.wait_status(&conductor, ready, DEADLINE).await;

    // Text with newlines and quotes travels in the body, not the URL.
    let message = "hello \"there\"\nsecond line ✓";
    let sent = server
        .request("POST", &format!("/terminals/{conductor}/input"))
        .json(json!({ "message": message }))
        .send()
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body, json!({ "success": true }));
    events
        .wait_status(&conductor, |status| status == "completed", DEADLINE)
        .await;
    let last = server
        .request("GET", &format!("/terminals/{conductor}/output?mode=last"))
        .send()
        .await;
    assert_eq!(last.status, 200);
    assert_eq!(last.body["mode"], "last");
    let output = last.body["output"].as_str().unwrap();
    assert!(output.starts_with("echo: hello \"there\""), "{output:?}");
    assert!(output.contains("second line ✓"), "{output:?}");
    let full = server
        .request("GET", &format!("/terminals/{conductor}/output"))
        .send()
        .await;
    assert_eq!(full.body["mode"], "full");
    assert!(full.body["output"]
        .as_str()
        .unwrap()
        .contains("echo: hello"));

    let terminal = server
        .request("GET", &format!("/terminals/{conductor}"))
        .send()
        .await;
    assert_eq!(terminal.body["status"], "completed");
    let directory = server
        .request("GET", &format!("/terminals/{conductor}/working-directory"))
        .send()
        .await;
    assert_eq!(directory.status, 200);
    assert!(directory.body.get("working_directory").is_some());
    let key = server
        .request("POST", &format!("/terminals/{conductor}/key?key=Enter"))
        .send()
        .await;
    assert_eq!(key.status, 200, "{}", key.body);
    let bad_key = server
        .request("POST", &format!("/terminals/{conductor}/key"))
        .json(json!({ "key": "rm -rf /" }))
        .send()
        .await;
    assert_eq!(bad_key.status, 400, "{}", bad_key.body);

    // A worker in the same session, parameters all in the body this time.
    let worker = server
        .request("POST", "/sessions/cao-e2e/terminals")
        .json(json!({
            "agent_profile": "reviewer",
            "provider": "mock",
            "caller_id": conductor,
        }))
        .send()
        .await;
    assert_eq!(worker.status, 201, "{}", worker.body);
    let worker_id = worker.body["id"].as_str().unwrap().to_string();
    let listed = server
        .request("GET", "/sessions/cao-e2e/terminals")
        .send()
        .await;
    let ids: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|terminal| terminal["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![conductor.as_str(), worker_id.as_str()]);
    let session = server.request("GET", "/sessions/cao-e2e").send().await;
    assert_eq!(session.status, 200);
    assert_eq!(session.body["session"]["name"], "cao-e2e");
    assert_eq!(session.body["terminals"][0]["id"], conductor.as_str());
    let sessions = server.request("GET", "/sessions").send().await;
    assert_eq!(sessions.body.as_array().map(Vec::len), Some(1));
    assert_eq!(sessions.body[0]["terminal_count"], 2);

    let deleted = server
        .request("DELETE", &format!("/terminals/{worker_id}"))
        .send()
        .await;
    assert_eq!(deleted.body, json!({ "success": true }));
    let gone = server
        .request("GET", &format!("/terminals/{worker_id}"))
        .send()
        .await;
    assert_eq!(gone.status, 404);
    assert!(!detail(&gone).is_empty());

    let removed = server.request("DELETE", "/sessions/cao-e2e").send().await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.body["success"], true);
    assert_eq!(removed.body["terminal_ids"], json!([conductor]));
    let sessions = server.request("GET", "/sessions").send().await;
    assert_eq!(sessions.body, Value::Array(Vec::new()));
}
