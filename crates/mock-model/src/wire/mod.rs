//! The four model APIs, sans-I/O: each module reads a request body into a
//! [`Conversation`](crate::conversation::Conversation) and encodes a [`Turn`] as a JSON
//! response, as server-sent events, or as the API's own error body. The axum glue around
//! them ([`serve`](crate::serve)) only moves these bytes and keeps time.

pub mod anthropic;
pub mod chat;
pub mod gemini;
pub mod responses;

use crate::decide::ToolCall;
use serde_json::Value;

/// Which API a request spoke (also the `api` field of the request log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Anthropic,
    Responses,
    Chat,
    Gemini,
    Other,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::Responses => "responses",
            Api::Chat => "chat",
            Api::Gemini => "gemini",
            Api::Other => "other",
        }
    }
}

/// One model turn, ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Unique per response (`msg_…`, `resp_…`, `chatcmpl-…`).
    pub response_id: String,
    pub model: String,
    pub content: TurnContent,
    pub usage: Usage,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TurnContent {
    /// Text, already cut into the chunks it streams in (one chunk when not paced).
    Text { chunks: Vec<String> },
    /// One tool call; `call_id` is unique per call.
    ToolCall { call_id: String, call: ToolCall },
}

impl TurnContent {
    pub fn text(text: &str, chunk_chars: usize) -> TurnContent {
        TurnContent::Text {
            chunks: split_into_chunks(text, chunk_chars),
        }
    }
}

/// Token counts reported in responses: estimates (about four characters a token), since
/// clients only show or budget them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// The array under `key` of a JSON object; empty when it is missing or not an array.
pub(crate) fn array_at<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// About four characters a token, at least one.
pub fn estimate_tokens(characters: usize) -> u64 {
    (characters as u64).div_ceil(4).max(1)
}

/// Cuts `text` into pieces of `chunk_chars` characters (never inside a character); 0 keeps it
/// whole. An empty text is one empty chunk, so every reply has a text part.
pub fn split_into_chunks(text: &str, chunk_chars: usize) -> Vec<String> {
    if chunk_chars == 0 || text.is_empty() {
        return vec![text.to_owned()];
    }
    let characters: Vec<char> = text.chars().collect();
    characters
        .chunks(chunk_chars)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// The `event:` line, when the API names its events.
    pub event: Option<&'static str>,
    pub data: String,
    /// A text chunk: the server waits the rule's chunk delay before each one but the first.
    pub paced: bool,
}

impl SseEvent {
    pub fn named(event: &'static str, data: &serde_json::Value) -> SseEvent {
        SseEvent {
            event: Some(event),
            data: data.to_string(),
            paced: false,
        }
    }

    pub fn data(data: impl Into<String>) -> SseEvent {
        SseEvent {
            event: None,
            data: data.into(),
            paced: false,
        }
    }

    pub fn paced(mut self) -> SseEvent {
        self.paced = true;
        self
    }

    /// The event as it goes on the wire.
    pub fn to_wire(&self) -> String {
        let mut wire = String::with_capacity(self.data.len() + 32);
        if let Some(event) = self.event {
            wire.push_str("event: ");
            wire.push_str(event);
            wire.push('\n');
        }
        // A data line cannot hold a newline; JSON text never has a raw one, but a stray one
        // becomes a second data line, which the client joins back.
        for line in self.data.split('\n') {
            wire.push_str("data: ");
            wire.push_str(line);
            wire.push('\n');
        }
        wire.push('\n');
        wire
    }
}

/// Reads `text` as a series of SSE events: `(event name, data)` pairs. For tests and for
/// clients of the server written in Rust.
pub fn parse_sse(text: &str) -> Vec<(Option<String>, String)> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut event = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(name) = line.strip_prefix("event:") {
                event = Some(name.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if event.is_some() || !data.is_empty() {
            events.push((event, data.join("\n")));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_never_split_a_character() {
        assert_eq!(split_into_chunks("ünï✓ab", 2), ["ün", "ï✓", "ab"]);
        assert_eq!(split_into_chunks("abc", 0), ["abc"]);
        assert_eq!(split_into_chunks("", 3), [""]);
        assert_eq!(split_into_chunks("abcde", 2).concat(), "abcde");
    }

    #[test]
    fn sse_round_trip() {
        let events = [
            SseEvent::named("message_stop", &serde_json::json!({"type": "message_stop"})),
            SseEvent::data("[DONE]"),
            SseEvent::data("two\nlines"),
        ];
        let wire: String = events.iter().map(SseEvent::to_wire).collect();
        assert_eq!(
            wire,
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\ndata: [DONE]\n\ndata: two\ndata: lines\n\n"
        );
        assert_eq!(
            parse_sse(&wire),
            [
                (
                    Some("message_stop".into()),
                    "{\"type\":\"message_stop\"}".into()
                ),
                (None, "[DONE]".into()),
                (None, "two\nlines".into()),
            ]
        );
    }

    #[test]
    fn token_estimate_is_never_zero() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(9), 3);
    }
}
