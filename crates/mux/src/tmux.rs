//! The tmux backend: every call goes over one control-mode connection (`cao_tmux`'s
//! [`ControlEngine`]).
//!
//! tmux sends `%output` only for panes of windows linked into the session the control client is
//! attached to, so every pane cao watches has its window linked into the hidden control session
//! as well as its own `cao-<name>` session. `remain-on-exit` keeps a dead pane readable, with
//! its exit status, until cao removes it.
//!
//! Pane deaths. tmux has no control notification for a death (none up to 3.5 at least), and
//! it evaluates format subscriptions once a second, so cao makes it send one at once:
//! - A global `pane-died` hook (it runs as soon as tmux has the exit status, because of
//!   `remain-on-exit`) puts the dead pane in clock mode and takes it out again, which tmux
//!   announces right away as `%pane-mode-changed %N`, twice. The hook runs these through
//!   `run-shell -b -C` because tmux sends no notification for commands a hook runs itself
//!   (3.3a `notify_add` drops them). A mode change is also what a user scrolling a pane
//!   causes, so each one is confirmed by reading `#{pane_dead}`.
//! - The `#{pane_dead}` subscription stays as the fallback, reporting within a second the
//!   deaths the hook does not: a pane in a mode when it died (the hook leaves a user's
//!   scrolling alone), and a pane whose exit tmux missed. A tmux built with libutempter
//!   (Debian's, Ubuntu's) runs its helper when a pane's terminal closes, with SIGCHLD set to
//!   its default meanwhile, so the SIGCHLD of a program that exits during that window is lost:
//!   the pane shows dead, the program stays a zombie, no status is recorded and the hook never
//!   runs (up to one death in ten on a loaded machine). Any child of the server that exits
//!   makes tmux reap every zombie, so for a dead pane without a status cao has tmux run
//!   `true`, and reports the death once the status is there.
//! - Both sources see most deaths; [`ReportedDeaths`] makes them one [`PaneEvent::Exited`].
//!   Nothing stays behind in tmux: no buffer, no option, no pane left in a mode.
//!
//! Measured on tmux 3.3a (`death_to_event_latency` in `tests/tmux_panes.rs`, from a timestamp
//! the pane writes just before it exits), death → `Exited`: with the subscription alone,
//! 14–958 ms, median 500 ms; with the hook, median 7 ms and p90 about 20 ms over 80 deaths,
//! the 5 that tmux missed (above) taking 0.2–0.75 s through the subscription.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cao_tmux::engine::{
    ControlEngine, ControlOptions, Engine, EngineError, Notification, ServerIdentity, ServerState,
    WeakControlEngine,
};
use cao_tmux::ops::{
    BufferRow, BufferSource, CapturePane, CaptureRange as TmuxCaptureRange, DeleteBuffer,
    DisplayMessage, Failure, HasSession, HookScope, IfShell, KeyInput, KillPane, KillSession,
    KillWindow, LinkWindow, ListBuffers, ListPanes, ListPanesScope, ListWindows, ListWindowsScope,
    LoadBuffer, NewSession, NewWindow, OpKind, OpResult, Operation, OptionScope, PaneRow,
    PasteBuffer, Payload, RefreshClient, RunShell, SendKeys, SetHook, SetOption, Subscription,
    SubscriptionScope, Target, TargetKind,
};
use cao_tmux::{CommandOutput, PaneId, Socket, TmuxCommand, TmuxVersion, WindowId};
use tokio::sync::broadcast;

use crate::{
    BackendInfo, Capture, CaptureRange, LaunchSpec, Multiplexer, MuxError, PaneEvent, PaneFacts,
    PaneInfo, PaneRef, Placement,
};

/// The oldest tmux this backend supports: format subscriptions and pane options (3.2).
pub const MIN_VERSION: TmuxVersion = TmuxVersion::new(3, 2, 0);

/// The subscription that reports pane deaths within a second: the fallback of the hook below.
const DEATH_SUBSCRIPTION: &str = "cao-pane-dead";

/// The `pane-died` hook slot cao fills; an index of its own leaves any other `pane-died` hook
/// of the server's configuration in place.
const DEATH_HOOK: &str = "pane-died[77]";

/// What the hook runs: two mode changes of the dead pane, which tmux announces at once. `-b`
/// runs them outside the hook, whose own commands send no notifications; a pane already in a
/// mode (someone scrolling it) is left alone and reported by the subscription.
const DEATH_HOOK_MODE_CHANGES: &str =
    "#{?pane_in_mode,,clock-mode -t #{hook_pane} ; copy-mode -q -t #{hook_pane}}";

/// The hook's command line: [`DEATH_HOOK_MODE_CHANGES`] run in the background as tmux
/// commands. `run-shell -C` exists from tmux 3.2, this backend's oldest, so the rendering for
/// that version holds for every server it runs on.
fn death_hook_command() -> String {
    let run = Operation::from(RunShell {
        command: DEATH_HOOK_MODE_CHANGES.into(),
        background: true,
        target: None,
        tmux_command: true,
        delay_ms: None,
        start_directory: None,
    });
    match run.render_line(MIN_VERSION) {
        Ok(line) => line,
        // Unreachable: the value is fixed and valid for MIN_VERSION (a test renders it).
        Err(error) => unreachable!("the death hook cannot be rendered: {error}"),
    }
}

/// After asking tmux to reap a lost child, how often and how many times cao looks for the
/// exit status before reporting the death without it.
const REAP_CHECK_INTERVAL: Duration = Duration::from_millis(20);
const REAP_CHECKS: u32 = 10;

/// [`ReportedDeaths`] is pruned of panes that no longer exist once it holds this many, then
/// each time it doubles.
const PRUNE_FLOOR: usize = 64;

/// How long a lost connection may take to show whether its server is still there.
const SERVER_CHECK_WAIT: Duration = Duration::from_millis(900);

/// How long a killed process tree gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(800);

/// A tmux server driven over control mode.
#[derive(Clone)]
pub struct TmuxMux {
    engine: ControlEngine,
    identity_keys: Arc<Vec<String>>,
    events: broadcast::Sender<PaneEvent>,
    paste_counter: Arc<AtomicU64>,
}

