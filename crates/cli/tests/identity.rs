//! Who a request acts as, end to end: a real cao server on 127.0.0.1 with two mock agents on a
//! private tmux server. A terminal's agent token opens its own MCP endpoint and nothing else,
//! the operator token opens everything, the stdio proxy cannot borrow another terminal's
//! identity, a deleted terminal's token is dead, and a refused creation request leaves
//! nothing behind. Each test stops its server and kills its tmux server on drop; the proxies
//! it spawns are waited for (and killed on drop).

mod common;

use std::process::Stdio;

use common::live::Live;
use common::{Fixture, DEADLINE};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn initialize() -> Value {
    common::mcp_initialize("identity-test")
}

fn refusal_for(terminal_id: &str) -> String {
    format!(
        "this token belongs to terminal {terminal_id}: it may only call /mcp/agents/{terminal_id}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_token_opens_only_its_own_endpoint() {
    let live = Live::start(Fixture::new()).await;
    let a = live.terminal("ids", "developer").await;
    let b = live.terminal("ids", "developer").await;
    let token_a = live.agent_token(&a);
    assert!(token_a.starts_with(&format!("cao-agent-{a}-")), "{token_a}");

    // The agent got exactly this token, in its pane's environment and its MCP config.
    assert_eq!(
        live.agent_env(&a, "CAO_TERMINAL_TOKEN").as_deref(),
        Some(token_a.as_str())
    );
    let config_file = live
        .fixture
        .home
        .path()
        .join("terminals")
        .join(&a)
        .join("mcp.json");
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap())
        .unwrap_or_else(|error| panic!("{}: {error}", config_file.display()));
    let server = &config["mcpServers"]["cao-mcp-server"];
    assert_eq!(server["url"], live.url(&format!("/mcp/agents/{a}")));
    assert_eq!(
        server["headers"]["Authorization"],
        format!("Bearer {token_a}")
    );
    assert_ne!(token_a, live.agent_token(&b));

    // (a) Its own endpoint.
    let own = live
        .call(
            "POST",
            &format!("/mcp/agents/{a}"),
            Some(&token_a),
            Some(initialize()),
        )
        .await;
    assert_eq!(own.status, 200, "{:?}", own.body);

    // (b) Anything else: 403 naming the one path it may call.
    for (method, path, body) in [
        ("POST", format!("/mcp/agents/{b}"), Some(initialize())),
        ("POST", "/mcp/ops".to_string(), Some(initialize())),
        ("GET", "/sessions".to_string(), None),
        (
            "POST",
            format!("/terminals/{a}/input"),
            Some(json!({ "message": "typed with an agent token" })),
        ),
        (
            "POST",
            format!("/terminals/{b}/inbox/messages"),
            Some(json!({ "message": "queued with an agent token" })),
        ),
    ] {
        let refused = live.call(method, &path, Some(&token_a), body).await;
        assert_eq!(refused.status, 403, "{method} {path}: {:?}", refused.body);
        assert_eq!(refused.detail(), refusal_for(&a), "{method} {path}");
    }
    assert!(live.fixture.inputs_of(&a).is_empty(), "nothing was typed");
    let inbox = live
        .operator("GET", &format!("/terminals/{b}/inbox/messages"), None)
        .await;
    assert_eq!(inbox.body, json!([]), "nothing was queued");

    // (c) The operator token opens both agents' endpoints; a token that is neither is 401.
    for terminal in [&a, &b] {
        let answer = live
            .operator(
                "POST",
                &format!("/mcp/agents/{terminal}"),
                Some(initialize()),
            )
            .await;
        assert_eq!(answer.status, 200, "{terminal}: {:?}", answer.body);
    }
    let tag = token_a.rsplit('-').next().unwrap();
    for bogus in [
        "bogus".to_string(),
        format!("cao-agent-{b}-{tag}"),
        format!("cao-agent-{a}-{}", "0".repeat(tag.len())),
        token_a[..token_a.len() - 2].to_string(),
    ] {
        for path in [format!("/mcp/agents/{a}"), format!("/mcp/agents/{b}")] {
            let answer = live
                .call("POST", &path, Some(&bogus), Some(initialize()))
                .await;
            assert_eq!(answer.status, 401, "{bogus} on {path}: {:?}", answer.body);
        }
    }

    // (e) Once A is deleted its token names no terminal. The guard then treats it as it
    // treats any token that is neither the operator's nor a live terminal's: 401 (no valid
    // token), not 403, which is only for a valid agent token outside its own endpoint.
    let deleted = live
        .operator("DELETE", &format!("/terminals/{a}"), None)
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    for (path, body) in [
        (format!("/mcp/agents/{a}"), Some(initialize())),
        (format!("/mcp/agents/{b}"), Some(initialize())),
    ] {
        let answer = live.call("POST", &path, Some(&token_a), body).await;
        assert_eq!(answer.status, 401, "{path}: {:?}", answer.body);
    }
    let sessions = live.call("GET", "/sessions", Some(&token_a), None).await;
    assert_eq!(sessions.status, 401, "{:?}", sessions.body);
    // B's own token still works.
    let token_b = live.agent_token(&b);
    let own = live
        .call(
            "POST",
            &format!("/mcp/agents/{b}"),
            Some(&token_b),
            Some(initialize()),
        )
        .await;
    assert_eq!(own.status, 200, "{:?}", own.body);
}

