//! The sim's command table (name, argument spec, handler — tmux's `cmd_entry`, in one
//! scannable list; aliases resolve through `command::canonical_command`) and one handler per
//! command.

use std::collections::BTreeMap;

use super::args::{ArgSpec, Args};
use super::options::{self, Scope};
use super::state::{
    ctime_utc, parse_index, Buffer, Context, Kind, Loc, Options, Pane, Server, Session, Window,
    HOST,
};
use crate::command::canonical_command;
use crate::ids::{PaneId, SessionId, WindowId};

/// A handler's result: stdout lines, or the one-line error tmux would print.
pub(super) type Outcome = Result<Vec<String>, String>;

/// What a handler gets besides the server.
pub(super) struct Call<'a> {
    pub args: Args,
    pub stdin: Option<&'a [u8]>,
}

type Handler = fn(&mut Server, &Call<'_>) -> Outcome;

/// One command: tmux's name (aliases and prefixes resolve through [`canonical_command`]), its
/// arguments, whether it may start a server.
pub(super) struct Entry {
    pub name: &'static str,
    pub spec: ArgSpec,
    pub starts_server: bool,
    pub handler: Handler,
}

const fn entry(
    name: &'static str,
    flags: &'static str,
    positional: (usize, Option<usize>),
    handler: Handler,
) -> Entry {
    Entry {
        name,
        spec: ArgSpec {
            flags,
            min_positional: positional.0,
            max_positional: positional.1,
        },
        starts_server: false,
        handler,
    }
}

const fn starting(mut entry: Entry) -> Entry {
    entry.starts_server = true;
    entry
}

const NONE: (usize, Option<usize>) = (0, Some(0));
const ANY: (usize, Option<usize>) = (0, None);

/// Every command the sim understands, with tmux 3.3a's flag letters.
pub(super) static COMMANDS: &[Entry] = &[
    starting(entry(
        "new-session",
        "Ac:dDe:EF:f:n:Ps:t:x:Xy:",
        ANY,
        new_session,
    )),
    entry("new-window", "abc:de:F:kn:PSt:", ANY, new_window),
    entry("split-window", "bc:de:fF:hIl:p:Pt:vZ", ANY, split_window),
    entry("kill-session", "aCt:", NONE, kill_session),
    entry("kill-window", "at:", NONE, kill_window),
    entry("kill-pane", "at:", NONE, kill_pane),
    entry("kill-server", "", NONE, kill_server),
    entry("has-session", "t:", NONE, has_session),
    entry("list-sessions", "F:f:", NONE, list_sessions),
    entry("list-windows", "F:f:at:", NONE, list_windows),
    entry("list-panes", "asF:f:t:", NONE, list_panes),
    entry("list-clients", "F:t:", NONE, list_clients),
    entry(
        "display-message",
        "ac:d:INpt:F:v",
        (0, Some(1)),
        display_message,
    ),
    entry("rename-session", "t:", (1, Some(1)), rename_session),
    entry("rename-window", "t:", (1, Some(1)), rename_window),
    entry("select-window", "lnpTt:", NONE, select_window),
    entry("select-pane", "DdegLlMmP:RT:t:UZ", NONE, select_pane),
    entry("send-keys", "FHlMN:Rt:X", ANY, send_keys),
    entry("set-buffer", "aAb:n:t:w", (0, Some(1)), set_buffer),
    entry("show-buffer", "b:", NONE, show_buffer),
    entry("list-buffers", "F:f:", NONE, list_buffers),
    entry("load-buffer", "b:t:w", (1, Some(1)), load_buffer),
    entry("save-buffer", "ab:", (1, Some(1)), save_buffer),
    entry("delete-buffer", "b:", NONE, delete_buffer),
    entry("paste-buffer", "db:prs:t:", NONE, paste_buffer),
    entry("capture-pane", "ab:CeE:JNpPqS:Tt:", NONE, capture_pane),
    entry("clear-history", "Ht:", NONE, clear_history),
    entry("set-option", "aFgopqst:uUw", (1, Some(2)), set_option),
    entry(
        "set-window-option",
        "aFgoqt:u",
        (1, Some(2)),
        set_window_option,
    ),
    entry("show-options", "AgHpqst:vw", (0, Some(1)), show_options),
    entry(
        "show-window-options",
        "gvt:",
        (0, Some(1)),
        show_window_options,
    ),
    entry("set-environment", "Fhgrt:u", (1, Some(2)), set_environment),
    entry("show-environment", "hgst:", (0, Some(1)), show_environment),
    starting(entry("start-server", "", NONE, start_server)),
    entry("resize-pane", "DLMRTt:Ux:y:Z", (0, Some(1)), resize_pane),
    entry("resize-window", "aADLRt:Ux:y:", (0, Some(1)), resize_window),
    entry("swap-pane", "dDs:t:UZ", NONE, swap_pane),
    entry("move-window", "abdkrs:t:", NONE, move_window),
];

/// The table entry for a command name, alias or unique prefix, resolved by the crate's one
/// command-name table ([`canonical_command`]), as the control engine routes them.
pub(super) fn find(name: &str) -> Option<&'static Entry> {
    let name = canonical_command(name)?;
    COMMANDS.iter().find(|entry| entry.name == name)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Splits printed text into lines the way an engine reading stdout does: a final newline ends
/// the last line rather than starting an empty one.
fn text_lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n').map(str::to_string).collect()
}

/// The program name a shell command would show as `pane_current_command`.
fn command_name(shell_command: &[String]) -> String {
    let joined = shell_command.join(" ");
    joined
        .split_whitespace()
        .next()
        .map(|word| word.rsplit('/').next().unwrap_or(word).to_string())
        .filter(|word| !word.is_empty())
        .unwrap_or_else(|| "sh".to_string())
}

/// tmux replaces `:` and `.` in session names (they would read as target separators).
fn clean_session_name(name: &str) -> String {
    name.replace([':', '.'], "_")
}

fn parse_size(text: &str, what: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(value) if (1..=10_000).contains(&value) => Ok(value),
        _ => Err(format!("{what} invalid")),
    }
}

