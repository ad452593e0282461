//! The script: TOML rules that say how the scripted model answers.
//!
//! ```toml
//! model = "mock-model"                  # advertised model name (optional)
//! default_reply = "You said: {input}"   # when no rule matches (default "{input}")
//!
//! [[rules]]
//! name = "multi"                        # optional; logged (else the rule's index)
//! match = "REPLY-MULTI"                 # substring of the latest user message; omitted = all
//! reply = "line one\nline two"          # template (default: default_reply)
//! first_byte_delay_ms = 0               # wait before the response starts (headers included)
//! chunk_delay_ms = 0                    # wait between streamed text chunks
//! chunk_chars = 0                       # characters per chunk; 0 = one chunk, or 8 when
//!                                       # chunk_delay_ms is set
//! error = { status = 400, message = "mock model refuses" }   # answer with this HTTP error
//!
//! [[rules.calls]]                       # tool calls, one per model turn, before the reply
//! tool = "send_message"                 # substring of the offered tool's full name
//! args = { receiver_id = "abc", message = "hello from {input}" }   # strings are templates
//! ```
//!
//! Rules are tried in order and the first match wins. Templates are described in
//! [`crate::template`]; `{result}` is the text of the latest tool result.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::template;

const DEFAULT_MODEL: &str = "mock-model";
const DEFAULT_REPLY: &str = "{input}";
/// Chunk size used when a rule sets `chunk_delay_ms` but not `chunk_chars`.
const PACED_CHUNK_CHARS: usize = 8;

/// A loaded, validated script.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The model name the server advertises (`GET /v1/models`). Requests may name any model.
    #[serde(default = "default_model")]
    pub model: String,
    /// Template of the reply when no rule matches.
    #[serde(default = "default_reply")]
    pub default_reply: String,
    /// Tried in order; the first whose `match` is in the latest user message wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

fn default_model() -> String {
    DEFAULT_MODEL.to_owned()
}

fn default_reply() -> String {
    DEFAULT_REPLY.to_owned()
}

impl Default for Script {
    fn default() -> Self {
        Script {
            model: default_model(),
            default_reply: default_reply(),
            rules: Vec::new(),
        }
    }
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in the request log (the rule's index when absent).
    pub name: Option<String>,
    /// Substring of the latest user message (case-sensitive); `None` matches every message.
    #[serde(rename = "match")]
    pub matches: Option<String>,
    /// Template of the final reply; the script's `default_reply` when absent.
    pub reply: Option<String>,
    #[serde(default)]
    pub first_byte_delay_ms: u64,
    #[serde(default)]
    pub chunk_delay_ms: u64,
    #[serde(default)]
    pub chunk_chars: usize,
    /// Answer with this HTTP error instead of a reply.
    pub error: Option<ErrorReply>,
    /// Tool calls made one per model turn, in order, before the final reply.
    #[serde(default)]
    pub calls: Vec<ToolCallSpec>,
}

/// An HTTP error a rule answers with, in the API's own error shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorReply {
    pub status: u16,
    pub message: String,
}

/// A tool call a rule makes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallSpec {
    /// Substring of the offered tool's full name (`mcp__cao__send_message`, `cao_send_message`…).
    pub tool: String,
    /// The call's arguments; every string in them is a template.
    #[serde(default = "empty_object")]
    pub args: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// How a rule paces its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pacing {
    pub first_byte_delay: Duration,
    pub chunk_delay: Duration,
    /// Characters per streamed text chunk; 0 = the whole text in one chunk.
    pub chunk_chars: usize,
}

impl Rule {
    pub fn pacing(&self) -> Pacing {
        let chunk_chars = match (self.chunk_chars, self.chunk_delay_ms) {
            (0, 0) => 0,
            (0, _) => PACED_CHUNK_CHARS,
            (chars, _) => chars,
        };
        Pacing {
            first_byte_delay: Duration::from_millis(self.first_byte_delay_ms),
            chunk_delay: Duration::from_millis(self.chunk_delay_ms),
            chunk_chars,
        }
    }

    fn is_matched_by(&self, user_text: &str) -> bool {
        self.matches
            .as_deref()
            .is_none_or(|needle| user_text.contains(needle))
    }
}

/// Why a script cannot be used. Each message is one line: where, what, and the fix.
#[derive(Debug, Error)]
pub enum ScriptError {
    #[error("cannot read the script {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin} line {line}: {message}")]
    Syntax {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("{origin}: {field}: {problem}")]
    Invalid {
        origin: String,
        field: String,
        problem: String,
    },
}

impl Script {
    /// Parses and validates a script given as TOML text.
    pub fn from_toml_str(text: &str) -> Result<Script, ScriptError> {
        Self::parse(text, "script")
    }

