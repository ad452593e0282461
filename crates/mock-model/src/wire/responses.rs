//! OpenAI Responses (`POST /v1/responses`), spoken by Codex.
//!
//! Input items are messages (`user`, `developer`, `system`, `assistant`), `function_call`s
//! and `function_call_output`s; the latest user message is the last `role:"user"` message
//! item. Codex offers MCP tools grouped as `{"type":"namespace","name":"mcp__<srv>",
//! "tools":[…]}` and accepts a call to one only as a `function_call` that names the namespace
//! next to the tool's own name.

use serde_json::{json, Map, Value};

use super::{array_at, SseEvent, Turn, TurnContent, Usage};
use crate::conversation::{
    content_texts, full_tool_name, text_of_content, user_words, Conversation, OfferedTool,
};

/// Reads a Responses request.
pub fn parse(body: &Value) -> Conversation {
    let mut conversation = Conversation {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Conversation::default()
    };
    let mut system_parts: Vec<String> = body
        .get("instructions")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    match body.get("input") {
        Some(Value::String(text)) => conversation.latest_user_text = text.clone(),
        Some(Value::Array(items)) => read_items(items, &mut conversation, &mut system_parts),
        _ => {}
    }
    conversation.system_text = system_parts.join("\n");
    for tool in array_at(body, "tools") {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => conversation.offered_tools.extend(function_tool(tool, None)),
            Some("namespace") => {
                let namespace = tool.get("name").and_then(Value::as_str);
                for inner in array_at(tool, "tools") {
                    conversation
                        .offered_tools
                        .extend(function_tool(inner, namespace));
                }
            }
            _ => {}
        }
    }
    conversation.response_schema = body
        .pointer("/text/format")
        .filter(|format| format.get("type").and_then(Value::as_str) == Some("json_schema"))
        .map(|format| format.get("schema").cloned().unwrap_or(Value::Null));
    conversation
}

fn function_tool(tool: &Value, namespace: Option<&str>) -> Option<OfferedTool> {
    let name = tool.get("name").and_then(Value::as_str)?;
    Some(OfferedTool {
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        parameters: tool.get("parameters").cloned().unwrap_or(Value::Null),
    })
}

fn read_items(items: &[Value], conversation: &mut Conversation, system_parts: &mut Vec<String>) {
    let is_message = |item: &Value| {
        matches!(
            item.get("type").and_then(Value::as_str),
            None | Some("message")
        )
    };
    let role = |item: &Value| item.get("role").and_then(Value::as_str).map(str::to_owned);
    let mut latest_user = None;
    for (index, item) in items.iter().enumerate() {
        if !is_message(item) {
            continue;
        }
        let content = item.get("content").unwrap_or(&Value::Null);
        match role(item).as_deref() {
            Some("user") => {
                if let Some(text) = user_words(content_texts(content)) {
                    latest_user = Some((index, text));
                }
            }
            Some("developer") | Some("system") => system_parts.push(text_of_content(content)),
            _ => {}
        }
    }
    let Some((user_index, text)) = latest_user else {
        return;
    };
    conversation.latest_user_text = text;
    for item in &items[user_index + 1..] {
        match item.get("type").and_then(Value::as_str) {
            Some("function_call") | Some("custom_tool_call") => {
                if let Some(name) = item.get("name").and_then(Value::as_str) {
                    let namespace = item.get("namespace").and_then(Value::as_str);
                    conversation
                        .calls_since_user
                        .push(full_tool_name(namespace, name));
                }
            }
            Some("function_call_output") | Some("custom_tool_call_output") => {
                conversation.latest_tool_result =
                    Some(output_text(item.get("output").unwrap_or(&Value::Null)));
            }
            _ => {}
        }
    }
}

/// A `function_call_output`'s output: a string, a list of content parts, or (older Codex) an
/// object with `content`.
fn output_text(output: &Value) -> String {
    match output {
        Value::Object(fields) if fields.contains_key("content") => {
            text_of_content(&fields["content"])
        }
        other => text_of_content(other),
    }
}

/// The output item of `turn`, finished.
fn output_item(turn: &Turn) -> Value {
    match &turn.content {
        TurnContent::Text { chunks } => message_item(turn, "completed", &chunks.concat(), true),
        TurnContent::ToolCall { .. } => function_call_item(turn, "completed", true),
    }
}

