//! What the scripted model needs to know about a request, whatever API it came in: the latest
//! user message, the tool calls and results since then, and the tools on offer. Each API
//! module in [`crate::wire`] reads its request body into a [`Conversation`].

use serde_json::Value;

/// A tool the request offers the model.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedTool {
    /// Codex groups MCP tools in namespaces (`mcp__cao`); other clients have none.
    pub namespace: Option<String>,
    pub name: String,
    /// The tool's JSON schema for its arguments (`Value::Null` when none was given).
    pub parameters: Value,
}

impl OfferedTool {
    pub fn new(name: impl Into<String>, parameters: Value) -> OfferedTool {
        OfferedTool {
            namespace: None,
            name: name.into(),
            parameters,
        }
    }

    /// The name a rule's `tool` substring is matched against: the namespace and the name
    /// joined with `__` for Codex (`mcp__cao` + `send_message` → `mcp__cao__send_message`, the
    /// name Claude and Qwen use for the same tool), else the name.
    pub fn full_name(&self) -> String {
        full_tool_name(self.namespace.as_deref(), &self.name)
    }
}

/// See [`OfferedTool::full_name`].
pub fn full_tool_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) if !namespace.is_empty() => {
            format!("{}__{name}", namespace.trim_end_matches('_'))
        }
        _ => name.to_owned(),
    }
}

/// A request, read into what the script decides on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// The model the request names.
    pub model: Option<String>,
    /// Whether the client asked for a streamed response.
    pub stream: bool,
    /// The text of the latest user message that has text (tool results alone do not count).
    pub latest_user_text: String,
    /// Full names of the tools the assistant called after that message, in order.
    pub calls_since_user: Vec<String>,
    /// The text of the latest tool result after that message.
    pub latest_tool_result: Option<String>,
    pub offered_tools: Vec<OfferedTool>,
    /// System and developer text (instructions, system prompts), joined; Qwen Code lists its
    /// deferred tools' names there.
    pub system_text: String,
    /// When the request demands JSON matching this schema, the schema: Gemini CLI's router
    /// and next-speaker calls, Claude Code's session title (`{"title"}`).
    pub response_schema: Option<Value>,
}

/// Picks the offered tool whose full name contains `wanted`, by [`tool_preference`]; the
/// first offered among equals.
pub fn pick_tool<'a>(tools: &'a [OfferedTool], wanted: &str) -> Option<&'a OfferedTool> {
    tools
        .iter()
        .map(|tool| (tool, tool.full_name()))
        .filter(|(_, full_name)| full_name.contains(wanted))
        .min_by_key(|(_, full_name)| tool_preference(full_name))
        .map(|(tool, _)| tool)
}

/// Among tools whose names contain what a rule wants, lower is better: names that also
/// contain `cao` first (the orchestrator's own MCP server), then shorter names.
pub fn tool_preference(full_name: &str) -> (bool, usize) {
    (!full_name.contains("cao"), full_name.len())
}

