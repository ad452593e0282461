//! The scripted model's decision for one request: reply, call a tool, fail, or fill in a
//! structured-output schema. Pure: the same script and conversation always give the same
//! decision, so the server keeps no state between requests.
//!
//! Multi-turn tool calls are read back from the conversation: after the latest user message,
//! the tools the assistant already called tick off the matched rule's `calls` in order; the
//! first call not yet made is made now, and when all are made the rule's reply is sent. A tool
//! that is not offered is searched for first when the client offers a `tool_search` tool (Qwen
//! Code defers MCP tools until the model asks for them), or waited for when the client offers
//! `WaitForMcpServers` (Claude Code, while its MCP servers connect); otherwise the model just
//! replies.

use serde_json::{Map, Value};

use crate::conversation::{full_tool_name, pick_tool, tool_preference, Conversation, OfferedTool};
use crate::schema_example::example_for_schema;
use crate::script::{Pacing, Rule, Script, ToolCallSpec};
use crate::template::{render, render_json, TemplateValues};

/// Substring of the name of the tool that reveals deferred tools (Qwen Code's `tool_search`).
const TOOL_SEARCH: &str = "tool_search";
/// The tool Claude Code offers while MCP servers are still connecting; their tools join the
/// list once it returns.
const WAIT_FOR_SERVERS: &str = "WaitForMcpServers";

/// What the model does with one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The matched rule; `None` for the default reply and structured output.
    pub rule: Option<MatchedRule>,
    pub action: Action,
    pub pacing: Pacing,
    /// Why the model did something other than what the rule asked (for the log).
    pub note: Option<String>,
}

/// Which rule answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub index: usize,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer with this text.
    Reply { text: String },
    /// Call one tool.
    ToolCall(ToolCall),
    /// Answer with an HTTP error.
    Error { status: u16, message: String },
    /// Answer a structured-output request with this JSON text.
    StructuredOutput { json: String },
}

/// A tool call the model makes.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Codex's namespace of the tool, sent back in the call.
    pub namespace: Option<String>,
    pub name: String,
    pub arguments: Value,
}

impl ToolCall {
    pub fn full_name(&self) -> String {
        full_tool_name(self.namespace.as_deref(), &self.name)
    }

    fn of(tool: &OfferedTool, arguments: Value) -> ToolCall {
        ToolCall {
            namespace: tool.namespace.clone(),
            name: tool.name.clone(),
            arguments,
        }
    }
}

/// Decides how the scripted model answers `conversation`.
///
/// A request that demands JSON matching a schema and offers no tools is a client's side
/// request (Gemini CLI's router, Claude Code's session title): it gets JSON matching the
/// schema, whatever the rules say, so an error rule or a slow rule does not break it. With
/// tools on offer, the rules apply as usual.
pub fn decide(script: &Script, conversation: &Conversation) -> Decision {
    let side_request_schema = conversation
        .response_schema
        .as_ref()
        .filter(|_| conversation.offered_tools.is_empty());
    if let Some(schema) = side_request_schema {
        return Decision {
            rule: None,
            action: Action::StructuredOutput {
                json: example_for_schema(schema).to_string(),
            },
            pacing: Pacing::default(),
            note: None,
        };
    }
    let values = TemplateValues {
        input: conversation.latest_user_text.clone(),
        result: conversation.latest_tool_result.clone().unwrap_or_default(),
    };
    let Some((index, rule)) = script.rule_for(&conversation.latest_user_text) else {
        return Decision {
            rule: None,
            action: Action::Reply {
                text: render(&script.default_reply, &values),
            },
            pacing: Pacing::default(),
            note: None,
        };
    };
    let (action, note) = rule_action(script, rule, conversation, &values);
    Decision {
        rule: Some(MatchedRule {
            index,
            name: rule.name.clone(),
        }),
        action,
        pacing: rule.pacing(),
        note,
    }
}

