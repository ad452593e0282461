//! The pack data model: what one TOML pack file says about one agent CLI.
//!
//! Everything here is plain data read with serde; regexes are compiled while the file is read,
//! so a bad pattern is reported with the file, line and key like any other TOML error.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::status::TerminalStatus;

use super::error::PackError;

/// Everything cao knows about one agent CLI: how to launch it, answer its start-up dialogs,
/// read its screen, pull its last reply out and leave it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderPack {
    /// The canonical CAO name (`claude_code`).
    pub name: String,
    /// Other names that select this pack (`claude`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A name for people (`Claude Code`).
    pub display_name: String,
    /// The executable looked up on `PATH`.
    pub binary: String,
    /// One line telling the user how to install the binary.
    pub install_hint: String,
    /// How the profile's system prompt reaches the CLI.
    #[serde(default)]
    pub system_prompt: SystemPromptDelivery,
    pub launch: Launch,
    /// Files written into the per-terminal config directory before launch.
    #[serde(default)]
    pub files: Vec<FileTemplate>,
    /// Start-up dialogs answered automatically (trust, onboarding, theme; never approvals).
    #[serde(default)]
    pub dialogs: Vec<Dialog>,
    /// Where the input box starts: everything above it is history. Shared by the status
    /// rules (a typed but unsent input is not an echo) and by extraction.
    #[serde(default)]
    pub composer: Option<Anchor>,
    pub status: StatusRules,
    pub extract: ExtractRules,
    #[serde(default)]
    pub input: InputSettings,
    /// Steps that leave the CLI, in order.
    #[serde(default)]
    pub exit: Vec<ExitStep>,
}

/// How the system prompt is handed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemPromptDelivery {
    /// The launch argv, env or files carry it.
    #[default]
    Launch,
    /// The CLI has no way to take it at launch: the caller sends it as the first message.
    FirstMessage,
}

/// The argv and environment of the launch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    /// Argv templates, program first. Never a shell string.
    pub argv: Vec<ArgTemplate>,
    /// Environment templates added to the pane's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables removed from the environment the CLI would inherit from cao's server and the
    /// multiplexer, because they change how it runs (Gemini CLI turns headless under
    /// `CI=true`). A value the pack or the caller sets still reaches the CLI.
    #[serde(default)]
    pub env_unset: Vec<String>,
    /// A home directory of the CLI's own, built over the user's (see [`HomeOverlay`]).
    #[serde(default)]
    pub home_overlay: Option<HomeOverlay>,
}

/// A home directory made for one terminal, for a CLI that reads its settings from a directory
/// under its home and honours an environment variable naming that home (Gemini CLI's
/// `GEMINI_CLI_HOME`): cao's settings then arrive as the user's own settings.
///
/// The overlay is `{config_dir}/<path>`; in it, `<config_dir>/<settings>` is a real file, the
/// user's own one (`~/<config_dir>/<settings>`, JSON with comments) deep-merged with the
/// rendered JSON of the `[[files]]` entry `merge` (cao's keys win), and every other entry of
/// `~/<config_dir>` is a symbolic link to the user's, as is each of `links` that exists in the
/// user's home. The user keeps credentials, history, extensions and their own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeOverlay {
    /// The variable that names the CLI's home (`GEMINI_CLI_HOME`); set to the overlay.
    pub env: String,
    /// The overlay, relative to the per-terminal config directory.
    #[serde(default = "default_overlay_path")]
    pub path: String,
    /// The CLI's directory under a home (`.gemini`).
    pub config_dir: String,
    /// The settings file in that directory (`settings.json`).
    pub settings: String,
    /// The `[[files]]` entry (a `json` one) whose content is merged into the settings.
    pub merge: String,
    /// Other entries of the user's home linked into the overlay when they exist (`.agents`).
    #[serde(default)]
    pub links: Vec<String>,
}

/// One argv entry: a template, a group of templates kept only when all its placeholders
/// have values (`{ optional = ["--model", "{model}"] }`), or a group kept only when the
/// agent runs unattended (`{ unattended = ["--approval-mode", "yolo"] }`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ArgTemplate {
    Arg(String),
    Group(OptionalGroup),
    Unattended(UnattendedGroup),
}

/// Arguments that skip the CLI's approval prompts: included unless the profile's
/// `permissionMode` asks for prompts (anything but `bypassPermissions`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnattendedGroup {
    pub unattended: Vec<String>,
}

/// Arguments included together, only when every placeholder in them has a value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionalGroup {
    pub optional: Vec<String>,
}

/// A config file the CLI reads, written by the caller before launch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTemplate {
    /// The placeholder that holds the file's absolute path (`mcp_config_file`).
    pub name: String,
    /// Path template, relative to `{config_dir}`.
    pub path: String,
    /// Text content template (for prompts and other plain files).
    #[serde(default)]
    pub text: Option<String>,
    /// JSON content: a TOML tree rendered as JSON, placeholders substituted inside string
    /// values and keys, so every value is JSON-escaped by construction.
    #[serde(default)]
    pub json: Option<toml::Value>,
}

