//! Gemini (`POST /v1beta/models/{model}:{verb}`), spoken by Gemini CLI: `generateContent`,
//! `streamGenerateContent` (SSE with `alt=sse`, else one JSON array) and `countTokens`.
//!
//! Tool results come back as `functionResponse` parts of a `role:"user"` content, so the
//! latest user message is the last user content with a text part. Gemini CLI starts every
//! turn with a "router" `generateContent` call that demands JSON
//! (`generationConfig.responseMimeType: "application/json"` with `responseJsonSchema` or
//! `responseSchema`); it is read into [`Conversation::response_schema`].

use serde_json::{json, Value};

use super::{array_at, SseEvent, Turn, TurnContent};
use crate::conversation::{text_of_content, user_words, Conversation, OfferedTool};

/// What a `/v1beta/models/...` path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    GenerateContent,
    StreamGenerateContent,
    CountTokens,
}

/// Splits `gemini-2.5-pro:streamGenerateContent` (the part of the path after `models/`)
/// into the model and the verb; `None` for a verb this server does not speak.
pub fn split_model_path(model_and_verb: &str) -> Option<(&str, Verb)> {
    let (model, verb) = model_and_verb.rsplit_once(':')?;
    let verb = match verb {
        "generateContent" => Verb::GenerateContent,
        "streamGenerateContent" => Verb::StreamGenerateContent,
        "countTokens" => Verb::CountTokens,
        _ => return None,
    };
    Some((model.trim_start_matches("models/"), verb))
}

fn is_user(content: &Value) -> bool {
    // A content without a role is the user's.
    content
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
        == "user"
}

/// The text parts of a content; thoughts are left out.
fn texts(content: &Value) -> impl Iterator<Item = &str> {
    array_at(content, "parts")
        .iter()
        .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
}

/// Reads a `generateContent`/`streamGenerateContent` request; the model comes from the path.
pub fn parse(body: &Value, model: &str, verb: Verb) -> Conversation {
    let mut conversation = Conversation {
        model: Some(model.to_owned()),
        stream: verb == Verb::StreamGenerateContent,
        ..Conversation::default()
    };
    let contents = array_at(body, "contents");
    let latest_user = contents
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, content)| is_user(content))
        .find_map(|(index, content)| Some((index, user_words(texts(content))?)));
    if let Some((user_index, text)) = latest_user {
        conversation.latest_user_text = text;
        for content in &contents[user_index + 1..] {
            for part in array_at(content, "parts") {
                if let Some(name) = part.pointer("/functionCall/name").and_then(Value::as_str) {
                    conversation.calls_since_user.push(name.to_owned());
                }
                if let Some(response) = part.pointer("/functionResponse/response") {
                    conversation.latest_tool_result = Some(function_response_text(response));
                }
            }
        }
    }
    conversation.system_text = match body.get("systemInstruction") {
        Some(Value::String(text)) => text.clone(),
        Some(instruction) => texts(instruction).collect::<Vec<_>>().join("\n"),
        None => String::new(),
    };
    for tool in array_at(body, "tools") {
        for declaration in array_at(tool, "functionDeclarations") {
            if let Some(name) = declaration.get("name").and_then(Value::as_str) {
                let parameters = declaration
                    .get("parametersJsonSchema")
                    .or_else(|| declaration.get("parameters"))
                    .cloned()
                    .unwrap_or(Value::Null);
                conversation
                    .offered_tools
                    .push(OfferedTool::new(name, parameters));
            }
        }
    }
    conversation.response_schema = demanded_schema(body);
    conversation
}

/// The schema a request's output must match, when it demands JSON.
fn demanded_schema(body: &Value) -> Option<Value> {
    let config = body.get("generationConfig")?;
    let mime_type = config.get("responseMimeType").and_then(Value::as_str)?;
    if mime_type != "application/json" {
        return None;
    }
    let schema = config
        .get("responseJsonSchema")
        .or_else(|| config.get("responseSchema"))
        .cloned()
        .unwrap_or_else(|| json!({"type": "object"}));
    Some(schema)
}

/// The text of a tool result: Gemini CLI sends `{"output": …}` (or `{"error": …}`).
fn function_response_text(response: &Value) -> String {
    for key in ["output", "content", "error"] {
        match response.get(key) {
            Some(Value::String(text)) => return text.clone(),
            Some(value @ Value::Array(_)) => return text_of_content(value),
            _ => {}
        }
    }
    response.to_string()
}

fn response_object(turn: &Turn, parts: Value, last: bool) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    let mut response = json!({
        "candidates": [],
        "modelVersion": turn.model,
        "responseId": turn.response_id,
    });
    if last {
        candidate["finishReason"] = json!("STOP");
        response["usageMetadata"] = json!({
            "promptTokenCount": turn.usage.input_tokens,
            "candidatesTokenCount": turn.usage.output_tokens,
            "totalTokenCount": turn.usage.total(),
        });
    }
    response["candidates"] = json!([candidate]);
    response
}

fn function_call_part(content: &TurnContent) -> Value {
    match content {
        TurnContent::ToolCall { call_id, call } => json!({
            "functionCall": {"id": call_id, "name": call.name, "args": call.arguments}
        }),
        TurnContent::Text { chunks } => json!({"text": chunks.concat()}),
    }
}

/// A `generateContent` response.
pub fn encode_json(turn: &Turn) -> Value {
    response_object(turn, json!([function_call_part(&turn.content)]), true)
}

/// The responses a `streamGenerateContent` call streams, one per text chunk; the last one
/// carries `finishReason` and `usageMetadata`.
pub fn stream_objects(turn: &Turn) -> Vec<Value> {
    match &turn.content {
        TurnContent::Text { chunks } => chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                response_object(turn, json!([{"text": chunk}]), index + 1 == chunks.len())
            })
            .collect(),
        TurnContent::ToolCall { .. } => vec![encode_json(turn)],
    }
}