fn rule_action(
    script: &Script,
    rule: &Rule,
    conversation: &Conversation,
    values: &TemplateValues,
) -> (Action, Option<String>) {
    if let Some(error) = &rule.error {
        let action = Action::Error {
            status: error.status,
            message: error.message.clone(),
        };
        return (action, None);
    }
    let reply = |note: Option<String>| {
        let template = rule.reply.as_deref().unwrap_or(&script.default_reply);
        let action = Action::Reply {
            text: render(template, values),
        };
        (action, note)
    };
    let progress = CallProgress::read(&rule.calls, &conversation.calls_since_user);
    let Some(next) = rule.calls.get(progress.calls_done) else {
        return reply(None);
    };
    let arguments = render_json(&next.args, values);
    let offered = pick_tool(&conversation.offered_tools, &next.tool);
    let search = pick_tool(&conversation.offered_tools, TOOL_SEARCH);
    // A deferred tool, listed by name only until tool_search reveals it, competes with the
    // offered ones: Qwen Code's own `send_message` must not shadow a deferred
    // `mcp__cao__send_message`.
    let deferred = search
        .filter(|_| !progress.searched_for_next)
        .and_then(|_| deferred_tool_name(&conversation.system_text, &next.tool))
        .filter(|name| {
            offered.is_none_or(|tool| tool_preference(name) < tool_preference(&tool.full_name()))
        });
    let search_for = |search: &OfferedTool, query: String| {
        let arguments = tool_search_arguments(search, query);
        let note = format!("tool_search for {}", next.tool);
        (
            Action::ToolCall(ToolCall::of(search, arguments)),
            Some(note),
        )
    };
    match (offered, search, deferred) {
        (_, Some(search), Some(name)) => search_for(search, format!("select:{name}")),
        (Some(tool), _, _) => (Action::ToolCall(ToolCall::of(tool, arguments)), None),
        (None, Some(search), None) if !progress.searched_for_next => {
            search_for(search, next.tool.clone())
        }
        (None, Some(_), None) => reply(Some(format!(
            "tool not offered after tool_search: {}",
            next.tool
        ))),
        (None, None, _) => match pick_tool(&conversation.offered_tools, WAIT_FOR_SERVERS) {
            Some(wait) if !progress.waited_for_next => (
                Action::ToolCall(ToolCall::of(wait, Value::Object(Map::new()))),
                Some(format!("waiting for MCP servers, for {}", next.tool)),
            ),
            Some(_) => reply(Some(format!(
                "tool not offered after {WAIT_FOR_SERVERS}: {}",
                next.tool
            ))),
            None => reply(Some(format!("tool not offered: {}", next.tool))),
        },
    }
}

/// How far the conversation got through a rule's calls.
#[derive(Debug, PartialEq, Eq)]
struct CallProgress {
    /// Calls of the rule already made, counted from the first.
    calls_done: usize,
    /// Whether `tool_search` was called since the last of them.
    searched_for_next: bool,
    /// Whether `WaitForMcpServers` was called since the last of them.
    waited_for_next: bool,
}

impl CallProgress {
    fn read(wanted: &[ToolCallSpec], made: &[String]) -> CallProgress {
        let mut progress = CallProgress {
            calls_done: 0,
            searched_for_next: false,
            waited_for_next: false,
        };
        for made_name in made {
            match wanted.get(progress.calls_done) {
                Some(next) if made_name.contains(&next.tool) => {
                    progress.calls_done += 1;
                    progress.searched_for_next = false;
                    progress.waited_for_next = false;
                }
                _ if made_name.contains(TOOL_SEARCH) => progress.searched_for_next = true,
                _ if made_name.contains(WAIT_FOR_SERVERS) => progress.waited_for_next = true,
                _ => {}
            }
        }
        progress
    }
}

/// Arguments for a `tool_search` call, shaped by the search tool's own schema: `query` goes
/// in its `query` property (or its first string property), other required properties get
/// example values. Qwen Code's `tool_search` takes `{"query": "select:<exact name>"}` or
/// keywords.
fn tool_search_arguments(search: &OfferedTool, query: String) -> Value {
    let empty = Map::new();
    let properties = search
        .parameters
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = search
        .parameters
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let is_string = |name: &str| {
        properties
            .get(name)
            .and_then(|property| property.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.eq_ignore_ascii_case("string"))
    };
    let query_property = if properties.contains_key("query") || properties.is_empty() {
        "query".to_owned()
    } else {
        required
            .iter()
            .copied()
            .find(|name| is_string(name))
            .or_else(|| {
                properties
                    .keys()
                    .map(String::as_str)
                    .find(|name| is_string(name))
            })
            .unwrap_or("query")
            .to_owned()
    };
    let mut arguments = Map::new();
    arguments.insert(query_property.clone(), Value::String(query));
    for name in required {
        if name != query_property {
            let property = properties.get(name).unwrap_or(&Value::Null);
            arguments.insert(name.to_owned(), example_for_schema(property));
        }
    }
    Value::Object(arguments)
}

/// A tool name quoted in the system text (`"mcp__cao__send_message"` or in backticks) that
/// contains `wanted`; the same preference as [`pick_tool`].
fn deferred_tool_name(system_text: &str, wanted: &str) -> Option<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut names: Vec<&str> = Vec::new();
    for (found, _) in system_text.match_indices(wanted) {
        let start = system_text[..found]
            .rfind(|c: char| !is_name_char(c))
            .map_or(0, |before| before + 1);
        let end = system_text[found..]
            .find(|c: char| !is_name_char(c))
            .map_or(system_text.len(), |after| found + after);
        let before = system_text[..start].chars().next_back();
        let after = system_text[end..].chars().next();
        let quoted = matches!(
            (before, after),
            (Some('"'), Some('"')) | (Some('`'), Some('`'))
        );
        if quoted && start < end {
            names.push(&system_text[start..end]);
        }
    }
    names
        .into_iter()
        .min_by_key(|name| tool_preference(name))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SCRIPT: &str = r#"
