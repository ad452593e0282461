//! The simulated server's objects (sessions, windows, panes, buffers, options), how targets find
//! them and how formats read them.
//!
//! Objects are addressed by position ([`Loc`]) while the server lock is held; positions are never
//! kept across commands, ids are.

use std::collections::BTreeMap;

use crate::ids::{PaneId, SessionId, WindowId};
use crate::version::TmuxVersion;

/// Option values of one scope, by name.
pub(super) type Options = BTreeMap<String, String>;

/// The sim's hostname-like pane title and `#{host}`.
pub(super) const HOST: &str = "sim";
/// tmux's default `history-limit`, shown by `list-panes`.
pub(super) const HISTORY_LIMIT: usize = 2000;

pub(super) struct Pane {
    pub id: PaneId,
    pub pid: u32,
    pub width: u32,
    pub height: u32,
    pub command: String,
    pub path: String,
    pub title: String,
    /// Everything written to the pane, history first; the last `height` lines are visible.
    pub lines: Vec<String>,
    pub options: Options,
}

impl Pane {
    /// Lines above the visible screen.
    pub fn history_size(&self) -> usize {
        self.lines.len().saturating_sub(self.height as usize)
    }

    /// Types text: `\n` (and `\r`) start a new line, everything else joins the last line.
    pub fn write_text(&mut self, text: &str) {
        let mut parts = text.split(['\n', '\r']);
        if let Some(first) = parts.next() {
            match self.lines.last_mut() {
                Some(last) => last.push_str(first),
                None => self.lines.push(first.to_string()),
            }
        }
        for part in parts {
            self.lines.push(part.to_string());
        }
    }
}

pub(super) struct Window {
    pub id: WindowId,
    pub index: u32,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub panes: Vec<Pane>,
    pub active_pane: PaneId,
    pub options: Options,
}

impl Window {
    pub fn active_pane_position(&self) -> usize {
        self.panes
            .iter()
            .position(|pane| pane.id == self.active_pane)
            .unwrap_or(0)
    }

    /// A layout string in tmux's syntax with a correct checksum. The sim keeps no layout tree,
    /// so panes are listed side by side (`{}`) when they all span the window's height, else
    /// stacked (`[]`); offsets follow from the sizes.
    pub fn layout(&self) -> String {
        let body = match self.panes.as_slice() {
            [pane] => format!("{}x{},0,0,{}", self.width, self.height, pane.id.0),
            panes => {
                let side_by_side = panes.iter().all(|pane| pane.height == self.height);
                let mut offset = 0;
                let cells: Vec<String> = panes
                    .iter()
                    .map(|pane| {
                        let (x, y) = if side_by_side {
                            (offset, 0)
                        } else {
                            (0, offset)
                        };
                        offset += if side_by_side {
                            pane.width
                        } else {
                            pane.height
                        } + 1;
                        format!("{}x{},{},{},{}", pane.width, pane.height, x, y, pane.id.0)
                    })
                    .collect();
                let (open, close) = if side_by_side { ('{', '}') } else { ('[', ']') };
                format!(
                    "{}x{},0,0{open}{}{close}",
                    self.width,
                    self.height,
                    cells.join(",")
                )
            }
        };
        format!("{:04x},{body}", layout_checksum(&body))
    }
}

/// tmux's layout checksum (`layout_checksum` in layout-custom.c).
fn layout_checksum(body: &str) -> u16 {
    body.bytes().fold(0u16, |sum, byte| {
        let rotated = (sum >> 1) | ((sum & 1) << 15);
        rotated.wrapping_add(u16::from(byte))
    })
}

pub(super) struct Session {
    pub id: SessionId,
    pub name: String,
    pub created: u64,
    /// A logical clock value; the session with the highest is "current" when no `-t` is given.
    pub activity: u64,
    pub cwd: String,
    pub windows: Vec<Window>,
    pub active_window: WindowId,
    pub last_window: Option<WindowId>,
    pub options: Options,
    /// `None` marks a variable removed with `set-environment -r`.
    pub environment: BTreeMap<String, Option<String>>,
}

