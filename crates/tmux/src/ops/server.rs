//! Server and client operations: start_server, kill_server, run_shell, if_shell, source_file,
//! list_clients, switch_client, detach_client, refresh_client, suspend_client.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ids::{PaneId, WindowId};

use super::render::Args;
use super::result::CLIENT_FORMAT;
use super::spec::{gate, opt, plain_spec, req, Effects, GateMode, OpSpec, Safety, Scope};
use super::spec::{V2_9, V3_0, V3_1, V3_2, V3_4};
use super::target::{Target, TargetKind};
use super::{targets, OpDef, OpKind, Operation, RenderError};

/// A row of the table with the fields client commands share.
macro_rules! client_spec {
    ($kind:ident, $command:literal, $safety:ident, $effects:expr, $chainable:expr, $gates:expr, $description:literal, $fields:expr) => {
        $crate::ops::spec::plain_spec!(
            $kind,
            $command,
            Client,
            $safety,
            $effects,
            $chainable,
            $gates,
            $description,
            $fields
        )
    };
}

/// `start-server`: starts the server without creating a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartServer {}

impl OpDef for StartServer {
    const SPEC: &'static OpSpec = plain_spec!(
        StartServer,
        "start-server",
        Server,
        Mutating,
        Effects::SET,
        true,
        &[],
        "Start the tmux server if it is not running (it exits again without sessions unless exit-empty is off)",
        &[]
    );

    fn render_into(&self, _args: &mut Args) -> Result<(), RenderError> {
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `kill-server`: ends every session and the server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillServer {}

impl OpDef for KillServer {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::KillServer,
        command: "kill-server",
        scope: Scope::Server,
        safety: Safety::Destructive,
        effects: Effects::DESTROY,
        // The connection ends with it; nothing after it in a group would run.
        chainable: false,
        min_version: V2_9,
        flag_gates: &[],
        blocking: false,
        queues_commands: false,
        captures_ids: false,
        description: "Kill the tmux server with every session, window and pane",
        fields: &[],
    };

    fn render_into(&self, _args: &mut Args) -> Result<(), RenderError> {
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `run-shell`: runs a shell command (or, with `tmux_command`, a tmux command) in the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunShell {
    /// The command.
    pub command: String,
    /// Run in the background (`-b`); otherwise the command blocks its connection until done.
    #[serde(default)]
    pub background: bool,
    /// The pane whose context expands formats in the command (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Run `command` as a tmux command, not a shell command (`-C`, tmux 3.2+).
    #[serde(default)]
    pub tmux_command: bool,
    /// Wait this long first (`-d`, tmux 3.2+), in milliseconds.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// The working directory (`-c`, tmux 3.4+).
    #[serde(default)]
    pub start_directory: Option<String>,
}

impl OpDef for RunShell {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::RunShell,
        command: "run-shell",
        scope: Scope::Server,
        safety: Safety::Mutating,
        effects: Effects::STEP,
        chainable: false,
        min_version: V2_9,
        flag_gates: &[
            gate("-C", V3_2, GateMode::Refuse),
            gate("-d", V3_2, GateMode::Refuse),
            gate("-c", V3_4, GateMode::Refuse),
        ],
        blocking: true,
        queues_commands: true,
        captures_ids: false,
        description: "Run a shell command in the server (blocks its connection unless background); with tmux_command, queue a tmux command",
        fields: &[
            req("command", "string (shell or tmux command)"),
            opt("background", "bool"),
            opt("target", "target (pane)"),
            opt("tmux_command", "bool"),
            opt("delay_ms", "integer (milliseconds)"),
            opt("start_directory", "string (path)"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.command.is_empty() {
            return Err(args.invalid("command", "cannot be empty"));
        }
        args.flag_if(self.background, "-b")?;
        args.flag_if(self.tmux_command, "-C")?;
        if let Some(delay) = self.delay_ms {
            args.value("-d", format!("{}.{:03}", delay / 1000, delay % 1000))?;
        }
        args.value_opt("-c", self.start_directory.as_deref())?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Pane)?;
        args.positional([self.command.as_str()]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// `if-shell`: runs one tmux command or another depending on a condition, a format (with
/// `format`) or a shell command's exit status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IfShell {
    /// The condition: a format that is true when non-empty and not `0` (with `format`), or a
    /// shell command that is true when it exits with 0.
    pub condition: String,
    /// Expand `condition` as a format instead of running it (`-F`); nothing blocks then.
    #[serde(default)]
    pub format: bool,
    /// Run the shell condition in the background (`-b`).
    #[serde(default)]
    pub background: bool,
    /// The pane whose context expands formats (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// The operation run when the condition is true.
    pub then: Box<Operation>,
    /// The operation run when it is false.
    #[serde(default)]
    pub otherwise: Option<Box<Operation>>,
}

impl OpDef for IfShell {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::IfShell,
        command: "if-shell",
        scope: Scope::Server,
        safety: Safety::Mutating,
        effects: Effects::STEP,
        chainable: false,
        min_version: V2_9,
        flag_gates: &[],
        blocking: true,
        queues_commands: true,
        captures_ids: false,
        description: "Run one operation or another on a condition (a format with format, else a shell command); the chosen one is queued",
        fields: &[
            req("condition", "string (format or shell command)"),
            opt("format", "bool"),
            opt("background", "bool"),
            opt("target", "target (pane)"),
            req("then", "operation"),
            opt("otherwise", "operation"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.condition.is_empty() {
            return Err(args.invalid("condition", "cannot be empty"));
        }
        let then = args.nested("then", &self.then)?;
        let otherwise = match &self.otherwise {
            Some(op) => Some(args.nested("otherwise", op)?),
            None => None,
        };
        args.flag_if(self.background, "-b")?;
        args.flag_if(self.format, "-F")?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Pane)?;
        args.positional(
            [Some(self.condition.clone()), Some(then), otherwise]
                .into_iter()
                .flatten(),
        );
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        let mut found = targets([self.target.as_mut()]);
        found.extend(self.then.targets_mut());
        if let Some(op) = self.otherwise.as_mut() {
            found.extend(op.targets_mut());
        }
        found
    }
}

/// `source-file`: runs the tmux commands in files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// The files (globs allowed).
    pub paths: Vec<PathBuf>,
    /// No error for a missing file (`-q`).
    #[serde(default)]
    pub quiet: bool,
    /// Only check the syntax, run nothing (`-n`, tmux 3.0+).
    #[serde(default)]
    pub parse_only: bool,
    /// Show the commands as they run (`-v`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub verbose: bool,
    /// Expand formats in the paths (`-F`, tmux 3.2+).
    #[serde(default)]
    pub expand_formats: bool,
}

impl OpDef for SourceFile {
    const SPEC: &'static OpSpec = &OpSpec {
        kind: OpKind::SourceFile,
        command: "source-file",
        scope: Scope::Server,
        safety: Safety::Mutating,
        effects: Effects::STEP,
        chainable: false,
        min_version: V2_9,
        flag_gates: &[
            gate("-n", V3_0, GateMode::Refuse),
            gate("-v", V3_1, GateMode::Drop),
            gate("-F", V3_2, GateMode::Refuse),
        ],
        blocking: false,
        queues_commands: true,
        captures_ids: false,
        description: "Run the tmux commands in files (queues them: extra reply blocks follow)",
        fields: &[
            req("paths", "array of strings (paths)"),
            opt("quiet", "bool"),
            opt("parse_only", "bool"),
            opt("verbose", "bool"),
            opt("expand_formats", "bool"),
        ],
    };

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        let mut paths = Vec::with_capacity(self.paths.len());
        for path in &self.paths {
            match path.to_str() {
                Some(text) if !text.is_empty() => paths.push(text),
                _ => return Err(args.invalid("paths", "each path must be non-empty UTF-8")),
            }
        }
        if paths.is_empty() {
            return Err(args.invalid("paths", "give at least one file"));
        }
        args.flag_if(self.quiet, "-q")?;
        args.flag_if(self.parse_only, "-n")?;
        args.flag_if(self.verbose, "-v")?;
        args.flag_if(self.expand_formats, "-F")?;
        args.positional(paths);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `list-clients`: attached clients as typed rows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListClients {
    /// Only clients attached to this session (`-t`).
    #[serde(default)]
    pub target: Option<Target>,
    /// Only clients for which this format is true (`-f`, tmux 3.4+).
    #[serde(default)]
    pub filter: Option<String>,
}

impl OpDef for ListClients {
    const SPEC: &'static OpSpec = client_spec!(
        ListClients,
        "list-clients",
        Readonly,
        Effects::READ,
        true,
        &[gate("-f", V3_4, GateMode::Refuse)],
        "List attached clients (payload clients: name, session, tty, width, height)",
        &[
            opt("target", "target (session)"),
            opt("filter", "string (tmux format)")
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.value("-F", CLIENT_FORMAT)?;
        args.value_opt("-f", self.filter.as_deref())?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Session)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// `switch-client`: attaches a client to another session, window or pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchClient {
    /// The client (`-c`); the current one when absent.
    #[serde(default)]
    pub client: Option<Target>,
    /// Where to switch it (`-t`).
    pub target: Target,
    /// Keep the window zoomed (`-Z`, tmux 3.1+; dropped on older servers).
    #[serde(default)]
    pub keep_zoom: bool,
}

impl OpDef for SwitchClient {
    const SPEC: &'static OpSpec = client_spec!(
        SwitchClient,
        "switch-client",
        Mutating,
        Effects::SET,
        true,
        &[gate("-Z", V3_1, GateMode::Drop)],
        "Show another session, window or pane in a client",
        &[
            opt("client", "target (client)"),
            req("target", "target (session, window or pane)"),
            opt("keep_zoom", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target_opt("-c", self.client.as_ref(), TargetKind::Client)?;
        args.flag_if(self.keep_zoom, "-Z")?;
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.client.as_mut(), Some(&mut self.target)])
    }
}

/// `detach-client`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetachClient {
    /// The client (`-t`).
    #[serde(default)]
    pub client: Option<Target>,
    /// Detach every client attached to this session instead (`-s`).
    #[serde(default)]
    pub session: Option<Target>,
    /// Detach every other client (`-a`).
    #[serde(default)]
    pub all_others: bool,
}

impl OpDef for DetachClient {
    const SPEC: &'static OpSpec = client_spec!(
        DetachClient,
        "detach-client",
        Mutating,
        Effects::SET,
        // Detaching the connection's own client ends the connection.
        false,
        &[],
        "Detach a client, every client of a session, or every other client",
        &[
            opt("client", "target (client)"),
            opt("session", "target (session)"),
            opt("all_others", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.client.is_some() && self.session.is_some() {
            return Err(args.invalid("session", "give a client or a session, not both"));
        }
        args.flag_if(self.all_others, "-a")?;
        args.target_opt("-s", self.session.as_ref(), TargetKind::Session)?;
        args.target_opt("-t", self.client.as_ref(), TargetKind::Client)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.client.as_mut(), self.session.as_mut()])
    }
}

