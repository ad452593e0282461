//! `cao`: the CLI Agent Orchestrator.

fn main() -> std::process::ExitCode {
    cao_cli::main_with(std::env::args_os().collect())
}
