//! The managed environment file (`.env` in the data directory) and `${VAR}` substitution.
//!
//! Profiles name secrets and machine-specific values as `${VAR}`; the values live in one
//! private file that `cao env get|set|list|unset` edits, with the process environment as the
//! fallback. The file keeps its comments and order when a key is set or removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cao_mux::is_env_name;

use super::ProfileError;
use crate::home::write_file_atomic;

#[derive(Debug, Clone, PartialEq, Eq)]
enum EnvLine {
    Entry {
        key: String,
        value: String,
    },
    /// A comment, a blank line or anything else kept verbatim.
    Other(String),
}

/// The managed `KEY=VALUE` file.
///
/// Lines are `KEY=VALUE`, optionally prefixed with `export `; values may be wrapped in double
/// quotes (with `\"`, `\\`, `\n` escapes) or single quotes (literal); `#` starts a comment line,
/// and ` #` a trailing comment after an unquoted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    path: PathBuf,
    lines: Vec<EnvLine>,
}

impl EnvFile {
    /// Reads the file; a missing file is an empty one.
    pub fn load(path: impl Into<PathBuf>) -> Result<EnvFile, ProfileError> {
        let path = path.into();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ProfileError::Io { path, source }),
        };
        let origin = path.display().to_string();
        let mut lines = Vec::new();
        for (index, line) in text.lines().enumerate() {
            lines.push(parse_env_line(line).map_err(|message| ProfileError::Parse {
                origin: origin.clone(),
                line: index + 1,
                message,
            })?);
        }
        Ok(EnvFile { path, lines })
    }

    /// The file this was read from and is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key`, if set (the last assignment wins, as in a shell).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().rev().find_map(|line| match line {
            EnvLine::Entry { key: name, value } if name == key => Some(value.as_str()),
            _ => None,
        })
    }

    /// Every key and value, in file order, the last assignment of a key winning.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut seen = BTreeMap::new();
        let mut order = Vec::new();
        for line in &self.lines {
            if let EnvLine::Entry { key, value } = line {
                if seen.insert(key.clone(), value.clone()).is_none() {
                    order.push(key.clone());
                }
            }
        }
        order
            .into_iter()
            .filter_map(|key| seen.remove(&key).map(|value| (key, value)))
            .collect()
    }

    /// Sets `key` and rewrites the file atomically with mode 0600.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ProfileError> {
        if !is_env_name(key) {
            return Err(ProfileError::InvalidEnvKey {
                key: key.to_string(),
            });
        }
        let mut replaced = false;
        self.lines.retain_mut(|line| match line {
            EnvLine::Entry {
                key: name,
                value: old,
            } if name == key => {
                if replaced {
                    return false;
                }
                replaced = true;
                *old = value.to_string();
                true
            }
            _ => true,
        });
        if !replaced {
            self.lines.push(EnvLine::Entry {
                key: key.to_string(),
                value: value.to_string(),
            });
        }
        self.save()
    }

    /// Removes `key`; returns whether it was set. Rewrites the file only when it changed.
    pub fn unset(&mut self, key: &str) -> Result<bool, ProfileError> {
        let before = self.lines.len();
        self.lines
            .retain(|line| !matches!(line, EnvLine::Entry { key: name, .. } if name == key));
        if self.lines.len() == before {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    fn save(&self) -> Result<(), ProfileError> {
        let mut text = String::new();
        for line in &self.lines {
            match line {
                EnvLine::Entry { key, value } => {
                    text.push_str(key);
                    text.push('=');
                    text.push_str(&quote_value(value));
                }
                EnvLine::Other(other) => text.push_str(other),
            }
            text.push('\n');
        }
        write_file_atomic(&self.path, text.as_bytes(), 0o600).map_err(ProfileError::from)
    }
}

fn parse_env_line(line: &str) -> Result<EnvLine, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(EnvLine::Other(line.to_string()));
    }
    let assignment = trimmed.strip_prefix("export ").unwrap_or(trimmed);
    let Some((key, raw_value)) = assignment.split_once('=') else {
        return Err("expected KEY=VALUE".to_string());
    };
    let key = key.trim();
    if !is_env_name(key) {
        return Err(format!(
            "'{key}' is not a variable name (letters, digits and '_', not starting with a digit)"
        ));
    }
    let raw_value = raw_value.trim();
    let value = if let Some(rest) = raw_value.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = rest.chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    closed = true;
                    break;
                }
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                other => value.push(other),
            }
        }
        if !closed {
            return Err(format!("unterminated double quote in the value of '{key}'"));
        }
        value
    } else if let Some(rest) = raw_value.strip_prefix('\'') {
        match rest.find('\'') {
            Some(end) => rest[..end].to_string(),
            None => return Err(format!("unterminated single quote in the value of '{key}'")),
        }
    } else {
        match raw_value.find(" #") {
            Some(comment) => raw_value[..comment].trim_end().to_string(),
            None => raw_value.to_string(),
        }
    };
    Ok(EnvLine::Entry {
        key: key.to_string(),
        value,
    })
}

