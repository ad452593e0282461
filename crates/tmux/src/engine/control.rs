//! The control-mode engine: one persistent `tmux -C` connection per server, pipelined.
//!
//! - Requests are written one command per line and paired with reply blocks by order and flags
//!   ([`Correlator`]); commands that may queue more commands (`source-file`, `if-shell`) are
//!   followed by a sentinel so their extra blocks are attributed to them.
//! - Commands that would block the shared connection (`wait-for`, foreground `run-shell`) or
//!   act on "the current client" (`switch-client`, `detach-client`, …) run on their own
//!   connection: a separate `tmux` process.
//! - The connection attaches to a hidden session of its own (`__cao_control` by default), so
//!   it never changes what the user's sessions look like; that session keeps the server alive
//!   while the engine is connected.
//! - Notifications go to bounded broadcast queues; the reader never waits for a consumer (a
//!   consumer that falls behind sees `Lagged`). Flow control (`pause-after`) is on, and a paused
//!   pane is continued automatically, so tmux never disconnects a slow engine.
//! - When the connection dies, every pending request fails with the reason; the engine
//!   reconnects in the background with backoff (only to a server that still runs) and on the
//!   next request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{broadcast, oneshot, watch};

use super::subprocess::{is_no_server_message, SubprocessEngine};
use super::{default_tmux_binary, lock, Engine, EngineError};
use crate::command::{canonical_command, CommandOutput, TmuxCommand};
use crate::ids::PaneId;
use crate::ops::Operation;
pub use crate::protocol::Notification;
use crate::protocol::{
    ControlParser, Correlated, Correlator, Expectation, ProtocolEvent, ReplyBlock,
};
use crate::quote::{check_argv, write_control_line};
use crate::socket::Socket;
use crate::version::TmuxVersion;

/// The hidden session the control connection attaches to.
pub const DEFAULT_CONTROL_SESSION: &str = "__cao_control";

/// The format that identifies a server: its pid and start time (a pid alone is reused).
const SERVER_IDENTITY_FORMAT: &str = "#{pid} #{start_time}";

/// Which tmux server a connection reaches: two servers on the same socket, one after the
/// other, never share an identity, while their pane ids (`%0`, `%1`, …) repeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerIdentity(String);

impl ServerIdentity {
    /// Reads a [`SERVER_IDENTITY_FORMAT`] line (`1234 1733170000`).
    fn parse(line: &str) -> Option<ServerIdentity> {
        let (pid, started) = line.trim().split_once(' ')?;
        let numeric = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        (numeric(pid) && numeric(started)).then(|| ServerIdentity(format!("{pid}-{started}")))
    }

    /// The identity as text (`<pid>-<start time>`), for references that carry it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identity from its text form, as [`ServerIdentity::as_str`] wrote it.
    pub fn from_text(text: &str) -> Option<ServerIdentity> {
        let (pid, started) = text.split_once('-')?;
        ServerIdentity::parse(&format!("{pid} {started}"))
    }
}

impl std::fmt::Display for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The engine's link to its server, as [`ControlEngine::server_state`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// No connection was made yet.
    NotConnected,
    /// Connected to this server.
    Connected(ServerIdentity),
    /// The connection to this server was lost; a reconnect may follow (to the same server,
    /// or to another one started on the socket since).
    Lost {
        server: ServerIdentity,
        reason: String,
    },
}

/// Settings of a [`ControlEngine`].
#[derive(Debug, Clone)]
pub struct ControlOptions {
    pub binary: PathBuf,
    pub socket: Socket,
    /// `-f` for servers this engine starts (`/dev/null` in tests); `None` = tmux's default.
    pub config_file: Option<PathBuf>,
    /// The session the connection attaches to (created when missing on a running server).
    pub control_session: String,
    /// Flow control: tmux pauses a pane whose output this client has not read for this long;
    /// the engine continues it at once. `None` turns flow control off.
    pub pause_after: Option<Duration>,
    /// Capacity of each notification queue.
    pub notification_capacity: usize,
    /// How long a request may wait for its reply; `None` waits forever.
    pub request_timeout: Option<Duration>,
    /// First and longest delay between background reconnection attempts.
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    /// Operations run on every new connection before it serves requests (for example
    /// `refresh-client -B` subscriptions, which belong to the connection's client and end with
    /// it), rendered for the version of the server it reached. One that cannot be rendered for
    /// that version or that tmux refuses is logged, not fatal.
    pub setup_commands: Vec<Operation>,
}

impl ControlOptions {
    /// Defaults for a server at `socket`.
    pub fn new(socket: Socket) -> Self {
        Self {
            binary: default_tmux_binary(),
            socket,
            config_file: None,
            control_session: DEFAULT_CONTROL_SESSION.to_string(),
            pause_after: Some(Duration::from_secs(5)),
            notification_capacity: 4096,
            request_timeout: Some(Duration::from_secs(30)),
            reconnect_initial: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            setup_commands: Vec::new(),
        }
    }

    /// Starts servers with this configuration file.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }
}

/// Counters describing the engine's life, for tests and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlStats {
    /// Commands callers asked for (each command of a batch counts).
    pub requests: u64,
    pub connections: u64,
    pub pauses: u64,
    pub continues: u64,
    pub unsolicited_blocks: u64,
}

enum Waiter {
    Caller(oneshot::Sender<Vec<ReplyBlock>>),
    Discard,
}

struct ConnectionState {
    correlator: Correlator<Waiter>,
    alive: bool,
    lost_reason: Option<String>,
}

impl ConnectionState {
    /// Marks the connection unusable and fails everything pending. Returns false when it was
    /// already dead.
    fn mark_dead(&mut self, reason: String) -> bool {
        if !self.alive {
            return false;
        }
        self.alive = false;
        self.lost_reason = Some(reason);
        let _ = self.correlator.drain().count();
        true
    }
}

