//! Provider packs: one declarative TOML file per agent CLI, saying how to launch it, answer
//! its start-up dialogs, read its screen, take its last reply out, and leave it.
//!
//! The built-in packs (`packs/*.toml`) are embedded in the binary. A directory of overrides
//! (`<CAO_HOME_DIR>/providers/*.toml`) replaces a built-in pack with the same `name` and adds
//! packs with new names. Nothing in this module touches tmux or the file system beyond reading
//! that directory and building a home overlay when the caller asks
//! ([`RenderedHomeOverlay::build`]): classification and extraction are pure functions of
//! captured text, and a rendered launch is data the caller acts on.
//!
//! ```
//! use cao_orchestrator::provider::{LaunchContext, PackRegistry};
//! use cao_orchestrator::TerminalStatus;
//!
//! let registry = PackRegistry::builtin();
//! let pack = registry.get("mock_cli").unwrap(); // aliases work
//! assert_eq!(pack.name, "mock");
//! assert_eq!(pack.classify("cao mock-agent — scripted agent; type /exit to quit\nmock> "),
//!            TerminalStatus::Idle);
//!
//! let launch = pack.render_launch(&LaunchContext {
//!     terminal_id: "0a1b2c3d".into(),
//!     profile_name: "developer".into(),
//!     config_dir: "/tmp/cao/terminals/0a1b2c3d".into(),
//!     cao_binary: "/usr/bin/cao".into(),
//!     ..LaunchContext::default()
//! }).unwrap();
//! assert_eq!(launch.argv, ["/usr/bin/cao", "mock-agent", "--profile", "developer",
//!                          "--mcp-config", "/tmp/cao/terminals/0a1b2c3d/mcp.json"]);
//! ```
//!
//! API:
//! - [`PackRegistry::builtin`], [`PackRegistry::load`] (built-ins plus an overrides
//!   directory; errors name the file, line and key), [`PackRegistry::get`] (name or alias;
//!   unknown names list the known ones), [`PackRegistry::list`].
//! - [`ProviderPack::classify`] (screen → [`TerminalStatus`](crate::TerminalStatus)),
//!   [`ProviderPack::extract_last_response`], [`ProviderPack::dialog_for`],
//!   [`ProviderPack::resolve_binary`], [`ProviderPack::render_launch`] with
//!   [`LaunchContext`] → [`RenderedLaunch`]; [`ProviderPack::mcp_failure`] (a line saying
//!   the CLI may run without cao's MCP server).
//!
//! The pack format is documented on [`ProviderPack`] and its parts; the classifier in
//! `classify`, extraction on [`ExtractRules`], templating in `launch`.

mod classify;
mod error;
mod extract;
mod launch;
mod overlay;
mod pack;

#[cfg(test)]
mod fixture_tests;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub use classify::InputView;
pub use error::PackError;
pub use launch::{LaunchContext, RenderedLaunch};
pub use overlay::{OverlayError, RenderedHomeOverlay};
pub use pack::{
    Anchor, ArgTemplate, Dialog, ExitStep, ExtractRules, FileTemplate, HomeOverlay, InputSettings,
    Launch, McpFailureRule, OptionalGroup, Pattern, ProviderPack, RuleStatus, StatusRules,
    SystemPromptDelivery, TurnRule,
};

/// The embedded packs: file name and text.
const BUILTIN_PACKS: &[(&str, &str)] = &[
    ("aider.toml", include_str!("packs/aider.toml")),
    ("claude_code.toml", include_str!("packs/claude_code.toml")),
    ("codex.toml", include_str!("packs/codex.toml")),
    ("copilot_cli.toml", include_str!("packs/copilot_cli.toml")),
    ("gemini_cli.toml", include_str!("packs/gemini_cli.toml")),
    ("kiro_cli.toml", include_str!("packs/kiro_cli.toml")),
    ("mock.toml", include_str!("packs/mock.toml")),
    ("opencode.toml", include_str!("packs/opencode.toml")),
    ("qwen_code.toml", include_str!("packs/qwen_code.toml")),
];