impl std::fmt::Debug for TmuxMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TmuxMux")
            .field("socket", self.engine.socket())
            .finish_non_exhaustive()
    }
}

impl TmuxMux {
    /// A backend for the server at `socket` whose panes carry the identity stamps named in
    /// `identity_keys` (each kept as the pane user option `@<key>`). Must be called inside a
    /// tokio runtime: it starts the task that turns notifications into [`PaneEvent`]s.
    pub fn new(socket: Socket, identity_keys: Vec<String>) -> Self {
        Self::with_options(ControlOptions::new(socket), identity_keys)
    }

    /// As [`TmuxMux::new`] with explicit engine options (a config file for tests, …).
    pub fn with_options(mut options: ControlOptions, identity_keys: Vec<String>) -> Self {
        options.setup_commands.push(
            RefreshClient {
                subscriptions: vec![Subscription {
                    name: DEATH_SUBSCRIPTION.into(),
                    scope: SubscriptionScope::AllPanes,
                    format: Some("#{pane_dead}".into()),
                }],
                ..RefreshClient::default()
            }
            .into(),
        );
        // The server is cao's own (its own socket), so its panes stay after their program
        // exits: the exit status and last screen are what tells the user why.
        options.setup_commands.push(
            SetOption {
                scope: OptionScope::GlobalSession,
                name: "remain-on-exit".into(),
                value: Some("on".into()),
                append: false,
                only_if_unset: false,
                expand_formats: false,
            }
            .into(),
        );
        options.setup_commands.push(
            SetHook {
                scope: HookScope::Global,
                hook: DEATH_HOOK.into(),
                command: Some(death_hook_command()),
                append: false,
            }
            .into(),
        );
        let engine = ControlEngine::with_options(options);
        let (events, _) = broadcast::channel(8192);
        let mux = Self {
            engine,
            identity_keys: Arc::new(identity_keys),
            events,
            paste_counter: Arc::new(AtomicU64::new(0)),
        };
        mux.start_event_task();
        mux
    }

    /// The engine underneath (for statistics and tests).
    pub fn engine(&self) -> &ControlEngine {
        &self.engine
    }

    /// Stops the connection.
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
    }

    fn start_event_task(&self) {
        let mut notifications = self.engine.notifications();
        let mut connections = self.engine.connections();
        let mut servers = self.engine.server_state();
        let watch = EventWatch {
            engine: self.engine.downgrade(),
            events: self.events.clone(),
            deaths: Arc::new(Mutex::new(ReportedDeaths::default())),
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    received = notifications.recv() => match received {
                        Ok(notification) => watch.handle(notification),
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let _ = watch.events.send(PaneEvent::Resync);
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    changed = connections.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        // Possibly a new server, whose pane ids start again.
                        lock(&watch.deaths).clear();
                        let _ = watch.events.send(PaneEvent::Resync);
                    }
                    changed = servers.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let state = servers.borrow_and_update().clone();
                        if let ServerState::Lost { server, reason } = state {
                            watch.connection_lost(server, reason).await;
                        }
                    }
                }
            }
        });
    }

    fn control_session(&self) -> &str {
        self.engine.control_session()
    }

    /// Links the pane's window into the control session so its output reaches cao.
    async fn link_for_events(
        &self,
        server: &ServerIdentity,
        window: WindowId,
    ) -> Result<(), MuxError> {
        let control = Target::Name(self.control_session().to_string());
        let listed = self
            .run_on(
                server,
                vec![ListWindows {
                    scope: ListWindowsScope::Session(control.clone()),
                    filter: None,
                }
                .into()],
            )
            .await?;
        let linked = listed.iter().any(|result| match &result.payload {
            Payload::Windows(rows) => rows.iter().any(|row| row.id == window),
            _ => false,
        });
        if linked {
            return Ok(());
        }
        let link = LinkWindow {
            source: Target::Window(window),
            target: control,
            placement: None,
            kill_existing: false,
            detached: true,
        };
        self.run_on(server, vec![link.into()]).await?;
        Ok(())
    }

    async fn window_of(&self, pane: &PaneRef) -> Result<(ServerIdentity, WindowId), MuxError> {
        let (server, pane_id) = split_pane(pane)?;
        let results = self
            .on_pane(pane, vec![print_format(pane_id, "#{pane_id} #{window_id}")])
            .await?;
        let line = first_line(&results);
        // display-message falls back to the current pane when the target vanished.
        match line.split_once(' ') {
            Some((found, window)) if found == pane_id.to_string() => window
                .parse()
                .map(|window| (server, window))
                .map_err(|_| MuxError::NoPane(pane.clone())),
            _ => Err(MuxError::NoPane(pane.clone())),
        }
    }

    /// The server cao's panes live on, started (with the control session) when none runs.
    async fn server_for_spawn(&self) -> Result<ServerIdentity, MuxError> {
        match self.engine.server_identity().await {
            Ok(server) => Ok(server),
            Err(EngineError::NoServer { .. }) => {
                self.engine.connect().await.map_err(engine_error)?;
                self.engine.server_identity().await.map_err(engine_error)
            }
            Err(error) => Err(engine_error(error)),
        }
    }

    /// Runs operations on `server` and no other (see [`ControlEngine::execute_on_server`]);
    /// the first one tmux refuses is the error.
    async fn run_on(
        &self,
        server: &ServerIdentity,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, Refusal> {
        run_bound(&self.engine, server, ops).await
    }

    /// [`TmuxMux::run_on`] the server `pane` lives on; a pane that is gone is `NoPane`.
    async fn on_pane(
        &self,
        pane: &PaneRef,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, MuxError> {
        let (server, _) = split_pane(pane)?;
        self.run_on(&server, ops)
            .await
            .map_err(|refusal| missing_pane(refusal, pane))
    }
}

/// A pane reference: the tmux pane id and the server it belongs to (`%7@1234-1733170000`),
/// so a reference outlives neither its server nor its pane id's meaning.
fn pane_ref(server: &ServerIdentity, pane_id: &str) -> PaneRef {
    PaneRef(format!("{pane_id}@{server}"))
}

/// The server and the pane id of a reference made by [`pane_ref`].
fn split_pane(pane: &PaneRef) -> Result<(ServerIdentity, PaneId), MuxError> {
    pane.as_str()
        .split_once('@')
        .and_then(|(target, server)| {
            let valid_target = target.strip_prefix('%').is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            });
            let server = ServerIdentity::from_text(server)?;
            let pane_id = target.parse().ok()?;
            valid_target.then_some((server, pane_id))
        })
        .ok_or_else(|| MuxError::NoPane(pane.clone()))
}