struct Connection {
    writer: tokio::sync::Mutex<Option<ChildStdin>>,
    state: Arc<Mutex<ConnectionState>>,
    /// Set once during setup, before the connection is shared.
    version: std::sync::OnceLock<TmuxVersion>,
    /// Which server this connection reaches; set during setup, before it is shared.
    server: std::sync::OnceLock<ServerIdentity>,
    client_pid: Option<u32>,
    nonces: AtomicU64,
    generation: u64,
    /// Set before sending `kill-server` or shutting down: the loss that follows is expected
    /// and must not trigger a reconnect.
    expecting_exit: Arc<AtomicBool>,
    /// Set once the connection became the engine's current one; only those are reconnected
    /// when lost (a connection that failed during setup is not).
    published: Arc<AtomicBool>,
}

/// Why a send did not go through.
enum SendError {
    /// Nothing was written: the connection was already dead. Safe to retry elsewhere.
    NotSent(EngineError),
    /// The write failed or was cut: what was sent is unknown.
    Lost(EngineError),
}

impl From<SendError> for EngineError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::NotSent(error) | SendError::Lost(error) => error,
        }
    }
}

impl Connection {
    fn is_alive(&self) -> bool {
        lock(&self.state).alive
    }

    fn lost_error(&self, socket: &Socket) -> EngineError {
        let reason = lock(&self.state)
            .lost_reason
            .clone()
            .unwrap_or_else(|| "the control client exited".to_string());
        EngineError::ConnectionLost {
            socket: socket.describe(),
            reason,
        }
    }

    /// Marks the connection dead and ends its `tmux -C` process, so nothing more is read from
    /// it (its reader then cleans up and, if the loss was unexpected, reconnects).
    fn abandon(&self, reason: String) {
        let newly_dead = lock(&self.state).mark_dead(reason);
        if newly_dead {
            if let Some(pid) = self.client_pid.and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) has no memory preconditions; the pid is our own child, not
                // yet reaped (its reader task waits for it), so it cannot name another process.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }

    /// Registers the waiters and writes the bytes, in one step so order matches.
    async fn send(
        &self,
        bytes: &[u8],
        expectations: Vec<(Waiter, Expectation)>,
        socket: &Socket,
    ) -> Result<(), SendError> {
        let mut writer = self.writer.lock().await;
        {
            let mut state = lock(&self.state);
            if !state.alive {
                drop(state);
                return Err(SendError::NotSent(self.lost_error(socket)));
            }
            for (waiter, expectation) in expectations {
                state.correlator.push(waiter, expectation);
            }
        }
        let Some(stdin) = writer.as_mut() else {
            return Err(SendError::NotSent(self.lost_error(socket)));
        };
        // If this future is dropped mid-write the stream is corrupt; the guard then abandons
        // the connection so every pending request fails instead of being misattributed.
        let mut guard = WriteGuard {
            connection: self,
            done: false,
        };
        let result = stdin.write_all(bytes).await;
        guard.done = true;
        if let Err(error) = result {
            let reason = format!("write failed: {error}");
            self.abandon(reason.clone());
            return Err(SendError::Lost(EngineError::ConnectionLost {
                socket: socket.describe(),
                reason,
            }));
        }
        Ok(())
    }
}

struct WriteGuard<'a> {
    connection: &'a Connection,
    done: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.connection
                .abandon("a request was cancelled in the middle of its write".into());
        }
    }
}

struct Inner {
    options: ControlOptions,
    current: Mutex<Option<Arc<Connection>>>,
    connecting: tokio::sync::Mutex<()>,
    notifications: broadcast::Sender<Notification>,
    pane_output: Mutex<HashMap<PaneId, broadcast::Sender<Vec<u8>>>>,
    side: SubprocessEngine,
    closed: AtomicBool,
    /// True while a background reconnect loop runs.
    reconnecting: AtomicBool,
    generation: AtomicU64,
    stats: Mutex<ControlStats>,
    /// Counts published connections; a change tells watchers that notifications may have been
    /// missed while no connection was up.
    published: watch::Sender<u64>,
    /// Which server the current connection reaches, or that it was lost.
    server: watch::Sender<ServerState>,
}

/// The control-mode engine. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct ControlEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ControlEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlEngine")
            .field("socket", &self.inner.options.socket)
            .finish_non_exhaustive()
    }
}

/// A [`ControlEngine`] that may have been dropped: [`WeakControlEngine::upgrade`] gives it back
/// while any clone of it lives.
#[derive(Clone)]
pub struct WeakControlEngine {
    inner: Weak<Inner>,
}

impl WeakControlEngine {
    pub fn upgrade(&self) -> Option<ControlEngine> {
        self.inner.upgrade().map(|inner| ControlEngine { inner })
    }
}

impl std::fmt::Debug for WeakControlEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakControlEngine").finish_non_exhaustive()
    }
}

/// How a command is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// One line, one block.
    Shared,
    /// One line plus a sentinel: the command may queue further commands.
    SharedWithSentinel,
    /// A separate `tmux` process: the command blocks its connection or acts on the current
    /// client.
    OwnConnection,
}

fn route(command: &TmuxCommand) -> Route {
    let Some(name) = canonical_command(command.name()) else {
        // Unknown or ambiguous: tmux answers with one error block; the sentinel keeps the
        // correlation right even if it turns out to be a command that queues more.
        return Route::SharedWithSentinel;
    };
    match name {
        "wait-for" => Route::OwnConnection,
        "run-shell" if !has_flag(&command.argv, 'b', "cdt") => Route::OwnConnection,
        // Without -d, new-session would attach this connection's client to the new session.
        "new-session" if !has_flag(&command.argv, 'd', "cefFnstxyX") => Route::OwnConnection,
        // Commands that act on "the current client" must not act on the engine's own.
        "attach-session" | "switch-client" | "detach-client" | "suspend-client" | "lock-client"
        | "lock-server" | "lock-session" | "confirm-before" | "command-prompt" | "display-menu"
        | "display-popup" | "display-panes" | "choose-tree" | "choose-buffer" | "choose-client"
        | "copy-mode" | "clock-mode" | "customize-mode" => Route::OwnConnection,
        "source-file" | "if-shell" | "run-shell" => Route::SharedWithSentinel,
        _ => Route::Shared,
    }
}

