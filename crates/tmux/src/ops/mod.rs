//! Typed tmux operations: one value per tmux command (60 kinds), each declaring its metadata
//! once ([`OpSpec`]), rendering to argv for a given server version and parsing its own result.
//!
//! Pure: nothing here does I/O except [`run`], which hands a rendered command to an
//! [`Engine`](crate::engine::Engine).
//!
//! Like tmux's own one-file-per-command table, the kinds are grouped by scope: [`session`],
//! [`window`], [`pane`], [`buffer`], [`options`] and [`server`] (server and client commands).
//! Each struct there holds its typed fields and, in its `OpDef` impl, its table row and
//! its rendering. The [`catalog`] is generated from the same rows.
//!
//! ```
//! use cao_tmux::ops::{Operation, SplitWindow, SplitDirection};
//! use cao_tmux::{PaneId, TmuxVersion};
//!
//! let op = Operation::SplitWindow(SplitWindow {
//!     target: Some(PaneId(1).into()),
//!     direction: SplitDirection::Horizontal,
//!     ..SplitWindow::default()
//! });
//! let command = op.render(TmuxVersion::new(3, 3, 1)).unwrap();
//! assert_eq!(command.argv[..4], ["split-window", "-t", "%1", "-h"]);
//! ```
//!
//! ## Version gates
//! A kind newer than the server fails with [`RenderError::Unsupported`]. A flag newer than its
//! command is listed in [`OpSpec::flag_gates`]; on an older server it is left out when it only
//! changes presentation ([`GateMode::Drop`]) and refused otherwise ([`GateMode::Refuse`]).

use serde::{Deserialize, Serialize};

use crate::command::TmuxCommand;
use crate::version::TmuxVersion;

pub mod buffer;
pub mod catalog;
pub mod options;
pub mod pane;
pub(crate) mod render;
pub mod result;
pub mod run;
pub mod server;
pub mod session;
pub mod spec;
pub mod target;
pub mod types;
pub mod window;

pub use buffer::*;
pub use catalog::{catalog, CatalogEntry};
pub use options::*;
pub use pane::*;
pub use result::{
    BufferRow, ClientRow, Failure, NewIds, OpResult, PaneRow, Payload, ResultStatus, SessionRow,
    WindowRow,
};
pub use run::{run, RunError};
pub use server::*;
pub use session::*;
pub use spec::{Effects, FieldSpec, FlagGate, GateMode, OpSpec, Safety, Scope};
pub use target::{IndexParent, SlotPart, SlotRef, Special, Target, TargetError, TargetKind};
pub use types::*;
pub use window::*;

use render::Args;

/// The `-F` format creators print their new ids with: `$S @W %P`, space separated (ids never
/// contain spaces).
pub const ID_CAPTURE_FORMAT: &str = "#{session_id} #{window_id} #{pane_id}";

/// Separates fields in the formats list operations render (ASCII unit separator), so names
/// with spaces, tabs or `;` come back intact.
pub const FIELD_SEPARATOR: char = '\u{1f}';

/// Why an operation could not be rendered to argv.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{kind} needs tmux {needed} or newer; the server runs {running}")]
    Unsupported {
        kind: OpKind,
        needed: TmuxVersion,
        running: TmuxVersion,
    },
    #[error("{kind}: flag {flag} needs tmux {needed} or newer and the server runs {running}; leaving it out would change what the command does, so drop the field or upgrade tmux")]
    FlagUnsupported {
        kind: OpKind,
        flag: &'static str,
        needed: TmuxVersion,
        running: TmuxVersion,
    },
    #[error(
        "target {0} is a plan slot that has not been resolved; run the step that creates it first"
    )]
    UnresolvedSlot(SlotRef),
    #[error("{kind}: invalid {field}: {reason}")]
    Invalid {
        kind: OpKind,
        field: &'static str,
        reason: String,
    },
}

