//! Targets: which session, window, pane or client an operation acts on, validated and rendered
//! for tmux's `-t`/`-s`/`-c` arguments, including forward references to objects a plan has not
//! created yet.
//!
//! In JSON (and on the command line) a target is one string, checked when read:
//!
//! | string | meaning | renders |
//! |---|---|---|
//! | `%3`, `@2`, `$1` | a pane, window or session id | itself |
//! | `=work` | the session named exactly `work` | `=work` (or `=work:` for a window/pane) |
//! | `=work:2`, `$1:2` | window index 2 of a session | itself |
//! | `=work:2.1`, `$1:2.1`, `@3.1` | pane index 1 of a window | itself |
//! | `{last}`, `{marked}`, … | a special token ([`Special`]) | itself |
//! | `client:/dev/pts/3` | a client, by name | `/dev/pts/3` |
//! | `{slot:2.pane}` | the pane created by step 2 of a plan ([`SlotRef`]) | cannot render |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{PaneId, SessionId, WindowId};

/// The kind of object a command argument names; decides how a [`Target`] renders and whether
/// it is allowed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Session,
    Window,
    Pane,
    Client,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Session => "session",
            TargetKind::Window => "window",
            TargetKind::Pane => "pane",
            TargetKind::Client => "client",
        })
    }
}

/// Special tokens tmux resolves relative to the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Special {
    /// `{marked}`: the marked pane (`select-pane -m`); sessions, windows and panes.
    Marked,
    /// `{mouse}`: where the last mouse event happened; sessions, windows and panes.
    Mouse,
    /// `{last}`: the previously current window, or previously active pane.
    Last,
    /// `{next}`: the next window by number, or next pane.
    Next,
    /// `{previous}`: the previous window by number, or previous pane.
    Previous,
    /// `{start}`: the lowest-numbered window.
    Start,
    /// `{end}`: the highest-numbered window.
    End,
    /// `{top}`: the top pane.
    Top,
    /// `{bottom}`: the bottom pane.
    Bottom,
    /// `{left}`: the leftmost pane.
    Left,
    /// `{right}`: the rightmost pane.
    Right,
    /// `{top-left}`.
    TopLeft,
    /// `{top-right}`.
    TopRight,
    /// `{bottom-left}`.
    BottomLeft,
    /// `{bottom-right}`.
    BottomRight,
    /// `{up-of}`: the pane above the active pane.
    UpOf,
    /// `{down-of}`: the pane below the active pane.
    DownOf,
    /// `{left-of}`: the pane left of the active pane.
    LeftOf,
    /// `{right-of}`: the pane right of the active pane.
    RightOf,
}

impl Special {
    /// Every token, for parsing.
    pub const ALL: [Special; 19] = [
        Special::Marked,
        Special::Mouse,
        Special::Last,
        Special::Next,
        Special::Previous,
        Special::Start,
        Special::End,
        Special::Top,
        Special::Bottom,
        Special::Left,
        Special::Right,
        Special::TopLeft,
        Special::TopRight,
        Special::BottomLeft,
        Special::BottomRight,
        Special::UpOf,
        Special::DownOf,
        Special::LeftOf,
        Special::RightOf,
    ];

    /// The token as tmux spells it, with braces.
    pub fn token(self) -> &'static str {
        match self {
            Special::Marked => "{marked}",
            Special::Mouse => "{mouse}",
            Special::Last => "{last}",
            Special::Next => "{next}",
            Special::Previous => "{previous}",
            Special::Start => "{start}",
            Special::End => "{end}",
            Special::Top => "{top}",
            Special::Bottom => "{bottom}",
            Special::Left => "{left}",
            Special::Right => "{right}",
            Special::TopLeft => "{top-left}",
            Special::TopRight => "{top-right}",
            Special::BottomLeft => "{bottom-left}",
            Special::BottomRight => "{bottom-right}",
            Special::UpOf => "{up-of}",
            Special::DownOf => "{down-of}",
            Special::LeftOf => "{left-of}",
            Special::RightOf => "{right-of}",
        }
    }

    /// Whether tmux documents the token for arguments of this kind.
    pub fn allowed_for(self, kind: TargetKind) -> bool {
        use Special::*;
        match self {
            Marked | Mouse => kind != TargetKind::Client,
            Last | Next | Previous => matches!(kind, TargetKind::Window | TargetKind::Pane),
            Start | End => kind == TargetKind::Window,
            _ => kind == TargetKind::Pane,
        }
    }
}

