//! `cao server` (also `cao-server`): the orchestrator behind the HTTP API, on cao's tmux socket.
//!
//! Also what keeps the server safe to run next to other processes:
//! - one server per data directory and per tmux socket: before anything is bound, adopted or
//!   started, the server takes an exclusive `flock` on `server.lock` in the data directory and
//!   on `<socket>.cao.lock` beside the tmux socket (where a server of any other data directory
//!   using that socket looks too), and holds both until it exits; a second server is refused
//!   in one line naming the first;
//! - `server.pid` records pid, process start time, host and port, so `cao shutdown --server`
//!   can check that the process it signals is that server (see [`verify_server_process`]);
//! - a non-loopback address needs the bearer token and the host names clients use;
//! - on exit, cao's tmux server is stopped when only the control session is left on it.
//!
//! The locks use `flock(2)` through `libc` (already a dependency; `File::try_lock` needs Rust
//! 1.89, above this crate's minimum): the kernel drops the lock when the process dies, so a
//! crash never leaves a lock behind, and the descriptors are close-on-exec, so the tmux server
//! the server spawns never inherits them.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cao_mux::tmux::TmuxMux;
use cao_mux::Multiplexer;
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{ApiEndpoint, Orchestrator, OrchestratorConfig, TERMINAL_ID_KEY};
use cao_server::{AuthMode, ServerConfig};
use cao_tmux::engine::control::DEFAULT_CONTROL_SESSION;
use cao_tmux::engine::{default_tmux_binary, ControlOptions};
use cao_tmux::Socket;
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::client::{exit, EXIT_FAILURE};

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on. Any address but loopback needs --allow-host and the token.
    #[arg(long, env = "CAO_API_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, env = "CAO_API_PORT", default_value_t = 9889)]
    port: u16,
    /// Serve without the bearer token (anyone on this machine can then drive your agents);
    /// refused on any address but loopback.
    #[arg(long)]
    no_auth: bool,
    /// A host name clients use to reach this server, without port (repeatable, or
    /// CAO_ALLOWED_HOSTS=a,b); requests with another `Host` or `Origin` are refused.
    #[arg(
        long = "allow-host",
        value_name = "NAME",
        env = "CAO_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allow_host: Vec<String>,
    /// Seconds a client may take to send a request head once its first bytes arrived.
    #[arg(long, value_name = "SECONDS", default_value_t = cao_server::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Seconds a connection may stay open with no request in flight (streams and long calls
    /// being served are never timed).
    #[arg(long, value_name = "SECONDS", default_value_t = cao_server::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// The pid file of the running server, for `cao shutdown --server`.
pub fn pid_file(home: &CaoHome) -> PathBuf {
    home.root().join("server.pid")
}

/// The lock a server holds on its data directory for as long as it runs.
pub fn home_lock_file(home: &CaoHome) -> PathBuf {
    home.root().join("server.lock")
}

/// The lock a server holds on its tmux socket: beside the socket, so servers of every data
/// directory find the same file.
fn socket_lock_file(socket: &Socket) -> PathBuf {
    let mut path = socket.path().into_os_string();
    path.push(".cao.lock");
    PathBuf::from(path)
}

/// What `server.pid` (and the socket lock) say about a running server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerRecord {
    pub pid: u32,
    /// Clock ticks after boot (`/proc/PID/stat`, field 22); with the pid, names one process.
    pub start_time: Option<u64>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub home: Option<PathBuf>,
}

impl ServerRecord {
    /// Reads a record; a file holding only a pid (what older servers wrote) is one too.
    pub fn parse(text: &str) -> Option<ServerRecord> {
        if let Ok(record) = serde_json::from_str(text) {
            return Some(record);
        }
        let pid = text.trim().parse().ok()?;
        Some(ServerRecord {
            pid,
            start_time: None,
            host: None,
            port: None,
            home: None,
        })
    }

    fn url(&self) -> Option<String> {
        let (host, port) = (self.host.as_ref()?, self.port?);
        Some(if host.contains(':') {
            format!("http://[{host}]:{port}")
        } else {
            format!("http://{host}:{port}")
        })
    }

