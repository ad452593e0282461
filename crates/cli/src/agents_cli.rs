//! The orchestration commands (`cao launch`, `cao session …`, `cao terminal …`, `cao shutdown`,
//! `cao info`, `cao install`, `cao profile …`): thin clients of `cao server`, except the
//! profile commands, which read the profile store directly.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::profile::{InstallOptions, ProfileCatalog};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::client::{exit, parse_env_pairs, Client, EXIT_FAILURE};

/// `cao launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The agent profile of the conductor (supervisor).
    #[arg(long = "agents", value_name = "PROFILE")]
    agents: String,
    /// A first message (with --headless, the task whose reply is printed).
    message: Option<String>,
    #[arg(long)]
    session_name: Option<String>,
    #[arg(long)]
    provider: Option<String>,
    /// Send the message, wait for the reply and print it; no attaching.
    #[arg(long)]
    headless: bool,
    /// Return as soon as the session exists (and the message is queued).
    #[arg(long = "async")]
    asynchronous: bool,
    /// Accepted for CAO compatibility: the provider packs already run agents without
    /// approval prompts where the CLI allows it.
    #[arg(long)]
    yolo: bool,
    /// Accepted for CAO compatibility (see --yolo).
    #[arg(long)]
    auto_approve: bool,
    #[arg(long)]
    working_directory: Option<String>,
    /// Extra environment for the agent, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Restrict the agent's tools (repeatable).
    #[arg(long = "allowed-tools", value_name = "TOOL")]
    allowed_tools: Vec<String>,
    #[arg(long)]
    model: Option<String>,
    /// How long to wait for readiness and for the reply, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// The sessions with live terminals.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One session's terminals and their statuses.
    Status {
        session: String,
        /// Also list the workers (every terminal; the default shows them too, kept for CAO).
        #[arg(long)]
        workers: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sends a message to the session's conductor (or --terminal) and prints the reply.
    Send {
        session: String,
        message: String,
        #[arg(long)]
        terminal: Option<String>,
        #[arg(long = "async")]
        asynchronous: bool,
        /// Seconds to wait for the reply.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum TerminalCommand {
    /// One terminal as JSON.
    Get { id: String },
    /// Its history (`--mode full`) or last reply (`--mode last`).
    Output {
        id: String,
        #[arg(long, default_value = "full")]
        mode: String,
    },
    /// Types a message and submits it.
    Send { id: String, message: String },
    /// Sends a key by name (Enter, Escape, C-c, y, Down, …).
    Key { id: String, key: String },
    /// Runs the CLI's exit sequence.
    Exit { id: String },
    /// Saves the scrollback, ends the CLI's process tree, removes the terminal.
    Delete { id: String },
    /// Starts a deleted or crashed terminal again (same id, profile, provider, directory).
    Restore { id: String },
}

#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// Every session.
    #[arg(long, conflicts_with = "session")]
    all: bool,
    /// One session.
    #[arg(long)]
    session: Option<String>,
    /// Also stop the background server (after the sessions; agents in sessions not shut down
    /// keep running in tmux and are re-adopted by the next server).
    #[arg(long)]
    server: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Every profile cao can find, first source wins.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One profile, as its file would read.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Checks a profile file and reports the first problem with its line.
    Validate { path: String },
    /// Removes a profile from the local store.
    Remove { name: String },
}