/// True when the flag letter appears among the command's options (before the first operand or
/// `--`). `with_values` lists the letters that take a value, so values are not read as flags.
fn has_flag(argv: &[String], letter: char, with_values: &str) -> bool {
    let mut words = argv.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" || !word.starts_with('-') || word.len() < 2 {
            return false;
        }
        for (position, flag) in word.char_indices().skip(1) {
            if flag == letter {
                return true;
            }
            if with_values.contains(flag) {
                if position + flag.len_utf8() == word.len() {
                    words.next();
                }
                break;
            }
        }
    }
    false
}

fn canonical(command: &TmuxCommand) -> Option<&'static str> {
    canonical_command(command.name())
}

fn starts_server(command: &TmuxCommand) -> bool {
    matches!(canonical(command), Some("new-session" | "start-server"))
}

fn blocks_to_output(blocks: Vec<ReplyBlock>) -> CommandOutput {
    let mut output = CommandOutput::default();
    for block in blocks {
        if block.success {
            output.stdout.extend(block.lines);
        } else {
            output.exit_code = 1;
            output.stderr.extend(block.lines);
        }
    }
    output
}

enum ConnectFailure {
    NoServer,
    SessionMissing(String),
    Other(EngineError),
}

impl ControlEngine {
    /// An engine for the server at `socket` with default options. Nothing is started until
    /// the first request (or [`ControlEngine::connect`]).
    pub fn new(socket: Socket) -> Self {
        Self::with_options(ControlOptions::new(socket))
    }

    /// An engine with explicit options.
    pub fn with_options(options: ControlOptions) -> Self {
        let (notifications, _) = broadcast::channel(options.notification_capacity.max(1));
        let mut side = SubprocessEngine::new(options.socket.clone()).with_binary(&options.binary);
        if let Some(config) = &options.config_file {
            side = side.with_config_file(config);
        }
        Self {
            inner: Arc::new(Inner {
                options,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                notifications,
                pane_output: Mutex::new(HashMap::new()),
                side,
                closed: AtomicBool::new(false),
                reconnecting: AtomicBool::new(false),
                generation: AtomicU64::new(0),
                stats: Mutex::new(ControlStats::default()),
                published: watch::channel(0).0,
                server: watch::channel(ServerState::NotConnected).0,
            }),
        }
    }

    /// Connects now, starting the server (with the hidden control session) if none runs.
    pub async fn connect(&self) -> Result<(), EngineError> {
        self.connection(true).await.map(|_| ())
    }

    /// Every notification of the attached (control) session and of the server.
    pub fn notifications(&self) -> broadcast::Receiver<Notification> {
        self.inner.notifications.subscribe()
    }

    /// The bytes one pane writes (`%output` and `%extended-output`, unescaped). Only panes of
    /// the session this connection is attached to produce output.
    pub fn pane_output(&self, pane: PaneId) -> broadcast::Receiver<Vec<u8>> {
        let mut channels = lock(&self.inner.pane_output);
        channels
            .entry(pane)
            .or_insert_with(|| {
                broadcast::channel(self.inner.options.notification_capacity.max(1)).0
            })
            .subscribe()
    }

    /// Changes each time a new connection starts serving (its value counts connections), so a
    /// watcher can re-read state it may have missed notifications about.
    pub fn connections(&self) -> watch::Receiver<u64> {
        self.inner.published.subscribe()
    }

    /// The control session's name (to leave it out of listings).
    pub fn control_session(&self) -> &str {
        &self.inner.options.control_session
    }

    /// The pid of the current `tmux -C` client process, if connected.
    pub fn client_pid(&self) -> Option<u32> {
        self.live_connection()
            .and_then(|connection| connection.client_pid)
    }

    /// True while a live connection exists.
    pub fn is_connected(&self) -> bool {
        self.live_connection().is_some()
    }

    /// Life counters.
    pub fn stats(&self) -> ControlStats {
        *lock(&self.inner.stats)
    }

