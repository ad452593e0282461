//! `cao mock-agent`: arguments for the scripted agent-like terminal program in
//! `cao-mock-agent`, and its exit status.

use std::path::PathBuf;

/// Arguments of `cao mock-agent`.
#[derive(Debug, clap::Args)]
pub struct MockAgentArgs {
    /// TOML script of reply rules (see the `cao_mock_agent::script` docs); echo without one.
    #[arg(long, value_name = "FILE", env = "CAO_MOCK_AGENT_SCRIPT")]
    script: Option<PathBuf>,
    /// Append one JSON line per submitted input: {"at_ms", "input", "terminal_id"}.
    #[arg(long, value_name = "FILE", env = "CAO_MOCK_AGENT_LOG")]
    log: Option<PathBuf>,
}

/// Runs the mock agent and exits with its status: 0 after `/exit`, 130 after Ctrl-C, a
/// script's `exit_code` after a fatal rule, 2 for a bad script or log file.
pub fn run(args: MockAgentArgs) -> ! {
    let options = cao_mock_agent::Options {
        script: args.script,
        log: args.log,
        terminal_id: std::env::var("CAO_TERMINAL_ID").ok(),
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
