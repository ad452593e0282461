//! The server over real HTTP on 127.0.0.1 (port 0), in front of a real orchestrator on a
//! private tmux server: the guards, parameter parsing, error shapes, the OpenAPI document and
//! the listener's failure and shutdown behaviour. Each test kills the tmux server it started.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use cao_server::{AuthMode, ServerConfig, ServerError};
use common::{detail, Server, TOKEN};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

#[tokio::test]
async fn health_needs_no_token_and_the_rest_does() {
    let server = Server::start().await;
    let health = server
        .request("GET", "/health")
        .without("Authorization")
        .send()
        .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["service"], "cli-agent-orchestrator");

    for request in [
        server.request("GET", "/sessions").without("Authorization"),
        server
            .request("GET", "/sessions")
            .header("Authorization", "Bearer wrong"),
        server
            .request("GET", "/sessions")
            .header("Authorization", &format!("Basic {TOKEN}")),
        server
            .request("GET", "/openapi.json")
            .without("Authorization"),
        server.request("GET", "/events").without("Authorization"),
        server
            .request("DELETE", "/sessions/cao-x")
            .without("Authorization"),
    ] {
        let response = request.send().await;
        assert_eq!(response.status, 401, "{}", response.body);
        assert!(response
            .head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"));
        let token_file = server.home.path().join("server.token");
        let message = detail(&response);
        assert!(
            message.starts_with("missing or invalid bearer token: read it from "),
            "{message}"
        );
        assert!(
            message.contains(&*server.home.path().to_string_lossy()),
            "{message} / {token_file:?}"
        );
    }

    let listed = server.request("GET", "/sessions").send().await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, json!([]));
}

#[tokio::test]
async fn auth_can_be_disabled() {
    let server = Server::start_with(|_| {}, |config| config.auth = AuthMode::Disabled).await;
    let listed = server
        .request("GET", "/sessions")
        .without("Authorization")
        .send()
        .await;
    assert_eq!(listed.status, 200);
}

#[tokio::test]
async fn foreign_hosts_are_refused_everywhere() {
    let server = Server::start().await;
    for host in [
        "evil.example",
        "localhost.evil.example:80",
        "127.0.0.1.nip.io",
    ] {
        for path in ["/health", "/sessions"] {
            let response = server
                .request("GET", path)
                .header("Host", host)
                .send()
                .await;
            assert_eq!(response.status, 403, "{host} {path}");
            assert!(detail(&response).contains("DNS-rebinding"));
        }
    }
    let port = server.addr.port();
    for host in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("[::1]:{port}"),
    ] {
        let response = server
            .request("GET", "/sessions")
            .header("Host", &host)
            .send()
            .await;
        assert_eq!(response.status, 200, "{host}");
    }
}

#[tokio::test]
async fn cross_site_origins_cannot_change_state() {
    let server = Server::start().await;
    let refused = server
        .request("DELETE", "/sessions/cao-any")
        .header("Origin", "http://evil.example")
        .send()
        .await;
    assert_eq!(refused.status, 403);
    assert!(detail(&refused).contains("cross-site"));
    for origin in ["null", "http://localhost.evil.example", "file://localhost"] {
        let response = server
            .request("POST", "/terminals/abcd1234/key?key=Enter")
            .header("Origin", origin)
            .send()
            .await;
        assert_eq!(response.status, 403, "{origin}");
    }
    // Reads are not state-changing, and a local page may post.
    let read = server
        .request("GET", "/sessions")
        .header("Origin", "http://evil.example")
        .send()
        .await;
    assert_eq!(read.status, 200);
    let local = server
        .request("DELETE", "/sessions/cao-nosuch")
        .header(
            "Origin",
            &format!("http://localhost:{}", server.addr.port()),
        )
        .send()
        .await;
    assert_ne!(local.status, 403, "{}", local.body);
}

