//! Control-mode notifications (`%output`, `%window-add`, `%exit`, …) as typed values.

use serde::{Deserialize, Serialize};

use super::{parse_decimal, unescape_output};
use crate::ids::{PaneId, SessionId, WindowId};

/// A line tmux sends without being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Notification {
    /// A pane wrote bytes (already unescaped).
    Output {
        pane: PaneId,
        data: Vec<u8>,
    },
    /// A pane wrote bytes, with flow control on: `age_ms` is how long they waited in tmux.
    ExtendedOutput {
        pane: PaneId,
        age_ms: u64,
        data: Vec<u8>,
    },
    /// tmux paused a pane's output for this client (flow control).
    Pause {
        pane: PaneId,
    },
    /// tmux resumed a pane's output for this client.
    Continue {
        pane: PaneId,
    },
    LayoutChange {
        window: WindowId,
        layout: String,
        visible_layout: Option<String>,
        flags: Option<String>,
    },
    WindowAdd {
        window: WindowId,
    },
    WindowClose {
        window: WindowId,
    },
    WindowRenamed {
        window: WindowId,
        name: String,
    },
    UnlinkedWindowAdd {
        window: WindowId,
    },
    UnlinkedWindowClose {
        window: WindowId,
    },
    UnlinkedWindowRenamed {
        window: WindowId,
        name: String,
    },
    WindowPaneChanged {
        window: WindowId,
        pane: PaneId,
    },
    PaneModeChanged {
        pane: PaneId,
    },
    SessionChanged {
        session: SessionId,
        name: String,
    },
    SessionRenamed {
        session: SessionId,
        name: String,
    },
    SessionsChanged,
    SessionWindowChanged {
        session: SessionId,
        window: WindowId,
    },
    ClientSessionChanged {
        client: String,
        session: SessionId,
        name: String,
    },
    ClientDetached {
        client: String,
    },
    /// A format subscription (`refresh-client -B`) changed value. Fields tmux prints as `-` are
    /// `None`.
    SubscriptionChanged {
        name: String,
        session: Option<SessionId>,
        window: Option<WindowId>,
        window_index: Option<u32>,
        pane: Option<PaneId>,
        value: String,
    },
    PasteBufferChanged {
        name: String,
    },
    PasteBufferDeleted {
        name: String,
    },
    ConfigError {
        message: String,
    },
    Message {
        text: String,
    },
    /// The control client is exiting; nothing follows.
    Exit {
        reason: Option<String>,
    },
    /// A notification this crate does not know (a newer tmux), kept whole.
    Other {
        name: String,
        args: String,
    },
}

impl Notification {
    /// The notification's name as tmux prints it, without `%`.
    pub fn name(&self) -> &str {
        match self {
            Notification::Output { .. } => "output",
            Notification::ExtendedOutput { .. } => "extended-output",
            Notification::Pause { .. } => "pause",
            Notification::Continue { .. } => "continue",
            Notification::LayoutChange { .. } => "layout-change",
            Notification::WindowAdd { .. } => "window-add",
            Notification::WindowClose { .. } => "window-close",
            Notification::WindowRenamed { .. } => "window-renamed",
            Notification::UnlinkedWindowAdd { .. } => "unlinked-window-add",
            Notification::UnlinkedWindowClose { .. } => "unlinked-window-close",
            Notification::UnlinkedWindowRenamed { .. } => "unlinked-window-renamed",
            Notification::WindowPaneChanged { .. } => "window-pane-changed",
            Notification::PaneModeChanged { .. } => "pane-mode-changed",
            Notification::SessionChanged { .. } => "session-changed",
            Notification::SessionRenamed { .. } => "session-renamed",
            Notification::SessionsChanged => "sessions-changed",
            Notification::SessionWindowChanged { .. } => "session-window-changed",
            Notification::ClientSessionChanged { .. } => "client-session-changed",
            Notification::ClientDetached { .. } => "client-detached",
            Notification::SubscriptionChanged { .. } => "subscription-changed",
            Notification::PasteBufferChanged { .. } => "paste-buffer-changed",
            Notification::PasteBufferDeleted { .. } => "paste-buffer-deleted",
            Notification::ConfigError { .. } => "config-error",
            Notification::Message { .. } => "message",
            Notification::Exit { .. } => "exit",
            Notification::Other { name, .. } => name,
        }
    }

    /// The pane this notification is about, when it is about one pane.
    pub fn pane(&self) -> Option<PaneId> {
        match self {
            Notification::Output { pane, .. }
            | Notification::ExtendedOutput { pane, .. }
            | Notification::Pause { pane }
            | Notification::Continue { pane }
            | Notification::PaneModeChanged { pane }
            | Notification::WindowPaneChanged { pane, .. } => Some(*pane),
            Notification::SubscriptionChanged { pane, .. } => *pane,
            _ => None,
        }
    }

    /// Parses a line (without its newline) only when it has the exact shape of a known
    /// notification. Used inside reply blocks, where any other `%` line is body text.
    pub fn parse_strict(line: &[u8]) -> Option<Notification> {
        let rest = line.strip_prefix(b"%")?;
        let (name, args) = match memchr::memchr(b' ', rest) {
            Some(space) => (&rest[..space], Some(&rest[space + 1..])),
            None => (rest, None),
        };
        parse_known(name, args)
    }