/// `N` or `N%` of `whole`.
fn parse_length(text: &str, whole: u32) -> Result<u32, String> {
    if let Some(percent) = text.strip_suffix('%') {
        let percent: u32 = percent
            .parse()
            .map_err(|_| format!("size invalid: {text}"))?;
        return Ok(whole.saturating_mul(percent) / 100);
    }
    text.parse().map_err(|_| format!("size invalid: {text}"))
}

/// Expands `format` for every item, keeping those whose `filter` expands to true.
fn render<'a, T>(
    items: impl IntoIterator<Item = T>,
    context: impl Fn(T) -> Context<'a>,
    format: &str,
    filter: Option<&str>,
) -> Vec<String> {
    items
        .into_iter()
        .map(context)
        .filter(|ctx| filter.is_none_or(|f| is_true(&ctx.expand(f))))
        .map(|ctx| ctx.expand(format))
        .collect()
}

fn is_true(value: &str) -> bool {
    !value.is_empty() && value != "0"
}

/// Session positions sorted by name, as tmux lists them.
fn sessions_by_name(server: &Server) -> Vec<usize> {
    let mut order: Vec<usize> = (0..server.sessions.len()).collect();
    order.sort_by(|a, b| server.sessions[*a].name.cmp(&server.sessions[*b].name));
    order
}

fn loc(session: usize, window: usize, pane: usize) -> Loc {
    Loc {
        session,
        window,
        pane,
    }
}

impl Server {
    fn new_pane(&mut self, width: u32, height: u32, command: String, path: String) -> Pane {
        let id = PaneId(self.next_pane);
        self.next_pane += 1;
        let pid = self.next_pid;
        self.next_pid += 1;
        Pane {
            id,
            pid,
            width,
            height,
            command,
            path,
            title: HOST.to_string(),
            lines: Vec::new(),
            options: Options::new(),
        }
    }

    fn new_window(
        &mut self,
        index: u32,
        name: Option<&str>,
        size: (u32, u32),
        command: String,
        path: String,
    ) -> Window {
        let id = WindowId(self.next_window);
        self.next_window += 1;
        let pane = self.new_pane(size.0, size.1, command.clone(), path);
        let mut options = Options::new();
        if name.is_some() {
            // tmux turns automatic renaming off for windows given a name.
            options.insert("automatic-rename".into(), "off".into());
        }
        Window {
            id,
            index,
            name: name.map(str::to_string).unwrap_or(command),
            width: size.0,
            height: size.1,
            active_pane: pane.id,
            panes: vec![pane],
            options,
        }
    }

    /// Inserts a window keeping the session's windows ordered by index; returns its position.
    fn insert_window(&mut self, session: usize, window: Window) -> usize {
        let windows = &mut self.sessions[session].windows;
        let position = windows
            .iter()
            .position(|other| other.index > window.index)
            .unwrap_or(windows.len());
        windows.insert(position, window);
        position
    }

    fn first_free_index(&self, session: usize) -> u32 {
        let base = self
            .session_option(session, "base-index")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        let windows = &self.sessions[session].windows;
        (base..)
            .find(|index| windows.iter().all(|w| w.index != *index))
            .unwrap_or(base)
    }

    fn remove_session(&mut self, session: usize) {
        self.sessions.remove(session);
        if self.sessions.is_empty() {
            self.stop();
        }
    }

    fn remove_window(&mut self, session: usize, window: usize) {
        if self.sessions[session].windows.len() == 1 {
            self.remove_session(session);
            return;
        }
        let target = &mut self.sessions[session];
        let removed = target.windows.remove(window);
        if target.last_window == Some(removed.id) {
            target.last_window = None;
        }
        if target.active_window == removed.id {
            let next = target
                .last_window
                .take()
                .filter(|id| target.windows.iter().any(|w| w.id == *id))
                .unwrap_or_else(|| target.windows[window.min(target.windows.len() - 1)].id);
            target.active_window = next;
        }
    }

    fn remove_pane(&mut self, at: Loc) {
        let window = &mut self.sessions[at.session].windows[at.window];
        if window.panes.len() == 1 {
            self.remove_window(at.session, at.window);
            return;
        }
        let removed = window.panes.remove(at.pane);
        let neighbour = at.pane.saturating_sub(1).min(window.panes.len() - 1);
        if window.panes.len() == 1 {
            window.panes[0].width = window.width;
            window.panes[0].height = window.height;
        } else {
            let other = &mut window.panes[neighbour];
            if other.width == removed.width {
                other.height = (other.height + removed.height + 1).min(window.height);
            } else {
                other.width = (other.width + removed.width + 1).min(window.width);
            }
        }
        if window.active_pane == removed.id {
            window.active_pane = window.panes[neighbour].id;
        }
    }

    /// The format printed by `-P`: `-F`, else tmux's default for the command.
    fn print_new(&self, call: &Call<'_>, at: Loc, default: &str) -> Vec<String> {
        if !call.args.has('P') {
            return Vec::new();
        }
        let format = call.args.value('F').unwrap_or(default);
        text_lines(&self.context(at).expand(format))
    }

    /// A new-window/move-window `-t`: a session and, maybe, an index (which need not exist).
    fn index_target(&self, target: Option<&str>) -> Result<(usize, Option<u32>), String> {
        let Some(text) = target.filter(|text| !text.is_empty()) else {
            return Ok((self.current()?.session, None));
        };
        if let Some((session_text, window_text)) = text.split_once(':') {
            let session = if session_text.is_empty() {
                self.current()?.session
            } else {
                self.find_session(session_text)?
            };
            if window_text.is_empty() {
                return Ok((session, None));
            }
            if let Some(index) = parse_index(window_text) {
                return Ok((session, Some(index)));
            }
            let window = self.find_window_in(session, window_text)?;
            return Ok((session, Some(self.sessions[session].windows[window].index)));
        }
        if let Some(index) = parse_index(text) {
            return Ok((self.current()?.session, Some(index)));
        }
        if text.starts_with('@') {
            let at = self.resolve(Kind::Window, Some(text))?;
            let index = self.sessions[at.session].windows[at.window].index;
            return Ok((at.session, Some(index)));
        }
        if let Ok(session) = self.find_session(text) {
            return Ok((session, None));
        }
        let at = self.resolve(Kind::Window, Some(text))?;
        Ok((
            at.session,
            Some(self.sessions[at.session].windows[at.window].index),
        ))
    }

