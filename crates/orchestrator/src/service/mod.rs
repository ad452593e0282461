//! The orchestrator service: terminals (agent CLIs in panes), sessions, input, output and the
//! live status of each, over a [`Multiplexer`].
//!
//! Every surface (HTTP API, CLI, MCP) is a thin client of [`Orchestrator`]. It persists a
//! terminal before it starts one, resolves the agent binary before anything is created (a
//! missing binary fails at once, naming the binary and how to install it, and leaves nothing
//! behind), launches the CLI by argv with the server's own `PATH` and environment, and keeps
//! one status reader per terminal that runs only when the pane writes something.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cao_mux::{
    Capture, CaptureRange, LaunchSpec, Multiplexer, MuxError, PaneEvent, PaneRef, Placement,
};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::home::{CaoHome, HomeError};
use crate::lock;
use crate::profile::{ProfileCatalog, ProfileError};
use crate::provider::{
    find_executable, ExitStep, InputView, LaunchContext, PackError, PackRegistry, ProviderPack,
    RenderedHomeOverlay, SystemPromptDelivery,
};
use crate::store::{HandoffStatus, InboxStatus};
use crate::store::{NewTerminal, Store, StoreError, TerminalRow};
use crate::watcher::{StatusMachine, Watch, DEBOUNCE};
use crate::TerminalStatus;

mod cao_tools;
mod inbox;
mod team;

pub use inbox::{delivery_tag, delivery_text, MAX_MESSAGE_BYTES};
pub use team::{
    AssignOutcome, AssignRequest, HandoffOutcome, HandoffRequest, SessionActivity,
    ASSIGN_FOOTER_MARK, DEFAULT_HANDOFF_TIMEOUT, MAX_HANDOFF_TIMEOUT,
};

/// The pane user option (`@cao_terminal_id`) that names a pane's terminal.
pub const TERMINAL_ID_KEY: &str = "cao_terminal_id";

/// Session names cao creates start with this.
pub const SESSION_PREFIX: &str = "cao-";

/// How long input waits for a starting terminal to become ready, unless the profile says.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long inbox messages to a terminal in error wait for it to be restored.
pub const DEFAULT_MESSAGE_HOLD: Duration = Duration::from_secs(600);

/// How long a waiter that saw `error` on screen waits for the pane's exit to be reported.
const EXIT_REPORT_WAIT: Duration = Duration::from_millis(1500);

/// History kept for `output?mode=full` and extraction.
const HISTORY_LINES: u32 = 10_000;

/// Why an orchestrator call failed; each message is one line naming the cause and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrchestratorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (a spawning tool without `@cao-mcp-server` or `*`).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for OrchestratorError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => OrchestratorError::NotFound(error.to_string()),
            StoreError::Constraint(_) => OrchestratorError::Conflict(error.to_string()),
            other => OrchestratorError::Internal(format!("database: {other}")),
        }
    }
}

impl From<MuxError> for OrchestratorError {
    fn from(error: MuxError) -> Self {
        match error {
            MuxError::Invalid { .. } => OrchestratorError::Invalid(error.to_string()),
            MuxError::SessionExists(_) => OrchestratorError::Conflict(error.to_string()),
            MuxError::NoSession(_) | MuxError::NoPane(_) => {
                OrchestratorError::NotFound(error.to_string())
            }
            MuxError::Unavailable(_) | MuxError::TooOld { .. } => {
                OrchestratorError::Unavailable(error.to_string())
            }
            MuxError::ServerGone(reason) => OrchestratorError::Unavailable(format!(
                "{reason}: its terminals are in error; restore each with `cao terminal restore <id>`"
            )),
            MuxError::Command { .. } => OrchestratorError::Internal(error.to_string()),
        }
    }
}

impl From<ProfileError> for OrchestratorError {
    fn from(error: ProfileError) -> Self {
        match error {
            ProfileError::NotFound { .. } => OrchestratorError::NotFound(error.to_string()),
            ProfileError::Io { .. } | ProfileError::Home(_) => {
                OrchestratorError::Internal(error.to_string())
            }
            other => OrchestratorError::Invalid(other.to_string()),
        }
    }
}

impl From<PackError> for OrchestratorError {
    fn from(error: PackError) -> Self {
        match error {
            PackError::UnknownProvider { .. } => OrchestratorError::NotFound(error.to_string()),
            other => OrchestratorError::Invalid(other.to_string()),
        }
    }
}

impl From<HomeError> for OrchestratorError {
    fn from(error: HomeError) -> Self {
        OrchestratorError::Internal(error.to_string())
    }
}

/// What a caller asks for when it creates a terminal.
#[derive(Debug, Clone, Default)]
pub struct CreateTerminal {
    pub agent_profile: String,
    pub provider: Option<String>,
    /// With or without the `cao-` prefix; generated when absent (new sessions only).
    pub session_name: Option<String>,
    pub working_directory: Option<String>,
    pub env_vars: BTreeMap<String, String>,
    pub model: Option<String>,
    pub allowed_tools: Option<Vec<String>>,
    /// The terminal that asks (a supervisor creating a worker).
    pub caller_id: Option<String>,
    /// Sent as the first input once the terminal is ready.
    pub initial_message: Option<String>,
}

/// A terminal as the API shows it (CAO's shape plus a few fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terminal {
    pub id: String,
    /// The window name (`<profile>-<4hex>`).
    pub name: String,
    pub provider: String,
    pub session_name: String,
    pub agent_profile: String,
    pub status: TerminalStatus,
    pub working_directory: Option<String>,
    pub created_at: String,
    pub last_active: Option<String>,
    pub creator_id: Option<String>,
}

/// A session as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    /// `active` while it has live terminals.
    pub status: String,
    pub terminal_count: u32,
    pub created_at: String,
}

/// A session with its terminals, oldest (the conductor) first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionDetail {
    pub session: SessionInfo,
    pub terminals: Vec<Terminal>,
}

/// A provider pack and whether its CLI is installed where the server can see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    pub name: String,
    pub binary: String,
    pub installed: bool,
    pub path: Option<String>,
    pub aliases: Vec<String>,
    pub install_hint: String,
}

/// Which output a caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// The whole history.
    Full,
    /// The pack's extraction of the last reply.
    Last,
}

impl OutputMode {
    pub fn parse(text: &str) -> Result<OutputMode, OrchestratorError> {
        match text {
            "full" => Ok(OutputMode::Full),
            "last" => Ok(OutputMode::Last),
            other => Err(OrchestratorError::Invalid(format!(
                "unknown output mode '{other}': use 'full' or 'last'"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutputMode::Full => "full",
            OutputMode::Last => "last",
        }
    }
}

/// Something the orchestrator did or saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrchestratorEvent {
    Status {
        terminal_id: String,
        status: TerminalStatus,
        /// Set when the status is `error` because the CLI exited.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    TerminalCreated {
        terminal_id: String,
        session_name: String,
    },
    TerminalDeleted {
        terminal_id: String,
    },
    /// An inbox message changed state (queued, delivered, failed…).
    Message {
        message_id: i64,
        receiver_id: String,
        status: InboxStatus,
    },
    /// A handoff job changed state.
    Handoff {
        job_id: String,
        status: HandoffStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        worker_id: Option<String>,
    },
}

/// How the orchestrator is set up.
pub struct OrchestratorConfig {
    pub home: CaoHome,
    pub mux: Arc<dyn Multiplexer>,
    /// The `cao` executable (for the mock agent and the MCP server command).
    pub cao_binary: PathBuf,
    /// The provider used when neither the request nor the profile names one.
    pub default_provider: String,
    /// The `PATH` launched CLIs get (and binaries are resolved in): the server's own.
    pub path: OsString,
    /// Where cao's HTTP API listens, told to every pane (`CAO_API_HOST`, `CAO_API_PORT`) so
    /// its MCP server finds it, and written into MCP configs that use HTTP.
    pub api: ApiEndpoint,
    /// Environment every agent pane gets (after cao's own variables, before the pack's and
    /// the request's).
    pub agent_env: Vec<(String, String)>,
    /// How long inbox messages to a terminal in error (its CLI or its tmux server died) are
    /// held for a `restore` before they end `failed`.
    pub message_hold: Duration,
}

/// The address of cao's HTTP API as the agents see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEndpoint {
    pub host: String,
    pub port: u16,
}

impl ApiEndpoint {
    /// `CAO_API_HOST` / `CAO_API_PORT`, default 127.0.0.1:9889.
    pub fn from_env() -> ApiEndpoint {
        ApiEndpoint {
            host: std::env::var("CAO_API_HOST")
                .ok()
                .filter(|host| !host.is_empty())
                .unwrap_or_else(|| "127.0.0.1".to_string()),
            port: std::env::var("CAO_API_PORT")
                .ok()
                .and_then(|port| port.parse().ok())
                .unwrap_or(9889),
        }
    }

    /// `http://host:port`.
    pub fn base_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// The streamable-HTTP MCP endpoint of one terminal's orchestration tools.
    pub fn agent_mcp_url(&self, terminal_id: &str) -> String {
        format!("{}/mcp/agents/{terminal_id}", self.base_url())
    }
}

impl OrchestratorConfig {
    /// Defaults from the process: `CAO_PROVIDER` (else `claude_code`), the process `PATH` and
    /// executable.
    pub fn new(home: CaoHome, mux: Arc<dyn Multiplexer>) -> OrchestratorConfig {
        OrchestratorConfig {
            home,
            mux,
            cao_binary: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cao")),
            default_provider: std::env::var("CAO_PROVIDER")
                .ok()
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| "claude_code".to_string()),
            path: std::env::var_os("PATH").unwrap_or_default(),
            api: ApiEndpoint::from_env(),
            agent_env: Vec::new(),
            message_hold: DEFAULT_MESSAGE_HOLD,
        }
    }
}

