//! An agent must not run without cao's tools unnoticed. When its screen shows a line of the
//! pack's `status.mcp_failure` rules (a skipped settings file, an MCP server that did not
//! start), the CLI may have started without cao's MCP server; the line alone does not say
//! whose server failed (the user's own may be configured too). So the agent gets a short
//! grace to list cao's tools; if it does not, the terminal goes into error for good, with
//! the rule's reason, like a CLI that exited.

use std::time::Duration;

use super::{Live, Orchestrator};

/// How long an agent whose screen shows an MCP failure has to list cao's tools.
const CAO_TOOLS_GRACE: Duration = Duration::from_secs(10);

impl Orchestrator {
    /// Reads the screen for a pack's MCP failure line; on one, checks (in the background)
    /// that the agent lists cao's tools in time. Returns whether a check was started: one
    /// per terminal is enough.
    pub(super) fn check_cao_tools(&self, terminal_id: &str, live: &Live, screen: &str) -> bool {
        let Some(rule) = live.pack.mcp_failure(screen) else {
            return false;
        };
        let cause = rule.reason.clone();
        let orchestrator = self.clone();
        let terminal_id = terminal_id.to_string();
        let live = live.clone();
        tokio::spawn(async move {
            let mut listed = live.tools_listed.subscribe();
            let waited = tokio::time::timeout(CAO_TOOLS_GRACE, listed.wait_for(|listed| *listed));
            if matches!(waited.await, Ok(Ok(_))) {
                tracing::debug!(terminal = %terminal_id, %cause, "an MCP failure on screen, but the agent listed cao's tools");
                return;
            }
            if live.watch.is_closed() {
                return;
            }
            let reason = failure_reason(&live.pack.display_name, &cause);
            tracing::warn!(terminal = %terminal_id, %reason, "the agent runs without cao's tools");
            orchestrator.record_death(&terminal_id, &live, reason);
        });
        true
    }
}

/// The terminal's error: one line naming the CLI, the cause and where to read more.
fn failure_reason(display_name: &str, cause: &str) -> String {
    format!("{display_name} did not load cao's MCP server: {cause}; see docs/agent-clis.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_one_line_naming_cli_and_cause() {
        assert_eq!(
            failure_reason("Gemini CLI", "it skipped a file"),
            "Gemini CLI did not load cao's MCP server: it skipped a file; see docs/agent-clis.md"
        );
    }
}
