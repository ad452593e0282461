//! Process trees: ending a pane's program and everything it started, by pid.
//!
//! Agent CLIs start helpers (MCP servers, language servers, shells) and some ignore SIGHUP
//! (Gemini CLI), so closing a pane is not enough. The tree is read from `/proc` (Linux); on
//! other systems only the root pid is signalled.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Every descendant of `root`, without `root`: children followed down, plus every process of
/// the session `root` leads (a pane's program leads its own session), which catches helpers
/// that were reparented away from the tree (double forks, `cmd &` from an exited shell).
pub fn descendants(root: u32) -> Vec<u32> {
    let table = process_table();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(pid, parent, _) in &table {
        children.entry(parent).or_default().push(pid);
    }
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for &(pid, _, session) in &table {
        if session == root && pid != root && seen.insert(pid) {
            order.push(pid);
        }
    }
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(child) {
                order.push(child);
                queue.push(child);
            }
        }
    }
    order
}

/// (pid, ppid, session id) of every process.
fn process_table() -> Vec<(u32, u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut table = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let (Some(parent), Some(session)) = (parent_from_stat(&stat), session_from_stat(&stat)) {
            table.push((pid, parent, session));
        }
    }
    table
}

/// The ppid field of `/proc/<pid>/stat`. The command name sits in parentheses and may itself
/// contain spaces and parentheses, so fields are counted from the last `)`.
fn parent_from_stat(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// The session id field of `/proc/<pid>/stat` (state, ppid, pgrp, session).
fn session_from_stat(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(3)?.parse().ok()
}

fn alive(pid: u32) -> bool {
    // Signal 0 checks existence; a zombie still counts until reaped, so read its state too.
    // SAFETY: kill with signal 0 sends nothing; any pid value is acceptable to the call.
    let exists = unsafe { libc_kill(pid as i32, 0) } == 0;
    if !exists {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => true,
    }
}

use libc::{kill as libc_kill, SIGCONT, SIGKILL, SIGTERM};

/// Ends `root` and its descendants: SIGTERM (and SIGCONT for stopped ones), then SIGKILL for
/// whatever is still alive after `grace`. Returns the pids that were signalled.
pub async fn end_tree(root: u32, grace: Duration) -> Vec<u32> {
    let mut pids = descendants(root);
    pids.insert(0, root);
    for &pid in &pids {
        // SAFETY: plain signal delivery to a pid we just read from /proc.
        unsafe {
            libc_kill(pid as i32, SIGTERM);
            libc_kill(pid as i32, SIGCONT);
        }
    }
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if pids.iter().all(|&pid| !alive(pid)) {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Children forked during the grace period are caught by a second read.
    for pid in descendants(root).into_iter().chain(pids.iter().copied()) {
        if alive(pid) {
            // SAFETY: as above.
            unsafe {
                libc_kill(pid as i32, SIGKILL);
            }
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parent_past_odd_command_names() {
        assert_eq!(parent_from_stat("42 (a b) c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent_from_stat("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parent_from_stat("garbage"), None);
        assert_eq!(session_from_stat("42 (a b) c)) S 7 40 41 0"), Some(41));
    }

    #[tokio::test]
    async fn ends_a_tree_that_ignores_sighup_and_sigterm() {
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "trap '' TERM HUP; sh -c \"trap '' TERM HUP; sleep 30\" & wait",
            ])
            .spawn()
            .expect("sh runs");
        let root = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while descendants(root).len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let tree = descendants(root);
        assert!(tree.len() >= 2, "tree {tree:?}");
        end_tree(root, Duration::from_millis(200)).await;
        let _ = child.wait();
        for pid in tree {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while alive(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(!alive(pid), "pid {pid} survived");
        }
    }
}