    /// A handle that does not keep the engine alive (for a task that lives as long as the
    /// engine's notifications, which would otherwise never end).
    pub fn downgrade(&self) -> WeakControlEngine {
        WeakControlEngine {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Closes the connection and stops reconnecting. Pending requests fail.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let connection = lock(&self.inner.current).take();
        if let Some(connection) = connection {
            connection.expecting_exit.store(true, Ordering::SeqCst);
            let mut writer = connection.writer.lock().await;
            if let Some(mut stdin) = writer.take() {
                let _ = stdin.shutdown().await;
            }
        }
    }

    fn live_connection(&self) -> Option<Arc<Connection>> {
        let current = lock(&self.inner.current);
        current
            .as_ref()
            .filter(|connection| connection.is_alive())
            .cloned()
    }

    /// The live connection, connecting if needed. `may_start_server`: whether a missing
    /// server may be started (only for commands that would start one anyway).
    async fn connection(&self, may_start_server: bool) -> Result<Arc<Connection>, EngineError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(EngineError::Closed);
        }
        if let Some(connection) = self.live_connection() {
            return Ok(connection);
        }
        let _connecting = self.inner.connecting.lock().await;
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(EngineError::Closed);
        }
        if let Some(connection) = self.live_connection() {
            return Ok(connection);
        }
        match establish(&self.inner, may_start_server).await {
            Ok(connection) => Ok(connection),
            Err(ConnectFailure::NoServer) => Err(EngineError::NoServer {
                socket: self.inner.options.socket.describe(),
            }),
            Err(ConnectFailure::SessionMissing(message)) => Err(EngineError::Connect {
                socket: self.inner.options.socket.describe(),
                reason: message,
            }),
            Err(ConnectFailure::Other(error)) => Err(error),
        }
    }

    async fn await_reply(
        &self,
        receiver: oneshot::Receiver<Vec<ReplyBlock>>,
        connection: &Connection,
        command_name: &str,
    ) -> Result<Vec<ReplyBlock>, EngineError> {
        let received = match self.inner.options.request_timeout {
            Some(timeout) => match tokio::time::timeout(timeout, receiver).await {
                Ok(received) => received,
                Err(_) => {
                    return Err(EngineError::Timeout {
                        command: command_name.to_string(),
                        timeout,
                    })
                }
            },
            None => receiver.await,
        };
        received.map_err(|_| connection.lost_error(&self.inner.options.socket))
    }

    /// Runs one command on `connection` (no reconnect): `NotSent` when the connection was
    /// found dead before anything was written.
    async fn execute_on(
        &self,
        connection: &Arc<Connection>,
        command: &TmuxCommand,
    ) -> Result<CommandOutput, SendError> {
        let socket = &self.inner.options.socket;
        let kills_server = canonical(command) == Some("kill-server");
        let mut line = String::with_capacity(64);
        let expectation = control_request(connection, command, &mut line)
            .map_err(|error| SendError::NotSent(error.into()))?;
        if kills_server {
            connection.expecting_exit.store(true, Ordering::SeqCst);
        }
        let (sender, receiver) = oneshot::channel();
        connection
            .send(
                line.as_bytes(),
                vec![(Waiter::Caller(sender), expectation)],
                socket,
            )
            .await?;
        let reply = self.await_reply(receiver, connection, command.name()).await;
        if kills_server {
            // The client exits with the server; nothing more may be written to it.
            connection.abandon("the server was killed (kill-server)".into());
            return match reply {
                Ok(blocks) => Ok(blocks_to_output(blocks)),
                // The server may exit before it answers: that is success too.
                Err(EngineError::ConnectionLost { .. }) => Ok(CommandOutput::default()),
                Err(error) => Err(SendError::Lost(error)),
            };
        }
        reply.map(blocks_to_output).map_err(SendError::Lost)
    }

    /// The server the engine is connected to, connecting if needed (never starting a
    /// server: none running is [`EngineError::NoServer`]).
    pub async fn server_identity(&self) -> Result<ServerIdentity, EngineError> {
        let connection = self.connection(false).await?;
        connection
            .server
            .get()
            .cloned()
            .ok_or_else(|| EngineError::Protocol("a connection without a server identity".into()))
    }

    /// The server of the live connection, if there is one, without connecting.
    pub fn current_server(&self) -> Option<ServerIdentity> {
        self.live_connection()
            .and_then(|connection| connection.server.get().cloned())
    }

    /// Watches which server the engine reaches: connected, or the connection lost (with the
    /// reason). Each new connection is announced, also to the same server.
    pub fn server_state(&self) -> watch::Receiver<ServerState> {
        self.inner.server.subscribe()
    }

    /// Runs `commands` in order on a connection to `server` and to no other: when the server
    /// the engine reaches is not that one (it exited and another was started on the socket),
    /// nothing is sent and the answer is [`EngineError::ServerChanged`]; when none runs,
    /// [`EngineError::NoServer`]. This is how a target such as `%3`, which a new server hands
    /// out again, can never reach the wrong pane. Stops at the first engine error (a command
    /// that tmux refused is a result, not an error). Commands that need a connection of their
    /// own (`wait-for`, foreground `run-shell`, client commands) are refused.
    pub async fn execute_on_server(
        &self,
        server: &ServerIdentity,
        commands: Vec<TmuxCommand>,
    ) -> Result<Vec<CommandOutput>, EngineError> {
        let mut prepared = Vec::with_capacity(commands.len());
        let mut stdin_files = Vec::new();
        for mut command in commands {
            lock(&self.inner.stats).requests += 1;
            check_argv(&command.argv)?;
            if route(&command) == Route::OwnConnection {
                return Err(EngineError::Protocol(format!(
                    "`{}` runs on a connection of its own and cannot be bound to one server",
                    command.name()
                )));
            }
            if let Some(file) = materialize_stdin(&mut command)? {
                stdin_files.push(file);
            }
            prepared.push(command);
        }
        let socket = &self.inner.options.socket;
        // A connection found dead before the first command was written is replaced once
        // (by a connection to the same server, or the answer is ServerChanged).
        for attempt in 1..=2 {
            let connection = self.connection(false).await?;
            match connection.server.get() {
                Some(found) if found == server => {}
                found => {
                    return Err(EngineError::ServerChanged {
                        socket: socket.describe(),
                        expected: server.to_string(),
                        found: found.map(ToString::to_string).unwrap_or_default(),
                    })
                }
            }
            // Pipelined: every line in one write, the replies read in order. `kill-server`
            // ends the connection, so a batch holding one is sent a command at a time.
            if prepared
                .iter()
                .any(|command| canonical(command) == Some("kill-server"))
            {
                let mut outputs = Vec::with_capacity(prepared.len());
                for command in &prepared {
                    match self.execute_on(&connection, command).await {
                        Ok(output) => outputs.push(output),
                        Err(error) => return Err(error.into()),
                    }
                }
                return Ok(outputs);
            }
            let mut bytes = String::with_capacity(prepared.len() * 64);
            let mut waiters = Vec::with_capacity(prepared.len());
            let mut receivers = Vec::with_capacity(prepared.len());
            for command in &prepared {
                let expectation = control_request(&connection, command, &mut bytes)?;
                let (sender, receiver) = oneshot::channel();
                waiters.push((Waiter::Caller(sender), expectation));
                receivers.push(receiver);
            }
            match connection.send(bytes.as_bytes(), waiters, socket).await {
                Ok(()) => {}
                Err(SendError::NotSent(_)) if attempt == 1 => continue,
                Err(error) => return Err(error.into()),
            }
            let mut outputs = Vec::with_capacity(prepared.len());
            for (receiver, command) in receivers.into_iter().zip(&prepared) {
                let blocks = self
                    .await_reply(receiver, &connection, command.name())
                    .await?;
                outputs.push(blocks_to_output(blocks));
            }
            return Ok(outputs);
        }
        Err(EngineError::ConnectionLost {
            socket: socket.describe(),
            reason: "the connection died twice before the commands could be written".into(),
        })
    }

    fn no_server_output(&self) -> CommandOutput {
        CommandOutput::failed(format!(
            "no server running on {}",
            self.inner.options.socket.describe()
        ))
    }
}