/// How long an agent gets to react (its screen changes) to a submitted input before Enter is
/// pressed again, and how many submissions it gets.
const SUBMIT_REACTION_WAIT: Duration = Duration::from_secs(2);
const SUBMIT_TRIES: u32 = 3;
/// How long an input waits for a CLI to list cao's MCP tools (packs with `after_cao_tools`)
/// before the terminal counts as started without them.
const CAO_TOOLS_WAIT: Duration = Duration::from_secs(20);

/// The history before an input was typed, and whether Enter has been pressed since.
#[derive(Debug, Clone)]
struct Baseline {
    history: String,
    /// The first line of the input, as a CLI that queues an input shows it under the last
    /// turn until it takes it.
    first_line: String,
    entered: bool,
    /// Echoed inputs on screen before: one more means the CLI took an input (a turn that
    /// repeats the last one, same input and same reply, leaves the last turn's text as it was).
    echoes: usize,
    /// Lines scrolled off the top of the screen before (tmux's `history_size`): on a full
    /// screen, a repeated turn pushes an echo off the top as it adds one, and only the scroll
    /// tells it from no turn at all.
    scrollback: Option<u32>,
}

impl Baseline {
    /// After Enter, whether a ready screen with this history has not taken the input yet:
    /// the history is what it was before the input was typed, or no new turn began and
    /// the input shows under the last one (queued behind a turn the CLI is finishing, or
    /// drawn before the CLI opened the turn: opencode prints the input block first).
    ///
    /// `scrolled`: lines went off the top of the screen since the input was typed, so a last
    /// turn that reads as before is a new turn that repeats it.
    fn not_taken(&self, screen: &InputView, scrolled: bool) -> bool {
        if !self.entered || screen.echoes > self.echoes {
            return false;
        }
        if screen.composer.iter().any(|line| self.shows_input(line)) {
            return true;
        }
        if screen.history == self.history {
            return !scrolled;
        }
        if screen.history.lines().next() != self.history.lines().next() {
            return false;
        }
        let shown = |text: &str| {
            text.lines()
                .skip(1)
                .filter(|line| self.shows_input(line))
                .count()
        };
        shown(&screen.history) > shown(&self.history)
    }

    /// Whether a screen line shows the input's first line (a long one wraps: its first screen
    /// row is a prefix of it).
    fn shows_input(&self, line: &str) -> bool {
        let input = without_border(&self.first_line);
        let line = without_border(line);
        !input.is_empty()
            && (line == input || (line.chars().count() >= 20 && input.starts_with(line)))
    }
}

/// A screen line without the borders and prompt marks CLIs draw around an input (and the
/// zero-width space Qwen Code leaves after its composer's text).
fn without_border(line: &str) -> &str {
    line.trim()
        .trim_start_matches(|c: char| c.is_whitespace() || "┃│>›❯*".contains(c))
        .trim_end_matches(|c: char| c.is_whitespace() || "┃│\u{200b}".contains(c))
}

/// Per-terminal runtime state.
#[derive(Clone)]
struct Live {
    pane: PaneRef,
    pack: Arc<ProviderPack>,
    watch: Arc<Watch>,
    machine: Arc<Mutex<StatusMachine>>,
    /// Serializes input to the terminal.
    input: Arc<tokio::sync::Mutex<()>>,
    init_timeout: Duration,
    exit_reason: Arc<Mutex<Option<String>>>,
    /// When the terminal went into error for good (its CLI or its tmux server died).
    died_at: Arc<Mutex<Option<tokio::time::Instant>>>,
    /// The screen as it was just before the last Enter: while the pane still shows exactly
    /// this, the agent has not reacted, and a "completed" reading is the previous turn's.
    submitted_screen: Arc<Mutex<Option<String>>>,
    /// The screen before the last input was typed (see [`Baseline`]): after Enter, a ready
    /// reading that has not taken the input shows the previous turn's reply, and the input is
    /// not answered yet (a CLI may clear its composer well before it echoes the input, flash
    /// a spinner, queue the input while it initializes, or ignore the Enter).
    submitted_history: Arc<Mutex<Option<Baseline>>>,
    /// Set once the CLI listed cao's MCP tools (see [`Orchestrator::agent_listed_tools`]).
    tools_listed: Arc<tokio::sync::watch::Sender<bool>>,
    /// Counts the agent's reactions to a submission (after Enter, its screen changed to show
    /// work or a new turn).
    reactions: Arc<tokio::sync::watch::Sender<u64>>,
}

struct Inner {
    home: CaoHome,
    store: Store,
    mux: Arc<dyn Multiplexer>,
    packs: PackRegistry,
    profiles: ProfileCatalog,
    cao_binary: PathBuf,
    default_provider: String,
    path: OsString,
    api: ApiEndpoint,
    agent_env: Vec<(String, String)>,
    message_hold: Duration,
    /// The operator's token, the key of every agent token.
    server_token: String,
    live: Mutex<HashMap<String, Live>>,
    by_pane: Mutex<HashMap<PaneRef, String>>,
    events: broadcast::Sender<OrchestratorEvent>,
    inbox: inbox::InboxState,
    /// Running handoff jobs, to cancel them.
    jobs: Mutex<HashMap<String, team::RunningJob>>,
    /// Assigned workers whose task has not been handed over yet.
    assigning: Mutex<std::collections::HashSet<String>>,
}

/// What `/health` reports: the backend's link and how many terminals are in error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `ok`, or `degraded` while the backend is lost or a terminal is in error.
    pub status: &'static str,
    pub backend: cao_mux::BackendState,
    /// Live terminals, and those in error (their CLI or their tmux server died).
    pub terminals: usize,
    pub terminals_in_error: usize,
}

/// Why a terminal's pane is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// For good: messages still queued for it end `failed`.
    Delete,
    /// To be started again under the same id: its queued messages wait for it.
    Restore,
}

/// The orchestrator. Cheap to clone.
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

fn random_hex(bytes: usize) -> Result<String, OrchestratorError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|error| OrchestratorError::Internal(format!("no randomness: {error}")))?;
    Ok(crate::home::hex(&buffer))
}

/// `name` → `cao-name`; a name that already has the prefix is kept.
pub fn session_name(name: &str) -> String {
    if name.starts_with(SESSION_PREFIX) {
        name.to_string()
    } else {
        format!("{SESSION_PREFIX}{name}")
    }
}

/// A session name is a plain word (the mux's rule, [`cao_mux::is_plain_name`]) with more
/// than the `cao-` prefix and at most 100 characters.
fn check_session_name(name: &str) -> Result<(), OrchestratorError> {
    if cao_mux::is_plain_name(name) && name.len() > SESSION_PREFIX.len() && name.len() <= 100 {
        Ok(())
    } else {
        Err(OrchestratorError::Invalid(format!(
            "invalid session name '{}': use letters, digits, '_' and '-' (at most 100 characters)",
            name.escape_debug()
        )))
    }
}

/// Text typed into a terminal as a turn or sent as a message: not empty once pasted, no NUL.
pub(super) fn check_input(message: &str) -> Result<(), OrchestratorError> {
    if message.contains('\0') {
        return Err(OrchestratorError::Invalid(
            "the message contains a NUL byte, which no terminal can carry".into(),
        ));
    }
    // Empty as pasted: control bytes alone are no text (see `cao_mux::paste_text`).
    if cao_mux::paste_text(message).trim().is_empty() {
        return Err(OrchestratorError::Invalid(
            "the message is empty: give the text to send".into(),
        ));
    }
    Ok(())
}

/// A message or task stored before it is typed: [`check_input`], and at most
/// [`MAX_MESSAGE_BYTES`] (a larger one belongs in a file).
pub(super) fn check_message(message: &str) -> Result<(), OrchestratorError> {
    check_input(message)?;
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(OrchestratorError::Invalid(format!(
            "the message is {} bytes, more than the {MAX_MESSAGE_BYTES} allowed: send a file path instead",
            message.len()
        )));
    }
    Ok(())
}

/// Appends to the store's event log. Best-effort: nothing reads the log back (live events
/// go out on the event bus), so a failed append loses history and nothing else.
pub(super) fn record_event(
    store: &Store,
    terminal_id: Option<&str>,
    kind: &str,
    data: &serde_json::Value,
) {
    let _ = store.append_event(terminal_id, kind, data);
}

/// Removes a terminal's configuration directory (its launch files, among them the MCP
/// configuration holding the agent token); one left behind is logged, not fatal.
fn remove_config_dir(terminal_id: &str, dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(
            terminal = %terminal_id,
            dir = %dir.display(),
            %error,
            "could not remove the terminal's configuration directory"
        ),
    }
}

/// Variables cao sets in every pane to name the terminal and reach the server.
fn is_reserved_env(name: &str) -> bool {
    name.starts_with("CAO_") && name != "CAO_MOCK_AGENT_LOG" && name != "CAO_MOCK_AGENT_SCRIPT"
}