#[tokio::test]
async fn parameters_come_from_the_query_or_the_body_and_the_body_wins() {
    let server = Server::start().await;
    // Missing a required field: 422 naming it.
    let missing = server
        .request("POST", "/terminals/abcd1234/input")
        .send()
        .await;
    assert_eq!(missing.status, 422);
    assert!(detail(&missing).contains("message"), "{}", missing.body);
    // From the query string or the body, the request reaches the orchestrator (no terminal).
    let by_query = server
        .request("POST", "/terminals/abcd1234/input?message=hello%20there")
        .send()
        .await;
    assert_eq!(by_query.status, 404, "{}", by_query.body);
    let by_body = server
        .request("POST", "/terminals/abcd1234/input")
        .json(json!({ "message": "hello" }))
        .send()
        .await;
    assert_eq!(by_body.status, 404, "{}", by_body.body);
    // A body that is not a JSON object is a shape error.
    let not_object = server
        .request("POST", "/terminals/abcd1234/input?message=x")
        .raw_body(b"[1, 2]".to_vec())
        .send()
        .await;
    assert_eq!(not_object.status, 422);
    assert!(detail(&not_object).contains("JSON object"));

    // The query names a provider that does not exist; the body's real one wins, whose binary
    // the server cannot find: 503 naming it, instead of 404 for the unknown provider.
    let query_only = server
        .request(
            "POST",
            "/sessions?agent_profile=developer&provider=no_such_provider",
        )
        .send()
        .await;
    assert_eq!(query_only.status, 404, "{}", query_only.body);
    let body_wins = server
        .request(
            "POST",
            "/sessions?agent_profile=developer&provider=no_such_provider",
        )
        .json(json!({ "provider": "codex", "env_vars": { "A": "1" } }))
        .send()
        .await;
    assert_eq!(body_wins.status, 503, "{}", body_wins.body);
    assert!(detail(&body_wins).contains("codex"), "{}", body_wins.body);
    let listed = server.request("GET", "/sessions").send().await;
    assert_eq!(
        listed.body,
        json!([]),
        "a failed create leaves nothing behind"
    );
}

#[tokio::test]
async fn errors_use_fastapi_detail_bodies() {
    let server = Server::start().await;
    let unknown_route = server.request("GET", "/no/such/route").send().await;
    assert_eq!(unknown_route.status, 404);
    assert_eq!(unknown_route.body, json!({ "detail": "Not Found" }));
    let wrong_method = server.request("PUT", "/sessions").send().await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.body, json!({ "detail": "Method Not Allowed" }));
    let terminal = server.request("GET", "/terminals/abcd1234").send().await;
    assert_eq!(terminal.status, 404);
    assert_ne!(detail(&terminal), "Not Found");
    let profile = server
        .request("GET", "/agents/profiles/no_such_profile")
        .send()
        .await;
    assert_eq!(profile.status, 404);
    assert!(detail(&profile).contains("no_such_profile"));
    let mode = server
        .request("GET", "/terminals/abcd1234/output?mode=middle")
        .send()
        .await;
    assert_eq!(mode.status, 400);
    assert!(detail(&mode).contains("'full' or 'last'"));
}

#[tokio::test]
async fn catalog_routes_answer_in_caos_shapes() {
    let server = Server::start().await;
    let profiles = server.request("GET", "/agents/profiles").send().await;
    assert_eq!(profiles.status, 200);
    let names: Vec<&str> = profiles
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|profile| profile["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"developer"), "{names:?}");
    let developer = server
        .request("GET", "/agents/profiles/developer")
        .send()
        .await;
    assert_eq!(developer.status, 200);
    assert_eq!(developer.body["name"], "developer");
    let providers = server.request("GET", "/agents/providers").send().await;
    assert_eq!(providers.status, 200);
    let claude = providers
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|provider| provider["name"] == "claude_code")
        .expect("claude_code listed");
    assert_eq!(claude["binary"], "claude");
    assert_eq!(claude["installed"], false);
}

#[tokio::test]
async fn body_size_is_limited() {
    let server = Server::start_with(|_| {}, |config| config.body_limit = 1024).await;
    let response = server
        .request("POST", "/terminals/abcd1234/input")
        .json(json!({ "message": "x".repeat(4096) }))
        .send()
        .await;
    assert_eq!(response.status, 413);
    assert!(detail(&response).contains("1024 bytes"));
}