/// The argv a user runs to look at `session` on the tmux server of `socket`.
pub fn attach_command(socket: &Socket, session: &str) -> Vec<String> {
    let mut command = vec!["tmux".to_string()];
    command.extend(
        socket
            .tmux_args()
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    command.extend(argv(&["attach-session", "-t", &format!("={session}")]));
    command
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
}

/// Why operations did not all succeed.
#[derive(Debug)]
enum Refusal {
    /// The engine failed, or an operation could not be rendered.
    Mux(MuxError),
    /// tmux refused one: its command, what the refusal means and tmux's text.
    Tmux {
        command: &'static str,
        failure: Failure,
        reason: String,
    },
}

impl From<MuxError> for Refusal {
    fn from(error: MuxError) -> Self {
        Refusal::Mux(error)
    }
}

impl From<Refusal> for MuxError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Mux(error) => error,
            Refusal::Tmux {
                command, reason, ..
            } => MuxError::Command {
                command: command.to_string(),
                reason,
            },
        }
    }
}

/// Renders operations for the version of the server the engine reaches.
async fn render(engine: &ControlEngine, ops: &[Operation]) -> Result<Vec<TmuxCommand>, MuxError> {
    let version = engine.server_version().await.map_err(engine_error)?;
    ops.iter()
        .map(|op| {
            op.render(version).map_err(|error| MuxError::Invalid {
                what: "tmux command",
                reason: error.to_string(),
            })
        })
        .collect()
}

/// Each operation's result, or the first one tmux refused.
fn accepted<'a>(
    ops: &[Operation],
    outputs: impl IntoIterator<Item = &'a CommandOutput>,
) -> Result<Vec<OpResult>, Refusal> {
    let mut results = Vec::with_capacity(ops.len());
    for (op, output) in ops.iter().zip(outputs) {
        let result = op.parse_result(output);
        if let Some(failure) = result.failure() {
            return Err(Refusal::Tmux {
                command: op.spec().command,
                failure,
                reason: output.error_text(),
            });
        }
        results.push(result);
    }
    Ok(results)
}

/// Runs operations, pipelined, on `server` and no other: a pane id such as `%3`, which a later
/// server hands out again, never reaches a pane of that later server.
async fn run_bound(
    engine: &ControlEngine,
    server: &ServerIdentity,
    ops: Vec<Operation>,
) -> Result<Vec<OpResult>, Refusal> {
    let commands = render(engine, &ops).await?;
    let outputs = engine
        .execute_on_server(server, commands)
        .await
        .map_err(engine_error)?;
    accepted(&ops, &outputs)
}

/// Runs operations on whichever server the engine reaches (what they name is looked up by
/// name, never by a pane id), returning every result, refused or not.
async fn run_unbound(
    engine: &ControlEngine,
    ops: Vec<Operation>,
) -> Result<Vec<OpResult>, MuxError> {
    let commands = render(engine, &ops).await?;
    let mut results = Vec::with_capacity(ops.len());
    for (op, output) in ops.iter().zip(engine.execute_batch(commands).await) {
        results.push(op.parse_result(&output.map_err(engine_error)?));
    }
    Ok(results)
}

/// [`run_unbound`], with the first refusal as the error.
async fn run_accepted(
    engine: &ControlEngine,
    ops: Vec<Operation>,
) -> Result<Vec<OpResult>, MuxError> {
    let commands: Vec<&'static str> = ops.iter().map(|op| op.spec().command).collect();
    let results = run_unbound(engine, ops).await?;
    for (result, command) in results.iter().zip(commands) {
        if result.failure().is_some() {
            return Err(MuxError::Command {
                command: command.to_string(),
                reason: result.output.error_text(),
            });
        }
    }
    Ok(results)
}

/// `display-message -p` of a format in `pane`'s context.
fn print_format(pane: PaneId, format: &str) -> Operation {
    DisplayMessage {
        target: Some(Target::Pane(pane)),
        format: format.to_string(),
        print: true,
        literal: false,
    }
    .into()
}

/// The first line the first result printed.
fn first_line(results: &[OpResult]) -> String {
    results
        .first()
        .and_then(|result| result.output.stdout.first())
        .cloned()
        .unwrap_or_default()
}

/// The pane rows of a `list_panes` reply; a line that cannot be read is skipped.
fn pane_rows(result: &OpResult, user_options: &[String]) -> Vec<PaneRow> {
    result
        .output
        .stdout
        .iter()
        .filter_map(|line| PaneRow::parse_with_options(line, user_options).ok())
        .collect()
}

/// `load-buffer` of `text` from standard input into `buffer`.
fn load_buffer(buffer: &str, text: &str) -> Operation {
    LoadBuffer {
        name: Some(buffer.to_string()),
        source: BufferSource::Data(text.to_string()),
        clipboard: false,
    }
    .into()
}

fn set_option(scope: OptionScope, name: String, value: String) -> Operation {
    SetOption {
        scope,
        name,
        value: Some(value),
        append: false,
        only_if_unset: false,
        expand_formats: false,
    }
    .into()
}

/// Turns notifications into [`PaneEvent`]s. Holds the engine weakly: the task that owns it
/// ends when the engine's notifications do.
#[derive(Clone)]
struct EventWatch {
    engine: WeakControlEngine,
    events: broadcast::Sender<PaneEvent>,
    deaths: Arc<Mutex<ReportedDeaths>>,
}