/// The request's own checks, before anything is looked up or created.
fn check_request(request: &CreateTerminal) -> Result<(), OrchestratorError> {
    for (key, value) in &request.env_vars {
        if !cao_mux::is_env_name(key) {
            return Err(OrchestratorError::Invalid(format!(
                "environment variable name '{}' is invalid: use letters, digits and '_'",
                key.escape_debug()
            )));
        }
        if is_reserved_env(key) {
            return Err(OrchestratorError::Invalid(format!(
                "environment variable {key} is cao's own (CAO_* names identify the terminal): choose another name"
            )));
        }
        if value.contains('\0') {
            return Err(OrchestratorError::Invalid(format!(
                "environment variable {key} contains a NUL byte, which no environment can carry"
            )));
        }
    }
    if let Some(message) = &request.initial_message {
        if message.contains('\0') {
            return Err(OrchestratorError::Invalid(
                "the initial message contains a NUL byte, which no terminal can carry".into(),
            ));
        }
    }
    Ok(())
}

/// A model name reaches the agent's argv (`--model NAME`): it must read as a name, never as
/// an option or as more than one word.
pub fn check_model(model: &str) -> Result<(), OrchestratorError> {
    let valid = !model.is_empty()
        && model.len() <= 200
        && !model.starts_with('-')
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@+-[]".contains(c));
    if valid {
        Ok(())
    } else {
        Err(OrchestratorError::Invalid(format!(
            "model '{}' is not a model name: use letters, digits and . _ : / @ + - [ ] (not starting with '-')",
            model.escape_debug()
        )))
    }
}

fn key_is_valid(key: &str) -> bool {
    const NAMED: &[&str] = &[
        "Enter", "Escape", "Tab", "BTab", "BSpace", "Space", "Up", "Down", "Left", "Right", "Home",
        "End", "PageUp", "PageDown", "PPage", "NPage", "Insert", "Delete", "DC", "IC",
    ];
    if NAMED.contains(&key) {
        return true;
    }
    if let Some(number) = key.strip_prefix('F') {
        if number.parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) {
            return true;
        }
    }
    let base = key
        .strip_prefix("C-")
        .or_else(|| key.strip_prefix("M-"))
        .or_else(|| key.strip_prefix("S-"))
        .unwrap_or(key);
    let mut chars = base.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_ascii_graphic())
        || (base != key && NAMED.contains(&base))
}

impl Orchestrator {
    /// Opens the store, loads packs and profiles, checks the multiplexer, re-adopts the live
    /// terminals it finds, and starts the status engine.
    pub async fn start(config: OrchestratorConfig) -> Result<Orchestrator, OrchestratorError> {
        config.home.ensure_dirs()?;
        let store = Store::open(&config.home.db_path())?;
        let packs = PackRegistry::load(Some(&config.home.providers_dir()))?;
        let server_token = config.home.server_token()?;
        let profiles = ProfileCatalog::new(&config.home);
        let (events, _) = broadcast::channel(4096);
        let orchestrator = Orchestrator {
            inner: Arc::new(Inner {
                home: config.home,
                store,
                mux: config.mux,
                packs,
                profiles,
                cao_binary: config.cao_binary,
                default_provider: config.default_provider,
                path: config.path,
                api: config.api,
                agent_env: config.agent_env,
                message_hold: config.message_hold,
                server_token,
                live: Mutex::new(HashMap::new()),
                by_pane: Mutex::new(HashMap::new()),
                events,
                inbox: inbox::InboxState::default(),
                jobs: Mutex::new(HashMap::new()),
                assigning: Mutex::new(std::collections::HashSet::new()),
            }),
        };
        orchestrator.start_router();
        orchestrator.adopt().await?;
        orchestrator.fail_interrupted_handoffs()?;
        orchestrator.settle_interrupted_deliveries().await?;
        orchestrator.start_inbox();
        Ok(orchestrator)
    }

    /// The data directory.
    pub fn home(&self) -> &CaoHome {
        &self.inner.home
    }

    /// The store (for the layers that add tables of their own, such as the inbox).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The agent profiles.
    pub fn profiles(&self) -> &ProfileCatalog {
        &self.inner.profiles
    }

    /// The provider packs.
    pub fn packs(&self) -> &PackRegistry {
        &self.inner.packs
    }

    /// The multiplexer underneath.
    pub fn mux(&self) -> &Arc<dyn Multiplexer> {
        &self.inner.mux
    }

    /// Where the HTTP API listens, as told to the agents.
    pub fn api(&self) -> &ApiEndpoint {
        &self.inner.api
    }

    /// Events: status changes, terminals created and deleted.
    pub fn subscribe(&self) -> broadcast::Receiver<OrchestratorEvent> {
        self.inner.events.subscribe()
    }

    /// The backend's link and the terminals in error, for `/health`.
    pub fn health(&self) -> Health {
        let backend = self.inner.mux.state();
        let (terminals, terminals_in_error) = {
            let live = lock(&self.inner.live);
            let errors = live
                .values()
                .filter(|live| *live.watch.status.borrow() == TerminalStatus::Error)
                .count();
            (live.len(), errors)
        };
        let lost = matches!(backend, cao_mux::BackendState::Lost { .. });
        Health {
            status: if lost || terminals_in_error > 0 {
                "degraded"
            } else {
                "ok"
            },
            backend,
            terminals,
            terminals_in_error,
        }
    }

