//! The mock agent's script: an ordered list of rules read from TOML, and the rule chosen for
//! one submitted input.
//!
//! ```toml
//! startup_delay_ms = 500          # time before the first prompt appears
//!
//! [[rules]]
//! match = "deploy"                # substring of the input; omitted = matches everything
//! ask_approval = true             # `? Allow mock tool to run? (y/n) ` after the first delay
//! delay_ms = 300                  # working time before replying (and again after `y`)
//! reply = "deployed {input}"      # placeholders: see below
//!
//! [[rules]]
//! match = "crash"
//! error = "model overloaded"      # `✗ error: model overloaded`, then exit with exit_code
//! exit_code = 3
//!
//! [[rules]]
//! match = "build"
//! reply = "developer: {result.0.output}\nreviewer: {result.1.terminal_id}"
//! [[rules.calls]]                 # MCP tool calls, made in order before the reply
//! tool = "handoff"                # or "server.tool"; else the first server that has it
//! args = { agent_profile = "developer", message = "Implement: {input}" }
//! [[rules.calls]]
//! tool = "assign"
//! args = { agent_profile = "reviewer", message = "Review this change: {result.0.output}" }
//!
//! [[rules]]
//! reply = "line one\nline two"
//! stream_ms = 100                 # reveal the reply a line at a time
//! ```
//!
//! Keys of a rule: `match`, `match_prefix` (the input must start with it; with `match`, both
//! must hold), `reply`, `delay_ms`, `stream_ms`, `ask_approval`, `exit_code`, `error`,
//! `calls`; keys of a call: `tool`, `args` (a table, default empty). Unknown keys are errors,
//! so a misspelt key fails loudly instead of being ignored. As TOML goes, every key after a
//! `[[rules.calls]]` header belongs to that call, so a rule's own keys (`reply`, …) come
//! before its first call.
//!
//! A turn goes: working for `delay_ms` (default 200), the approval question if asked (and
//! after `y` the working time again), the calls one after another, then the reply or the
//! fatal error. While a call runs the working line stays at the bottom; each call shows
//! `● calling tool(arg="…", …)` and then `  ⎿ ` and the first line of its result, or
//! `● tool NAME failed: REASON`. A failed call does not end the turn.
//!
//! `reply` and the strings in `args` (nested ones too) take the placeholders `{input}`,
//! `{first_line}`, `{rest}`, `{result.N}` and `{result.N.field}`; see [`crate::template`].
//! A placeholder that cannot be filled, such as `{result.2}` in a rule with two calls or in
//! the arguments of call 0, is an error when the script is loaded.
//!
//! Without a script, or when no rule matches, the reply is `echo: {input}`.
//!
//! # Built-in scripts
//!
//! Without `--script`, the agent profile (`--profile`) picks a built-in script, kept as TOML
//! beside this module and parsed like any other ([`Script::builtin`]):
//!
//! - `code_supervisor` (`builtin/code_supervisor.toml`): an inbox delivery (input starting
//!   with `[message from `) is answered `Final answer:` and the message body
//!   (`{rest}`); any other input is handed off to a `developer` (`Implement: {input}`), the
//!   developer's output is assigned to a `reviewer` (`Review this change: …`), and the reply
//!   names the reviewer's terminal.
//! - any other profile, or none (`builtin/worker.toml`): an input holding cao's assign footer
//!   (`with the send_message tool`) makes a `send_message` call (`Reviewed: {first_line}`, no
//!   receiver: cao sends it to whoever assigned the task) and replies `Sent my result to my
//!   supervisor.`; anything else gets the echo reply.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::template::{ArgsTemplate, Template};

/// Working time when a rule gives no `delay_ms`: long enough for a screen reader to see the
/// working line, short enough for tests.
pub const DEFAULT_DELAY_MS: u64 = 200;

/// The reply template used without a script or when no rule matches.
pub const ECHO_REPLY: &str = "echo: {input}";

/// The built-in script of the `code_supervisor` profile.
pub const CODE_SUPERVISOR_SCRIPT: &str = include_str!("builtin/code_supervisor.toml");
/// The built-in script of every other profile.
pub const WORKER_SCRIPT: &str = include_str!("builtin/worker.toml");

/// A parsed and checked script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// Time before the banner and first prompt appear.
    pub startup_delay_ms: u64,
    /// Rules, tried in order.
    pub rules: Vec<Rule>,
}

