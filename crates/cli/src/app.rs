use crate::agent_cli;
use crate::agents_cli;
use crate::bench;
use crate::bench_status;
use crate::client;
use crate::demo;
use crate::mcp_proxy;
use crate::mock_agent;
use crate::mock_model;
use crate::provider_cli;
use crate::server_cli;
use crate::tmux_cli;

use std::process::ExitCode;

use anyhow::Result;
use cao_tmux::Socket;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cao",
    version,
    about = "CLI Agent Orchestrator: coding-agent CLIs side by side in tmux"
)]
struct Cli {
    /// The tmux server cao uses: a socket name (-L) or a path containing `/` (-S).
    #[arg(long, global = true, env = "CAO_TMUX_SOCKET", default_value = "cao")]
    tmux_socket: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The typed tmux layer on its own.
    Tmux {
        #[command(subcommand)]
        command: TmuxCommand,
    },
    /// Benchmarks that measure cao against its anchors in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The provider packs: how cao launches and reads each agent CLI.
    Provider {
        #[command(subcommand)]
        command: provider_cli::ProviderCommand,
    },
    /// A scripted agent-like terminal program for tests and the offline demo.
    MockAgent(mock_agent::MockAgentArgs),
    /// A scripted model API server on 127.0.0.1 for running real agent CLIs offline.
    MockModel {
        #[command(subcommand)]
        command: mock_model::MockModelCommand,
    },
    /// The orchestrator and its HTTP API (also installed as `cao-server`).
    Server(server_cli::ServerArgs),
    /// The MCP server an agent starts (stdio; also installed as `cao-mcp-server`): a thin
    /// proxy to cao server's /mcp/agents/$CAO_TERMINAL_ID.
    McpServer,
    /// The operations MCP server for agents outside cao (stdio): a thin proxy to cao server's
    /// /mcp/ops; starts cao server when none answers.
    OpsMcpServer,
    /// Starts a session with an agent profile as its conductor (starts the server if needed).
    Launch(agents_cli::LaunchArgs),
    /// Sessions: list, status, send.
    Session {
        #[command(subcommand)]
        command: agents_cli::SessionCommand,
    },
    /// One terminal: get, output, send, key, exit, delete.
    Terminal {
        #[command(subcommand)]
        command: agents_cli::TerminalCommand,
    },
    /// Teams: handoff, assign, send-message, status, result, cancel (the MCP tools as commands).
    Agent {
        #[command(subcommand)]
        command: agent_cli::AgentCommand,
    },
    /// Deletes sessions and ends their agents.
    Shutdown(agents_cli::ShutdownArgs),
    /// Where this shell is: cao session, terminal, server and data directory.
    Info,
    /// Installs an agent profile (a built-in name or a file) into the local store.
    Install(agents_cli::InstallArgs),
    /// Agent profiles: list, show, validate, remove.
    Profile {
        #[command(subcommand)]
        command: agents_cli::ProfileCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TmuxCommand {
    /// Builds a small workspace on a private tmux server, drives it through the control
    /// engine, prints what it saw and removes it.
    Demo,
    /// Every typed operation with its metadata (scope, safety, effects, version gates).
    Catalog {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The server's sessions, windows and panes from one read.
    Snapshot {
        /// Print JSON instead of a tree.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value_t = EngineChoice::Control)]
        engine: EngineChoice,
    },
    /// Runs one typed operation given as JSON (`{"kind":"list_sessions"}`) and prints its
    /// result as JSON.
    Op {
        /// The operation, as JSON.
        operation: String,
        /// Print the argv it renders to (for the running server, or the newest tmux when none
        /// runs) instead of running it.
        #[arg(long)]
        preview: bool,
        #[arg(long, value_enum, default_value_t = EngineChoice::Control)]
        engine: EngineChoice,
    },
}

/// Which engine talks to tmux.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EngineChoice {
    /// One persistent control-mode connection.
    Control,
    /// One `tmux` process per command.
    Subprocess,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Screen change -> status event latency and the tmux commands idle terminals cost, with
    /// real mock agents on a private tmux server.
    Status {
        /// Idle mock-agent terminals to start.
        #[arg(long, default_value_t = 50)]
        terminals: usize,
        /// Turns timed on one terminal.
        #[arg(long, default_value_t = 30)]
        turns: usize,
        /// Seconds the idle terminals are watched.
        #[arg(long, default_value_t = 5)]
        idle_seconds: u64,
        #[arg(long)]
        json: bool,
    },
    /// Raw `tmux -C` ceiling vs the control engine, the subprocess engine and a bare fork.
    Tmux {
        /// Commands per pipelined round.
        #[arg(long, default_value_t = 5000)]
        ops: usize,
        /// Pipelined rounds; the median round is reported.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// One JSON object per scenario per line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `cao` with these arguments (the first is the program name).
pub fn main_with(args: Vec<std::ffi::OsString>) -> ExitCode {
    let cli = Cli::parse_from(args);
    // The mock agent owns its terminal: a log line on stderr would draw over its screen (and
    // mislead the status reader), so it logs nothing.
    if !matches!(cli.command, Command::MockAgent(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("CAO_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            match error.downcast_ref::<client::Exit>() {
                Some(exit) => ExitCode::from(exit.code),
                None => ExitCode::FAILURE,
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.tmux_socket.trim().is_empty() {
        anyhow::bail!(
            "the tmux socket is empty (--tmux-socket or CAO_TMUX_SOCKET); give a name like `cao` or a socket path"
        );
    }
    let socket = Socket::parse(cli.tmux_socket.trim());
    match cli.command {
        Command::Provider { command } => provider_cli::run(command),
        Command::Tmux { command } => match command {
            TmuxCommand::Demo => runtime()?.block_on(demo::run(&socket)),
            TmuxCommand::Catalog { json } => {
                tmux_cli::print_catalog(json)?;
                Ok(())
            }
            TmuxCommand::Snapshot { json, engine } => runtime()?.block_on(async {
                let engine = tmux_cli::engine(engine, &socket);
                tmux_cli::print_snapshot(engine.as_ref(), json).await
            }),
            TmuxCommand::Op {
                operation,
                preview,
                engine,
            } => runtime()?.block_on(async {
                let engine = tmux_cli::engine(engine, &socket);
                tmux_cli::run_operation(engine.as_ref(), &operation, preview).await
            }),
        },
        Command::Bench { command } => match command {
            BenchCommand::Status {
                terminals,
                turns,
                idle_seconds,
                json,
            } => {
                let result = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?
                    .block_on(bench_status::run(terminals, turns, idle_seconds))?;
                if json {
                    println!("{}", serde_json::to_string(&result)?);
                } else {
                    bench_status::print(&result);
                }
                Ok(())
            }
            BenchCommand::Tmux { ops, rounds, json } => {
                let measurements =
                    runtime()?.block_on(bench::run(&bench::BenchSettings { ops, rounds }))?;
                if json {
                    for measurement in &measurements {
                        println!("{}", serde_json::to_string(measurement)?);
                    }
                } else {
                    bench::print_table(&measurements);
                }
                Ok(())
            }
        },
        Command::MockAgent(args) => mock_agent::run(args),
        Command::MockModel { command } => mock_model::run(command),
        Command::Server(args) => server_cli::run(args, &socket),
        Command::McpServer => mcp_proxy::run(mcp_proxy::Endpoint::agent_from_env()),
        Command::OpsMcpServer => mcp_proxy::run(mcp_proxy::Endpoint::Ops),
        Command::Launch(args) => runtime()?.block_on(agents_cli::launch(args, &socket)),
        Command::Session { command } => runtime()?.block_on(agents_cli::session(command)),
        Command::Terminal { command } => runtime()?.block_on(agents_cli::terminal(command)),
        Command::Agent { command } => runtime()?.block_on(agent_cli::run(command)),
        Command::Shutdown(args) => runtime()?.block_on(agents_cli::shutdown(args)),
        Command::Info => agents_cli::info(),
        Command::Install(args) => agents_cli::install(args),
        Command::Profile { command } => agents_cli::profile(command),
    }
}

/// One thread is enough for cao's I/O and gives the lowest request latency.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
