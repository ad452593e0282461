//! Agent profiles: CAO's Markdown-with-YAML-frontmatter format, parsed strictly.
//!
//! A profile is `---`, a YAML mapping, `---`, then the system prompt. The fields CAO defines
//! are typed ([`AgentProfile`]); the provider-specific pass-through keys CAO accepts (kiro/q
//! agent fields, codex settings, …) are kept verbatim in [`AgentProfile::extra`]; any other
//! key is an error with its line, so a typo fails at `cao profile validate`, not mid-launch.
//! Lookup across the store, provider dirs, extra dirs and built-ins is in [`catalog`].

pub mod catalog;
pub mod env;
pub mod search;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_norway::Value as YamlValue;

pub use catalog::{InstallOptions, ProfileCatalog, ProfileSource, ProfileSummary};
pub use env::{EnvFile, Vars};

use crate::home::HomeError;

/// Why a profile could not be read, found or installed. Every variant displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The text is not a valid profile: `origin:line: cause`.
    #[error("{origin}:{line}: {message}")]
    Parse {
        /// The file name (or built-in name) the text came from.
        origin: String,
        /// 1-based line in the file.
        line: usize,
        /// What is wrong and, where it helps, how to fix it.
        message: String,
    },
    /// No profile of that name in any source.
    #[error("no agent profile named '{name}' (available: {})", available.join(", "))]
    NotFound {
        /// The name asked for.
        name: String,
        /// Every name that does exist, sorted.
        available: Vec<String>,
    },
    /// `cao install` was given something it cannot install from.
    #[error("cannot install from '{source_text}': {reason}")]
    UnsupportedSource {
        /// What the user passed.
        source_text: String,
        /// Why it is refused and what to pass instead.
        reason: String,
    },
    /// A key that cannot be an environment variable name.
    #[error("'{key}' is not a variable name (letters, digits and '_', not starting with a digit)")]
    InvalidEnvKey {
        /// The key given.
        key: String,
    },
    /// A profile file that is a symbolic link.
    #[error("{path}: a profile may not be a symbolic link (it could point anywhere); copy the file there instead (cao install FILE)")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A file-system call failed.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing into the data directory failed.
    #[error(transparent)]
    Home(#[from] HomeError),
}

/// How an agent reaches an MCP server: a local command (stdio) or a URL (`type` + `url`).
///
/// Keys CAO does not type (`timeout`, `headers`, …) are kept in `extra` and passed through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpServer {
    /// `stdio`, `http`, `sse`, `local`, `remote`…, as written.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The program to start, for a local server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment for the program.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The endpoint, for a remote server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Other keys, passed through to the agent CLI's config.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A parsed agent profile.
///
/// Serializes with CAO's key names (`allowedTools`, `mcpServers`, …) plus `system_prompt`,
/// the shape CAO's `GET /agents/profiles/{name}` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentProfile {
    /// The profile name (`code_supervisor`, `developer`…).
    pub name: String,
    /// One line saying what the agent is for.
    pub description: String,
    /// The provider to run it with, overriding the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `supervisor`, `developer`, `reviewer`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Tools the agent may use (`fs_read`, `execute_bash`, `@cao-mcp-server`, `*`…);
    /// `None` when the profile does not say, which is not the same as an empty list.
    #[serde(
        rename = "allowedTools",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_tools: Option<Vec<String>>,
    /// Skill names or globs this agent is offered; `None` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<String>>,
    /// MCP servers by name.
    #[serde(
        rename = "mcpServers",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub mcp_servers: BTreeMap<String, McpServer>,
    /// The model to ask the CLI for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Seconds to wait for the CLI to become ready, overriding the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_init_timeout: Option<u64>,
    /// CAO's provider-specific pass-through keys (see [`EXTRA_KEYS`]), verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// The Markdown body: the agent's system prompt.
    #[serde(default)]
    pub system_prompt: String,
}

/// The keys cao types.
pub const KNOWN_KEYS: &[&str] = &[
    "name",
    "description",
    "provider",
    "role",
    "allowedTools",
    "skills",
    "mcpServers",
    "model",
    "provider_init_timeout",
];

/// Keys CAO accepts and passes to particular providers; cao keeps them in `extra`.
pub const EXTRA_KEYS: &[&str] = &[
    "tools",
    "toolAliases",
    "toolsSettings",
    "resources",
    "hooks",
    "useLegacyMcpJson",
    "prompt",
    "welcomeMessage",
    "codexConfig",
    "codexProfile",
    "permissionMode",
    "native_agent",
    "reasoning_effort",
    "reasoningEffort",
    "inheritUserMcpServers",
    "messageContract",
    "claudeSessionId",
    "claudeMcpConfigFiles",
    "tags",
    "capabilities",
    "container",
    "env",
    "env_vars",
    "script_path",
    "script_args",
];