/// `suspend-client`: suspends a client (SIGTSTP).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendClient {
    /// The client (`-t`).
    #[serde(default)]
    pub client: Option<Target>,
}

impl OpDef for SuspendClient {
    const SPEC: &'static OpSpec = client_spec!(
        SuspendClient,
        "suspend-client",
        Mutating,
        Effects::SET,
        false,
        &[],
        "Suspend a client by sending it SIGTSTP",
        &[opt("client", "target (client)")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.target_opt("-t", self.client.as_ref(), TargetKind::Client)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.client.as_mut()])
    }
}

/// What a control client wants from one pane's output (`refresh-client -A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaneFlow {
    /// Send its output.
    On,
    /// Stop sending its output.
    Off,
    /// Resume after `%pause`.
    Continue,
    /// Pause it, as if it fell behind.
    Pause,
}

/// One `-A pane:state` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaneFlowSetting {
    pub pane: PaneId,
    pub flow: PaneFlow,
}

/// What a subscription watches (`refresh-client -B name:what:format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionScope {
    /// The attached session.
    Session,
    /// Every pane (`%*`).
    AllPanes,
    /// One pane.
    Pane(PaneId),
    /// Every window (`@*`).
    AllWindows,
    /// One window.
    Window(WindowId),
}

/// A control-mode format subscription, reported as `%subscription-changed` on change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Its name (no `:`).
    pub name: String,
    /// What it watches.
    pub scope: SubscriptionScope,
    /// The format to expand; `None` removes the subscription.
    #[serde(default)]
    pub format: Option<String>,
}

