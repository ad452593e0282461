//! Finding profiles by name across their sources, listing them, validating and installing.
//!
//! Order (first match wins): the local store (`agent-store/` in the data directory), provider
//! directories the caller passes, extra directories (`CAO_PROFILE_DIRS` and CAO's own store,
//! read-only), then the built-ins compiled into the binary. A profile in a directory is the
//! file `<name>.md`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{parse_profile_with, AgentProfile, EnvFile, ProfileError, Vars};
use crate::home::{write_file_atomic, CaoHome};

/// The variable holding extra profile directories, colon-separated.
pub const PROFILE_DIRS_ENV_VAR: &str = "CAO_PROFILE_DIRS";

/// The built-in profiles: (name, text).
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "code_supervisor",
        include_str!("builtin/code_supervisor.md"),
    ),
    ("developer", include_str!("builtin/developer.md")),
    ("reviewer", include_str!("builtin/reviewer.md")),
];

/// Where a profile was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    /// The local store, `agent-store/`.
    Local,
    /// A provider's agent directory.
    Provider,
    /// `CAO_PROFILE_DIRS` or CAO's own store.
    Extra,
    /// Compiled into cao.
    Builtin,
}

impl ProfileSource {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileSource::Local => "local",
            ProfileSource::Provider => "provider",
            ProfileSource::Extra => "extra",
            ProfileSource::Builtin => "builtin",
        }
    }
}

/// One line of `cao profile list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSummary {
    /// The profile name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Where it was found.
    pub source: ProfileSource,
    /// Its file; `None` for a built-in.
    pub path: Option<PathBuf>,
}

/// Options of `cao install`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// Rewrite the profile's `provider:` to this.
    pub provider: Option<String>,
    /// `KEY=VALUE` pairs written to the managed env file first, so `${KEY}` resolves.
    pub env: Vec<(String, String)>,
}

/// The profile sources, in lookup order.
#[derive(Debug, Clone)]
pub struct ProfileCatalog {
    local_dir: PathBuf,
    provider_dirs: Vec<PathBuf>,
    extra_dirs: Vec<PathBuf>,
    env_file: Option<PathBuf>,
    builtins: bool,
}

impl ProfileCatalog {
    /// The catalog of a data directory: its `agent-store/`, no provider dirs, the extra dirs
    /// from `CAO_PROFILE_DIRS` then `~/.aws/cli-agent-orchestrator/agent-store`, built-ins,
    /// and `${VAR}` values from its `.env`.
    pub fn new(home: &CaoHome) -> ProfileCatalog {
        let mut extra_dirs: Vec<PathBuf> = std::env::var_os(PROFILE_DIRS_ENV_VAR)
            .map(|dirs| std::env::split_paths(&dirs).collect())
            .unwrap_or_default();
        extra_dirs.retain(|dir| !dir.as_os_str().is_empty());
        if let Some(user_home) = dirs::home_dir() {
            extra_dirs.push(user_home.join(".aws/cli-agent-orchestrator/agent-store"));
        }
        ProfileCatalog {
            local_dir: home.agent_store_dir(),
            provider_dirs: Vec::new(),
            extra_dirs,
            env_file: Some(home.env_file()),
            builtins: true,
        }
    }

    /// A catalog of exactly these directories (and the built-ins), no env file.
    pub fn with_dirs(
        local_dir: impl Into<PathBuf>,
        provider_dirs: Vec<PathBuf>,
        extra_dirs: Vec<PathBuf>,
    ) -> ProfileCatalog {
        ProfileCatalog {
            local_dir: local_dir.into(),
            provider_dirs,
            extra_dirs,
            env_file: None,
            builtins: true,
        }
    }

    /// Replaces the provider directories (searched after the local store).
    pub fn provider_dirs(mut self, dirs: Vec<PathBuf>) -> ProfileCatalog {
        self.provider_dirs = dirs;
        self
    }

    /// Uses this env file for `${VAR}` values (the process environment stays the fallback).
    pub fn env_file(mut self, path: impl Into<PathBuf>) -> ProfileCatalog {
        self.env_file = Some(path.into());
        self
    }