impl Session {
    pub fn active_window_position(&self) -> usize {
        self.windows
            .iter()
            .position(|window| window.id == self.active_window)
            .unwrap_or(0)
    }

    /// Makes a window current, remembering the previous one as "last" (the `-` flag).
    pub fn select_window(&mut self, id: WindowId) {
        if self.active_window != id {
            self.last_window = Some(self.active_window);
            self.active_window = id;
        }
    }
}

pub(super) struct Buffer {
    pub name: String,
    pub data: Vec<u8>,
}

/// One simulated tmux server. Everything but the configuration is lost when it stops.
pub(super) struct Server {
    pub version: TmuxVersion,
    pub socket_path: String,
    pub running: bool,
    /// Set by `start-server`: an empty server keeps running until its first session.
    pub kept_empty: bool,
    pub next_session: u32,
    pub next_window: u32,
    pub next_pane: u32,
    pub next_pid: u32,
    pub next_buffer: u32,
    pub clock: u64,
    pub sessions: Vec<Session>,
    /// Most recent first, like `list-buffers`.
    pub buffers: Vec<Buffer>,
    pub server_options: Options,
    pub global_session_options: Options,
    pub global_window_options: Options,
    pub global_environment: BTreeMap<String, Option<String>>,
}

/// Where a target resolved to: positions of a session, one of its windows and one of that
/// window's panes. Every resolution fills all three (the current window and active pane when
/// the target names less).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loc {
    pub session: usize,
    pub window: usize,
    pub pane: usize,
}

/// What a command's `-t` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Session,
    Window,
    Pane,
}

pub(super) const FIRST_PID: u32 = 1000;

impl Server {
    pub fn new(version: TmuxVersion, socket_path: String) -> Self {
        Self {
            version,
            socket_path,
            running: false,
            kept_empty: false,
            next_session: 0,
            next_window: 0,
            next_pane: 0,
            next_pid: FIRST_PID,
            next_buffer: 0,
            clock: 0,
            sessions: Vec::new(),
            buffers: Vec::new(),
            server_options: Options::new(),
            global_session_options: Options::new(),
            global_window_options: Options::new(),
            global_environment: BTreeMap::new(),
        }
    }

    /// Starts the server (a no-op when it runs).
    pub fn start(&mut self) {
        self.running = true;
    }

    /// Stops the server and forgets everything a real server would lose, ids included: a new
    /// tmux server numbers from `$0`, `@0`, `%0` again.
    pub fn stop(&mut self) {
        *self = Server::new(self.version, std::mem::take(&mut self.socket_path));
    }

    pub fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn pane(&self, loc: Loc) -> &Pane {
        &self.sessions[loc.session].windows[loc.window].panes[loc.pane]
    }

    pub fn pane_mut(&mut self, loc: Loc) -> &mut Pane {
        &mut self.sessions[loc.session].windows[loc.window].panes[loc.pane]
    }

    pub fn window_mut(&mut self, loc: Loc) -> &mut Window {
        &mut self.sessions[loc.session].windows[loc.window]
    }

    /// The most recently active session's current window and active pane.
    pub fn current(&self) -> Result<Loc, String> {
        let session = self
            .sessions
            .iter()
            .enumerate()
            .max_by_key(|(_, session)| session.activity)
            .map(|(position, _)| position)
            .ok_or_else(|| "no current session".to_string())?;
        Ok(self.session_loc(session))
    }

    fn session_loc(&self, session: usize) -> Loc {
        let window = self.sessions[session].active_window_position();
        self.window_loc(session, window)
    }

    fn window_loc(&self, session: usize, window: usize) -> Loc {
        let pane = self.sessions[session].windows[window].active_pane_position();
        Loc {
            session,
            window,
            pane,
        }
    }