impl EventWatch {
    fn handle(&self, notification: Notification) {
        match notification {
            Notification::Output { pane, .. } | Notification::ExtendedOutput { pane, .. } => {
                // Output read while a new connection is being set up has no server yet; the
                // Resync that announces the connection covers it.
                if let Some(server) = self.engine.upgrade().and_then(|e| e.current_server()) {
                    let _ = self
                        .events
                        .send(PaneEvent::Output(pane_ref(&server, &pane.to_string())));
                }
            }
            Notification::WindowClose { .. } | Notification::UnlinkedWindowClose { .. } => {
                // A pane may be gone without dying (killed from outside cao).
                let _ = self.events.send(PaneEvent::Resync);
            }
            Notification::SubscriptionChanged {
                name,
                pane: Some(pane),
                value,
                ..
            } if name == DEATH_SUBSCRIPTION => {
                if value.trim() == "1" {
                    self.check_death(pane, Reporter::Subscription);
                } else {
                    lock(&self.deaths).alive(pane);
                }
            }
            Notification::PaneModeChanged { pane } => self.check_death(pane, Reporter::ModeChange),
            _ => {}
        }
    }

    /// The connection to `server` was lost: if that server is gone (none runs on the socket,
    /// or another one does), every pane it had is gone with it, which is announced once as
    /// [`PaneEvent::ServerLost`]; a connection that comes back to the same server is a
    /// [`PaneEvent::Resync`]. Decided within [`SERVER_CHECK_WAIT`].
    async fn connection_lost(&self, server: ServerIdentity, reason: String) {
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        let deadline = tokio::time::Instant::now() + SERVER_CHECK_WAIT;
        let verdict = loop {
            let found = tokio::time::timeout_at(deadline, engine.server_identity()).await;
            match found {
                Ok(Ok(found)) if found == server => break None,
                Ok(Ok(_)) => break Some(format!("the tmux server exited ({reason})")),
                Ok(Err(EngineError::NoServer { .. })) => {
                    break Some(format!("the tmux server exited ({reason})"))
                }
                Ok(Err(EngineError::Closed)) => return,
                Ok(Err(error)) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%error, "tmux not reachable yet after a lost connection");
                    tokio::time::sleep(REAP_CHECK_INTERVAL).await;
                }
                Ok(Err(error)) => break Some(format!("tmux cannot be reached: {error}")),
                Err(_) => break Some(format!("tmux did not answer within {SERVER_CHECK_WAIT:?} after the connection was lost ({reason})")),
            }
        };
        match verdict {
            None => {
                let _ = self.events.send(PaneEvent::Resync);
            }
            Some(reason) => {
                tracing::warn!(%server, %reason, "tmux server lost");
                lock(&self.deaths).clear();
                let _ = self.events.send(PaneEvent::ServerLost { reason });
            }
        }
    }

    /// Asks tmux how `pane` ended and reports its death, in a task of its own (the
    /// notification loop never waits for a reply). A pane reported already is not asked about:
    /// that is the hook's second mode change, or someone scrolling a dead pane.
    fn check_death(&self, pane: PaneId, reporter: Reporter) {
        if lock(&self.deaths).contains(pane) {
            return;
        }
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        let Some(server) = engine.current_server() else {
            return;
        };
        let watch = self.clone();
        tokio::spawn(async move {
            match pane_end(&engine, &server, pane).await {
                Some(PaneEnd::Running) => {}
                Some(PaneEnd::Dead { status_known: true }) => watch.report_death(&server, pane),
                Some(PaneEnd::Dead {
                    status_known: false,
                }) => watch.reap_then_report(&engine, &server, pane).await,
                // The pane is gone or tmux did not answer: the subscription saw it dead, which
                // is enough; a mode change alone is not.
                None => {
                    if reporter == Reporter::Subscription {
                        watch.report_death(&server, pane);
                    }
                }
            }
        });
    }

    /// `pane` is dead but tmux has no exit status for it: tmux lost the child's SIGCHLD (see
    /// the module docs) and the process waits as a zombie. Any child of the server that exits
    /// makes tmux reap every zombie, which records the status (and runs the hook); the death
    /// is reported once the status is known, or after [`REAP_CHECKS`] checks without it.
    async fn reap_then_report(
        &self,
        engine: &ControlEngine,
        server: &ServerIdentity,
        pane: PaneId,
    ) {
        let reap = RunShell {
            command: "true".into(),
            background: true,
            target: None,
            tmux_command: false,
            delay_ms: None,
            start_directory: None,
        };
        let _ = run_bound(engine, server, vec![reap.into()]).await;
        for _ in 0..REAP_CHECKS {
            tokio::time::sleep(REAP_CHECK_INTERVAL).await;
            if lock(&self.deaths).contains(pane) {
                return;
            }
            match pane_end(engine, server, pane).await {
                Some(PaneEnd::Dead {
                    status_known: false,
                }) => {}
                Some(PaneEnd::Running) => return,
                _ => break,
            }
        }
        self.report_death(server, pane);
    }

    fn report_death(&self, server: &ServerIdentity, pane: PaneId) {
        let (news, prune) = {
            let mut deaths = lock(&self.deaths);
            let news = deaths.dead(pane);
            (news, news && deaths.start_prune())
        };
        if news {
            let _ = self
                .events
                .send(PaneEvent::Exited(pane_ref(server, &pane.to_string())));
        }
        if prune {
            self.prune_deaths();
        }
    }

    /// Drops from [`ReportedDeaths`] the panes tmux no longer has.
    fn prune_deaths(&self) {
        let Some(engine) = self.engine.upgrade() else {
            lock(&self.deaths).prune_failed();
            return;
        };
        let deaths = self.deaths.clone();
        tokio::spawn(async move {
            let listing = run_unbound(&engine, vec![ListPanes::default().into()]).await;
            let mut deaths = lock(&deaths);
            match listing.as_deref() {
                Ok([result]) if result.failure().is_none() => {
                    let existing: HashSet<PaneId> = pane_rows(result, &[])
                        .into_iter()
                        .map(|row| row.id)
                        .collect();
                    deaths.prune(&existing);
                }
                _ => deaths.prune_failed(),
            }
        });
    }
}