/// `streamGenerateContent?alt=sse`.
pub fn encode_stream(turn: &Turn) -> Vec<SseEvent> {
    stream_objects(turn)
        .into_iter()
        .map(|object| SseEvent::data(object.to_string()).paced())
        .collect()
}

/// Gemini's error body for `status`.
pub fn encode_error(status: u16, message: &str) -> Value {
    let status_name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    json!({"error": {"code": status, "message": message, "status": status_name}})
}

/// `:countTokens`.
pub fn encode_token_count(total_tokens: u64) -> Value {
    json!({"totalTokens": total_tokens})
}

/// `GET /v1beta/models`.
pub fn encode_model_list(models: &[&str]) -> Value {
    let models: Vec<Value> = models
        .iter()
        .map(|model| {
            json!({
                "name": format!("models/{model}"),
                "displayName": model,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            })
        })
        .collect();
    json!({"models": models})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::ToolCall;
    use crate::wire::{split_into_chunks, Usage};

    #[test]
    fn splits_model_and_verb_on_the_last_colon() {
        assert_eq!(
            split_model_path("gemini-2.5-pro:streamGenerateContent"),
            Some(("gemini-2.5-pro", Verb::StreamGenerateContent))
        );
        assert_eq!(
            split_model_path("models/a:b:countTokens"),
            Some(("a:b", Verb::CountTokens))
        );
        assert_eq!(split_model_path("gemini:embedContent"), None);
        assert_eq!(split_model_path("gemini"), None);
    }

    #[test]
    fn function_responses_do_not_count_as_user_text() {
        let body = json!({
            "systemInstruction": {"role": "user", "parts": [{"text": "You are Gemini CLI."}]},
            "tools": [{"functionDeclarations": [
                {"name": "read_file", "parametersJsonSchema": {"type": "object"}},
                {"name": "mcp_cao_send_message", "parameters": {"type": "OBJECT"}}
            ]}],
            "contents": [
                {"role": "user", "parts": [{"text": "setup context"}]},
                {"role": "model", "parts": [{"text": "ok"}]},
                {"role": "user", "parts": [{"text": "<session_context>\nThis is the Gemini CLI.\n</session_context>"}, {"text": "TOOL please"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "mcp_cao_send_message", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "mcp_cao_send_message", "response": {"output": "sent"}}}]}
            ]
        });
        let conversation = parse(&body, "gemini-2.5-flash", Verb::StreamGenerateContent);
        assert!(conversation.stream);
        assert_eq!(conversation.latest_user_text, "TOOL please");
        assert_eq!(conversation.calls_since_user, ["mcp_cao_send_message"]);
        assert_eq!(conversation.latest_tool_result.as_deref(), Some("sent"));
        assert_eq!(conversation.offered_tools.len(), 2);
        assert_eq!(
            conversation.offered_tools[1].parameters,
            json!({"type": "OBJECT"})
        );
        assert_eq!(conversation.system_text, "You are Gemini CLI.");
        assert_eq!(conversation.response_schema, None);
    }

    #[test]
    fn router_calls_demand_their_schema() {
        let schema = json!({"type": "object", "properties": {"model_choice": {"type": "string", "enum": ["flash", "pro"]}}});
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}
        });
        assert_eq!(
            parse(&body, "m", Verb::GenerateContent).response_schema,
            Some(schema)
        );
        let openapi = json!({"generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT"}}});
        assert_eq!(
            parse(&openapi, "m", Verb::GenerateContent).response_schema,
            Some(json!({"type": "OBJECT"}))
        );
        let plain = json!({"generationConfig": {"responseMimeType": "text/plain"}});
        assert_eq!(
            parse(&plain, "m", Verb::GenerateContent).response_schema,
            None
        );
    }

    fn turn(content: TurnContent) -> Turn {
        Turn {
            response_id: "r1".into(),
            model: "gemini-2.5-pro".into(),
            content,
            usage: Usage {
                input_tokens: 3,
                output_tokens: 4,
            },
        }
    }

    #[test]
    fn streamed_text_reassembles_and_only_the_last_chunk_finishes() {
        let objects = stream_objects(&turn(TurnContent::Text {
            chunks: split_into_chunks("ünï\ncödé ✓ three", 4),
        }));
        assert!(objects.len() > 2);
        let text: String = objects
            .iter()
            .map(|object| {
                object["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, "ünï\ncödé ✓ three");
        let finished: Vec<bool> = objects
            .iter()
            .map(|object| object["candidates"][0].get("finishReason").is_some())
            .collect();
        assert_eq!(finished.iter().filter(|finished| **finished).count(), 1);
        assert_eq!(finished.last(), Some(&true));
        assert_eq!(
            objects.last().unwrap()["usageMetadata"]["totalTokenCount"],
            7
        );
    }

    #[test]
    fn function_call_part_and_error_shape() {
        let response = encode_json(&turn(TurnContent::ToolCall {
            call_id: "c1".into(),
            call: ToolCall {
                namespace: None,
                name: "mcp_cao_send_message".into(),
                arguments: json!({"message": "hi"}),
            },
        }));
        let call = &response["candidates"][0]["content"]["parts"][0]["functionCall"];
        assert_eq!(call["name"], "mcp_cao_send_message");
        assert_eq!(call["args"], json!({"message": "hi"}));
        assert_eq!(response["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            encode_error(400, "no"),
            json!({"error": {"code": 400, "message": "no", "status": "INVALID_ARGUMENT"}})
        );
    }
}