    /// Finds a session by `$N`, `=exact`, exact name or unique name prefix.
    pub fn find_session(&self, text: &str) -> Result<usize, String> {
        let missing = || format!("can't find session: {}", text.trim_start_matches('='));
        if let Some(exact) = text.strip_prefix('=') {
            return self
                .sessions
                .iter()
                .position(|session| session.name == exact)
                .ok_or_else(missing);
        }
        if let Ok(id) = text.parse::<SessionId>() {
            return self
                .sessions
                .iter()
                .position(|session| session.id == id)
                .ok_or_else(missing);
        }
        if let Some(position) = self.sessions.iter().position(|s| s.name == text) {
            return Ok(position);
        }
        let mut prefixed = self
            .sessions
            .iter()
            .enumerate()
            .filter(|(_, session)| session.name.starts_with(text));
        match (prefixed.next(), prefixed.next()) {
            (Some((position, _)), None) => Ok(position),
            _ => Err(missing()),
        }
    }

    fn find_window_id(&self, id: WindowId) -> Option<(usize, usize)> {
        self.sessions.iter().enumerate().find_map(|(s, session)| {
            session
                .windows
                .iter()
                .position(|window| window.id == id)
                .map(|w| (s, w))
        })
    }

    fn find_pane_id(&self, id: PaneId) -> Option<Loc> {
        self.sessions.iter().enumerate().find_map(|(s, session)| {
            session.windows.iter().enumerate().find_map(|(w, window)| {
                window
                    .panes
                    .iter()
                    .position(|pane| pane.id == id)
                    .map(|pane| Loc {
                        session: s,
                        window: w,
                        pane,
                    })
            })
        })
    }

    /// Finds a window of a session: empty = current, `@N`, index, `=exact`, name, unique prefix.
    pub fn find_window_in(&self, session: usize, text: &str) -> Result<usize, String> {
        let windows = &self.sessions[session].windows;
        let missing = || format!("can't find window: {}", text.trim_start_matches('='));
        if text.is_empty() {
            return Ok(self.sessions[session].active_window_position());
        }
        if let Ok(id) = text.parse::<WindowId>() {
            return windows.iter().position(|w| w.id == id).ok_or_else(missing);
        }
        if let Some(exact) = text.strip_prefix('=') {
            return windows
                .iter()
                .position(|w| w.name == exact)
                .ok_or_else(missing);
        }
        if let Some(index) = parse_index(text) {
            return windows
                .iter()
                .position(|w| w.index == index)
                .ok_or_else(missing);
        }
        if let Some(position) = windows.iter().position(|w| w.name == text) {
            return Ok(position);
        }
        let mut prefixed = windows
            .iter()
            .enumerate()
            .filter(|(_, window)| window.name.starts_with(text));
        match (prefixed.next(), prefixed.next()) {
            (Some((position, _)), None) => Ok(position),
            _ => Err(missing()),
        }
    }

    /// Finds a pane of a window: empty = active, index or `%N`.
    fn find_pane_in(&self, session: usize, window: usize, text: &str) -> Result<usize, String> {
        let window = &self.sessions[session].windows[window];
        let missing = || format!("can't find pane: {text}");
        if text.is_empty() {
            return Ok(window.active_pane_position());
        }
        if let Ok(id) = text.parse::<PaneId>() {
            return window
                .panes
                .iter()
                .position(|p| p.id == id)
                .ok_or_else(missing);
        }
        match parse_index(text) {
            Some(index) if (index as usize) < window.panes.len() => Ok(index as usize),
            _ => Err(missing()),
        }
    }

