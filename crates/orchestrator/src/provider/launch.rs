//! Launch rendering: a pack's argv, env and file templates filled from a [`LaunchContext`].
//!
//! Templates hold placeholders `{name}`; `{name:json}` and `{name:toml}` render the value as a
//! JSON or TOML literal (for flags such as Codex's `-c key=value`). `{{` and `}}` are literal
//! braces. A list placeholder standing alone as an argv entry expands to several entries, and
//! standing alone as a JSON string value becomes a JSON array. JSON files are built as
//! `serde_json` values, so nothing is ever escaped by hand. The result is an argv, never a
//! shell string.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::error::PackError;
use super::overlay::RenderedHomeOverlay;
use super::pack::{ArgTemplate, ProviderPack};

/// What the caller knows about the terminal being launched.
#[derive(Debug, Clone, Default)]
pub struct LaunchContext {
    /// 8 lowercase hex characters.
    pub terminal_id: String,
    pub profile_name: String,
    pub system_prompt: String,
    pub model: Option<String>,
    /// The profile's `permissionMode` (Claude Code's names: `default`, `acceptEdits`, `plan`,
    /// `bypassPermissions`). `None` or `bypassPermissions`: the agent runs unattended, with
    /// the pack's `unattended` arguments; anything else drops them so the CLI asks.
    pub permission_mode: Option<String>,
    pub working_directory: PathBuf,
    /// The per-terminal directory the caller created; files are written under it.
    pub config_dir: PathBuf,
    /// The argv that starts cao's MCP server for this agent (`["cao", "mcp-server"]`).
    pub cao_mcp_command: Vec<String>,
    /// The streamable-HTTP URL of this terminal's orchestration tools on cao's server.
    pub cao_mcp_url: String,
    /// The bearer token of cao's server (empty when it runs without auth).
    pub cao_api_token: String,
    /// The `cao` executable (for the mock agent).
    pub cao_binary: PathBuf,
    /// A script for `cao mock-agent`.
    pub mock_script: Option<PathBuf>,
    /// More environment for the pane, after the pack's own (same name: this wins).
    pub extra_env: Vec<(String, String)>,
}

/// The `permissionMode` under which a CLI skips its approval prompts.
pub const BYPASS_PERMISSIONS: &str = "bypassPermissions";

impl LaunchContext {
    /// Whether the agent runs without approval prompts (the default).
    pub fn unattended(&self) -> bool {
        self.permission_mode
            .as_deref()
            .is_none_or(|mode| mode == BYPASS_PERMISSIONS)
    }
}

/// A launch ready to run: the caller writes the files, then starts the argv with the env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedLaunch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Inherited variables to remove; none of them is in `env`.
    pub env_unset: Vec<String>,
    /// Absolute path and content of each file to write before launch.
    pub files: Vec<(PathBuf, String)>,
    /// The home overlay to build after the files (its variable is in `env`).
    pub home_overlay: Option<RenderedHomeOverlay>,
}

/// A placeholder's value.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    List(Vec<String>),
}

/// The placeholders of the template language and their values (`None`: no value given).
struct Values {
    provider: String,
    map: BTreeMap<String, Option<Value>>,
}

/// One piece of a parsed template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Literal(String),
    Placeholder { name: &'a str, filter: Filter },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Raw,
    Json,
    Toml,
}