/// One rule of a script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    /// A substring the input must contain; `None` matches every input.
    pub pattern: Option<String>,
    /// Text the input must start with; `None` matches every input.
    pub prefix: Option<String>,
    /// Tool calls made, in order, before the reply.
    pub calls: Vec<CallTemplate>,
    /// The reply. `None` means the echo reply.
    pub reply: Option<Template>,
    /// Working time before the calls and the reply (or the approval question).
    pub delay_ms: Option<u64>,
    /// When set, the reply appears one line at a time with this gap.
    pub stream_ms: Option<u64>,
    /// Ask `? Allow mock tool to run? (y/n) ` before the calls and the reply.
    pub ask_approval: bool,
    /// Exit status of a fatal error (nonzero).
    pub exit_code: Option<i32>,
    /// Message of a fatal error.
    pub error: Option<String>,
}

/// One tool call of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct CallTemplate {
    /// `tool` or `server.tool`.
    pub tool: String,
    /// The arguments, strings with placeholders.
    pub args: ArgsTemplate,
}

/// What a rule does once its calls are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Print this reply (placeholders are filled once the calls are done).
    Reply(Template),
    /// Print `✗ error: <message>` and exit with `code`.
    Fatal { code: i32, message: String },
}

/// Everything the agent needs to answer one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Working time before the calls and reply, and again after an approval.
    pub delay: Duration,
    /// Gap between reply lines, when streaming.
    pub stream_gap: Option<Duration>,
    /// Whether to ask for approval first.
    pub ask_approval: bool,
    /// Tool calls to make, in order.
    pub calls: Vec<CallTemplate>,
    /// The result.
    pub outcome: Outcome,
}

/// A script that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
#[error("script {}: {problem}", path.display())]
pub struct ScriptError {
    /// The script file.
    pub path: PathBuf,
    /// One line saying what is wrong, with the line or rule number when known.
    pub problem: String,
}

/// The script as written, before its templates are checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    #[serde(default)]
    startup_delay_ms: u64,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, rename = "match")]
    pattern: Option<String>,
    #[serde(default, rename = "match_prefix")]
    prefix: Option<String>,
    #[serde(default)]
    calls: Vec<RawCall>,
    #[serde(default)]
    reply: Option<String>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    stream_ms: Option<u64>,
    #[serde(default)]
    ask_approval: bool,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    tool: String,
    #[serde(default)]
    args: toml::Table,
}

impl Script {
    /// Reads and checks the script at `path`.
    pub fn load(path: &Path) -> Result<Self, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScriptError {
            path: path.to_path_buf(),
            problem: format!("cannot read it: {error}"),
        })?;
        Self::parse(&text).map_err(|problem| ScriptError {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// The built-in script for an agent profile (see the module docs).
    pub fn builtin(profile: Option<&str>) -> Result<Self, ScriptError> {
        let (name, text) = match profile {
            Some("code_supervisor") => ("code_supervisor.toml", CODE_SUPERVISOR_SCRIPT),
            _ => ("worker.toml", WORKER_SCRIPT),
        };
        Self::parse(text).map_err(|problem| ScriptError {
            path: PathBuf::from(format!("(built-in) {name}")),
            problem,
        })
    }

    /// Parses and checks script text; the error is one line, naming the line or the rule.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawScript = toml::from_str(text).map_err(|error| {
            let message = hint_misplaced_rule_key(one_line(error.message()));
            match error.span() {
                Some(span) => format!("line {}: {message}", line_of(text, span)),
                None => message,
            }
        })?;
        let rules = raw
            .rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| {
                Rule::compile(rule).map_err(|problem| {
                    format!(
                        "rule {} ([[rules]] number {}): {problem}",
                        index + 1,
                        index + 1
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            startup_delay_ms: raw.startup_delay_ms,
            rules,
        })
    }

    /// The plan for `input`: the first matching rule, or the echo reply.
    pub fn plan_for(&self, input: &str) -> Plan {
        let rule = self.rules.iter().find(|rule| {
            rule.pattern
                .as_deref()
                .is_none_or(|pattern| input.contains(pattern))
                && rule
                    .prefix
                    .as_deref()
                    .is_none_or(|prefix| input.starts_with(prefix))
        });
        let default_rule = Rule::default();
        let rule = rule.unwrap_or(&default_rule);
        let outcome = if rule.exit_code.is_some() || rule.error.is_some() {
            Outcome::Fatal {
                code: rule.exit_code.unwrap_or(1),
                message: rule
                    .error
                    .clone()
                    .unwrap_or_else(|| "mock agent failure".to_owned()),
            }
        } else {
            Outcome::Reply(rule.reply.clone().unwrap_or_else(echo_reply))
        };
        Plan {
            delay: Duration::from_millis(rule.delay_ms.unwrap_or(DEFAULT_DELAY_MS)),
            stream_gap: rule.stream_ms.map(Duration::from_millis),
            ask_approval: rule.ask_approval,
            calls: rule.calls.clone(),
            outcome,
        }
    }
}

