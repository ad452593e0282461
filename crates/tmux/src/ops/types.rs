//! Typed values shared by several operations: directions, sizes, layouts, option scopes,
//! capture ranges. None of them is a free string, so a typo is a JSON error, not a tmux flag.

use serde::{Deserialize, Serialize};

use super::target::Target;

/// How `split-window`/`join-pane` divide a pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitDirection {
    /// Side by side, a vertical divider (`-h`).
    Horizontal,
    /// One above the other, a horizontal divider (`-v`, tmux's default).
    #[default]
    Vertical,
}

impl SplitDirection {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            SplitDirection::Horizontal => "-h",
            SplitDirection::Vertical => "-v",
        }
    }
}

/// A direction on screen, for moving focus or resizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaneDirection {
    Up,
    Down,
    Left,
    Right,
}

impl PaneDirection {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            PaneDirection::Up => "-U",
            PaneDirection::Down => "-D",
            PaneDirection::Left => "-L",
            PaneDirection::Right => "-R",
        }
    }
}

/// Which way `rotate-window` turns the panes, or which neighbour `swap-pane` swaps with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleDirection {
    /// `-U`: towards the previous pane.
    Up,
    /// `-D`: towards the next pane.
    Down,
}

impl CycleDirection {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            CycleDirection::Up => "-U",
            CycleDirection::Down => "-D",
        }
    }
}

/// A pane size: cells, or a percentage of the available space (tmux 3.1+ writes `-l 30%`;
/// older splits use `-p 30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Size {
    Cells(u32),
    Percent(u8),
}

impl Size {
    pub(crate) fn check(self) -> Result<(), String> {
        match self {
            Size::Cells(0) => Err("a size must be at least 1 cell".into()),
            Size::Percent(p) if p == 0 || p > 100 => {
                Err(format!("a percentage must be 1 to 100, not {p}"))
            }
            _ => Ok(()),
        }
    }
}

/// A window layout: one of tmux's five presets or a layout string (as `#{window_layout}`
/// prints it, checksum included).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    EvenHorizontal,
    EvenVertical,
    MainHorizontal,
    MainVertical,
    Tiled,
    /// `{"custom": "b25d,80x24,0,0,0"}`.
    Custom(String),
}

impl Layout {
    /// The word `select-layout` takes.
    pub fn as_tmux(&self) -> &str {
        match self {
            Layout::EvenHorizontal => "even-horizontal",
            Layout::EvenVertical => "even-vertical",
            Layout::MainHorizontal => "main-horizontal",
            Layout::MainVertical => "main-vertical",
            Layout::Tiled => "tiled",
            Layout::Custom(layout) => layout,
        }
    }
}

/// Where a new or moved window goes relative to the target window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// `-a`: the next index after the target, shifting others up.
    After,
    /// `-b` (tmux 3.2+): the index before the target.
    Before,
}

impl Placement {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Placement::After => "-a",
            Placement::Before => "-b",
        }
    }
}

/// Which lines `capture-pane` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CaptureRange {
    /// The visible screen.
    #[default]
    Visible,
    /// The visible screen and up to this many lines of history above it (`-S -N`).
    History(u32),
    /// All history and the visible screen (`-S - -E -`).
    All,
    /// Lines `start..=end`; 0 is the top visible line, negative numbers reach into history.
    Lines { start: i64, end: i64 },
}

/// Which options `set-option`/`show-options` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OptionScope {
    /// Server options (`-s`).
    Server,
    /// Global session options, the defaults of every session (`-g`).
    GlobalSession,
    /// One session's options (`-t session`).
    Session(Target),
    /// Global window options (`-g -w`).
    GlobalWindow,
    /// One window's options (`-w -t window`).
    Window(Target),
    /// One pane's options (`-p -t pane`, tmux 3.1+).
    Pane(Target),
}

impl OptionScope {
    pub(crate) fn target_mut(&mut self) -> Option<&mut Target> {
        match self {
            OptionScope::Session(t) | OptionScope::Window(t) | OptionScope::Pane(t) => Some(t),
            _ => None,
        }
    }
}

/// The scope of a hook for `set-hook`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HookScope {
    /// Global session hooks (`-g`).
    Global,
    /// One session's hooks (`-t session`).
    Session(Target),
    /// One window's hooks (`-w -t window`, tmux 3.2+).
    Window(Target),
    /// One pane's hooks (`-p -t pane`, tmux 3.2+).
    Pane(Target),
}

impl HookScope {
    pub(crate) fn target_mut(&mut self) -> Option<&mut Target> {
        match self {
            HookScope::Session(t) | HookScope::Window(t) | HookScope::Pane(t) => Some(t),
            HookScope::Global => None,
        }
    }
}