    /// `pid 1234, http://127.0.0.1:9889`, for messages about another server.
    fn describe(&self) -> String {
        match self.url() {
            Some(url) => format!("pid {}, {url}", self.pid),
            None => format!("pid {}", self.pid),
        }
    }
}

/// The start time of process `pid` in clock ticks after boot, from `/proc/PID/stat`.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    // Field 3 is the first after the name; the start time is field 22.
    after_name.split(' ').nth(19)?.parse().ok()
}

/// Checks that `record.pid` is still the process that wrote the record and a cao binary;
/// the error says why not.
pub fn verify_server_process(record: &ServerRecord) -> Result<(), String> {
    let Some(recorded) = record.start_time else {
        return Err("has no recorded start time".into());
    };
    match process_start_time(record.pid) {
        Some(started) if started == recorded => {}
        Some(_) => return Err("was started after that server".into()),
        None => return Err("is not running".into()),
    }
    let executable = std::fs::read_link(format!("/proc/{}/exe", record.pid))
        .map_err(|error| format!("cannot be inspected ({error})"))?;
    let name = executable
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A rebuilt binary shows as "cao (deleted)".
    if name.trim_end_matches(" (deleted)").starts_with("cao") {
        Ok(())
    } else {
        Err(format!("runs {}, not cao", executable.display()))
    }
}

/// An exclusive `flock` on a file, removed (while still locked) when dropped.
struct LockFile {
    path: PathBuf,
    file: File,
}

/// Whether `flock` granted the lock; false when another open file holds it.
fn try_flock(file: &File, operation: libc::c_int) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor this File owns; LOCK_NB makes it return at once.
    if unsafe { libc::flock(file.as_raw_fd(), operation | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    if error.kind() == ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(error)
    }
}

impl LockFile {
    /// Creates and locks `path`; None when another process holds the lock.
    fn try_acquire(path: &Path) -> std::io::Result<Option<LockFile>> {
        // A holder removes the file before it unlocks, so a lock won on a file that is no
        // longer at `path` is nobody's lock: open the new file and try again.
        for _ in 0..16 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)?;
            if !try_flock(&file, libc::LOCK_EX)? {
                return Ok(None);
            }
            let locked = file.metadata()?;
            match std::fs::metadata(path) {
                Ok(current) if current.dev() == locked.dev() && current.ino() == locked.ino() => {
                    return Ok(Some(LockFile {
                        path: path.to_path_buf(),
                        file,
                    }))
                }
                _ => continue,
            }
        }
        Err(std::io::Error::other("the lock file keeps being replaced"))
    }

    /// Replaces the file's content (the lock is on the file, not on its bytes).
    fn write(&mut self, text: &str) -> std::io::Result<()> {
        use std::io::Seek;
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether some process holds the data directory's lock. `Free` keeps the lock while the
/// caller cleans up after a server that is gone, so that no new server starts meanwhile.
pub enum HomeLock {
    Held,
    Free { _lock: Option<File> },
}

pub fn probe_home_lock(home: &CaoHome) -> std::io::Result<HomeLock> {
    let file = match File::open(home_lock_file(home)) {
        Ok(file) => file,
        // No lock file: no server since the last clean exit; nothing to hold.
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Ok(HomeLock::Free { _lock: None })
        }
        Err(error) => return Err(error),
    };
    Ok(if try_flock(&file, libc::LOCK_EX)? {
        HomeLock::Free { _lock: Some(file) }
    } else {
        HomeLock::Held
    })
}

/// A running server's hold on its data directory and tmux socket, and its pid file. Dropped
/// in this order: pid file, socket lock, home lock.
struct Claim {
    pid_file: PathBuf,
    socket_lock: LockFile,
    _home_lock: LockFile,
}