    /// Every pack with its binary looked up in the server's `PATH`.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.inner
            .packs
            .list()
            .iter()
            .map(|pack| {
                let path = pack.resolve_binary(&self.inner.path, &self.inner.cao_binary);
                ProviderInfo {
                    name: pack.name.clone(),
                    binary: pack.binary.clone(),
                    installed: path.is_some(),
                    path: path.map(|path| path.display().to_string()),
                    aliases: pack.aliases.clone(),
                    install_hint: pack.install_hint.clone(),
                }
            })
            .collect()
    }

    // ----- sessions -------------------------------------------------------------------------

    /// Creates a new session whose first terminal (the conductor) runs `request`.
    pub async fn create_session(
        &self,
        request: CreateTerminal,
    ) -> Result<Terminal, OrchestratorError> {
        let session = match &request.session_name {
            Some(name) => session_name(name),
            None => format!("{SESSION_PREFIX}{}", random_hex(4)?),
        };
        check_session_name(&session)?;
        if self.inner.mux.session_exists(&session).await?
            || !self
                .inner
                .store
                .list_terminals_by_session(&session)?
                .is_empty()
        {
            return Err(OrchestratorError::Conflict(format!(
                "session '{session}' already exists: pick another --session-name or delete it first (cao shutdown --session {session})"
            )));
        }
        self.create_terminal(&session, Placement::NewSession, request)
            .await
    }

    /// Adds a terminal to an existing session.
    pub async fn create_terminal_in_session(
        &self,
        session: &str,
        request: CreateTerminal,
    ) -> Result<Terminal, OrchestratorError> {
        let session = session_name(session);
        check_session_name(&session)?;
        if !self.inner.mux.session_exists(&session).await? {
            return Err(OrchestratorError::NotFound(format!(
                "session '{session}' does not exist (list them with `cao session list`)"
            )));
        }
        self.create_terminal(&session, Placement::NewWindow, request)
            .await
    }

    /// The sessions with live terminals.
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>, OrchestratorError> {
        Ok(self
            .inner
            .store
            .sessions()?
            .into_iter()
            .map(|summary| SessionInfo {
                id: summary.session_name.clone(),
                name: summary.session_name,
                status: "active".into(),
                terminal_count: summary.terminal_count,
                created_at: summary.created_at,
            })
            .collect())
    }

    /// One session and its terminals.
    pub fn get_session(&self, name: &str) -> Result<SessionDetail, OrchestratorError> {
        let name = session_name(name);
        let terminals = self.list_terminals(&name)?;
        let Some(first) = terminals.first() else {
            return Err(OrchestratorError::NotFound(format!(
                "session '{name}' does not exist (list them with `cao session list`)"
            )));
        };
        Ok(SessionDetail {
            session: SessionInfo {
                id: name.clone(),
                name,
                status: "active".into(),
                terminal_count: terminals.len() as u32,
                created_at: first.created_at.clone(),
            },
            terminals,
        })
    }

    /// Deletes every terminal of a session (saving their scrollback), then the session.
    pub async fn delete_session(&self, name: &str) -> Result<Vec<String>, OrchestratorError> {
        let name = session_name(name);
        check_session_name(&name)?;
        let rows = self.inner.store.list_terminals_by_session(&name)?;
        let exists = self.inner.mux.session_exists(&name).await?;
        if rows.is_empty() && !exists {
            return Err(OrchestratorError::NotFound(format!(
                "session '{name}' does not exist (list them with `cao session list`)"
            )));
        }
        // The session goes as a whole, after every scrollback is saved (the multiplexer removes
        // a session before its windows; see `Multiplexer::kill_session`); each terminal is then
        // finished off, its pane gone already.
        if exists {
            for row in &rows {
                let pane = lock(&self.inner.live)
                    .get(&row.id)
                    .map(|live| live.pane.clone())
                    .or_else(|| row.pane_ref.clone().map(PaneRef));
                if let Some(pane) = pane {
                    self.save_scrollback(&row.id, &pane).await;
                }
            }
            self.inner.mux.kill_session(&name).await?;
        }
        // Concurrently: each kill may wait out a grace period for an agent ignoring SIGTERM.
        let mut kills = tokio::task::JoinSet::new();
        for row in rows {
            let orchestrator = self.clone();
            kills.spawn(async move {
                let result = orchestrator.delete_terminal(&row.id).await;
                (row.id, result)
            });
        }
        let mut deleted = Vec::new();
        let mut first_error = None;
        while let Some(joined) = kills.join_next().await {
            match joined {
                Ok((id, Ok(()))) => deleted.push(id),
                Ok((_, Err(error))) => {
                    first_error.get_or_insert(error);
                }
                Err(error) => {
                    first_error.get_or_insert(OrchestratorError::Internal(format!(
                        "a terminal deletion panicked: {error}"
                    )));
                }
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        deleted.sort();
        if self.inner.mux.session_exists(&name).await? {
            self.inner.mux.kill_session(&name).await?;
        }
        Ok(deleted)
    }

    // ----- terminals ------------------------------------------------------------------------

    /// The live terminals of a session, oldest first.
    pub fn list_terminals(&self, session: &str) -> Result<Vec<Terminal>, OrchestratorError> {
        let session = session_name(session);
        Ok(self
            .inner
            .store
            .list_terminals_by_session(&session)?
            .into_iter()
            .map(|row| self.terminal_from_row(row))
            .collect())
    }

    /// One terminal.
    pub fn get_terminal(&self, id: &str) -> Result<Terminal, OrchestratorError> {
        Ok(self.terminal_from_row(self.row(id)?))
    }

    /// The current status of a terminal.
    pub fn status(&self, id: &str) -> Result<TerminalStatus, OrchestratorError> {
        Ok(self.get_terminal(id)?.status)
    }

    fn row(&self, id: &str) -> Result<TerminalRow, OrchestratorError> {
        match self.inner.store.get_terminal(id)? {
            Some(row) if row.exited_at.is_none() => Ok(row),
            _ => Err(OrchestratorError::NotFound(format!(
                "terminal '{}' does not exist (list them with `cao session status <session>`)",
                id.escape_debug()
            ))),
        }
    }

    fn terminal_from_row(&self, row: TerminalRow) -> Terminal {
        let status = lock(&self.inner.live)
            .get(&row.id)
            .map(|live| *live.watch.status.borrow())
            .unwrap_or(row.status);
        Terminal {
            id: row.id,
            name: row.window_name,
            provider: row.provider,
            session_name: row.session_name,
            agent_profile: row.agent_profile,
            status,
            working_directory: row.working_directory,
            created_at: row.created_at,
            last_active: Some(row.updated_at),
            creator_id: row.creator_id,
        }
    }

    fn live(&self, id: &str) -> Result<Live, OrchestratorError> {
        self.row(id)?;
        lock(&self.inner.live).get(id).cloned().ok_or_else(|| {
            OrchestratorError::Conflict(format!(
                "terminal '{id}' has no pane any more: delete it (cao terminal delete {id}) or restore it (cao terminal restore {id})"
            ))
        })
    }

    /// Starts an exited (deleted, crashed) terminal again under the same id, with its profile,
    /// provider, working directory and creator, in a new window of its session (the session is
    /// made again when it is gone).
    pub async fn restore_terminal(&self, id: &str) -> Result<Terminal, OrchestratorError> {
        let Some(row) = self.inner.store.get_terminal(id)? else {
            return Err(OrchestratorError::NotFound(format!(
                "terminal '{}' was never created here",
                id.escape_debug()
            )));
        };
        let crashed = row.exited_at.is_none() && lock(&self.inner.live).contains_key(id);
        if crashed {
            let live = self.live(id)?;
            if *live.watch.status.borrow() != TerminalStatus::Error {
                return Err(OrchestratorError::Conflict(format!(
                    "terminal {id} is still running: nothing to restore"
                )));
            }
            // A crashed CLI (or one whose tmux server died): its dead pane is removed first;
            // the messages held for it stay queued for the restored terminal.
            self.remove_terminal(id, Removal::Restore).await?;
        }
        let restored = self.relaunch(row).await;
        if crashed && restored.is_err() {
            // Its pane was removed above and none replaced it.
            let _ = self.inner.store.mark_terminal_exited(id, "restore failed");
        }
        restored
    }

    /// Launches a terminal's pane again under its id (see [`Orchestrator::restore_terminal`]).
    async fn relaunch(&self, row: TerminalRow) -> Result<Terminal, OrchestratorError> {
        let placement = if self.inner.mux.session_exists(&row.session_name).await? {
            Placement::NewWindow
        } else {
            Placement::NewSession
        };
        let request = CreateTerminal {
            agent_profile: row.agent_profile.clone(),
            provider: Some(row.provider.clone()),
            session_name: Some(row.session_name.clone()),
            working_directory: row.working_directory.clone(),
            allowed_tools: row.allowed_tools.clone(),
            caller_id: row.creator_id.clone(),
            ..CreateTerminal::default()
        };
        self.launch_terminal(&row.session_name, placement, request, Some(row.id))
            .await
    }

    async fn create_terminal(
        &self,
        session: &str,
        placement: Placement,
        request: CreateTerminal,
    ) -> Result<Terminal, OrchestratorError> {
        self.launch_terminal(session, placement, request, None)
            .await
    }

    async fn launch_terminal(
        &self,
        session: &str,
        placement: Placement,
        request: CreateTerminal,
        restore_id: Option<String>,
    ) -> Result<Terminal, OrchestratorError> {
        let inner = &self.inner;
        let profile = inner.profiles.find(&request.agent_profile)?;
        let provider = request
            .provider
            .clone()
            .or_else(|| profile.provider.clone())
            .unwrap_or_else(|| inner.default_provider.clone());
        let pack = Arc::new(inner.packs.get(&provider)?.clone());
        let restoring = restore_id.is_some();
        let terminal_id = match restore_id {
            Some(id) => id,
            None => random_hex(4)?,
        };
        let window = format!("{}-{}", window_stem(&profile.name), random_hex(2)?);
        let working_directory = match &request.working_directory {
            Some(dir) => {
                let path = PathBuf::from(dir);
                if !path.is_dir() {
                    return Err(OrchestratorError::Invalid(format!(
                        "working directory '{dir}' does not exist or is not a directory"
                    )));
                }
                path
            }
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        check_request(&request)?;
        if let Some(caller) = &request.caller_id {
            if inner.store.get_terminal(caller)?.is_none() {
                return Err(OrchestratorError::NotFound(format!(
                    "caller terminal '{}' does not exist: pass the id of a live terminal, or none",
                    caller.escape_debug()
                )));
            }
        }
        let model = request.model.clone().or_else(|| profile.model.clone());
        if let Some(model) = &model {
            check_model(model)?;
        }
        let config_dir = inner.home.terminal_config_dir(&terminal_id);
        let system_prompt = match pack.system_prompt {
            SystemPromptDelivery::Launch => profile.system_prompt.clone(),
            SystemPromptDelivery::FirstMessage => String::new(),
        };
        let launch = pack.render_launch(&LaunchContext {
            terminal_id: terminal_id.clone(),
            profile_name: profile.name.clone(),
            system_prompt,
            model,
            permission_mode: profile.permission_mode(),
            working_directory: working_directory.clone(),
            config_dir: config_dir.clone(),
            cao_mcp_command: vec![
                inner.cao_binary.display().to_string(),
                "mcp-server".to_string(),
            ],
            cao_mcp_url: inner.api.agent_mcp_url(&terminal_id),
            cao_api_token: crate::agent_token::agent_token(&inner.server_token, &terminal_id),
            cao_binary: inner.cao_binary.clone(),
            mock_script: std::env::var_os("CAO_MOCK_AGENT_SCRIPT").map(PathBuf::from),
            extra_env: Vec::new(),
        })?;
        // Pre-flight: the CLI must exist where the pane will look for it.
        let program = launch.argv.first().cloned().unwrap_or_default();
        let Some(resolved) = find_executable(&program, &inner.path) else {
            return Err(OrchestratorError::Unavailable(format!(
                "{program} ({}) is not installed or not on the server's PATH: {}",
                pack.name, pack.install_hint
            )));
        };
        let mut argv = launch.argv.clone();
        argv[0] = resolved.display().to_string();

        // Persist, then act; undo both if the pane cannot be made.
        let row = if restoring {
            inner.store.revive_terminal(&terminal_id, &window)?
        } else {
            inner.store.insert_terminal(&NewTerminal {
                id: terminal_id.clone(),
                session_name: session.to_string(),
                window_name: window.clone(),
                pane_ref: None,
                provider: pack.name.clone(),
                agent_profile: profile.name.clone(),
                working_directory: Some(working_directory.display().to_string()),
                creator_id: request.caller_id.clone(),
                allowed_tools: request
                    .allowed_tools
                    .clone()
                    .or_else(|| profile.allowed_tools.clone()),
            })?
        };
        let spawned = self
            .spawn_pane(
                session,
                &window,
                placement,
                &terminal_id,
                argv,
                &launch.env,
                &launch.env_unset,
                &launch.files,
                launch.home_overlay.as_ref(),
                &config_dir,
                &request.env_vars,
                &working_directory,
            )
            .await;
        let pane = match spawned {
            Ok(pane) => pane,
            Err(error) => {
                // A row left behind would be re-adopted or restored as if it had a pane.
                let cleaned = if restoring {
                    inner
                        .store
                        .mark_terminal_exited(&terminal_id, "restore failed")
                } else {
                    inner.store.delete_terminal(&terminal_id)
                };
                if let Err(store_error) = cleaned {
                    tracing::warn!(terminal = %terminal_id, error = %store_error, "could not record a terminal that failed to start");
                }
                remove_config_dir(&terminal_id, &config_dir);
                return Err(error);
            }
        };
        inner.store.set_terminal_pane(&terminal_id, pane.as_str())?;
        let init_timeout = profile
            .provider_init_timeout
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_INIT_TIMEOUT);
        self.watch_terminal(
            &terminal_id,
            pane,
            pack.clone(),
            init_timeout,
            TerminalStatus::Unknown,
        );
        record_event(
            &inner.store,
            Some(&terminal_id),
            "terminal.created",
            &serde_json::json!({"session": session, "provider": pack.name, "profile": profile.name}),
        );
        let _ = inner.events.send(OrchestratorEvent::TerminalCreated {
            terminal_id: terminal_id.clone(),
            session_name: session.to_string(),
        });

        let mut first_input = Vec::new();
        if pack.system_prompt == SystemPromptDelivery::FirstMessage
            && !profile.system_prompt.trim().is_empty()
        {
            first_input.push(profile.system_prompt.clone());
        }
        if let Some(message) = &request.initial_message {
            first_input.push(message.clone());
        }
        if !first_input.is_empty() {
            // Taken here, before anyone else can queue input behind it.
            let fence = self.live(&terminal_id)?.input.clone().lock_owned().await;
            let orchestrator = self.clone();
            let id = terminal_id.clone();
            let text = first_input.join("\n\n");
            tokio::spawn(async move {
                if let Err(error) = orchestrator.deliver_first_message(&id, &text, fence).await {
                    tracing::warn!(terminal = %id, %error, "initial message not delivered");
                }
            });
        }
        Ok(self.terminal_from_row(row))
    }

    #[allow(clippy::too_many_arguments)]
    async fn spawn_pane(
        &self,
        session: &str,
        window: &str,
        placement: Placement,
        terminal_id: &str,
        argv: Vec<String>,
        pack_env: &[(String, String)],
        pack_env_unset: &[String],
        files: &[(PathBuf, String)],
        home_overlay: Option<&RenderedHomeOverlay>,
        config_dir: &Path,
        request_env: &BTreeMap<String, String>,
        working_directory: &Path,
    ) -> Result<PaneRef, OrchestratorError> {
        let write_error = |path: &Path, error: std::io::Error| {
            OrchestratorError::Internal(format!("cannot write {}: {error}", path.display()))
        };
        std::fs::create_dir_all(config_dir).map_err(|error| write_error(config_dir, error))?;
        for (path, text) in files {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|error| write_error(parent, error))?;
            }
            write_private(path, text).map_err(|error| write_error(path, error))?;
        }
        if let Some(overlay) = home_overlay {
            // Over the home the CLI would have had: the caller's HOME, else the server's.
            let user_home = request_env
                .get("HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(PathBuf::from));
            overlay
                .build(user_home.as_deref())
                .map_err(|error| OrchestratorError::Internal(error.to_string()))?;
        }
        // The pane gets the server's PATH (a login shell in the pane must not hide what the
        // server found) and identity before anything the pack or caller adds.
        let mut env: Vec<(String, String)> = vec![
            (
                "PATH".to_string(),
                self.inner.path.to_string_lossy().into_owned(),
            ),
            ("CAO_TERMINAL_ID".to_string(), terminal_id.to_string()),
            (
                "CAO_TERMINAL_TOKEN".to_string(),
                crate::agent_token::agent_token(&self.inner.server_token, terminal_id),
            ),
            (
                "CAO_HOME_DIR".to_string(),
                self.inner.home.root().display().to_string(),
            ),
            ("CAO_API_HOST".to_string(), self.inner.api.host.clone()),
            ("CAO_API_PORT".to_string(), self.inner.api.port.to_string()),
        ];
        env.extend(self.inner.agent_env.iter().cloned());
        // cao's own variables name the terminal: nothing else may set them (a pack's copy of
        // CAO_TERMINAL_ID is the same value; the request's were refused before).
        env.extend(
            pack_env
                .iter()
                .filter(|(name, _)| !is_reserved_env(name))
                .cloned(),
        );
        env.extend(request_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let spec = LaunchSpec {
            session: session.to_string(),
            window: window.to_string(),
            argv: Some(argv),
            env,
            env_unset: pack_env_unset.to_vec(),
            cwd: Some(working_directory.to_path_buf()),
            size: Some((200, 50)),
            identity: BTreeMap::from([(TERMINAL_ID_KEY.to_string(), terminal_id.to_string())]),
        };
        let info = self.inner.mux.spawn(&spec, placement).await?;
        Ok(info.pane)
    }

    fn watch_terminal(
        &self,
        terminal_id: &str,
        pane: PaneRef,
        pack: Arc<ProviderPack>,
        init_timeout: Duration,
        initial: TerminalStatus,
    ) {
        let watch = Watch::new(initial);
        let machine = Arc::new(Mutex::new(StatusMachine::resume(initial)));
        let live = Live {
            pane: pane.clone(),
            pack,
            watch: watch.clone(),
            machine,
            input: Arc::new(tokio::sync::Mutex::new(())),
            init_timeout,
            exit_reason: Arc::new(Mutex::new(None)),
            died_at: Arc::new(Mutex::new(None)),
            submitted_screen: Arc::new(Mutex::new(None)),
            submitted_history: Arc::new(Mutex::new(None)),
            reactions: Arc::new(tokio::sync::watch::Sender::new(0)),
            tools_listed: Arc::new(tokio::sync::watch::Sender::new(false)),
        };
        lock(&self.inner.live).insert(terminal_id.to_string(), live.clone());
        lock(&self.inner.by_pane).insert(pane, terminal_id.to_string());
        let orchestrator = self.clone();
        let id = terminal_id.to_string();
        tokio::spawn(async move { orchestrator.read_status_loop(id, live).await });
    }

    /// Routes pane events to the terminals' readers.
    fn start_router(&self) {
        let mut events = self.inner.mux.events();
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(inner) = weak.upgrade() else { return };
                match event {
                    Ok(PaneEvent::Output(pane)) => {
                        if let Some(watch) = watch_of(&inner, &pane) {
                            watch.poke();
                        }
                    }
                    Ok(PaneEvent::Exited(pane)) => {
                        if let Some(watch) = watch_of(&inner, &pane) {
                            watch.mark_died();
                        }
                    }
                    // After a lost server each reader finds out whether its own pane went with
                    // it (a pane made on a server started since is fine).
                    Ok(PaneEvent::Resync | PaneEvent::ServerLost { .. })
                    | Err(broadcast::error::RecvError::Lagged(_)) => {
                        for live in lock(&inner.live).values() {
                            live.watch.poke();
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// One terminal's status reader: waits for a poke, lets output settle, reads the screen.
    async fn read_status_loop(self, terminal_id: String, live: Live) {
        let mut dialogs_answered = 0u32;
        let mut cao_tools_checked = false;
        let mut retry_delay = Duration::from_millis(100);
        loop {
            if live.watch.closed.load(Ordering::SeqCst) {
                return;
            }
            if !live.watch.dirty.load(Ordering::SeqCst) {
                live.watch.wake.notified().await;
                continue;
            }
            tokio::time::sleep(DEBOUNCE).await;
            live.watch.dirty.store(false, Ordering::SeqCst);
            if live.watch.closed.load(Ordering::SeqCst) {
                return;
            }
            let screen = match self.inner.mux.capture(&live.pane, Capture::SCREEN).await {
                Ok(screen) => screen,
                Err(MuxError::NoPane(_)) => {
                    self.record_death(&terminal_id, &live, "its pane was closed".into());
                    return;
                }
                Err(MuxError::ServerGone(reason)) => {
                    self.record_death(&terminal_id, &live, reason);
                    return;
                }
                Err(error) => {
                    // A transient failure (a reconnecting engine): read again soon, since an
                    // agent that finished may stay quiet and never poke us again.
                    tracing::warn!(terminal = %terminal_id, %error, "screen capture failed");
                    live.watch.dirty.store(true, Ordering::SeqCst);
                    tokio::time::sleep(retry_delay).await;
                    retry_delay = (retry_delay * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            retry_delay = Duration::from_millis(100);
            if !cao_tools_checked {
                cao_tools_checked = self.check_cao_tools(&terminal_id, &live, &screen);
            }
            let mut reading = live.pack.classify(&screen);
            // After Enter, a ready screen that has not taken the input has not answered it:
            // the input is queued, on its way, or still in the composer (whatever flashed on
            // screen meanwhile).
            // Only while an input is being submitted or awaits its answer: once answered, the
            // baseline says nothing about what the CLI does next.
            let submitting = lock(&live.submitted_screen).is_some();
            let pending = submitting || lock(&live.machine).awaiting_reply();
            let baseline = lock(&live.submitted_history).clone();
            let mut held = pending
                && matches!(reading, TerminalStatus::Completed | TerminalStatus::Idle)
                && baseline
                    .as_ref()
                    .is_some_and(|before| before.not_taken(&live.pack.input_view(&screen), false));
            if let (true, Some(before)) = (held, &baseline) {
                // A last turn that reads as before may be a repeated turn on a full screen.
                if let Some(scrollback) = before.scrollback {
                    let now = self.inner.mux.facts(&live.pane).await.ok();
                    let scrolled = now.is_some_and(|facts| facts.history_size > scrollback);
                    if scrolled {
                        held = before.not_taken(&live.pack.input_view(&screen), true);
                    }
                }
            }
            {
                let mut submitted = lock(&live.submitted_screen);
                if let Some(before) = submitted.as_deref() {
                    if before == screen {
                        if reading == TerminalStatus::Completed {
                            // Unchanged since Enter: the reply is the previous turn's.
                            reading = TerminalStatus::Idle;
                        }
                    } else if !held {
                        // The agent reacted to the last Enter: it shows work or a new turn
                        // (a redraw that leaves the input untaken is no reaction).
                        *submitted = None;
                        live.reactions.send_modify(|count| *count += 1);
                    }
                }
            }
            let died = live.watch.died.load(Ordering::SeqCst) || reading == TerminalStatus::Error;
            if died {
                if let Ok(facts) = self.inner.mux.facts(&live.pane).await {
                    // A pane tmux marks dead before it has its exit status is left to the
                    // multiplexer's exit event, which comes once the status is known.
                    let settled =
                        facts.exit_status.is_some() || live.watch.died.load(Ordering::SeqCst);
                    if facts.dead && settled {
                        let reason = match facts.exit_status {
                            Some(code) => format!("{} exited with status {code}", live.pack.binary),
                            None => format!("{} exited", live.pack.binary),
                        };
                        self.record_death(&terminal_id, &live, reason);
                        continue;
                    }
                }
                if reading != TerminalStatus::Error {
                    live.watch.died.store(false, Ordering::SeqCst);
                }
            }
            // Start-up dialogs (trust, theme…) are answered while the CLI is not ready yet.
            if !live.watch.status.borrow().is_ready() && dialogs_answered < 8 {
                if let Some(dialog) = live.pack.dialog_for(&screen) {
                    dialogs_answered += 1;
                    tracing::debug!(terminal = %terminal_id, dialog = %dialog.name, "answering a start-up dialog");
                    let _ = self.inner.mux.send_keys(&live.pane, &dialog.keys).await;
                    reading = TerminalStatus::Unknown;
                }
            }
            let status = if held && reading != TerminalStatus::Unknown {
                lock(&live.machine).observe_untaken()
            } else {
                lock(&live.machine).observe(reading)
            };
            self.publish(&terminal_id, &live, status, None);
        }
    }

    fn record_death(&self, terminal_id: &str, live: &Live, reason: String) {
        let status = lock(&live.machine).pane_died();
        let first = lock(&live.exit_reason).replace(reason.clone()).is_none();
        if first {
            *lock(&live.died_at) = Some(tokio::time::Instant::now());
        }
        self.publish(terminal_id, live, status, Some(reason));
        if first {
            self.hold_messages(terminal_id);
        }
    }

    fn publish(
        &self,
        terminal_id: &str,
        live: &Live,
        status: TerminalStatus,
        reason: Option<String>,
    ) {
        let changed = live.watch.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
        if !changed {
            if reason.is_some() {
                // The cause of an error already shown (the pane died after printing it):
                // waiters re-read it.
                live.watch.status.send_modify(|_| {});
                let _ = self.inner.events.send(OrchestratorEvent::Status {
                    terminal_id: terminal_id.to_string(),
                    status,
                    reason,
                });
            }
            return;
        }
        // The stored status is what a restarted server re-adopts the terminal with.
        if let Err(error) = self.inner.store.update_terminal_status(terminal_id, status) {
            tracing::warn!(terminal = %terminal_id, %status, %error, "could not store the terminal's status");
        }
        record_event(
            &self.inner.store,
            Some(terminal_id),
            "terminal.status",
            &serde_json::json!({"status": status, "reason": reason}),
        );
        let _ = self.inner.events.send(OrchestratorEvent::Status {
            terminal_id: terminal_id.to_string(),
            status,
            reason,
        });
    }

    /// Waits until the terminal's status satisfies `accept`, failing early when it errors.
    pub async fn wait_for_status(
        &self,
        id: &str,
        accept: impl Fn(TerminalStatus) -> bool,
        timeout: Duration,
    ) -> Result<TerminalStatus, OrchestratorError> {
        let live = self.live(id)?;
        let mut receiver = live.watch.status.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = *receiver.borrow_and_update();
            if live.watch.is_closed() {
                return Err(OrchestratorError::NotFound(format!(
                    "terminal {id} was deleted while waiting"
                )));
            }
            if accept(status) {
                return Ok(status);
            }
            if status == TerminalStatus::Error && !accept(TerminalStatus::Error) {
                if lock(&live.exit_reason).is_none() {
                    // An error on screen is often the CLI's last words: give its exit a
                    // moment to be reported, for the exit status.
                    let _ = tokio::time::timeout(EXIT_REPORT_WAIT, receiver.changed()).await;
                }
                let reason = lock(&live.exit_reason)
                    .clone()
                    .unwrap_or_else(|| "its screen shows an error".into());
                return Err(OrchestratorError::Unavailable(format!(
                    "terminal {id} failed: {reason}; see its output (cao terminal output {id})"
                )));
            }
            match tokio::time::timeout_at(deadline, receiver.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(OrchestratorError::NotFound(format!(
                        "terminal {id} was deleted while waiting"
                    )))
                }
                Err(_) => {
                    return Err(OrchestratorError::Timeout(format!(
                        "terminal {id} is still '{status}' after {:.0?}",
                        timeout
                    )))
                }
            }
        }
    }

    /// Types `message` into the terminal and submits it: serialized per terminal, waiting for a
    /// starting CLI to become ready first. The submission is checked: the screen must change
    /// after Enter, else Enter is pressed again (an Enter that reaches a CLI busy redrawing,
    /// such as Claude Code connecting its MCP servers, can be lost and leave the text sitting
    /// in its composer). An agent that never reacts is logged, not refused.
    ///
    /// Input to an agent that is busy with a turn it took is refused (`Conflict`, naming the
    /// status):
    /// a CLI at work queues, merges or drops what is typed meanwhile, so the text would be
    /// lost while the call said it was sent. The inbox queues a message until the agent is
    /// ready ([`Orchestrator::send_message`]).
    pub async fn send_input(&self, id: &str, message: &str) -> Result<(), OrchestratorError> {
        check_input(message)?;
        let live = self.live(id)?;
        let _turn = live.input.lock().await;
        let status = *live.watch.status.borrow();
        // Busy means at work on a turn it took: an earlier input the agent never reacted to
        // (its screen unchanged since Enter) was not taken, and typing again is the remedy.
        let taken = lock(&live.submitted_screen).is_none();
        if status == TerminalStatus::Processing && lock(&live.machine).started() && taken {
            return Err(OrchestratorError::Conflict(format!(
                "terminal {id} is busy ('processing'): input typed now would be lost; wait until it is idle or completed, or queue it with `cao agent send-message --to {id}`"
            )));
        }
        if !self.submit_locked(id, &live, message).await? {
            tracing::warn!(terminal = %id, "the agent's screen did not change after the input was submitted");
        }
        Ok(())
    }

    /// [`Orchestrator::send_input`], returning whether the agent reacted to the submission.
    pub(crate) async fn submit_checked(
        &self,
        id: &str,
        message: &str,
    ) -> Result<bool, OrchestratorError> {
        check_input(message)?;
        let live = self.live(id)?;
        let _turn = live.input.lock().await;
        self.submit_locked(id, &live, message).await
    }

    /// [`Orchestrator::submit_checked`] with the terminal's input lock already held.
    async fn submit_locked(
        &self,
        id: &str,
        live: &Live,
        message: &str,
    ) -> Result<bool, OrchestratorError> {
        let status = *live.watch.status.borrow();
        let started = lock(&live.machine).started();
        match status {
            // A CLI still starting (busy connecting its tools, or on a start-up dialog the
            // pack answers) would queue, drop or swallow the input: wait for it to be ready.
            TerminalStatus::Unknown | TerminalStatus::Processing | TerminalStatus::WaitingUserAnswer
                if !started =>
            {
                self.wait_for_status(id, TerminalStatus::is_ready, live.init_timeout)
                    .await?;
            }
            TerminalStatus::WaitingUserAnswer => {
                return Err(OrchestratorError::Conflict(format!(
                    "terminal {id} is waiting for an answer to a prompt: answer it first (cao terminal key {id} …)"
                )))
            }
            TerminalStatus::Error => {
                let reason = lock(&live.exit_reason)
                    .clone()
                    .unwrap_or_else(|| "its screen shows an error".into());
                return Err(OrchestratorError::Conflict(format!(
                    "terminal {id} cannot take input: {reason}"
                )));
            }
            TerminalStatus::Unknown => {
                self.wait_for_status(id, TerminalStatus::is_ready, live.init_timeout)
                    .await?;
            }
            _ => {}
        }
        if live.pack.input.after_cao_tools {
            self.wait_for_cao_tools(id, live).await?;
        }
        let mut reactions = live.reactions.subscribe();
        reactions.borrow_and_update();
        self.type_and_submit(live, message).await?;
        self.turn_started(id, live, message.len());
        for attempt in 1..=SUBMIT_TRIES {
            match tokio::time::timeout(SUBMIT_REACTION_WAIT, reactions.changed()).await {
                Ok(Ok(())) => return Ok(true),
                Ok(Err(_)) => {
                    return Err(OrchestratorError::NotFound(format!(
                        "terminal {id} was deleted while taking the input"
                    )))
                }
                Err(_) if *live.watch.status.borrow() == TerminalStatus::Error => break,
                Err(_) if attempt < SUBMIT_TRIES => {
                    tracing::info!(terminal = %id, attempt, "input not picked up; pressing Enter again");
                    self.inner
                        .mux
                        .send_keys(&live.pane, &["Enter".to_string()])
                        .await?;
                    live.watch.poke();
                }
                Err(_) => {}
            }
        }
        Ok(false)
    }

    /// The live terminal whose agent token `token` is (see [`crate::agent_token`]); `None`
    /// for anything else, the operator's token included.
    pub fn terminal_for_token(&self, token: &str) -> Option<String> {
        let id = crate::agent_token::terminal_of(&self.inner.server_token, token)?;
        self.row(&id).ok().map(|row| row.id)
    }

    /// Called when the agent in terminal `id` listed the tools of its cao MCP server: from
    /// then on its model sees them.
    pub fn agent_listed_tools(&self, id: &str) {
        if let Ok(live) = self.live(id) {
            live.tools_listed.send_replace(true);
        }
    }

    /// Waits (bounded) until the CLI listed cao's tools. A CLI that has not within the bound
    /// did not load cao's MCP server (a configuration it skipped, a server that failed to
    /// start): its agent would work without handoff, assign and send_message and never say
    /// so. The terminal turns `error` with the cause, and the input is refused.
    async fn wait_for_cao_tools(&self, id: &str, live: &Live) -> Result<(), OrchestratorError> {
        let mut listed = live.tools_listed.subscribe();
        let waited = tokio::time::timeout(CAO_TOOLS_WAIT, listed.wait_for(|listed| *listed)).await;
        if waited.is_ok() {
            return Ok(());
        }
        let reason = format!(
            "{} did not load cao's MCP server: no tools/list reached cao within {}s, so its agent would work without cao's tools; check the CLI's MCP messages on its screen (cao terminal output {id}) and docs/agent-clis.md",
            live.pack.binary,
            CAO_TOOLS_WAIT.as_secs()
        );
        tracing::warn!(terminal = %id, %reason, "cao's tools missing");
        // Not a death, but as final: the terminal cannot do its job until it is restored.
        self.record_death(id, live, reason.clone());
        Err(OrchestratorError::Unavailable(format!(
            "terminal {id} failed: {reason}"
        )))
    }

    /// The first message (a system prompt the CLI cannot take at launch, and the caller's
    /// initial message): submitted once the CLI is ready, with the input lock held until its
    /// turn ends, so a task sent meanwhile (a handoff's, an inbox delivery) is typed after the
    /// answer instead of into a busy CLI, where it would be queued, merged or dropped.
    async fn deliver_first_message(
        &self,
        id: &str,
        text: &str,
        fence: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<(), OrchestratorError> {
        let live = self.live(id)?;
        if !self.submit_locked(id, &live, text).await? {
            tracing::warn!(terminal = %id, "the agent's screen did not change after the first message was submitted");
        }
        let turn_over = |status: TerminalStatus| {
            matches!(
                status,
                TerminalStatus::Completed
                    | TerminalStatus::WaitingUserAnswer
                    | TerminalStatus::Error
            )
        };
        if let Err(error) = self.wait_for_status(id, turn_over, live.init_timeout).await {
            tracing::warn!(terminal = %id, %error, "the first message's turn did not end in time; later input goes in now");
        }
        drop(fence);
        Ok(())
    }

    /// Bookkeeping once a submission went out: the terminal is working on a new turn.
    fn turn_started(&self, id: &str, live: &Live, bytes: usize) {
        let status = lock(&live.machine).input_sent();
        self.publish(id, live, status, None);
        live.watch.poke();
        record_event(
            &self.inner.store,
            Some(id),
            "terminal.input",
            &serde_json::json!({"bytes": bytes}),
        );
    }

    /// Remembers the history before anything is typed (typing changes chrome around the
    /// composer, such as hints that appear and vanish, not the history a new turn adds to).
    async fn remember_history(&self, live: &Live, input: &str) {
        let before = self
            .inner
            .mux
            .capture(&live.pane, Capture::SCREEN)
            .await
            .ok();
        let first_line = input
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or_default()
            .to_string();
        let scrollback = self
            .inner
            .mux
            .facts(&live.pane)
            .await
            .ok()
            .map(|facts| facts.history_size);
        *lock(&live.submitted_history) = before.as_deref().map(|screen| {
            let view = live.pack.input_view(screen);
            Baseline {
                history: view.history,
                first_line,
                entered: false,
                echoes: view.echoes,
                scrollback,
            }
        });
    }

    async fn type_and_submit(&self, live: &Live, text: &str) -> Result<(), OrchestratorError> {
        self.remember_history(live, text).await;
        self.inner
            .mux
            .paste(&live.pane, text, live.pack.input.paste)
            .await?;
        self.submit_pasted(live).await
    }

    /// Presses Enter (as often as the pack says) after a paste, remembering the screen first.
    async fn submit_pasted(&self, live: &Live) -> Result<(), OrchestratorError> {
        let mux = &self.inner.mux;
        tokio::time::sleep(Duration::from_millis(live.pack.input.submit_delay_ms)).await;
        // Remember what the screen looks like before Enter, so that a slow agent's unchanged
        // screen (still showing the last turn's reply) is not read as this turn's completion.
        *lock(&live.submitted_screen) = mux.capture(&live.pane, Capture::SCREEN).await.ok();
        if let Some(baseline) = lock(&live.submitted_history).as_mut() {
            baseline.entered = true;
        }
        let enters = vec!["Enter".to_string(); live.pack.input.enter_count.max(1) as usize];
        mux.send_keys(&live.pane, &enters).await?;
        Ok(())
    }

    /// Sends one key by tmux name (`Enter`, `C-c`, `y`, `Down`, …).
    pub async fn send_key(&self, id: &str, key: &str) -> Result<(), OrchestratorError> {
        if !key_is_valid(key) {
            return Err(OrchestratorError::Invalid(format!(
                "unknown key '{}': use a key name such as Enter, Escape, Tab, Up, C-c, y",
                key.escape_debug()
            )));
        }
        let live = self.live(id)?;
        let _turn = live.input.lock().await;
        self.inner
            .mux
            .send_keys(&live.pane, &[key.to_string()])
            .await?;
        if key == "Enter" {
            // An answered prompt or submitted line starts a new turn.
            let status = lock(&live.machine).input_sent();
            self.publish(id, &live, status, None);
        }
        live.watch.poke();
        Ok(())
    }

    /// Answers the prompt a terminal is waiting on (`waiting_user_answer`): types `answer` as
    /// keystrokes (not a bracketed paste, which a y/n or menu prompt would not take as a key)
    /// and presses Enter. Refused, naming the status, when the terminal is not waiting.
    pub async fn answer_prompt(&self, id: &str, answer: &str) -> Result<(), OrchestratorError> {
        if answer.trim().is_empty() {
            return Err(OrchestratorError::Invalid(
                "the answer is empty: give the text to type, such as 'y' or '1'".into(),
            ));
        }
        if answer.chars().any(|c| c.is_control()) {
            return Err(OrchestratorError::Invalid(
                "the answer contains control characters: give plain text (Enter is pressed for you)"
                    .into(),
            ));
        }
        let live = self.live(id)?;
        let _turn = live.input.lock().await;
        let status = *live.watch.status.borrow();
        if status != TerminalStatus::WaitingUserAnswer {
            return Err(OrchestratorError::Conflict(format!(
                "terminal {id} is '{status}', not waiting for an answer: send it work as a message instead"
            )));
        }
        let mux = &self.inner.mux;
        mux.paste(&live.pane, answer, false).await?;
        tokio::time::sleep(Duration::from_millis(live.pack.input.submit_delay_ms)).await;
        mux.send_keys(&live.pane, &["Enter".to_string()]).await?;
        let status = lock(&live.machine).input_sent();
        self.publish(id, &live, status, None);
        live.watch.poke();
        record_event(
            &self.inner.store,
            Some(id),
            "terminal.answer",
            &serde_json::json!({"bytes": answer.len()}),
        );
        Ok(())
    }

    /// The terminal's history (`full`) or its last reply (`last`).
    pub async fn output(&self, id: &str, mode: OutputMode) -> Result<String, OrchestratorError> {
        let live = self.live(id)?;
        let history = self
            .inner
            .mux
            .capture(
                &live.pane,
                Capture {
                    range: CaptureRange::WithHistory(HISTORY_LINES),
                    join_wrapped: true,
                },
            )
            .await?;
        match mode {
            OutputMode::Full => Ok(history),
            OutputMode::Last => live.pack.extract_last_response(&history).ok_or_else(|| {
                OrchestratorError::NotFound(format!(
                    "terminal {id} shows no reply yet: wait for status 'completed', or read mode=full"
                ))
            }),
        }
    }

    /// Runs the pack's exit sequence (`/exit`, `C-c C-c`, …).
    pub async fn exit_terminal(&self, id: &str) -> Result<(), OrchestratorError> {
        let live = self.live(id)?;
        let _turn = live.input.lock().await;
        for step in &live.pack.exit {
            match step {
                ExitStep::Text { text } => self.type_and_submit(&live, text).await?,
                ExitStep::Keys { keys } => self.inner.mux.send_keys(&live.pane, keys).await?,
                ExitStep::Wait { wait_ms } => {
                    tokio::time::sleep(Duration::from_millis(*wait_ms)).await
                }
            }
        }
        Ok(())
    }

    /// Where the terminal's program currently is.
    pub async fn working_directory(&self, id: &str) -> Result<Option<String>, OrchestratorError> {
        let live = self.live(id)?;
        let facts = self.inner.mux.facts(&live.pane).await?;
        Ok(facts.cwd.map(|path| path.display().to_string()))
    }

    /// Saves the scrollback to the terminal's log, ends its process tree and removes it.
    pub async fn delete_terminal(&self, id: &str) -> Result<(), OrchestratorError> {
        self.remove_terminal(id, Removal::Delete).await
    }

    /// Saves the pane's whole history to the terminal's log; a pane already gone leaves the
    /// log as it was.
    async fn save_scrollback(&self, id: &str, pane: &PaneRef) {
        let everything = Capture {
            range: CaptureRange::All,
            join_wrapped: true,
        };
        let Ok(history) = self.inner.mux.capture(pane, everything).await else {
            return;
        };
        let log = self.inner.home.terminal_log(id);
        if let Some(parent) = log.parent() {
            // A missing directory shows as the write's error, logged below.
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(error) = std::fs::write(&log, history) {
            tracing::warn!(terminal = %id, %error, "could not save the scrollback");
        }
    }

    async fn remove_terminal(&self, id: &str, removal: Removal) -> Result<(), OrchestratorError> {
        let row = self.row(id)?;
        let live = lock(&self.inner.live).get(id).cloned();
        // No input may start while the pane is being removed.
        let input = live.as_ref().map(|live| live.input.clone());
        let _turn = match &input {
            Some(input) => Some(input.lock().await),
            None => None,
        };
        let pane = live
            .as_ref()
            .map(|live| live.pane.clone())
            .or_else(|| row.pane_ref.clone().map(PaneRef));
        if let Some(pane) = &pane {
            self.save_scrollback(id, pane).await;
            self.inner.mux.kill_pane(pane).await?;
        }
        // Only once the pane is gone does the terminal leave the live table (a failed kill
        // leaves it usable and deletable again).
        if let Some(live) = lock(&self.inner.live).remove(id) {
            live.watch.close();
            lock(&self.inner.by_pane).remove(&live.pane);
        }
        // A terminal being restored keeps its row live while it has no pane: an inbox pass
        // meanwhile finds it (without a pane) and leaves its messages for the restored one.
        if removal == Removal::Delete {
            self.inner.store.mark_terminal_exited(id, "deleted")?;
            self.fail_messages_to(
                id,
                &format!("terminal {id} was deleted before it could be delivered"),
            );
        }
        remove_config_dir(id, &self.inner.home.terminal_config_dir(id));
        record_event(
            &self.inner.store,
            Some(id),
            "terminal.deleted",
            &serde_json::json!({}),
        );
        let _ = self.inner.events.send(OrchestratorEvent::TerminalDeleted {
            terminal_id: id.to_string(),
        });
        Ok(())
    }

    /// Re-adopts terminals whose panes are still alive (after a server restart); terminals
    /// whose panes are gone are marked exited.
    async fn adopt(&self) -> Result<(), OrchestratorError> {
        let rows = self.inner.store.list_terminals()?;
        if rows.is_empty() {
            return Ok(());
        }
        let panes = self.inner.mux.list().await?;
        let by_id: HashMap<&str, &cao_mux::PaneInfo> = panes
            .iter()
            .filter_map(|pane| {
                pane.identity
                    .get(TERMINAL_ID_KEY)
                    .map(|id| (id.as_str(), pane))
            })
            .collect();
        for row in rows {
            let Some(pane) = by_id.get(row.id.as_str()) else {
                self.inner
                    .store
                    .mark_terminal_exited(&row.id, "its pane was gone when the server started")?;
                continue;
            };
            let Ok(pack) = self.inner.packs.get(&row.provider) else {
                tracing::warn!(terminal = %row.id, provider = %row.provider, "no pack for an adopted terminal");
                continue;
            };
            if let Err(error) = self.inner.mux.watch(&pane.pane).await {
                // One pane that vanished since the listing must not stop the server.
                tracing::warn!(terminal = %row.id, %error, "could not re-adopt a terminal");
                self.inner
                    .store
                    .mark_terminal_exited(&row.id, "its pane vanished while the server started")?;
                continue;
            }
            if pane.pane.as_str() != row.pane_ref.as_deref().unwrap_or("") {
                self.inner
                    .store
                    .set_terminal_pane(&row.id, pane.pane.as_str())?;
            }
            let init_timeout = self
                .inner
                .profiles
                .find(&row.agent_profile)
                .ok()
                .and_then(|profile| profile.provider_init_timeout)
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_INIT_TIMEOUT);
            self.watch_terminal(
                &row.id,
                pane.pane.clone(),
                Arc::new(pack.clone()),
                init_timeout,
                row.status,
            );
            // Its CLI listed cao's tools before the restart and will not again.
            self.agent_listed_tools(&row.id);
            tracing::info!(terminal = %row.id, pane = %pane.pane, "re-adopted a live terminal");
        }
        Ok(())
    }

    /// Stops the status readers (the panes keep running).
    pub fn stop_watching(&self) {
        for live in lock(&self.inner.live).values() {
            live.watch.close();
        }
    }
}

fn watch_of(inner: &Inner, pane: &PaneRef) -> Option<Arc<Watch>> {
    let id = lock(&inner.by_pane).get(pane).cloned()?;
    lock(&inner.live).get(&id).map(|live| live.watch.clone())
}

/// Writes a file only its owner can read: agent configs may carry the server's token.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// A profile name made safe for a window name.
fn window_stem(profile: &str) -> String {
    let stem: String = profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if stem.is_empty() {
        "agent".into()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Baseline {
        /// [`Baseline::not_taken`] on a screen that did not scroll.
        fn not_taken_unscrolled(&self, screen: &InputView) -> bool {
            self.not_taken(screen, false)
        }
    }

    #[test]
    fn an_input_is_taken_once_the_history_shows_more_than_the_input_queued() {
        let before = Baseline {
            history: "> send it\n✦ Message sent.".into(),
            first_line: "CALL-HANDOFF: delegate this to a worker".into(),
            entered: true,
            echoes: 1,
            scrollback: Some(40),
        };
        let seen = |history: &str, echoes: usize| InputView {
            history: history.into(),
            composer: Vec::new(),
            echoes,
        };
        assert!(before.not_taken_unscrolled(&seen("> send it\n✦ Message sent.", 1)));
        // Drawn in a bordered block before the CLI opens the turn.
        assert!(before.not_taken_unscrolled(&seen(
            "> send it\n✦ Message sent.\n┃  CALL-HANDOFF: delegate this to a worker  ┃\n┃",
            1
        )));
        // A new turn began: whatever it shows, the input was taken.
        assert!(!before.not_taken_unscrolled(&seen(
            "> CALL-HANDOFF: delegate this to a worker\nCALL-HANDOFF: delegate this to a worker",
            1
        )));
        // Queued under the last turn, whole or as the first row of a wrapped line.
        assert!(before.not_taken_unscrolled(&seen(
            "> send it\n✦ Message sent.\n  CALL-HANDOFF: delegate this to a worker",
            1
        )));
        assert!(before.not_taken_unscrolled(&seen(
            "> send it\n✦ Message sent.\n  CALL-HANDOFF: delegate this",
            1
        )));
        // Taken: echoed as a new turn, or the old turn got more than the input.
        assert!(!before.not_taken_unscrolled(&seen("> CALL-HANDOFF: delegate this to a worker", 1)));
        assert!(!before.not_taken_unscrolled(&seen("> send it\n✦ Message sent.\n✦ And more.", 1)));
        assert!(!before.not_taken_unscrolled(&seen("> send it\n✦ Message sent.\n  CALL", 1)));
        assert!(!Baseline {
            entered: false,
            ..before.clone()
        }
        .not_taken_unscrolled(&seen("> send it\n✦ Message sent.", 1)));
        // Still in the composer (Qwen Code leaves a zero-width space after it), whatever
        // the history shows.
        let in_composer = InputView {
            history: "> send it\n✦ Message sent.\n  Tip: something new".into(),
            composer: vec!["────", "* CALL-HANDOFF: delegate this to a worker \u{200b}"],
            echoes: 1,
        };
        assert!(before.not_taken_unscrolled(&in_composer));
        // One more echo on screen, then the same last turn: the same input got the same reply.
        assert!(!before.not_taken_unscrolled(&seen("> send it\n✦ Message sent.", 2)));
        // On a full screen the same turn again pushes the oldest echo off the top: as many
        // echoes as before and the same last turn, but the screen scrolled.
        assert!(!before.not_taken(&seen("> send it\n✦ Message sent.", 1), true));
        // Scrolling does not take an input still in the composer.
        assert!(before.not_taken(&in_composer, true));
    }

    #[test]
    fn key_names_are_checked() {
        for key in [
            "Enter", "C-c", "y", "1", "Down", "F5", "M-x", "Escape", "C-Up",
        ] {
            assert!(key_is_valid(key), "{key}");
        }
        for key in ["", "Enter;", "rm -rf", "C-", "F13", "\u{1b}"] {
            assert!(!key_is_valid(key), "{key:?}");
        }
    }

    #[test]
    fn session_names_get_the_prefix_once_and_are_checked() {
        assert_eq!(session_name("team"), "cao-team");
        assert_eq!(session_name("cao-team"), "cao-team");
        assert!(check_session_name("cao-team_1").is_ok());
        for bad in ["cao-", "cao-a b", "cao-a;b", "cao-a.b", "cao-a:b"] {
            assert!(check_session_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn programs_resolve_in_the_given_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("agent-cli");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = OsString::from(dir.path());
        assert_eq!(find_executable("agent-cli", &path), Some(program.clone()));
        assert_eq!(find_executable("missing-cli", &path), None);
        assert_eq!(
            find_executable(program.to_str().unwrap(), &OsString::new()),
            Some(program)
        );
    }
}