    /// Picks the index for a window placed at `target` with new-window/move-window's `-a`,
    /// `-b` and `-k`; moves windows up to make room for `-a`/`-b`, kills one for `-k`.
    fn place_window(
        &mut self,
        session: usize,
        index: Option<u32>,
        args: &Args,
    ) -> Result<u32, String> {
        let Some(index) = index else {
            return Ok(self.first_free_index(session));
        };
        let after = args.has('a');
        let before = args.has('b');
        if after || before {
            let slot = if after { index + 1 } else { index };
            let windows = &mut self.sessions[session].windows;
            if windows.iter().any(|w| w.index == slot) {
                // Shift the run of occupied indexes starting at `slot` up by one.
                let mut end = slot;
                while windows.iter().any(|w| w.index == end + 1) {
                    end += 1;
                }
                for window in windows.iter_mut() {
                    if window.index >= slot && window.index <= end {
                        window.index += 1;
                    }
                }
            }
            return Ok(slot);
        }
        if let Some(position) = self.sessions[session]
            .windows
            .iter()
            .position(|w| w.index == index)
        {
            if !args.has('k') {
                return Err(format!("create window failed: index {index} in use"));
            }
            if self.sessions[session].windows.len() == 1 {
                // Killing the only window first would destroy the session; replace in place.
                self.sessions[session].windows[position].index = u32::MAX;
            } else {
                self.remove_window(session, position);
            }
        }
        Ok(index)
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions, windows, panes

fn new_session(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let id = SessionId(server.next_session);
    let name = match args.value('s') {
        Some(name) => clean_session_name(name),
        None => id.0.to_string(),
    };
    if let Some(existing) = server.sessions.iter().position(|s| s.name == name) {
        if args.has('A') {
            // Attaching succeeds over control mode; the sim has no client to move.
            let _ = existing;
            return Ok(Vec::new());
        }
        return Err(format!("duplicate session: {name}"));
    }
    let (default_width, default_height) = server
        .global_session_options
        .get("default-size")
        .and_then(|size| size.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((80, 24));
    let width = args
        .value('x')
        .map(|x| parse_size(x, "width"))
        .transpose()?
        .unwrap_or(default_width);
    let height = args
        .value('y')
        .map(|y| parse_size(y, "height"))
        .transpose()?
        .unwrap_or(default_height);
    let cwd = args.value('c').unwrap_or("/").to_string();
    let command = command_name(&args.positional);
    server.next_session += 1;
    let base = server
        .global_session_options
        .get("base-index")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let window = server.new_window(base, args.value('n'), (width, height), command, cwd.clone());
    let mut session_options = Options::new();
    if args.has('x') || args.has('y') {
        // tmux records an explicit size as the session's default-size.
        session_options.insert("default-size".into(), format!("{width}x{height}"));
    }
    let activity = server.tick();
    server.sessions.push(Session {
        id,
        name,
        created: now_seconds(),
        activity,
        cwd,
        active_window: window.id,
        last_window: None,
        windows: vec![window],
        options: session_options,
        environment: BTreeMap::new(),
    });
    server.kept_empty = false;
    let at = loc(server.sessions.len() - 1, 0, 0);
    Ok(server.print_new(call, at, "#{session_name}:"))
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

fn new_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let (session, index) = server.index_target(args.value('t'))?;
    if args.has('S') {
        if let Some(name) = args.value('n') {
            if let Some(position) = server.sessions[session]
                .windows
                .iter()
                .position(|w| w.name == name)
            {
                let id = server.sessions[session].windows[position].id;
                server.sessions[session].select_window(id);
                return Ok(Vec::new());
            }
        }
    }
    let index = server.place_window(session, index, args)?;
    let current = &server.sessions[session];
    let active = &current.windows[current.active_window_position()];
    let size = (active.width, active.height);
    let cwd = args.value('c').unwrap_or(&current.cwd).to_string();
    let command = command_name(&args.positional);
    let window = server.new_window(index, args.value('n'), size, command, cwd);
    let id = window.id;
    server.sessions[session]
        .windows
        .retain(|w| w.index != u32::MAX);
    let position = server.insert_window(session, window);
    if !args.has('d') {
        server.sessions[session].select_window(id);
    }
    let at = loc(session, position, 0);
    Ok(server.print_new(call, at, "#{session_name}:#{window_index}.#{pane_index}"))
}

fn split_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Pane, args.value('t'))?;
    let horizontal = args.has('h');
    let target = server.pane(at);
    let whole = if horizontal {
        target.width
    } else {
        target.height
    };
    let new_size = match (args.value('l'), args.value('p')) {
        (Some(length), _) => parse_length(length, whole)?,
        (None, Some(percent)) => parse_length(&format!("{percent}%"), whole)?,
        (None, None) => whole.saturating_sub(1) / 2,
    };
    if new_size < 1 || new_size + 1 >= whole {
        return Err("no space for new pane".to_string());
    }
    let old_size = whole - new_size - 1;
    let (width, height) = if horizontal {
        (new_size, target.height)
    } else {
        (target.width, new_size)
    };
    let cwd = args
        .value('c')
        .map(str::to_string)
        .unwrap_or_else(|| server.sessions[at.session].cwd.clone());
    let pane = server.new_pane(width, height, command_name(&args.positional), cwd);
    let id = pane.id;
    let target = server.pane_mut(at);
    if horizontal {
        target.width = old_size;
    } else {
        target.height = old_size;
    }
    let position = if args.has('b') { at.pane } else { at.pane + 1 };
    let window = server.window_mut(at);
    window.panes.insert(position, pane);
    if !args.has('d') {
        window.active_pane = id;
    }
    let new_at = Loc {
        pane: position,
        ..at
    };
    Ok(server.print_new(
        call,
        new_at,
        "#{session_name}:#{window_index}.#{pane_index}",
    ))
}

fn kill_session(server: &mut Server, call: &Call<'_>) -> Outcome {
    let at = server.resolve(Kind::Session, call.args.value('t'))?;
    if call.args.has('a') {
        let keep = server.sessions[at.session].id;
        server.sessions.retain(|session| session.id == keep);
    } else {
        server.remove_session(at.session);
    }
    Ok(Vec::new())
}

fn kill_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let at = server.resolve(Kind::Window, call.args.value('t'))?;
    if call.args.has('a') {
        let session = &mut server.sessions[at.session];
        let keep = session.windows[at.window].id;
        session.windows.retain(|window| window.id == keep);
        session.active_window = keep;
        session.last_window = None;
    } else {
        server.remove_window(at.session, at.window);
    }
    Ok(Vec::new())
}

