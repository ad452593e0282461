//! `cao mock-model serve` run as a user runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};

/// The server process; killed (by its pid) when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cao(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cao"))
        .args(args)
        .output()
        .expect("cao runs")
}

/// A bare HTTP/1.1 request; the whole response as text.
fn http_post(port: u16, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serves_its_script_on_the_printed_port_and_logs_each_request() {
    let directory = tempfile::tempdir().unwrap();
    let script = directory.path().join("script.toml");
    let log = directory.path().join("requests.jsonl");
    std::fs::write(&script, "default_reply = \"echo: {input}\"\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cao"))
        .args(["mock-model", "serve", "--port", "0", "--script"])
        .arg(&script)
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serving = Serving(child);
    let mut first_line = String::new();
    BufReader::new(serving.0.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let port: u16 = first_line
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
        .parse()
        .unwrap();
    assert_ne!(port, 0);

    let response = http_post(
        port,
        "/v1/chat/completions",
        r#"{"model":"m","messages":[{"role":"user","content":"hello ✓"}]}"#,
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("echo: hello ✓"), "{response}");

    let logged = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(logged.lines().next().unwrap()).unwrap();
    assert_eq!(line["api"], "chat");
    assert_eq!(line["input"], "hello ✓");
    assert_eq!(line["action"], "reply");
}

#[test]
fn refuses_a_host_that_is_not_loopback() {
    let output = cao(&[
        "mock-model",
        "serve",
        "--host",
        "0.0.0.0",
        "--script",
        "/nonexistent.toml",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[test]
fn a_bad_script_fails_in_one_line_naming_the_key() {
    let directory = tempfile::tempdir().unwrap();
    let script = directory.path().join("script.toml");
    std::fs::write(&script, "[[rules]]\nreplly = \"x\"\n").unwrap();
    let output = cao(&["mock-model", "serve", "--script", script.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("replly"), "{stderr}");
}
