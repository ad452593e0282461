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
    /// When the request demands JSON matching this schema (Gemini CLI's router and
    /// next-speaker calls), the schema.
    pub response_schema: Option<Value>,
}

/// Picks the offered tool whose full name contains `wanted`: one whose name also contains
/// `cao` first, then the shortest name, then the first offered.
pub fn pick_tool<'a>(tools: &'a [OfferedTool], wanted: &str) -> Option<&'a OfferedTool> {
    tools
        .iter()
        .map(|tool| (tool, tool.full_name()))
        .filter(|(_, full_name)| full_name.contains(wanted))
        .min_by_key(|(_, full_name)| (!full_name.contains("cao"), full_name.len()))
        .map(|(tool, _)| tool)
}

/// The text of a content value that is either a string or a list of parts with `text`
/// (`{"type":"text","text":…}`, `{"type":"input_text","text":…}`, …), parts joined by
/// newlines.
pub fn text_of_content(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part {
                Value::String(text) => Some(text.as_str()),
                _ => part.get("text").and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Claude Code adds `<system-reminder>` text blocks to user messages, also next to tool
/// results; they are not what the user said.
pub fn is_system_reminder(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("<system-reminder>") && text.ends_with("</system-reminder>")
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
    fn recognises_system_reminders() {
        assert!(is_system_reminder(
            "<system-reminder>\nctx\n</system-reminder>\n"
        ));
        assert!(!is_system_reminder(
            "please <system-reminder>x</system-reminder>"
        ));
    }
}