/// The panes a [`PaneEvent::Exited`] was sent for: the hook and the subscription both report
/// most deaths, and the second report must not become a second event.
///
/// A pane brought back with `respawn-pane` counts as alive again once the subscription has
/// seen it alive; one that dies again before that (within a second) goes unreported.
#[derive(Debug)]
struct ReportedDeaths {
    panes: HashSet<PaneId>,
    /// Size at which the set is next pruned of panes that no longer exist.
    prune_at: usize,
    pruning: bool,
}

impl Default for ReportedDeaths {
    fn default() -> Self {
        Self {
            panes: HashSet::new(),
            prune_at: PRUNE_FLOOR,
            pruning: false,
        }
    }
}

impl ReportedDeaths {
    /// Records a report that `pane` died; true when it is news (an `Exited` is due).
    fn dead(&mut self, pane: PaneId) -> bool {
        self.panes.insert(pane)
    }

    fn contains(&self, pane: PaneId) -> bool {
        self.panes.contains(&pane)
    }

    /// The pane runs: its next death is news.
    fn alive(&mut self, pane: PaneId) {
        self.panes.remove(&pane);
    }

    fn clear(&mut self) {
        self.panes.clear();
    }

    /// True, once, when the set has grown enough to be pruned: the caller lists the panes that
    /// exist and calls [`ReportedDeaths::prune`] or [`ReportedDeaths::prune_failed`].
    fn start_prune(&mut self) -> bool {
        if self.pruning || self.panes.len() < self.prune_at {
            return false;
        }
        self.pruning = true;
        true
    }

    /// Keeps only the panes that still exist (a dead pane stays until cao removes it).
    fn prune(&mut self, existing: &HashSet<PaneId>) {
        self.panes.retain(|pane| existing.contains(pane));
        self.prune_at = (self.panes.len() * 2).max(PRUNE_FLOOR);
        self.pruning = false;
    }

    fn prune_failed(&mut self) {
        self.pruning = false;
    }
}

/// Who said a pane may have died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reporter {
    /// The `#{pane_dead}` subscription: tmux saw the pane dead.
    Subscription,
    /// A `%pane-mode-changed`: the death hook, or someone entering or leaving a mode.
    ModeChange,
}

/// How a pane stands, as far as its death goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaneEnd {
    Running,
    /// The program is gone; `status_known` once tmux has its exit status or signal.
    Dead {
        status_known: bool,
    },
}

/// The format [`parse_pane_end`] reads (`pane_dead_signal` is tmux 3.3+; on 3.2 a pane killed
/// by a signal has no status to wait for and is reported after the reap checks).
const PANE_END_FORMAT: &str = "#{pane_id} #{pane_dead} #{pane_dead_status}#{pane_dead_signal}";

/// Reads a [`PANE_END_FORMAT`] line about `pane`; `None` when it is about another pane
/// (display-message falls back to the current pane when the target vanished) or malformed.
fn parse_pane_end(pane: PaneId, line: &str) -> Option<PaneEnd> {
    let mut fields = line.splitn(3, ' ');
    if fields.next()? != pane.to_string() {
        return None;
    }
    match fields.next()? {
        "0" => Some(PaneEnd::Running),
        "1" => Some(PaneEnd::Dead {
            status_known: !fields.next().unwrap_or_default().is_empty(),
        }),
        _ => None,
    }
}

async fn pane_end(
    engine: &ControlEngine,
    server: &ServerIdentity,
    pane: PaneId,
) -> Option<PaneEnd> {
    let results = run_bound(engine, server, vec![print_format(pane, PANE_END_FORMAT)])
        .await
        .ok()?;
    parse_pane_end(pane, results.first()?.output.stdout.first()?)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a few set operations: a panic inside cannot leave the set
    // inconsistent, so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn engine_error(error: EngineError) -> MuxError {
    match error {
        EngineError::ServerChanged { .. } => MuxError::ServerGone(
            "the tmux server exited (another one runs on its socket now)".into(),
        ),
        EngineError::NoServer { .. } => MuxError::ServerGone("the tmux server exited".into()),
        EngineError::Spawn { .. } => MuxError::Unavailable(error.to_string()),
        other => MuxError::Unavailable(format!("tmux: {other}")),
    }
}

fn missing_pane(refusal: Refusal, pane: &PaneRef) -> MuxError {
    match refusal {
        Refusal::Tmux {
            failure: Failure::NotFound(_),
            ..
        } => MuxError::NoPane(pane.clone()),
        other => other.into(),
    }
}

/// A name cao gives tmux: a plain word ([`crate::is_plain_name`]) of at most 200 characters.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), MuxError> {
    if crate::is_plain_name(name) && name.len() <= 200 {
        Ok(())
    } else {
        Err(MuxError::Invalid {
            what,
            reason: format!(
                "'{}' may only contain letters, digits, '_' and '-' (1 to 200 characters)",
                name.escape_debug()
            ),
        })
    }
}

fn check_env_name(name: &str) -> Result<(), MuxError> {
    if crate::is_env_name(name) {
        Ok(())
    } else {
        Err(MuxError::Invalid {
            what: "environment variable name",
            reason: format!("'{}' is not a valid name", name.escape_debug()),
        })
    }
}

/// Results of removals: done, or already gone; anything else is the error.
fn check_removed(results: Vec<OpResult>) -> Result<(), MuxError> {
    for result in results {
        match result.failure() {
            None | Some(Failure::NotFound(_)) => {}
            Some(_) => {
                return Err(MuxError::Command {
                    command: OpKind::KillSession.spec().command.to_string(),
                    reason: result.output.error_text(),
                })
            }
        }
    }
    Ok(())
}

/// Leaves copy mode first when the pane is in it: a pane left in copy mode would swallow a
/// paste.
fn leave_mode(pane: PaneId) -> Operation {
    let cancel = SendKeys {
        target: Target::Pane(pane),
        input: KeyInput::CopyMode("cancel".into()),
        repeat: None,
    };
    IfShell {
        condition: "#{pane_in_mode}".into(),
        format: true,
        background: false,
        target: Some(Target::Pane(pane)),
        then: Box::new(cancel.into()),
        otherwise: None,
    }
    .into()
}