default_reply = "echo: {input}"

[[rules]]
name = "fail"
match = "FAIL"
error = { status = 429, message = "slow down" }

[[rules]]
name = "two-calls"
match = "TWO"
reply = "sent, got {result}"
first_byte_delay_ms = 3
[[rules.calls]]
tool = "send_message"
args = { receiver_id = "r1", message = "first: {first_line}" }
[[rules.calls]]
tool = "send_message"
args = { receiver_id = "r2", message = "second" }
"#;

    fn script() -> Script {
        Script::from_toml_str(SCRIPT).unwrap()
    }

    fn conversation(text: &str, tools: &[&str], calls: &[&str]) -> Conversation {
        Conversation {
            latest_user_text: text.to_owned(),
            offered_tools: tools
                .iter()
                .map(|name| OfferedTool::new(*name, json!({"type": "object"})))
                .collect(),
            calls_since_user: calls.iter().map(|name| name.to_string()).collect(),
            latest_tool_result: (!calls.is_empty()).then(|| "ok-result".to_owned()),
            ..Conversation::default()
        }
    }

    #[test]
    fn no_rule_gives_the_default_reply() {
        let decision = decide(&script(), &conversation("hello", &[], &[]));
        assert_eq!(decision.rule, None);
        assert_eq!(
            decision.action,
            Action::Reply {
                text: "echo: hello".into()
            }
        );
    }

    #[test]
    fn error_rule_fails() {
        let decision = decide(&script(), &conversation("please FAIL", &[], &[]));
        assert_eq!(
            decision.rule,
            Some(MatchedRule {
                index: 0,
                name: Some("fail".into())
            })
        );
        assert_eq!(
            decision.action,
            Action::Error {
                status: 429,
                message: "slow down".into()
            }
        );
    }

    #[test]
    fn calls_are_made_one_per_turn_then_the_reply() {
        let tools = ["Read", "mcp__cao__send_message"];
        let first = decide(&script(), &conversation("TWO\nmore", &tools, &[]));
        assert_eq!(first.pacing.first_byte_delay.as_millis(), 3);
        let Action::ToolCall(call) = first.action else {
            panic!("expected a tool call, got {:?}", first.action)
        };
        assert_eq!(call.name, "mcp__cao__send_message");
        assert_eq!(
            call.arguments,
            json!({"receiver_id": "r1", "message": "first: TWO"})
        );

        let second = decide(
            &script(),
            &conversation("TWO", &tools, &["mcp__cao__send_message"]),
        );
        let Action::ToolCall(call) = second.action else {
            panic!("expected a second call")
        };
        assert_eq!(call.arguments["receiver_id"], "r2");

        let last = decide(
            &script(),
            &conversation(
                "TWO",
                &tools,
                &["Read", "mcp__cao__send_message", "mcp__cao__send_message"],
            ),
        );
        assert_eq!(
            last.action,
            Action::Reply {
                text: "sent, got ok-result".into()
            }
        );
    }

    #[test]
    fn a_tool_not_offered_gets_the_reply_and_a_note() {
        let decision = decide(&script(), &conversation("TWO", &[], &[]));
        assert_eq!(
            decision.action,
            Action::Reply {
                text: "sent, got ".into()
            }
        );
        assert_eq!(
            decision.note.as_deref(),
            Some("tool not offered: send_message")
        );
    }

    #[test]
    fn servers_still_connecting_are_waited_for_once() {
        let waiting = decide(
            &script(),
            &conversation("TWO", &["Read", "WaitForMcpServers"], &[]),
        );
        let Action::ToolCall(call) = &waiting.action else {
            panic!("expected WaitForMcpServers, got {:?}", waiting.action)
        };
        assert_eq!(call.name, "WaitForMcpServers");
        assert_eq!(call.arguments, json!({}));
        // Connected: the tool is offered now.
        let after = decide(
            &script(),
            &conversation(
                "TWO",
                &["Read", "mcp__cao__send_message"],
                &["WaitForMcpServers"],
            ),
        );
        assert!(
            matches!(after.action, Action::ToolCall(ref call) if call.name == "mcp__cao__send_message")
        );
        // Still not offered after waiting: reply, and say why.
        let gave_up = decide(
            &script(),
            &conversation(
                "TWO",
                &["Read", "WaitForMcpServers"],
                &["WaitForMcpServers"],
            ),
        );
        assert!(matches!(gave_up.action, Action::Reply { .. }));
        assert_eq!(
            gave_up.note.as_deref(),
            Some("tool not offered after WaitForMcpServers: send_message")
        );
    }

    #[test]
    fn deferred_tool_is_searched_for_first() {
        let mut request = conversation("TWO", &["read_file", "tool_search"], &[]);
        request.offered_tools[1].parameters = json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "max_results": {"type": "integer", "minimum": 1}
            },
            "required": ["query"]
        });
        request.system_text = "## Deferred Tools\n- \"mcp__cao__send_message\": \"Send\"\n- \"mcp__x__send_message_all\": \"y\"".into();
        let decision = decide(&script(), &request);
        let Action::ToolCall(call) = &decision.action else {
            panic!("expected tool_search, got {:?}", decision.action)
        };
        assert_eq!(call.name, "tool_search");
        assert_eq!(
            call.arguments,
            json!({"query": "select:mcp__cao__send_message"})
        );
        assert_eq!(
            decision.note.as_deref(),
            Some("tool_search for send_message")
        );

        // Searched, but the client still does not offer it: give up with the reply.
        request.calls_since_user = vec!["tool_search".into()];
        let decision = decide(&script(), &request);
        assert!(
            matches!(decision.action, Action::Reply { .. }),
            "{decision:?}"
        );

        // Searched and now offered: call it.
        request
            .offered_tools
            .push(OfferedTool::new("mcp__cao__send_message", Value::Null));
        let Action::ToolCall(call) = decide(&script(), &request).action else {
            panic!("expected the revealed tool to be called")
        };
        assert_eq!(call.name, "mcp__cao__send_message");
    }

    #[test]
    fn a_deferred_cao_tool_beats_an_offered_namesake() {
        // Qwen Code has a `send_message` of its own; the rule means cao's.
        let mut request = conversation("TWO", &["tool_search", "send_message"], &[]);
        request.system_text = "## Deferred Tools\n- \"mcp__cao__send_message\": \"Send\"".into();
        let Action::ToolCall(call) = decide(&script(), &request).action else {
            panic!("expected tool_search")
        };
        assert_eq!(call.name, "tool_search");
        assert_eq!(call.arguments["query"], "select:mcp__cao__send_message");

        // Revealed: the cao tool is called, not the namesake.
        request.calls_since_user = vec!["tool_search".into()];
        request
            .offered_tools
            .push(OfferedTool::new("mcp__cao__send_message", Value::Null));
        let Action::ToolCall(call) = decide(&script(), &request).action else {
            panic!("expected the cao tool")
        };
        assert_eq!(call.name, "mcp__cao__send_message");

        // Without a cao candidate, the offered namesake is used directly.
        let mut plain = conversation("TWO", &["tool_search", "send_message"], &[]);
        plain.system_text = "- \"other_send_message_tool\": \"x\"".into();
        let Action::ToolCall(call) = decide(&script(), &plain).action else {
            panic!("expected the offered tool")
        };
        assert_eq!(call.name, "send_message");
    }

    #[test]
    fn search_query_falls_back_to_keywords_and_schema_property_names() {
        let search = OfferedTool::new(
            "tool_search",
            json!({"type": "object", "properties": {"terms": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["terms", "limit"]}),
        );
        assert_eq!(
            tool_search_arguments(&search, "handoff".into()),
            json!({"terms": "handoff", "limit": 1})
        );
    }

    #[test]
    fn deferred_names_must_be_quoted() {
        assert_eq!(
            deferred_tool_name("use send_message here", "send_message"),
            None
        );
        assert_eq!(
            deferred_tool_name(
                "call `mcp__a__send_message` or \"mcp__cao__send_message\"",
                "send_message"
            )
            .as_deref(),
            Some("mcp__cao__send_message")
        );
    }

    #[test]
    fn a_schema_with_tools_on_offer_does_not_bypass_the_rules() {
        let mut request = conversation("TWO", &["mcp__cao__send_message"], &[]);
        request.response_schema = Some(json!({"type": "object"}));
        assert!(matches!(
            decide(&script(), &request).action,
            Action::ToolCall(_)
        ));
    }

    #[test]
    fn structured_output_fills_the_schema() {
        let request = Conversation {
            latest_user_text: "FAIL".into(),
            response_schema: Some(
                json!({"type": "object", "properties": {"model_choice": {"enum": ["flash", "pro"]}}}),
            ),
            ..Conversation::default()
        };
        let decision = decide(&script(), &request);
        assert_eq!(
            decision.action,
            Action::StructuredOutput {
                json: r#"{"model_choice":"flash"}"#.into()
            }
        );
    }
}