/// Which object of a plan step's [`NewIds`](super::NewIds) a slot reference means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotPart {
    Session,
    Window,
    Pane,
}

impl SlotPart {
    fn name(self) -> &'static str {
        match self {
            SlotPart::Session => "session",
            SlotPart::Window => "window",
            SlotPart::Pane => "pane",
        }
    }
}

/// A forward reference inside a plan: the session, window or pane created by step `slot`.
/// A planner replaces it with a real id ([`super::Operation::resolve_slots`]) before rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlotRef {
    /// The index of the creating step in its plan.
    pub slot: usize,
    /// Which of the created ids is meant.
    pub part: SlotPart,
}

impl fmt::Display for SlotRef {
    /// `{slot:2.pane}`, the placeholder previews show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{slot:{}.{}}}", self.slot, self.part.name())
    }
}

/// What an index target counts from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndexParent {
    /// A session by id: `$1:2`.
    Session(SessionId),
    /// A session by exact name: `=work:2`.
    SessionName(String),
    /// A window by id (only with a pane index): `@3.1`.
    Window(WindowId),
}

/// A tmux object to act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A pane by id, `%N`.
    Pane(PaneId),
    /// A window by id, `@N`.
    Window(WindowId),
    /// A session by id, `$N`.
    Session(SessionId),
    /// A client by name (its tty, like `/dev/pts/3`, or `client-<pid>` for control clients).
    Client(String),
    /// A session by exact name: renders `=name` (`=name:` where a window or pane is expected,
    /// meaning that session's current window or active pane).
    Name(String),
    /// A window (`window: Some`, `pane: None`) or pane (`pane: Some`) by index. A session parent
    /// needs a window index; a window parent takes only a pane index.
    Index {
        parent: IndexParent,
        window: Option<u32>,
        pane: Option<u32>,
    },
    /// A special token.
    Special(Special),
    /// A forward reference inside a plan.
    Slot(SlotRef),
}

/// Why a target string or value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid target {text:?}: {reason}")]
pub struct TargetError {
    pub text: String,
    pub reason: String,
}

fn target_error(text: &str, reason: impl Into<String>) -> TargetError {
    TargetError {
        text: text.to_string(),
        reason: reason.into(),
    }
}

/// Checks a session name: tmux turns `:` and `.` into `_` when it creates a session, so a name
/// with them could never be found again by exact match.
pub fn validate_session_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a session name cannot be empty".into());
    }
    if name.contains([':', '.']) {
        return Err(format!(
            "session name {name:?} contains ':' or '.', which tmux rewrites to '_'; choose a name without them"
        ));
    }
    if name.contains('\0') {
        return Err("a session name cannot contain a NUL byte".into());
    }
    Ok(())
}

