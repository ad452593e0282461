//! Shared helpers for tests that start real tmux servers on private sockets.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cao_tmux::engine::{ControlEngine, ControlOptions, SubprocessEngine};
use cao_tmux::Socket;

/// A private tmux server name, killed (by its socket) when dropped.
pub struct TestServer {
    pub name: String,
}

impl TestServer {
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "cao-test-{label}-{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        Self { name }
    }

    pub fn socket(&self) -> Socket {
        Socket::Name(self.name.clone())
    }

    pub fn subprocess(&self) -> SubprocessEngine {
        SubprocessEngine::new(self.socket()).with_config_file("/dev/null")
    }

    pub fn control_options(&self) -> ControlOptions {
        ControlOptions::new(self.socket()).config_file("/dev/null")
    }

    pub fn control(&self) -> ControlEngine {
        ControlEngine::with_options(self.control_options())
    }

    /// Runs tmux directly on this server (test setup and checks).
    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-u", "-f", "/dev/null", "-L", &self.name])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn tmux_stdout(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.tmux(args).stdout).into_owned()
    }

    pub fn server_pid(&self) -> Option<u32> {
        self.tmux_stdout(&["display-message", "-p", "#{pid}"])
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .output();
        // A server killed by a signal leaves its socket file behind.
        if let Some(path) = socket_path(&self.name) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where tmux puts a named socket: `$TMUX_TMPDIR/tmux-UID/NAME` (default `/tmp`).
fn socket_path(name: &str) -> Option<std::path::PathBuf> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    let base = std::env::var_os("TMUX_TMPDIR")
        .filter(|value| !value.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/tmp".into());
    Some(base.join(format!("tmux-{uid}")).join(name))
}

/// Waits for `condition` with a deadline (for effects outside any event stream, such as a
/// file written by a process in a pane).
pub async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a signal to a process we started, by pid.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

pub fn tmux_available() -> bool {
    Command::new("tmux").arg("-V").output().is_ok()
}