    /// The local store directory, where `install` writes.
    pub fn local_dir(&self) -> &Path {
        &self.local_dir
    }

    fn vars(&self) -> Result<Vars, ProfileError> {
        match &self.env_file {
            Some(path) => Ok(Vars::from_env_file(&EnvFile::load(path)?)),
            None => Ok(Vars::process_env()),
        }
    }

    fn directories(&self) -> Vec<(ProfileSource, &Path)> {
        let mut dirs = vec![(ProfileSource::Local, self.local_dir.as_path())];
        dirs.extend(
            self.provider_dirs
                .iter()
                .map(|dir| (ProfileSource::Provider, dir.as_path())),
        );
        dirs.extend(
            self.extra_dirs
                .iter()
                .map(|dir| (ProfileSource::Extra, dir.as_path())),
        );
        dirs
    }

    /// The profile named `name` from the first source that has it.
    ///
    /// A file that exists but does not parse is an error, not a reason to look further: the
    /// user meant that file.
    pub fn find(&self, name: &str) -> Result<AgentProfile, ProfileError> {
        self.locate(name).map(|(profile, _)| profile)
    }

    /// Like [`ProfileCatalog::find`], also saying where the profile came from.
    pub fn locate(&self, name: &str) -> Result<(AgentProfile, ProfileSummary), ProfileError> {
        let vars = self.vars()?;
        if super::is_plain_name(name) {
            for (source, dir) in self.directories() {
                let path = dir.join(format!("{name}.md"));
                if path.is_file() {
                    let profile = read_profile(&path, &vars)?;
                    let summary = ProfileSummary {
                        name: name.to_string(),
                        description: profile.description.clone(),
                        source,
                        path: Some(path),
                    };
                    return Ok((profile, summary));
                }
            }
            if self.builtins {
                if let Some((builtin, text)) = BUILTINS.iter().find(|(n, _)| *n == name) {
                    let profile = parse_profile_with(text, &format!("{builtin}.md"), &vars)?;
                    let summary = ProfileSummary {
                        name: name.to_string(),
                        description: profile.description.clone(),
                        source: ProfileSource::Builtin,
                        path: None,
                    };
                    return Ok((profile, summary));
                }
            }
        }
        let mut available: Vec<String> = self.list().into_iter().map(|s| s.name).collect();
        available.sort();
        Err(ProfileError::NotFound {
            name: name.to_string(),
            available,
        })
    }