/// Pastes and deletes a buffer. Inside a bracketed paste the program knows the text was
/// pasted, so newlines go through as LF (tmux would turn them into CR, altering the text).
fn paste_buffer(buffer: &str, pane: PaneId, bracketed: bool) -> Operation {
    PasteBuffer {
        target: Target::Pane(pane),
        name: Some(buffer.to_string()),
        delete_after: true,
        bracketed,
        separator: None,
        raw_newlines: bracketed,
    }
    .into()
}

#[async_trait]
impl Multiplexer for TmuxMux {
    async fn check(&self) -> Result<BackendInfo, MuxError> {
        let version = self.engine.server_version().await.map_err(engine_error)?;
        if version < MIN_VERSION {
            return Err(MuxError::TooOld {
                backend: "tmux",
                found: version.to_string(),
                needed: MIN_VERSION.to_string(),
            });
        }
        Ok(BackendInfo {
            backend: "tmux",
            version: version.to_string(),
        })
    }

    async fn spawn(&self, spec: &LaunchSpec, placement: Placement) -> Result<PaneInfo, MuxError> {
        check_name("session name", &spec.session)?;
        check_name("window name", &spec.window)?;
        for key in spec.env.iter().map(|(key, _)| key).chain(&spec.env_unset) {
            check_env_name(key)?;
        }
        for key in spec.identity.keys() {
            check_name("identity key", key)?;
        }
        let mut command = Vec::new();
        if let Some(program) = &spec.argv {
            if program.is_empty() {
                return Err(MuxError::Invalid {
                    what: "launch argv",
                    reason: "it is empty".into(),
                });
            }
            // tmux hands a single word to `sh -c`; `env` makes it an exec like longer argvs.
            // tmux cannot remove a variable from a pane's environment, `env -u` can (after
            // tmux set `-e`, so a name set there is left alone).
            let unset: Vec<&String> = spec
                .env_unset
                .iter()
                .filter(|name| !spec.env.iter().any(|(set, _)| set == *name))
                .collect();
            if program.len() == 1 || !unset.is_empty() {
                command.push("env".to_string());
            }
            for name in unset {
                command.push("-u".into());
                command.push(name.clone());
            }
            command.extend(program.iter().cloned());
        }
        let start_directory = spec
            .cwd
            .as_ref()
            .map(|cwd| cwd.to_string_lossy().into_owned());
        let environment: BTreeMap<String, String> = spec.env.iter().cloned().collect();
        let create: Operation = match placement {
            Placement::NewSession => NewSession {
                name: Some(spec.session.clone()),
                window_name: Some(spec.window.clone()),
                start_directory,
                width: spec.size.map(|(columns, _)| u32::from(columns)),
                height: spec.size.map(|(_, rows)| u32::from(rows)),
                environment,
                detached: true,
                command,
            }
            .into(),
            Placement::NewWindow => NewWindow {
                target: Some(Target::Name(spec.session.clone())),
                name: Some(spec.window.clone()),
                start_directory,
                environment,
                detached: true,
                placement: None,
                kill_existing: false,
                select_existing: false,
                command,
            }
            .into(),
        };
        let creator = create.spec().command;
        let server = self.server_for_spawn().await?;
        let created =
            self.run_on(&server, vec![create])
                .await
                .map_err(|refusal| match refusal {
                    Refusal::Tmux {
                        failure: Failure::DuplicateSession,
                        ..
                    } => MuxError::SessionExists(spec.session.clone()),
                    Refusal::Tmux {
                        failure: Failure::NotFound(Some(TargetKind::Session)),
                        ..
                    } => MuxError::NoSession(spec.session.clone()),
                    other => other.into(),
                })?;
        let Some(Payload::NewIds(ids)) = created.first().map(|result| &result.payload) else {
            return Err(MuxError::Command {
                command: creator.to_string(),
                reason: format!("unexpected reply '{}'", first_line(&created)),
            });
        };
        let (pane_id, window_id) = (ids.pane, ids.window);
        let pane = pane_ref(&server, &pane_id.to_string());
        let mut setup = vec![set_option(
            OptionScope::Window(Target::Window(window_id)),
            "remain-on-exit".into(),
            "on".into(),
        )];
        for (key, value) in &spec.identity {
            setup.push(set_option(
                OptionScope::Pane(Target::Pane(pane_id)),
                format!("@{key}"),
                value.clone(),
            ));
        }
        let finished = match self.run_on(&server, setup).await {
            Ok(_) => self.link_for_events(&server, window_id).await,
            Err(refusal) => Err(refusal.into()),
        };
        if let Err(error) = finished {
            // Leave nothing behind: the half-made window and its program go.
            let _ = self.kill_pane(&pane).await;
            let kill = KillWindow {
                target: Target::Window(window_id),
                all_others: false,
            };
            let _ = self.run_on(&server, vec![kill.into()]).await;
            return Err(error);
        }
        Ok(PaneInfo {
            pane,
            session: spec.session.clone(),
            window: spec.window.clone(),
            identity: spec.identity.clone(),
        })
    }

    async fn watch(&self, pane: &PaneRef) -> Result<(), MuxError> {
        let (server, window) = self.window_of(pane).await?;
        self.link_for_events(&server, window).await
    }