fn message_item(turn: &Turn, status: &str, text: &str, with_content: bool) -> Value {
    let content = if with_content {
        json!([{"type": "output_text", "text": text, "annotations": []}])
    } else {
        json!([])
    };
    json!({
        "id": format!("msg_{}", turn.response_id),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

fn function_call_item(turn: &Turn, status: &str, with_arguments: bool) -> Value {
    let TurnContent::ToolCall { call_id, call } = &turn.content else {
        return Value::Null;
    };
    let mut item = Map::new();
    item.insert("id".into(), json!(format!("fc_{}", turn.response_id)));
    item.insert("type".into(), json!("function_call"));
    item.insert("status".into(), json!(status));
    item.insert("call_id".into(), json!(call_id));
    if let Some(namespace) = &call.namespace {
        item.insert("namespace".into(), json!(namespace));
    }
    item.insert("name".into(), json!(call.name));
    let arguments = if with_arguments {
        call.arguments.to_string()
    } else {
        String::new()
    };
    item.insert("arguments".into(), json!(arguments));
    Value::Object(item)
}

fn response_object(turn: &Turn, status: &str, output: Value, usage: Option<Usage>) -> Value {
    let usage = usage.map_or(Value::Null, |usage| {
        json!({
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.total(),
        })
    });
    json!({
        "id": turn.response_id,
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": turn.model,
        "output": output,
        "usage": usage,
    })
}

/// A non-streamed Responses response.
pub fn encode_json(turn: &Turn) -> Value {
    response_object(
        turn,
        "completed",
        json!([output_item(turn)]),
        Some(turn.usage),
    )
}

/// A streamed Responses response, from `response.created` to `response.completed`.
pub fn encode_stream(turn: &Turn) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut push = |event: &'static str, mut data: Value, paced: bool| {
        data["type"] = json!(event);
        data["sequence_number"] = json!(events.len());
        let sse = SseEvent::named(event, &data);
        events.push(if paced { sse.paced() } else { sse });
    };
    push(
        "response.created",
        json!({"response": response_object(turn, "in_progress", json!([]), None)}),
        false,
    );
    push(
        "response.in_progress",
        json!({"response": response_object(turn, "in_progress", json!([]), None)}),
        false,
    );
    match &turn.content {
        TurnContent::Text { chunks } => {
            let item_id = format!("msg_{}", turn.response_id);
            let text = chunks.concat();
            let at = |mut data: Value| {
                data["item_id"] = json!(item_id);
                data["output_index"] = json!(0);
                data["content_index"] = json!(0);
                data
            };
            push(
                "response.output_item.added",
                json!({"output_index": 0, "item": message_item(turn, "in_progress", "", false)}),
                false,
            );
            push(
                "response.content_part.added",
                at(json!({"part": {"type": "output_text", "text": "", "annotations": []}})),
                false,
            );
            for chunk in chunks {
                push(
                    "response.output_text.delta",
                    at(json!({"delta": chunk})),
                    true,
                );
            }
            push(
                "response.output_text.done",
                at(json!({"text": text})),
                false,
            );
            push(
                "response.content_part.done",
                at(json!({"part": {"type": "output_text", "text": text, "annotations": []}})),
                false,
            );
        }
        TurnContent::ToolCall { call, .. } => {
            let item_id = format!("fc_{}", turn.response_id);
            let arguments = call.arguments.to_string();
            push(
                "response.output_item.added",
                json!({"output_index": 0, "item": function_call_item(turn, "in_progress", false)}),
                false,
            );
            push(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": 0, "delta": arguments}),
                false,
            );
            push(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": 0, "arguments": arguments}),
                false,
            );
        }
    }
    push(
        "response.output_item.done",
        json!({"output_index": 0, "item": output_item(turn)}),
        false,
    );
    push(
        "response.completed",
        json!({"response": encode_json(turn)}),
        false,
    );
    events
}

/// OpenAI's error body for `status` (Responses and Chat Completions share it).
pub fn encode_error(status: u16, message: &str) -> Value {
    let (error_type, code) = match status {
        400 => ("invalid_request_error", Value::Null),
        401 => ("invalid_request_error", json!("invalid_api_key")),
        403 => (
            "invalid_request_error",
            json!("unsupported_country_region_territory"),
        ),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("rate_limit_exceeded", json!("rate_limit_exceeded")),
        _ => ("server_error", Value::Null),
    };
    json!({"error": {"message": message, "type": error_type, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::ToolCall;
    use crate::wire::split_into_chunks;

    fn request() -> Value {
        json!({
            "model": "gpt-5",
            "stream": true,
            "instructions": "You are Codex.",
            "tools": [
                {"type": "function", "name": "shell", "parameters": {"type": "object"}},
                {"type": "custom", "name": "apply_patch"},
                {"type": "namespace", "name": "mcp__cao", "tools": [
                    {"type": "function", "name": "send_message", "parameters": {"type": "object"}}
                ]}
            ],
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "TOOL go"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"}]},
                {"type": "function_call", "namespace": "mcp__cao", "name": "send_message", "call_id": "c1", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sent ok"}
            ]
        })
    }

    #[test]
    fn reads_namespaced_tools_calls_and_outputs() {
        let conversation = parse(&request());
        assert!(conversation.stream);
        assert_eq!(conversation.latest_user_text, "TOOL go");
        assert_eq!(conversation.calls_since_user, ["mcp__cao__send_message"]);
        assert_eq!(conversation.latest_tool_result.as_deref(), Some("sent ok"));
        let names: Vec<String> = conversation
            .offered_tools
            .iter()
            .map(OfferedTool::full_name)
            .collect();
        assert_eq!(names, ["shell", "mcp__cao__send_message"]);
        assert_eq!(conversation.system_text, "You are Codex.\n<permissions>");
    }

    #[test]
    fn string_input_is_the_user_message() {
        let conversation = parse(&json!({"model": "m", "input": "hi there"}));
        assert_eq!(conversation.latest_user_text, "hi there");
        assert!(!conversation.stream);
        assert_eq!(conversation.response_schema, None);
    }

    #[test]
    fn text_format_json_schema_is_demanded() {
        let body = json!({"input": "x", "text": {"format": {"type": "json_schema", "name": "t", "schema": {"type": "object"}}}});
        assert_eq!(
            parse(&body).response_schema,
            Some(json!({"type": "object"}))
        );
    }

    fn tool_turn() -> Turn {
        Turn {
            response_id: "resp_1".into(),
            model: "m".into(),
            content: TurnContent::ToolCall {
                call_id: "call_1".into(),
                call: ToolCall {
                    namespace: Some("mcp__cao".into()),
                    name: "send_message".into(),
                    arguments: json!({"message": "hi"}),
                },
            },
            usage: Usage::default(),
        }
    }

    #[test]
    fn function_call_names_its_namespace() {
        let response = encode_json(&tool_turn());
        let item = &response["output"][0];
        assert_eq!(item["type"], "function_call");
        assert_eq!(item["namespace"], "mcp__cao");
        assert_eq!(item["name"], "send_message");
        assert_eq!(item["call_id"], "call_1");
        let arguments: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"message": "hi"}));
        let events = encode_stream(&tool_turn());
        let names: Vec<&str> = events.iter().filter_map(|event| event.event).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
    }

    #[test]
    fn streamed_text_reassembles_and_completes_with_usage() {
        let turn = Turn {
            content: TurnContent::Text {
                chunks: split_into_chunks("ünï\ncödé ✓", 3),
            },
            usage: Usage {
                input_tokens: 7,
                output_tokens: 2,
            },
            ..tool_turn()
        };
        let events = encode_stream(&turn);
        let data: Vec<Value> = events
            .iter()
            .map(|event| serde_json::from_str(&event.data).unwrap())
            .collect();
        let text: String = data
            .iter()
            .filter(|data| data["type"] == "response.output_text.delta")
            .map(|data| data["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, "ünï\ncödé ✓");
        let sequence: Vec<u64> = data
            .iter()
            .map(|data| data["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(sequence, (0..events.len() as u64).collect::<Vec<_>>());
        let completed = data.last().unwrap();
        assert_eq!(completed["type"], "response.completed");
        assert_eq!(completed["response"]["usage"]["total_tokens"], 9);
        assert_eq!(
            completed["response"]["output"][0]["content"][0]["text"],
            "ünï\ncödé ✓"
        );
    }

    #[test]
    fn error_shape() {
        assert_eq!(
            encode_error(400, "no")["error"],
            json!({"message": "no", "type": "invalid_request_error", "param": null, "code": null})
        );
    }
}