impl Claim {
    /// Takes both locks, or refuses in one line naming the server that holds one.
    fn acquire(home: &CaoHome, socket: &Socket) -> Result<Claim> {
        let root = home.root();
        let created_root = !root.exists();
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the data directory {}", root.display()))?;
        let home_lock_path = home_lock_file(home);
        let home_lock = LockFile::try_acquire(&home_lock_path)
            .with_context(|| format!("cannot lock {}", home_lock_path.display()))?;
        let Some(home_lock) = home_lock else {
            let holder = std::fs::read_to_string(pid_file(home))
                .ok()
                .and_then(|text| ServerRecord::parse(&text));
            return Err(exit(
                EXIT_FAILURE,
                format!(
                    "another cao server ({}) already uses {}; stop it with 'cao shutdown --server' or use another CAO_HOME_DIR",
                    holder.map_or_else(|| "starting".to_string(), |record| record.describe()),
                    root.display()
                ),
            ));
        };
        // Whatever pid file is here was left by a server that is gone.
        let _ = std::fs::remove_file(pid_file(home));

        let socket_lock_path = socket_lock_file(socket);
        if let (Socket::Name(_), Some(directory)) = (socket, socket_lock_path.parent()) {
            // tmux's own socket directory, made as tmux makes it when no server ran yet.
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(directory);
        }
        let socket_lock = LockFile::try_acquire(&socket_lock_path)
            .with_context(|| format!("cannot lock {}", socket_lock_path.display()))?;
        let Some(socket_lock) = socket_lock else {
            drop(home_lock);
            if created_root {
                let _ = std::fs::remove_dir(root);
            }
            let holder = std::fs::read_to_string(&socket_lock_path)
                .ok()
                .and_then(|text| ServerRecord::parse(&text));
            let (who, home_hint) = match &holder {
                Some(record) => match &record.home {
                    Some(other) => (
                        format!("{}, data directory {}", record.describe(), other.display()),
                        format!(" (with CAO_HOME_DIR={})", other.display()),
                    ),
                    None => (record.describe(), String::new()),
                },
                None => ("starting".to_string(), String::new()),
            };
            return Err(exit(
                EXIT_FAILURE,
                format!(
                    "another cao server ({who}) already uses tmux socket {}; stop it with 'cao shutdown --server'{home_hint} or use another --tmux-socket",
                    socket.describe()
                ),
            ));
        };
        Ok(Claim {
            pid_file: pid_file(home),
            socket_lock,
            _home_lock: home_lock,
        })
    }