    /// Resolves a `-t` (or `-s`) value the way tmux's cmd-find does, for the forms the sim
    /// supports: `$N`, `@N[.P]`, `%N`, `=name`, `name` (exact or unique prefix), `s:`, `s:w`,
    /// `s:w.p`, `:w`, `w.p`, and no target (the current session, window and pane).
    pub fn resolve(&self, kind: Kind, target: Option<&str>) -> Result<Loc, String> {
        let Some(text) = target.filter(|text| !text.is_empty()) else {
            return self.current();
        };
        if text.starts_with('%') {
            let id: PaneId = text
                .parse()
                .map_err(|_| format!("can't find pane: {text}"))?;
            return self
                .find_pane_id(id)
                .ok_or_else(|| format!("can't find pane: {text}"));
        }
        if text.starts_with('@') {
            let (window_text, pane_text) = text.split_once('.').unwrap_or((text, ""));
            let id: WindowId = window_text
                .parse()
                .map_err(|_| format!("can't find window: {window_text}"))?;
            let (session, window) = self
                .find_window_id(id)
                .ok_or_else(|| format!("can't find window: {window_text}"))?;
            let pane = self.find_pane_in(session, window, pane_text)?;
            return Ok(Loc {
                session,
                window,
                pane,
            });
        }
        if let Some((session_text, rest)) = text.split_once(':') {
            let session = if session_text.is_empty() {
                self.current()?.session
            } else {
                self.find_session(session_text)?
            };
            if kind == Kind::Session {
                return Ok(self.session_loc(session));
            }
            let (window_text, pane_text) = split_pane(rest);
            let window = self.find_window_in(session, window_text)?;
            let pane = self.find_pane_in(session, window, pane_text)?;
            return Ok(Loc {
                session,
                window,
                pane,
            });
        }
        match kind {
            Kind::Session => Ok(self.session_loc(self.find_session(text)?)),
            Kind::Window => self.resolve_window_word(text),
            Kind::Pane => {
                let current = self.current()?;
                if text.contains('.') {
                    let (window_text, pane_text) = split_pane(text);
                    let window = self.find_window_in(current.session, window_text)?;
                    let pane = self.find_pane_in(current.session, window, pane_text)?;
                    return Ok(Loc {
                        session: current.session,
                        window,
                        pane,
                    });
                }
                if let Ok(pane) = self.find_pane_in(current.session, current.window, text) {
                    return Ok(Loc { pane, ..current });
                }
                self.resolve_window_word(text)
                    .map_err(|_| format!("can't find pane: {text}"))
            }
        }
    }

    /// A bare word as a window: a window of the current session, else a session's current
    /// window.
    fn resolve_window_word(&self, text: &str) -> Result<Loc, String> {
        let current = self.current()?;
        if let Ok(window) = self.find_window_in(current.session, text) {
            return Ok(self.window_loc(current.session, window));
        }
        self.find_session(text)
            .map(|session| self.session_loc(session))
            .map_err(|_| format!("can't find window: {text}"))
    }

    /// Options of the session at `loc`, falling back to the global ones.
    pub fn session_option(&self, session: usize, name: &str) -> Option<&str> {
        self.sessions[session]
            .options
            .get(name)
            .or_else(|| self.global_session_options.get(name))
            .map(String::as_str)
            .or_else(|| super::options::default_value(name))
    }

    /// The pane at `loc` as a format context.
    pub fn context(&self, loc: Loc) -> Context<'_> {
        let session = &self.sessions[loc.session];
        let window = &session.windows[loc.window];
        Context {
            server: self,
            session: Some(session),
            window: Some(window),
            pane: Some(&window.panes[loc.pane]),
            buffer: None,
        }
    }

    /// A context with no objects (a target that failed to resolve, as display-message allows).
    pub fn empty_context(&self) -> Context<'_> {
        Context {
            server: self,
            session: None,
            window: None,
            pane: None,
            buffer: None,
        }
    }
}

/// `w.p` → (`w`, `p`); a word without a period is a window alone.
fn split_pane(text: &str) -> (&str, &str) {
    text.rsplit_once('.').unwrap_or((text, ""))
}