/// Appends the control-mode line(s) of `command` to `line` and says how its reply ends: a
/// command that may queue others is followed by a sentinel.
fn control_request(
    connection: &Connection,
    command: &TmuxCommand,
    line: &mut String,
) -> Result<Expectation, crate::quote::QuoteError> {
    write_control_line(&command.argv, line)?;
    line.push('\n');
    if route(command) != Route::SharedWithSentinel {
        return Ok(Expectation::Single);
    }
    let nonce = format!(
        "cao-sentinel-{}-{}",
        connection.generation,
        connection.nonces.fetch_add(1, Ordering::Relaxed)
    );
    line.push_str("display-message -p ");
    line.push_str(&nonce);
    line.push('\n');
    Ok(Expectation::UntilSentinel { nonce })
}

/// Keeps the private copy of a command's standard input alive until its reply arrives.
fn materialize_stdin(command: &mut TmuxCommand) -> Result<Option<tempfile::TempPath>, EngineError> {
    let Some(data) = command.stdin.take() else {
        return Ok(None);
    };
    let mut file = tempfile::Builder::new()
        .prefix("cao-tmux-stdin-")
        .tempfile()
        .map_err(|error| EngineError::Io(format!("cannot write a buffer file: {error}")))?;
    std::io::Write::write_all(&mut file, &data)
        .map_err(|error| EngineError::Io(format!("cannot write a buffer file: {error}")))?;
    let path = file.into_temp_path();
    let path_text = path.to_string_lossy().into_owned();
    match command.argv.last_mut() {
        Some(last) if last == "-" => *last = path_text,
        _ => command.argv.push(path_text),
    }
    Ok(Some(path))
}

#[async_trait]
impl Engine for ControlEngine {
    fn name(&self) -> &'static str {
        "control"
    }

    fn socket(&self) -> &Socket {
        &self.inner.options.socket
    }

    async fn execute(&self, mut command: TmuxCommand) -> Result<CommandOutput, EngineError> {
        lock(&self.inner.stats).requests += 1;
        check_argv(&command.argv)?;
        if route(&command) == Route::OwnConnection {
            return self.inner.side.execute(command).await;
        }
        let _stdin_file = materialize_stdin(&mut command)?;
        // A connection found dead before anything was written to it is replaced once.
        for attempt in 1..=2 {
            let connection = match self.connection(starts_server(&command)).await {
                Ok(connection) => connection,
                Err(EngineError::NoServer { .. }) => return Ok(self.no_server_output()),
                Err(error) => return Err(error),
            };
            match self.execute_on(&connection, &command).await {
                Err(SendError::NotSent(_)) if attempt == 1 => continue,
                Err(error) => return Err(error.into()),
                Ok(output) => return Ok(output),
            }
        }
        Err(EngineError::ConnectionLost {
            socket: self.inner.options.socket.describe(),
            reason: "the connection died twice before the command could be written".into(),
        })
    }

    async fn execute_batch(
        &self,
        commands: Vec<TmuxCommand>,
    ) -> Vec<Result<CommandOutput, EngineError>> {
        let pipelinable = commands.iter().all(|command| {
            route(command) == Route::Shared
                && command.stdin.is_none()
                && canonical(command) != Some("kill-server")
        });
        if !pipelinable || commands.len() < 2 {
            // Counted by execute().
            let mut results = Vec::with_capacity(commands.len());
            for command in commands {
                results.push(self.execute(command).await);
            }
            return results;
        }
        lock(&self.inner.stats).requests += commands.len() as u64;
        let may_start = commands.iter().any(starts_server);
        let socket = &self.inner.options.socket;
        for attempt in 1..=2 {
            let connection = match self.connection(may_start).await {
                Ok(connection) => connection,
                Err(EngineError::NoServer { .. }) => {
                    return commands
                        .iter()
                        .map(|_| Ok(self.no_server_output()))
                        .collect()
                }
                Err(error) => return commands.iter().map(|_| Err(error.clone())).collect(),
            };
            let mut bytes = String::with_capacity(commands.len() * 48);
            let mut receivers = Vec::with_capacity(commands.len());
            let mut waiters = Vec::with_capacity(commands.len());
            let mut results: Vec<Option<Result<CommandOutput, EngineError>>> =
                Vec::with_capacity(commands.len());
            for command in &commands {
                let start = bytes.len();
                match write_control_line(&command.argv, &mut bytes) {
                    Ok(()) => {
                        bytes.push('\n');
                        let (sender, receiver) = oneshot::channel();
                        waiters.push((Waiter::Caller(sender), Expectation::Single));
                        receivers.push(Some(receiver));
                        results.push(None);
                    }
                    Err(error) => {
                        bytes.truncate(start);
                        receivers.push(None);
                        results.push(Some(Err(error.into())));
                    }
                }
            }
            match connection.send(bytes.as_bytes(), waiters, socket).await {
                Ok(()) => {}
                Err(SendError::NotSent(_)) if attempt == 1 => continue,
                Err(error) => {
                    let error = EngineError::from(error);
                    return results
                        .into_iter()
                        .map(|result| result.unwrap_or_else(|| Err(error.clone())))
                        .collect();
                }
            }
            for ((slot, receiver), command) in results.iter_mut().zip(receivers).zip(&commands) {
                if let Some(receiver) = receiver {
                    *slot = Some(
                        self.await_reply(receiver, &connection, command.name())
                            .await
                            .map(blocks_to_output),
                    );
                }
            }
            return results
                .into_iter()
                .map(|result| result.unwrap_or(Err(EngineError::Closed)))
                .collect();
        }
        let error = EngineError::ConnectionLost {
            socket: socket.describe(),
            reason: "the connection died twice before the batch could be written".into(),
        };
        commands.iter().map(|_| Err(error.clone())).collect()
    }

    async fn server_version(&self) -> Result<TmuxVersion, EngineError> {
        match self.connection(false).await {
            Ok(connection) => Ok(connection
                .version
                .get()
                .copied()
                .unwrap_or(TmuxVersion::LATEST)),
            Err(EngineError::NoServer { .. }) => self.inner.side.binary_version().await,
            Err(error) => Err(error),
        }
    }
}