impl ProviderPack {
    /// Fills the pack's launch templates from the context.
    pub fn render_launch(&self, context: &LaunchContext) -> Result<RenderedLaunch, PackError> {
        let mut values = Values::from_context(&self.name, context);
        let mut file_paths = Vec::new();
        for file in &self.files {
            let place = format!("files.{}.path", file.name);
            let relative = values.render(&file.path, &place)?;
            let path = inside(&context.config_dir, &relative).ok_or_else(|| {
                PackError::FileOutsideConfigDir {
                    provider: self.name.clone(),
                    path: relative.clone(),
                }
            })?;
            if values.map.contains_key(&file.name) {
                return Err(PackError::Invalid {
                    file: self.name.clone(),
                    message: format!(
                        "file name `{}` hides a built-in placeholder; rename it",
                        file.name
                    ),
                });
            }
            values.map.insert(
                file.name.clone(),
                Some(Value::Text(path.to_string_lossy().into_owned())),
            );
            file_paths.push(path);
        }

        let overlay = self.launch.home_overlay.as_ref();
        let mut overlay_settings = None;
        let mut files = Vec::new();
        for (file, path) in self.files.iter().zip(file_paths) {
            let place = format!("files.{}", file.name);
            let content = match (&file.text, &file.json) {
                (Some(text), _) => values.render(text, &place)?,
                (None, Some(tree)) => {
                    let json = values.render_json(tree, &place)?;
                    // Serialising a `serde_json::Value` has no failure path (string keys only).
                    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
                    text.push('\n');
                    if overlay.is_some_and(|overlay| overlay.merge == file.name) {
                        overlay_settings = Some(json);
                    }
                    text
                }
                // `validate` refused files with neither.
                (None, None) => String::new(),
            };
            files.push((path, content));
        }

        let mut argv = Vec::new();
        for (position, item) in self.launch.argv.iter().enumerate() {
            let place = format!("launch.argv[{position}]");
            match item {
                ArgTemplate::Arg(template) => argv.extend(values.render_arg(template, &place)?),
                ArgTemplate::Unattended(group) => {
                    if context.unattended() {
                        for template in &group.unattended {
                            argv.extend(values.render_arg(template, &place)?);
                        }
                    }
                }
                ArgTemplate::Group(group) => {
                    let mut complete = true;
                    for template in &group.optional {
                        complete &= values.has_all(template, &place)?;
                    }
                    if complete {
                        for template in &group.optional {
                            argv.extend(values.render_arg(template, &place)?);
                        }
                    }
                }
            }
        }

        let mut env: Vec<(String, String)> = Vec::new();
        for (name, template) in &self.launch.env {
            let value = values.render(template, &format!("launch.env.{name}"))?;
            env.push((name.clone(), value));
        }
        let mut home_overlay = None;
        if let Some(overlay) = overlay {
            let home = inside(&context.config_dir, &overlay.path).ok_or_else(|| {
                PackError::FileOutsideConfigDir {
                    provider: self.name.clone(),
                    path: overlay.path.clone(),
                }
            })?;
            env.push((overlay.env.clone(), home.to_string_lossy().into_owned()));
            home_overlay = Some(RenderedHomeOverlay {
                home,
                config_dir: overlay.config_dir.clone(),
                settings_file: overlay.settings.clone(),
                // `validate` made sure `merge` names a JSON file, rendered above.
                settings: overlay_settings.unwrap_or_default(),
                links: overlay.links.clone(),
            });
        }
        for (name, value) in &context.extra_env {
            env.retain(|(existing, _)| existing != name);
            env.push((name.clone(), value.clone()));
        }
        let env_unset = self
            .launch
            .env_unset
            .iter()
            .filter(|name| !env.iter().any(|(set, _)| set == *name))
            .cloned()
            .collect();
        Ok(RenderedLaunch {
            argv,
            env,
            env_unset,
            files,
            home_overlay,
        })
    }
}

/// `base/relative` when `relative` is a plain relative path that stays inside `base`.
fn inside(base: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    let plain = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    (plain && !relative.as_os_str().is_empty()).then(|| base.join(relative))
}

impl Values {
    fn from_context(provider: &str, context: &LaunchContext) -> Values {
        let text = |value: &str| Some(Value::Text(value.to_string()));
        let path = |value: &Path| Some(Value::Text(value.to_string_lossy().into_owned()));
        let mut map = BTreeMap::new();
        map.insert("terminal_id".into(), text(&context.terminal_id));
        map.insert("profile_name".into(), text(&context.profile_name));
        map.insert("system_prompt".into(), text(&context.system_prompt));
        map.insert(
            "model".into(),
            context
                .model
                .as_deref()
                .map(|model| Value::Text(model.into())),
        );
        map.insert(
            "permission_mode".into(),
            context
                .permission_mode
                .as_deref()
                .map(|mode| Value::Text(mode.into())),
        );
        map.insert("working_directory".into(), path(&context.working_directory));
        map.insert("config_dir".into(), path(&context.config_dir));
        map.insert(
            "cao_mcp_command".into(),
            Some(Value::List(context.cao_mcp_command.clone())),
        );
        map.insert(
            "cao_mcp_program".into(),
            context
                .cao_mcp_command
                .first()
                .map(|program| Value::Text(program.clone())),
        );
        map.insert(
            "cao_mcp_args".into(),
            Some(Value::List(
                context.cao_mcp_command.iter().skip(1).cloned().collect(),
            )),
        );
        map.insert("cao_mcp_url".into(), text(&context.cao_mcp_url));
        map.insert("cao_api_token".into(), text(&context.cao_api_token));
        map.insert("cao_binary".into(), path(&context.cao_binary));
        map.insert(
            "mock_script".into(),
            context.mock_script.as_deref().and_then(path),
        );
        Values {
            provider: provider.to_string(),
            map,
        }
    }

    fn lookup(&self, name: &str, place: &str) -> Result<Option<&Value>, PackError> {
        match self.map.get(name) {
            Some(value) => Ok(value.as_ref()),
            None => Err(PackError::UnknownPlaceholder {
                provider: self.provider.clone(),
                placeholder: name.to_string(),
                place: place.to_string(),
            }),
        }
    }

    fn missing(&self, name: &str, place: &str) -> PackError {
        PackError::MissingValue {
            provider: self.provider.clone(),
            placeholder: name.to_string(),
            place: place.to_string(),
        }
    }

