//! The six agent CLIs under test: where each comes from, the version its pack was verified
//! against, and installing it into a cache directory shared between runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where a CLI is installed from.
#[derive(Debug, Clone, Copy)]
pub enum Package {
    /// `npm install --prefix <cache>/<name> <spec>`.
    Npm(&'static str),
    /// `python3 -m venv <cache>/<name>` then `pip install <spec>`.
    Pip(&'static str),
}

/// One agent CLI.
#[derive(Debug, Clone, Copy)]
pub struct AgentCli {
    /// Short name: the case name and the cache directory.
    pub name: &'static str,
    /// cao's provider pack.
    pub provider: &'static str,
    pub package: Package,
    /// The executable.
    pub binary: &'static str,
    /// Whether it can call MCP tools (all but aider).
    pub mcp: bool,
    /// Whether its pack sends the system prompt as the first message (no CLI option for it):
    /// the terminal is ready for work once that first turn completed.
    pub prompt_as_first_message: bool,
}

/// The CLIs and the versions the packs were verified against (see `docs/agent-clis.md`).
pub const CLIS: [AgentCli; 6] = [
    AgentCli {
        name: "claude",
        provider: "claude_code",
        package: Package::Npm("@anthropic-ai/claude-code@2.1.197"),
        binary: "claude",
        mcp: true,
        prompt_as_first_message: false,
    },
    AgentCli {
        name: "codex",
        provider: "codex",
        package: Package::Npm("@openai/codex@0.169.0"),
        binary: "codex",
        mcp: true,
        prompt_as_first_message: false,
    },
    AgentCli {
        name: "gemini",
        provider: "gemini_cli",
        package: Package::Npm("@google/gemini-cli@0.61.0"),
        binary: "gemini",
        mcp: true,
        prompt_as_first_message: true,
    },
    AgentCli {
        name: "opencode",
        provider: "opencode",
        package: Package::Npm("opencode-ai@1.18.33"),
        binary: "opencode",
        mcp: true,
        prompt_as_first_message: false,
    },
    AgentCli {
        name: "qwen",
        provider: "qwen_code",
        package: Package::Npm("@qwen-code/qwen-code@0.15.10"),
        binary: "qwen",
        mcp: true,
        prompt_as_first_message: true,
    },
    AgentCli {
        name: "aider",
        provider: "aider",
        package: Package::Pip("aider-chat==0.86.2"),
        binary: "aider",
        mcp: false,
        prompt_as_first_message: true,
    },
];

pub fn cli(name: &str) -> Option<AgentCli> {
    CLIS.iter().copied().find(|cli| cli.name == name)
}

/// `CAO_CONFORMANCE_CACHE`, else `$XDG_CACHE_HOME/cao/conformance`, else
/// `~/.cache/cao/conformance`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAO_CONFORMANCE_CACHE").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache")
        });
    base.join("cao").join("conformance")
}

impl AgentCli {
    /// The directory holding the executable.
    pub fn bin_dir(&self, cache: &Path) -> PathBuf {
        match self.package {
            Package::Npm(_) => cache.join(self.name).join("node_modules").join(".bin"),
            Package::Pip(_) => cache.join(self.name).join("bin"),
        }
    }

    fn spec(&self) -> &'static str {
        match self.package {
            Package::Npm(spec) | Package::Pip(spec) => spec,
        }
    }

    /// The installed version marker: the spec that was installed last.
    fn marker(&self, cache: &Path) -> PathBuf {
        cache.join(format!("{}.installed", self.name))
    }

    /// Installs the pinned version unless the cache already has it. Runs outside the test's
    /// network namespace (it needs the registry).
    pub fn ensure_installed(&self, cache: &Path) -> Result<(), String> {
        let executable = self.bin_dir(cache).join(self.binary);
        let marker = self.marker(cache);
        if executable.exists()
            && std::fs::read_to_string(&marker).is_ok_and(|spec| spec.trim() == self.spec())
        {
            return Ok(());
        }
        std::fs::create_dir_all(cache).map_err(|error| format!("{}: {error}", cache.display()))?;
        let prefix = cache.join(self.name);
        eprintln!(
            "conformance: installing {} into {}",
            self.spec(),
            prefix.display()
        );
        let run = |command: &mut Command| -> Result<(), String> {
            let output = command
                .stdin(Stdio::null())
                .output()
                .map_err(|error| format!("{:?}: {error}", command.get_program()))?;
            if output.status.success() {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
            Err(format!(
                "{:?} exited with {}: {}",
                command.get_program(),
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        };
        match self.package {
            Package::Npm(spec) => run(Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&prefix)
                .arg(spec))?,
            Package::Pip(spec) => {
                if !prefix.join("bin").join("pip").exists() {
                    run(Command::new("python3").args(["-m", "venv"]).arg(&prefix))?;
                }
                run(Command::new(prefix.join("bin").join("pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check"])
                    .arg(spec))?;
            }
        }
        if !executable.exists() {
            return Err(format!(
                "{} installed but {} is missing",
                self.spec(),
                executable.display()
            ));
        }
        std::fs::write(&marker, self.spec()).map_err(|error| error.to_string())?;
        Ok(())
    }

    /// `<binary> --version`, first line.
    pub fn version(&self, cache: &Path) -> String {
        Command::new(self.bin_dir(cache).join(self.binary))
            .arg("--version")
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .map(|output| {
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    }
}