/// The echo reply as a template.
fn echo_reply() -> Template {
    // ECHO_REPLY is a constant whose only placeholder is `{input}`; a failure would be caught
    // by the tests, and plain text is a harmless fallback.
    Template::parse(ECHO_REPLY).unwrap_or_else(|_| Template::from(ECHO_REPLY))
}

impl Rule {
    fn compile(raw: RawRule) -> Result<Self, String> {
        if raw.exit_code == Some(0) {
            return Err("exit_code must be nonzero (it is the status of a fatal error)".into());
        }
        let fatal = raw.exit_code.is_some() || raw.error.is_some();
        if fatal && raw.reply.is_some() {
            return Err(
                "has both `reply` and `error`/`exit_code`; a rule either replies or fails".into(),
            );
        }
        if raw.pattern.as_deref() == Some("") {
            return Err("`match` is empty; leave it out to match every input".into());
        }
        if raw.prefix.as_deref() == Some("") {
            return Err("`match_prefix` is empty; leave it out to match every input".into());
        }
        let mut calls = Vec::with_capacity(raw.calls.len());
        for (index, call) in raw.calls.into_iter().enumerate() {
            let which = format!("call {index} ({})", call.tool);
            if call.tool.trim().is_empty() {
                return Err(format!("call {index}: `tool` is empty"));
            }
            let args = ArgsTemplate::from_table(call.args)
                .map_err(|problem| format!("{which}: {problem}"))?;
            if let Some(highest) = args.highest_result().filter(|&highest| highest >= index) {
                return Err(format!(
                    "{which}: args use {{result.{highest}}}, but a call sees only the results of \
                     the calls before it ({})",
                    known_results(index)
                ));
            }
            calls.push(CallTemplate {
                tool: call.tool,
                args,
            });
        }
        let reply = raw
            .reply
            .as_deref()
            .map(Template::parse)
            .transpose()
            .map_err(|problem| format!("reply: {problem}"))?;
        let highest = reply.as_ref().and_then(Template::highest_result);
        if let Some(highest) = highest.filter(|&highest| highest >= calls.len()) {
            return Err(format!(
                "reply uses {{result.{highest}}}, but the rule makes {} call(s) ({})",
                calls.len(),
                known_results(calls.len())
            ));
        }
        Ok(Self {
            pattern: raw.pattern,
            prefix: raw.prefix,
            calls,
            reply,
            delay_ms: raw.delay_ms,
            stream_ms: raw.stream_ms,
            ask_approval: raw.ask_approval,
            exit_code: raw.exit_code,
            error: raw.error,
        })
    }
}

/// A rule key after a `[[rules.calls]]` header is read as a key of that call: say so.
fn hint_misplaced_rule_key(message: String) -> String {
    const RULE_KEYS: [&str; 8] = [
        "match",
        "match_prefix",
        "reply",
        "delay_ms",
        "stream_ms",
        "ask_approval",
        "exit_code",
        "error",
    ];
    let misplaced = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .filter(|(key, rest)| RULE_KEYS.contains(key) && rest.contains("expected `tool` or `args`"))
        .map(|(key, _)| key.to_owned());
    match misplaced {
        Some(key) => format!(
            "`{key}` is read as a key of the [[rules.calls]] table above it; put the rule's own \
             keys before its first [[rules.calls]]"
        ),
        None => message,
    }
}

/// Which `{result.N}` exist when `count` calls came before.
fn known_results(count: usize) -> String {
    match count {
        0 => "no {result.N} there".to_owned(),
        1 => "only {result.0}".to_owned(),
        _ => format!("{{result.0}} to {{result.{}}}", count - 1),
    }
}

