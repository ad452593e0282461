//! The metadata row every operation declares once: scope, safety, effects, version gates.

use serde::Serialize;

use crate::version::TmuxVersion;

use super::OpKind;

/// The oldest tmux release this crate models. Commands and flags that existed in 2.9 carry this
/// as their minimum; older servers are refused rather than guessed at.
pub const OLDEST_MODELLED: TmuxVersion = TmuxVersion::new(2, 9, 0);

pub(crate) const V2_9: TmuxVersion = OLDEST_MODELLED;
pub(crate) const V3_0: TmuxVersion = TmuxVersion::new(3, 0, 0);
pub(crate) const V3_1: TmuxVersion = TmuxVersion::new(3, 1, 0);
pub(crate) const V3_2: TmuxVersion = TmuxVersion::new(3, 2, 0);
pub(crate) const V3_4: TmuxVersion = TmuxVersion::new(3, 4, 0);
pub(crate) const V3_7: TmuxVersion = TmuxVersion::new(3, 7, 0);

/// What kind of tmux object an operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Server,
    Session,
    Window,
    Pane,
    Client,
}

/// How much harm running an operation by mistake can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// Only reads state.
    Readonly,
    /// Changes state that can be changed back.
    Mutating,
    /// Destroys something (a pane, a session, the server, history) that cannot be brought back.
    Destructive,
}

/// What an operation does to the server, as flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Effects {
    /// Changes nothing.
    pub read_only: bool,
    /// Destroys objects or data.
    pub destructive: bool,
    /// Running it twice leaves the same state as running it once.
    pub idempotent: bool,
    /// Creates a session, window or pane.
    pub creates: bool,
    /// Feeds input to a program in a pane.
    pub writes_input: bool,
    /// Returns what a pane or buffer holds.
    pub reads_output: bool,
    /// Changes pane or window geometry.
    pub mutates_layout: bool,
}

impl Effects {
    /// A pure read.
    pub(crate) const READ: Effects = Effects {
        read_only: true,
        destructive: false,
        idempotent: true,
        creates: false,
        writes_input: false,
        reads_output: false,
        mutates_layout: false,
    };
    /// A change that can be repeated harmlessly.
    pub(crate) const SET: Effects = Effects {
        read_only: false,
        destructive: false,
        idempotent: true,
        creates: false,
        writes_input: false,
        reads_output: false,
        mutates_layout: false,
    };
    /// A change whose repetition changes the result again (next, rotate, toggle).
    pub(crate) const STEP: Effects = Effects {
        idempotent: false,
        ..Effects::SET
    };
    /// Creates an object.
    pub(crate) const CREATE: Effects = Effects {
        creates: true,
        idempotent: false,
        ..Effects::SET
    };
    /// Destroys an object; repeating it fails or does nothing more.
    pub(crate) const DESTROY: Effects = Effects {
        destructive: true,
        idempotent: true,
        ..Effects::SET
    };
}

/// What `render` does with a flag the running server is too old for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMode {
    /// Leave the flag out: it only changes presentation (zoom kept, clipboard copy, trailing
    /// spaces, hyperlinks, verbosity), never what is created, run or destroyed.
    Drop,
    /// Refuse to render ([`super::RenderError::FlagUnsupported`]): without the flag the command
    /// would do something else (run a shell instead of a tmux command, lose environment, place
    /// or create objects elsewhere, execute a file it should only parse).
    Refuse,
}

/// A flag that appeared after the command itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FlagGate {
    /// The flag as written on the command line, e.g. `-e`.
    pub flag: &'static str,
    /// The first release that accepts it.
    #[serde(serialize_with = "serialize_version")]
    pub since: TmuxVersion,
    /// What happens on older servers.
    pub on_older: GateMode,
}

/// Shorthand for table rows.
pub(crate) const fn gate(flag: &'static str, since: TmuxVersion, on_older: GateMode) -> FlagGate {
    FlagGate {
        flag,
        since,
        on_older,
    }
}

/// One JSON field of an operation, for the catalog's short schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    /// The JSON key.
    pub name: &'static str,
    /// A short description of the value's type, e.g. `target (pane)` or `"horizontal" | "vertical"`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Whether the key must be present (others have defaults).
    pub required: bool,
}

/// Shorthand for a required field.
pub(crate) const fn req(name: &'static str, ty: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
    }
}

/// Shorthand for an optional field.
pub(crate) const fn opt(name: &'static str, ty: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
    }
}

/// The metadata of one operation kind: the row in cao's command table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpSpec {
    /// The operation's kind (its snake_case name in JSON).
    pub kind: OpKind,
    /// The tmux command it renders to, e.g. `split-window`.
    pub command: &'static str,
    /// The kind of object it acts on.
    pub scope: Scope,
    /// How much harm a mistaken run can do.
    pub safety: Safety,
    /// What it does, as flags.
    pub effects: Effects,
    /// Whether it may be joined with others in one `;` command group: false for commands whose
    /// failure or extra reply blocks would misattribute the results of their neighbours.
    pub chainable: bool,
    /// The oldest server that has the command.
    #[serde(serialize_with = "serialize_version")]
    pub min_version: TmuxVersion,
    /// Flags newer than the command.
    pub flag_gates: &'static [FlagGate],
    /// Whether it may block the connection it runs on until it finishes (see
    /// [`super::Operation::is_blocking`] for the per-value answer).
    pub blocking: bool,
    /// Whether it may queue further commands, which add reply blocks of their own (see
    /// [`super::Operation::queues_commands`]).
    pub queues_commands: bool,
    /// Whether it prints the ids of what it created (`-P -F` with [`super::ID_CAPTURE_FORMAT`]).
    pub captures_ids: bool,
    /// One line saying what it does.
    pub description: &'static str,
    /// Its JSON fields besides `kind`.
    pub fields: &'static [FieldSpec],
}

impl OpSpec {
    /// The gate of `flag`, if the flag is newer than the command.
    pub fn gate(&self, flag: &str) -> Option<&'static FlagGate> {
        self.flag_gates.iter().find(|gate| gate.flag == flag)
    }
}

/// Writes a version as the string tmux prints (`3.3a`).
pub(crate) fn serialize_version<S: serde::Serializer>(
    version: &TmuxVersion,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(version)
}

/// A table row for a command that blocks nothing, queues nothing, captures no ids and exists
/// in every modelled version: most rows. The scope modules wrap it with their scope.
macro_rules! plain_spec {
    ($kind:ident, $command:literal, $scope:ident, $safety:ident, $effects:expr, $chainable:expr, $gates:expr, $description:literal, $fields:expr) => {
        &$crate::ops::spec::OpSpec {
            kind: $crate::ops::OpKind::$kind,
            command: $command,
            scope: $crate::ops::spec::Scope::$scope,
            safety: $crate::ops::spec::Safety::$safety,
            effects: $effects,
            chainable: $chainable,
            min_version: $crate::ops::spec::V2_9,
            flag_gates: $gates,
            blocking: false,
            queues_commands: false,
            captures_ids: false,
            description: $description,
            fields: $fields,
        }
    };
}
pub(crate) use plain_spec;
