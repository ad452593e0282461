//! The `cao` binary run as a user runs it.

use std::process::{Command, Output};

struct PrivateSocket(String);

impl PrivateSocket {
    fn new(label: &str) -> Self {
        Self(format!("cao-cli-test-{label}-{}", std::process::id()))
    }
}

impl Drop for PrivateSocket {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
        // tmux 3.3a leaves the socket file behind.
        let _ = std::fs::remove_file(cao_tmux::Socket::named(&self.0).path());
    }
}

fn cao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cao"))
        .args(args)
        .env_remove("CAO_TMUX_SOCKET")
        .output()
        .expect("cao runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn prints_its_version() {
    let output = cao(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).trim(),
        format!("cao {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn catalog_lists_all_60_kinds_with_metadata() {
    let output = cao(&["tmux", "catalog", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(entries.len(), 60);
    let kinds: std::collections::BTreeSet<&str> =
        entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.len(), 60);
    for entry in &entries {
        for key in [
            "command",
            "scope",
            "safety",
            "effects",
            "min_version",
            "flag_gates",
            "fields",
        ] {
            assert!(entry.get(key).is_some(), "{} lacks {key}", entry["kind"]);
        }
    }
    let new_pane = entries.iter().find(|e| e["kind"] == "new_pane").unwrap();
    assert_eq!(new_pane["min_version"], "3.7");
}

#[test]
fn bad_operations_fail_in_one_clear_line() {
    let unknown = cao(&["tmux", "op", "--preview", r#"{"kind":"fly"}"#]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).starts_with("error: invalid operation JSON: unknown variant `fly`"));
    assert!(stderr(&unknown).contains("hint: `cao tmux catalog --json`"));

    let direction = cao(&[
        "tmux",
        "op",
        "--preview",
        r#"{"kind":"split_window","direction":"left"}"#,
    ]);
    assert!(
        stderr(&direction).contains("unknown variant `left`, expected `horizontal` or `vertical`")
    );

    let sigil = cao(&[
        "tmux",
        "op",
        "--preview",
        r#"{"kind":"kill_pane","target":"%x"}"#,
    ]);
    assert!(!sigil.status.success());
    assert_eq!(stderr(&sigil).lines().count(), 2, "{}", stderr(&sigil));
}

#[test]
fn operations_run_against_a_private_server_and_report_versions_needed() {
    let socket = PrivateSocket::new("op");
    let created = cao(&[
        "--tmux-socket",
        &socket.0,
        "tmux",
        "op",
        r#"{"kind":"new_session","name":"from cli; kill-server","width":100,"height":30}"#,
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    let result: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(result["status"], "complete");
    assert!(result["payload"]["new_ids"]["pane"]
        .as_str()
        .unwrap()
        .starts_with('%'));

    let snapshot = cao(&[
        "--tmux-socket",
        &socket.0,
        "tmux",
        "snapshot",
        "--json",
        "--engine",
        "subprocess",
    ]);
    assert!(snapshot.status.success(), "{}", stderr(&snapshot));
    let tree: serde_json::Value = serde_json::from_slice(&snapshot.stdout).unwrap();
    let names: Vec<&str> = tree["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["from cli; kill-server"]);

    let too_new = cao(&[
        "--tmux-socket",
        &socket.0,
        "tmux",
        "op",
        r#"{"kind":"new_pane"}"#,
    ]);
    assert!(!too_new.status.success());
    let message = stderr(&too_new);
    if message.contains("needs tmux") {
        assert!(
            message.contains("new_pane needs tmux 3.7 or newer; the server runs"),
            "{message}"
        );
    }
}

#[test]
fn bench_prints_one_json_object_per_scenario() {
    let output = cao(&["bench", "tmux", "--ops", "300", "--rounds", "1", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let scenarios: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["scenario"].as_str())
        .collect();
    for expected in [
        "raw_pipelined",
        "raw_sequential",
        "control_pipelined",
        "control_sequential",
        "fork_bare",
        "subprocess",
        "capture_visible_control",
        "capture_visible_fork",
    ] {
        assert!(
            scenarios.contains(&expected),
            "missing {expected}: {scenarios:?}"
        );
    }
    for line in &lines {
        assert!(line["ops"].as_u64().unwrap() > 0);
        assert!(line["ops_per_sec"].as_f64().unwrap() > 0.0);
        assert!(line["median_us"].as_f64().unwrap() > 0.0);
    }
    for engine in [
        "control_pipelined",
        "control_sequential",
        "subprocess",
        "capture_visible_control",
    ] {
        let line = lines.iter().find(|l| l["scenario"] == engine).unwrap();
        assert!(
            line["ratio_to_raw"].as_f64().unwrap() > 0.0,
            "{engine} has a ratio"
        );
    }
}

#[test]
fn the_demo_drives_a_shell_and_removes_its_server() {
    let output = cao(&["--tmux-socket", "cao-cli-test-demo", "tmux", "demo"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("answer=42"), "{text}");
    assert!(
        text.contains("1000 pipelined commands answered: 1000"),
        "{text}"
    );
    let socket = text
        .split_whitespace()
        .skip_while(|word| *word != "-L")
        .nth(1)
        .expect("the demo names its socket");
    assert!(
        !cao_tmux::Socket::named(socket).path().exists(),
        "the demo left its socket file {socket}"
    );
    let listed = Command::new("tmux")
        .args(["-L", socket, "list-sessions"])
        .output()
        .unwrap();
    assert!(
        !listed.status.success(),
        "the demo server {socket} is still running"
    );
}