fn kill_pane(server: &mut Server, call: &Call<'_>) -> Outcome {
    let at = server.resolve(Kind::Pane, call.args.value('t'))?;
    if call.args.has('a') {
        let window = server.window_mut(at);
        let keep = window.panes[at.pane].id;
        window.panes.retain(|pane| pane.id == keep);
        window.active_pane = keep;
        let (width, height) = (window.width, window.height);
        window.panes[0].width = width;
        window.panes[0].height = height;
    } else {
        server.remove_pane(at);
    }
    Ok(Vec::new())
}

fn kill_server(server: &mut Server, _call: &Call<'_>) -> Outcome {
    server.stop();
    Ok(Vec::new())
}

fn start_server(server: &mut Server, _call: &Call<'_>) -> Outcome {
    if server.sessions.is_empty() {
        server.kept_empty = true;
    }
    Ok(Vec::new())
}

fn has_session(server: &mut Server, call: &Call<'_>) -> Outcome {
    server.resolve(Kind::Session, call.args.value('t'))?;
    Ok(Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Listing and formats

const LIST_WINDOWS: &str = "#{window_index}: #{window_name}#{window_flags} (#{window_panes} panes) [#{window_width}x#{window_height}] [layout #{window_layout}] #{window_id}#{?window_active, (active),}";
const LIST_WINDOWS_ALL: &str = "#{session_name}:#{window_index}: #{window_name}#{window_flags} (#{window_panes} panes) [#{window_width}x#{window_height}] ";
const PANE_TAIL: &str = "[#{pane_width}x#{pane_height}] [history #{history_size}/#{history_limit}, #{history_bytes} bytes] #{pane_id}#{?pane_active, (active),}";

fn list_sessions(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let server = &*server;
    let order = sessions_by_name(server);
    let context = |session: usize| {
        let at = Loc {
            session,
            window: server.sessions[session].active_window_position(),
            pane: 0,
        };
        let mut ctx = server.context(at);
        ctx.pane = None;
        ctx.window = None;
        ctx
    };
    match args.value('F') {
        Some(format) => Ok(render(order, context, format, args.value('f'))),
        None => Ok(order
            .into_iter()
            .map(context)
            .filter(|ctx| args.value('f').is_none_or(|f| is_true(&ctx.expand(f))))
            .map(|ctx| {
                let created = ctx
                    .session
                    .map(|s| ctime_utc(s.created))
                    .unwrap_or_default();
                format!(
                    "{}: {} windows (created {created})",
                    ctx.variable("session_name"),
                    ctx.variable("session_windows"),
                )
            })
            .collect()),
    }
}

fn window_locs(server: &Server, sessions: &[usize]) -> Vec<Loc> {
    sessions
        .iter()
        .flat_map(|&session| {
            server.sessions[session]
                .windows
                .iter()
                .enumerate()
                .map(move |(window, w)| Loc {
                    session,
                    window,
                    pane: w.active_pane_position(),
                })
        })
        .collect()
}

fn list_windows(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let server = &*server;
    let (sessions, default) = if args.has('a') {
        (sessions_by_name(server), LIST_WINDOWS_ALL)
    } else {
        let at = server.resolve(Kind::Session, args.value('t'))?;
        (vec![at.session], LIST_WINDOWS)
    };
    let format = args.value('F').unwrap_or(default);
    let locs = window_locs(server, &sessions);
    Ok(render(
        locs,
        |at| server.context(at),
        format,
        args.value('f'),
    ))
}

fn list_panes(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let server = &*server;
    let (windows, prefix) = if args.has('a') {
        let sessions = sessions_by_name(server);
        (
            window_locs(server, &sessions),
            "#{session_name}:#{window_index}.#{pane_index}: ",
        )
    } else if args.has('s') {
        let at = server.resolve(Kind::Session, args.value('t'))?;
        (
            window_locs(server, &[at.session]),
            "#{window_index}.#{pane_index}: ",
        )
    } else {
        let at = server.resolve(Kind::Window, args.value('t'))?;
        (vec![at], "#{pane_index}: ")
    };
    let default = format!("{prefix}{PANE_TAIL}");
    let format = args.value('F').unwrap_or(&default);
    let panes: Vec<Loc> = windows
        .into_iter()
        .flat_map(|at| {
            let count = server.sessions[at.session].windows[at.window].panes.len();
            (0..count).map(move |pane| Loc { pane, ..at })
        })
        .collect();
    Ok(render(
        panes,
        |at| server.context(at),
        format,
        args.value('f'),
    ))
}

fn list_clients(server: &mut Server, call: &Call<'_>) -> Outcome {
    if let Some(target) = call.args.value('t') {
        server.resolve(Kind::Session, Some(target))?;
    }
    Ok(Vec::new())
}

const DISPLAY_DEFAULT: &str =
    "[#{session_name}] #{window_index}:#{window_name}, current pane #{pane_index}";

fn display_message(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    if let Some(client) = args.value('c') {
        return Err(format!("can't find client: {client}"));
    }
    // display-message may fail to find its target and still print (tmux's CMD_FIND_CANFAIL).
    let context = match server.resolve(Kind::Pane, args.value('t')) {
        Ok(at) => server.context(at),
        Err(_) => server.empty_context(),
    };
    if args.has('a') {
        let names = [
            "session_id",
            "session_name",
            "window_id",
            "window_index",
            "window_name",
            "pane_id",
            "pane_index",
            "version",
        ];
        return Ok(names
            .iter()
            .map(|name| format!("{name}={}", context.variable(name)))
            .collect());
    }
    let format = args.first().or(args.value('F')).unwrap_or(DISPLAY_DEFAULT);
    let text = context.expand(format);
    if !args.has('p') {
        // Without -p the message goes to a client's status line; the sim has no client.
        return Ok(Vec::new());
    }
    Ok(vec![text]
        .into_iter()
        .flat_map(|line| {
            if line.is_empty() {
                vec![String::new()]
            } else {
                text_lines(&line)
            }
        })
        .collect())
}

fn rename_session(server: &mut Server, call: &Call<'_>) -> Outcome {
    let at = server.resolve(Kind::Session, call.args.value('t'))?;
    let name = clean_session_name(call.args.first().unwrap_or(""));
    if server
        .sessions
        .iter()
        .enumerate()
        .any(|(position, s)| position != at.session && s.name == name)
    {
        return Err(format!("duplicate session: {name}"));
    }
    server.sessions[at.session].name = name;
    Ok(Vec::new())
}

fn rename_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let at = server.resolve(Kind::Window, call.args.value('t'))?;
    let window = server.window_mut(at);
    window.name = call.args.first().unwrap_or("").to_string();
    window
        .options
        .insert("automatic-rename".into(), "off".into());
    Ok(Vec::new())
}

fn select_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Window, args.value('t'))?;
    let session = &mut server.sessions[at.session];
    let count = session.windows.len();
    let current = session.active_window_position();
    let chosen = if args.has('l') {
        let last = session
            .last_window
            .ok_or_else(|| "no last window".to_string())?;
        session
            .windows
            .iter()
            .position(|w| w.id == last)
            .ok_or_else(|| "no last window".to_string())?
    } else if args.has('n') {
        (current + 1) % count
    } else if args.has('p') {
        (current + count - 1) % count
    } else if args.has('T') && at.window == current {
        match session.last_window {
            Some(last) => session
                .windows
                .iter()
                .position(|w| w.id == last)
                .unwrap_or(current),
            None => current,
        }
    } else {
        at.window
    };
    let id = session.windows[chosen].id;
    session.select_window(id);
    Ok(Vec::new())
}