/// A non-negative decimal index.
pub(super) fn parse_index(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What a format is expanded against.
pub(super) struct Context<'a> {
    pub server: &'a Server,
    pub session: Option<&'a Session>,
    pub window: Option<&'a Window>,
    pub pane: Option<&'a Pane>,
    pub buffer: Option<&'a Buffer>,
}

impl Context<'_> {
    /// One format variable's value; unknown variables and variables of absent objects are
    /// empty, as in tmux.
    pub fn variable(&self, name: &str) -> String {
        let flag = |value: bool| if value { "1" } else { "0" }.to_string();
        let session = self.session;
        let window = self.window;
        let pane = self.pane;
        let value = match name {
            "version" => Some(self.server.version.to_string()),
            "host" | "host_short" => Some(HOST.to_string()),
            "socket_path" => Some(self.server.socket_path.clone()),
            "session_id" => session.map(|s| s.id.to_string()),
            "session_name" => session.map(|s| s.name.clone()),
            "session_windows" => session.map(|s| s.windows.len().to_string()),
            "session_attached" => session.map(|_| "0".to_string()),
            "session_created" | "session_activity" => session.map(|s| s.created.to_string()),
            "session_path" => session.map(|s| s.cwd.clone()),
            "window_id" => window.map(|w| w.id.to_string()),
            "window_index" => window.map(|w| w.index.to_string()),
            "window_name" => window.map(|w| w.name.clone()),
            "window_active" => window
                .zip(session)
                .map(|(w, s)| flag(w.id == s.active_window)),
            "window_panes" => window.map(|w| w.panes.len().to_string()),
            "window_width" => window.map(|w| w.width.to_string()),
            "window_height" => window.map(|w| w.height.to_string()),
            "window_layout" | "window_visible_layout" => window.map(Window::layout),
            "window_flags" => window.zip(session).map(|(w, s)| {
                if w.id == s.active_window {
                    "*".to_string()
                } else if s.last_window == Some(w.id) {
                    "-".to_string()
                } else {
                    String::new()
                }
            }),
            "pane_id" => pane.map(|p| p.id.to_string()),
            "pane_index" => pane.zip(window).and_then(|(p, w)| {
                w.panes
                    .iter()
                    .position(|other| other.id == p.id)
                    .map(|i| i.to_string())
            }),
            "pane_active" => pane.zip(window).map(|(p, w)| flag(p.id == w.active_pane)),
            "pane_width" => pane.map(|p| p.width.to_string()),
            "pane_height" => pane.map(|p| p.height.to_string()),
            "pane_pid" => pane.map(|p| p.pid.to_string()),
            "pane_current_command" => pane.map(|p| p.command.clone()),
            "pane_current_path" => pane.map(|p| p.path.clone()),
            "pane_dead" => pane.map(|_| "0".to_string()),
            "pane_title" => pane.map(|p| p.title.clone()),
            "history_size" => pane.map(|p| p.history_size().to_string()),
            "history_limit" => pane.map(|_| HISTORY_LIMIT.to_string()),
            "history_bytes" => pane.map(|p| {
                let bytes: usize = p.lines.iter().map(String::len).sum();
                bytes.to_string()
            }),
            "buffer_name" => self.buffer.map(|b| b.name.clone()),
            "buffer_size" => self.buffer.map(|b| b.data.len().to_string()),
            "buffer_sample" => self.buffer.map(|b| buffer_sample(&b.data)),
            // pane_dead_status and every client_* variable: no dead panes, no clients.
            _ => None,
        };
        value.unwrap_or_default()
    }

    /// Expands `#{name}`, `#{?name,yes,no}`, `##` and the one-letter aliases (`#S #I #W #P
    /// #D #T #H #F`); everything else is copied.
    pub fn expand(&self, format: &str) -> String {
        let mut out = String::with_capacity(format.len());
        let mut rest = format;
        while let Some(position) = rest.find('#') {
            out.push_str(&rest[..position]);
            let after = &rest[position + 1..];
            let mut chars = after.chars();
            match chars.next() {
                Some('{') => match matching_brace(&after[1..]) {
                    Some(end) => {
                        out.push_str(&self.expand_braced(&after[1..1 + end]));
                        rest = &after[2 + end..];
                    }
                    None => {
                        // An unterminated `#{` expands to nothing, like tmux.
                        rest = "";
                    }
                },
                Some(letter) => {
                    let alias = match letter {
                        '#' => Some("#".to_string()),
                        ',' => Some(",".to_string()),
                        '}' => Some("}".to_string()),
                        'S' => Some(self.variable("session_name")),
                        'I' => Some(self.variable("window_index")),
                        'W' => Some(self.variable("window_name")),
                        'P' => Some(self.variable("pane_index")),
                        'D' => Some(self.variable("pane_id")),
                        'T' => Some(self.variable("pane_title")),
                        'H' | 'h' => Some(self.variable("host")),
                        'F' => Some(self.variable("window_flags")),
                        _ => None,
                    };
                    match alias {
                        Some(text) => out.push_str(&text),
                        None => {
                            out.push('#');
                            out.push(letter);
                        }
                    }
                    rest = chars.as_str();
                }
                None => {
                    out.push('#');
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn expand_braced(&self, inner: &str) -> String {
        if let Some(conditional) = inner.strip_prefix('?') {
            let parts = split_top_level_commas(conditional);
            let condition = self.expand_condition(parts.first().copied().unwrap_or(""));
            let chosen = if condition {
                parts.get(1)
            } else {
                parts.get(2)
            };
            return chosen.map(|text| self.expand(text)).unwrap_or_default();
        }
        self.variable(inner)
    }

    fn expand_condition(&self, condition: &str) -> bool {
        let value = if condition.contains('#') {
            self.expand(condition)
        } else {
            self.variable(condition)
        };
        !value.is_empty() && value != "0"
    }
}

/// The offset of the `}` closing a `#{` whose body starts at `text`, counting nested `#{`.
fn matching_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'#' if bytes.get(index + 1) == Some(&b'{') => {
                depth += 1;
                index += 1;
            }
            b'#' => index += 1,
            b'}' if depth == 0 => return Some(index),
            b'}' => depth -= 1,
            _ => {}
        }
        index += 1;
    }
    None
}