/// A start-up dialog and the keys that answer it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialog {
    /// What the dialog is, for logs.
    pub name: String,
    /// Matched against single lines of the screen.
    pub regex: Pattern,
    /// Only the last N non-empty lines are searched (answered dialogs stay in the scrollback).
    #[serde(default)]
    pub last_lines: Option<usize>,
    /// tmux key names sent in order (`Enter`, `Down`, `1`).
    pub keys: Vec<String>,
}

/// A line that marks a place on the screen: the `from_bottom`-th line (1 = last) matching
/// `regex`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub regex: Pattern,
    #[serde(default = "one")]
    pub from_bottom: usize,
}

/// How to classify a screen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRules {
    /// Checked in order; the first that matches decides.
    #[serde(default)]
    pub rules: Vec<StatusRule>,
    /// Decides idle vs completed when a `ready` rule matched.
    #[serde(default)]
    pub turn: Option<TurnRule>,
    /// The status when no rule matches (aider shows nothing stable while it streams).
    #[serde(default = "unknown_status")]
    pub default: TerminalStatus,
    /// Lines by which the CLI says it skipped its settings or an MCP server: unless the CLI
    /// has listed cao's tools, the terminal goes into error with the rule's reason.
    #[serde(default)]
    pub mcp_failure: Vec<McpFailureRule>,
}

/// A screen line that says the CLI may be running without cao's MCP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpFailureRule {
    pub regex: Pattern,
    /// What the line means, for the terminal's error: "<CLI> did not load cao's MCP server:
    /// <reason>" (one line, no trailing period).
    pub reason: String,
    #[serde(default)]
    pub last_lines: Option<usize>,
}

/// A regex over single lines, optionally only the last N non-empty lines, and what it means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRule {
    pub status: RuleStatus,
    pub regex: Pattern,
    #[serde(default)]
    pub last_lines: Option<usize>,
}

/// What a matching rule means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    Idle,
    Processing,
    Completed,
    WaitingUserAnswer,
    Error,
    /// Ready for input: idle or completed, decided by the turn rule.
    Ready,
}

/// Completed vs idle: scanning the history (above the composer) from the bottom, a `reply`
/// line met before any `echo` line means the last input got a reply.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnRule {
    /// A past input as the CLI echoes it into the history.
    pub echo: Pattern,
    /// A line that only a finished (or answering) reply shows.
    pub reply: Pattern,
    /// For CLIs that stream a reply with no busy marker on screen: the line that ends a turn
    /// (a reply's or an error's). With it, the last input without this line below it reads
    /// as processing.
    #[serde(default)]
    pub finished: Option<Pattern>,
}

/// How to take the last reply out of the captured text.
///
/// The region is the history (above the composer), cut at the last `end` line, starting after
/// the last block of `echo` lines. With `start`, the reply is the last block that begins
/// with `start` (marker stripped) and goes on with `continuation` lines (prefix stripped) and
/// inner blank lines; without it, the whole region is the reply.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRules {
    #[serde(default)]
    pub echo: Option<Pattern>,
    #[serde(default)]
    pub start: Option<Pattern>,
    #[serde(default)]
    pub continuation: Option<Pattern>,
    #[serde(default)]
    pub end: Option<Pattern>,
    /// A line that ends a reply block even though it looks like a continuation (screen
    /// chrome drawn far to the right).
    #[serde(default)]
    pub stop: Option<Pattern>,
    /// Removed from every reply line (a side panel drawn to the right of the reply).
    #[serde(default)]
    pub strip: Option<Pattern>,
    /// Remove the indentation all reply lines share.
    #[serde(default)]
    pub dedent: bool,
}

/// How input is typed into the CLI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSettings {
    /// Bracketed paste (`paste-buffer -p`) rather than typed keys.
    #[serde(default = "yes")]
    pub paste: bool,
    /// Wait between the paste and Enter: CLIs that get both at once treat Enter as pasted text.
    #[serde(default = "default_submit_delay")]
    pub submit_delay_ms: u64,
    #[serde(default = "one_u32")]
    pub enter_count: u32,
    /// The CLI is given cao's MCP server: its first input waits until the CLI has listed
    /// cao's tools (some connect in the background and would answer without them), and a CLI
    /// that has not within 20 s did not load the server: the terminal turns `error` with
    /// the cause instead of working without cao's tools.
    #[serde(default)]
    pub after_cao_tools: bool,
}

impl Default for InputSettings {
    fn default() -> Self {
        InputSettings {
            paste: true,
            submit_delay_ms: default_submit_delay(),
            enter_count: 1,
            after_cao_tools: false,
        }
    }
}

/// One step of leaving the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ExitStep {
    /// Text typed and submitted (`/exit`).
    Text { text: String },
    /// tmux key names sent in order (`C-c`).
    Keys { keys: Vec<String> },
    /// A pause.
    Wait { wait_ms: u64 },
}

/// A compiled regex read from a TOML string.
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl Pattern {
    pub fn is_match(&self, line: &str) -> bool {
        self.0.is_match(line)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Regex::new(&text)
            .map(Pattern)
            .map_err(|error| serde::de::Error::custom(format!("invalid regex: {error}")))
    }
}