impl Target {
    /// Checks the value itself (names, index shapes), independent of where it is used.
    pub fn validate(&self) -> Result<(), TargetError> {
        let text = self.to_string();
        match self {
            Target::Name(name) => {
                validate_session_name(name).map_err(|reason| target_error(&text, reason))
            }
            Target::Client(name) => {
                if name.is_empty() || name.contains('\0') {
                    Err(target_error(
                        &text,
                        "a client name cannot be empty or contain NUL",
                    ))
                } else {
                    Ok(())
                }
            }
            Target::Index {
                parent,
                window,
                pane,
            } => match parent {
                IndexParent::Window(_) => match (window, pane) {
                    (None, Some(_)) => Ok(()),
                    _ => Err(target_error(
                        &text,
                        "a window id takes only a pane index, like @3.1",
                    )),
                },
                IndexParent::SessionName(name) => {
                    validate_session_name(name).map_err(|reason| target_error(&text, reason))?;
                    if window.is_none() {
                        return Err(target_error(
                            &text,
                            "a session index target needs a window index, like =work:2",
                        ));
                    }
                    Ok(())
                }
                IndexParent::Session(_) => {
                    if window.is_none() {
                        return Err(target_error(
                            &text,
                            "a session index target needs a window index, like $1:2",
                        ));
                    }
                    Ok(())
                }
            },
            _ => Ok(()),
        }
    }

    /// The smallest kind of object this target names, or `None` for slots and specials (which
    /// fit wherever [`Special::allowed_for`] or the planner says).
    fn names(&self) -> Option<TargetKind> {
        match self {
            Target::Pane(_) => Some(TargetKind::Pane),
            Target::Window(_) => Some(TargetKind::Window),
            Target::Session(_) | Target::Name(_) => Some(TargetKind::Session),
            Target::Client(_) => Some(TargetKind::Client),
            Target::Index { pane: Some(_), .. } => Some(TargetKind::Pane),
            Target::Index { .. } => Some(TargetKind::Window),
            Target::Special(_) | Target::Slot(_) => None,
        }
    }

    /// Checks that the target may stand where tmux expects an object of `kind`.
    ///
    /// Ids and names of sessions, windows and panes are accepted for any of those three kinds
    /// (tmux resolves a pane to its window and session, and a session to its current window and
    /// active pane), except that a pane index is refused where a session or window is expected,
    /// and a window index where a session is expected, because tmux would silently act on the
    /// containing object. Clients only match client arguments.
    pub fn check_kind(&self, kind: TargetKind) -> Result<(), TargetError> {
        self.validate()?;
        let text = self.to_string();
        let wrong = || target_error(&text, format!("cannot be used where a {kind} is expected"));
        match (self, kind) {
            (Target::Special(special), _) => {
                if special.allowed_for(kind) {
                    Ok(())
                } else {
                    Err(wrong())
                }
            }
            (Target::Slot(_), TargetKind::Client) => Err(wrong()),
            (Target::Slot(_), _) => Ok(()),
            (_, TargetKind::Client) | (Target::Client(_), _) => {
                if self.names() == Some(kind) {
                    Ok(())
                } else {
                    Err(wrong())
                }
            }
            (Target::Index { pane: Some(_), .. }, TargetKind::Session | TargetKind::Window) => {
                Err(wrong())
            }
            (Target::Index { .. }, TargetKind::Session) => Err(wrong()),
            _ => Ok(()),
        }
    }

    /// The word tmux receives where an object of `kind` is expected; `None` for an unresolved
    /// slot. Call [`Target::check_kind`] first.
    pub(crate) fn tmux_word(&self, kind: TargetKind) -> Option<String> {
        Some(match self {
            Target::Name(name) if kind == TargetKind::Session => format!("={name}"),
            Target::Name(name) => format!("={name}:"),
            Target::Client(name) => name.clone(),
            Target::Slot(_) => return None,
            other => other.to_string(),
        })
    }
}

impl fmt::Display for Target {
    /// The canonical string form (see the module table); parses back with [`FromStr`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pane(id) => write!(f, "{id}"),
            Target::Window(id) => write!(f, "{id}"),
            Target::Session(id) => write!(f, "{id}"),
            Target::Client(name) => write!(f, "client:{name}"),
            Target::Name(name) => write!(f, "={name}"),
            Target::Index {
                parent,
                window,
                pane,
            } => {
                match parent {
                    IndexParent::Session(id) => write!(f, "{id}")?,
                    IndexParent::SessionName(name) => write!(f, "={name}")?,
                    IndexParent::Window(id) => write!(f, "{id}")?,
                }
                if let Some(window) = window {
                    write!(f, ":{window}")?;
                }
                if let Some(pane) = pane {
                    write!(f, ".{pane}")?;
                }
                Ok(())
            }
            Target::Special(special) => f.write_str(special.token()),
            Target::Slot(slot) => write!(f, "{slot}"),
        }
    }
}

