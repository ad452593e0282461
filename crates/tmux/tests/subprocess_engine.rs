//! The fork-per-call engine against real tmux on a private socket.

mod common;

use std::time::Duration;

use cao_tmux::engine::{Engine, SubprocessEngine};
use cao_tmux::TmuxCommand;
use common::{eventually, TestServer};

/// Pids of live processes whose command line mentions `needle`, found through /proc.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) && !text.contains("processes_mentioning") {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn a_cancelled_call_kills_its_tmux_child() {
    let server = TestServer::new("cancel");
    let engine: SubprocessEngine = server.subprocess();
    let created = engine
        .execute(TmuxCommand::new(["new-session", "-d", "-s", "c"]))
        .await
        .unwrap();
    assert!(created.succeeded(), "{created:?}");
    let channel = format!("never-signalled-{}", server.name);
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        engine.execute(TmuxCommand::new(["wait-for", channel.as_str()])),
    )
    .await;
    assert!(waiting.is_err(), "wait-for cannot finish on its own");
    eventually(
        "the cancelled tmux child to be gone",
        Duration::from_secs(5),
        || processes_mentioning(&channel).is_empty(),
    )
    .await;
}

#[tokio::test]
async fn reads_on_a_missing_server_fail_like_tmux_and_start_nothing() {
    let server = TestServer::new("absent");
    let engine = server.subprocess();
    let listed = engine
        .execute(TmuxCommand::new(["list-sessions"]))
        .await
        .unwrap();
    assert_eq!(listed.exit_code, 1);
    assert!(!server.socket().has_listening_server());
    // The version is the binary's until a server runs.
    let version = engine.server_version().await.unwrap();
    let binary = engine.binary_version().await.unwrap();
    assert_eq!(version, binary);
}

#[tokio::test]
async fn a_missing_binary_is_a_clear_error() {
    let server = TestServer::new("nobinary");
    let engine = SubprocessEngine::new(server.socket()).with_binary("/nonexistent/tmux");
    let error = engine
        .execute(TmuxCommand::new(["list-sessions"]))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("cannot start /nonexistent/tmux"),
        "{message}"
    );
    assert!(message.contains("install tmux"), "{message}");
}
