//! The engine-neutral shape of one tmux command and of what it printed.

use serde::{Deserialize, Serialize};

/// One tmux command as argv (the command name first, no socket flags), plus bytes for its
/// standard input.
///
/// When `stdin` is set, the last argv word is `-`, tmux's name for "standard input" (as in
/// `load-buffer -b name -`). An engine that cannot pipe standard input (the control engine: its
/// stdin is the protocol) writes the bytes to a private file and replaces that word with the
/// file's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmuxCommand {
    pub argv: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Vec<u8>>,
}

impl TmuxCommand {
    /// A command from its words.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    /// The same command fed `data` on standard input.
    pub fn with_stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// The tmux command name, e.g. `new-session`.
    pub fn name(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }
}

/// What one command printed: its output lines, its error lines and whether it succeeded.
///
/// Over a fork this is stdout, stderr and the exit code; over control mode it is the body of the
/// reply block, with `%error` blocks giving their body as `stderr` and exit code 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    pub exit_code: i32,
}

impl CommandOutput {
    /// A successful reply with these lines.
    pub fn ok(stdout: Vec<String>) -> Self {
        Self {
            stdout,
            stderr: Vec::new(),
            exit_code: 0,
        }
    }

    /// A failed reply with this message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            stdout: Vec::new(),
            stderr: vec![message.into()],
            exit_code: 1,
        }
    }

    /// True when the command exited 0 and wrote nothing to stderr.
    pub fn succeeded(&self) -> bool {
        self.exit_code == 0 && self.stderr.iter().all(|line| line.is_empty())
    }

    /// The error text, lines joined, for messages.
    pub fn error_text(&self) -> String {
        self.stderr.join("\n")
    }
}

/// Every tmux command (3.3a and later) with its alias, as tmux's command table has them.
const TMUX_COMMANDS: &[(&str, Option<&str>)] = &[
    ("attach-session", Some("attach")),
    ("bind-key", Some("bind")),
    ("break-pane", Some("breakp")),
    ("capture-pane", Some("capturep")),
    ("choose-buffer", None),
    ("choose-client", None),
    ("choose-tree", None),
    ("clear-history", Some("clearhist")),
    ("clear-prompt-history", Some("clearphist")),
    ("clock-mode", None),
    ("command-prompt", None),
    ("confirm-before", Some("confirm")),
    ("copy-mode", None),
    ("customize-mode", None),
    ("delete-buffer", Some("deleteb")),
    ("detach-client", Some("detach")),
    ("display-menu", Some("menu")),
    ("display-message", Some("display")),
    ("display-popup", Some("popup")),
    ("display-panes", Some("displayp")),
    ("find-window", Some("findw")),
    ("has-session", Some("has")),
    ("if-shell", Some("if")),
    ("join-pane", Some("joinp")),
    ("kill-pane", Some("killp")),
    ("kill-server", None),
    ("kill-session", None),
    ("kill-window", Some("killw")),
    ("last-pane", Some("lastp")),
    ("last-window", Some("last")),
    ("link-window", Some("linkw")),
    ("list-buffers", Some("lsb")),
    ("list-clients", Some("lsc")),
    ("list-commands", Some("lscm")),
    ("list-keys", Some("lsk")),
    ("list-panes", Some("lsp")),
    ("list-sessions", Some("ls")),
    ("list-windows", Some("lsw")),
    ("load-buffer", Some("loadb")),
    ("lock-client", Some("lockc")),
    ("lock-server", Some("lock")),
    ("lock-session", Some("locks")),
    ("move-pane", Some("movep")),
    ("move-window", Some("movew")),
    ("new-pane", Some("newp")),
    ("new-session", Some("new")),
    ("new-window", Some("neww")),
    ("next-layout", Some("nextl")),
    ("next-window", Some("next")),
    ("paste-buffer", Some("pasteb")),
    ("pipe-pane", Some("pipep")),
    ("previous-layout", Some("prevl")),
    ("previous-window", Some("prev")),
    ("refresh-client", Some("refresh")),
    ("rename-session", Some("rename")),
    ("rename-window", Some("renamew")),
    ("resize-pane", Some("resizep")),
    ("resize-window", Some("resizew")),
    ("respawn-pane", Some("respawnp")),
    ("respawn-window", Some("respawnw")),
    ("rotate-window", Some("rotatew")),
    ("run-shell", Some("run")),
    ("save-buffer", Some("saveb")),
    ("select-layout", Some("selectl")),
    ("select-pane", Some("selectp")),
    ("select-window", Some("selectw")),
    ("send-keys", Some("send")),
    ("send-prefix", None),
    ("server-access", None),
    ("set-buffer", Some("setb")),
    ("set-environment", Some("setenv")),
    ("set-hook", None),
    ("set-option", Some("set")),
    ("set-window-option", Some("setw")),
    ("show-buffer", Some("showb")),
    ("show-environment", Some("showenv")),
    ("show-hooks", None),
    ("show-messages", Some("showmsgs")),
    ("show-options", Some("show")),
    ("show-prompt-history", Some("showphist")),
    ("show-window-options", Some("showw")),
    ("source-file", Some("source")),
    ("split-window", Some("splitw")),
    ("start-server", Some("start")),
    ("suspend-client", Some("suspendc")),
    ("swap-pane", Some("swapp")),
    ("swap-window", Some("swapw")),
    ("switch-client", Some("switchc")),
    ("unbind-key", Some("unbind")),
    ("unlink-window", Some("unlinkw")),
    ("wait-for", Some("wait")),
];

/// The full tmux command a name means, resolved as tmux does: an exact alias, else an exact
/// name, else the one command the name is a prefix of (`if-sh` is `if-shell`). `None` for an
/// unknown or ambiguous name (tmux answers those with an error).
pub fn canonical_command(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return None;
    }
    if let Some((full, _)) = TMUX_COMMANDS.iter().find(|(_, alias)| *alias == Some(name)) {
        return Some(full);
    }
    let mut found = None;
    for (full, _) in TMUX_COMMANDS {
        if *full == name {
            return Some(full);
        }
        if full.starts_with(name) {
            if found.is_some() {
                return None;
            }
            found = Some(*full);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_tmux() {
        assert_eq!(canonical_command("if"), Some("if-shell"));
        assert_eq!(canonical_command("if-sh"), Some("if-shell"));
        assert_eq!(canonical_command("run-s"), Some("run-shell"));
        assert_eq!(canonical_command("wait-f"), Some("wait-for"));
        assert_eq!(canonical_command("kill-ser"), Some("kill-server"));
        assert_eq!(canonical_command("send"), Some("send-keys"));
        assert_eq!(canonical_command("new"), Some("new-session"));
        assert_eq!(canonical_command("kill-s"), None, "ambiguous");
        assert_eq!(canonical_command("bogus"), None);
        assert_eq!(canonical_command(""), None);
    }
}
