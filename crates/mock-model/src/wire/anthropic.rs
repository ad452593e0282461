//! Anthropic Messages (`POST /v1/messages`), spoken by Claude Code.
//!
//! The latest user message is the last `role:"user"` message with text of its own: tool
//! results alone do not count, nor do the `<system-reminder>` blocks Claude Code adds, and
//! `role:"system"` messages may sit anywhere in `messages`. Claude Code's session-title side
//! request has no tools and demands JSON (`output_config.format`, a `json_schema` of
//! `{"title"}`); see [`crate::decide::decide`].

use serde_json::{json, Value};

use super::{array_at, SseEvent, Turn, TurnContent, Usage};
use crate::conversation::{content_texts, text_of_content, user_words, Conversation, OfferedTool};

/// Reads a Messages request.
pub fn parse(body: &Value) -> Conversation {
    let mut conversation = Conversation {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Conversation::default()
    };
    let mut system_parts = vec![text_of_content(body.get("system").unwrap_or(&Value::Null))];
    let messages = array_at(body, "messages");
    let mut latest_user = None;
    for (index, message) in messages.iter().enumerate() {
        let content = message.get("content").unwrap_or(&Value::Null);
        match message.get("role").and_then(Value::as_str) {
            Some("user") => {
                if let Some(text) = user_text(content) {
                    latest_user = Some((index, text));
                }
            }
            Some("system") => system_parts.push(text_of_content(content)),
            _ => {}
        }
    }
    if let Some((user_index, text)) = latest_user {
        conversation.latest_user_text = text;
        for message in &messages[user_index + 1..] {
            for block in blocks(message.get("content").unwrap_or(&Value::Null)) {
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        if let Some(name) = block.get("name").and_then(Value::as_str) {
                            conversation.calls_since_user.push(name.to_owned());
                        }
                    }
                    Some("tool_result") => {
                        conversation.latest_tool_result = Some(text_of_content(
                            block.get("content").unwrap_or(&Value::Null),
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    conversation.system_text = system_parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    conversation.offered_tools = array_at(body, "tools")
        .iter()
        .filter_map(|tool| {
            let name = tool.get("name").and_then(Value::as_str)?;
            let schema = tool.get("input_schema").cloned().unwrap_or(Value::Null);
            Some(OfferedTool::new(name, schema))
        })
        .collect();
    conversation.response_schema = demanded_schema(body);
    conversation
}

/// The JSON schema a request demands its answer to match: `output_config.format` (Claude
/// Code's session-title request) or the older `output_format`.
fn demanded_schema(body: &Value) -> Option<Value> {
    let format = body
        .pointer("/output_config/format")
        .or_else(|| body.get("output_format"))?;
    (format.get("type").and_then(Value::as_str) == Some("json_schema"))
        .then(|| format.get("schema").cloned().unwrap_or(Value::Null))
}

fn blocks(content: &Value) -> &[Value] {
    content.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The user's own text in a user message's content (its `text` blocks), if it has any.
fn user_text(content: &Value) -> Option<String> {
    user_words(content_texts(content))
}

fn stop_reason(content: &TurnContent) -> &'static str {
    match content {
        TurnContent::Text { .. } => "end_turn",
        TurnContent::ToolCall { .. } => "tool_use",
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    })
}

/// A non-streamed Messages response.
pub fn encode_json(turn: &Turn) -> Value {
    let block = match &turn.content {
        TurnContent::Text { chunks } => json!({"type": "text", "text": chunks.concat()}),
        TurnContent::ToolCall { call_id, call } => json!({
            "type": "tool_use",
            "id": call_id,
            "name": call.name,
            "input": call.arguments,
        }),
    };
    json!({
        "id": turn.response_id,
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": [block],
        "stop_reason": stop_reason(&turn.content),
        "stop_sequence": null,
        "usage": usage_json(turn.usage),
    })
}

/// A streamed Messages response: `message_start`, one content block, `message_delta`,
/// `message_stop`.
pub fn encode_stream(turn: &Turn) -> Vec<SseEvent> {
    let mut events = vec![SseEvent::named(
        "message_start",
        &json!({
            "type": "message_start",
            "message": {
                "id": turn.response_id,
                "type": "message",
                "role": "assistant",
                "model": turn.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage_json(Usage { output_tokens: 1, ..turn.usage }),
            },
        }),
    )];
    let block_start = |content_block: Value| {
        SseEvent::named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": content_block}),
        )
    };
    let block_delta = |delta: Value| {
        SseEvent::named(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        )
    };
    match &turn.content {
        TurnContent::Text { chunks } => {
            events.push(block_start(json!({"type": "text", "text": ""})));
            events.extend(
                chunks
                    .iter()
                    .map(|chunk| block_delta(json!({"type": "text_delta", "text": chunk})).paced()),
            );
        }
        TurnContent::ToolCall { call_id, call } => {
            events.push(block_start(json!({
                "type": "tool_use",
                "id": call_id,
                "name": call.name,
                "input": {},
            })));
            events.push(block_delta(json!({
                "type": "input_json_delta",
                "partial_json": call.arguments.to_string(),
            })));
        }
    }
    events.push(SseEvent::named(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(SseEvent::named(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(&turn.content), "stop_sequence": null},
            "usage": {"output_tokens": turn.usage.output_tokens},
        }),
    ));
    events.push(SseEvent::named(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    events
}

/// The Messages API's error body for `status`.
pub fn encode_error(status: u16, message: &str) -> Value {
    let error_type = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": error_type, "message": message}})
}

/// `POST /v1/messages/count_tokens`.
pub fn encode_token_count(input_tokens: u64) -> Value {
    json!({"input_tokens": input_tokens})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::ToolCall;
    use crate::wire::split_into_chunks;

    fn request() -> Value {
        json!({
            "model": "claude-sonnet",
            "stream": true,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "tools": [
                {"name": "Read", "input_schema": {"type": "object"}},
                {"name": "mcp__cao__send_message", "input_schema": {"type": "object", "properties": {"message": {"type": "string"}}}}
            ],
            "messages": [
                {"role": "user", "content": "old question"},
                {"role": "assistant", "content": [{"type": "text", "text": "old answer"}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>\ncontext\n</system-reminder>"},
                    {"type": "text", "text": "TOOL please"}
                ]},
                {"role": "system", "content": "mid-conversation system note"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "toolu_1", "name": "mcp__cao__send_message", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "delivered"}]},
                    {"type": "text", "text": "<system-reminder>todo list</system-reminder>"}
                ]}
            ]
        })
    }

    #[test]
    fn reads_the_latest_user_text_calls_results_and_tools() {
        let conversation = parse(&request());
        assert_eq!(conversation.model.as_deref(), Some("claude-sonnet"));
        assert!(conversation.stream);
        assert_eq!(conversation.latest_user_text, "TOOL please");
        assert_eq!(conversation.calls_since_user, ["mcp__cao__send_message"]);
        assert_eq!(
            conversation.latest_tool_result.as_deref(),
            Some("delivered")
        );
        assert_eq!(conversation.offered_tools.len(), 2);
        assert_eq!(
            conversation.offered_tools[1].parameters["properties"]["message"]["type"],
            "string"
        );
        assert_eq!(
            conversation.system_text,
            "You are Claude Code.\nmid-conversation system note"
        );
    }

    #[test]
    fn the_title_request_demands_its_schema() {
        let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]});
        let body = json!({
            "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": schema}},
            "messages": [{"role": "user", "content": "<session>\nhi\n</session>\n\nWrite the title."}]
        });
        assert_eq!(parse(&body).response_schema, Some(schema));
        assert_eq!(parse(&request()).response_schema, None);
    }

    #[test]
    fn a_system_message_last_does_not_hide_the_user_message() {
        let body = json!({"messages": [
            {"role": "user", "content": "hello"},
            {"role": "system", "content": "note"}
        ]});
        let conversation = parse(&body);
        assert_eq!(conversation.latest_user_text, "hello");
        assert!(!conversation.stream);
        assert!(conversation.calls_since_user.is_empty());
    }

    fn text_turn(text: &str, chunk_chars: usize) -> Turn {
        Turn {
            response_id: "msg_1".into(),
            model: "m".into(),
            content: TurnContent::Text {
                chunks: split_into_chunks(text, chunk_chars),
            },
            usage: Usage {
                input_tokens: 10,
                output_tokens: 3,
            },
        }
    }

    fn tool_turn() -> Turn {
        Turn {
            content: TurnContent::ToolCall {
                call_id: "toolu_9".into(),
                call: ToolCall {
                    namespace: None,
                    name: "mcp__cao__send_message".into(),
                    arguments: json!({"message": "hi"}),
                },
            },
            ..text_turn("", 0)
        }
    }

    #[test]
    fn streamed_text_reassembles_in_order() {
        let events = encode_stream(&text_turn("zweite Zeile — ünï ✓", 4));
        let names: Vec<&str> = events.iter().filter_map(|event| event.event).collect();
        assert_eq!(names.first(), Some(&"message_start"));
        assert_eq!(
            &names[names.len() - 3..],
            ["content_block_stop", "message_delta", "message_stop"]
        );
        let text: String = events
            .iter()
            .filter(|event| event.event == Some("content_block_delta"))
            .map(|event| {
                let data: Value = serde_json::from_str(&event.data).unwrap();
                data["delta"]["text"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(text, "zweite Zeile — ünï ✓");
        assert_eq!(events.iter().filter(|event| event.paced).count(), 5);
        let delta: Value = serde_json::from_str(&events[events.len() - 2].data).unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    }

    #[test]
    fn streamed_tool_use_carries_its_input_as_json() {
        let events = encode_stream(&tool_turn());
        let start: Value = serde_json::from_str(&events[1].data).unwrap();
        assert_eq!(start["content_block"]["type"], "tool_use");
        assert_eq!(start["content_block"]["id"], "toolu_9");
        let delta: Value = serde_json::from_str(&events[2].data).unwrap();
        assert_eq!(delta["delta"]["type"], "input_json_delta");
        let input: Value =
            serde_json::from_str(delta["delta"]["partial_json"].as_str().unwrap()).unwrap();
        assert_eq!(input, json!({"message": "hi"}));
        let message_delta: Value = serde_json::from_str(&events[4].data).unwrap();
        assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn json_responses_and_errors() {
        let reply = encode_json(&text_turn("a\nb", 1));
        assert_eq!(reply["content"][0], json!({"type": "text", "text": "a\nb"}));
        assert_eq!(reply["stop_reason"], "end_turn");
        let call = encode_json(&tool_turn());
        assert_eq!(call["content"][0]["input"], json!({"message": "hi"}));
        assert_eq!(call["stop_reason"], "tool_use");
        assert_eq!(
            encode_error(400, "no"),
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "no"}})
        );
        assert_eq!(encode_error(503, "x")["error"]["type"], "api_error");
    }
}