#[tokio::test]
async fn openapi_lists_every_route_and_every_route_is_served() {
    let server = Server::start().await;
    let document = server.request("GET", "/openapi.json").send().await;
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
    let paths = document.body["paths"].as_object().unwrap();
    let expected = [
        ("get", "/health"),
        ("get", "/openapi.json"),
        ("post", "/sessions"),
        ("get", "/sessions"),
        ("get", "/sessions/{session_name}"),
        ("delete", "/sessions/{session_name}"),
        ("post", "/sessions/{session_name}/terminals"),
        ("get", "/sessions/{session_name}/terminals"),
        ("get", "/terminals/{terminal_id}"),
        ("delete", "/terminals/{terminal_id}"),
        ("post", "/terminals/{terminal_id}/input"),
        ("post", "/terminals/{terminal_id}/key"),
        ("get", "/terminals/{terminal_id}/output"),
        ("post", "/terminals/{terminal_id}/exit"),
        ("post", "/terminals/{terminal_id}/restore"),
        ("get", "/terminals/{terminal_id}/working-directory"),
        ("get", "/agents/profiles"),
        ("get", "/agents/profiles/{name}"),
        ("get", "/agents/providers"),
        ("get", "/sessions/{session_name}/activity"),
        ("post", "/terminals/{terminal_id}/inbox/messages"),
        ("get", "/terminals/{terminal_id}/inbox/messages"),
        ("post", "/agents/messages"),
        ("post", "/agents/handoff"),
        ("post", "/agents/assign"),
        ("get", "/handoff-results"),
        ("get", "/handoff-results/{job_id}"),
        ("post", "/handoff-results/{job_id}/cancel"),
        ("get", "/events"),
        ("post", "/mcp/ops"),
        ("post", "/mcp/agents/{terminal_id}"),
    ];
    let mut documented = 0;
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().unwrap() {
            documented += 1;
            assert!(
                expected.contains(&(method.as_str(), path.as_str())),
                "undocumented in this test: {method} {path}"
            );
            assert!(operation["summary"].is_string());
            if path == "/events" {
                continue; // a stream; opened in its own test
            }
            let target = path
                .replace("{session_name}", "cao-nosuch")
                .replace("{terminal_id}", "abcd1234")
                .replace("{name}", "nosuch")
                .replace("{job_id}", "0123456789abcdef");
            let response = server
                .request(&method.to_ascii_uppercase(), &target)
                .send()
                .await;
            assert_ne!(response.status, 405, "{method} {path}");
            assert_ne!(
                response.body,
                json!({ "detail": "Not Found" }),
                "{method} {path} fell through to the fallback"
            );
        }
    }
    assert_eq!(documented, expected.len());
    let create = &paths["/sessions"]["post"];
    let query: Vec<&str> = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert!(query.contains(&"agent_profile") && !query.contains(&"env_vars"));
    let body = &create["requestBody"]["content"]["application/json"]["schema"]["properties"];
    assert!(body["env_vars"].is_object() && body["agent_profile"].is_object());
    assert_eq!(paths["/health"]["get"]["security"], json!([]));
}

#[tokio::test]
async fn a_taken_port_fails_in_one_line() {
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = holder.local_addr().unwrap().port();
    let config = ServerConfig::local(AuthMode::Disabled).with_port(port);
    let error = cao_server::bind(&config).await.unwrap_err();
    assert!(matches!(error, ServerError::PortInUse { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "port {port} on 127.0.0.1 is already in use: stop the other server \
             (cao shutdown / cao-server) or pass --port"
        )
    );
    let config = ServerConfig {
        host: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        ..ServerConfig::local(AuthMode::Disabled)
    };
    let error = cao_server::bind(&config).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot listen on 192.0.2.1:9889: "),
        "{error}"
    );
}

#[tokio::test]
async fn events_stream_and_shutdown_ends_open_streams() {
    let mut server = Server::start().await;
    let (head, mut stream) = server.request("GET", "/events").open().await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    server.shutdown().await.unwrap();
    // The stream ends instead of holding the server open.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the event stream ends on shutdown")
        .unwrap();
}

fn rpc(id: u64, method: &str, params: serde_json::Value) -> serde_json::Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

fn initialize() -> serde_json::Value {
    rpc(
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "api-test", "version": "1" },
        }),
    )
}