/// What every operation struct provides: its table row, its rendering and its targets.
pub(crate) trait OpDef {
    /// The metadata row, declared once per kind.
    const SPEC: &'static OpSpec;
    /// Writes flags and arguments after the command name.
    fn render_into(&self, args: &mut Args) -> Result<(), RenderError>;
    /// Every target the operation names, for slot resolution.
    fn targets_mut(&mut self) -> Vec<&mut Target>;
}

macro_rules! operations {
    ($($variant:ident = $name:literal,)*) => {
        /// One tmux command as a typed value. In JSON: `{"kind": "split_window", ...fields}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Operation {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant($variant),
            )*
        }

        /// The name of an operation kind (`"split_window"` in JSON).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum OpKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl OpKind {
            /// Every kind, in alphabetical order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$variant,)*];

            /// The snake_case name.
            pub fn name(self) -> &'static str {
                match self {
                    $(OpKind::$variant => $name,)*
                }
            }

            /// The kind's metadata row.
            pub fn spec(self) -> &'static OpSpec {
                match self {
                    $(OpKind::$variant => <$variant as OpDef>::SPEC,)*
                }
            }
        }

        impl Operation {
            /// The operation's kind.
            pub fn kind(&self) -> OpKind {
                match self {
                    $(Operation::$variant(_) => OpKind::$variant,)*
                }
            }

            fn render_args(&self, args: &mut Args) -> Result<(), RenderError> {
                match self {
                    $(Operation::$variant(op) => op.render_into(args),)*
                }
            }

            fn targets_mut(&mut self) -> Vec<&mut Target> {
                match self {
                    $(Operation::$variant(op) => op.targets_mut(),)*
                }
            }
        }

        $(
            impl From<$variant> for Operation {
                fn from(op: $variant) -> Self {
                    Operation::$variant(op)
                }
            }
        )*
    };
}

