//! OpenAI Chat Completions (`POST /v1/chat/completions`), spoken by opencode, Qwen Code and
//! aider. Tool calls are `tool_calls` on assistant messages; their results come back as
//! `role:"tool"` messages. A stream ends with `data: [DONE]`. aider appends its edit-format
//! reminder, copied from its system prompt, to the user's message; it is cut off again.

use serde_json::{json, Value};

use super::{array_at, SseEvent, Turn, TurnContent};
use crate::conversation::{
    content_texts, text_of_content, user_words, without_echoed_system_text, Conversation,
    OfferedTool,
};

/// Reads a Chat Completions request.
pub fn parse(body: &Value) -> Conversation {
    let mut conversation = Conversation {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..Conversation::default()
    };
    let messages = array_at(body, "messages");
    let mut system_parts = Vec::new();
    let mut latest_user = None;
    for (index, message) in messages.iter().enumerate() {
        let content = message.get("content").unwrap_or(&Value::Null);
        match message.get("role").and_then(Value::as_str) {
            Some("user") => {
                if let Some(text) = user_words(content_texts(content)) {
                    latest_user = Some((index, text));
                }
            }
            Some("system") | Some("developer") => system_parts.push(text_of_content(content)),
            _ => {}
        }
    }
    conversation.system_text = system_parts.join("\n");
    if let Some((user_index, text)) = latest_user {
        conversation.latest_user_text =
            without_echoed_system_text(&text, &conversation.system_text).to_owned();
        for message in &messages[user_index + 1..] {
            match message.get("role").and_then(Value::as_str) {
                Some("assistant") => {
                    let calls = array_at(message, "tool_calls");
                    conversation
                        .calls_since_user
                        .extend(calls.iter().filter_map(|call| {
                            call.pointer("/function/name")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        }));
                }
                Some("tool") => {
                    conversation.latest_tool_result = Some(text_of_content(
                        message.get("content").unwrap_or(&Value::Null),
                    ));
                }
                _ => {}
            }
        }
    }
    conversation.offered_tools = array_at(body, "tools")
        .iter()
        .filter_map(|tool| {
            let function = tool.get("function")?;
            let name = function.get("name").and_then(Value::as_str)?;
            let parameters = function.get("parameters").cloned().unwrap_or(Value::Null);
            Some(OfferedTool::new(name, parameters))
        })
        .collect();
    conversation.response_schema = body
        .get("response_format")
        .filter(|format| format.get("type").and_then(Value::as_str) == Some("json_schema"))
        .map(|format| {
            format
                .pointer("/json_schema/schema")
                .cloned()
                .unwrap_or(Value::Null)
        });
    conversation
}

/// Whether a streamed response should end with a usage chunk
/// (`stream_options.include_usage`).
pub fn wants_usage(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn finish_reason(content: &TurnContent) -> &'static str {
    match content {
        TurnContent::Text { .. } => "stop",
        TurnContent::ToolCall { .. } => "tool_calls",
    }
}

fn usage_json(turn: &Turn) -> Value {
    json!({
        "prompt_tokens": turn.usage.input_tokens,
        "completion_tokens": turn.usage.output_tokens,
        "total_tokens": turn.usage.total(),
    })
}

/// A non-streamed `chat.completion`.
pub fn encode_json(turn: &Turn) -> Value {
    let message = match &turn.content {
        TurnContent::Text { chunks } => json!({"role": "assistant", "content": chunks.concat()}),
        TurnContent::ToolCall { call_id, call } => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments.to_string()},
            }],
        }),
    };
    json!({
        "id": turn.response_id,
        "object": "chat.completion",
        "created": 0,
        "model": turn.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(&turn.content)}],
        "usage": usage_json(turn),
    })
}

/// A streamed response: `chat.completion.chunk`s, a usage chunk when asked for, `[DONE]`.
pub fn encode_stream(turn: &Turn, include_usage: bool) -> Vec<SseEvent> {
    let chunk = |delta: Value, finish_reason: Value| {
        json!({
            "id": turn.response_id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": turn.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
    };
    let mut events = Vec::new();
    match &turn.content {
        TurnContent::Text { chunks } => {
            events.push(SseEvent::data(
                chunk(json!({"role": "assistant", "content": ""}), Value::Null).to_string(),
            ));
            events.extend(chunks.iter().map(|text| {
                SseEvent::data(chunk(json!({"content": text}), Value::Null).to_string()).paced()
            }));
        }
        TurnContent::ToolCall { call_id, call } => {
            let opening = json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "index": 0,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }],
            });
            events.push(SseEvent::data(chunk(opening, Value::Null).to_string()));
            let arguments = json!({"tool_calls": [{
                "index": 0,
                "function": {"arguments": call.arguments.to_string()},
            }]});
            events.push(SseEvent::data(chunk(arguments, Value::Null).to_string()));
        }
    }
    events.push(SseEvent::data(
        chunk(json!({}), json!(finish_reason(&turn.content))).to_string(),
    ));
    if include_usage {
        let usage = json!({
            "id": turn.response_id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": turn.model,
            "choices": [],
            "usage": usage_json(turn),
        });
        events.push(SseEvent::data(usage.to_string()));
    }
    events.push(SseEvent::data("[DONE]"));
    events
}