    /// Parses a line outside a block: known notifications are typed, anything else is kept as
    /// [`Notification::Other`].
    pub fn parse_lenient(line: &[u8]) -> Notification {
        if let Some(notification) = Self::parse_strict(line) {
            return notification;
        }
        let text = String::from_utf8_lossy(line.strip_prefix(b"%").unwrap_or(line));
        match text.split_once(' ') {
            Some((name, args)) => Notification::Other {
                name: name.to_string(),
                args: args.to_string(),
            },
            None => Notification::Other {
                name: text.into_owned(),
                args: String::new(),
            },
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn id<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Splits off the first space-separated word.
fn word(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b' ', bytes) {
        Some(space) => (&bytes[..space], Some(&bytes[space + 1..])),
        None => (bytes, None),
    }
}

fn one_id<T: std::str::FromStr>(args: Option<&[u8]>) -> Option<T> {
    let (first, rest) = word(args?);
    if rest.is_some() {
        return None;
    }
    id(first)
}

fn id_and_text<T: std::str::FromStr>(args: Option<&[u8]>) -> Option<(T, String)> {
    let (first, rest) = word(args?);
    Some((id(first)?, text(rest.unwrap_or_default())))
}

fn optional_id<T: std::str::FromStr>(bytes: &[u8]) -> Option<Option<T>> {
    if bytes == b"-" {
        return Some(None);
    }
    id(bytes).map(Some)
}

fn parse_known(name: &[u8], args: Option<&[u8]>) -> Option<Notification> {
    Some(match name {
        b"output" => {
            let (pane, data) = word(args?);
            Notification::Output {
                pane: id(pane)?,
                data: unescape_output(data.unwrap_or_default()),
            }
        }
        b"extended-output" => {
            let (pane, rest) = word(args?);
            let (age, rest) = word(rest?);
            // Reserved fields may follow the age; the data starts after " : ".
            let rest = rest?;
            let data = if let Some(data) = rest.strip_prefix(b": ") {
                data
            } else {
                let marker = memchr::memmem::find(rest, b" : ")?;
                &rest[marker + 3..]
            };
            Notification::ExtendedOutput {
                pane: id(pane)?,
                age_ms: parse_decimal(age)?,
                data: unescape_output(data),
            }
        }
        b"pause" => Notification::Pause {
            pane: one_id(args)?,
        },
        b"continue" => Notification::Continue {
            pane: one_id(args)?,
        },
        b"pane-mode-changed" => Notification::PaneModeChanged {
            pane: one_id(args)?,
        },
        b"layout-change" => {
            let (window, rest) = word(args?);
            let (layout, rest) = word(rest?);
            let (visible, flags) = match rest {
                Some(rest) => {
                    let (visible, flags) = word(rest);
                    (Some(text(visible)), flags.map(text))
                }
                None => (None, None),
            };
            Notification::LayoutChange {
                window: id(window)?,
                layout: text(layout),
                visible_layout: visible,
                flags,
            }
        }
        b"window-add" => Notification::WindowAdd {
            window: one_id(args)?,
        },
        b"window-close" => Notification::WindowClose {
            window: one_id(args)?,
        },
        b"unlinked-window-add" => Notification::UnlinkedWindowAdd {
            window: one_id(args)?,
        },
        b"unlinked-window-close" => Notification::UnlinkedWindowClose {
            window: one_id(args)?,
        },
        b"window-renamed" => {
            let (window, name) = id_and_text(args)?;
            Notification::WindowRenamed { window, name }
        }
        b"unlinked-window-renamed" => {
            let (window, name) = id_and_text(args)?;
            Notification::UnlinkedWindowRenamed { window, name }
        }
        b"window-pane-changed" => {
            let (window, pane) = word(args?);
            Notification::WindowPaneChanged {
                window: id(window)?,
                pane: one_id(pane)?,
            }
        }
        b"session-changed" => {
            let (session, name) = id_and_text(args)?;
            Notification::SessionChanged { session, name }
        }
        b"session-renamed" => {
            let (session, name) = id_and_text(args)?;
            Notification::SessionRenamed { session, name }
        }
        b"sessions-changed" => {
            if args.is_some() {
                return None;
            }
            Notification::SessionsChanged
        }
        b"session-window-changed" => {
            let (session, window) = word(args?);
            Notification::SessionWindowChanged {
                session: id(session)?,
                window: one_id(window)?,
            }
        }
        b"client-session-changed" => {
            let (client, rest) = word(args?);
            let (session, name) = id_and_text(rest)?;
            Notification::ClientSessionChanged {
                client: text(client),
                session,
                name,
            }
        }
        b"client-detached" => Notification::ClientDetached {
            client: text(args?),
        },
        b"subscription-changed" => {
            let (name, rest) = word(args?);
            let (session, rest) = word(rest?);
            let (window, rest) = word(rest?);
            let (index, rest) = word(rest?);
            let (pane, rest) = word(rest?);
            let rest = rest?;
            let value = if let Some(value) = rest.strip_prefix(b": ") {
                value
            } else if rest == b":" {
                &[][..]
            } else {
                let marker = memchr::memmem::find(rest, b" : ")?;
                &rest[marker + 3..]
            };
            let window_index = if index == b"-" {
                None
            } else {
                Some(u32::try_from(parse_decimal(index)?).ok()?)
            };
            Notification::SubscriptionChanged {
                name: text(name),
                session: optional_id(session)?,
                window: optional_id(window)?,
                window_index,
                pane: optional_id(pane)?,
                value: text(value),
            }
        }
        b"paste-buffer-changed" => Notification::PasteBufferChanged { name: text(args?) },
        b"paste-buffer-deleted" => Notification::PasteBufferDeleted { name: text(args?) },
        b"config-error" => Notification::ConfigError {
            message: text(args?),
        },
        b"message" => Notification::Message { text: text(args?) },
        b"exit" => Notification::Exit {
            reason: args.map(text),
        },
        _ => return None,
    })
}
