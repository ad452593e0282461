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
//! reply = "deployed {input}"      # `{input}` is replaced by the submitted text
//!
//! [[rules]]
//! match = "crash"
//! error = "model overloaded"      # `✗ error: model overloaded`, then exit with exit_code
//! exit_code = 3
//!
//! [[rules]]
//! reply = "line one\nline two"
//! stream_ms = 100                 # reveal the reply a line at a time
//! ```
//!
//! Unknown keys are errors (so a misspelt key or a `tool` key this build cannot honour fails
//! loudly instead of being ignored). Without a script, or when no rule matches, the reply is
//! `echo: {input}`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Working time when a rule gives no `delay_ms`: long enough for a screen reader to see the
/// working line, short enough for tests.
pub const DEFAULT_DELAY_MS: u64 = 200;

/// The reply template used without a script or when no rule matches.
pub const ECHO_REPLY: &str = "echo: {input}";

/// A parsed script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Time before the banner and first prompt appear.
    #[serde(default)]
    pub startup_delay_ms: u64,
    /// Rules, tried in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One rule of a script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A substring the input must contain; `None` matches every input.
    #[serde(default, rename = "match")]
    pub pattern: Option<String>,
    /// The reply; `{input}` is replaced by the input. `None` means the echo reply.
    #[serde(default)]
    pub reply: Option<String>,
    /// Working time before the reply (or the approval question).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// When set, the reply appears one line at a time with this gap.
    #[serde(default)]
    pub stream_ms: Option<u64>,
    /// Ask `? Allow mock tool to run? (y/n) ` before replying.
    #[serde(default)]
    pub ask_approval: bool,
    /// Exit status of a fatal error (nonzero).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Message of a fatal error.
    #[serde(default)]
    pub error: Option<String>,
}

/// What a rule does once the working time is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Print this reply text (already with `{input}` replaced).
    Reply(String),
    /// Print `✗ error: <message>` and exit with `code`.
    Fatal { code: i32, message: String },
}

/// Everything the agent needs to answer one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Working time before replying, and again after an approval.
    pub delay: Duration,
    /// Gap between reply lines, when streaming.
    pub stream_gap: Option<Duration>,
    /// Whether to ask for approval first.
    pub ask_approval: bool,
    /// The result.
    pub outcome: Outcome,
}

/// A script that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
#[error("script {}: {problem}", path.display())]
pub struct ScriptError {
    /// The script file.
    pub path: PathBuf,
    /// One line saying what is wrong, with the line number when known.
    pub problem: String,
}

impl Script {
    /// Reads and validates the script at `path`.
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

    /// Parses and validates script text; the error is one line, naming the line when known.
    pub fn parse(text: &str) -> Result<Self, String> {
        let script: Script = toml::from_str(text).map_err(|error| {
            let message = one_line(error.message());
            match error.span() {
                Some(span) => format!("line {}: {message}", line_of(text, span)),
                None => message,
            }
        })?;
        script.validate()?;
        Ok(script)
    }

    fn validate(&self) -> Result<(), String> {
        for (index, rule) in self.rules.iter().enumerate() {
            let which = format!("rule {} ([[rules]] number {})", index + 1, index + 1);
            if rule.exit_code == Some(0) {
                return Err(format!(
                    "{which}: exit_code must be nonzero (it is the status of a fatal error)"
                ));
            }
            let fatal = rule.exit_code.is_some() || rule.error.is_some();
            if fatal && rule.reply.is_some() {
                return Err(format!(
                    "{which}: has both `reply` and `error`/`exit_code`; a rule either replies or fails"
                ));
            }
            if rule.pattern.as_deref() == Some("") {
                return Err(format!(
                    "{which}: `match` is empty; leave it out to match every input"
                ));
            }
        }
        Ok(())
    }

    /// The plan for `input`: the first matching rule, or the echo reply.
    pub fn plan_for(&self, input: &str) -> Plan {
        let rule = self.rules.iter().find(|rule| {
            rule.pattern
                .as_deref()
                .is_none_or(|pattern| input.contains(pattern))
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
            let template = rule.reply.as_deref().unwrap_or(ECHO_REPLY);
            Outcome::Reply(template.replace("{input}", input))
        };
        Plan {
            delay: Duration::from_millis(rule.delay_ms.unwrap_or(DEFAULT_DELAY_MS)),
            stream_gap: rule.stream_ms.map(Duration::from_millis),
            ask_approval: rule.ask_approval,
            outcome,
        }
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

    #[test]
    fn empty_script_echoes() {
        let script = Script::parse("").unwrap();
        let plan = script.plan_for("hi\nthere");
        assert_eq!(plan.outcome, Outcome::Reply("echo: hi\nthere".into()));
        assert_eq!(plan.delay, Duration::from_millis(DEFAULT_DELAY_MS));
        assert!(!plan.ask_approval);
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
            deploy.outcome,
            Outcome::Reply("deploying please deploy now".into())
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
        assert_eq!(other.outcome, Outcome::Reply("fallback".into()));
        assert_eq!(other.stream_gap, Some(Duration::from_millis(5)));
    }

    #[test]
    fn unmatched_input_falls_back_to_echo() {
        let script = Script::parse("[[rules]]\nmatch = \"x\"\nreply = \"y\"\n").unwrap();
        assert_eq!(
            script.plan_for("abc").outcome,
            Outcome::Reply("echo: abc".into())
        );
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
        let missing = Script::load(&dir.path().join("none.toml"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read it"), "{missing}");
    }
}