fn control_command(options: &ControlOptions) -> Command {
    let mut command = Command::new(&options.binary);
    command.arg("-u");
    if let Some(config) = &options.config_file {
        command.arg("-f").arg(config);
    }
    command.args(options.socket.tmux_args());
    command.arg("-C");
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts a control client and reads up to its startup block.
async fn spawn_client(
    options: &ControlOptions,
    create: bool,
) -> Result<
    (
        Child,
        ChildStdin,
        ChildStdout,
        ControlParser,
        Vec<ProtocolEvent>,
    ),
    ConnectFailure,
> {
    let mut command = control_command(options);
    let exact = format!("={}", options.control_session);
    if create {
        command.args([
            "new-session",
            "-A",
            "-s",
            options.control_session.as_str(),
            "-x",
            "80",
            "-y",
            "24",
            // The hidden pane runs a process that does nothing and never exits.
            "cat",
        ]);
    } else {
        command.args(["attach-session", "-t", exact.as_str()]);
    }
    let mut child = command.spawn().map_err(|error| {
        ConnectFailure::Other(EngineError::Spawn {
            binary: options.binary.display().to_string(),
            reason: error.to_string(),
        })
    })?;
    let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ConnectFailure::Other(EngineError::Io(
            "tmux control client has no pipes".into(),
        )));
    };
    let mut parser = ControlParser::new();
    let mut events = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    let startup = loop {
        if let Some(index) = events
            .iter()
            .position(|event| matches!(event, ProtocolEvent::Reply(_)))
        {
            let ProtocolEvent::Reply(block) = events.remove(index) else {
                unreachable!("position() matched a reply")
            };
            break Some(block);
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stdout.read(&mut buffer)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break None,
            Ok(Ok(count)) => parser.feed(&buffer[..count], &mut events),
            Err(_) => {
                return Err(ConnectFailure::Other(EngineError::Connect {
                    socket: options.socket.describe(),
                    reason: "tmux -C printed nothing for 10 s".into(),
                }))
            }
        }
    };
    match startup {
        Some(block) if block.success => Ok((child, stdin, stdout, parser, events)),
        other => {
            let mut message = other.map(|block| block.lines.join(" ")).unwrap_or_default();
            if message.is_empty() {
                if let Some(mut stderr) = child.stderr.take() {
                    let mut text = String::new();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        stderr.read_to_string(&mut text),
                    )
                    .await;
                    message = text.trim().to_string();
                }
            }
            let _ = child.kill().await;
            // `attach-session` starts a server to look for sessions; "no sessions" means none
            // was running (the one it started exits at once).
            if is_no_server_message(&message) || message.trim() == "no sessions" {
                Err(ConnectFailure::NoServer)
            } else if message.contains("can't find session") {
                Err(ConnectFailure::SessionMissing(message))
            } else {
                Err(ConnectFailure::Other(EngineError::Connect {
                    socket: options.socket.describe(),
                    reason: if message.is_empty() {
                        "tmux -C exited without a reply".into()
                    } else {
                        message
                    },
                }))
            }
        }
    }
}

/// Connects (attaching to the control session, creating it on a running server, starting the
/// server only if allowed), reads the server version and turns on flow control.
async fn establish(
    inner: &Arc<Inner>,
    may_start_server: bool,
) -> Result<Arc<Connection>, ConnectFailure> {
    let options = &inner.options;
    // `attach-session` would start a server (running the user's configuration) just to find
    // it has no sessions; a connect() on the socket answers the same question for free.
    if !may_start_server && !options.socket.has_listening_server() {
        return Err(ConnectFailure::NoServer);
    }
    let spawned = match spawn_client(options, may_start_server).await {
        Err(ConnectFailure::SessionMissing(_)) if !may_start_server => {
            // The server runs but lost our session: recreating it there is harmless.
            spawn_client(options, true).await
        }
        // A server that is exiting (its last session just closed) can accept the client and
        // then drop it; one more try reaches a fresh server.
        Err(ConnectFailure::Other(EngineError::Connect { .. })) => {
            tokio::time::sleep(Duration::from_millis(20)).await;
            spawn_client(options, may_start_server).await
        }
        other => other,
    };
    let (mut child, stdin, stdout, parser, leftover) = spawned?;
    let generation = inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
    let state = Arc::new(Mutex::new(ConnectionState {
        correlator: Correlator::new(),
        alive: true,
        lost_reason: None,
    }));
    let expecting_exit = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicBool::new(false));
    let client_pid = child.id();
    let stderr = child.stderr.take();
    let connection = Arc::new(Connection {
        writer: tokio::sync::Mutex::new(Some(stdin)),
        state: state.clone(),
        version: std::sync::OnceLock::new(),
        server: std::sync::OnceLock::new(),
        client_pid,
        nonces: AtomicU64::new(0),
        generation,
        expecting_exit: expecting_exit.clone(),
        published: published.clone(),
    });
    tokio::spawn(read_loop(ReaderContext {
        inner: Arc::downgrade(inner),
        state,
        child,
        stdout,
        stderr,
        parser,
        leftover,
        expecting_exit,
        published,
        generation,
    }));

    // Setup on the new connection, before anyone else can use it.
    let version_output = request(
        &connection,
        &options.socket,
        &["display-message", "-p", "#{version}"],
    )
    .await;
    // A connection that fails during setup is ended without a reconnect: the next request
    // tries again, and nothing loops.
    let fail = |error: EngineError| {
        connection.expecting_exit.store(true, Ordering::SeqCst);
        connection.abandon(format!("setup failed: {error}"));
        ConnectFailure::Other(error)
    };
    let version = match version_output {
        Ok(output) if output.succeeded() => match super::version_from_output(&output) {
            Ok(version) => version,
            Err(error) => return Err(fail(error)),
        },
        Ok(output) => {
            return Err(fail(EngineError::Connect {
                socket: options.socket.describe(),
                reason: output.error_text(),
            }))
        }
        Err(error) => return Err(fail(error)),
    };
    let identity = request(
        &connection,
        &options.socket,
        &["display-message", "-p", SERVER_IDENTITY_FORMAT],
    )
    .await;
    let server = match identity {
        Ok(output) if output.succeeded() => {
            match output
                .stdout
                .first()
                .and_then(|line| ServerIdentity::parse(line))
            {
                Some(server) => server,
                None => {
                    return Err(fail(EngineError::Protocol(format!(
                        "unreadable server identity {:?}",
                        output.stdout
                    ))))
                }
            }
        }
        Ok(output) => {
            return Err(fail(EngineError::Connect {
                socket: options.socket.describe(),
                reason: output.error_text(),
            }))
        }
        Err(error) => return Err(fail(error)),
    };
    let _ = connection.server.set(server.clone());
    if let Some(pause_after) = options.pause_after {
        if version >= TmuxVersion::new(3, 2, 0) {
            let seconds = pause_after.as_secs().max(1).to_string();
            let flag = format!("pause-after={seconds}");
            let output = request(
                &connection,
                &options.socket,
                &["refresh-client", "-f", flag.as_str()],
            )
            .await;
            if let Ok(output) = output {
                if !output.succeeded() {
                    tracing::warn!(error = %output.error_text(), "tmux refused flow control");
                }
            }
        }
    }
    for operation in &options.setup_commands {
        let command = match operation.render(version) {
            Ok(command) => command,
            Err(error) => {
                tracing::warn!(%error, "a setup command cannot be sent to this tmux");
                continue;
            }
        };
        let argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
        match request(&connection, &options.socket, &argv).await {
            Ok(output) if output.succeeded() => {}
            Ok(output) => {
                tracing::warn!(command = ?command, error = %output.error_text(), "tmux refused a setup command")
            }
            Err(error) => return Err(fail(error)),
        }
    }
    let _ = connection.version.set(version);
    // Re-checked here: shutdown() may have run while this connection was being set up.
    if inner.closed.load(Ordering::SeqCst) {
        return Err(fail(EngineError::Closed));
    }
    connection.published.store(true, Ordering::SeqCst);
    *lock(&inner.current) = Some(connection.clone());
    lock(&inner.stats).connections += 1;
    inner.server.send_replace(ServerState::Connected(server));
    inner.published.send_modify(|count| *count += 1);
    tracing::debug!(socket = %options.socket.describe(), %version, generation, "tmux control connection up");
    Ok(connection)
}