/// `refresh-client`: redraws a client or, for control clients, sets size, flags, pane flow
/// and subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshClient {
    /// The client (`-t`).
    #[serde(default)]
    pub client: Option<Target>,
    /// A control client's size in cells (`-C WxH`).
    #[serde(default)]
    pub size: Option<(u32, u32)>,
    /// Client flags such as `pause-after=2` or `no-output` (`-f`, tmux 3.2+).
    #[serde(default)]
    pub flags: Vec<String>,
    /// Per-pane output flow (`-A`, tmux 3.2+).
    #[serde(default)]
    pub pane_flow: Vec<PaneFlowSetting>,
    /// Format subscriptions (`-B`, tmux 3.2+).
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
}

impl OpDef for RefreshClient {
    const SPEC: &'static OpSpec = client_spec!(
        RefreshClient,
        "refresh-client",
        Mutating,
        Effects::SET,
        true,
        &[
            gate("-f", V3_2, GateMode::Refuse),
            gate("-A", V3_2, GateMode::Refuse),
            gate("-B", V3_2, GateMode::Refuse),
        ],
        "Redraw a client; for control clients set size, flags, pane flow and subscriptions",
        &[
            opt("client", "target (client)"),
            opt("size", "[width, height]"),
            opt("flags", "array of strings (client flags)"),
            opt(
                "pane_flow",
                "array of {pane, flow: \"on\"|\"off\"|\"continue\"|\"pause\"}"
            ),
            opt("subscriptions", "array of {name, scope, format?}"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if let Some((width, height)) = self.size {
            args.value("-C", format!("{width}x{height}"))?;
        }
        if !self.flags.is_empty() {
            if self.flags.iter().any(|f| f.is_empty() || f.contains(',')) {
                return Err(args.invalid("flags", "a flag cannot be empty or contain ','"));
            }
            args.value("-f", self.flags.join(","))?;
        }
        for setting in &self.pane_flow {
            let flow = match setting.flow {
                PaneFlow::On => "on",
                PaneFlow::Off => "off",
                PaneFlow::Continue => "continue",
                PaneFlow::Pause => "pause",
            };
            args.value("-A", format!("{}:{flow}", setting.pane))?;
        }
        for subscription in &self.subscriptions {
            if subscription.name.is_empty() || subscription.name.contains(':') {
                return Err(args.invalid("subscriptions", "a name must be non-empty with no ':'"));
            }
            let what = match subscription.scope {
                SubscriptionScope::Session => String::new(),
                SubscriptionScope::AllPanes => "%*".to_string(),
                SubscriptionScope::Pane(pane) => pane.to_string(),
                SubscriptionScope::AllWindows => "@*".to_string(),
                SubscriptionScope::Window(window) => window.to_string(),
            };
            let value = match &subscription.format {
                Some(format) => format!("{}:{what}:{format}", subscription.name),
                None => subscription.name.clone(),
            };
            args.value("-B", value)?;
        }
        args.target_opt("-t", self.client.as_ref(), TargetKind::Client)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.client.as_mut()])
    }
}