/// `GET /v1/models`: one list both OpenAI clients (`object`, `owned_by`) and Anthropic ones
/// (`type`, `display_name`, `has_more`) read.
pub fn encode_model_list(models: &[&str]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|model| {
            json!({
                "id": model,
                "object": "model",
                "type": "model",
                "created": 0,
                "created_at": "1970-01-01T00:00:00Z",
                "owned_by": "cao-mock-model",
                "display_name": model,
            })
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "first_id": models.first(),
        "last_id": models.last(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::ToolCall;
    use crate::wire::{split_into_chunks, Usage};

    #[test]
    fn reads_tool_calls_and_tool_results_after_the_user_message() {
        let body = json!({
            "model": "mock-model",
            "stream": true,
            "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "cao_send_message", "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "TOOL now"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "cao_send_message", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "queued"}
            ]
        });
        let conversation = parse(&body);
        assert_eq!(conversation.latest_user_text, "TOOL now");
        assert_eq!(conversation.calls_since_user, ["cao_send_message"]);
        assert_eq!(conversation.latest_tool_result.as_deref(), Some("queued"));
        assert_eq!(conversation.offered_tools[0].name, "cao_send_message");
        assert_eq!(conversation.system_text, "be brief");
        assert!(wants_usage(&body));
    }

    fn turn(content: TurnContent) -> Turn {
        Turn {
            response_id: "chatcmpl-1".into(),
            model: "m".into(),
            content,
            usage: Usage {
                input_tokens: 4,
                output_tokens: 5,
            },
        }
    }

    #[test]
    fn stream_reassembles_then_usage_then_done() {
        let events = encode_stream(
            &turn(TurnContent::Text {
                chunks: split_into_chunks("line one\nzweite — ✓", 5),
            }),
            true,
        );
        assert_eq!(events.last().unwrap().data, "[DONE]");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|event| serde_json::from_str(&event.data).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|chunk| {
                chunk
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(text, "line one\nzweite — ✓");
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 9);
        assert!(events.iter().all(|event| event.event.is_none()));
    }

    #[test]
    fn tool_call_stream_and_json() {
        let call = TurnContent::ToolCall {
            call_id: "call_1".into(),
            call: ToolCall {
                namespace: None,
                name: "cao_send_message".into(),
                arguments: json!({"message": "hi"}),
            },
        };
        let events = encode_stream(&turn(call.clone()), false);
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|event| serde_json::from_str(&event.data).unwrap())
            .collect();
        assert_eq!(
            chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "cao_send_message"
        );
        assert_eq!(
            chunks[0]["choices"][0]["delta"]["tool_calls"][0]["id"],
            "call_1"
        );
        let arguments = chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(arguments).unwrap(),
            json!({"message": "hi"})
        );
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks.len(), 3, "no usage chunk unless asked");
        let response = encode_json(&turn(call));
        assert_eq!(response["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            response["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "cao_send_message"
        );
    }

    #[test]
    fn aiders_appended_reminder_is_not_the_users_text() {
        let reminder = "To suggest changes to a file you MUST return the entire content of the updated file.\n\nReply in English.\n\n";
        let body = json!({"messages": [
            {"role": "system", "content": format!("Act as an expert software developer.\n\n{reminder}")},
            {"role": "user", "content": format!("REPLY-MULTI please\n\n{reminder}")}
        ]});
        assert_eq!(parse(&body).latest_user_text, "REPLY-MULTI please");
    }

    #[test]
    fn response_format_json_schema_is_demanded() {
        let body = json!({
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "object"}}}
        });
        assert_eq!(
            parse(&body).response_schema,
            Some(json!({"type": "object"}))
        );
        let plain = json!({"messages": [], "response_format": {"type": "text"}});
        assert_eq!(parse(&plain).response_schema, None);
    }

    #[test]
    fn model_list_has_both_shapes() {
        let list = encode_model_list(&["mock-model"]);
        assert_eq!(list["data"][0]["id"], "mock-model");
        assert_eq!(list["data"][0]["object"], "model");
        assert_eq!(list["data"][0]["type"], "model");
        assert_eq!(list["has_more"], false);
    }
}
