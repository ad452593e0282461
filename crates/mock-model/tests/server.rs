//! The real server on 127.0.0.1:0, spoken to over HTTP the way the agent CLIs speak to it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cao_mock_model::wire::parse_sse;
use cao_mock_model::Script;
use serde_json::{json, Value};

const SCRIPT: &str = r#"
model = "test-model"
default_reply = "echo: {input}"

[[rules]]
name = "multi"
match = "REPLY-MULTI"
reply = "line one\nzweite Zeile — ünïcödé ✓\nline three"
chunk_chars = 3

[[rules]]
name = "refuse"
match = "REPLY-ERROR"
error = { status = 400, message = "mock model refuses" }

[[rules]]
name = "busy"
match = "REPLY-BUSY"
error = { status = 503, message = "mock model is busy" }

[[rules]]
name = "slow"
match = "REPLY-SLOW"
reply = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
chunk_delay_ms = 40
chunk_chars = 4

[[rules]]
name = "late"
match = "REPLY-LATE"
reply = "late"
first_byte_delay_ms = 300

[[rules]]
match = "CALL-TOOL"
reply = "sent: {result}"
[[rules.calls]]
tool = "send_message"
args = { receiver_id = "abc12345", message = "hello from {first_line}" }
"#;

const MULTI: &str = "line one\nzweite Zeile — ünïcödé ✓\nline three";

