//! Option, hook and environment operations: set_option, set_window_option, show_options,
//! set_hook, set_environment.

use serde::{Deserialize, Serialize};

use super::render::Args;
use super::spec::{gate, opt, plain_spec, req, Effects, GateMode, OpSpec};
use super::spec::{V3_0, V3_1, V3_2};
use super::target::{Target, TargetKind};
use super::types::{HookScope, OptionScope};
use super::{targets, OpDef, RenderError};

const OPTION_SCOPE_TYPE: &str = "\"server\" | \"global_session\" | {\"session\": target} | \"global_window\" | {\"window\": target} | {\"pane\": target}";

/// Writes the flags that pick an option scope (`-p` needs tmux 3.1+).
fn option_scope(args: &mut Args, scope: &OptionScope) -> Result<(), RenderError> {
    match scope {
        OptionScope::Server => args.flag("-s"),
        OptionScope::GlobalSession => args.flag("-g"),
        OptionScope::Session(target) => args.target("-t", target, TargetKind::Session),
        OptionScope::GlobalWindow => {
            args.flag("-w")?;
            args.flag("-g")
        }
        OptionScope::Window(target) => {
            args.flag("-w")?;
            args.target("-t", target, TargetKind::Window)
        }
        OptionScope::Pane(target) => {
            args.flag("-p")?;
            args.target("-t", target, TargetKind::Pane)
        }
    }
}

fn option_name(args: &Args, name: &str) -> Result<(), RenderError> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(args.invalid("name", format!("{name:?} is not an option name")));
    }
    Ok(())
}

/// `set-option`: sets or unsets an option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetOption {
    /// Which options.
    pub scope: OptionScope,
    /// The option, e.g. `status` or `@my-option`.
    pub name: String,
    /// The value; `None` unsets the option (`-u`), restoring the inherited value.
    #[serde(default)]
    pub value: Option<String>,
    /// Append to a string option (`-a`).
    #[serde(default)]
    pub append: bool,
    /// Only set it if it is not already set (`-o`).
    #[serde(default)]
    pub only_if_unset: bool,
    /// Expand formats in the value first (`-F`).
    #[serde(default)]
    pub expand_formats: bool,
}

impl OpDef for SetOption {
    const SPEC: &'static OpSpec = plain_spec!(
        SetOption,
        "set-option",
        Session,
        Mutating,
        Effects::SET,
        true,
        &[gate("-p", V3_1, GateMode::Refuse)],
        "Set or unset a server, session, window or pane option",
        &[
            req("scope", OPTION_SCOPE_TYPE),
            req("name", "string (option name)"),
            opt("value", "string (absent: unset)"),
            opt("append", "bool"),
            opt("only_if_unset", "bool"),
            opt("expand_formats", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        option_name(args, &self.name)?;
        option_scope(args, &self.scope)?;
        args.flag_if(self.value.is_none(), "-u")?;
        args.flag_if(self.append, "-a")?;
        args.flag_if(self.only_if_unset, "-o")?;
        args.flag_if(self.expand_formats, "-F")?;
        args.positional(
            [Some(self.name.as_str()), self.value.as_deref()]
                .into_iter()
                .flatten(),
        );
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.scope.target_mut()])
    }
}

/// `set-window-option`: the older spelling of `set-option -w`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetWindowOption {
    /// The window (`-t`); with `global`, none.
    #[serde(default)]
    pub target: Option<Target>,
    /// Set the global window option (`-g`).
    #[serde(default)]
    pub global: bool,
    /// The option.
    pub name: String,
    /// The value; `None` unsets it (`-u`).
    #[serde(default)]
    pub value: Option<String>,
    /// Append to a string option (`-a`).
    #[serde(default)]
    pub append: bool,
}

