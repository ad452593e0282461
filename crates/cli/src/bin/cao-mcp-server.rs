//! `cao-mcp-server`: CAO's name for `cao mcp-server`, the stdio MCP server an agent starts.

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args.insert(1, "mcp-server".into());
    cao_cli::main_with(args)
}