fn parse_index(text: &str, word: &str, what: &str) -> Result<u32, TargetError> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(target_error(
            text,
            format!("{what} index {word:?} must be a number"),
        ));
    }
    word.parse()
        .map_err(|_| target_error(text, format!("{what} index {word:?} is too large")))
}

/// Splits `rest` (what follows a session) into `:window[.pane]`.
fn parse_window_pane(text: &str, rest: &str) -> Result<(u32, Option<u32>), TargetError> {
    let (window, pane) = match rest.split_once('.') {
        Some((window, pane)) => (window, Some(pane)),
        None => (rest, None),
    };
    let window = parse_index(text, window, "window")?;
    let pane = pane.map(|p| parse_index(text, p, "pane")).transpose()?;
    Ok((window, pane))
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let target = parse_target(text)?;
        target.validate()?;
        Ok(target)
    }
}

fn parse_target(text: &str) -> Result<Target, TargetError> {
    if let Some(name) = text.strip_prefix("client:") {
        return Ok(Target::Client(name.to_string()));
    }
    if let Some(inner) = text
        .strip_prefix("{slot:")
        .and_then(|t| t.strip_suffix('}'))
    {
        let (slot, part) = inner
            .split_once('.')
            .ok_or_else(|| target_error(text, "a slot reference looks like {slot:2.pane}"))?;
        let slot = slot
            .parse()
            .map_err(|_| target_error(text, "the slot number must be a number"))?;
        let part = match part {
            "session" => SlotPart::Session,
            "window" => SlotPart::Window,
            "pane" => SlotPart::Pane,
            _ => {
                return Err(target_error(
                    text,
                    "the slot part must be session, window or pane",
                ))
            }
        };
        return Ok(Target::Slot(SlotRef { slot, part }));
    }
    if text.starts_with('{') {
        return Special::ALL
            .iter()
            .find(|special| special.token() == text)
            .map(|special| Target::Special(*special))
            .ok_or_else(|| target_error(text, "unknown special token; tmux knows {marked}, {mouse}, {last}, {next}, {previous}, {start}, {end}, {top}, {bottom}, {left}, {right}, {top-left}, {top-right}, {bottom-left}, {bottom-right}, {up-of}, {down-of}, {left-of}, {right-of}"));
    }
    if let Some(name) = text.strip_prefix('=') {
        return match name.split_once(':') {
            None => Ok(Target::Name(name.to_string())),
            Some((session, rest)) => {
                let (window, pane) = parse_window_pane(text, rest)?;
                Ok(Target::Index {
                    parent: IndexParent::SessionName(session.to_string()),
                    window: Some(window),
                    pane,
                })
            }
        };
    }
    let id_error = |e: crate::ids::IdParseError| target_error(text, e.to_string());
    match text.chars().next() {
        Some('%') => Ok(Target::Pane(text.parse().map_err(id_error)?)),
        Some('@') => match text.split_once('.') {
            None => Ok(Target::Window(text.parse().map_err(id_error)?)),
            Some((window, pane)) => Ok(Target::Index {
                parent: IndexParent::Window(window.parse().map_err(id_error)?),
                window: None,
                pane: Some(parse_index(text, pane, "pane")?),
            }),
        },
        Some('$') => match text.split_once(':') {
            None => Ok(Target::Session(text.parse().map_err(id_error)?)),
            Some((session, rest)) => {
                let (window, pane) = parse_window_pane(text, rest)?;
                Ok(Target::Index {
                    parent: IndexParent::Session(session.parse().map_err(id_error)?),
                    window: Some(window),
                    pane,
                })
            }
        },
        _ => Err(target_error(
            text,
            "expected %N, @N, $N, =name, =name:W[.P], $N:W[.P], @N.P, {token}, client:NAME or {slot:N.part}",
        )),
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl From<PaneId> for Target {
    fn from(id: PaneId) -> Self {
        Target::Pane(id)
    }
}

impl From<WindowId> for Target {
    fn from(id: WindowId) -> Self {
        Target::Window(id)
    }
}

impl From<SessionId> for Target {
    fn from(id: SessionId) -> Self {
        Target::Session(id)
    }
}

impl From<SlotRef> for Target {
    fn from(slot: SlotRef) -> Self {
        Target::Slot(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Target, TargetError> {
        text.parse()
    }

    #[test]
    fn canonical_strings_round_trip() {
        for text in [
            "%3",
            "@2",
            "$1",
            "=work",
            "=work:2",
            "=work:2.1",
            "$1:2",
            "$1:2.0",
            "@3.1",
            "{last}",
            "{top-right}",
            "client:/dev/pts/3",
            "{slot:2.pane}",
        ] {
            let target = parse(text).unwrap();
            assert_eq!(target.to_string(), text);
        }
    }

    #[test]
    fn bad_sigils_and_shapes_are_rejected() {
        for text in [
            "#3",
            "3",
            "work",
            "%x",
            "@",
            "$",
            "%1.2",
            "@3:1",
            "@3.x",
            "$1:x",
            "=work:",
            "=",
            "{bogus}",
            "{slot:2.tab}",
            "{slot:x.pane}",
            "=a.b",
            "=a.b:1",
            "client:",
        ] {
            assert!(parse(text).is_err(), "{text} should be rejected");
        }
        let error = parse("#3").unwrap_err().to_string();
        assert!(error.contains("expected %N"), "{error}");
        let error = parse("=my.session").unwrap_err().to_string();
        assert!(error.contains("rewrites"), "{error}");
    }

    #[test]
    fn names_render_by_kind() {
        let name = parse("=work").unwrap();
        assert_eq!(name.tmux_word(TargetKind::Session).unwrap(), "=work");
        assert_eq!(name.tmux_word(TargetKind::Pane).unwrap(), "=work:");
        let client = parse("client:/dev/pts/3").unwrap();
        assert_eq!(client.tmux_word(TargetKind::Client).unwrap(), "/dev/pts/3");
    }

    #[test]
    fn kinds_are_checked() {
        let pane_index = parse("@3.1").unwrap();
        assert!(pane_index.check_kind(TargetKind::Pane).is_ok());
        assert!(pane_index.check_kind(TargetKind::Window).is_err());
        assert!(parse("=w:1")
            .unwrap()
            .check_kind(TargetKind::Session)
            .is_err());
        assert!(parse("%1").unwrap().check_kind(TargetKind::Client).is_err());
        assert!(parse("client:x")
            .unwrap()
            .check_kind(TargetKind::Pane)
            .is_err());
        assert!(parse("{start}")
            .unwrap()
            .check_kind(TargetKind::Window)
            .is_ok());
        assert!(parse("{start}")
            .unwrap()
            .check_kind(TargetKind::Pane)
            .is_err());
        assert!(parse("{top}")
            .unwrap()
            .check_kind(TargetKind::Window)
            .is_err());
        assert!(parse("{last}")
            .unwrap()
            .check_kind(TargetKind::Session)
            .is_err());
        assert!(parse("{marked}")
            .unwrap()
            .check_kind(TargetKind::Session)
            .is_ok());
    }

    #[test]
    fn json_is_the_string_form() {
        let target: Target = serde_json::from_str("\"=work:1.2\"").unwrap();
        assert_eq!(serde_json::to_string(&target).unwrap(), "\"=work:1.2\"");
        let error = serde_json::from_str::<Target>("\"#1\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid target"), "{error}");
    }
}