/// Runs `cao mcp-server` as terminal `terminal_id` presenting `token`, writes `lines`, reads
/// one answer per request, closes its input and waits for it to exit.
async fn through_the_proxy(
    live: &Live,
    terminal_id: &str,
    token: &str,
    lines: &[Value],
) -> Vec<Value> {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cao"))
        .arg("mcp-server")
        .env("CAO_HOME_DIR", live.fixture.home.path())
        .env("CAO_API_HOST", "127.0.0.1")
        .env("CAO_API_PORT", live.addr.port().to_string())
        .env("CAO_TERMINAL_ID", terminal_id)
        .env("CAO_TERMINAL_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut answers = Vec::new();
    for line in lines {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        if line.get("id").is_none() {
            continue;
        }
        let mut answer = String::new();
        tokio::time::timeout(DEADLINE, stdout.read_line(&mut answer))
            .await
            .expect("the proxy answers")
            .unwrap();
        answers.push(serde_json::from_str(&answer).unwrap());
    }
    drop(stdin);
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("the proxy exits when its input ends")
        .unwrap();
    assert!(status.success(), "{status}");
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdio_proxy_cannot_borrow_another_terminals_token() {
    let live = Live::start(Fixture::new()).await;
    let a = live.terminal("proxy", "developer").await;
    let b = live.terminal("proxy", "developer").await;
    let send_to_a = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "send_message", "arguments": { "message": "from B, signed by A", "receiver_id": a } },
    });

    // Terminal B's proxy holding A's token: the server refuses every request, and the proxy
    // answers each with a JSON-RPC error carrying the refusal.
    let answers = through_the_proxy(
        &live,
        &b,
        &live.agent_token(&a),
        &[
            initialize(),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            send_to_a.clone(),
        ],
    )
    .await;
    assert_eq!(answers.len(), 2);
    for (answer, id) in answers.iter().zip([1, 2]) {
        assert_eq!(answer["id"], id, "{answer}");
        assert!(answer.get("result").is_none(), "{answer}");
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no JSON-RPC error: {answer}"));
        assert!(message.contains("HTTP 403"), "{message}");
        assert!(message.contains(&refusal_for(&a)), "{message}");
    }
    let inbox = live
        .operator("GET", &format!("/terminals/{a}/inbox/messages"), None)
        .await;
    assert_eq!(inbox.body, json!([]), "nothing was queued for A");

    // The same proxy with B's own token works (the refusal above was the token's).
    let answers = through_the_proxy(
        &live,
        &b,
        &live.agent_token(&b),
        &[
            initialize(),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            send_to_a,
        ],
    )
    .await;
    assert_eq!(
        answers[0]["result"]["serverInfo"]["name"], "cao-mcp-server",
        "{}",
        answers[0]
    );
    assert_eq!(answers[1]["result"]["isError"], false, "{}", answers[1]);
    let inbox = live
        .operator("GET", &format!("/terminals/{a}/inbox/messages"), None)
        .await;
    assert_eq!(inbox.body[0]["sender_id"], b.as_str(), "{}", inbox.body);
}