fn select_pane(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Pane, args.value('t'))?;
    if let Some(title) = args.value('T') {
        server.pane_mut(at).title = title.to_string();
        return Ok(Vec::new());
    }
    let window = &server.sessions[at.session].windows[at.window];
    let count = window.panes.len();
    // Directions move by index: the sim keeps no geometry to find a real neighbour.
    let chosen = if args.has('L') || args.has('U') {
        (at.pane + count - 1) % count
    } else if args.has('R') || args.has('D') {
        (at.pane + 1) % count
    } else {
        at.pane
    };
    if args.has('d') || args.has('e') || args.has('m') || args.has('M') || args.has('P') {
        return Ok(Vec::new());
    }
    let id = window.panes[chosen].id;
    let window_id = window.id;
    server.window_mut(at).active_pane = id;
    server.sessions[at.session].select_window(window_id);
    Ok(Vec::new())
}

/// Key names tmux understands that the sim gives meaning to or swallows.
fn key_effect(key: &str) -> Option<KeyEffect> {
    match key {
        "Enter" | "C-m" | "KPEnter" | "C-j" => Some(KeyEffect::Newline),
        "Space" => Some(KeyEffect::Text(" ")),
        "Tab" | "C-i" => Some(KeyEffect::Text("\t")),
        "BSpace" | "C-h" => Some(KeyEffect::Backspace),
        "Escape" | "Up" | "Down" | "Left" | "Right" | "Home" | "End" | "PageUp" | "PageDown"
        | "PgUp" | "PgDn" | "NPage" | "PPage" | "IC" | "DC" | "Insert" | "Delete" | "BTab" => {
            Some(KeyEffect::None)
        }
        _ => {
            let modified = ["C-", "M-", "S-"]
                .iter()
                .any(|prefix| key.starts_with(prefix) && key.chars().count() > 2);
            let function = key
                .strip_prefix('F')
                .and_then(parse_index)
                .is_some_and(|n| (1..=12).contains(&n));
            (modified || function).then_some(KeyEffect::None)
        }
    }
}

enum KeyEffect {
    Newline,
    Text(&'static str),
    Backspace,
    None,
}

fn send_keys(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Pane, args.value('t'))?;
    if args.has('X') {
        return Err("not in a mode".to_string());
    }
    let repeat = match args.value('N') {
        Some(count) => parse_index(count)
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("repeat count invalid: {count}"))?,
        None => 1,
    };
    let pane = server.pane_mut(at);
    if args.has('R') {
        pane.lines.clear();
    }
    for _ in 0..repeat {
        for key in &args.positional {
            if args.has('l') {
                pane.write_text(key);
            } else if args.has('H') {
                let byte =
                    u8::from_str_radix(key, 16).map_err(|_| format!("invalid key: {key}"))?;
                pane.write_text(&String::from_utf8_lossy(&[byte]));
            } else {
                match key_effect(key) {
                    Some(KeyEffect::Newline) => pane.lines.push(String::new()),
                    Some(KeyEffect::Text(text)) => pane.write_text(text),
                    Some(KeyEffect::Backspace) => {
                        if let Some(last) = pane.lines.last_mut() {
                            last.pop();
                        }
                    }
                    Some(KeyEffect::None) => {}
                    None => pane.write_text(key),
                }
            }
        }
    }
    Ok(Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Buffers

impl Server {
    fn buffer_position(&self, name: &str) -> Option<usize> {
        self.buffers.iter().position(|buffer| buffer.name == name)
    }

    /// Stores data under `name` (replacing that buffer) or under the next automatic name; the
    /// buffer becomes the most recent.
    fn store_buffer(&mut self, name: Option<&str>, data: Vec<u8>) {
        let name = match name {
            Some(name) => {
                if let Some(position) = self.buffer_position(name) {
                    self.buffers.remove(position);
                }
                name.to_string()
            }
            None => {
                let name = format!("buffer{}", self.next_buffer);
                self.next_buffer += 1;
                name
            }
        };
        self.buffers.insert(0, Buffer { name, data });
    }

    /// A buffer by `-b` name, or the most recent; errors as show-buffer words them.
    fn chosen_buffer(&self, name: Option<&str>) -> Result<usize, String> {
        match name {
            Some(name) => self
                .buffer_position(name)
                .ok_or_else(|| format!("no buffer {name}")),
            None if self.buffers.is_empty() => Err("no buffers".to_string()),
            None => Ok(0),
        }
    }
}

fn set_buffer(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    if let Some(new_name) = args.value('n') {
        let position = server.chosen_buffer(args.value('b'))?;
        if let Some(existing) = server.buffer_position(new_name) {
            if existing != position {
                server.buffers.remove(existing);
            }
        }
        let position = server.chosen_buffer(args.value('b'))?;
        server.buffers[position].name = new_name.to_string();
        if args.first().is_none() {
            return Ok(Vec::new());
        }
    }
    let Some(data) = args.first() else {
        return Err("no data specified".to_string());
    };
    if args.has('a') {
        let existing = match args.value('b') {
            Some(name) => server.buffer_position(name),
            None => (!server.buffers.is_empty()).then_some(0),
        };
        if let Some(position) = existing {
            server.buffers[position]
                .data
                .extend_from_slice(data.as_bytes());
            return Ok(Vec::new());
        }
    }
    server.store_buffer(args.value('b'), data.as_bytes().to_vec());
    Ok(Vec::new())
}

fn show_buffer(server: &mut Server, call: &Call<'_>) -> Outcome {
    let position = server.chosen_buffer(call.args.value('b'))?;
    Ok(text_lines(&String::from_utf8_lossy(
        &server.buffers[position].data,
    )))
}

fn list_buffers(server: &mut Server, call: &Call<'_>) -> Outcome {
    let server = &*server;
    let format = call
        .args
        .value('F')
        .unwrap_or("#{buffer_name}: #{buffer_size} bytes: \"#{buffer_sample}\"");
    Ok(render(
        server.buffers.iter(),
        |buffer| {
            let mut context = server.empty_context();
            context.buffer = Some(buffer);
            context
        },
        format,
        call.args.value('f'),
    ))
}

/// tmux's `strerror` wording for the common cases.
fn io_error_text(path: &str, error: &std::io::Error) -> String {
    let reason = match error.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
        _ => error.to_string(),
    };
    format!("{path}: {reason}")
}