    async fn list(&self) -> Result<Vec<PaneInfo>, MuxError> {
        let server = match self.engine.server_identity().await {
            Ok(server) => server,
            Err(EngineError::NoServer { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(engine_error(error)),
        };
        let listing = ListPanes {
            scope: ListPanesScope::Server,
            filter: None,
            user_options: self.identity_keys.to_vec(),
        };
        let results = self.run_on(&server, vec![listing.into()]).await?;
        let rows = results
            .first()
            .map(|result| pane_rows(result, &self.identity_keys))
            .unwrap_or_default();
        let mut seen = HashSet::new();
        let mut panes = Vec::new();
        // Windows are linked into the control session too; a pane seen only there lost its
        // own session outside cao (`tmux kill-session`) and still runs: it is listed (under
        // the control session's name) when it carries an identity, so it can be adopted or
        // removed instead of running hidden for ever.
        let mut hidden = Vec::new();
        for row in rows {
            let identity: BTreeMap<String, String> = row
                .user_options
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .collect();
            let info = PaneInfo {
                pane: pane_ref(&server, &row.id.to_string()),
                session: row.session_name,
                window: row.window_name,
                identity,
            };
            if info.session == self.control_session() {
                if !info.identity.is_empty() {
                    hidden.push(info);
                }
                continue;
            }
            if seen.insert(info.pane.clone()) {
                panes.push(info);
            }
        }
        for info in hidden {
            if seen.insert(info.pane.clone()) {
                panes.push(info);
            }
        }
        Ok(panes)
    }

    async fn session_exists(&self, session: &str) -> Result<bool, MuxError> {
        check_name("session name", session)?;
        let probe = HasSession {
            target: Target::Name(session.to_string()),
        };
        let results = run_unbound(&self.engine, vec![probe.into()]).await?;
        Ok(matches!(
            results.first().map(|result| &result.payload),
            Some(Payload::Exists(true))
        ))
    }

    async fn paste(&self, pane: &PaneRef, text: &str, bracketed: bool) -> Result<(), MuxError> {
        let (server, pane_id) = split_pane(pane)?;
        let buffer = format!(
            "cao-paste-{}-{}",
            std::process::id(),
            self.paste_counter.fetch_add(1, Ordering::Relaxed)
        );
        let text = crate::paste_text(text);
        let ops = vec![
            leave_mode(pane_id),
            load_buffer(&buffer, &text),
            paste_buffer(&buffer, pane_id, bracketed),
        ];
        match self.run_on(&server, ops).await {
            Ok(_) => Ok(()),
            Err(refusal) => {
                // `paste-buffer -d` never ran: the loaded text must not stay in tmux.
                let delete = DeleteBuffer { name: Some(buffer) };
                let _ = self.run_on(&server, vec![delete.into()]).await;
                Err(missing_pane(refusal, pane))
            }
        }
    }

    async fn stage(&self, name: &str, text: &str) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        let text = crate::paste_text(text);
        run_accepted(&self.engine, vec![load_buffer(name, &text)])
            .await
            .map(|_| ())
    }

    async fn paste_staged(
        &self,
        pane: &PaneRef,
        name: &str,
        bracketed: bool,
    ) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        let (_, pane_id) = split_pane(pane)?;
        let ops = vec![leave_mode(pane_id), paste_buffer(name, pane_id, bracketed)];
        self.on_pane(pane, ops).await.map(|_| ())
    }

    async fn has_staged(&self, name: &str) -> Result<bool, MuxError> {
        check_name("buffer name", name)?;
        let results = run_accepted(&self.engine, vec![ListBuffers::default().into()]).await?;
        Ok(results.iter().any(|result| {
            result
                .output
                .stdout
                .iter()
                .filter_map(|line| BufferRow::parse(line).ok())
                .any(|row| row.name == name)
        }))
    }