    /// Writes the record to the pid file (atomically) and the socket lock.
    fn record(&mut self, record: &ServerRecord) -> Result<()> {
        let text = serde_json::to_string(record)? + "\n";
        let staging = self.pid_file.with_extension("pid.new");
        std::fs::write(&staging, &text)
            .and_then(|()| std::fs::rename(&staging, &self.pid_file))
            .with_context(|| format!("cannot write {}", self.pid_file.display()))?;
        self.socket_lock
            .write(&text)
            .with_context(|| format!("cannot write {}", self.socket_lock.path.display()))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// The host names given with --allow-host / CAO_ALLOWED_HOSTS, checked to be bare names.
fn allowed_hosts(names: &[String]) -> Result<Vec<String>> {
    let mut allowed = Vec::new();
    for name in names
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
    {
        let bracketed_v6 = name.starts_with('[') && name.ends_with(']');
        let bare = !name.contains(['/', '@', ' ', '\t']) && (bracketed_v6 || !name.contains(':'));
        if !bare {
            return Err(exit(
                EXIT_FAILURE,
                format!(
                    "--allow-host '{name}' is not a host name: give it without scheme, port or path (box.example, 192.168.1.5, [fd00::5])"
                ),
            ));
        }
        allowed.push(name.to_ascii_lowercase());
    }
    Ok(allowed)
}

/// Refuses what would expose the agents on a network address, before anything is created.
fn check_exposure(host: IpAddr, no_auth: bool, allowed_hosts: &[String]) -> Result<()> {
    if host.to_canonical().is_loopback() {
        return Ok(());
    }
    if no_auth {
        return Err(exit(
            EXIT_FAILURE,
            format!(
                "--no-auth is refused on --host {host}: other machines could drive your agents without a token; drop --no-auth or listen on --host 127.0.0.1"
            ),
        ));
    }
    if allowed_hosts.is_empty() {
        return Err(exit(
            EXIT_FAILURE,
            format!(
                "--host {host} is reachable from other machines: name the host names clients use with --allow-host NAME (repeatable) or CAO_ALLOWED_HOSTS=name1,name2 (see docs/security.md)"
            ),
        ));
    }
    Ok(())
}

pub fn run(args: ServerArgs, socket: &Socket) -> Result<()> {
    let host: IpAddr = args.host.parse().map_err(|_| {
        exit(
            EXIT_FAILURE,
            format!(
                "--host '{}' is not an IP address (use 127.0.0.1)",
                args.host
            ),
        )
    })?;
    let allowed_hosts = allowed_hosts(&args.allow_host)?;
    check_exposure(host, args.no_auth, &allowed_hosts)?;
    let home = CaoHome::from_env()?;
    if !host.to_canonical().is_loopback() {
        let warning = format!(
            "WARNING: cao server listens on {}, reachable from other machines: every request needs the token in {}, Host must be {} or localhost, and the traffic is plain HTTP, so put a TLS reverse proxy in front (docs/security.md)",
            std::net::SocketAddr::new(host, args.port),
            home.token_file().display(),
            allowed_hosts.join(", ")
        );
        tracing::warn!("{warning}");
        eprintln!("{warning}");
    }
    // Before anything is bound, adopted or started: a second server changes nothing.
    let mut claim = Claim::acquire(&home, socket)?;
    home.ensure_dirs()?;
    let auth = if args.no_auth {
        tracing::warn!("serving without a bearer token: any local process can drive your agents");
        eprintln!("warning: --no-auth: any local process can drive your agents");
        AuthMode::Disabled
    } else {
        AuthMode::from_home(&home)?
    };
    let mut config = ServerConfig::local(auth).with_port(args.port);
    config.host = host;
    config.allowed_hosts = allowed_hosts;
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout);
    config.idle_timeout = Duration::from_secs(args.idle_timeout);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Bind first: a taken port fails before anything else is started.
        let listener = cao_server::bind(&config).await?;
        let port = listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or(args.port);
        claim.record(&ServerRecord {
            pid: std::process::id(),
            start_time: process_start_time(std::process::id()),
            host: Some(host.to_string()),
            port: Some(port),
            home: Some(home.root().to_path_buf()),
        })?;
        let mux = Arc::new(TmuxMux::with_options(
            ControlOptions::new(socket.clone()),
            vec![TERMINAL_ID_KEY.to_string()],
        ));
        mux.check()
            .await
            .map_err(|error| exit(EXIT_FAILURE, error.to_string()))?;
        let mut orchestrator_config = OrchestratorConfig::new(home.clone(), mux.clone());
        orchestrator_config.api = ApiEndpoint {
            host: args.host.clone(),
            port,
        };
        let orchestrator = Orchestrator::start(orchestrator_config)
            .await
            .map_err(|error| exit(EXIT_FAILURE, error.to_string()))?;
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        cao_server::serve_on(listener, orchestrator.clone(), &config, shutdown).await?;
        // The agents keep running in tmux; the next server re-adopts them.
        orchestrator.stop_watching();
        mux.shutdown().await;
        anyhow::Ok(())
    })?;
    // Still holding the socket lock, so no other server is using this tmux server.
    stop_tmux_if_empty(socket);
    drop(claim);
    Ok(())
}

/// Stops cao's tmux server when only the control session is left on it: without agents it
/// would otherwise run for good, kept alive by that session. Never the user's default server.
fn stop_tmux_if_empty(socket: &Socket) {
    if socket.path() == Socket::named("default").path() {
        return;
    }
    let tmux = |words: &[&str]| {
        std::process::Command::new(default_tmux_binary())
            .args(socket.tmux_args())
            .args(words)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
    };
    let Ok(listed) = tmux(&["list-sessions", "-F", "#{session_name}"]) else {
        return;
    };
    if !listed.status.success() {
        return; // no server running
    }
    let sessions = String::from_utf8_lossy(&listed.stdout);
    if sessions
        .lines()
        .all(|session| session == DEFAULT_CONTROL_SESSION)
    {
        tracing::info!(
            "stopping the tmux server on {}: no agent session is left",
            socket.describe()
        );
        if let Err(error) = tmux(&["kill-server"]) {
            tracing::warn!(
                "cannot stop the tmux server on {}: {error}",
                socket.describe()
            );
        }
    }
}