fn load_buffer(server: &mut Server, call: &Call<'_>) -> Outcome {
    let path = call.args.first().unwrap_or("-");
    let data = if path == "-" {
        call.stdin.map(<[u8]>::to_vec).unwrap_or_default()
    } else {
        std::fs::read(path).map_err(|error| io_error_text(path, &error))?
    };
    server.store_buffer(call.args.value('b'), data);
    Ok(Vec::new())
}

fn save_buffer(server: &mut Server, call: &Call<'_>) -> Outcome {
    let position = server.chosen_buffer(call.args.value('b'))?;
    let data = &server.buffers[position].data;
    let path = call.args.first().unwrap_or("-");
    if path == "-" {
        return Ok(text_lines(&String::from_utf8_lossy(data)));
    }
    let result = if call.args.has('a') {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut file| file.write_all(data))
    } else {
        std::fs::write(path, data)
    };
    result.map_err(|error| io_error_text(path, &error))?;
    Ok(Vec::new())
}

fn delete_buffer(server: &mut Server, call: &Call<'_>) -> Outcome {
    let position = match call.args.value('b') {
        Some(name) => server
            .buffer_position(name)
            .ok_or_else(|| format!("unknown buffer: {name}"))?,
        None if server.buffers.is_empty() => return Err("no buffer".to_string()),
        None => 0,
    };
    server.buffers.remove(position);
    Ok(Vec::new())
}

fn paste_buffer(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Pane, args.value('t'))?;
    let position = match args.value('b') {
        Some(name) => server
            .buffer_position(name)
            .ok_or_else(|| format!("no buffer {name}"))?,
        // Nothing to paste is not an error in tmux.
        None if server.buffers.is_empty() => return Ok(Vec::new()),
        None => 0,
    };
    let mut text = String::from_utf8_lossy(&server.buffers[position].data).into_owned();
    if let Some(separator) = args.value('s') {
        text = text.replace('\n', separator);
    }
    server.pane_mut(at).write_text(&text);
    if args.has('d') {
        server.buffers.remove(position);
    }
    Ok(Vec::new())
}

/// A capture-pane line number: `-` is the edge, negative numbers reach into history.
fn capture_line(text: Option<&str>, edge: i64) -> Result<i64, String> {
    match text {
        None => Ok(edge),
        Some("-") => Ok(edge),
        Some(number) => number
            .parse()
            .map_err(|_| format!("invalid line number: {number}")),
    }
}

fn capture_pane(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Pane, args.value('t'))?;
    if args.has('a') {
        if args.has('q') {
            return Ok(Vec::new());
        }
        return Err("no alternate screen".to_string());
    }
    let pane = server.pane(at);
    let history = pane.history_size() as i64;
    let height = i64::from(pane.height);
    // Line numbers are relative to the top of the visible screen; history is negative.
    let start = match args.value('S') {
        Some("-") => -history,
        other => capture_line(other, 0)?.max(-history),
    };
    let end = match args.value('E') {
        Some("-") => height - 1,
        other => capture_line(other, height - 1)?.min(height - 1),
    };
    let mut captured = Vec::new();
    let mut line = start;
    while line <= end {
        let position = history + line;
        let text = usize::try_from(position)
            .ok()
            .and_then(|position| pane.lines.get(position))
            .map(|text| text.trim_end().to_string())
            .unwrap_or_default();
        captured.push(text);
        line += 1;
    }
    if args.has('p') {
        return Ok(captured);
    }
    let mut data = captured.join("\n").into_bytes();
    data.push(b'\n');
    server.store_buffer(args.value('b'), data);
    Ok(Vec::new())
}