impl AgentProfile {
    /// Renders the profile back to CAO's file format (frontmatter keys sorted).
    pub fn to_markdown(&self) -> String {
        let mut frontmatter = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            // A struct of strings, lists and maps always serializes to an object.
            _ => serde_json::Map::new(),
        };
        frontmatter.remove("system_prompt");
        let yaml = serde_norway::to_string(&frontmatter).unwrap_or_default();
        let mut text = format!("---\n{yaml}---\n");
        if !self.system_prompt.is_empty() {
            text.push('\n');
            text.push_str(&self.system_prompt);
            text.push('\n');
        }
        text
    }

    /// Whether the profile may use cao's spawning tools (`*` or `@cao-mcp-server` allowed).
    pub fn may_orchestrate(&self) -> bool {
        self.allowed_tools.as_ref().is_some_and(|tools| {
            tools
                .iter()
                .any(|tool| tool == "*" || tool == "@cao-mcp-server")
        })
    }

    /// CAO's `permissionMode` pass-through key, when it is a string: whether the agent's CLI
    /// asks before acting (see `LaunchContext::permission_mode`).
    pub fn permission_mode(&self) -> Option<String> {
        self.extra
            .get("permissionMode")
            .and_then(|value| value.as_str())
            .map(str::to_string)
    }
}

/// Parses a profile, substituting `${VAR}` from the process environment only.
///
/// `origin` names the text in errors (usually the file name). See [`parse_profile_with`].
pub fn parse_profile(text: &str, origin: &str) -> Result<AgentProfile, ProfileError> {
    parse_profile_with(text, origin, &Vars::process_env())
}

/// Parses a profile, substituting `${VAR}` in frontmatter and body from `vars`.
pub fn parse_profile_with(
    text: &str,
    origin: &str,
    vars: &Vars,
) -> Result<AgentProfile, ProfileError> {
    let fail = |line: usize, message: String| ProfileError::Parse {
        origin: origin.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    if lines.first().map(|line| line.trim_end()) != Some("---") {
        return Err(fail(
            1,
            "missing frontmatter: the file must start with a '---' line".to_string(),
        ));
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|line| line.trim_end() == "---")
        .map(|index| index + 1)
    else {
        return Err(fail(
            1,
            "unterminated frontmatter: no closing '---' line".to_string(),
        ));
    };
    let mut substituted = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        substituted
            .push(env::substitute_line(line, vars).map_err(|message| fail(index + 1, message))?);
    }
    // Frontmatter line i (0-based) is file line i + 2: the opening `---` is line 1.
    let frontmatter_lines = &substituted[1..close];
    let frontmatter = frontmatter_lines.join("\n");
    let closing_line = close + 1;

    let value: YamlValue = serde_norway::from_str(&frontmatter).map_err(|error| {
        let line = error.location().map_or(2, |location| location.line() + 1);
        fail(line, format!("invalid YAML: {}", yaml_message(&error)))
    })?;
    let mapping = match value {
        YamlValue::Mapping(mapping) => mapping,
        YamlValue::Null => serde_norway::Mapping::new(),
        _ => {
            return Err(fail(
                2,
                "the frontmatter must be a mapping of keys to values".to_string(),
            ))
        }
    };
    let key_lines = top_level_key_lines(frontmatter_lines);
    let line_of = |key: &str| key_lines.get(key).map_or(2, |line| line + 2);

    let mut fields: Vec<(String, YamlValue)> = Vec::new();
    for (key, value) in mapping {
        let YamlValue::String(key) = key else {
            return Err(fail(2, "frontmatter keys must be strings".to_string()));
        };
        fields.push((key, value));
    }
    // Report problems in file order, so the first error is the first one the user sees.
    fields.sort_by_key(|(key, _)| line_of(key));

    let mut profile = AgentProfile {
        name: String::new(),
        description: String::new(),
        provider: None,
        role: None,
        allowed_tools: None,
        skills: None,
        mcp_servers: BTreeMap::new(),
        model: None,
        provider_init_timeout: None,
        extra: BTreeMap::new(),
        system_prompt: String::new(),
    };
    let mut seen_name = false;
    let mut seen_description = false;
    for (key, value) in fields {
        let line = line_of(&key);
        let typed = |expected: &str| fail(line, format!("'{key}' must be {expected}"));
        match key.as_str() {
            "name" => {
                profile.name =
                    non_empty_string(value).ok_or_else(|| typed("a non-empty string"))?;
                if !is_plain_name(&profile.name) {
                    return Err(fail(
                        line,
                        format!(
                            "'name' must be a plain name (letters, digits, '_', '-', '.'), not '{}'",
                            profile.name
                        ),
                    ));
                }
                seen_name = true;
            }
            "description" => {
                profile.description =
                    non_empty_string(value).ok_or_else(|| typed("a non-empty string"))?;
                seen_description = true;
            }
            "provider" => profile.provider = optional(value, "a string", &typed)?,
            "role" => profile.role = optional(value, "a string", &typed)?,
            "model" => profile.model = optional(value, "a string", &typed)?,
            "allowedTools" => profile.allowed_tools = optional(value, "a list of strings", &typed)?,
            "skills" => profile.skills = optional(value, "a list of strings", &typed)?,
            "provider_init_timeout" => {
                profile.provider_init_timeout =
                    optional(value, "a whole number of seconds", &typed)?
            }
            "mcpServers" => {
                let servers: Option<BTreeMap<String, McpServer>> =
                    optional(value, "a mapping of server names to settings", &typed)?;
                profile.mcp_servers = servers.unwrap_or_default();
                for (server_name, server) in &profile.mcp_servers {
                    if server.command.is_none() && server.url.is_none() {
                        let server_line = nested_key_line(&substituted, line, server_name);
                        return Err(fail(
                            server_line,
                            format!(
                                "MCP server '{server_name}' needs 'command' (a local server) or \
                                 'url' (a remote one)"
                            ),
                        ));
                    }
                }
            }
            other if EXTRA_KEYS.contains(&other) => {
                let json = serde_json::to_value(&value)
                    .map_err(|_| typed("plain YAML data (string keys only)"))?;
                profile.extra.insert(key, json);
            }
            other => {
                let hint = closest_key(other)
                    .map(|suggestion| format!(" (did you mean '{suggestion}'?)"))
                    .unwrap_or_default();
                return Err(fail(line, format!("unknown key '{other}'{hint}")));
            }
        }
    }
    if !seen_name {
        return Err(fail(closing_line, "'name' is required".to_string()));
    }
    if !seen_description {
        return Err(fail(closing_line, "'description' is required".to_string()));
    }
    profile.system_prompt = substituted[close + 1..].join("\n").trim().to_string();
    Ok(profile)
}