fn split_top_level_commas(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'#' if bytes.get(index + 1) == Some(&b'{') => {
                depth += 1;
                index += 1;
            }
            b'#' => index += 1,
            b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
        index += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// The first 50 characters of a buffer with control characters escaped, as `list-buffers`
/// shows them.
fn buffer_sample(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let mut sample = String::new();
    for character in text.chars().take(50) {
        match character {
            '\n' => sample.push_str("\\n"),
            '\r' => sample.push_str("\\r"),
            '\t' => sample.push_str("\\t"),
            '\\' => sample.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                sample.push_str(&format!("\\{:03o}", c as u32));
            }
            c => sample.push(c),
        }
    }
    sample
}

/// `Sat Nov 21 09:54:22 2026` (ctime's shape) for seconds since the epoch, in UTC.
pub(super) fn ctime_utc(seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = seconds / 86_400;
    let of_day = seconds % 86_400;
    // Howard Hinnant's civil_from_days, for non-negative day counts.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_known_dates() {
        assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime_utc(1_795_254_879), "Sat Nov 21 09:54:39 2026");
    }

    #[test]
    fn layout_checksum_matches_tmux() {
        // Read from a real tmux 3.3a: `b25d,80x24,0,0,0`.
        assert_eq!(layout_checksum("80x24,0,0,0"), 0xb25d);
        assert_eq!(
            layout_checksum("100x40,0,0{50x40,0,0,0,49x40,51,0,2}"),
            0xf40d
        );
    }
}