fn quote_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@+,%=".contains(c));
    if plain {
        return value.to_string();
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// Where `${VAR}` values come from: a map (usually the env file) and then, optionally, the
/// process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<String, String>,
    process_env_fallback: bool,
}

impl Vars {
    /// Only the process environment.
    pub fn process_env() -> Vars {
        Vars {
            values: BTreeMap::new(),
            process_env_fallback: true,
        }
    }

    /// The env file's values, then the process environment.
    pub fn from_env_file(file: &EnvFile) -> Vars {
        Vars {
            values: file.list().into_iter().collect(),
            process_env_fallback: true,
        }
    }

    /// Exactly these values, nothing from the process (for tests and previews).
    pub fn only(values: impl IntoIterator<Item = (String, String)>) -> Vars {
        Vars {
            values: values.into_iter().collect(),
            process_env_fallback: false,
        }
    }

    /// The value of `name`.
    pub fn lookup(&self, name: &str) -> Option<String> {
        if let Some(value) = self.values.get(name) {
            return Some(value.clone());
        }
        if self.process_env_fallback {
            return std::env::var(name).ok();
        }
        None
    }
}

/// Replaces every `${NAME}` in `line`; an unset name is an error naming it.
pub(crate) fn substitute_line(line: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_env_name(&after[..end]) => {
                let name = &after[..end];
                match vars.lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        return Err(format!(
                            "variable '{name}' is not set (set it with `cao env set {name} VALUE` \
                             or export it)"
                        ))
                    }
                }
                rest = &after[end + 1..];
            }
            // Not a variable reference (e.g. `${` in a shell snippet): keep it as written.
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_comments_and_export() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(".env");
        std::fs::write(
            &path,
            "# secrets\nA=plain\nexport B=\"two words \\\"q\\\"\"\nC='lit $x'\nD=value # note\n\nA=again\n",
        )
        .unwrap();
        let file = EnvFile::load(&path).unwrap();
        assert_eq!(file.get("A"), Some("again"));
        assert_eq!(file.get("B"), Some("two words \"q\""));
        assert_eq!(file.get("C"), Some("lit $x"));
        assert_eq!(file.get("D"), Some("value"));
        assert_eq!(file.get("E"), None);
        let keys: Vec<String> = file.list().into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["A", "B", "C", "D"]);
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(".env");
        std::fs::write(&path, "A=1\nnot an assignment\n").unwrap();
        let error = EnvFile::load(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}:2: expected KEY=VALUE", path.display())
        );
    }

    #[test]
    fn set_and_unset_rewrite_keeping_comments() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(".env");
        std::fs::write(&path, "# keep me\nA=1\n").unwrap();
        let mut file = EnvFile::load(&path).unwrap();
        file.set("A", "2").unwrap();
        file.set("B", "has space").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# keep me\nA=2\nB=\"has space\"\n"
        );
        assert!(file.unset("A").unwrap());
        assert!(!file.unset("A").unwrap());
        let reloaded = EnvFile::load(&path).unwrap();
        assert_eq!(
            reloaded.list(),
            [("B".to_string(), "has space".to_string())]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            file.set("1BAD", "x").unwrap_err().to_string(),
            "'1BAD' is not a variable name (letters, digits and '_', not starting with a digit)"
        );
    }

    #[test]
    fn substitution_uses_values_then_keeps_non_references() {
        let vars = Vars::only([("NAME".to_string(), "dev".to_string())]);
        assert_eq!(
            substitute_line("a ${NAME} b ${ not a var } ${NAME}", &vars).unwrap(),
            "a dev b ${ not a var } dev"
        );
        assert_eq!(
            substitute_line("x ${MISSING}", &vars).unwrap_err(),
            "variable 'MISSING' is not set (set it with `cao env set MISSING VALUE` or export it)"
        );
    }
}