/// `cao install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A built-in profile name or a profile file path.
    source: String,
    #[arg(long)]
    provider: Option<String>,
    /// Values for the profile's ${VAR} references, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub async fn launch(args: LaunchArgs, attach_socket: &cao_tmux::Socket) -> Result<()> {
    let client = Client::from_env()?;
    client.ensure_server().await?;
    let mut query = vec![("agent_profile", args.agents.clone())];
    if let Some(provider) = &args.provider {
        query.push(("provider", provider.clone()));
    }
    if let Some(name) = &args.session_name {
        query.push(("session_name", name.clone()));
    }
    if let Some(dir) = &args.working_directory {
        query.push(("working_directory", dir.clone()));
    }
    if let Some(model) = &args.model {
        query.push(("model", model.clone()));
    }
    if !args.allowed_tools.is_empty() {
        query.push(("allowed_tools", args.allowed_tools.join(",")));
    }
    let env = parse_env_pairs(&args.env)?;
    let body = json!({ "env_vars": env });
    let terminal = client.post("/sessions", &query, &body).await?;
    let terminal_id = text(&terminal, "id");
    let session = text(&terminal, "session_name");
    let timeout = Duration::from_secs(args.timeout);
    if args.headless && args.message.is_none() {
        return Err(exit(
            EXIT_FAILURE,
            "--headless needs a MESSAGE to send (cao launch --agents P --headless \"task\")",
        ));
    }
    if let Some(message) = &args.message {
        client
            .post(
                &format!("/terminals/{terminal_id}/input"),
                &[],
                &json!({ "message": message }),
            )
            .await?;
    }
    if args.asynchronous {
        if args.json {
            return print_json(&terminal);
        }
        println!("session {session} terminal {terminal_id}");
        return Ok(());
    }
    if args.headless {
        let started = Instant::now();
        client
            .wait_for_status(&terminal_id, |status| status == "completed", timeout)
            .await?;
        // A conductor that delegated gets its workers' results as new turns: the answer is
        // final once the whole team has settled.
        client
            .wait_settled(&session, timeout.saturating_sub(started.elapsed()))
            .await?;
        let output = client
            .get_query(
                &format!("/terminals/{terminal_id}/output"),
                &[("mode", "last".into())],
            )
            .await?;
        if args.json {
            return print_json(&json!({
                "session_name": session,
                "terminal_id": terminal_id,
                "output": output["output"],
            }));
        }
        println!("{}", output["output"].as_str().unwrap_or(""));
        return Ok(());
    }
    client
        .wait_for_status(
            &terminal_id,
            |status| matches!(status, "idle" | "completed" | "processing"),
            timeout,
        )
        .await?;
    let attach = cao_mux::tmux::attach_command(attach_socket, &session);
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        println!(
            "session {session} terminal {terminal_id} is ready; attach with: {}",
            attach.join(" ")
        );
        return Ok(());
    }
    let status = std::process::Command::new(&attach[0])
        .args(&attach[1..])
        .status()
        .context("cannot run tmux to attach")?;
    if !status.success() {
        return Err(exit(
            EXIT_FAILURE,
            format!("tmux attach ended with {status}"),
        ));
    }
    Ok(())
}