operations! {
    BreakPane = "break_pane",
    CapturePane = "capture_pane",
    ClearHistory = "clear_history",
    DeleteBuffer = "delete_buffer",
    DetachClient = "detach_client",
    DisplayMessage = "display_message",
    HasSession = "has_session",
    IfShell = "if_shell",
    JoinPane = "join_pane",
    KillPane = "kill_pane",
    KillServer = "kill_server",
    KillSession = "kill_session",
    KillWindow = "kill_window",
    LastPane = "last_pane",
    LastWindow = "last_window",
    LinkWindow = "link_window",
    ListBuffers = "list_buffers",
    ListClients = "list_clients",
    ListPanes = "list_panes",
    ListSessions = "list_sessions",
    ListWindows = "list_windows",
    LoadBuffer = "load_buffer",
    MovePane = "move_pane",
    MoveWindow = "move_window",
    NewPane = "new_pane",
    NewSession = "new_session",
    NewWindow = "new_window",
    NextWindow = "next_window",
    PreviousWindow = "previous_window",
    PasteBuffer = "paste_buffer",
    PipePane = "pipe_pane",
    RefreshClient = "refresh_client",
    RenameSession = "rename_session",
    RenameWindow = "rename_window",
    ResizePane = "resize_pane",
    ResizeWindow = "resize_window",
    RespawnPane = "respawn_pane",
    RespawnWindow = "respawn_window",
    RotateWindow = "rotate_window",
    RunShell = "run_shell",
    SaveBuffer = "save_buffer",
    SelectLayout = "select_layout",
    SelectPane = "select_pane",
    SelectWindow = "select_window",
    SendKeys = "send_keys",
    SetBuffer = "set_buffer",
    SetEnvironment = "set_environment",
    SetHook = "set_hook",
    SetOption = "set_option",
    SetWindowOption = "set_window_option",
    ShowBuffer = "show_buffer",
    ShowOptions = "show_options",
    SourceFile = "source_file",
    SplitWindow = "split_window",
    StartServer = "start_server",
    SuspendClient = "suspend_client",
    SwapPane = "swap_pane",
    SwapWindow = "swap_window",
    SwitchClient = "switch_client",
    UnlinkWindow = "unlink_window",
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Operation {
    /// The kind's metadata row.
    pub fn spec(&self) -> &'static OpSpec {
        self.kind().spec()
    }

    fn build(&self, version: TmuxVersion, preview: bool) -> Result<TmuxCommand, RenderError> {
        let spec = self.spec();
        if version < spec.min_version {
            return Err(RenderError::Unsupported {
                kind: spec.kind,
                needed: spec.min_version,
                running: version,
            });
        }
        let mut args = Args::new(spec, version, preview);
        self.render_args(&mut args)?;
        args.finish()
    }

    /// The command for a server running `version`. Fails on an unresolved slot, a kind or
    /// meaning-changing flag the server is too old for, or a value tmux cannot take.
    pub fn render(&self, version: TmuxVersion) -> Result<TmuxCommand, RenderError> {
        self.build(version, false)
    }

    /// The operation as one line of tmux command syntax, every argument quoted, for places
    /// that take a command as a string (a hook, `if-shell`, `run-shell -C`). Refuses what a
    /// command string cannot carry: standard input (`load_buffer` from data).
    pub fn render_line(&self, version: TmuxVersion) -> Result<String, RenderError> {
        self.line(version, false)
    }

    fn line(&self, version: TmuxVersion, preview: bool) -> Result<String, RenderError> {
        let command = self.build(version, preview)?;
        let invalid = |reason: String| RenderError::Invalid {
            kind: self.kind(),
            field: "command",
            reason,
        };
        if command.stdin.is_some() {
            return Err(invalid(
                "standard input cannot be given to a command written as a string".into(),
            ));
        }
        crate::quote::control_line(&command.argv).map_err(|error| invalid(error.to_string()))
    }

    /// The argv for a plan preview: like [`Operation::render`], but an unresolved slot shows
    /// as a placeholder such as `{slot:2.pane}` instead of failing. Not for execution.
    pub fn render_preview(&self, version: TmuxVersion) -> Result<Vec<String>, RenderError> {
        self.build(version, true).map(|command| command.argv)
    }

    /// The slot references among the operation's targets, in field order.
    pub fn slot_refs(&self) -> Vec<SlotRef> {
        let mut copy = self.clone();
        copy.targets_mut()
            .into_iter()
            .filter_map(|target| match target {
                Target::Slot(slot) => Some(*slot),
                _ => None,
            })
            .collect()
    }

    /// Replaces every slot target with what `resolve` returns for it. Fails with
    /// [`RenderError::UnresolvedSlot`] on the first slot `resolve` has no answer for (targets
    /// before it are already replaced).
    pub fn resolve_slots(
        &mut self,
        resolve: &dyn Fn(SlotRef) -> Option<Target>,
    ) -> Result<(), RenderError> {
        for target in self.targets_mut() {
            if let Target::Slot(slot) = target {
                let slot = *slot;
                *target = resolve(slot).ok_or(RenderError::UnresolvedSlot(slot))?;
            }
        }
        Ok(())
    }

    /// Whether this value blocks its connection until it finishes (`run_shell` without
    /// `background`): run it on a connection of its own.
    pub fn is_blocking(&self) -> bool {
        match self {
            Operation::RunShell(op) => !op.background,
            Operation::IfShell(op) => !op.format && !op.background,
            other => other.spec().blocking,
        }
    }

    /// Whether this value queues further commands, whose reply blocks follow its own
    /// (`source_file`, `if_shell`, `run_shell` with `tmux_command`).
    pub fn queues_commands(&self) -> bool {
        match self {
            Operation::RunShell(op) => op.tmux_command,
            other => other.spec().queues_commands,
        }
    }
}

/// Collects the targets of optional fields, for `targets_mut`.
pub(crate) fn targets<const N: usize>(fields: [Option<&mut Target>; N]) -> Vec<&mut Target> {
    fields.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