async fn request(
    connection: &Connection,
    socket: &Socket,
    argv: &[&str],
) -> Result<CommandOutput, EngineError> {
    let argv: Vec<String> = argv.iter().map(|word| word.to_string()).collect();
    let mut line = crate::quote::control_line(&argv)?;
    line.push('\n');
    let (sender, receiver) = oneshot::channel();
    connection
        .send(
            line.as_bytes(),
            vec![(Waiter::Caller(sender), Expectation::Single)],
            socket,
        )
        .await?;
    match tokio::time::timeout(Duration::from_secs(10), receiver).await {
        Ok(Ok(blocks)) => Ok(blocks_to_output(blocks)),
        Ok(Err(_)) => Err(connection.lost_error(socket)),
        Err(_) => Err(EngineError::Timeout {
            command: argv.join(" "),
            timeout: Duration::from_secs(10),
        }),
    }
}

struct ReaderContext {
    inner: Weak<Inner>,
    state: Arc<Mutex<ConnectionState>>,
    child: Child,
    stdout: ChildStdout,
    stderr: Option<tokio::process::ChildStderr>,
    parser: ControlParser,
    leftover: Vec<ProtocolEvent>,
    expecting_exit: Arc<AtomicBool>,
    published: Arc<AtomicBool>,
    generation: u64,
}

async fn read_loop(mut context: ReaderContext) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut events = std::mem::take(&mut context.leftover);
    let mut notifications = Vec::new();
    let mut exit_reason: Option<String> = None;
    loop {
        if !events.is_empty() {
            let mut state = lock(&context.state);
            for event in events.drain(..) {
                match event {
                    ProtocolEvent::Reply(block) => match state.correlator.on_block(block) {
                        Correlated::Completed { request, blocks } => {
                            if let Waiter::Caller(sender) = request {
                                let _ = sender.send(blocks);
                            }
                        }
                        Correlated::Partial => {}
                        Correlated::Unsolicited(block) => {
                            tracing::trace!(number = block.number, "unsolicited tmux block");
                            if let Some(inner) = context.inner.upgrade() {
                                lock(&inner.stats).unsolicited_blocks += 1;
                            }
                        }
                    },
                    ProtocolEvent::Notification(notification) => notifications.push(notification),
                    ProtocolEvent::Stray(line) => {
                        tracing::debug!(%line, "stray line from tmux -C");
                    }
                }
            }
        }
        if !notifications.is_empty() {
            match context.inner.upgrade() {
                Some(inner) => {
                    for notification in notifications.drain(..) {
                        if let Notification::Exit { reason } = &notification {
                            let reason = reason.clone().unwrap_or_else(|| "tmux -C exited".into());
                            // Nothing written from now on can be answered: fail it at once.
                            lock(&context.state).mark_dead(reason.clone());
                            exit_reason = Some(reason);
                        }
                        dispatch(&inner, notification, context.generation);
                    }
                }
                None => notifications.clear(),
            }
        }
        match context.stdout.read(&mut buffer).await {
            Ok(0) => break,
            Ok(count) => context.parser.feed(&buffer[..count], &mut events),
            Err(error) => {
                exit_reason.get_or_insert_with(|| format!("read failed: {error}"));
                break;
            }
        }
    }
    // The connection is gone: fail every waiter at once, then gather the details.
    const CLIENT_EXITED: &str =
        "the tmux control client exited (server killed or connection closed)";
    lock(&context.state).mark_dead(exit_reason.clone().unwrap_or_else(|| CLIENT_EXITED.into()));
    let mut stderr_text = String::new();
    if let Some(mut stderr) = context.stderr.take() {
        let _ = tokio::time::timeout(
            Duration::from_millis(200),
            stderr.read_to_string(&mut stderr_text),
        )
        .await;
    }
    let status = tokio::time::timeout(Duration::from_secs(2), context.child.wait()).await;
    if status.is_err() {
        let _ = context.child.kill().await;
    }
    let reason = match (exit_reason, stderr_text.trim()) {
        (Some(reason), "") => reason,
        (Some(reason), stderr) => format!("{reason}: {stderr}"),
        (None, "") => CLIENT_EXITED.into(),
        (None, stderr) => stderr.to_string(),
    };
    lock(&context.state).lost_reason = Some(reason.clone());
    let Some(inner) = context.inner.upgrade() else {
        return;
    };
    let lost_server = lock(&inner.current)
        .as_ref()
        .filter(|connection| connection.generation == context.generation)
        .and_then(|connection| connection.server.get().cloned());
    if let Some(server) = lost_server {
        inner.server.send_replace(ServerState::Lost {
            server,
            reason: reason.clone(),
        });
    }
    let unexpected = context.published.load(Ordering::SeqCst)
        && !context.expecting_exit.load(Ordering::SeqCst)
        && !inner.closed.load(Ordering::SeqCst);
    // One reconnect loop at a time, however many connections die.
    if unexpected && !inner.reconnecting.swap(true, Ordering::SeqCst) {
        tracing::info!(%reason, "tmux control connection lost; reconnecting");
        drop(inner);
        tokio::spawn(reconnect_loop(context.inner.clone()));
    }
}