pub async fn session(command: SessionCommand) -> Result<()> {
    let client = Client::from_env()?;
    match command {
        SessionCommand::List { json } => {
            let sessions = client.get("/sessions").await?;
            if json {
                return print_json(&sessions);
            }
            let rows: Vec<Vec<String>> = sessions
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|s| {
                    vec![
                        text(s, "name"),
                        text(s, "terminal_count"),
                        text(s, "created_at"),
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("no sessions");
                return Ok(());
            }
            print_table(&["SESSION", "TERMINALS", "CREATED"], &rows);
            Ok(())
        }
        SessionCommand::Status { session, json, .. } => {
            let detail = client.get(&format!("/sessions/{session}")).await?;
            if json {
                return print_json(&detail);
            }
            let terminals = detail["terminals"].as_array().cloned().unwrap_or_default();
            let rows: Vec<Vec<String>> = terminals
                .iter()
                .enumerate()
                .map(|(index, t)| {
                    vec![
                        text(t, "id"),
                        text(t, "name"),
                        if index == 0 {
                            "conductor".into()
                        } else {
                            "worker".into()
                        },
                        text(t, "provider"),
                        text(t, "status"),
                    ]
                })
                .collect();
            print_table(&["TERMINAL", "NAME", "ROLE", "PROVIDER", "STATUS"], &rows);
            Ok(())
        }
        SessionCommand::Send {
            session,
            message,
            terminal,
            asynchronous,
            timeout,
        } => {
            let terminal_id = match terminal {
                Some(id) => id,
                None => {
                    let detail = client.get(&format!("/sessions/{session}")).await?;
                    text(&detail["terminals"][0], "id")
                }
            };
            client
                .post(
                    &format!("/terminals/{terminal_id}/input"),
                    &[],
                    &json!({ "message": message }),
                )
                .await?;
            if asynchronous {
                return Ok(());
            }
            client
                .wait_for_status(
                    &terminal_id,
                    |status| status == "completed",
                    Duration::from_secs(timeout),
                )
                .await?;
            let output = client
                .get_query(
                    &format!("/terminals/{terminal_id}/output"),
                    &[("mode", "last".into())],
                )
                .await?;
            println!("{}", output["output"].as_str().unwrap_or(""));
            Ok(())
        }
    }
}

pub async fn terminal(command: TerminalCommand) -> Result<()> {
    let client = Client::from_env()?;
    match command {
        TerminalCommand::Get { id } => print_json(&client.get(&format!("/terminals/{id}")).await?),
        TerminalCommand::Output { id, mode } => {
            let output = client
                .get_query(&format!("/terminals/{id}/output"), &[("mode", mode)])
                .await?;
            println!("{}", output["output"].as_str().unwrap_or(""));
            Ok(())
        }
        TerminalCommand::Send { id, message } => {
            client
                .post(
                    &format!("/terminals/{id}/input"),
                    &[],
                    &json!({ "message": message }),
                )
                .await?;
            Ok(())
        }
        TerminalCommand::Key { id, key } => {
            client
                .post(&format!("/terminals/{id}/key"), &[("key", key)], &json!({}))
                .await?;
            Ok(())
        }
        TerminalCommand::Exit { id } => {
            client
                .post(&format!("/terminals/{id}/exit"), &[], &json!({}))
                .await?;
            Ok(())
        }
        TerminalCommand::Delete { id } => {
            client.delete(&format!("/terminals/{id}")).await?;
            Ok(())
        }
        TerminalCommand::Restore { id } => {
            let terminal = client
                .post(&format!("/terminals/{id}/restore"), &[], &json!({}))
                .await?;
            println!(
                "restored {} in {} ({})",
                text(&terminal, "id"),
                text(&terminal, "session_name"),
                text(&terminal, "name")
            );
            Ok(())
        }
    }
}

pub async fn shutdown(args: ShutdownArgs) -> Result<()> {
    let client = Client::from_env()?;
    let sessions: Vec<String> = match (&args.session, args.all) {
        (Some(session), _) => vec![session.clone()],
        (None, true) => client
            .get("/sessions")
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|s| text(s, "name"))
            .collect(),
        (None, false) if args.server => Vec::new(),
        (None, false) => {
            return Err(exit(
                EXIT_FAILURE,
                "say what to shut down: --all, --session NAME and/or --server",
            ))
        }
    };
    for session in sessions {
        client.delete(&format!("/sessions/{session}")).await?;
        println!("shut down {session}");
    }
    if args.server {
        stop_server(&client).await?;
    }
    Ok(())
}

/// Stops the server of this data directory and waits until it is gone. `server.pid` alone is
/// not trusted (after a crash its pid may have been reused by anyone): the process signalled
/// must hold the data directory's lock, have the recorded start time and run a cao binary. A
/// pid file no server holds is removed, and nothing is signalled.
async fn stop_server(client: &Client) -> Result<()> {
    use crate::server_cli::{probe_home_lock, verify_server_process, HomeLock, ServerRecord};
    let _ = client;
    let home = CaoHome::from_env()?;
    let path = crate::server_cli::pid_file(&home);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            println!("no server running (no {})", path.display());
            return Ok(());
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let record = ServerRecord::parse(&text);
    let lock = probe_home_lock(&home)
        .with_context(|| format!("cannot check the server lock in {}", home.root().display()))?;
    if let HomeLock::Free { .. } = lock {
        // Removed while holding the lock: no server can start and write its own meanwhile.
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove the stale {}", path.display()))?;
        match record {
            Some(record) => println!(
                "no server running (stale server.pid for pid {} removed)",
                record.pid
            ),
            None => println!("no server running (unreadable server.pid removed)"),
        }
        return Ok(());
    }
    let Some(record) = record else {
        return Err(exit(
            EXIT_FAILURE,
            format!(
                "a cao server holds {} but {} is unreadable; not signalling anything (find it with `pgrep -a cao`)",
                home.root().display(),
                path.display()
            ),
        ));
    };
    let pid = record.pid;
    // Opened before the checks, so the signal reaches the process checked even if it exits
    // and its pid is reused in between.
    let process = ProcessHandle::open(pid);
    if let Err(reason) = verify_server_process(&record) {
        return Err(exit(
            EXIT_FAILURE,
            format!(
                "a cao server holds {} but server.pid names pid {pid}, which {reason}; not signalling it (find the server with `pgrep -a cao`)",
                home.root().display()
            ),
        ));
    }
    process
        .terminate()
        .with_context(|| format!("cannot signal the server (pid {pid})"))?;
    if !process.wait_exit(Duration::from_secs(10)).await {
        return Err(exit(
            EXIT_FAILURE,
            format!("the server (pid {pid}) did not stop within 10 s"),
        ));
    }
    println!("stopped the server (pid {pid})");
    Ok(())
}