    /// Reads, parses and validates a script file.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &format!("script {}", path.display()))
    }

    fn parse(text: &str, origin: &str) -> Result<Script, ScriptError> {
        let script: Script = toml::from_str(text).map_err(|error| {
            let line = error.span().map_or(1, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            });
            ScriptError::Syntax {
                origin: origin.to_owned(),
                line,
                // toml's message can span lines; the user gets one.
                message: error.message().replace('\n', " ").trim().to_owned(),
            }
        })?;
        script.validate(origin)?;
        Ok(script)
    }

    fn validate(&self, origin: &str) -> Result<(), ScriptError> {
        let invalid = |field: String, problem: String| ScriptError::Invalid {
            origin: origin.to_owned(),
            field,
            problem,
        };
        template::validate(&self.default_reply)
            .map_err(|error| invalid("default_reply".into(), error.to_string()))?;
        for (index, rule) in self.rules.iter().enumerate() {
            let at = match &rule.name {
                Some(name) => format!("rules[{index}] ({name:?})"),
                None => format!("rules[{index}]"),
            };
            if let Some(reply) = &rule.reply {
                template::validate(reply)
                    .map_err(|error| invalid(format!("{at}.reply"), error.to_string()))?;
            }
            if let Some(error) = &rule.error {
                if !(400..=599).contains(&error.status) {
                    return Err(invalid(
                        format!("{at}.error.status"),
                        format!("{} is not an HTTP error status: use 400–599", error.status),
                    ));
                }
            }
            if rule.matches.as_deref() == Some("") {
                return Err(invalid(
                    format!("{at}.match"),
                    "is empty: leave `match` out to match every message".into(),
                ));
            }
            for (call_index, call) in rule.calls.iter().enumerate() {
                let call_at = format!("{at}.calls[{call_index}]");
                if call.tool.trim().is_empty() {
                    return Err(invalid(
                        format!("{call_at}.tool"),
                        "is empty: name (part of) the tool to call, e.g. \"send_message\"".into(),
                    ));
                }
                if !call.args.is_object() {
                    return Err(invalid(
                        format!("{call_at}.args"),
                        "must be a table, e.g. args = { message = \"hi\" }".into(),
                    ));
                }
                template::validate_json(&call.args)
                    .map_err(|error| invalid(format!("{call_at}.args"), error.to_string()))?;
            }
        }
        Ok(())
    }

    /// The first rule matched by the latest user message, with its index.
    pub fn rule_for(&self, user_text: &str) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.is_matched_by(user_text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
model = "mock-model"
default_reply = "You said: {input}"

[[rules]]
name = "multi"
match = "REPLY-MULTI"
reply = "line one\nzweite Zeile — ünïcödé ✓\nline three"
first_byte_delay_ms = 5
chunk_delay_ms = 10

[[rules]]
match = "FAIL"
error = { status = 400, message = "mock model refuses" }

[[rules]]
match = "TOOL"
reply = "done: {result}"
[[rules.calls]]
tool = "send_message"
args = { receiver_id = "abc12345", message = "hello from {input}" }
"#;

    #[test]
    fn parses_the_documented_shape() {
        let script = Script::from_toml_str(FULL).unwrap();
        assert_eq!(script.model, "mock-model");
        assert_eq!(script.rules.len(), 3);
        let multi = &script.rules[0];
        assert_eq!(multi.name.as_deref(), Some("multi"));
        assert_eq!(
            multi.pacing(),
            Pacing {
                first_byte_delay: Duration::from_millis(5),
                chunk_delay: Duration::from_millis(10),
                chunk_chars: PACED_CHUNK_CHARS,
            }
        );
        assert_eq!(
            script.rules[1].error,
            Some(ErrorReply {
                status: 400,
                message: "mock model refuses".into()
            })
        );
        let call = &script.rules[2].calls[0];
        assert_eq!(call.tool, "send_message");
        assert_eq!(call.args["receiver_id"], "abc12345");
        assert_eq!(script.rules[2].name, None);
    }

    #[test]
    fn empty_script_echoes() {
        let script = Script::from_toml_str("").unwrap();
        assert_eq!(script, Script::default());
        assert_eq!(script.default_reply, "{input}");
    }

    #[test]
    fn first_matching_rule_wins_and_no_match_is_none() {
        let script = Script::from_toml_str(FULL).unwrap();
        assert_eq!(
            script.rule_for("x REPLY-MULTI FAIL").map(|(i, _)| i),
            Some(0)
        );
        assert_eq!(script.rule_for("please FAIL").map(|(i, _)| i), Some(1));
        assert!(
            script.rule_for("reply-multi").is_none(),
            "matching is case-sensitive"
        );
    }

    #[test]
    fn unknown_key_names_the_line_and_the_key() {
        let error = Script::from_toml_str("[[rules]]\nmach = \"x\"\n").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("script line 2: "), "{message}");
        assert!(message.contains("mach"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn bad_placeholder_names_the_field_and_the_fix() {
        let error =
            Script::from_toml_str("[[rules]]\nname = \"r\"\nreply = \"{inptu}\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "script: rules[0] (\"r\").reply: unknown placeholder {inptu}: use {input}, \
             {first_line}, {rest} or {result}, or write {{ for a literal brace"
        );
        let error = Script::from_toml_str(
            "[[rules]]\n[[rules.calls]]\ntool = \"t\"\nargs = { a = [\"{x}\"] }\n",
        )
        .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("script: rules[0].calls[0].args: unknown placeholder {x}"));
    }

    #[test]
    fn error_status_must_be_an_error() {
        let error = Script::from_toml_str("[[rules]]\nerror = { status = 200, message = \"m\" }\n")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "script: rules[0].error.status: 200 is not an HTTP error status: use 400–599"
        );
    }

    #[test]
    fn empty_tool_is_rejected() {
        let error = Script::from_toml_str("[[rules]]\n[[rules.calls]]\ntool = \"\"\n").unwrap_err();
        assert!(error
            .to_string()
            .contains("rules[0].calls[0].tool: is empty"));
    }

    #[test]
    fn missing_file_says_which() {
        let error = Script::load(Path::new("/nonexistent/script.toml")).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("cannot read the script /nonexistent/script.toml: "));
    }
}