fn one() -> usize {
    1
}

fn one_u32() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn default_submit_delay() -> u64 {
    150
}

fn default_overlay_path() -> String {
    "home".to_string()
}

fn unknown_status() -> TerminalStatus {
    TerminalStatus::Unknown
}

impl ProviderPack {
    /// Reads one pack from TOML text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<ProviderPack, PackError> {
        let pack: ProviderPack =
            toml::from_str(text).map_err(|error| PackError::from_toml(file, text, &error))?;
        pack.validate(file)?;
        Ok(pack)
    }

    /// Checks what serde cannot: names, file templates, group contents.
    fn validate(&self, file: &str) -> Result<(), PackError> {
        let invalid = |message: String| PackError::Invalid {
            file: file.to_string(),
            message,
        };
        for name in std::iter::once(&self.name).chain(&self.aliases) {
            if !is_identifier(name) {
                return Err(invalid(format!(
                    "provider name `{name}` must be lowercase letters, digits and `_`"
                )));
            }
        }
        if self.binary.trim().is_empty() {
            return Err(invalid("`binary` is empty".to_string()));
        }
        if self.launch.argv.is_empty() {
            return Err(invalid("`launch.argv` is empty".to_string()));
        }
        for file_template in &self.files {
            if !is_identifier(&file_template.name) {
                return Err(invalid(format!(
                    "file name `{}` must be lowercase letters, digits and `_` (it becomes a placeholder)",
                    file_template.name
                )));
            }
            if file_template.text.is_some() == file_template.json.is_some() {
                return Err(invalid(format!(
                    "file `{}` needs exactly one of `text` and `json`",
                    file_template.name
                )));
            }
        }
        for name in self.launch.env.keys().chain(&self.launch.env_unset) {
            if !cao_mux::is_env_name(name) {
                return Err(invalid(format!(
                    "`{}` in `launch.env` or `launch.env_unset` is not an environment variable name (letters, digits and `_`, not starting with a digit)",
                    name.escape_debug()
                )));
            }
        }
        for step in &self.launch.argv {
            let empty = match step {
                ArgTemplate::Arg(_) => false,
                ArgTemplate::Group(group) => group.optional.is_empty(),
                ArgTemplate::Unattended(group) => group.unattended.is_empty(),
            };
            if empty {
                return Err(invalid("an argv group is empty".to_string()));
            }
        }
        if let Some(overlay) = &self.launch.home_overlay {
            self.validate_home_overlay(overlay).map_err(invalid)?;
        }
        for rule in &self.status.mcp_failure {
            if rule.reason.trim().is_empty() || rule.reason.contains('\n') {
                return Err(invalid(format!(
                    "the `status.mcp_failure` rule `{}` needs a one-line `reason`",
                    rule.regex.as_str()
                )));
            }
        }
        Ok(())
    }

    /// The home overlay's names: a variable the pack does not also set, plain relative paths,
    /// and a `merge` that names a JSON file template.
    fn validate_home_overlay(&self, overlay: &HomeOverlay) -> Result<(), String> {
        if !cao_mux::is_env_name(&overlay.env) {
            return Err(format!(
                "`launch.home_overlay.env` `{}` is not an environment variable name",
                overlay.env.escape_debug()
            ));
        }
        if self.launch.env.contains_key(&overlay.env) {
            return Err(format!(
                "`{}` is set by `launch.home_overlay`; remove it from `launch.env`",
                overlay.env
            ));
        }
        let paths = [
            ("path", &overlay.path),
            ("config_dir", &overlay.config_dir),
            ("settings", &overlay.settings),
        ];
        let links = overlay.links.iter().map(|link| ("links", link));
        for (key, value) in paths.into_iter().chain(links) {
            if !is_plain_relative(value) {
                return Err(format!(
                    "`launch.home_overlay.{key}` `{}` must be a relative path without `..`",
                    value.escape_debug()
                ));
            }
        }
        if std::path::Path::new(&overlay.settings).components().count() != 1 {
            return Err(format!(
                "`launch.home_overlay.settings` `{}` must be a file name",
                overlay.settings.escape_debug()
            ));
        }
        let merged = self.files.iter().find(|file| file.name == overlay.merge);
        if merged.is_none_or(|file| file.json.is_none()) {
            return Err(format!(
                "`launch.home_overlay.merge` `{}` must name a `[[files]]` entry with `json`",
                overlay.merge.escape_debug()
            ));
        }
        Ok(())
    }

    /// All the names that select this pack, canonical name first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// The first start-up dialog visible on the screen, if any.
    pub fn dialog_for(&self, screen: &str) -> Option<&Dialog> {
        let lines = super::classify::screen_lines(screen);
        self.dialogs.iter().find(|dialog| {
            super::classify::window(&lines, dialog.last_lines)
                .iter()
                .any(|line| dialog.regex.is_match(line))
        })
    }
}

/// A non-empty relative path made of plain names only.
fn is_plain_relative(path: &str) -> bool {
    let path = std::path::Path::new(path);
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|component| matches!(component, std::path::Component::Normal(_)))
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