/// A process to signal and wait for: a pidfd where the kernel has them (the signal cannot
/// reach a later process with the same pid, and its exit is an event to wait on), else the
/// plain pid.
struct ProcessHandle {
    pid: i32,
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl ProcessHandle {
    fn open(pid: u32) -> ProcessHandle {
        use std::os::fd::FromRawFd;
        let pid = pid as i32;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let pidfd = (fd >= 0).then(|| {
            // SAFETY: the descriptor was just returned by pidfd_open and nothing else owns it.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
        });
        ProcessHandle { pid, pidfd }
    }

    fn terminate(&self) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let sent = match &self.pidfd {
            // SAFETY: a signal through a pidfd this handle owns; no siginfo, no flags.
            Some(pidfd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    libc::SIGTERM,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            },
            // SAFETY: a plain signal to a pid checked just before.
            None => libc::c_long::from(unsafe { libc::kill(self.pid, libc::SIGTERM) }),
        };
        if sent == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Waits until the process has exited; false at the timeout.
    async fn wait_exit(self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        if let Some(pidfd) = self.pidfd {
            // A pidfd becomes readable when its process exits.
            // SAFETY: the OwnedFd keeps the descriptor open, unchanged, until the AsyncFd that
            // owns it is dropped.
            if let Ok(readable) = unsafe { tokio::io::unix::AsyncFd::register(pidfd) } {
                return matches!(
                    tokio::time::timeout_at(deadline, readable.readable()).await,
                    Ok(Ok(_))
                );
            }
        }
        // SAFETY: signal 0 only checks that the pid exists.
        while unsafe { libc::kill(self.pid, 0) } == 0 {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// `cao info`: where this shell is (inside a cao terminal or not).
pub fn info() -> Result<()> {
    let terminal_id = std::env::var("CAO_TERMINAL_ID").ok();
    let session = if std::env::var_os("TMUX").is_some() {
        std::process::Command::new("tmux")
            .args(["display-message", "-p", "#S"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        None
    };
    let home = CaoHome::from_env()?;
    let (host, port) = crate::client::server_address();
    println!(
        "session: {}",
        session.as_deref().unwrap_or("(not inside tmux)")
    );
    println!(
        "terminal: {}",
        terminal_id.as_deref().unwrap_or("(not a cao terminal)")
    );
    println!("server: http://{host}:{port}");
    println!("home: {}", home.root().display());
    Ok(())
}

fn catalog() -> Result<ProfileCatalog> {
    Ok(ProfileCatalog::new(&CaoHome::from_env()?))
}

pub fn install(args: InstallArgs) -> Result<()> {
    let catalog = catalog()?;
    let env = parse_env_pairs(&args.env)?
        .into_iter()
        .map(|(key, value)| (key, value.as_str().unwrap_or_default().to_string()))
        .collect();
    let path = catalog.install(
        &args.source,
        &InstallOptions {
            provider: args.provider,
            env,
        },
    )?;
    println!("installed {}", path.display());
    Ok(())
}

pub fn profile(command: ProfileCommand) -> Result<()> {
    let catalog = catalog()?;
    match command {
        ProfileCommand::List { json } => {
            let profiles = catalog.list();
            if json {
                return print_json(&serde_json::to_value(&profiles)?);
            }
            let rows: Vec<Vec<String>> = profiles
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.source.as_str().to_string(),
                        p.description.clone(),
                    ]
                })
                .collect();
            print_table(&["PROFILE", "SOURCE", "DESCRIPTION"], &rows);
            Ok(())
        }
        ProfileCommand::Show { name, json } => {
            let profile = catalog.find(&name)?;
            if json {
                return print_json(&serde_json::to_value(&profile)?);
            }
            print!("{}", profile.to_markdown());
            Ok(())
        }
        ProfileCommand::Validate { path } => {
            let profile = catalog.validate(std::path::Path::new(&path))?;
            println!("{path}: ok ({})", profile.name);
            Ok(())
        }
        ProfileCommand::Remove { name } => {
            let path = catalog.remove(&name)?;
            println!("removed {}", path.display());
            Ok(())
        }
    }
}