/// What a creation request could leave behind: sessions, the session's terminals, tmux
/// windows and per-terminal config directories.
async fn footprint(live: &Live, session: &str) -> (Value, Value, Vec<String>, Vec<String>) {
    let sessions = live.operator("GET", "/sessions", None).await.body;
    let terminals = live
        .operator("GET", &format!("/sessions/{session}/terminals"), None)
        .await
        .body;
    let windows = std::process::Command::new("tmux")
        .args([
            "-L",
            &live.fixture.socket,
            "list-windows",
            "-a",
            "-F",
            "#{session_name}:#{window_name}",
        ])
        .output()
        .unwrap();
    let mut windows: Vec<String> = String::from_utf8_lossy(&windows.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    windows.sort();
    let mut directories: Vec<String> =
        std::fs::read_dir(live.fixture.home.path().join("terminals"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    directories.sort();
    (sessions, terminals, windows, directories)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_creation_request_leaves_nothing_behind() {
    let live = Live::start(Fixture::new()).await;
    let existing = live.terminal("kept", "developer").await;
    let session = live
        .orchestrator
        .get_terminal(&existing)
        .unwrap()
        .session_name;
    let before = footprint(&live, &session).await;
    assert_eq!(before.1.as_array().unwrap().len(), 1);
    assert!(
        before
            .2
            .iter()
            .any(|window| window.starts_with("cao-kept:")),
        "{:?}",
        before.2
    );
    assert_eq!(before.3, std::slice::from_ref(&existing));

    // (the request's fields, the status, words the error must contain)
    let cases: Vec<(Value, u16, Vec<&str>)> = vec![
        (
            json!({ "env_vars": { "CAO_TERMINAL_ID": "x" } }),
            400,
            vec!["CAO_TERMINAL_ID"],
        ),
        (
            json!({ "env_vars": { "CAO_TERMINAL_TOKEN": "cao-agent-x-00" } }),
            400,
            vec!["CAO_TERMINAL_TOKEN"],
        ),
        (
            json!({ "env_vars": { "HARMLESS_NAME": "a\u{0}b" } }),
            400,
            vec!["HARMLESS_NAME", "NUL"],
        ),
        (
            json!({ "initial_message": "hello\u{0}there" }),
            400,
            vec!["initial message", "NUL"],
        ),
        (
            json!({ "model": "--settings=/tmp/x.json" }),
            400,
            vec!["--settings=/tmp/x.json", "not a model name"],
        ),
        (
            json!({ "model": "two words" }),
            400,
            vec!["not a model name"],
        ),
        (
            json!({ "model": "line\nbreak" }),
            400,
            vec!["not a model name"],
        ),
    ];
    for (fields, status, words) in &cases {
        let mut body = json!({ "agent_profile": "developer", "provider": "mock" });
        for (key, value) in fields.as_object().unwrap() {
            body[key] = value.clone();
        }
        let mut new_session = body.clone();
        new_session["session_name"] = json!("refused");
        for (path, body) in [
            ("/sessions".to_string(), new_session),
            (format!("/sessions/{session}/terminals"), body),
        ] {
            let answer = live.operator("POST", &path, Some(body)).await;
            assert_eq!(answer.status, *status, "{path} {fields}: {:?}", answer.body);
            for word in words {
                assert!(
                    answer.detail().contains(word),
                    "{path} {fields}: {}",
                    answer.detail()
                );
            }
            assert_eq!(
                footprint(&live, &session).await,
                before,
                "{path} {fields} left something behind"
            );
        }
    }

    // A creator that does not exist: 404 naming it, on the route that takes one.
    let answer = live
        .operator(
            "POST",
            &format!("/sessions/{session}/terminals"),
            Some(json!({ "agent_profile": "developer", "provider": "mock", "caller_id": "deadbeef" })),
        )
        .await;
    assert_eq!(answer.status, 404, "{:?}", answer.body);
    assert!(answer.detail().contains("deadbeef"), "{}", answer.detail());
    assert_eq!(footprint(&live, &session).await, before);
    let refused = live.operator("GET", "/sessions/refused", None).await;
    assert_eq!(refused.status, 404, "{:?}", refused.body);
}
