//! `cao provider …` run as a user runs it, on captured screens from `fixtures/screens`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const SCREENS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/screens");

/// Runs `cao` with an empty `CAO_HOME_DIR`, so only the built-in packs are seen.
fn cao(args: &[&str], home: &std::path::Path, path_env: Option<&std::ffi::OsStr>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cao"));
    command.args(args).env("CAO_HOME_DIR", home);
    if let Some(path_env) = path_env {
        command.env("PATH", path_env);
    }
    command.output().expect("cao runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What `cao provider classify` prints for a fixture screen (it must succeed).
fn classify(home: &std::path::Path, provider: &str, screen: &str) -> String {
    let path = format!("{SCREENS}/{screen}");
    let output = cao(
        &["provider", "classify", "--provider", provider, &path],
        home,
        None,
    );
    assert!(output.status.success(), "{screen}: {}", stderr(&output));
    stdout(&output)
}

#[test]
fn classify_prints_one_word() {
    let home = tempfile::tempdir().unwrap();
    for (provider, screen, expected) in [
        ("claude", "claude/10-processing-3s.txt", "processing"),
        ("claude_code", "claude/07-reply-paste.txt", "completed"),
        (
            "codex",
            "codex/08-approval-prompt.txt",
            "waiting_user_answer",
        ),
        ("gemini", "gemini/20-yolo-idle.txt", "idle"),
        ("claude", "claude-raw/01-startup-firstrun.txt", "error"),
        ("mock_cli", "mock/03-completed.txt", "completed"),
    ] {
        assert_eq!(
            classify(home.path(), provider, screen),
            format!("{expected}\n"),
            "{screen}"
        );
    }
}

/// The done-when of the provider packs: the CLI agrees with every labelled fixture screen.
#[test]
fn classify_agrees_with_every_labelled_fixture() {
    let home = tempfile::tempdir().unwrap();
    let labels = std::fs::read_to_string(format!("{SCREENS}/labels.tsv")).unwrap();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for line in labels.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (screen, expected) = line.split_once('\t').expect("two columns");
        let expected = expected.trim();
        if expected == "skip" {
            continue;
        }
        let directory = screen.split('/').next().unwrap();
        let provider = directory.strip_suffix("-raw").unwrap_or(directory);
        let read = classify(home.path(), provider, screen);
        if read.trim() != expected {
            disagreements.push(format!(
                "{screen}: expected {expected}, read {}",
                read.trim()
            ));
        }
        checked += 1;
    }
    assert!(checked > 80, "labels.tsv lost rows: {checked}");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn classify_reads_stdin() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cao"))
        .args(["provider", "classify", "--provider", "mock", "-"])
        .env("CAO_HOME_DIR", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cao starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all("mock> hi\n» hi\n⠙ working… (esc to interrupt, 4s)\n".as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(stdout(&output), "processing\n");
}

#[test]
fn unknown_provider_is_a_one_line_error_listing_known_names() {
    let home = tempfile::tempdir().unwrap();
    let path = format!("{SCREENS}/claude/00-launch-0.5s.txt");
    let output = cao(
        &["provider", "classify", "--provider", "nope", &path],
        home.path(),
        None,
    );
    assert!(!output.status.success());
    assert!(stdout(&output).is_empty());
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(
            "error: unknown provider `nope`; known providers: aider, claude_code, codex,"
        ),
        "{message}"
    );
}

#[test]
fn a_broken_override_names_its_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("providers")).unwrap();
    std::fs::write(
        home.path().join("providers/bad.toml"),
        "name = \"bad\"\ndisplay_name = 3\n",
    )
    .unwrap();
    let output = cao(&["provider", "list"], home.path(), None);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("bad.toml:2:"), "{message}");
    assert!(message.contains("display_name = 3"), "{message}");
}

#[cfg(unix)]
#[test]
fn list_reports_installed_binaries_from_path() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let codex = bin.path().join("codex");
    std::fs::write(&codex, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = cao(
        &["provider", "list", "--json"],
        home.path(),
        Some(bin.path().as_os_str()),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let row = |name: &str| rows.iter().find(|row| row["name"] == name).unwrap().clone();
    assert_eq!(row("codex")["installed"], true);
    assert_eq!(row("codex")["path"], codex.display().to_string());
    assert_eq!(row("claude_code")["installed"], false);
    assert_eq!(row("claude_code")["aliases"], serde_json::json!(["claude"]));
    // As the server reports it: the mock agent is cao itself, whatever PATH holds.
    assert_eq!(row("mock")["installed"], true);
    let mock_path = std::path::PathBuf::from(row("mock")["path"].as_str().unwrap());
    assert_eq!(
        mock_path.canonicalize().unwrap(),
        std::path::Path::new(env!("CARGO_BIN_EXE_cao"))
            .canonicalize()
            .unwrap()
    );

    let table = stdout(&cao(
        &["provider", "list"],
        home.path(),
        Some(bin.path().as_os_str()),
    ));
    assert!(table.starts_with("NAME"), "{table}");
    let codex_line = table
        .lines()
        .find(|line| line.starts_with("codex "))
        .unwrap();
    assert!(codex_line.contains("yes ("), "{codex_line}");
    let claude_line = table
        .lines()
        .find(|line| line.starts_with("claude_code "))
        .unwrap();
    assert!(
        claude_line.contains("no  (install: npm install -g @anthropic-ai/claude-code)"),
        "{claude_line}"
    );
}
