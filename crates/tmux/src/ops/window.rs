//! Window operations: new_window, kill_window, rename_window, select_window, last_window,
//! next_window, previous_window, list_windows, link_window, move_window, swap_window,
//! unlink_window, rotate_window, select_layout, resize_window, respawn_window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::render::Args;
use super::result::WINDOW_FORMAT;
use super::spec::{gate, opt, req, Effects, GateMode, OpSpec, Safety, Scope};
use super::spec::{V2_9, V3_0, V3_1, V3_2};
use super::target::{Target, TargetKind};
use super::types::{CycleDirection, Layout, PaneDirection, Placement};
use super::{targets, OpDef, OpKind, RenderError};

/// A row of the table with the fields most window commands share.
macro_rules! window_spec {
    ($kind:ident, $command:literal, $safety:ident, $effects:expr, $gates:expr, $description:literal, $fields:expr) => {
        $crate::ops::spec::plain_spec!(
            $kind,
            $command,
            Window,
            $safety,
            $effects,
            true,
            $gates,
            $description,
            $fields
        )
    };
}

const LAYOUT_CHANGE: Effects = Effects {
    mutates_layout: true,
    ..Effects::SET
};

/// `new-window`: creates a window and reports its ids.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    /// Where to create it (`-t`): a session, or a window index to use or place next to.
    #[serde(default)]
    pub target: Option<Target>,
    /// The window name (`-n`).
    #[serde(default)]
    pub name: Option<String>,
    /// The working directory (`-c`).
    #[serde(default)]
    pub start_directory: Option<String>,
    /// Environment for the pane (`-e`, tmux 3.0+).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Do not make it the current window (`-d`).
    #[serde(default)]
    pub detached: bool,
    /// Place after (`-a`) or before (`-b`, tmux 3.2+) the target window.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Replace a window already at the target index (`-k`).
    #[serde(default)]
    pub kill_existing: bool,
    /// If a window with this name exists, select it instead of creating one (`-S`, tmux 3.2+).
    #[serde(default)]
    pub select_existing: bool,
    /// The pane's command.
    #[serde(default)]
    pub command: Vec<String>,
}

