//! Session operations: new_session, has_session, kill_session, rename_session, list_sessions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::render::Args;
use super::result::SESSION_FORMAT;
use super::spec::{gate, opt, req, Effects, GateMode, OpSpec, Safety, Scope, V3_2};
use super::spec::{OLDEST_MODELLED, V2_9};
use super::target::{validate_session_name, Target, TargetKind};
use super::{targets, OpDef, OpKind, RenderError};

fn default_true() -> bool {
    true
}

/// `new-session`: creates a session (detached by default) and reports its ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The session name (`-s`); tmux picks a number when absent. No `:` or `.`.
    #[serde(default)]
    pub name: Option<String>,
    /// The first window's name (`-n`).
    #[serde(default)]
    pub window_name: Option<String>,
    /// The working directory of the first pane (`-c`).
    #[serde(default)]
    pub start_directory: Option<String>,
    /// Initial width in cells (`-x`).
    #[serde(default)]
    pub width: Option<u32>,
    /// Initial height in cells (`-y`).
    #[serde(default)]
    pub height: Option<u32>,
    /// Environment for the session (`-e NAME=VALUE`, tmux 3.2+).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Do not attach the current terminal (`-d`); true unless set to false.
    #[serde(default = "default_true")]
    pub detached: bool,
    /// The command of the first pane (one word: run by the shell; several: run directly).
    #[serde(default)]
    pub command: Vec<String>,
}

/// Detached, like the JSON default: cao never has a terminal to attach.
impl Default for NewSession {
    fn default() -> Self {
        Self {
            name: None,
            window_name: None,
            start_directory: None,
            width: None,
            height: None,
            environment: BTreeMap::new(),
            detached: true,
            command: Vec::new(),
        }
    }
}

impl OpDef for NewSession {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::NewSession,
        command: "new-session",
        scope: Scope::Server,
        safety: Safety::Mutating,
        effects: Effects::CREATE,
        chainable: true,
        min_version: OLDEST_MODELLED,
        flag_gates: &[gate("-e", V3_2, GateMode::Refuse)],
        blocking: false,
        queues_commands: false,
        captures_ids: true,
        description: "Create a session and report its session, window and pane ids",
        fields: &[
            opt("name", "string (session name, no ':' or '.')"),
            opt("window_name", "string"),
            opt("start_directory", "string (path)"),
            opt("width", "integer (cells)"),
            opt("height", "integer (cells)"),
            opt("environment", "object {NAME: value}"),
            opt("detached", "bool (default true)"),
            opt("command", "array of strings (shell command)"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.detached, "-d")?;
        if let Some(name) = &self.name {
            validate_session_name(name).map_err(|reason| args.invalid("name", reason))?;
            args.value("-s", name.as_str())?;
        }
        args.name("-n", "window_name", self.window_name.as_deref())?;
        args.value_opt("-c", self.start_directory.as_deref())?;
        if let Some(width) = self.width {
            args.value("-x", width.to_string())?;
        }
        if let Some(height) = self.height {
            args.value("-y", height.to_string())?;
        }
        args.environment(&self.environment)?;
        args.capture_ids()?;
        args.positional(&self.command);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `has-session`: whether a session exists; the exit code is the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HasSession {
    /// The session to look for (`-t`), usually `=name`.
    pub target: Target,
}

impl OpDef for HasSession {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::HasSession,
        command: "has-session",
        scope: Scope::Session,
        safety: Safety::Readonly,
        effects: Effects::READ,
        // A missing session is exit code 1, which would cut a `;` group short.
        chainable: false,
        min_version: V2_9,
        flag_gates: &[],
        blocking: false,
        queues_commands: false,
        captures_ids: false,
        description: "Tell whether a session exists (payload exists: bool)",
        fields: &[req("target", "target (session)")],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target("-t", &self.target, TargetKind::Session)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `kill-session`: destroys a session and its windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSession {
    /// The session (`-t`).
    pub target: Target,
    /// Kill every other session instead (`-a`).
    #[serde(default)]
    pub all_others: bool,
}

impl OpDef for KillSession {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::KillSession,
        command: "kill-session",
        scope: Scope::Session,
        safety: Safety::Destructive,
        effects: Effects::DESTROY,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[],
        blocking: false,
        queues_commands: false,
        captures_ids: false,
        description: "Destroy a session (or all others) with its windows and panes",
        fields: &[req("target", "target (session)"), opt("all_others", "bool")],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.all_others, "-a")?;
        args.target("-t", &self.target, TargetKind::Session)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `rename-session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameSession {
    /// The session (`-t`).
    pub target: Target,
    /// The new name; no `:` or `.`.
    pub name: String,
}

impl OpDef for RenameSession {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::RenameSession,
        command: "rename-session",
        scope: Scope::Session,
        safety: Safety::Mutating,
        effects: Effects::SET,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[],
        blocking: false,
        queues_commands: false,
        captures_ids: false,
        description: "Rename a session",
        fields: &[
            req("target", "target (session)"),
            req("name", "string (no ':' or '.')"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        validate_session_name(&self.name).map_err(|reason| args.invalid("name", reason))?;
        args.target("-t", &self.target, TargetKind::Session)?;
        args.positional([self.name.as_str()]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `list-sessions`: every session as a typed row.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSessions {
    /// Only sessions for which this format is true (`-f`, tmux 3.2+).
    #[serde(default)]
    pub filter: Option<String>,
}

impl OpDef for ListSessions {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::ListSessions,
        command: "list-sessions",
        scope: Scope::Server,
        safety: Safety::Readonly,
        effects: Effects::READ,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[gate("-f", V3_2, GateMode::Refuse)],
        blocking: false,
        queues_commands: false,
        captures_ids: false,
        description: "List sessions (payload sessions: id, name, windows, attached, created)",
        fields: &[opt("filter", "string (tmux format)")],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.value("-F", SESSION_FORMAT)?;
        args.value_opt("-f", self.filter.as_deref())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets::<0>([])
    }
}