    /// Every profile, the first source winning per name, sorted by name.
    ///
    /// Files that do not parse are left out (with a warning in the log); `validate` says why.
    pub fn list(&self) -> Vec<ProfileSummary> {
        let vars = self.vars().unwrap_or_else(|error| {
            tracing::warn!(%error, "env file unreadable; listing with the process environment");
            Vars::process_env()
        });
        let mut found: Vec<ProfileSummary> = Vec::new();
        for (source, dir) in self.directories() {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "md") && path.is_file())
                .collect();
            paths.sort();
            for path in paths {
                let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else {
                    continue;
                };
                if found.iter().any(|summary| summary.name == name) {
                    continue;
                }
                match read_profile(&path, &vars) {
                    Ok(profile) => found.push(ProfileSummary {
                        name: name.to_string(),
                        description: profile.description,
                        source,
                        path: Some(path),
                    }),
                    Err(error) => tracing::warn!(%error, "skipping an invalid profile"),
                }
            }
        }
        if self.builtins {
            for (name, text) in BUILTINS {
                if found.iter().any(|summary| summary.name == *name) {
                    continue;
                }
                if let Ok(profile) = parse_profile_with(text, &format!("{name}.md"), &vars) {
                    found.push(ProfileSummary {
                        name: name.to_string(),
                        description: profile.description,
                        source: ProfileSource::Builtin,
                        path: None,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// Parses the file at `path` with this catalog's `${VAR}` values.
    pub fn validate(&self, path: &Path) -> Result<AgentProfile, ProfileError> {
        read_profile(path, &self.vars()?)
    }

    /// Copies a profile into the local store after validating it; returns the written path.
    ///
    /// `source` is a file path or the name of a built-in. URLs are refused: download the
    /// file and pass its path, so what gets installed is what the user looked at.
    pub fn install(&self, source: &str, options: &InstallOptions) -> Result<PathBuf, ProfileError> {
        if source.contains("://") {
            return Err(ProfileError::UnsupportedSource {
                source_text: source.to_string(),
                reason: "installing from a URL is not supported; download the file and pass its \
                         local path, or pass a built-in profile name"
                    .to_string(),
            });
        }
        let path = Path::new(source);
        let (text, origin) = if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|error| ProfileError::Io {
                path: path.to_path_buf(),
                source: error,
            })?;
            (text, file_origin(path))
        } else if let Some((name, text)) = BUILTINS.iter().find(|(name, _)| *name == source) {
            (text.to_string(), format!("{name}.md"))
        } else {
            let names: Vec<&str> = BUILTINS.iter().map(|(name, _)| *name).collect();
            return Err(ProfileError::UnsupportedSource {
                source_text: source.to_string(),
                reason: format!(
                    "no such file, and not a built-in profile ({})",
                    names.join(", ")
                ),
            });
        };
        if !options.env.is_empty() {
            let Some(env_path) = &self.env_file else {
                return Err(ProfileError::UnsupportedSource {
                    source_text: source.to_string(),
                    reason: "this catalog has no env file to write --env values to".to_string(),
                });
            };
            let mut env = EnvFile::load(env_path)?;
            for (key, value) in &options.env {
                env.set(key, value)?;
            }
        }
        let text = match &options.provider {
            Some(provider) => set_provider(&text, provider),
            None => text,
        };
        let profile = parse_profile_with(&text, &origin, &self.vars()?)?;
        let target = self.local_dir.join(format!("{}.md", profile.name));
        // The file keeps its `${VAR}` references: values are resolved at each launch.
        write_file_atomic(&target, text.as_bytes(), 0o644)?;
        Ok(target)
    }

    /// Deletes `<name>.md` from the local store (other sources are read-only); returns its path.
    pub fn remove(&self, name: &str) -> Result<PathBuf, ProfileError> {
        let path = self.local_dir.join(format!("{name}.md"));
        if !super::is_plain_name(name) || !path.is_file() {
            let mut available: Vec<String> = std::fs::read_dir(&self.local_dir)
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| {
                    let path = entry.path();
                    (path.extension()? == "md")
                        .then(|| path.file_stem()?.to_str().map(str::to_string))
                        .flatten()
                })
                .collect();
            available.sort();
            return Err(ProfileError::NotFound {
                name: name.to_string(),
                available,
            });
        }
        std::fs::remove_file(&path).map_err(|source| ProfileError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

fn file_origin(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn read_profile(path: &Path, vars: &Vars) -> Result<AgentProfile, ProfileError> {
    // A link in a profile directory could point anywhere (another user's file, a device, a
    // file that changes under cao): profiles are plain files.
    let is_link = std::fs::symlink_metadata(path)
        .map(|metadata| metadata.file_type().is_symlink())
        .unwrap_or(false);
    if is_link {
        return Err(ProfileError::Symlink {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_profile_with(&text, &file_origin(path), vars)
}

/// Sets the top-level `provider:` line of the frontmatter, adding one if there is none.
fn set_provider(text: &str, provider: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let close = lines
        .iter()
        .skip(1)
        .position(|line| line.trim_end() == "---")
        .map(|index| index + 1);
    let Some(close) = close.filter(|_| lines.first().map(|l| l.trim_end()) == Some("---")) else {
        // Not a profile; parsing will say so.
        return text.to_string();
    };
    let quoted = serde_json::to_string(provider).unwrap_or_default();
    let new_line = format!("provider: {quoted}");
    let mut out: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
    match (1..close).find(|&index| lines[index].starts_with("provider:")) {
        Some(index) => out[index] = new_line,
        None => out.insert(close, new_line),
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}
