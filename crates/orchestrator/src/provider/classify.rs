//! The screen classifier: a pure function from a captured screen to a [`TerminalStatus`].
//!
//! A screen is read as lines with trailing spaces and trailing blank lines removed. The pack's
//! rules are tried in order, each a regex over single lines, optionally limited to the last N
//! non-empty lines (the reliable markers of every CLI sit near the bottom; the same glyphs
//! also appear in the scrollback). A `ready` rule defers to the turn rule, which looks at the
//! history above the composer to tell a finished reply (completed) from a fresh prompt (idle).

use crate::status::TerminalStatus;

use super::pack::{Anchor, McpFailureRule, ProviderPack, RuleStatus, TurnRule};

/// tmux's `remain-on-exit` banner: the CLI's process is gone, whatever the pack says.
const DEAD_PANE_PREFIX: &str = "Pane is dead (";

impl ProviderPack {
    /// What the CLI on this screen is doing.
    pub fn classify(&self, screen: &str) -> TerminalStatus {
        let lines = screen_lines(screen);
        let Some(last) = lines.last() else {
            return TerminalStatus::Unknown;
        };
        if last.trim_start().starts_with(DEAD_PANE_PREFIX) {
            return TerminalStatus::Error;
        }
        for rule in &self.status.rules {
            let matched = window(&lines, rule.last_lines)
                .iter()
                .any(|line| rule.regex.is_match(line));
            if !matched {
                continue;
            }
            return match rule.status {
                RuleStatus::Idle => TerminalStatus::Idle,
                RuleStatus::Processing => TerminalStatus::Processing,
                RuleStatus::Completed => TerminalStatus::Completed,
                RuleStatus::WaitingUserAnswer => TerminalStatus::WaitingUserAnswer,
                RuleStatus::Error => TerminalStatus::Error,
                RuleStatus::Ready => match &self.status.turn {
                    Some(turn) => turn_status(turn, history(&lines, self.composer.as_ref())),
                    None => TerminalStatus::Idle,
                },
            };
        }
        self.status.default
    }
}

impl ProviderPack {
    /// The first `status.mcp_failure` rule with a line on the screen: the CLI says it skipped
    /// its settings or an MCP server, so it may be running without cao's tools.
    pub fn mcp_failure(&self, screen: &str) -> Option<&McpFailureRule> {
        let lines = screen_lines(screen);
        self.status.mcp_failure.iter().find(|rule| {
            window(&lines, rule.last_lines)
                .iter()
                .any(|line| rule.regex.is_match(line))
        })
    }
}

/// What a screen shows of the last input: the last turn's text, the composer, and how many
/// inputs the history echoes. See [`ProviderPack::input_view`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputView<'a> {
    /// The last turn in the history above the composer (from the last echoed input on; the
    /// whole history when the pack names no echo or none is on screen), as one text, without
    /// the chrome lines the extraction's `stop` names (hints drawn far to the right that come
    /// and go as the user types) and with what its `strip` removes from each line (side
    /// panels). What a new turn changes and a redraw higher up does not.
    pub history: String,
    /// The composer and what is under it (nothing when the pack has no composer anchor or
    /// it is not on the screen): where typed text waits until the CLI takes it.
    pub composer: Vec<&'a str>,
    /// How many echoed inputs the history above the composer shows (0 without an echo rule).
    pub echoes: usize,
}

impl ProviderPack {
    /// Reads the screen's [`InputView`], in one pass over its lines.
    pub fn input_view<'a>(&self, screen: &'a str) -> InputView<'a> {
        let lines = screen_lines(screen);
        let composer_at = self
            .composer
            .as_ref()
            .and_then(|anchor| anchor_index(&lines, anchor));
        let (history, composer) = match composer_at {
            Some(index) => (&lines[..index], lines[index..].to_vec()),
            None => (&lines[..], Vec::new()),
        };
        let mut echoes = 0;
        let mut last_echo = 0;
        if let Some(turn) = &self.status.turn {
            for (index, line) in history.iter().enumerate() {
                if turn.echo.is_match(line) {
                    echoes += 1;
                    last_echo = index;
                }
            }
        }
        let chrome = self.extract.stop.as_ref();
        let history = history[last_echo..]
            .iter()
            .filter(|line| !line.trim().is_empty())
            .filter(|line| !chrome.is_some_and(|stop| stop.is_match(line)))
            .map(|line| match &self.extract.strip {
                // Side panels drawn far to the right change on their own.
                Some(strip) => strip.0.replace_all(line, "").trim_end().to_string(),
                None => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        InputView {
            history,
            composer,
            echoes,
        }
    }
}

/// Idle, completed, or (with a `finished` marker) still answering, from the history above
/// the composer. With a `finished` marker, a turn is over only once that marker is under the
/// last input.
fn turn_status(turn: &TurnRule, history: &[&str]) -> TerminalStatus {
    let mut answering = false;
    for line in history.iter().rev() {
        if turn
            .finished
            .as_ref()
            .is_some_and(|finished| finished.is_match(line))
        {
            return TerminalStatus::Completed;
        }
        // A reply marker is checked first: some CLIs (opencode) print one line that both opens
        // and closes a turn, and when it carries the "finished" form it is a reply.
        if turn.reply.is_match(line) {
            if turn.finished.is_none() {
                return TerminalStatus::Completed;
            }
            answering = true;
            continue;
        }
        if turn.echo.is_match(line) {
            if turn.finished.is_some() {
                // The last input, and no end-of-turn line under it: still under way (a CLI
                // may take the input well before it shows a busy marker).
                return TerminalStatus::Processing;
            }
            break;
        }
    }
    if answering {
        // Reply text under the last input but no end-of-turn line yet: still streaming.
        TerminalStatus::Processing
    } else {
        TerminalStatus::Idle
    }
}

/// The screen's lines, trailing spaces trimmed, trailing blank lines dropped.
pub(crate) fn screen_lines(screen: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// The last `last_lines` non-empty lines (all lines when `None`).
pub(crate) fn window<'a>(lines: &[&'a str], last_lines: Option<usize>) -> Vec<&'a str> {
    match last_lines {
        None => lines.to_vec(),
        Some(count) => {
            let mut picked: Vec<&str> = lines
                .iter()
                .rev()
                .filter(|line| !line.trim().is_empty())
                .take(count)
                .copied()
                .collect();
            picked.reverse();
            picked
        }
    }
}

/// The lines above the composer; all lines when the pack has no composer anchor or the
/// anchor is not on the screen.
pub(crate) fn history<'a, 'b>(lines: &'b [&'a str], composer: Option<&Anchor>) -> &'b [&'a str] {
    match composer.and_then(|anchor| anchor_index(lines, anchor)) {
        Some(index) => &lines[..index],
        None => lines,
    }
}

/// Index of the `from_bottom`-th line matching the anchor, counted from the bottom.
fn anchor_index(lines: &[&str], anchor: &Anchor) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, line)| anchor.regex.is_match(line))
        .nth(anchor.from_bottom.saturating_sub(1))
        .map(|(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_blank_lines_and_spaces_are_ignored() {
        assert_eq!(screen_lines("a  \n b\n   \n\n"), vec!["a", " b"]);
        assert!(screen_lines("\n \n").is_empty());
    }

    #[test]
    fn window_counts_only_non_empty_lines() {
        let lines = ["one", "", "two", " ", "three"];
        assert_eq!(window(&lines, Some(2)), vec!["two", "three"]);
        assert_eq!(window(&lines, Some(9)), vec!["one", "two", "three"]);
        assert_eq!(window(&lines, None).len(), 5);
    }
}