    /// Whether every placeholder of the template has a value (unknown names are errors).
    fn has_all(&self, template: &str, place: &str) -> Result<bool, PackError> {
        for piece in parse(template) {
            if let Piece::Placeholder { name, .. } = piece {
                if self.lookup(name, place)?.is_none() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// A lone raw list placeholder, if the template is exactly that.
    fn lone_list(&self, template: &str, place: &str) -> Result<Option<Vec<String>>, PackError> {
        let pieces = parse(template);
        if let [Piece::Placeholder {
            name,
            filter: Filter::Raw,
        }] = pieces.as_slice()
        {
            if let Some(Value::List(items)) = self.lookup(name, place)? {
                return Ok(Some(items.clone()));
            }
        }
        Ok(None)
    }

    /// An argv template: one entry, or several for a lone list placeholder.
    fn render_arg(&self, template: &str, place: &str) -> Result<Vec<String>, PackError> {
        if let Some(items) = self.lone_list(template, place)? {
            return Ok(items);
        }
        Ok(vec![self.render(template, place)?])
    }

    /// A template rendered to one string.
    fn render(&self, template: &str, place: &str) -> Result<String, PackError> {
        let mut out = String::new();
        for piece in parse(template) {
            match piece {
                Piece::Literal(text) => out.push_str(&text),
                Piece::Placeholder { name, filter } => {
                    let value = self
                        .lookup(name, place)?
                        .ok_or_else(|| self.missing(name, place))?;
                    match (value, filter) {
                        (Value::Text(text), Filter::Raw) => out.push_str(text),
                        (Value::List(_), Filter::Raw) => {
                            return Err(PackError::ListInString {
                                provider: self.provider.clone(),
                                placeholder: name.to_string(),
                                place: place.to_string(),
                            })
                        }
                        (value, Filter::Json) => out.push_str(&json_literal(value)),
                        (value, Filter::Toml) => out.push_str(&toml_literal(value)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// A TOML tree as JSON, placeholders filled inside keys and string values.
    fn render_json(&self, tree: &toml::Value, place: &str) -> Result<serde_json::Value, PackError> {
        Ok(match tree {
            toml::Value::String(template) => match self.lone_list(template, place)? {
                Some(items) => serde_json::Value::from(items),
                None => serde_json::Value::String(self.render(template, place)?),
            },
            toml::Value::Integer(number) => serde_json::Value::from(*number),
            toml::Value::Float(number) => serde_json::Value::from(*number),
            toml::Value::Boolean(flag) => serde_json::Value::Bool(*flag),
            toml::Value::Datetime(datetime) => serde_json::Value::String(datetime.to_string()),
            toml::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|item| self.render_json(item, place))
                    .collect::<Result<_, _>>()?,
            ),
            toml::Value::Table(table) => {
                let mut object = serde_json::Map::new();
                for (key, value) in table {
                    object.insert(self.render(key, place)?, self.render_json(value, place)?);
                }
                serde_json::Value::Object(object)
            }
        })
    }
}

fn json_literal(value: &Value) -> String {
    match value {
        Value::Text(text) => serde_json::Value::String(text.clone()).to_string(),
        Value::List(items) => serde_json::Value::from(items.clone()).to_string(),
    }
}

fn toml_literal(value: &Value) -> String {
    match value {
        Value::Text(text) => toml::Value::String(text.clone()).to_string(),
        Value::List(items) => toml::Value::Array(
            items
                .iter()
                .map(|item| toml::Value::String(item.clone()))
                .collect(),
        )
        .to_string(),
    }
}

/// Splits a template into literals and placeholders. A `{` that does not open a well-formed
/// placeholder is kept as text, so stray braces in prompts cannot break a launch.
fn parse(template: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while let Some(position) = rest.find(['{', '}']) {
        literal.push_str(&rest[..position]);
        let tail = &rest[position..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            literal.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            literal.push('}');
            rest = after;
            continue;
        }
        let placeholder = tail[1..]
            .find('}')
            .map(|close| (&tail[1..1 + close], close))
            .and_then(|(inner, close)| {
                let (name, filter) = match inner.split_once(':') {
                    Some((name, "json")) => (name, Filter::Json),
                    Some((name, "toml")) => (name, Filter::Toml),
                    Some(_) => return None,
                    None => (inner, Filter::Raw),
                };
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                valid.then_some((name, filter, close))
            });
        match placeholder {
            Some((name, filter, close)) => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Placeholder { name, filter });
                rest = &tail[close + 2..];
            }
            None => {
                literal.push('{');
                rest = &tail[1..];
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_placeholders_filters_and_escapes() {
        assert_eq!(
            parse("a{model}b{{c}}{x:json}{ not one }"),
            vec![
                Piece::Literal("a".into()),
                Piece::Placeholder {
                    name: "model",
                    filter: Filter::Raw
                },
                Piece::Literal("b{c}".into()),
                Piece::Placeholder {
                    name: "x",
                    filter: Filter::Json
                },
                Piece::Literal("{ not one }".into()),
            ]
        );
        assert_eq!(parse("{a:yaml}"), vec![Piece::Literal("{a:yaml}".into())]);
    }

    #[test]
    fn paths_must_stay_inside_the_config_dir() {
        let base = Path::new("/cfg");
        assert_eq!(
            inside(base, "a/b.json"),
            Some(PathBuf::from("/cfg/a/b.json"))
        );
        assert_eq!(inside(base, "../x"), None);
        assert_eq!(inside(base, "/etc/passwd"), None);
        assert_eq!(inside(base, ""), None);
    }
}
