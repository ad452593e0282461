//! The options the sim knows by name (a subset of tmux's table), their scope and default.
//!
//! User options (`@name`) are always valid; any other name outside this table is rejected with
//! tmux's `invalid option: NAME`.

/// Where an option lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Server,
    Session,
    /// Window options may also be set on a pane (`-p`), as in tmux ≥ 3.0.
    Window,
    Pane,
}

/// (name, scope, global default)
const KNOWN: &[(&str, Scope, &str)] = &[
    ("buffer-limit", Scope::Server, "50"),
    ("default-terminal", Scope::Server, "screen"),
    ("escape-time", Scope::Server, "500"),
    ("exit-empty", Scope::Server, "on"),
    ("exit-unattached", Scope::Server, "off"),
    ("extended-keys", Scope::Server, "off"),
    ("focus-events", Scope::Server, "off"),
    ("history-file", Scope::Server, ""),
    ("set-clipboard", Scope::Server, "external"),
    ("base-index", Scope::Session, "0"),
    ("default-command", Scope::Session, ""),
    ("default-shell", Scope::Session, "/bin/sh"),
    ("default-size", Scope::Session, "80x24"),
    ("destroy-unattached", Scope::Session, "off"),
    ("detach-on-destroy", Scope::Session, "on"),
    ("history-limit", Scope::Session, "2000"),
    ("mouse", Scope::Session, "off"),
    ("prefix", Scope::Session, "C-b"),
    ("renumber-windows", Scope::Session, "off"),
    ("set-titles", Scope::Session, "off"),
    ("status", Scope::Session, "on"),
    ("status-interval", Scope::Session, "15"),
    ("status-left", Scope::Session, "[#{session_name}] "),
    ("status-right", Scope::Session, ""),
    ("update-environment", Scope::Session, ""),
    ("aggressive-resize", Scope::Window, "off"),
    ("allow-rename", Scope::Window, "off"),
    ("automatic-rename", Scope::Window, "on"),
    ("main-pane-height", Scope::Window, "24"),
    ("main-pane-width", Scope::Window, "80"),
    ("mode-keys", Scope::Window, "emacs"),
    ("monitor-activity", Scope::Window, "off"),
    ("pane-base-index", Scope::Window, "0"),
    ("remain-on-exit", Scope::Window, "off"),
    ("synchronize-panes", Scope::Window, "off"),
    ("window-size", Scope::Window, "latest"),
    ("allow-passthrough", Scope::Pane, "off"),
];

/// The scope of a known option, or `None` for names tmux would reject. User options have no
/// fixed scope (the command's flags decide), reported here as `Session`.
pub(super) fn scope_of(name: &str) -> Option<Scope> {
    if name.starts_with('@') {
        return Some(Scope::Session);
    }
    KNOWN
        .iter()
        .find(|(known, _, _)| *known == name)
        .map(|(_, scope, _)| *scope)
}

/// The global default of a known option.
pub(super) fn default_value(name: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(known, _, _)| *known == name)
        .map(|(_, _, value)| *value)
}

/// Known options of one scope with their defaults, for `show-options -g`.
pub(super) fn defaults_of(scope: Scope) -> impl Iterator<Item = (&'static str, &'static str)> {
    KNOWN
        .iter()
        .filter(move |(_, known_scope, _)| *known_scope == scope)
        .map(|(name, _, value)| (*name, *value))
}