/// The packs cao knows, by canonical name.
#[derive(Debug, Clone)]
pub struct PackRegistry {
    packs: Vec<ProviderPack>,
}

impl PackRegistry {
    /// The embedded packs only.
    pub fn builtin() -> PackRegistry {
        // The embedded files are fixed at build time and the test `builtin_packs_load` reads
        // every one of them, so this cannot fail in a tested build.
        Self::load_builtin().expect("built-in provider packs are valid (tested)")
    }

    fn load_builtin() -> Result<PackRegistry, PackError> {
        let mut registry = PackRegistry { packs: Vec::new() };
        for (file, text) in BUILTIN_PACKS {
            let pack = ProviderPack::from_toml(&format!("builtin:{file}"), text)?;
            registry.insert(pack, &format!("builtin:{file}"))?;
        }
        Ok(registry)
    }

    /// The embedded packs, then every `*.toml` of `overrides_dir` in name order. A missing
    /// directory means no overrides.
    pub fn load(overrides_dir: Option<&Path>) -> Result<PackRegistry, PackError> {
        let mut registry = Self::load_builtin()?;
        let Some(directory) = overrides_dir else {
            return Ok(registry);
        };
        let entries = match std::fs::read_dir(directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(registry),
            Err(source) => {
                return Err(PackError::Read {
                    path: directory.to_path_buf(),
                    source,
                })
            }
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| PackError::Read {
                path: directory.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "toml")
            {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| PackError::Read {
                path: path.clone(),
                source,
            })?;
            let label = path.display().to_string();
            let pack = ProviderPack::from_toml(&label, &text)?;
            tracing::debug!(provider = %pack.name, file = %label, "provider pack override");
            registry.insert(pack, &label)?;
        }
        Ok(registry)
    }

    /// Adds a pack, replacing one with the same name; refuses names or aliases that would
    /// select two packs.
    fn insert(&mut self, pack: ProviderPack, file: &str) -> Result<(), PackError> {
        self.packs.retain(|existing| existing.name != pack.name);
        for name in pack.names() {
            if let Some(other) = self
                .packs
                .iter()
                .find(|existing| existing.names().any(|taken| taken == name))
            {
                return Err(PackError::Invalid {
                    file: file.to_string(),
                    message: format!(
                        "`{name}` already selects the provider `{}`; pick another name or alias",
                        other.name
                    ),
                });
            }
        }
        self.packs.push(pack);
        self.packs.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(())
    }

    /// The pack selected by a name or alias.
    pub fn get(&self, name_or_alias: &str) -> Result<&ProviderPack, PackError> {
        self.packs
            .iter()
            .find(|pack| pack.names().any(|name| name == name_or_alias))
            .ok_or_else(|| PackError::UnknownProvider {
                name: name_or_alias.to_string(),
                known: self
                    .packs
                    .iter()
                    .map(|pack| pack.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every pack, by canonical name.
    pub fn list(&self) -> &[ProviderPack] {
        &self.packs
    }
}

impl ProviderPack {
    /// The executable a terminal of this pack would run, `None` when it is not installed: the
    /// pack's binary found in a `PATH`-style list of directories (executable files only; one
    /// given as a path, with a `/`, is checked as is). The mock pack runs `cao_binary`, cao
    /// itself, wherever it is. The server's provider list and `cao provider list` both ask here.
    pub fn resolve_binary(&self, path_env: &OsStr, cao_binary: &Path) -> Option<PathBuf> {
        if self.name == "mock" {
            return Some(cao_binary.to_path_buf());
        }
        find_executable(&self.binary, path_env)
    }
}

/// `program` found in a `PATH`-style list of directories (executable files only); a program
/// given as a path (with a `/`) is checked as is.
pub fn find_executable(program: &str, path_env: &OsStr) -> Option<PathBuf> {
    let program = Path::new(program);
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_path_buf());
    }
    std::env::split_paths(path_env)
        .filter(|directory| !directory.as_os_str().is_empty())
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file())
}