/// The text parts of a content value that is either a string or a list of parts with `text`
/// (`{"type":"text","text":…}`, `{"type":"input_text","text":…}`, plain strings).
pub fn content_texts(content: &Value) -> Vec<&str> {
    match content {
        Value::String(text) => vec![text.as_str()],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part {
                Value::String(text) => Some(text.as_str()),
                _ => part.get("text").and_then(Value::as_str),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The text of a content value ([`content_texts`] joined by newlines); any other JSON value
/// as JSON text.
pub fn text_of_content(content: &Value) -> String {
    match content {
        Value::String(_) | Value::Array(_) => content_texts(content).join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether a text part is context the client wrapped in one XML-like element
/// (`<system-reminder>…</system-reminder>` from Claude Code, `<session_context>…` from Gemini
/// CLI, `<environment_context>…` from Codex): not what the user said.
pub fn is_injected_context(text: &str) -> bool {
    let text = text.trim();
    let Some(after_open) = text.strip_prefix('<') else {
        return false;
    };
    let tag_length = after_open
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(after_open.len());
    let tag = &after_open[..tag_length];
    let opens = matches!(
        after_open[tag_length..].chars().next(),
        Some('>' | ' ' | '\n')
    );
    !tag.is_empty() && opens && text.ends_with(&format!("</{tag}>"))
}

/// The user's own words among a message's text parts: parts that are empty or
/// [injected context](is_injected_context) are left out, the rest joined by newlines; `None`
/// when nothing is left.
pub fn user_words<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let own: Vec<&str> = texts
        .into_iter()
        .filter(|text| !text.trim().is_empty() && !is_injected_context(text))
        .collect();
    (!own.is_empty()).then(|| own.join("\n"))
}

/// A trailing block shorter than this is never taken for a copy of the system prompt.
const MIN_ECHOED_CHARS: usize = 40;

/// `user_text` without a trailing block of paragraphs copied from the system prompt: aider
/// appends its edit-format reminder, which also ends its system prompt, to the user's
/// message. The user's own words before it are kept; a message that is nothing but such a
/// block is left as it is.
pub fn without_echoed_system_text<'a>(user_text: &'a str, system_text: &str) -> &'a str {
    if system_text.len() < MIN_ECHOED_CHARS {
        return user_text;
    }
    for (boundary, _) in user_text.match_indices("\n\n") {
        let (own, rest) = user_text.split_at(boundary);
        let rest = rest.trim();
        if own.trim().is_empty() || rest.len() < MIN_ECHOED_CHARS {
            continue;
        }
        if system_text.contains(rest) {
            return own.trim_end();
        }
    }
    user_text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(namespace: Option<&str>, name: &str) -> OfferedTool {
        OfferedTool {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            parameters: Value::Null,
        }
    }

    #[test]
    fn full_name_joins_a_codex_namespace() {
        assert_eq!(
            tool(Some("mcp__cao"), "send_message").full_name(),
            "mcp__cao__send_message"
        );
        assert_eq!(
            tool(Some("mcp__cao__"), "send_message").full_name(),
            "mcp__cao__send_message"
        );
        assert_eq!(
            tool(None, "cao_send_message").full_name(),
            "cao_send_message"
        );
    }

    #[test]
    fn picks_cao_tools_first_then_the_shortest() {
        let tools = [
            tool(None, "mcp__other__send_message_later"),
            tool(None, "mcp__zz__send_message"),
            tool(None, "mcp__cao__send_message_to_all"),
            tool(None, "mcp__cao__send_message"),
        ];
        assert_eq!(
            pick_tool(&tools, "send_message").unwrap().name,
            "mcp__cao__send_message"
        );
        assert_eq!(
            pick_tool(&tools, "later").unwrap().name,
            "mcp__other__send_message_later"
        );
        assert!(pick_tool(&tools, "handoff").is_none());
        let namespaced = [tool(Some("mcp__cao"), "send_message")];
        assert!(pick_tool(&namespaced, "cao__send").is_some());
    }

    #[test]
    fn content_text_from_strings_and_parts() {
        assert_eq!(text_of_content(&json!("hi")), "hi");
        assert_eq!(
            text_of_content(
                &json!([{"type": "text", "text": "a"}, {"type": "image"}, {"type": "input_text", "text": "b"}])
            ),
            "a\nb"
        );
        assert_eq!(text_of_content(&Value::Null), "");
    }

    #[test]
    fn recognises_injected_context() {
        assert!(is_injected_context(
            "<system-reminder>\nctx\n</system-reminder>\n"
        ));
        assert!(is_injected_context(
            "<session_context>\nThis is the Gemini CLI.\n</session_context>"
        ));
        assert!(is_injected_context(
            "<environment_context cwd=\"/x\">\n</environment_context>"
        ));
        assert!(!is_injected_context(
            "please <system-reminder>x</system-reminder>"
        ));
        assert!(!is_injected_context("<b>bold</i>"));
        assert!(!is_injected_context("<3 you"));
    }

    #[test]
    fn an_echoed_system_reminder_is_cut_off() {
        let reminder =
            "To suggest changes to a file you MUST return the entire content.\n\nReply in English.";
        let system = format!("Act as an expert.\n\n{reminder}\n\n");
        let user = format!("REPLY-MULTI please\nsecond line\n\n{reminder}\n\n");
        assert_eq!(
            without_echoed_system_text(&user, &system),
            "REPLY-MULTI please\nsecond line"
        );
        assert_eq!(
            without_echoed_system_text("plain\n\ntext", &system),
            "plain\n\ntext"
        );
        assert_eq!(without_echoed_system_text(reminder, &system), reminder);
        let short = "Reply in English.";
        assert_eq!(
            without_echoed_system_text("hi\n\nReply in English.", short),
            "hi\n\nReply in English."
        );
    }

    #[test]
    fn user_words_skip_context_and_blanks() {
        assert_eq!(
            user_words([
                "<session_context>\nctx\n</session_context>",
                "REPLY please",
                " "
            ]),
            Some("REPLY please".into())
        );
        assert_eq!(user_words(["<system-reminder>x</system-reminder>"]), None);
        assert_eq!(user_words(["a", "b"]), Some("a\nb".into()));
    }
}