/// A running server; stopped when dropped.
struct Server {
    base: String,
    log: PathBuf,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _directory: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start() -> Server {
        let directory = tempfile::tempdir().unwrap();
        let log = directory.path().join("requests.jsonl");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let script = Script::from_toml_str(SCRIPT).unwrap();
        let task = tokio::spawn(cao_mock_model::serve(listener, script, Some(log.clone())));
        Server {
            base,
            log,
            task,
            _directory: directory,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn post_json(&self, path: &str, body: &Value) -> Value {
        let (status, text) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The log's lines, once there are at least `count` (each is written as its response
    /// ends, which the client may see a moment earlier).
    async fn log_lines(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn data_of(sse: &str) -> Vec<Value> {
    parse_sse(sse)
        .into_iter()
        .filter(|(_, data)| data != "[DONE]")
        .map(|(_, data)| serde_json::from_str(&data).unwrap())
        .collect()
}

fn anthropic_text(sse: &str) -> String {
    data_of(sse)
        .iter()
        .filter(|event| event["type"] == "content_block_delta")
        .filter_map(|event| event["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

fn responses_text(sse: &str) -> String {
    data_of(sse)
        .iter()
        .filter(|event| event["type"] == "response.output_text.delta")
        .map(|event| event["delta"].as_str().unwrap().to_owned())
        .collect()
}

fn chat_text(sse: &str) -> String {
    assert_eq!(parse_sse(sse).last().unwrap().1, "[DONE]");
    data_of(sse)
        .iter()
        .filter_map(|chunk| {
            chunk
                .pointer("/choices/0/delta/content")?
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn gemini_text(responses: &[Value]) -> String {
    responses
        .iter()
        .flat_map(|response| {
            response["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|part| part["text"].as_str().map(str::to_owned))
        .collect()
}

fn anthropic_request(text: &str, stream: bool) -> Value {
    json!({"model": "claude-x", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]})
}

fn responses_request(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-x", "stream": stream, "instructions": "be brief",
           "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}]})
}

fn chat_request(text: &str, stream: bool) -> Value {
    json!({"model": "any-model", "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]})
}

fn gemini_request(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

#[tokio::test]
async fn every_api_reassembles_the_exact_reply_streamed_and_not() {
    let server = Server::start().await;
    let prompt = "REPLY-MULTI please";

    let (status, sse) = server
        .post("/v1/messages?beta=true", &anthropic_request(prompt, true))
        .await;
    assert_eq!(status, 200);
    assert_eq!(anthropic_text(&sse), MULTI);
    let events: Vec<String> = parse_sse(&sse)
        .into_iter()
        .filter_map(|(event, _)| event)
        .collect();
    assert_eq!(events.first().map(String::as_str), Some("message_start"));
    assert_eq!(events.last().map(String::as_str), Some("message_stop"));
    assert!(
        events
            .iter()
            .filter(|event| *event == "content_block_delta")
            .count()
            > 3
    );
    let message = server
        .post_json("/v1/messages", &anthropic_request(prompt, false))
        .await;
    assert_eq!(message["content"][0]["text"], MULTI);
    assert_eq!(message["stop_reason"], "end_turn");

    let (_, sse) = server
        .post("/v1/responses", &responses_request(prompt, true))
        .await;
    assert_eq!(responses_text(&sse), MULTI);
    let completed = data_of(&sse).pop().unwrap();
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(
        completed["response"]["output"][0]["content"][0]["text"],
        MULTI
    );
    assert!(
        completed["response"]["usage"]["total_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let response = server
        .post_json("/v1/responses", &responses_request(prompt, false))
        .await;
    assert_eq!(response["output"][0]["content"][0]["text"], MULTI);

    let (_, sse) = server
        .post("/v1/chat/completions", &chat_request(prompt, true))
        .await;
    assert_eq!(chat_text(&sse), MULTI);
    let chunks = data_of(&sse);
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let completion = server
        .post_json("/v1/chat/completions", &chat_request(prompt, false))
        .await;
    assert_eq!(completion["choices"][0]["message"]["content"], MULTI);
    assert_eq!(completion["model"], "any-model");

    let path = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse";
    let (_, sse) = server.post(path, &gemini_request(prompt)).await;
    let responses = data_of(&sse);
    assert!(responses.len() > 3);
    assert_eq!(gemini_text(&responses), MULTI);
    assert_eq!(
        responses.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    let array = server
        .post_json(
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            &gemini_request(prompt),
        )
        .await;
    assert_eq!(gemini_text(array.as_array().unwrap()), MULTI);
    let single = server
        .post_json(
            "/v1/models/gemini-2.5-pro:generateContent",
            &gemini_request(prompt),
        )
        .await;
    assert_eq!(gemini_text(&[single]), MULTI);
}

#[tokio::test]
async fn anthropic_tool_use_then_the_reply_with_the_result() {
    let server = Server::start().await;
    let tools = json!([
        {"name": "SendMessage", "input_schema": {"type": "object"}},
        {"name": "mcp__cao__send_message", "input_schema": {"type": "object"}}
    ]);
    let user = json!({"role": "user", "content": "CALL-TOOL now\nsecond line"});
    let first = json!({"model": "m", "stream": true, "tools": tools, "messages": [user]});
    let (_, sse) = server.post("/v1/messages", &first).await;
    let events = data_of(&sse);
    let block = &events[1]["content_block"];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "mcp__cao__send_message");
    let input: Value =
        serde_json::from_str(events[2]["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"receiver_id": "abc12345", "message": "hello from CALL-TOOL now"})
    );
    assert_eq!(events[4]["delta"]["stop_reason"], "tool_use");

    let second = json!({"model": "m", "stream": false, "tools": tools, "messages": [
        user,
        {"role": "assistant", "content": [{"type": "tool_use", "id": block["id"], "name": "mcp__cao__send_message", "input": input}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": block["id"], "content": [{"type": "text", "text": "delivered"}]},
            {"type": "text", "text": "<system-reminder>a note</system-reminder>"}
        ]},
        {"role": "system", "content": "a late system note"}
    ]});
    let message = server.post_json("/v1/messages", &second).await;
    assert_eq!(message["content"][0]["text"], "sent: delivered");
    assert_eq!(message["stop_reason"], "end_turn");
}

#[tokio::test]
async fn codex_namespaced_call_then_the_reply() {
    let server = Server::start().await;
    let tools = json!([
        {"type": "function", "name": "shell", "parameters": {"type": "object"}},
        {"type": "namespace", "name": "mcp__cao", "tools": [
            {"type": "function", "name": "send_message", "parameters": {"type": "object"}}
        ]}
    ]);
    let user = json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "CALL-TOOL"}]});
    let first = json!({"model": "m", "stream": true, "tools": tools, "input": [user]});
    let (_, sse) = server.post("/v1/responses", &first).await;
    let events = data_of(&sse);
    let done = events
        .iter()
        .find(|event| event["type"] == "response.output_item.done")
        .unwrap();
    let call = &done["item"];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["namespace"], "mcp__cao");
    assert_eq!(call["name"], "send_message");
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["message"], "hello from CALL-TOOL");
    assert!(events
        .iter()
        .any(|event| event["type"] == "response.function_call_arguments.done"));

    let second = json!({"model": "m", "stream": false, "tools": tools, "input": [
        user,
        {"type": "function_call", "namespace": "mcp__cao", "name": "send_message", "call_id": call["call_id"], "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "queued"}
    ]});
    let response = server.post_json("/v1/responses", &second).await;
    assert_eq!(response["output"][0]["content"][0]["text"], "sent: queued");
}

#[tokio::test]
async fn chat_tool_call_then_the_reply() {
    let server = Server::start().await;
    let tools = json!([{"type": "function", "function": {"name": "cao_send_message", "parameters": {"type": "object"}}}]);
    let user = json!({"role": "user", "content": "CALL-TOOL"});
    let first = json!({"model": "m", "stream": true, "tools": tools, "messages": [user]});
    let (_, sse) = server.post("/v1/chat/completions", &first).await;
    let chunks = data_of(&sse);
    let opening = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(opening["function"]["name"], "cao_send_message");
    let arguments = chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap()["receiver_id"],
        "abc12345"
    );
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");

    let second = json!({"model": "m", "stream": true, "tools": tools, "messages": [
        user,
        {"role": "assistant", "content": null, "tool_calls": [{"id": opening["id"], "type": "function", "function": {"name": "cao_send_message", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": opening["id"], "content": "queued"}
    ]});
    let (_, sse) = server.post("/v1/chat/completions", &second).await;
    assert_eq!(chat_text(&sse), "sent: queued");
}

#[tokio::test]
async fn qwen_searches_for_a_deferred_tool_then_calls_it() {
    let server = Server::start().await;
    let tool_search = json!({"type": "function", "function": {"name": "tool_search", "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string", "minLength": 1}, "max_results": {"type": "integer"}},
        "required": ["query"]
    }}});
    // Qwen Code's own `send_message` must not be taken for cao's.
    let own_send = json!({"type": "function", "function": {"name": "send_message", "parameters": {"type": "object"}}});
    let system = json!({"role": "system", "content": "## Deferred Tools\n\n- \"ask_user_question\": \"Ask\"\n- \"mcp__cao__send_message\": \"Send a message\""});
    let user = json!({"role": "user", "content": [{"type": "text", "text": "CALL-TOOL"}]});
    let first = json!({"model": "m", "stream": false, "tools": [tool_search, own_send], "messages": [system, user]});
    let completion = server.post_json("/v1/chat/completions", &first).await;
    let search = &completion["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(search["function"]["name"], "tool_search");
    let search_arguments: Value =
        serde_json::from_str(search["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        search_arguments,
        json!({"query": "select:mcp__cao__send_message"})
    );

    let revealed = json!({"type": "function", "function": {"name": "mcp__cao__send_message", "parameters": {"type": "object"}}});
    let mut history = vec![
        system.clone(),
        user.clone(),
        json!({"role": "assistant", "content": null, "tool_calls": [search]}),
        json!({"role": "tool", "tool_call_id": search["id"], "content": "<functions>…</functions>"}),
    ];
    let tools = json!([revealed, tool_search, own_send]);
    let second = json!({"model": "m", "tools": tools, "messages": history});
    let completion = server.post_json("/v1/chat/completions", &second).await;
    let call = &completion["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "mcp__cao__send_message");

    history.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
    history.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "queued"}));
    let third = json!({"model": "m", "tools": tools, "messages": history});
    let completion = server.post_json("/v1/chat/completions", &third).await;
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "sent: queued"
    );
}

#[tokio::test]
async fn gemini_function_call_then_the_reply() {
    let server = Server::start().await;
    let tools = json!([{"functionDeclarations": [
        {"name": "read_file", "parametersJsonSchema": {"type": "object"}},
        {"name": "mcp_cao_send_message", "parametersJsonSchema": {"type": "object"}}
    ]}]);
    let user = json!({"role": "user", "parts": [
        {"text": "<session_context>\nThis is the Gemini CLI.\n</session_context>"},
        {"text": "CALL-TOOL"}
    ]});
    let path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
    let (_, sse) = server
        .post(path, &json!({"contents": [user], "tools": tools}))
        .await;
    let responses = data_of(&sse);
    let call = &responses[0]["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "mcp_cao_send_message");
    assert_eq!(call["args"]["message"], "hello from CALL-TOOL");

    let second = json!({"tools": tools, "contents": [
        user,
        {"role": "model", "parts": [{"functionCall": {"name": "mcp_cao_send_message", "args": call["args"]}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "mcp_cao_send_message", "response": {"output": "queued"}}}]}
    ]});
    let (_, sse) = server.post(path, &second).await;
    assert_eq!(gemini_text(&data_of(&sse)), "sent: queued");
}

#[tokio::test]
async fn gemini_router_gets_json_matching_its_schema_even_when_a_rule_fails() {
    let server = Server::start().await;
    let router = |schema: Value| {
        json!({
            "contents": [{"role": "user", "parts": [{"text": "REPLY-ERROR please"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}
        })
    };
    let choice = router(json!({
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "model_choice": {"type": "string", "enum": ["flash", "pro"]}
        },
        "required": ["reasoning", "model_choice"]
    }));
    let response = server
        .post_json(
            "/v1beta/models/gemini-2.5-flash-lite:generateContent",
            &choice,
        )
        .await;
    let answer: Value = serde_json::from_str(&gemini_text(&[response])).unwrap();
    assert_eq!(answer["model_choice"], "flash");
    assert!(answer["reasoning"].is_string());

    let numerical = router(json!({
        "type": "OBJECT",
        "properties": {
            "complexity_reasoning": {"type": "STRING"},
            "complexity_score": {"type": "INTEGER", "description": "Complexity score from 1-100."}
        },
        "required": ["complexity_reasoning", "complexity_score"]
    }));
    let response = server
        .post_json(
            "/v1beta/models/gemini-2.5-flash-lite:generateContent",
            &numerical,
        )
        .await;
    let answer: Value = serde_json::from_str(&gemini_text(&[response])).unwrap();
    assert!((1..=100).contains(&answer["complexity_score"].as_i64().unwrap()));

    let lines = server.log_lines(2).await;
    assert!(lines
        .iter()
        .all(|line| line["action"] == "router" && line["status"] == 200));
}

#[tokio::test]
async fn claude_title_side_request_gets_json_not_the_error() {
    let server = Server::start().await;
    let title = json!({
        "model": "m", "stream": true,
        "output_config": {"format": {"type": "json_schema", "schema": {
            "type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]
        }}},
        "messages": [{"role": "user", "content": "<session>\nREPLY-ERROR\n</session>\n\nWrite the title."}]
    });
    let (status, sse) = server.post("/v1/messages", &title).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&anthropic_text(&sse)).unwrap();
    assert!(answer["title"].is_string());
}

#[tokio::test]
async fn errors_have_each_apis_status_and_shape() {
    let server = Server::start().await;
    let (status, body) = server
        .post("/v1/messages", &anthropic_request("REPLY-ERROR", true))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "mock model refuses"}})
    );
    let (status, body) = server
        .post("/v1/messages", &anthropic_request("REPLY-BUSY", false))
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["message"],
        "mock model is busy"
    );

    for path in ["/v1/responses", "/v1/chat/completions"] {
        let request = if path == "/v1/responses" {
            responses_request("REPLY-ERROR", true)
        } else {
            chat_request("REPLY-ERROR", true)
        };
        let (status, body) = server.post(path, &request).await;
        assert_eq!(status, 400, "{path}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["message"], "mock model refuses");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert!(error["error"].get("code").is_some());
    }

    let path = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse";
    let (status, body) = server.post(path, &gemini_request("REPLY-ERROR")).await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": {"code": 400, "message": "mock model refuses", "status": "INVALID_ARGUMENT"}})
    );

    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not JSON"));
}

#[tokio::test]
async fn first_byte_delay_holds_back_only_its_own_response() {
    let server = Server::start().await;
    let started = Instant::now();
    let late_request = chat_request("REPLY-LATE", true);
    let late = server.post("/v1/chat/completions", &late_request);
    let quick = async {
        // Sent after the late request, answered before it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let answer = server
            .post("/v1/chat/completions", &chat_request("hello", false))
            .await;
        (answer, Instant::now())
    };
    let (((late_status, late_body), late_at), ((_, quick_body), quick_at)) =
        tokio::join!(async { (late.await, Instant::now()) }, quick);
    assert_eq!(late_status, 200);
    assert_eq!(chat_text(&late_body), "late");
    assert!(quick_body.contains("echo: hello"));
    assert!(
        quick_at < late_at,
        "the quick reply came after the late one"
    );
    assert!(late_at - started >= Duration::from_millis(300));
}

#[tokio::test]
async fn chunk_delay_streams_the_text_in_separate_pieces() {
    let server = Server::start().await;
    let started = Instant::now();
    let mut response = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base))
        .json(&anthropic_request("REPLY-SLOW", true))
        .send()
        .await
        .unwrap();
    let mut reads = Vec::new();
    while let Some(bytes) = response.chunk().await.unwrap() {
        reads.push(String::from_utf8(bytes.to_vec()).unwrap());
    }
    let elapsed = started.elapsed();
    let body = reads.concat();
    assert_eq!(
        anthropic_text(&body),
        "0123456789abcdefghijklmnopqrstuvwxyzABCD"
    );
    // Ten chunks with 40 ms between them: they cannot all arrive in one read.
    let reads_with_text = reads
        .iter()
        .filter(|read| read.contains("text_delta"))
        .count();
    assert!(
        reads_with_text >= 5,
        "only {reads_with_text} reads carried text"
    );
    assert!(elapsed >= Duration::from_millis(9 * 40));
    let first_text = reads
        .iter()
        .position(|read| read.contains("text_delta"))
        .unwrap();
    let stop = reads
        .iter()
        .position(|read| read.contains("message_stop"))
        .unwrap();
    assert!(first_text < stop);
}

#[tokio::test]
async fn side_endpoints_answer() {
    let server = Server::start().await;
    let client = reqwest::Client::new();
    let head = client
        .head(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let models: Value = client
        .get(format!("{}/v1/models", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "test-model");
    let count = server
        .post_json(
            "/v1/messages/count_tokens",
            &anthropic_request("hello", false),
        )
        .await;
    assert!(count["input_tokens"].as_u64().unwrap() > 0);
    let count = server
        .post_json(
            "/v1beta/models/gemini-2.5-pro:countTokens",
            &gemini_request("hello"),
        )
        .await;
    assert!(count["totalTokens"].as_u64().unwrap() > 0);
    let missing = client
        .get(format!("{}/nowhere", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn every_request_is_logged_when_its_response_ends() {
    let server = Server::start().await;
    server
        .post("/v1/chat/completions", &chat_request("REPLY-SLOW", true))
        .await;
    server
        .post("/v1/responses", &responses_request("REPLY-ERROR", false))
        .await;
    let with_tool = json!({"model": "claude-x", "stream": false,
        "tools": [{"name": "mcp__cao__send_message", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "CALL-TOOL"}]});
    server.post("/v1/messages", &with_tool).await;
    server
        .post(
            "/v1/messages",
            &anthropic_request("CALL-TOOL without tools", false),
        )
        .await;
    server
        .post(
            "/v1beta/models/gemini-2.5-pro:countTokens",
            &gemini_request("hi"),
        )
        .await;
    server
        .post(
            "/v1/chat/completions",
            &chat_request("just chatting", false),
        )
        .await;

    let lines = server.log_lines(6).await;
    assert_eq!(lines.len(), 6);
    let slow = &lines[0];
    assert_eq!(slow["api"], "chat");
    assert_eq!(slow["method"], "POST");
    assert_eq!(slow["path"], "/v1/chat/completions");
    assert_eq!(slow["model"], "any-model");
    assert_eq!(slow["stream"], true);
    assert_eq!(slow["input"], "REPLY-SLOW");
    assert_eq!(slow["rule"], "slow");
    assert_eq!(slow["action"], "reply");
    assert_eq!(slow["tool"], Value::Null);
    assert_eq!(slow["status"], 200);
    let duration = slow["finished_ms"].as_u64().unwrap() - slow["started_ms"].as_u64().unwrap();
    assert!(
        duration >= 9 * 40,
        "the slow stream was logged after {duration} ms"
    );

    assert_eq!(lines[1]["api"], "responses");
    assert_eq!(lines[1]["action"], "error");
    assert_eq!(lines[1]["status"], 400);
    assert_eq!(lines[1]["rule"], "refuse");

    assert_eq!(lines[2]["api"], "anthropic");
    assert_eq!(lines[2]["action"], "tool_call");
    assert_eq!(lines[2]["tool"], "mcp__cao__send_message");
    assert_eq!(
        lines[2]["rule"], 5,
        "an unnamed rule is logged by its index"
    );

    assert_eq!(lines[3]["action"], "reply");
    assert_eq!(lines[3]["note"], "tool not offered: send_message");

    assert_eq!(lines[4]["api"], "gemini");
    assert_eq!(lines[4]["action"], "count_tokens");
    assert_eq!(lines[4]["model"], "gemini-2.5-pro");

    assert_eq!(lines[5]["rule"], Value::Null);
    assert_eq!(lines[5]["action"], "reply");
    for line in &lines {
        assert!(line["finished_ms"].as_u64() >= line["started_ms"].as_u64());
    }
}