/// toml's messages can span lines; the user-facing error is one line.
fn one_line(message: &str) -> String {
    message
        .split('\n')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The 1-based line holding the start of `span`.
fn line_of(text: &str, span: Range<usize>) -> usize {
    let start = span.start.min(text.len());
    text.as_bytes()[..start]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::ToolResult;
    use crate::template::Context;

    /// The reply a plan gives for `input` after calls with these results.
    fn reply(plan: &Plan, input: &str, results: &[ToolResult]) -> String {
        match &plan.outcome {
            Outcome::Reply(template) => template.render(&Context { input, results }),
            Outcome::Fatal { .. } => panic!("not a reply: {plan:?}"),
        }
    }

    fn result(text: &str) -> ToolResult {
        ToolResult {
            text: text.to_owned(),
            is_error: false,
        }
    }

    #[test]
    fn empty_script_echoes() {
        let script = Script::parse("").unwrap();
        let plan = script.plan_for("hi\nthere");
        assert_eq!(reply(&plan, "hi\nthere", &[]), "echo: hi\nthere");
        assert_eq!(plan.delay, Duration::from_millis(DEFAULT_DELAY_MS));
        assert!(!plan.ask_approval);
        assert!(plan.calls.is_empty());
    }

    #[test]
    fn first_matching_rule_wins() {
        let script = Script::parse(
            r#"
startup_delay_ms = 50
[[rules]]
match = "deploy"
reply = "deploying {input}"
delay_ms = 10
ask_approval = true
[[rules]]
match = "crash"
error = "boom"
exit_code = 3
[[rules]]
reply = "fallback"
stream_ms = 5
"#,
        )
        .unwrap();
        assert_eq!(script.startup_delay_ms, 50);
        let deploy = script.plan_for("please deploy now");
        assert_eq!(
            reply(&deploy, "please deploy now", &[]),
            "deploying please deploy now"
        );
        assert!(deploy.ask_approval);
        assert_eq!(deploy.delay, Duration::from_millis(10));
        assert_eq!(
            script.plan_for("crash it").outcome,
            Outcome::Fatal {
                code: 3,
                message: "boom".into()
            }
        );
        let other = script.plan_for("anything");
        assert_eq!(reply(&other, "anything", &[]), "fallback");
        assert_eq!(other.stream_gap, Some(Duration::from_millis(5)));
    }

    #[test]
    fn match_prefix_anchors_at_the_start_and_combines_with_match() {
        let script = Script::parse(
            "[[rules]]\nmatch_prefix = \"[message from \"\nmatch = \"urgent\"\nreply = \"both\"\n\
             [[rules]]\nmatch_prefix = \"[message from \"\nreply = \"inbox\"\n",
        )
        .unwrap();
        let plan = |input: &str| reply(&script.plan_for(input), input, &[]);
        assert_eq!(plan("[message from a b, cao inbox #1]\nurgent"), "both");
        assert_eq!(plan("[message from a b, cao inbox #1]\nhi"), "inbox");
        assert_eq!(plan("see [message from a]"), "echo: see [message from a]");
        let error = Script::parse("[[rules]]\nmatch_prefix = \"\"\n").unwrap_err();
        assert!(error.contains("`match_prefix` is empty"), "{error}");
    }

    #[test]
    fn unmatched_input_falls_back_to_echo() {
        let script = Script::parse("[[rules]]\nmatch = \"x\"\nreply = \"y\"\n").unwrap();
        let plan = script.plan_for("abc");
        assert_eq!(reply(&plan, "abc", &[]), "echo: abc");
    }

    #[test]
    fn calls_are_parsed_in_order_with_templated_args() {
        let script = Script::parse(
            r#"
[[rules]]
match = "build"
reply = "developer: {result.0.output}\nreviewer: {result.1.terminal_id}"
[[rules.calls]]
tool = "handoff"
args = { agent_profile = "developer", message = "Implement: {input}" }
[[rules.calls]]
tool = "cao.assign"
args = { agent_profile = "reviewer", message = "Review this change: {result.0.output}" }
[[rules.calls]]
tool = "list_siblings"
"#,
        )
        .unwrap();
        let plan = script.plan_for("build it");
        let tools: Vec<&str> = plan.calls.iter().map(|call| call.tool.as_str()).collect();
        assert_eq!(tools, ["handoff", "cao.assign", "list_siblings"]);
        let handoff = plan.calls[0].args.render(&Context {
            input: "build it",
            results: &[],
        });
        assert_eq!(
            handoff,
            serde_json::json!({"agent_profile": "developer", "message": "Implement: build it"})
        );
        let results = [
            result(r#"{"success":true,"output":"done: it builds","terminal_id":"aaaa1111"}"#),
            result(r#"{"success":true,"terminal_id":"bbbb2222","message":"assigned"}"#),
            result("[]"),
        ];
        let assign = plan.calls[1].args.render(&Context {
            input: "build it",
            results: &results[..1],
        });
        assert_eq!(assign["message"], "Review this change: done: it builds");
        assert_eq!(
            plan.calls[2].args.render(&Context {
                input: "",
                results: &results[..2]
            }),
            serde_json::json!({})
        );
        assert_eq!(
            reply(&plan, "build it", &results),
            "developer: done: it builds\nreviewer: bbbb2222"
        );
    }

    #[test]
    fn results_that_cannot_exist_are_load_errors_naming_the_rule() {
        let error = Script::parse(
            "[[rules]]\nreply = \"ok\"\n[[rules]]\nreply = \"{result.0}\"\n[[rules.calls]]\ntool = \"a\"\n[[rules.calls]]\ntool = \"b\"\n[[rules]]\nreply = \"{result.2}\"\n",
        )
        .unwrap_err();
        // The calls after rule 2's `reply` still belong to rule 2, so only rule 3 is wrong.
        assert_eq!(
            error,
            "rule 3 ([[rules]] number 3): reply uses {result.2}, but the rule makes 0 call(s) (no {result.N} there)"
        );
    }

    #[test]
    fn reply_beyond_the_calls_is_an_error() {
        let text = "[[rules]]\nreply = \"{result.2.output}\"\n[[rules.calls]]\ntool = \"a\"\n[[rules.calls]]\ntool = \"b\"\n";
        let error = Script::parse(text).unwrap_err();
        assert_eq!(
            error,
            "rule 1 ([[rules]] number 1): reply uses {result.2}, but the rule makes 2 call(s) ({result.0} to {result.1})"
        );
        let ok = "[[rules]]\nreply = \"{result.1.output}\"\n[[rules.calls]]\ntool = \"a\"\n[[rules.calls]]\ntool = \"b\"\n";
        assert!(Script::parse(ok).is_ok());
    }

    #[test]
    fn a_call_cannot_use_its_own_or_later_results() {
        let text = "[[rules]]\n[[rules.calls]]\ntool = \"a\"\n[[rules.calls]]\ntool = \"b\"\nargs = { m = [\"{result.1}\"] }\n";
        let error = Script::parse(text).unwrap_err();
        assert_eq!(
            error,
            "rule 1 ([[rules]] number 1): call 1 (b): args use {result.1}, but a call sees only the results of the calls before it (only {result.0})"
        );
        let error = Script::parse(
            "[[rules]]\n[[rules.calls]]\ntool = \"a\"\nargs = { m = \"{result.0}\" }\n",
        )
        .unwrap_err();
        assert!(error.ends_with("(no {result.N} there)"), "{error}");
    }

    #[test]
    fn unknown_placeholders_and_call_keys_are_errors() {
        let error = Script::parse("[[rules]]\nreply = \"{inputs}\"\n").unwrap_err();
        assert!(
            error
                .starts_with("rule 1 ([[rules]] number 1): reply: `{inputs}` is not a placeholder"),
            "{error}"
        );
        let error = Script::parse(
            "[[rules]]\n[[rules.calls]]\ntool = \"a\"\nargs = { deep = { er = \"{x.y}\" } }\n",
        )
        .unwrap_err();
        assert!(
            error.starts_with("rule 1 ([[rules]] number 1): call 0 (a): args.deep.er: `{x.y}`"),
            "{error}"
        );
        let error =
            Script::parse("[[rules]]\n[[rules.calls]]\ntool = \"a\"\narg = {}\n").unwrap_err();
        assert!(error.starts_with("line 4: unknown field `arg`"), "{error}");
        let error =
            Script::parse("[[rules]]\n[[rules.calls]]\ntool = \"a\"\nreply = \"r\"\n").unwrap_err();
        assert_eq!(
            error,
            "line 4: `reply` is read as a key of the [[rules.calls]] table above it; put the \
             rule's own keys before its first [[rules.calls]]"
        );
        let error = Script::parse("[[rules]]\n[[rules.calls]]\nargs = {}\n").unwrap_err();
        assert!(error.contains("missing field `tool`"), "{error}");
        let error = Script::parse("[[rules]]\n[[rules.calls]]\ntool = \" \"\n").unwrap_err();
        assert!(error.ends_with("call 0: `tool` is empty"), "{error}");
    }

    #[test]
    fn builtin_scripts_parse_and_follow_the_profile() {
        let supervisor = Script::builtin(Some("code_supervisor")).unwrap();
        let inbox = "[message from reviewer 1a2b3c4d, cao inbox #3]\n\nLooks good.\nShip it.";
        let plan = supervisor.plan_for(inbox);
        assert!(plan.calls.is_empty());
        assert_eq!(
            reply(&plan, inbox, &[]),
            "Final answer:\nLooks good.\nShip it."
        );
        let quoted = "what does [message from x] mean?";
        assert_eq!(
            supervisor.plan_for(quoted).calls.len(),
            2,
            "only a header line counts"
        );

        let plan = supervisor.plan_for("add a cache");
        let tools: Vec<&str> = plan.calls.iter().map(|call| call.tool.as_str()).collect();
        assert_eq!(tools, ["handoff", "assign"]);
        assert_eq!(
            plan.calls[0].args.render(&Context {
                input: "add a cache",
                results: &[]
            }),
            serde_json::json!({"agent_profile": "developer", "message": "Implement: add a cache"})
        );
        let results = [
            result(r#"{"success":true,"output":"cache added","terminal_id":"dev00001"}"#),
            result(r#"{"success":true,"terminal_id":"rev00002"}"#),
        ];
        assert_eq!(
            plan.calls[1].args.render(&Context {
                input: "add a cache",
                results: &results[..1]
            }),
            serde_json::json!({"agent_profile": "reviewer", "message": "Review this change: cache added"})
        );
        assert_eq!(
            reply(&plan, "add a cache", &results),
            "The developer finished: cache added\nReviewer rev00002 is checking it; its verdict will follow."
        );

        for profile in [None, Some("developer"), Some("reviewer")] {
            let worker = Script::builtin(profile).unwrap();
            let task = "Review this change: cache added\n\nWhen you are done, send your result \
                        back with the send_message tool.";
            let plan = worker.plan_for(task);
            assert_eq!(plan.calls.len(), 1);
            assert_eq!(plan.calls[0].tool, "send_message");
            assert_eq!(
                plan.calls[0].args.render(&Context {
                    input: task,
                    results: &[]
                }),
                serde_json::json!({"message": "Reviewed: Review this change: cache added"})
            );
            assert_eq!(reply(&plan, task, &[]), "Sent my result to my supervisor.");
            let plan = worker.plan_for("hello");
            assert!(plan.calls.is_empty());
            assert_eq!(reply(&plan, "hello", &[]), "echo: hello");
        }
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let error = Script::parse("[[rules]]\nmatch = \"a\"\ntool = \"fs.read\"\n").unwrap_err();
        assert!(error.starts_with("line 3: unknown field `tool`"), "{error}");
        assert!(!error.contains('\n'));
        let error = Script::parse("startup_delay = 5\n").unwrap_err();
        assert!(
            error.starts_with("line 1: unknown field `startup_delay`"),
            "{error}"
        );
    }

    #[test]
    fn invalid_rules_are_one_line_errors() {
        let error = Script::parse("[[rules]]\nexit_code = 0\n").unwrap_err();
        assert!(error.contains("exit_code must be nonzero"), "{error}");
        let error = Script::parse("[[rules]]\nreply = \"a\"\nerror = \"b\"\n").unwrap_err();
        assert!(error.contains("both `reply` and `error`"), "{error}");
        let error = Script::parse("[[rules]]\ndelay_ms = \"soon\"\n").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
        assert!(!error.contains('\n'));
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[[rules]]\nbogus = 1\n").unwrap();
        let error = Script::load(&path).unwrap_err().to_string();
        assert!(error.starts_with(&format!("script {}: line 2:", path.display())));
        std::fs::write(&path, "[[rules]]\nreply = \"{result.0}\"\n").unwrap();
        let error = Script::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("script {}: rule 1 ", path.display())),
            "{error}"
        );
        let missing = Script::load(&dir.path().join("none.toml"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read it"), "{missing}");
    }
}
