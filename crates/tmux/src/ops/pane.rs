//! Pane operations: split_window, new_pane, kill_pane, select_pane, last_pane, resize_pane,
//! swap_pane, join_pane, move_pane, break_pane, capture_pane, clear_history, pipe_pane,
//! respawn_pane, send_keys, display_message, list_panes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::render::Args;
use super::result::PANE_FORMAT;
use super::spec::{gate, opt, req, Effects, FieldSpec, GateMode, OpSpec, Safety, Scope};
use super::spec::{V2_9, V3_0, V3_1, V3_2, V3_4, V3_7};
use super::target::{Target, TargetKind};
use super::types::{CaptureRange, CycleDirection, PaneDirection, Placement, Size, SplitDirection};
use super::{targets, OpDef, OpKind, RenderError, FIELD_SEPARATOR};

/// A row of the table with the fields most pane commands share.
macro_rules! pane_spec {
    ($kind:ident, $command:literal, $safety:ident, $effects:expr, $gates:expr, $description:literal, $fields:expr) => {
        $crate::ops::spec::plain_spec!(
            $kind,
            $command,
            Pane,
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

const CREATE_PANE: Effects = Effects {
    mutates_layout: true,
    ..Effects::CREATE
};

const READ_OUTPUT: Effects = Effects {
    reads_output: true,
    ..Effects::READ
};

/// Writes a split size: `-l N`, `-l N%` (3.1+) or, on older servers, `-p N`.
fn split_size(args: &mut Args, size: Option<Size>) -> Result<(), RenderError> {
    let Some(size) = size else { return Ok(()) };
    size.check()
        .map_err(|reason| args.invalid("size", reason))?;
    match size {
        Size::Cells(cells) => args.value("-l", cells.to_string()),
        Size::Percent(percent) if args.supports("-l N%") => args.value("-l", format!("{percent}%")),
        Size::Percent(percent) => args.value("-p", percent.to_string()),
    }
}

/// The fields `split-window`, `join-pane` and `move-pane` share in the catalog.
const SPLIT_FIELDS_DIRECTION: FieldSpec =
    opt("direction", "\"horizontal\" | \"vertical\" (default)");
const SIZE_FIELD: FieldSpec = opt("size", "{\"cells\": n} | {\"percent\": 1-100}");

/// `split-window`: splits a pane and reports the new pane's ids.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitWindow {
    /// The pane to split (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Side by side (`horizontal`, `-h`) or stacked (`vertical`, `-v`, the default).
    #[serde(default)]
    pub direction: SplitDirection,
    /// The new pane's size (`-l`).
    #[serde(default)]
    pub size: Option<Size>,
    /// Put the new pane left of or above the target (`-b`).
    #[serde(default)]
    pub before: bool,
    /// Span the whole window width or height (`-f`).
    #[serde(default)]
    pub full: bool,
    /// Keep the current pane active (`-d`).
    #[serde(default)]
    pub detached: bool,
    /// The working directory (`-c`).
    #[serde(default)]
    pub start_directory: Option<String>,
    /// Environment (`-e`, tmux 3.0+).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Keep the window zoomed (`-Z`, tmux 3.2+; dropped on older servers).
    #[serde(default)]
    pub keep_zoom: bool,
    /// The new pane's command.
    #[serde(default)]
    pub command: Vec<String>,
}

impl OpDef for SplitWindow {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::SplitWindow,
        command: "split-window",
        scope: Scope::Pane,
        safety: Safety::Mutating,
        effects: CREATE_PANE,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[
            gate("-e", V3_0, GateMode::Refuse),
            // Before 3.1 a percentage is written `-p N` instead.
            gate("-l N%", V3_1, GateMode::Drop),
            gate("-Z", V3_2, GateMode::Drop),
        ],
        blocking: false,
        queues_commands: false,
        captures_ids: true,
        description: "Split a pane in two and report the new pane's session, window and pane ids",
        fields: &[
            opt("target", "target (pane)"),
            SPLIT_FIELDS_DIRECTION,
            SIZE_FIELD,
            opt("before", "bool"),
            opt("full", "bool"),
            opt("detached", "bool"),
            opt("start_directory", "string (path)"),
            opt("environment", "object {NAME: value}"),
            opt("keep_zoom", "bool"),
            opt("command", "array of strings (shell command)"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target_opt("-t", self.target.as_ref(), TargetKind::Pane)?;
        args.flag(self.direction.flag())?;
        split_size(args, self.size)?;
        args.flag_if(self.before, "-b")?;
        args.flag_if(self.full, "-f")?;
        args.flag_if(self.detached, "-d")?;
        args.flag_if(self.keep_zoom, "-Z")?;
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

/// `new-pane` (tmux 3.7+): creates a floating pane above the layout and reports its ids.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPane {
    /// A pane of the window to float over (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Width in cells (`-x`).
    #[serde(default)]
    pub width: Option<u32>,
    /// Height in cells (`-y`).
    #[serde(default)]
    pub height: Option<u32>,
    /// Column of the left edge (`-X`).
    #[serde(default)]
    pub x: Option<u32>,
    /// Row of the top edge (`-Y`).
    #[serde(default)]
    pub y: Option<u32>,
    /// Keep the current pane active (`-d`).
    #[serde(default)]
    pub detached: bool,
    /// The working directory (`-c`).
    #[serde(default)]
    pub start_directory: Option<String>,
    /// Environment (`-e`).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// The pane's command.
    #[serde(default)]
    pub command: Vec<String>,
}

impl OpDef for NewPane {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::NewPane,
        command: "new-pane",
        scope: Scope::Pane,
        safety: Safety::Mutating,
        effects: Effects::CREATE,
        chainable: true,
        min_version: V3_7,
        flag_gates: &[],
        blocking: false,
        queues_commands: false,
        captures_ids: true,
        description: "Create a floating pane and report its session, window and pane ids",
        fields: &[
            opt("target", "target (pane)"),
            opt("width", "integer (cells)"),
            opt("height", "integer (cells)"),
            opt("x", "integer (column)"),
            opt("y", "integer (row)"),
            opt("detached", "bool"),
            opt("start_directory", "string (path)"),
            opt("environment", "object {NAME: value}"),
            opt("command", "array of strings (shell command)"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target_opt("-t", self.target.as_ref(), TargetKind::Pane)?;
        args.flag_if(self.detached, "-d")?;
        for (flag, value) in [
            ("-x", self.width),
            ("-y", self.height),
            ("-X", self.x),
            ("-Y", self.y),
        ] {
            if let Some(value) = value {
                args.value(flag, value.to_string())?;
            }
        }
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

/// `kill-pane`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillPane {
    /// The pane (`-t`).
    pub target: Target,
    /// Kill every other pane of its window instead (`-a`).
    #[serde(default)]
    pub all_others: bool,
}

impl OpDef for KillPane {
    const SPEC: &'static OpSpec = pane_spec!(
        KillPane,
        "kill-pane",
        Destructive,
        Effects {
            mutates_layout: true,
            ..Effects::DESTROY
        },
        &[],
        "Destroy a pane (or all others in its window) and its process",
        &[req("target", "target (pane)"), opt("all_others", "bool")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.all_others, "-a")?;
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `select-pane`: makes a pane active, optionally moving in a direction or setting its title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectPane {
    /// The pane (`-t`), or the starting point for `direction`.
    pub target: Target,
    /// Select the neighbour in this direction instead (`-U`/`-D`/`-L`/`-R`).
    #[serde(default)]
    pub direction: Option<PaneDirection>,
    /// Set the pane title (`-T`).
    #[serde(default)]
    pub title: Option<String>,
    /// Keep the window zoomed (`-Z`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub keep_zoom: bool,
}

impl OpDef for SelectPane {
    const SPEC: &'static OpSpec = pane_spec!(
        SelectPane,
        "select-pane",
        Mutating,
        Effects::SET,
        &[gate("-Z", V3_1, GateMode::Drop)],
        "Make a pane active (or its neighbour in a direction); optionally set its title",
        &[
            req("target", "target (pane)"),
            opt("direction", "\"up\" | \"down\" | \"left\" | \"right\""),
            opt("title", "string"),
            opt("keep_zoom", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if let Some(direction) = self.direction {
            args.flag(direction.flag())?;
        }
        args.flag_if(self.keep_zoom, "-Z")?;
        args.value_opt("-T", self.title.as_deref())?;
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `last-pane`: selects the previously active pane of a window.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastPane {
    /// The window (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Keep the window zoomed (`-Z`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub keep_zoom: bool,
}

impl OpDef for LastPane {
    const SPEC: &'static OpSpec = pane_spec!(
        LastPane,
        "last-pane",
        Mutating,
        Effects::STEP,
        &[gate("-Z", V3_1, GateMode::Drop)],
        "Select the previously active pane of a window",
        &[opt("target", "target (window)"), opt("keep_zoom", "bool")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.keep_zoom, "-Z")?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Window)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// How `resize-pane` changes a pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PaneResize {
    /// To this width and/or height (`-x`, `-y`); percentages need tmux 3.1+.
    To {
        #[serde(default)]
        width: Option<Size>,
        #[serde(default)]
        height: Option<Size>,
    },
    /// By this many cells in a direction (`-U`/`-D`/`-L`/`-R` and a count).
    By {
        direction: PaneDirection,
        cells: u32,
    },
    /// Zoom the pane, or unzoom it if zoomed (`-Z`).
    ToggleZoom,
}

/// `resize-pane`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizePane {
    /// The pane (`-t`).
    pub target: Target,
    /// The change.
    pub resize: PaneResize,
}

impl ResizePane {
    fn size_value(args: &mut Args, field: &'static str, size: Size) -> Result<String, RenderError> {
        size.check().map_err(|reason| args.invalid(field, reason))?;
        Ok(match size {
            Size::Cells(cells) => cells.to_string(),
            Size::Percent(percent) => {
                args.require("-x/-y N%")?;
                format!("{percent}%")
            }
        })
    }
}

impl OpDef for ResizePane {
    const SPEC: &'static OpSpec = pane_spec!(
        ResizePane,
        "resize-pane",
        Mutating,
        LAYOUT_CHANGE,
        &[gate("-x/-y N%", V3_1, GateMode::Refuse)],
        "Resize a pane to a size or by an amount, or toggle its zoom",
        &[
            req("target", "target (pane)"),
            req(
                "resize",
                "{\"to\": {width?: size, height?: size}} | {\"by\": {direction, cells}} | \"toggle_zoom\""
            ),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        match self.resize {
            PaneResize::To { width, height } => {
                if width.is_none() && height.is_none() {
                    return Err(args.invalid("resize", "give a width, a height or both"));
                }
                if let Some(width) = width {
                    let value = Self::size_value(args, "width", width)?;
                    args.value("-x", value)?;
                }
                if let Some(height) = height {
                    let value = Self::size_value(args, "height", height)?;
                    args.value("-y", value)?;
                }
            }
            PaneResize::By { direction, .. } => args.flag(direction.flag())?,
            PaneResize::ToggleZoom => args.flag("-Z")?,
        }
        args.target("-t", &self.target, TargetKind::Pane)?;
        if let PaneResize::By { cells, .. } = self.resize {
            args.positional([cells.to_string()]);
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `swap-pane`: exchanges two panes, or a pane with its neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapPane {
    /// The pane to move (`-t`).
    pub target: Target,
    /// The pane to swap with (`-s`); give this or `direction`.
    #[serde(default)]
    pub source: Option<Target>,
    /// Swap with the previous (`up`, `-U`) or next (`down`, `-D`) pane instead.
    #[serde(default)]
    pub direction: Option<CycleDirection>,
    /// Do not change the active pane (`-d`).
    #[serde(default)]
    pub detached: bool,
    /// Keep the window zoomed (`-Z`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub keep_zoom: bool,
}

impl OpDef for SwapPane {
    const SPEC: &'static OpSpec = pane_spec!(
        SwapPane,
        "swap-pane",
        Mutating,
        Effects {
            idempotent: false,
            ..LAYOUT_CHANGE
        },
        &[gate("-Z", V3_1, GateMode::Drop)],
        "Swap two panes, or a pane with its previous or next neighbour",
        &[
            req("target", "target (pane)"),
            opt("source", "target (pane)"),
            opt("direction", "\"up\" | \"down\""),
            opt("detached", "bool"),
            opt("keep_zoom", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        match (&self.source, self.direction) {
            (Some(source), None) => args.target("-s", source, TargetKind::Pane)?,
            (None, Some(direction)) => args.flag(direction.flag())?,
            _ => return Err(args.invalid("source", "give exactly one of source and direction")),
        }
        args.flag_if(self.detached, "-d")?;
        args.flag_if(self.keep_zoom, "-Z")?;
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        let mut found = vec![&mut self.target];
        found.extend(self.source.as_mut());
        found
    }
}

macro_rules! join_like {
    ($(#[$doc:meta])* $name:ident, $command:literal, $full_since:ident, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The pane to move (`-s`).
            pub source: Target,
            /// The pane to split for it (`-t`).
            pub target: Target,
            /// Side by side (`horizontal`, `-h`) or stacked (`vertical`, `-v`, the default).
            #[serde(default)]
            pub direction: SplitDirection,
            /// The moved pane's size (`-l`).
            #[serde(default)]
            pub size: Option<Size>,
            /// Put it left of or above the target (`-b`).
            #[serde(default)]
            pub before: bool,
            /// Span the whole window width or height (`-f`).
            #[serde(default)]
            pub full: bool,
            /// Keep the current pane active (`-d`).
            #[serde(default)]
            pub detached: bool,
        }

        impl OpDef for $name {
            const SPEC: &'static OpSpec = pane_spec!(
                $name,
                $command,
                Mutating,
                LAYOUT_CHANGE,
                &[
                    gate("-l N%", V3_1, GateMode::Drop),
                    gate("-f", $full_since, GateMode::Refuse),
                ],
                $description,
                &[
                    req("source", "target (pane)"),
                    req("target", "target (pane)"),
                    SPLIT_FIELDS_DIRECTION,
                    SIZE_FIELD,
                    opt("before", "bool"),
                    opt("full", "bool"),
                    opt("detached", "bool"),
                ]
            );

            fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
                args.flag(self.direction.flag())?;
                split_size(args, self.size)?;
                args.flag_if(self.before, "-b")?;
                args.flag_if(self.full, "-f")?;
                args.flag_if(self.detached, "-d")?;
                args.target("-s", &self.source, TargetKind::Pane)?;
                args.target("-t", &self.target, TargetKind::Pane)
            }

            fn targets_mut(&mut self) -> Vec<&mut Target> {
                vec![&mut self.source, &mut self.target]
            }
        }
    };
}

join_like!(
    /// `join-pane`: moves a pane into another window by splitting a pane there.
    JoinPane,
    "join-pane",
    V3_1,
    "Move a pane into another window, splitting the target pane"
);
join_like!(
    /// `move-pane`: like `join-pane` (tmux treats them alike).
    MovePane,
    "move-pane",
    V3_2,
    "Move a pane next to another pane (same as join_pane)"
);

/// `break-pane`: moves a pane out into a window of its own and reports the new ids.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakPane {
    /// The pane (`-s`).
    #[serde(default)]
    pub source: Option<Target>,
    /// Where the new window goes (`-t`): a session or a window index.
    #[serde(default)]
    pub target: Option<Target>,
    /// The new window's name (`-n`).
    #[serde(default)]
    pub name: Option<String>,
    /// Do not select the new window (`-d`).
    #[serde(default)]
    pub detached: bool,
    /// Place after (`-a`) or before (`-b`) the target window (tmux 3.2+).
    #[serde(default)]
    pub placement: Option<Placement>,
}

impl OpDef for BreakPane {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::BreakPane,
        command: "break-pane",
        scope: Scope::Pane,
        safety: Safety::Mutating,
        effects: CREATE_PANE,
        chainable: true,
        min_version: V2_9,
        flag_gates: &[
            gate("-a", V3_2, GateMode::Refuse),
            gate("-b", V3_2, GateMode::Refuse),
        ],
        blocking: false,
        queues_commands: false,
        captures_ids: true,
        description: "Move a pane into a new window of its own and report its ids",
        fields: &[
            opt("source", "target (pane)"),
            opt("target", "target (session or window index)"),
            opt("name", "string"),
            opt("detached", "bool"),
            opt("placement", "\"after\" | \"before\""),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.detached, "-d")?;
        if let Some(placement) = self.placement {
            args.flag(placement.flag())?;
        }
        args.name("-n", "name", self.name.as_deref())?;
        args.target_opt("-s", self.source.as_ref(), TargetKind::Pane)?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Window)?;
        args.capture_ids()
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.source.as_mut(), self.target.as_mut()])
    }
}

/// `capture-pane -p`: the text of a pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturePane {
    /// The pane (`-t`).
    pub target: Target,
    /// Which lines; the visible screen by default.
    #[serde(default)]
    pub range: CaptureRange,
    /// Join wrapped lines and keep trailing spaces (`-J`).
    #[serde(default)]
    pub join_wrapped: bool,
    /// Include colour and attribute escape sequences (`-e`).
    #[serde(default)]
    pub escapes: bool,
    /// Keep trailing spaces (`-N`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub preserve_trailing: bool,
}

impl OpDef for CapturePane {
    const SPEC: &'static OpSpec = pane_spec!(
        CapturePane,
        "capture-pane",
        Readonly,
        READ_OUTPUT,
        &[gate("-N", V3_1, GateMode::Drop)],
        "Capture a pane's visible text or history (payload lines)",
        &[
            req("target", "target (pane)"),
            opt(
                "range",
                "\"visible\" | {\"history\": n} | \"all\" | {\"lines\": {start, end}}"
            ),
            opt("join_wrapped", "bool"),
            opt("escapes", "bool"),
            opt("preserve_trailing", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag("-p")?;
        args.flag_if(self.join_wrapped, "-J")?;
        args.flag_if(self.escapes, "-e")?;
        args.flag_if(self.preserve_trailing, "-N")?;
        match self.range {
            CaptureRange::Visible => {}
            CaptureRange::History(lines) => args.value("-S", format!("-{lines}"))?,
            CaptureRange::All => {
                args.value("-S", "-")?;
                args.value("-E", "-")?;
            }
            CaptureRange::Lines { start, end } => {
                if start > end {
                    return Err(args.invalid("range", format!("start {start} is after end {end}")));
                }
                args.value("-S", start.to_string())?;
                args.value("-E", end.to_string())?;
            }
        }
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `clear-history`: drops a pane's scrollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearHistory {
    /// The pane (`-t`).
    pub target: Target,
    /// Also forget its hyperlinks (`-H`, tmux 3.4+; dropped on older servers).
    #[serde(default)]
    pub hyperlinks: bool,
}

impl OpDef for ClearHistory {
    const SPEC: &'static OpSpec = pane_spec!(
        ClearHistory,
        "clear-history",
        Destructive,
        Effects::DESTROY,
        &[gate("-H", V3_4, GateMode::Drop)],
        "Delete a pane's scrollback history",
        &[req("target", "target (pane)"), opt("hyperlinks", "bool")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.hyperlinks, "-H")?;
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `pipe-pane`: pipes a pane's output to (or input from) a shell command; without a command,
/// closes the pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipePane {
    /// The pane (`-t`).
    pub target: Target,
    /// The shell command; `None` closes an open pipe.
    #[serde(default)]
    pub command: Option<String>,
    /// Feed the command's output to the pane as input (`-I`).
    #[serde(default)]
    pub input: bool,
    /// Feed the pane's output to the command (`-O`; tmux's default when neither is set).
    #[serde(default)]
    pub output: bool,
    /// Only open a pipe if none is open (`-o`).
    #[serde(default)]
    pub only_if_none: bool,
}

impl OpDef for PipePane {
    const SPEC: &'static OpSpec = pane_spec!(
        PipePane,
        "pipe-pane",
        Mutating,
        Effects {
            reads_output: true,
            writes_input: true,
            ..Effects::SET
        },
        &[],
        "Pipe a pane's output to a shell command (or close the pipe)",
        &[
            req("target", "target (pane)"),
            opt("command", "string (shell command)"),
            opt("input", "bool"),
            opt("output", "bool"),
            opt("only_if_none", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.input, "-I")?;
        args.flag_if(self.output, "-O")?;
        args.flag_if(self.only_if_none, "-o")?;
        args.target("-t", &self.target, TargetKind::Pane)?;
        args.positional(self.command.as_deref());
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// `respawn-pane`: restarts a pane's command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespawnPane {
    /// The pane (`-t`).
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

impl OpDef for RespawnPane {
    const SPEC: &'static OpSpec = pane_spec!(
        RespawnPane,
        "respawn-pane",
        Destructive,
        Effects {
            destructive: true,
            idempotent: false,
            ..Effects::SET
        },
        &[gate("-e", V3_0, GateMode::Refuse)],
        "Restart a pane's command (killing the running one with kill)",
        &[
            req("target", "target (pane)"),
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
        args.target("-t", &self.target, TargetKind::Pane)?;
        args.positional(&self.command);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

/// What `send-keys` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyInput {
    /// Key names tmux looks up (`Enter`, `C-c`, `Up`); a word that is no key name is typed
    /// as text.
    Keys(Vec<String>),
    /// Text typed exactly, never looked up as key names (`-l`).
    Literal(String),
    /// A copy-mode command (`-X`), such as `cancel`, for a pane in copy mode.
    CopyMode(String),
}

/// `send-keys`: types into a pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendKeys {
    /// The pane (`-t`).
    pub target: Target,
    /// The keys or text.
    pub input: KeyInput,
    /// Send it this many times (`-N`).
    #[serde(default)]
    pub repeat: Option<u32>,
}

impl OpDef for SendKeys {
    const SPEC: &'static OpSpec = pane_spec!(
        SendKeys,
        "send-keys",
        Mutating,
        Effects {
            writes_input: true,
            idempotent: false,
            ..Effects::SET
        },
        &[],
        "Type keys or literal text into a pane",
        &[
            req("target", "target (pane)"),
            req(
                "input",
                "{\"keys\": [key names]} | {\"literal\": text} | {\"copy_mode\": command}"
            ),
            opt("repeat", "integer"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if let Some(repeat) = self.repeat {
            args.value("-N", repeat.to_string())?;
        }
        args.target("-t", &self.target, TargetKind::Pane)?;
        match &self.input {
            KeyInput::Keys(keys) => {
                if keys.is_empty() || keys.iter().any(String::is_empty) {
                    return Err(args.invalid("input", "give at least one key, and no empty key"));
                }
                args.positional(keys);
            }
            KeyInput::Literal(text) => {
                if text.is_empty() {
                    return Err(args.invalid("input", "literal text cannot be empty"));
                }
                args.flag("-l")?;
                args.positional([text.as_str()]);
            }
            KeyInput::CopyMode(command) => {
                if command.is_empty() {
                    return Err(args.invalid("input", "a copy-mode command cannot be empty"));
                }
                args.flag("-X")?;
                args.positional([command.as_str()]);
            }
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        vec![&mut self.target]
    }
}

fn default_true() -> bool {
    true
}

/// `display-message`: expands a format (printed with `-p`, the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayMessage {
    /// The pane whose context expands the format (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// The format, e.g. `#{pane_current_command}`.
    pub format: String,
    /// Print to the reply (`-p`, default) instead of a client's status line.
    #[serde(default = "default_true")]
    pub print: bool,
    /// Print the text as is, without expanding formats (`-l`, tmux 3.4+).
    #[serde(default)]
    pub literal: bool,
}

impl OpDef for DisplayMessage {
    const SPEC: &'static OpSpec = pane_spec!(
        DisplayMessage,
        "display-message",
        Readonly,
        Effects::READ,
        &[gate("-l", V3_4, GateMode::Refuse)],
        "Expand a format in a pane's context and print it (payload lines)",
        &[
            opt("target", "target (pane)"),
            req("format", "string (tmux format)"),
            opt("print", "bool (default true)"),
            opt("literal", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.print, "-p")?;
        args.flag_if(self.literal, "-l")?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Pane)?;
        args.positional([self.format.as_str()]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// Which panes `list-panes` lists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ListPanesScope {
    /// Every pane on the server (`-a`).
    #[default]
    Server,
    /// The panes of one session (`-s -t`).
    Session(Target),
    /// The panes of one window (`-t`).
    Window(Target),
}

/// `list-panes`: panes as typed rows (the same rows a [`crate::snapshot::Snapshot`] is
/// built from).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListPanes {
    /// Which panes; every pane by default.
    #[serde(default)]
    pub scope: ListPanesScope,
    /// Only panes for which this format is true (`-f`, tmux 3.2+).
    #[serde(default)]
    pub filter: Option<String>,
    /// User options to read per pane too, by name without the `@` (letters, digits, `_` and
    /// `-`): each row's `user_options`.
    #[serde(default)]
    pub user_options: Vec<String>,
}

impl OpDef for ListPanes {
    const SPEC: &'static OpSpec = pane_spec!(
        ListPanes,
        "list-panes",
        Readonly,
        Effects::READ,
        &[gate("-f", V3_2, GateMode::Refuse)],
        "List panes of the server, a session or a window with their session and window (payload panes)",
        &[
            opt("scope", "\"server\" | {\"session\": target} | {\"window\": target}"),
            opt("filter", "string (tmux format)"),
            opt("user_options", "array of strings (user option names without @)"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        match &self.scope {
            ListPanesScope::Server => args.flag("-a")?,
            ListPanesScope::Session(target) => {
                args.flag("-s")?;
                args.target("-t", target, TargetKind::Session)?;
            }
            ListPanesScope::Window(target) => args.target("-t", target, TargetKind::Window)?,
        }
        let mut format = PANE_FORMAT.to_string();
        for name in &self.user_options {
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !plain {
                return Err(args.invalid(
                    "user_options",
                    format!("{name:?} is not a user option name (letters, digits, '_' and '-')"),
                ));
            }
            format.push(FIELD_SEPARATOR);
            format.push_str(&format!("#{{@{name}}}"));
        }
        args.value("-F", format)?;
        args.value_opt("-f", self.filter.as_deref())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        match &mut self.scope {
            ListPanesScope::Server => Vec::new(),
            ListPanesScope::Session(target) | ListPanesScope::Window(target) => vec![target],
        }
    }
}
