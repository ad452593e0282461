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
    HookScope, Operation, OptionScope, RefreshClient, RunShell, SetHook, SetOption, Subscription,
    SubscriptionScope,
};
use cao_tmux::{CommandOutput, PaneId, Socket, TmuxCommand, TmuxVersion};
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

    async fn run(&self, argv: Vec<String>) -> Result<CommandOutput, MuxError> {
        let command = argv.first().cloned().unwrap_or_default();
        let output = self
            .engine
            .execute(TmuxCommand::new(argv))
            .await
            .map_err(engine_error)?;
        if output.succeeded() {
            Ok(output)
        } else {
            Err(MuxError::Command {
                command,
                reason: output.error_text(),
            })
        }
    }

    async fn run_batch(&self, commands: Vec<TmuxCommand>) -> Result<Vec<CommandOutput>, MuxError> {
        let names: Vec<String> = commands.iter().map(|c| c.name().to_string()).collect();
        let mut outputs = Vec::with_capacity(commands.len());
        for (result, command) in self
            .engine
            .execute_batch(commands)
            .await
            .into_iter()
            .zip(names)
        {
            let output = result.map_err(engine_error)?;
            if !output.succeeded() {
                return Err(MuxError::Command {
                    command,
                    reason: output.error_text(),
                });
            }
            outputs.push(output);
        }
        Ok(outputs)
    }

    fn control_session(&self) -> &str {
        self.engine.control_session()
    }

    /// Links the pane's window into the control session so its output reaches cao.
    async fn link_for_events(
        &self,
        server: &ServerIdentity,
        window_id: &str,
    ) -> Result<(), MuxError> {
        let control = format!("={}", self.control_session());
        let linked = self
            .run_on(
                server,
                vec![TmuxCommand::new(argv(&[
                    "list-windows",
                    "-t",
                    &control,
                    "-F",
                    "#{window_id}",
                ]))],
            )
            .await?;
        if linked
            .iter()
            .flat_map(|output| &output.stdout)
            .any(|line| line == window_id)
        {
            return Ok(());
        }
        self.run_on(
            server,
            vec![TmuxCommand::new(argv(&[
                "link-window",
                "-d",
                "-s",
                window_id,
                "-t",
                &format!("{control}:"),
            ]))],
        )
        .await
        .map(|_| ())
    }

    async fn window_of(&self, pane: &PaneRef) -> Result<(ServerIdentity, String), MuxError> {
        let (server, target) = split_pane(pane)?;
        let outputs = self
            .on_pane(
                pane,
                vec![TmuxCommand::new(argv(&[
                    "display-message",
                    "-p",
                    "-t",
                    target,
                    "#{pane_id} #{window_id}",
                ]))],
            )
            .await?;
        let line = outputs
            .first()
            .and_then(|output| output.stdout.first())
            .cloned()
            .unwrap_or_default();
        // display-message falls back to the current pane when the target vanished.
        match line.split_once(' ') {
            Some((found, window)) if found == target => Ok((server, window.to_string())),
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

    /// Runs commands on `server` and no other (see [`ControlEngine::execute_on_server`]);
    /// the first command tmux refuses is the error.
    async fn run_on(
        &self,
        server: &ServerIdentity,
        commands: Vec<TmuxCommand>,
    ) -> Result<Vec<CommandOutput>, MuxError> {
        let names: Vec<String> = commands.iter().map(|c| c.name().to_string()).collect();
        let outputs = self
            .engine
            .execute_on_server(server, commands)
            .await
            .map_err(engine_error)?;
        for (output, command) in outputs.iter().zip(names) {
            if !output.succeeded() {
                return Err(MuxError::Command {
                    command,
                    reason: output.error_text(),
                });
            }
        }
        Ok(outputs)
    }

    /// [`TmuxMux::run_on`] the server `pane` lives on; a pane that is gone is `NoPane`.
    async fn on_pane(
        &self,
        pane: &PaneRef,
        commands: Vec<TmuxCommand>,
    ) -> Result<Vec<CommandOutput>, MuxError> {
        let (server, _) = split_pane(pane)?;
        self.run_on(&server, commands)
            .await
            .map_err(|error| missing_pane(error, pane))
    }
}

/// A pane reference: the tmux pane id and the server it belongs to (`%7@1234-1733170000`),
/// so a reference outlives neither its server nor its pane id's meaning.
fn pane_ref(server: &ServerIdentity, pane_id: &str) -> PaneRef {
    PaneRef(format!("{pane_id}@{server}"))
}

/// The server and the tmux target (`%7`) of a reference made by [`pane_ref`].
fn split_pane(pane: &PaneRef) -> Result<(ServerIdentity, &str), MuxError> {
    pane.as_str()
        .split_once('@')
        .and_then(|(target, server)| {
            let valid_target = target.strip_prefix('%').is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            });
            let server = ServerIdentity::from_text(server)?;
            valid_target.then_some((server, target))
        })
        .ok_or_else(|| MuxError::NoPane(pane.clone()))
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| word.to_string()).collect()
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
        let _ = engine
            .execute_on_server(
                server,
                vec![TmuxCommand::new(argv(&["run-shell", "-b", "true"]))],
            )
            .await;
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
            let listing = engine
                .execute(TmuxCommand::new(argv(&[
                    "list-panes",
                    "-a",
                    "-F",
                    "#{pane_id}",
                ])))
                .await;
            let mut deaths = lock(&deaths);
            match listing {
                Ok(output) if output.succeeded() => {
                    let existing: HashSet<PaneId> = output
                        .stdout
                        .iter()
                        .filter_map(|line| line.parse().ok())
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
    let target = pane.to_string();
    let output = engine
        .execute_on_server(
            server,
            vec![TmuxCommand::new(argv(&[
                "display-message",
                "-p",
                "-t",
                &target,
                PANE_END_FORMAT,
            ]))],
        )
        .await
        .ok()?
        .into_iter()
        .next()?;
    if !output.succeeded() {
        return None;
    }
    parse_pane_end(pane, output.stdout.first()?)
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

fn missing_pane(error: MuxError, pane: &PaneRef) -> MuxError {
    match &error {
        MuxError::Command { reason, .. } if reason.contains("can't find") => {
            MuxError::NoPane(pane.clone())
        }
        _ => error,
    }
}

/// tmux changes `.` and `:` in session names and reads a leading `=` or `$` specially; cao's
/// names are plain words so that targets are never ambiguous.
pub fn check_name(what: &'static str, name: &str) -> Result<(), MuxError> {
    let valid = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
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

/// Leaves copy mode first when the pane is in it: a pane left in copy mode would swallow a
/// paste.
fn leave_mode(target: &str) -> TmuxCommand {
    TmuxCommand::new(argv(&[
        "if-shell",
        "-F",
        "-t",
        target,
        "#{pane_in_mode}",
        &format!("send-keys -X -t {target} cancel"),
    ]))
}

/// Pastes and deletes a buffer. Inside a bracketed paste the program knows the text was
/// pasted, so newlines go through as LF (tmux would turn them into CR, altering the text).
fn paste_buffer(buffer: &str, target: &str, bracketed: bool) -> TmuxCommand {
    let mut words = argv(&["paste-buffer", "-d", "-b", buffer, "-t", target]);
    if bracketed {
        words.insert(1, "-p".into());
        words.insert(2, "-r".into());
    }
    TmuxCommand::new(words)
}

fn trim_lines(lines: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.trim_end_matches(' '));
        text.push('\n');
    }
    text
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
        let mut words: Vec<String> = match placement {
            Placement::NewSession => {
                let mut words =
                    argv(&["new-session", "-d", "-s", &spec.session, "-n", &spec.window]);
                if let Some((columns, rows)) = spec.size {
                    words.extend([
                        "-x".into(),
                        columns.to_string(),
                        "-y".into(),
                        rows.to_string(),
                    ]);
                }
                words
            }
            Placement::NewWindow => argv(&[
                "new-window",
                "-d",
                "-t",
                &format!("={}:", spec.session),
                "-n",
                &spec.window,
            ]),
        };
        words.extend(argv(&["-P", "-F", "#{pane_id} #{window_id}"]));
        if let Some(cwd) = &spec.cwd {
            words.push("-c".into());
            words.push(cwd.to_string_lossy().into_owned());
        }
        for (key, value) in &spec.env {
            words.push("-e".into());
            words.push(format!("{key}={value}"));
        }
        if let Some(program) = &spec.argv {
            if program.is_empty() {
                return Err(MuxError::Invalid {
                    what: "launch argv",
                    reason: "it is empty".into(),
                });
            }
            words.push("--".into());
            // tmux hands a single word to `sh -c`; `env` makes it an exec like longer argvs.
            // tmux cannot remove a variable from a pane's environment, `env -u` can (after
            // tmux set `-e`, so a name set there is left alone).
            let unset: Vec<&String> = spec
                .env_unset
                .iter()
                .filter(|name| !spec.env.iter().any(|(set, _)| set == *name))
                .collect();
            if program.len() == 1 || !unset.is_empty() {
                words.push("env".into());
            }
            for name in unset {
                words.push("-u".into());
                words.push(name.clone());
            }
            words.extend(program.iter().cloned());
        }
        let server = self.server_for_spawn().await?;
        let created = self.run_on(&server, vec![TmuxCommand::new(words)]).await;
        let output = created.map_err(|error| match error {
            MuxError::Command { reason, .. } if reason.contains("duplicate session") => {
                MuxError::SessionExists(spec.session.clone())
            }
            MuxError::Command { reason, .. } if reason.contains("can't find session") => {
                MuxError::NoSession(spec.session.clone())
            }
            other => other,
        })?;
        let line = output
            .first()
            .and_then(|output| output.stdout.first())
            .cloned()
            .unwrap_or_default();
        let (pane_id, window_id) = line.split_once(' ').ok_or_else(|| MuxError::Command {
            command: "new-window".into(),
            reason: format!("unexpected reply '{line}'"),
        })?;
        let pane = pane_ref(&server, pane_id);
        let mut setup = vec![TmuxCommand::new(argv(&[
            "set-option",
            "-w",
            "-t",
            window_id,
            "remain-on-exit",
            "on",
        ]))];
        for (key, value) in &spec.identity {
            setup.push(TmuxCommand::new(vec![
                "set-option".to_string(),
                "-p".into(),
                "-t".into(),
                pane_id.to_string(),
                format!("@{key}"),
                value.clone(),
            ]));
        }
        let finished = match self.run_on(&server, setup).await {
            Ok(_) => self.link_for_events(&server, window_id).await,
            Err(error) => Err(error),
        };
        if let Err(error) = finished {
            // Leave nothing behind: the half-made window and its program go.
            let _ = self.kill_pane(&pane).await;
            let _ = self
                .run_on(
                    &server,
                    vec![TmuxCommand::new(argv(&["kill-window", "-t", window_id]))],
                )
                .await;
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
        self.link_for_events(&server, &window).await
    }

    async fn set_identity(&self, pane: &PaneRef, key: &str, value: &str) -> Result<(), MuxError> {
        check_name("identity key", key)?;
        let (_, target) = split_pane(pane)?;
        let command = TmuxCommand::new(vec![
            "set-option".to_string(),
            "-p".into(),
            "-t".into(),
            target.to_string(),
            format!("@{key}"),
            value.to_string(),
        ]);
        self.on_pane(pane, vec![command]).await.map(|_| ())
    }

    async fn list(&self) -> Result<Vec<PaneInfo>, MuxError> {
        const SEPARATOR: char = '\u{1f}';
        let mut format = String::from("#{session_name}\u{1f}#{window_name}\u{1f}#{pane_id}");
        for key in self.identity_keys.iter() {
            format.push(SEPARATOR);
            format.push_str(&format!("#{{@{key}}}"));
        }
        let server = match self.engine.server_identity().await {
            Ok(server) => server,
            Err(EngineError::NoServer { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(engine_error(error)),
        };
        let listing = TmuxCommand::new(argv(&["list-panes", "-a", "-F", &format]));
        let output = self
            .run_on(&server, vec![listing])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut seen = HashSet::new();
        let mut panes = Vec::new();
        // Windows are linked into the control session too; a pane seen only there lost its
        // own session outside cao (`tmux kill-session`) and still runs: it is listed (under
        // the control session's name) when it carries an identity, so it can be adopted or
        // removed instead of running hidden for ever.
        let mut hidden = Vec::new();
        for line in &output.stdout {
            let mut fields = line.split(SEPARATOR);
            let (Some(session), Some(window), Some(pane)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let mut identity = BTreeMap::new();
            for (key, value) in self.identity_keys.iter().zip(fields) {
                if !value.is_empty() {
                    identity.insert(key.clone(), value.to_string());
                }
            }
            let info = PaneInfo {
                pane: pane_ref(&server, pane),
                session: session.to_string(),
                window: window.to_string(),
                identity,
            };
            if session == self.control_session() {
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
        let output = self
            .engine
            .execute(TmuxCommand::new(argv(&[
                "has-session",
                "-t",
                &format!("={session}"),
            ])))
            .await
            .map_err(engine_error)?;
        Ok(output.succeeded())
    }

    async fn paste(&self, pane: &PaneRef, text: &str, bracketed: bool) -> Result<(), MuxError> {
        let (server, target) = split_pane(pane)?;
        let buffer = format!(
            "cao-paste-{}-{}",
            std::process::id(),
            self.paste_counter.fetch_add(1, Ordering::Relaxed)
        );
        let text = crate::paste_text(text);
        let commands = vec![
            leave_mode(target),
            TmuxCommand::new(argv(&["load-buffer", "-b", &buffer, "-"]))
                .with_stdin(text.as_bytes().to_vec()),
            paste_buffer(&buffer, target, bracketed),
        ];
        match self.run_on(&server, commands).await {
            Ok(_) => Ok(()),
            Err(error) => {
                // `paste-buffer -d` never ran: the loaded text must not stay in tmux.
                let _ = self
                    .run_on(
                        &server,
                        vec![TmuxCommand::new(argv(&["delete-buffer", "-b", &buffer]))],
                    )
                    .await;
                Err(missing_pane(error, pane))
            }
        }
    }

    async fn stage(&self, name: &str, text: &str) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        let text = crate::paste_text(text);
        self.run_batch(vec![TmuxCommand::new(argv(&[
            "load-buffer",
            "-b",
            name,
            "-",
        ]))
        .with_stdin(text.as_bytes().to_vec())])
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
        let (_, target) = split_pane(pane)?;
        let commands = vec![leave_mode(target), paste_buffer(name, target, bracketed)];
        self.on_pane(pane, commands).await.map(|_| ())
    }

    async fn has_staged(&self, name: &str) -> Result<bool, MuxError> {
        check_name("buffer name", name)?;
        let listing = self
            .run(argv(&["list-buffers", "-F", "#{buffer_name}"]))
            .await?;
        Ok(listing.stdout.iter().any(|line| line == name))
    }

    async fn drop_staged(&self, name: &str) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        if self.has_staged(name).await? {
            self.run(argv(&["delete-buffer", "-b", name])).await?;
        }
        Ok(())
    }

    async fn send_keys(&self, pane: &PaneRef, keys: &[String]) -> Result<(), MuxError> {
        let (_, target) = split_pane(pane)?;
        let mut words = argv(&["send-keys", "-t", target]);
        words.extend(keys.iter().cloned());
        self.on_pane(pane, vec![TmuxCommand::new(words)])
            .await
            .map(|_| ())
    }

    async fn capture(&self, pane: &PaneRef, capture: Capture) -> Result<String, MuxError> {
        let (_, target) = split_pane(pane)?;
        let mut words = argv(&["capture-pane", "-p", "-t", target]);
        if capture.join_wrapped {
            words.push("-J".into());
        }
        match capture.range {
            CaptureRange::Visible => {}
            CaptureRange::WithHistory(lines) => {
                words.push("-S".into());
                words.push(format!("-{lines}"));
            }
            CaptureRange::All => {
                words.push("-S".into());
                words.push("-".into());
            }
        }
        let outputs = self.on_pane(pane, vec![TmuxCommand::new(words)]).await?;
        Ok(trim_lines(
            outputs
                .first()
                .map(|output| output.stdout.as_slice())
                .unwrap_or_default(),
        ))
    }

    async fn facts(&self, pane: &PaneRef) -> Result<PaneFacts, MuxError> {
        let (_, target) = split_pane(pane)?;
        let outputs = self
            .on_pane(
                pane,
                vec![TmuxCommand::new(argv(&[
                    "display-message",
                    "-p",
                    "-t",
                    target,
                    "#{pane_id}\u{1f}#{pane_pid}\u{1f}#{pane_current_command}\u{1f}#{pane_dead}\u{1f}#{pane_dead_status}\u{1f}#{pane_current_path}\u{1f}#{pane_width}\u{1f}#{pane_height}\u{1f}#{history_size}",
                ]))],
            )
            .await?;
        let line = outputs
            .first()
            .and_then(|output| output.stdout.first())
            .cloned()
            .unwrap_or_default();
        let fields: Vec<&str> = line.split('\u{1f}').collect();
        // display-message falls back to the current pane when the target vanished between
        // lookups; the echoed pane id catches that.
        if fields.len() != 9 || fields[0] != target {
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
        let (_, target) = split_pane(pane)?;
        match self
            .on_pane(
                pane,
                vec![TmuxCommand::new(argv(&["kill-pane", "-t", target]))],
            )
            .await
        {
            Ok(_) | Err(MuxError::NoPane(_) | MuxError::ServerGone(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn kill_session(&self, session: &str) -> Result<(), MuxError> {
        check_name("session name", session)?;
        let listing = self
            .engine
            .execute(TmuxCommand::new(argv(&[
                "list-panes",
                "-s",
                "-t",
                &format!("={session}"),
                "-F",
                "#{pane_pid} #{pane_dead} #{window_id}",
            ])))
            .await
            .map_err(engine_error)?;
        if !listing.succeeded() {
            return Err(MuxError::NoSession(session.to_string()));
        }
        let mut windows = Vec::new();
        let mut trees = Vec::new();
        for line in &listing.stdout {
            let mut fields = line.split(' ');
            let (Some(pid), Some(dead), Some(window)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if let (Ok(pid), "0") = (pid.parse::<u32>(), dead) {
                trees.push(crate::process::end_tree(pid, KILL_GRACE));
            }
            if !windows.iter().any(|known| known == window) {
                windows.push(window.to_string());
            }
        }
        for tree in trees {
            tree.await;
        }
        // The windows are also linked into the control session, so killing the session alone
        // would leave them there.
        let mut commands: Vec<TmuxCommand> = windows
            .iter()
            .map(|window| TmuxCommand::new(argv(&["kill-window", "-t", window])))
            .collect();
        commands.push(TmuxCommand::new(argv(&[
            "kill-session",
            "-t",
            &format!("={session}"),
        ])));
        for result in self.engine.execute_batch(commands).await {
            let output = result.map_err(engine_error)?;
            if !output.succeeded() && !output.error_text().contains("can't find") {
                return Err(MuxError::Command {
                    command: "kill-session".into(),
                    reason: output.error_text(),
                });
            }
        }
        Ok(())
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

    fn attach_command(&self, session: &str) -> Vec<String> {
        let mut command = vec!["tmux".to_string()];
        command.extend(
            self.engine
                .socket()
                .tmux_args()
                .iter()
                .map(|arg| arg.to_string_lossy().into_owned()),
        );
        command.extend(argv(&["attach-session", "-t", &format!("={session}")]));
        command
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