    async fn drop_staged(&self, name: &str) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        if self.has_staged(name).await? {
            let delete = DeleteBuffer {
                name: Some(name.to_string()),
            };
            run_accepted(&self.engine, vec![delete.into()]).await?;
        }
        Ok(())
    }

    async fn send_keys(&self, pane: &PaneRef, keys: &[String]) -> Result<(), MuxError> {
        let (_, pane_id) = split_pane(pane)?;
        // tmux types nothing for an empty word; the typed operation refuses one.
        let keys: Vec<String> = keys.iter().filter(|key| !key.is_empty()).cloned().collect();
        if keys.is_empty() {
            return Ok(());
        }
        let send = SendKeys {
            target: Target::Pane(pane_id),
            input: KeyInput::Keys(keys),
            repeat: None,
        };
        self.on_pane(pane, vec![send.into()]).await.map(|_| ())
    }

    async fn capture(&self, pane: &PaneRef, capture: Capture) -> Result<String, MuxError> {
        let (_, pane_id) = split_pane(pane)?;
        let range = match capture.range {
            CaptureRange::Visible => TmuxCaptureRange::Visible,
            CaptureRange::WithHistory(lines) => TmuxCaptureRange::History(lines),
            CaptureRange::All => TmuxCaptureRange::All,
        };
        let read = CapturePane {
            target: Target::Pane(pane_id),
            range,
            join_wrapped: capture.join_wrapped,
            escapes: false,
            preserve_trailing: false,
        };
        let results = self.on_pane(pane, vec![read.into()]).await?;
        Ok(crate::screen_text(
            results
                .first()
                .map(|result| result.output.stdout.as_slice())
                .unwrap_or_default()
                .iter()
                .map(String::as_str),
        ))
    }

    async fn facts(&self, pane: &PaneRef) -> Result<PaneFacts, MuxError> {
        let (_, pane_id) = split_pane(pane)?;
        let results = self
            .on_pane(
                pane,
                vec![print_format(
                    pane_id,
                    "#{pane_id}\u{1f}#{pane_pid}\u{1f}#{pane_current_command}\u{1f}#{pane_dead}\u{1f}#{pane_dead_status}\u{1f}#{pane_current_path}\u{1f}#{pane_width}\u{1f}#{pane_height}\u{1f}#{history_size}",
                )],
            )
            .await?;
        let line = first_line(&results);
        let fields: Vec<&str> = line.split('\u{1f}').collect();
        // display-message falls back to the current pane when the target vanished between
        // lookups; the echoed pane id catches that.
        if fields.len() != 9 || fields[0] != pane_id.to_string() {
            return Err(MuxError::NoPane(pane.clone()));
        }
        let non_empty = |value: &str| (!value.is_empty()).then(|| value.to_string());
        Ok(PaneFacts {
            pid: fields[1].parse().ok(),
            current_command: non_empty(fields[2]),
            dead: fields[3] == "1",
            exit_status: fields[4].parse().ok(),
            cwd: non_empty(fields[5]).map(Into::into),
            width: fields[6].parse().unwrap_or(0),
            height: fields[7].parse().unwrap_or(0),
            history_size: fields[8].parse().unwrap_or(0),
        })
    }

    async fn kill_pane(&self, pane: &PaneRef) -> Result<(), MuxError> {
        let facts = match self.facts(pane).await {
            Ok(facts) => facts,
            // Gone with its pane or with its whole server: nothing is left to end.
            Err(MuxError::NoPane(_) | MuxError::ServerGone(_)) => return Ok(()),
            Err(error) => return Err(error),
        };
        if let (Some(pid), false) = (facts.pid, facts.dead) {
            crate::process::end_tree(pid, KILL_GRACE).await;
        }
        let (_, pane_id) = split_pane(pane)?;
        let kill = KillPane {
            target: Target::Pane(pane_id),
            all_others: false,
        };
        match self.on_pane(pane, vec![kill.into()]).await {
            Ok(_) | Err(MuxError::NoPane(_) | MuxError::ServerGone(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn kill_session(&self, session: &str) -> Result<(), MuxError> {
        check_name("session name", session)?;
        let target = Target::Name(session.to_string());
        let listing = ListPanes {
            scope: ListPanesScope::Session(target.clone()),
            filter: None,
            user_options: Vec::new(),
        };
        let results = run_unbound(&self.engine, vec![listing.into()]).await?;
        let Some(listing) = results.first().filter(|result| result.failure().is_none()) else {
            return Err(MuxError::NoSession(session.to_string()));
        };
        let mut windows = Vec::new();
        let mut pids = Vec::new();
        for row in pane_rows(listing, &[]) {
            if let (Some(pid), false) = (row.pid, row.dead) {
                pids.push(pid);
            }
            if !windows.contains(&row.window_id) {
                windows.push(row.window_id);
            }
        }
        // The session goes first, its windows all still there: removing a session's windows
        // one by one queues a `session-window-changed` for it each time its current window
        // goes, and tmux 3.3a dereferences the destroyed session's NULL current window when
        // that notification is handled after the last one went (a crash seen in the fault
        // suite). The windows stay linked into the control session, which never changes its
        // current window (they were linked with -d), and go after their programs.
        let kill_session = KillSession {
            target,
            all_others: false,
        };
        check_removed(run_unbound(&self.engine, vec![kill_session.into()]).await?)?;
        let trees: Vec<_> = pids
            .into_iter()
            .map(|pid| crate::process::end_tree(pid, KILL_GRACE))
            .collect();
        for tree in trees {
            tree.await;
        }
        let ops: Vec<Operation> = windows
            .into_iter()
            .map(|window| {
                KillWindow {
                    target: Target::Window(window),
                    all_others: false,
                }
                .into()
            })
            .collect();
        check_removed(run_unbound(&self.engine, ops).await?)
    }

    fn events(&self) -> broadcast::Receiver<PaneEvent> {
        self.events.subscribe()
    }

    fn state(&self) -> crate::BackendState {
        match &*self.engine.server_state().borrow() {
            ServerState::NotConnected => crate::BackendState::Idle,
            ServerState::Connected(server) => crate::BackendState::Connected {
                server: server.to_string(),
            },
            ServerState::Lost { server, reason } => crate::BackendState::Lost {
                server: server.to_string(),
                reason: reason.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(id: u32) -> PaneId {
        PaneId(id)
    }

    #[test]
    fn reads_how_a_pane_ended() {
        assert_eq!(parse_pane_end(pane(5), "%5 0 "), Some(PaneEnd::Running));
        assert_eq!(
            parse_pane_end(pane(5), "%5 1 7"),
            Some(PaneEnd::Dead { status_known: true })
        );
        assert_eq!(
            parse_pane_end(pane(5), "%5 1 9"),
            Some(PaneEnd::Dead { status_known: true })
        );
        assert_eq!(
            parse_pane_end(pane(5), "%5 1 "),
            Some(PaneEnd::Dead {
                status_known: false
            })
        );
        // display-message answered about the current pane: the target is gone.
        assert_eq!(parse_pane_end(pane(5), "%0 0 "), None);
        assert_eq!(parse_pane_end(pane(5), ""), None);
        assert_eq!(parse_pane_end(pane(5), "%5 x "), None);
    }

    #[test]
    fn the_death_hook_runs_the_mode_changes_in_the_background_as_tmux_commands() {
        assert_eq!(
            death_hook_command(),
            format!("run-shell \"-b\" \"-C\" \"--\" \"{DEATH_HOOK_MODE_CHANGES}\"")
        );
    }

    #[test]
    fn a_death_is_news_once() {
        let mut deaths = ReportedDeaths::default();
        assert!(deaths.dead(pane(5)));
        assert!(!deaths.dead(pane(5)), "the second source's report");
        assert!(deaths.dead(pane(6)));
        assert!(deaths.contains(pane(5)));
    }

    #[test]
    fn a_pane_seen_alive_again_can_die_again() {
        let mut deaths = ReportedDeaths::default();
        assert!(deaths.dead(pane(5)));
        deaths.alive(pane(5));
        assert!(deaths.dead(pane(5)));
    }

    #[test]
    fn a_new_connection_forgets_every_death() {
        let mut deaths = ReportedDeaths::default();
        deaths.dead(pane(1));
        deaths.clear();
        assert!(deaths.dead(pane(1)));
    }

    #[test]
    fn pruning_keeps_existing_panes_and_waits_for_the_set_to_double() {
        let mut deaths = ReportedDeaths::default();
        for id in 0..PRUNE_FLOOR as u32 - 1 {
            deaths.dead(pane(id));
            assert!(!deaths.start_prune());
        }
        deaths.dead(pane(1000));
        assert!(deaths.start_prune());
        assert!(!deaths.start_prune(), "one prune at a time");

        // Forty of the dead panes are still there; the rest were removed.
        let existing: HashSet<PaneId> = (0..40).map(pane).collect();
        deaths.prune(&existing);
        assert!(deaths.contains(pane(39)));
        assert!(!deaths.contains(pane(40)));
        assert!(!deaths.contains(pane(1000)));
        assert!(!deaths.dead(pane(39)));

        // Next prune at twice the forty kept.
        for id in 2000..2039 {
            deaths.dead(pane(id));
        }
        assert!(!deaths.start_prune());
        deaths.dead(pane(5000));
        assert!(deaths.start_prune());
        deaths.prune_failed();
        assert!(deaths.start_prune(), "a failed prune is tried again");
    }
}