fn clear_history(server: &mut Server, call: &Call<'_>) -> Outcome {
    let at = server.resolve(Kind::Pane, call.args.value('t'))?;
    let pane = server.pane_mut(at);
    let history = pane.history_size();
    pane.lines.drain(..history);
    Ok(Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Options and environment

/// Which option map a set/show-options call addresses.
enum Where {
    Server,
    GlobalSession,
    GlobalWindow,
    Session(usize),
    Window(Loc),
    Pane(Loc),
}

fn option_scope(server: &Server, args: &Args, name: Option<&str>) -> Result<Where, String> {
    let known = name.and_then(options::scope_of);
    let user = name.is_some_and(|name| name.starts_with('@'));
    let scope = if args.has('s') {
        Scope::Server
    } else if args.has('p') {
        Scope::Pane
    } else if args.has('w') {
        Scope::Window
    } else if user || name.is_none() {
        Scope::Session
    } else {
        known.unwrap_or(Scope::Session)
    };
    let target = args.value('t');
    Ok(match (scope, args.has('g')) {
        (Scope::Server, _) => Where::Server,
        (Scope::Session, true) => Where::GlobalSession,
        (Scope::Window | Scope::Pane, true) => Where::GlobalWindow,
        (Scope::Session, false) => Where::Session(server.resolve(Kind::Session, target)?.session),
        (Scope::Window, false) => Where::Window(server.resolve(Kind::Window, target)?),
        (Scope::Pane, false) => Where::Pane(server.resolve(Kind::Pane, target)?),
    })
}

fn options_at<'a>(server: &'a mut Server, place: &Where) -> &'a mut Options {
    match place {
        Where::Server => &mut server.server_options,
        Where::GlobalSession => &mut server.global_session_options,
        Where::GlobalWindow => &mut server.global_window_options,
        Where::Session(session) => &mut server.sessions[*session].options,
        Where::Window(at) => &mut server.window_mut(*at).options,
        Where::Pane(at) => &mut server.pane_mut(*at).options,
    }
}

fn set_option(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let name = args.first().unwrap_or("");
    if options::scope_of(name).is_none() {
        if args.has('q') {
            return Ok(Vec::new());
        }
        return Err(format!("invalid option: {name}"));
    }
    let place = option_scope(server, args, Some(name))?;
    let value = args.positional.get(1).cloned().unwrap_or_default();
    let value = if args.has('F') {
        match server.resolve(Kind::Pane, args.value('t')) {
            Ok(at) => server.context(at).expand(&value),
            Err(_) => server.empty_context().expand(&value),
        }
    } else {
        value
    };
    let options = options_at(server, &place);
    if args.has('u') || args.has('U') {
        options.remove(name);
        return Ok(Vec::new());
    }
    if args.has('o') && options.contains_key(name) {
        if args.has('q') {
            return Ok(Vec::new());
        }
        return Err(format!("already set: {name}"));
    }
    if args.has('a') {
        options
            .entry(name.to_string())
            .or_default()
            .push_str(&value);
    } else {
        options.insert(name.to_string(), value);
    }
    Ok(Vec::new())
}

fn set_window_option(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = call.args.with_flag('w');
    set_option(
        server,
        &Call {
            args,
            stdin: call.stdin,
        },
    )
}

/// tmux quotes option values that contain spaces or are empty.
fn quote_value(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '"', '\'', '#', ';']) {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

fn show_options(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let name = args.first();
    if let Some(name) = name {
        if options::scope_of(name).is_none() {
            if args.has('q') {
                return Ok(Vec::new());
            }
            return Err(format!("invalid option: {name}"));
        }
    }
    let place = option_scope(server, args, name)?;
    let defaults: Vec<(&str, &str)> = match place {
        Where::Server => options::defaults_of(Scope::Server).collect(),
        Where::GlobalSession => options::defaults_of(Scope::Session).collect(),
        Where::GlobalWindow => options::defaults_of(Scope::Window)
            .chain(options::defaults_of(Scope::Pane))
            .collect(),
        _ => Vec::new(),
    };
    let stored = options_at(server, &place).clone();
    let mut merged: BTreeMap<String, String> = defaults
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    merged.extend(stored);
    let line = |key: &str, value: &str| {
        if args.has('v') {
            value.to_string()
        } else {
            format!("{key} {}", quote_value(value))
        }
    };
    match name {
        Some(name) => match merged.get(name) {
            Some(value) => Ok(vec![line(name, value)]),
            None if name.starts_with('@') && !args.has('q') => {
                Err(format!("invalid option: {name}"))
            }
            None => Ok(Vec::new()),
        },
        None => Ok(merged.iter().map(|(key, value)| line(key, value)).collect()),
    }
}

fn show_window_options(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = call.args.with_flag('w');
    show_options(
        server,
        &Call {
            args,
            stdin: call.stdin,
        },
    )
}

fn environment_at<'a>(
    server: &'a mut Server,
    args: &Args,
) -> Result<&'a mut BTreeMap<String, Option<String>>, String> {
    if args.has('g') {
        return Ok(&mut server.global_environment);
    }
    let at = server.resolve(Kind::Session, args.value('t'))?;
    Ok(&mut server.sessions[at.session].environment)
}

fn set_environment(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let name = args.first().unwrap_or("").to_string();
    if name.is_empty() || name.contains('=') {
        return Err("empty variable name".to_string());
    }
    let value = args.positional.get(1).cloned();
    let environment = environment_at(server, args)?;
    if args.has('u') {
        environment.remove(&name);
    } else if args.has('r') {
        environment.insert(name, None);
    } else {
        let Some(value) = value else {
            return Err("no value specified".to_string());
        };
        environment.insert(name, Some(value));
    }
    Ok(Vec::new())
}