#[tokio::test]
async fn mcp_endpoints_are_guarded_and_answer_json_rpc_with_json() {
    let server = Server::start().await;
    let mcp = |path: &str| {
        server
            .request("POST", path)
            .header("Accept", "application/json, text/event-stream")
    };
    for (path, name) in [
        ("/mcp/ops", "cao-ops-mcp"),
        ("/mcp/agents/1a2b3c4d", "cao-mcp-server"),
    ] {
        let no_token = mcp(path)
            .without("Authorization")
            .json(initialize())
            .send()
            .await;
        assert_eq!(no_token.status, 401, "{path}: {}", no_token.body);
        let wrong_token = mcp(path)
            .header("Authorization", "Bearer wrong")
            .json(initialize())
            .send()
            .await;
        assert_eq!(wrong_token.status, 401, "{path}");
        let foreign = mcp(path)
            .header("Origin", "http://evil.example")
            .json(initialize())
            .send()
            .await;
        assert_eq!(foreign.status, 403, "{path}");
        let foreign_host = mcp(path)
            .header("Host", "evil.example")
            .json(initialize())
            .send()
            .await;
        assert_eq!(foreign_host.status, 403, "{path}");

        let answer = mcp(path).json(initialize()).send().await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        let head = answer.head.to_ascii_lowercase();
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(!head.contains("mcp-session-id"), "stateless: {head}");
        assert_eq!(answer.body["id"], 1);
        assert_eq!(answer.body["result"]["serverInfo"]["name"], name);
        assert!(answer.body["result"]["capabilities"]["tools"].is_object());

        let notification = mcp(path)
            .json(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .send()
            .await;
        assert_eq!(notification.status, 202, "{path}");
        let stream = server
            .request("GET", path)
            .header("Accept", "text/event-stream")
            .send()
            .await;
        assert_eq!(stream.status, 405, "{path}: no server-to-client stream");
    }

    // A caller that is no live terminal gets a tool error naming the cause and the fix.
    let call = mcp("/mcp/agents/1a2b3c4d")
        .json(rpc(
            2,
            "tools/call",
            json!({ "name": "list_siblings", "arguments": {} }),
        ))
        .send()
        .await;
    assert_eq!(call.status, 200, "{}", call.body);
    assert_eq!(call.body["result"]["isError"], true, "{}", call.body);
    let text = call.body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("calling terminal 1a2b3c4d is not a live cao terminal: "),
        "{text}"
    );

    let ops_call = mcp("/mcp/ops")
        .json(rpc(
            3,
            "tools/call",
            json!({ "name": "get_terminal_status", "arguments": { "terminal_id": "1a2b3c4d" } }),
        ))
        .send()
        .await;
    assert_eq!(
        ops_call.body["result"]["isError"], true,
        "{}",
        ops_call.body
    );
    assert_eq!(
        ops_call.body["result"]["content"][0]["text"],
        "terminal 1a2b3c4d not found: list terminals with get_session_info or list_sessions"
    );
    let listed = mcp("/mcp/ops")
        .json(rpc(4, "tools/call", json!({ "name": "list_sessions" })))
        .send()
        .await;
    assert_eq!(
        listed.body["result"]["structuredContent"],
        json!({ "success": true, "sessions": [] }),
        "{}",
        listed.body
    );
}

#[tokio::test]
async fn mcp_endpoints_refuse_bad_bodies_with_json_rpc_errors() {
    let server = Server::start_with(|_| {}, |config| config.body_limit = 1024).await;
    for path in ["/mcp/ops", "/mcp/agents/1a2b3c4d"] {
        let mcp = || {
            server
                .request("POST", path)
                .header("Accept", "application/json, text/event-stream")
                .header("Content-Type", "application/json")
        };
        let assert_refusal = |response: &common::Response, status: u16, code: i64| {
            assert_eq!(response.status, status, "{path}: {}", response.body);
            assert!(
                response
                    .head
                    .to_ascii_lowercase()
                    .contains("content-type: application/json"),
                "{path}: {}",
                response.head
            );
            assert_eq!(response.body["jsonrpc"], "2.0", "{path}: {}", response.body);
            assert_eq!(response.body["id"], serde_json::Value::Null, "{path}");
            assert_eq!(response.body["error"]["code"], code, "{path}");
            response.body["error"]["message"]
                .as_str()
                .unwrap()
                .to_string()
        };

        let malformed = mcp()
            .raw_body(b"{\"jsonrpc\":\"2.0\",\"id\":1,".to_vec())
            .send()
            .await;
        let message = assert_refusal(&malformed, 400, -32700);
        assert!(message.starts_with("the body is not JSON ("), "{message}");
        let not_utf8 = mcp().raw_body(b"{\"a\":\"\xff\"}".to_vec()).send().await;
        assert_refusal(&not_utf8, 400, -32700);

        let oversize = mcp()
            .json(rpc(1, "ping", json!({ "pad": "x".repeat(4096) })))
            .send()
            .await;
        let message = assert_refusal(&oversize, 413, -32600);
        assert!(
            message.starts_with("the message is larger than 1024 bytes, "),
            "{message}"
        );

        // rmcp's own refusals keep their status and become JSON-RPC errors too.
        let not_a_message = mcp().json(json!([1, 2])).send().await;
        assert_refusal(&not_a_message, 415, -32600);
        let plain_text = mcp()
            .header("Content-Type", "text/plain")
            .raw_body(initialize().to_string().into_bytes())
            .send()
            .await;
        let message = assert_refusal(&plain_text, 415, -32600);
        assert!(message.contains("Content-Type"), "{message}");

        let answer = mcp().json(initialize()).send().await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.body["id"], 1);
    }
}