impl OpDef for NewWindow {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::NewWindow,
        command: "new-window",
        scope: Scope::Session,
        safety: Safety::Mutating,
        effects: Effects::CREATE,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[
            gate("-e", V3_0, GateMode::Refuse),
            gate("-b", V3_2, GateMode::Refuse),
            gate("-S", V3_2, GateMode::Refuse),
        ],
        blocking: false,
        queues_commands: false,
        captures_ids: true,
        description: "Create a window and report its session, window and pane ids",
        fields: &[
            opt("target", "target (session or window index)"),
            opt("name", "string"),
            opt("start_directory", "string (path)"),
            opt("environment", "object {NAME: value}"),
            opt("detached", "bool"),
            opt("placement", "\"after\" | \"before\""),
            opt("kill_existing", "bool"),
            opt("select_existing", "bool"),
            opt("command", "array of strings (shell command)"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target_opt("-t", self.target.as_ref(), TargetKind::Window)?;
        args.flag_if(self.detached, "-d")?;
        if let Some(placement) = self.placement {
            args.flag(placement.flag())?;
        }
        args.flag_if(self.kill_existing, "-k")?;
        args.flag_if(self.select_existing, "-S")?;
        args.name("-n", "name", self.name.as_deref())?;
        args.value_opt("-c", self.start_directory.as_deref())?;
        args.environment(&self.environment)?;
        args.capture_ids()?;
        args.positional(&self.command);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// `kill-window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillWindow {
    /// The window (`-t`).
    pub target: Target,
    /// Kill every other window of its session instead (`-a`).
    #[serde(default)]
    pub all_others: bool,
}

impl OpDef for KillWindow {
    const SPEC: &'static OpSpec = window_spec!(
        KillWindow,
        "kill-window",
        Destructive,
        Effects::DESTROY,
        &[],
        "Destroy a window (or all others in its session) with its panes",
        &[req("target", "target (window)"), opt("all_others", "bool")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.all_others, "-a")?;
        args.target("-t", &self.target, TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `rename-window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameWindow {
    /// The window (`-t`).
    pub target: Target,
    /// The new name (non-empty).
    pub name: String,
}

impl OpDef for RenameWindow {
    const SPEC: &'static OpSpec = window_spec!(
        RenameWindow,
        "rename-window",
        Mutating,
        Effects::SET,
        &[],
        "Rename a window (turns off its automatic-rename)",
        &[req("target", "target (window)"), req("name", "string")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.name.is_empty() {
            return Err(args.invalid("name", "cannot be empty"));
        }
        args.target("-t", &self.target, TargetKind::Window)?;
        args.positional([self.name.as_str()]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `select-window`: makes a window current in its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectWindow {
    /// The window (`-t`).
    pub target: Target,
}

impl OpDef for SelectWindow {
    const SPEC: &'static OpSpec = window_spec!(
        SelectWindow,
        "select-window",
        Mutating,
        Effects::SET,
        &[],
        "Make a window the current window of its session",
        &[req("target", "target (window)")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target("-t", &self.target, TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `last-window`: selects the previously current window of a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastWindow {
    /// The session (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
}

impl OpDef for LastWindow {
    const SPEC: &'static OpSpec = window_spec!(
        LastWindow,
        "last-window",
        Mutating,
        Effects::STEP,
        &[],
        "Select the previously current window of a session",
        &[opt("target", "target (session)")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target_opt("-t", self.target.as_ref(), TargetKind::Session)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// `next-window`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextWindow {
    /// The session (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Move to the next window with an alert (`-a`).
    #[serde(default)]
    pub with_alert: bool,
}

impl OpDef for NextWindow {
    const SPEC: &'static OpSpec = window_spec!(
        NextWindow,
        "next-window",
        Mutating,
        Effects::STEP,
        &[],
        "Select the next window of a session",
        &[opt("target", "target (session)"), opt("with_alert", "bool")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.with_alert, "-a")?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Session)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// `previous-window`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousWindow {
    /// The session (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Move to the previous window with an alert (`-a`).
    #[serde(default)]
    pub with_alert: bool,
}

impl OpDef for PreviousWindow {
    const SPEC: &'static OpSpec = window_spec!(
        PreviousWindow,
        "previous-window",
        Mutating,
        Effects::STEP,
        &[],
        "Select the previous window of a session",
        &[opt("target", "target (session)"), opt("with_alert", "bool")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.with_alert, "-a")?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Session)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// Which windows `list-windows` lists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ListWindowsScope {
    /// Every window on the server (`-a`).
    #[default]
    Server,
    /// The windows of one session (`-t`).
    Session(Target),
}

/// `list-windows`: windows as typed rows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListWindows {
    /// Which windows; every window by default.
    #[serde(default)]
    pub scope: ListWindowsScope,
    /// Only windows for which this format is true (`-f`, tmux 3.2+).
    #[serde(default)]
    pub filter: Option<String>,
}

impl OpDef for ListWindows {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::ListWindows,
        command: "list-windows",
        scope: Scope::Session,
        safety: Safety::Readonly,
        effects: Effects::READ,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[gate("-f", V3_2, GateMode::Refuse)],
        blocking: false,
        queues_commands: false,
        captures_ids: false,
        description: "List windows of the server or a session (payload windows)",
        fields: &[
            opt("scope", "\"server\" | {\"session\": target}"),
            opt("filter", "string (tmux format)"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        match &self.scope {
            ListWindowsScope::Server => args.flag("-a")?,
            ListWindowsScope::Session(target) => args.target("-t", target, TargetKind::Session)?,
        }
        args.value("-F", WINDOW_FORMAT)?;
        args.value_opt("-f", self.filter.as_deref())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        match &mut self.scope {
            ListWindowsScope::Server => Vec::new(),
            ListWindowsScope::Session(target) => vec![target],
        }
    }
}

/// `link-window`: shows a window in a second session too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkWindow {
    /// The window to link (`-s`).
    pub source: Target,
    /// Where (`-t`): a session, or a window index.
    pub target: Target,
    /// Place after (`-a`) or before (`-b`, tmux 3.2+) the target window.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Replace a window at the target index (`-k`).
    #[serde(default)]
    pub kill_existing: bool,
    /// Do not select the linked window (`-d`).
    #[serde(default)]
    pub detached: bool,
}

impl OpDef for LinkWindow {
    const SPEC: &'static OpSpec = window_spec!(
        LinkWindow,
        "link-window",
        Mutating,
        Effects::SET,
        &[gate("-b", V3_2, GateMode::Refuse)],
        "Link a window into another session as well",
        &[
            req("source", "target (window)"),
            req("target", "target (session or window index)"),
            opt("placement", "\"after\" | \"before\""),
            opt("kill_existing", "bool"),
            opt("detached", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if let Some(placement) = self.placement {
            args.flag(placement.flag())?;
        }
        args.flag_if(self.kill_existing, "-k")?;
        args.flag_if(self.detached, "-d")?;
        args.target("-s", &self.source, TargetKind::Window)?;
        args.target("-t", &self.target, TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.source, &mut self.target]
    }
}

/// `move-window`: moves a window to another index or session, or renumbers a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveWindow {
    /// The window to move (`-s`).
    #[serde(default)]
    pub source: Option<Target>,
    /// Where (`-t`): a session or a window index; with `renumber`, the session.
    #[serde(default)]
    pub target: Option<Target>,
    /// Renumber the target session's windows to close gaps (`-r`), instead of moving.
    #[serde(default)]
    pub renumber: bool,
    /// Place after (`-a`) or before (`-b`, tmux 3.2+) the target window.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Replace a window at the target index (`-k`).
    #[serde(default)]
    pub kill_existing: bool,
    /// Do not select the moved window (`-d`).
    #[serde(default)]
    pub detached: bool,
}

impl OpDef for MoveWindow {
    const SPEC: &'static OpSpec = window_spec!(
        MoveWindow,
        "move-window",
        Mutating,
        Effects::SET,
        &[gate("-b", V3_2, GateMode::Refuse)],
        "Move a window to another index or session, or renumber a session's windows",
        &[
            opt("source", "target (window)"),
            opt("target", "target (session or window index)"),
            opt("renumber", "bool"),
            opt("placement", "\"after\" | \"before\""),
            opt("kill_existing", "bool"),
            opt("detached", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.renumber && self.source.is_some() {
            return Err(args.invalid("renumber", "renumbering takes no source window"));
        }
        args.flag_if(self.renumber, "-r")?;
        if let Some(placement) = self.placement {
            args.flag(placement.flag())?;
        }
        args.flag_if(self.kill_existing, "-k")?;
        args.flag_if(self.detached, "-d")?;
        args.target_opt("-s", self.source.as_ref(), TargetKind::Window)?;
        let kind = if self.renumber {
            TargetKind::Session
        } else {
            TargetKind::Window
        };
        args.target_opt("-t", self.target.as_ref(), kind)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.source.as_mut(), self.target.as_mut()])
    }
}

/// `swap-window`: exchanges two windows' positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapWindow {
    /// One window (`-s`).
    pub source: Target,
    /// The other (`-t`).
    pub target: Target,
    /// Keep the current window where it is selected (`-d`).
    #[serde(default)]
    pub detached: bool,
}

impl OpDef for SwapWindow {
    const SPEC: &'static OpSpec = window_spec!(
        SwapWindow,
        "swap-window",
        Mutating,
        Effects::STEP,
        &[],
        "Swap the positions of two windows",
        &[
            req("source", "target (window)"),
            req("target", "target (window)"),
            opt("detached", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.detached, "-d")?;
        args.target("-s", &self.source, TargetKind::Window)?;
        args.target("-t", &self.target, TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.source, &mut self.target]
    }
}

/// `unlink-window`: removes a window from one session it is linked into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlinkWindow {
    /// The window (`-t`).
    pub target: Target,
    /// Also destroy it if this is its last link (`-k`).
    #[serde(default)]
    pub kill_if_last: bool,
}

impl OpDef for UnlinkWindow {
    const SPEC: &'static OpSpec = window_spec!(
        UnlinkWindow,
        "unlink-window",
        Destructive,
        Effects::DESTROY,
        &[],
        "Unlink a window from a session (destroying it with kill_if_last)",
        &[
            req("target", "target (window)"),
            opt("kill_if_last", "bool")
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.kill_if_last, "-k")?;
        args.target("-t", &self.target, TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `rotate-window`: rotates the panes of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateWindow {
    /// The window (`-t`).
    pub target: Target,
    /// Which way (`-U` or `-D`).
    pub direction: CycleDirection,
    /// Keep the window zoomed (`-Z`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub keep_zoom: bool,
}

impl OpDef for RotateWindow {
    const SPEC: &'static OpSpec = window_spec!(
        RotateWindow,
        "rotate-window",
        Mutating,
        Effects {
            idempotent: false,
            ..LAYOUT_CHANGE
        },
        &[gate("-Z", V3_1, GateMode::Drop)],
        "Rotate the positions of the panes in a window",
        &[
            req("target", "target (window)"),
            req("direction", "\"up\" | \"down\""),
            opt("keep_zoom", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag(self.direction.flag())?;
        args.flag_if(self.keep_zoom, "-Z")?;
        args.target("-t", &self.target, TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `select-layout`: arranges a window's panes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectLayout {
    /// The window (`-t`).
    pub target: Target,
    /// The layout.
    pub layout: Layout,
}

impl OpDef for SelectLayout {
    const SPEC: &'static OpSpec = window_spec!(
        SelectLayout,
        "select-layout",
        Mutating,
        LAYOUT_CHANGE,
        &[],
        "Arrange a window's panes in a preset or saved layout",
        &[
            req("target", "target (window)"),
            req(
                "layout",
                "\"even-horizontal\" | \"even-vertical\" | \"main-horizontal\" | \"main-vertical\" | \"tiled\" | {\"custom\": layout string}"
            ),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.layout.as_tmux().is_empty() {
            return Err(args.invalid("layout", "a custom layout cannot be empty"));
        }
        args.target("-t", &self.target, TargetKind::Window)?;
        args.positional([self.layout.as_tmux()]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// How `resize-window` changes a window's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowResize {
    /// To this size (`-x`, `-y`).
    To {
        #[serde(default)]
        width: Option<u32>,
        #[serde(default)]
        height: Option<u32>,
    },
    /// By this many cells in a direction (`-U`/`-D`/`-L`/`-R` and a count).
    By {
        direction: PaneDirection,
        cells: u32,
    },
    /// To the size of the largest attached client (`-A`).
    Largest,
    /// To the size of the smallest attached client (`-a`).
    Smallest,
}

/// `resize-window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeWindow {
    /// The window (`-t`).
    pub target: Target,
    /// The change.
    pub resize: WindowResize,
}

impl OpDef for ResizeWindow {
    const SPEC: &'static OpSpec = window_spec!(
        ResizeWindow,
        "resize-window",
        Mutating,
        LAYOUT_CHANGE,
        &[],
        "Resize a window (sets its window-size option to manual)",
        &[
            req("target", "target (window)"),
            req(
                "resize",
                "{\"to\": {width?, height?}} | {\"by\": {direction, cells}} | \"largest\" | \"smallest\""
            ),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        match self.resize {
            WindowResize::To { width, height } => {
                if width.is_none() && height.is_none() {
                    return Err(args.invalid("resize", "give a width, a height or both"));
                }
                if let Some(width) = width {
                    args.value("-x", width.to_string())?;
                }
                if let Some(height) = height {
                    args.value("-y", height.to_string())?;
                }
            }
            WindowResize::By { direction, .. } => args.flag(direction.flag())?,
            WindowResize::Largest => args.flag("-A")?,
            WindowResize::Smallest => args.flag("-a")?,
        }
        args.target("-t", &self.target, TargetKind::Window)?;
        if let WindowResize::By { cells, .. } = self.resize {
            args.positional([cells.to_string()]);
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `respawn-window`: restarts a window's command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespawnWindow {
    /// The window (`-t`).
    pub target: Target,
    /// Kill the running command first (`-k`); without it a live pane is an error.
    #[serde(default)]
    pub kill: bool,
    /// The working directory (`-c`).
    #[serde(default)]
    pub start_directory: Option<String>,
    /// Environment (`-e`, tmux 3.0+).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// The new command; the original one when empty.
    #[serde(default)]
    pub command: Vec<String>,
}

impl OpDef for RespawnWindow {
    const SPEC: &'static OpSpec = window_spec!(
        RespawnWindow,
        "respawn-window",
        Destructive,
        Effects {
            destructive: true,
            idempotent: false,
            ..LAYOUT_CHANGE
        },
        &[gate("-e", V3_0, GateMode::Refuse)],
        "Restart a window's command (killing the running one with kill)",
        &[
            req("target", "target (window)"),
            opt("kill", "bool"),
            opt("start_directory", "string (path)"),
            opt("environment", "object {NAME: value}"),
            opt("command", "array of strings (shell command)"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.kill, "-k")?;
        args.value_opt("-c", self.start_directory.as_deref())?;
        args.environment(&self.environment)?;
        args.target("-t", &self.target, TargetKind::Window)?;
        args.positional(&self.command);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}