fn show_environment(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let environment = environment_at(server, args)?;
    let line = |name: &str, value: &Option<String>| match value {
        Some(value) if args.has('s') => format!("{name}=\"{value}\"; export {name};"),
        Some(value) => format!("{name}={value}"),
        None if args.has('s') => format!("unset {name};"),
        None => format!("-{name}"),
    };
    match args.first() {
        Some(name) => environment
            .get(name)
            .map(|value| vec![line(name, value)])
            .ok_or_else(|| format!("unknown variable: {name}")),
        None => Ok(environment
            .iter()
            .map(|(name, value)| line(name, value))
            .collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes and moves

fn resize_pane(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Pane, args.value('t'))?;
    let (window_width, window_height) = {
        let window = &server.sessions[at.session].windows[at.window];
        (window.width, window.height)
    };
    let amount = match args.first() {
        Some(text) => parse_index(text).ok_or_else(|| format!("adjustment invalid: {text}"))?,
        None => 1,
    };
    let pane = server.pane_mut(at);
    if let Some(width) = args.value('x') {
        pane.width = parse_length(width, window_width)?.clamp(1, window_width);
    }
    if let Some(height) = args.value('y') {
        pane.height = parse_length(height, window_height)?.clamp(1, window_height);
    }
    if args.has('L') {
        pane.width = pane.width.saturating_sub(amount).max(1);
    }
    if args.has('R') {
        pane.width = (pane.width + amount).min(window_width);
    }
    if args.has('U') {
        pane.height = pane.height.saturating_sub(amount).max(1);
    }
    if args.has('D') {
        pane.height = (pane.height + amount).min(window_height);
    }
    Ok(Vec::new())
}

fn resize_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let at = server.resolve(Kind::Window, args.value('t'))?;
    let amount = match args.first() {
        Some(text) => parse_index(text).ok_or_else(|| format!("adjustment invalid: {text}"))?,
        None => 1,
    };
    let window = server.window_mut(at);
    let (old_width, old_height) = (window.width, window.height);
    let mut width = match args.value('x') {
        Some(x) => parse_size(x, "width")?,
        None => old_width,
    };
    let mut height = match args.value('y') {
        Some(y) => parse_size(y, "height")?,
        None => old_height,
    };
    if args.has('L') {
        width = width.saturating_sub(amount).max(1);
    }
    if args.has('R') {
        width += amount;
    }
    if args.has('U') {
        height = height.saturating_sub(amount).max(1);
    }
    if args.has('D') {
        height += amount;
    }
    window.width = width;
    window.height = height;
    // Panes spanning the window follow it; the last pane absorbs the rest of the change.
    let count = window.panes.len();
    for (position, pane) in window.panes.iter_mut().enumerate() {
        let last = position + 1 == count;
        if pane.width == old_width {
            pane.width = width;
        } else if last {
            pane.width = (pane.width + width).saturating_sub(old_width).max(1);
        }
        if pane.height == old_height {
            pane.height = height;
        } else if last {
            pane.height = (pane.height + height).saturating_sub(old_height).max(1);
        }
    }
    Ok(Vec::new())
}

fn swap_pane(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    let target = server.resolve(Kind::Pane, args.value('t'))?;
    let source = if args.has('D') || args.has('U') {
        let count = server.sessions[target.session].windows[target.window]
            .panes
            .len();
        let pane = if args.has('D') {
            (target.pane + 1) % count
        } else {
            (target.pane + count - 1) % count
        };
        Loc { pane, ..target }
    } else {
        match args.value('s') {
            Some(source) => server.resolve(Kind::Pane, Some(source))?,
            None => return Err("no source pane (the sim has no marked pane)".to_string()),
        }
    };
    if source == target {
        return Ok(Vec::new());
    }
    // Panes trade places; each place keeps its size.
    let source_pane = placeholder_swap(server, source, None);
    let target_pane = placeholder_swap(server, target, Some(source_pane));
    placeholder_swap(server, source, Some(target_pane));
    if !args.has('d') {
        let source_id = server.pane(target).id;
        server.window_mut(target).active_pane = source_id;
    }
    Ok(Vec::new())
}

/// Takes the pane at `at` out (leaving `replacement`, or an empty pane) and returns it with the
/// size of the place it leaves transferred to whatever goes there.
fn placeholder_swap(server: &mut Server, at: Loc, replacement: Option<Pane>) -> Pane {
    let slot = server.pane_mut(at);
    let (width, height) = (slot.width, slot.height);
    let mut incoming = replacement.unwrap_or_else(|| Pane {
        id: slot.id,
        pid: 0,
        width,
        height,
        command: String::new(),
        path: String::new(),
        title: String::new(),
        lines: Vec::new(),
        options: Options::new(),
    });
    let outgoing_width = slot.width;
    let outgoing_height = slot.height;
    incoming.width = outgoing_width;
    incoming.height = outgoing_height;
    let window = server.window_mut(at);
    let active_was_here = window.active_pane == window.panes[at.pane].id;
    let outgoing = std::mem::replace(&mut window.panes[at.pane], incoming);
    if active_was_here {
        window.active_pane = window.panes[at.pane].id;
    }
    outgoing
}

fn move_window(server: &mut Server, call: &Call<'_>) -> Outcome {
    let args = &call.args;
    if args.has('r') {
        let session = server.resolve(Kind::Session, args.value('t'))?.session;
        let base = server
            .session_option(session, "base-index")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0u32);
        for (offset, window) in server.sessions[session].windows.iter_mut().enumerate() {
            window.index = base + offset as u32;
        }
        return Ok(Vec::new());
    }
    let source = server.resolve(Kind::Window, args.value('s'))?;
    let source_id = server.sessions[source.session].windows[source.window].id;
    let (session, index) = server.index_target(args.value('t'))?;
    let same_session = session == source.session;
    if same_session && index == Some(server.sessions[session].windows[source.window].index) {
        return Ok(Vec::new());
    }
    let index = server.place_window(session, index, args)?;
    // Positions may have moved when -k killed a window or -a shifted indexes.
    let Some(from) = server
        .sessions
        .iter()
        .position(|s| s.windows.iter().any(|w| w.id == source_id))
    else {
        return Err(format!("can't find window: {source_id}"));
    };
    let Some(target_session_id) = server.sessions.get(session).map(|s| s.id) else {
        return Err("can't find session".to_string());
    };
    let position = server.sessions[from]
        .windows
        .iter()
        .position(|w| w.id == source_id)
        .unwrap_or(0);
    let mut window = server.sessions[from].windows.remove(position);
    window.index = index;
    if server.sessions[from].windows.is_empty() {
        server.sessions.remove(from);
    } else if server.sessions[from].active_window == source_id {
        let next = server.sessions[from].windows[0].id;
        server.sessions[from].active_window = next;
    }
    let Some(session) = server
        .sessions
        .iter()
        .position(|s| s.id == target_session_id)
    else {
        return Err("can't find session".to_string());
    };
    server.sessions[session]
        .windows
        .retain(|w| w.index != u32::MAX);
    server.insert_window(session, window);
    if !args.has('d') {
        server.sessions[session].select_window(source_id);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn every_simulated_command_is_a_tmux_command() {
        for entry in COMMANDS {
            assert_eq!(canonical_command(entry.name), Some(entry.name));
        }
    }
}