impl OpDef for SetWindowOption {
    const SPEC: &'static OpSpec = plain_spec!(
        SetWindowOption,
        "set-window-option",
        Window,
        Mutating,
        Effects::SET,
        true,
        &[],
        "Set or unset a window option (set_option with a window scope is preferred)",
        &[
            opt("target", "target (window)"),
            opt("global", "bool"),
            req("name", "string (option name)"),
            opt("value", "string (absent: unset)"),
            opt("append", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        option_name(args, &self.name)?;
        if self.global == self.target.is_some() {
            return Err(args.invalid("target", "give either a target or global"));
        }
        args.flag_if(self.global, "-g")?;
        args.target_opt("-t", self.target.as_ref(), TargetKind::Window)?;
        args.flag_if(self.value.is_none(), "-u")?;
        args.flag_if(self.append, "-a")?;
        args.positional(
            [Some(self.name.as_str()), self.value.as_deref()]
                .into_iter()
                .flatten(),
        );
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}

/// `show-options`: option values as `(name, value)` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowOptions {
    /// Which options.
    pub scope: OptionScope,
    /// One option only.
    #[serde(default)]
    pub name: Option<String>,
    /// Include inherited values, marked with `*` (`-A`, tmux 3.1+).
    #[serde(default)]
    pub include_inherited: bool,
    /// No error for an unknown option (`-q`).
    #[serde(default)]
    pub quiet: bool,
}

impl OpDef for ShowOptions {
    const SPEC: &'static OpSpec = plain_spec!(
        ShowOptions,
        "show-options",
        Session,
        Readonly,
        Effects::READ,
        true,
        &[
            gate("-p", V3_1, GateMode::Refuse),
            gate("-A", V3_1, GateMode::Refuse),
        ],
        "Show option values (payload options: [name, value] pairs)",
        &[
            req("scope", OPTION_SCOPE_TYPE),
            opt("name", "string (option name)"),
            opt("include_inherited", "bool"),
            opt("quiet", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        option_scope(args, &self.scope)?;
        args.flag_if(self.include_inherited, "-A")?;
        args.flag_if(self.quiet, "-q")?;
        if let Some(name) = &self.name {
            option_name(args, name)?;
            args.positional([name.as_str()]);
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.scope.target_mut()])
    }
}

/// `set-hook`: runs a tmux command when an event happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetHook {
    /// Whose hooks.
    pub scope: HookScope,
    /// The hook, e.g. `pane-exited` or `after-new-window[1]`.
    pub hook: String,
    /// The tmux command to run; `None` unsets the hook (`-u`).
    #[serde(default)]
    pub command: Option<String>,
    /// Add to the hook's commands instead of replacing them (`-a`, tmux 3.0+).
    #[serde(default)]
    pub append: bool,
}

impl OpDef for SetHook {
    const SPEC: &'static OpSpec = plain_spec!(
        SetHook,
        "set-hook",
        Session,
        Mutating,
        Effects::SET,
        true,
        &[
            gate("-a", V3_0, GateMode::Refuse),
            gate("-w", V3_2, GateMode::Refuse),
            gate("-p", V3_2, GateMode::Refuse),
        ],
        "Set or unset a hook (a tmux command run on an event)",
        &[
            req(
                "scope",
                "\"global\" | {\"session\": target} | {\"window\": target} | {\"pane\": target}",
            ),
            req("hook", "string (hook name)"),
            opt("command", "string (tmux command; absent: unset)"),
            opt("append", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        option_name(args, &self.hook).map_err(|_| args.invalid("hook", "not a hook name"))?;
        match &self.scope {
            HookScope::Global => args.flag("-g")?,
            HookScope::Session(target) => args.target("-t", target, TargetKind::Session)?,
            HookScope::Window(target) => {
                args.flag("-w")?;
                args.target("-t", target, TargetKind::Window)?;
            }
            HookScope::Pane(target) => {
                args.flag("-p")?;
                args.target("-t", target, TargetKind::Pane)?;
            }
        }
        args.flag_if(self.command.is_none(), "-u")?;
        args.flag_if(self.append, "-a")?;
        args.positional(
            [Some(self.hook.as_str()), self.command.as_deref()]
                .into_iter()
                .flatten(),
        );
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.scope.target_mut()])
    }
}

/// What `set-environment` does to a variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EnvChange {
    /// Set it to this value.
    Set(String),
    /// Forget the setting here, so the global value applies (`-u`).
    Unset,
    /// Remove it from the environment of new processes (`-r`).
    Remove,
}

/// `set-environment`: changes the environment new panes start with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetEnvironment {
    /// The session (`-t`); the global environment (`-g`) when absent.
    #[serde(default)]
    pub target: Option<Target>,
    /// The variable name.
    pub name: String,
    /// The change.
    pub change: EnvChange,
    /// Hide it from processes, for formats only (`-h`, tmux 3.2+).
    #[serde(default)]
    pub hidden: bool,
}

impl OpDef for SetEnvironment {
    const SPEC: &'static OpSpec = plain_spec!(
        SetEnvironment,
        "set-environment",
        Session,
        Mutating,
        Effects::SET,
        true,
        &[gate("-h", V3_2, GateMode::Refuse)],
        "Set, unset or remove a variable of a session's or the global environment",
        &[
            opt("target", "target (session; absent: global)"),
            req("name", "string (variable name)"),
            req("change", "{\"set\": value} | \"unset\" | \"remove\""),
            opt("hidden", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        if self.name.is_empty() || self.name.contains('=') {
            return Err(args.invalid(
                "name",
                "a variable name must be non-empty and contain no '='",
            ));
        }
        match &self.target {
            Some(target) => args.target("-t", target, TargetKind::Session)?,
            None => args.flag("-g")?,
        }
        args.flag_if(self.hidden, "-h")?;
        match &self.change {
            EnvChange::Set(value) => {
                args.positional([self.name.as_str(), value.as_str()]);
            }
            EnvChange::Unset => {
                args.flag("-u")?;
                args.positional([self.name.as_str()]);
            }
            EnvChange::Remove => {
                args.flag("-r")?;
                args.positional([self.name.as_str()]);
            }
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([self.target.as_mut()])
    }
}
