//! The `cao` command line: every subcommand is a thin shell over the library crates. The
//! binaries `cao`, `cao-server` and `cao-mcp-server` all enter through [`main_with`].

mod agent_cli;
mod agents_cli;
mod app;
mod bench;
mod bench_status;
mod client;
mod demo;
mod mcp_proxy;
mod mock_agent;
mod mock_model;
mod provider_cli;
mod server_cli;
mod tmux_cli;

pub use app::main_with;
