//! `cao mock-agent`: arguments for the scripted agent-like terminal program in
//! `cao-mock-agent`, and its exit status.

use std::path::PathBuf;

/// Arguments of `cao mock-agent`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct MockAgentArgs {
    /// TOML script of reply rules and MCP tool calls (see the `cao_mock_agent::script` docs);
    /// the profile's built-in script without one.
    #[arg(long, value_name = "FILE", env = "CAO_MOCK_AGENT_SCRIPT")]
    script: Option<PathBuf>,
    /// Append one JSON line per submitted input, {"at_ms", "input", "terminal_id"}, and per
    /// tool call, {"at_ms", "tool", "args", "result", "is_error", "terminal_id"}.
    #[arg(long, value_name = "FILE", env = "CAO_MOCK_AGENT_LOG")]
    log: Option<PathBuf>,
    /// MCP servers to connect to at start-up, in Claude Code's format:
    /// {"mcpServers": {"NAME": {"command", "args", "env"} | {"type": "http", "url", "headers"}}}.
    #[arg(long, value_name = "FILE", env = "CAO_MOCK_AGENT_MCP_CONFIG")]
    mcp_config: Option<PathBuf>,
    /// Agent profile; without --script it picks a built-in script: `code_supervisor`
    /// delegates through handoff and assign, any other profile answers assigned tasks with
    /// send_message and echoes the rest.
    #[arg(long, value_name = "NAME", env = "CAO_MOCK_AGENT_PROFILE")]
    profile: Option<String>,
}

const AFTER_HELP: &str = "\
Script rules can call MCP tools before replying:

  [[rules]]
  match = \"build\"
  reply = \"developer: {result.0.output}\\nreviewer: {result.1.terminal_id}\"
  [[rules.calls]]
  tool = \"handoff\"          # or \"server.tool\"; else the first server that has it
  args = { agent_profile = \"developer\", message = \"Implement: {input}\" }
  [[rules.calls]]
  tool = \"assign\"
  args = { agent_profile = \"reviewer\", message = \"Review this change: {result.0.output}\" }

Placeholders (in reply and in string args): {input}, {first_line}, {rest}, {result.N} (the text
of call N's result, counted from 0; the reason when it failed) and {result.N.field} (a field of
that text read as a JSON object). A rule's own keys come before its first [[rules.calls]].
A failed call shows `● tool NAME failed: REASON` and the turn goes on.";

/// Runs the mock agent and exits with its status: 0 after `/exit`, 130 after Ctrl-C, a
/// script's `exit_code` after a fatal rule, 2 for a bad script, MCP config or log file.
pub fn run(args: MockAgentArgs) -> ! {
    let options = cao_mock_agent::Options {
        script: args.script,
        log: args.log,
        terminal_id: std::env::var("CAO_TERMINAL_ID").ok(),
        mcp_config: args.mcp_config,
        profile: args.profile,
    };
    // The library has restored the terminal by the time it returns.
    match cao_mock_agent::run(&options) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(error.exit_code())
        }
    }
}