fn optional<T: serde::de::DeserializeOwned>(
    value: YamlValue,
    expected: &str,
    typed: &dyn Fn(&str) -> ProfileError,
) -> Result<Option<T>, ProfileError> {
    if value.is_null() {
        return Ok(None);
    }
    serde_norway::from_value(value)
        .map(Some)
        .map_err(|_| typed(expected))
}

fn non_empty_string(value: YamlValue) -> Option<String> {
    match value {
        YamlValue::String(text) if !text.trim().is_empty() => Some(text),
        _ => None,
    }
}

/// Profile names become file names (`agent-store/<name>.md`), so no separators or dots-only.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// The YAML library's message without its own " at line N column M" (we print the file line).
fn yaml_message(error: &serde_norway::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// 0-based frontmatter line of each top-level key (a line with no indent, `key:` or `"key":`).
fn top_level_key_lines(lines: &[String]) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with([' ', '\t', '#', '-']) {
            continue;
        }
        let Some(colon) = line.find(':') else {
            continue;
        };
        let key = line[..colon].trim().trim_matches(['"', '\'']);
        if !key.is_empty() {
            found.entry(key.to_string()).or_insert(index);
        }
    }
    found
}

/// The file line of `key:` indented below the top-level key on `parent_line`, else the parent.
fn nested_key_line(file_lines: &[String], parent_line: usize, key: &str) -> usize {
    for (index, line) in file_lines.iter().enumerate().skip(parent_line) {
        if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
            break;
        }
        let trimmed = line.trim_start().trim_start_matches(['"', '\'']);
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start_matches(['"', '\'']).starts_with(':') {
                return index + 1;
            }
        }
    }
    parent_line
}

/// The known key closest to a misspelt one, if it is close enough to be the likely intent.
fn closest_key(unknown: &str) -> Option<&'static str> {
    let lower = unknown.to_ascii_lowercase();
    KNOWN_KEYS
        .iter()
        .chain(EXTRA_KEYS)
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests;