fn dispatch(inner: &Inner, notification: Notification, generation: u64) {
    match &notification {
        Notification::Output { pane, data } | Notification::ExtendedOutput { pane, data, .. } => {
            let mut channels = lock(&inner.pane_output);
            if let Some(sender) = channels.get(pane) {
                if sender.send(data.clone()).is_err() {
                    // Every subscriber is gone.
                    channels.remove(pane);
                }
            }
        }
        Notification::Pause { pane } => {
            lock(&inner.stats).pauses += 1;
            continue_pane(inner, *pane, generation);
        }
        _ => {}
    }
    let _ = inner.notifications.send(notification);
}

/// Resumes a paused pane. Sent from a task: the reader must never wait on the writer.
fn continue_pane(inner: &Inner, pane: PaneId, generation: u64) {
    let connection = lock(&inner.current).clone();
    let Some(connection) = connection.filter(|c| c.generation == generation) else {
        return;
    };
    lock(&inner.stats).continues += 1;
    let socket = inner.options.socket.clone();
    tokio::spawn(async move {
        let line = format!("refresh-client -A \"{pane}:continue\"\n");
        let _ = connection
            .send(
                line.as_bytes(),
                vec![(Waiter::Discard, Expectation::Single)],
                &socket,
            )
            .await;
    });
}

/// Boxed: `establish` starts the reader, which may start this loop, which calls `establish`.
fn reconnect_loop(
    inner: Weak<Inner>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(reconnect_attempts(inner))
}

async fn reconnect_attempts(inner: Weak<Inner>) {
    reconnect_until_done(&inner).await;
    if let Some(strong) = inner.upgrade() {
        strong.reconnecting.store(false, Ordering::SeqCst);
    }
}

async fn reconnect_until_done(inner: &Weak<Inner>) {
    let mut delay = match inner.upgrade() {
        Some(inner) => inner.options.reconnect_initial,
        None => return,
    };
    loop {
        tokio::time::sleep(delay).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if strong.closed.load(Ordering::SeqCst) {
            return;
        }
        let _connecting = strong.connecting.lock().await;
        let already = lock(&strong.current)
            .as_ref()
            .is_some_and(|connection| connection.is_alive());
        if already {
            return;
        }
        match establish(&strong, false).await {
            Ok(_) => return,
            // No server: nothing to watch until a request starts one.
            Err(ConnectFailure::NoServer) => return,
            Err(_) => {
                delay = (delay * 2).min(strong.options.reconnect_max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weak_engine_lives_only_as_long_as_a_strong_one() {
        let engine = ControlEngine::new(Socket::Name("cao-weak-engine-test".into()));
        let weak = engine.downgrade();
        let upgraded = weak.upgrade().expect("the engine is alive");
        assert!(Arc::ptr_eq(&upgraded.inner, &engine.inner));
        drop(upgraded);
        drop(engine);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn routes_blocking_and_client_commands_elsewhere() {
        let command = |words: &[&str]| TmuxCommand::new(words.iter().copied());
        assert_eq!(route(&command(&["wait-for", "x"])), Route::OwnConnection);
        assert_eq!(
            route(&command(&["run-shell", "sleep 1"])),
            Route::OwnConnection
        );
        assert_eq!(
            route(&command(&["run-shell", "-b", "sleep 1"])),
            Route::SharedWithSentinel
        );
        assert_eq!(
            route(&command(&["source-file", "x"])),
            Route::SharedWithSentinel
        );
        assert_eq!(route(&command(&["detach-client"])), Route::OwnConnection);
        assert_eq!(route(&command(&["list-sessions"])), Route::Shared);
        // tmux accepts unique prefixes: route by what the name means.
        assert_eq!(
            route(&command(&["if-sh", "true", "x"])),
            Route::SharedWithSentinel
        );
        assert_eq!(route(&command(&["run-s", "sleep 1"])), Route::OwnConnection);
        assert_eq!(route(&command(&["wait-f", "x"])), Route::OwnConnection);
        assert_eq!(
            route(&command(&["no-such-thing"])),
            Route::SharedWithSentinel
        );
        assert_eq!(
            route(&command(&["run", "-t", "%1", "-b", "x"])),
            Route::SharedWithSentinel
        );
        assert_eq!(route(&command(&["new", "-s", "x"])), Route::OwnConnection);
        assert_eq!(route(&command(&["new", "-s", "x", "-d"])), Route::Shared);
        assert_eq!(route(&command(&["new", "-ds", "x"])), Route::Shared);
        assert_eq!(route(&command(&["new", "-s", "-d"])), Route::OwnConnection);
    }

    #[test]
    fn error_blocks_become_stderr() {
        let output = blocks_to_output(vec![ReplyBlock {
            time: 0,
            number: 1,
            flags: 1,
            success: false,
            lines: vec!["can't find session: x".into()],
        }]);
        assert_eq!(output.exit_code, 1);
        assert_eq!(output.stderr, vec!["can't find session: x"]);
    }
}
