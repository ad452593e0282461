//! `cao mock-agent` in a real tmux pane on a private server: the screen contract, byte-exact
//! delivery of pasted input, scripts, exit statuses.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BANNER: &str = "cao mock-agent — scripted agent; type /exit to quit";
const DEADLINE: Duration = Duration::from_secs(15);

/// A tmux server on its own socket, running one mock agent in pane `main`; killed on drop.
struct MockPane {
    socket: String,
    dir: tempfile::TempDir,
}

impl MockPane {
    /// Starts `cao mock-agent --log <log>` with `extra` arguments; see [`MockPane::launch`].
    fn start(extra: &[&str]) -> Self {
        let pane = Self::new();
        pane.launch(extra);
        pane
    }

    /// A private socket name and a temp dir; no server yet.
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let socket = format!(
            "cao-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            socket,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts `cao mock-agent --log <dir>/log.jsonl` (plus `extra` arguments) in a 120×40 pane
    /// that stays around after the agent exits, so its status can be read.
    fn launch(&self, extra: &[&str]) {
        let mut command = format!(
            "CAO_TERMINAL_ID=term-1 {} mock-agent --log {}",
            quote(env!("CARGO_BIN_EXE_cao")),
            quote(self.log_path().to_str().unwrap())
        );
        for argument in extra {
            command.push(' ');
            command.push_str(&quote(argument));
        }
        // The shell's `$?` rather than `#{pane_dead_status}`: tmux 3.3a sometimes marks a
        // pane dead without ever recording the status (it loses the SIGCHLD while
        // libutempter's helper runs; see cao_mux::tmux).
        command.push_str(&format!(
            "; echo $? > {}",
            quote(self.status_path().to_str().unwrap())
        ));
        // One command sequence, so remain-on-exit is set before the agent can exit: the pane
        // and its last screen stay for the test to read.
        let output = self.tmux_output(&[
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "120",
            "-y",
            "40",
            &command,
        ]);
        assert!(output.status.success(), "{output:?}");
    }

    fn status_path(&self) -> PathBuf {
        self.dir.path().join("status")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log.jsonl")
    }

    fn script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn tmux_output(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = self.tmux_output(args);
        assert!(output.status.success(), "tmux {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The whole history and screen, wrapped lines joined.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "main"])
    }

    /// Polls the screen until `condition` holds; panics with the screen at the deadline.
    fn wait_for(&self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if condition(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn wait_for_prompt(&self) -> String {
        self.wait_for("the prompt", |screen| bottom_line(screen) == "mock>")
    }

    /// Bracketed paste with newlines kept (`-r`), then Enter after a short pause.
    fn paste_and_submit(&self, text: &str) {
        let mut child = Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(["load-buffer", "-b", "input", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        self.tmux(&[
            "paste-buffer",
            "-p",
            "-r",
            "-d",
            "-b",
            "input",
            "-t",
            "main",
        ]);
        std::thread::sleep(Duration::from_millis(100));
        self.tmux(&["send-keys", "-t", "main", "Enter"]);
    }

    /// The agent's exit status, once it has exited.
    fn exit_status(&self) -> i32 {
        let start = Instant::now();
        loop {
            let status = std::fs::read_to_string(self.status_path()).unwrap_or_default();
            if status.ends_with('\n') {
                return status.trim().parse().unwrap();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "agent still running; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl Drop for MockPane {
    fn drop(&mut self) {
        // tmux leaves the socket file behind after kill-server; remove it too.
        let socket_path = self
            .tmux_output(&["display-message", "-p", "#{socket_path}"])
            .stdout;
        let _ = self.tmux_output(&["kill-server"]);
        let socket_path = String::from_utf8_lossy(&socket_path).trim().to_owned();
        if socket_path.ends_with(&self.socket) {
            let _ = std::fs::remove_file(socket_path);
        }
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn bottom_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim_end()
}

fn is_working_line(line: &str) -> bool {
    let mut characters = line.chars();
    let spinner = characters.next().unwrap_or(' ');
    "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".contains(spinner)
        && characters
            .as_str()
            .starts_with(" working… (esc to interrupt, ")
        && line.ends_with("s)")
}

/// `✓ done in N.Ns` with one decimal.
fn is_done_line(line: &str) -> bool {
    line.strip_prefix("✓ done in ")
        .and_then(|rest| rest.strip_suffix('s'))
        .and_then(|number| number.split_once('.'))
        .is_some_and(|(whole, tenth)| {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && tenth.len() == 1
                && tenth.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The lines after the last line equal to `marker`.
fn lines_after<'a>(screen: &'a str, marker: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let at = lines
        .iter()
        .rposition(|line| *line == marker)
        .unwrap_or_else(|| panic!("no line {marker:?} in:\n{screen}"));
    let mut rest = lines[at + 1..].to_vec();
    while rest.last().is_some_and(|line| line.is_empty()) {
        rest.pop();
    }
    rest
}

#[test]
fn prompt_appears_after_the_banner_and_exit_ends_with_status_0() {
    let pane = MockPane::start(&[]);
    let screen = pane.wait_for_prompt();
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    assert_eq!(&lines[..3], &[BANNER, "", "mock>"], "{screen}");
    pane.tmux(&["send-keys", "-t", "main", "-l", "/exit"]);
    pane.wait_for("typed echo", |screen| bottom_line(screen) == "mock> /exit");
    pane.tmux(&["send-keys", "-t", "main", "Enter"]);
    assert_eq!(pane.exit_status(), 0);
    assert_eq!(pane.log()[0]["input"], "/exit");
}

#[test]
fn hostile_paste_arrives_byte_for_byte_and_the_reply_follows_the_contract() {
    let pane = MockPane::start(&[]);
    pane.wait_for_prompt();
    let long_line: String = "0123456789abcdef;$x".repeat(1100);
    let text = format!(
        "say \"hi\" && echo 'quoted'; rm -rf $(pwd) `id`\n\
         C:\\path\\to\\file \\n not a newline \\\\\n\
         Unicode: é ✓ 漢字 😀 \u{200b}\ttab\n\
         {long_line}\n\
         last line"
    );
    assert!(long_line.len() > 20_000);
    pane.paste_and_submit(&text);
    let screen = pane.wait_for("the reply", |screen| {
        bottom_line(screen) == "mock>" && screen.contains("✓ done in")
    });

    let log = pane.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["input"].as_str().unwrap(), text);
    assert_eq!(log[0]["terminal_id"], "term-1");
    assert!(log[0]["at_ms"].as_u64().unwrap() > 1_600_000_000_000);

    let summary = format!("mock> [pasted 5 lines, {} chars]", text.chars().count());
    let block = lines_after(&screen, &summary);
    assert_eq!(
        block[0],
        "» say \"hi\" && echo 'quoted'; rm -rf $(pwd) `id`"
    );
    assert_eq!(block[1], "»   (+4 more lines)");
    assert_eq!(
        block[2],
        "● echo: say \"hi\" && echo 'quoted'; rm -rf $(pwd) `id`"
    );
    assert_eq!(block[3], "  C:\\path\\to\\file \\n not a newline \\\\");
    assert!(
        block[4].starts_with("  Unicode: é ✓ 漢字 😀"),
        "{}",
        block[4]
    );
    assert!(block[4].ends_with(" tab"), "{}", block[4]);
    assert_eq!(block[5], format!("  {long_line}"));
    assert_eq!(block[6], "  last line");
    assert!(is_done_line(block[7]), "{}", block[7]);
    assert_eq!(block[8], "");
    assert_eq!(block[9], "mock>");
    assert_eq!(block.len(), 10);
}

#[test]
fn a_delay_shows_the_working_line_until_the_reply() {
    let pane = MockPane::new();
    let script = pane.script(
        "slow.toml",
        "[[rules]]\nmatch = \"slow\"\nreply = \"slow reply\\nsecond line\"\ndelay_ms = 1500\n",
    );
    pane.launch(&["--script", script.to_str().unwrap()]);
    pane.wait_for_prompt();
    pane.paste_and_submit("a slow task");
    let screen = pane.wait_for("the working line", |screen| {
        is_working_line(bottom_line(screen))
    });
    assert!(screen.contains("» a slow task\n"), "{screen}");
    let screen = pane.wait_for("the reply", |screen| bottom_line(screen) == "mock>");
    let block = lines_after(&screen, "» a slow task");
    assert_eq!(block[0], "● slow reply");
    assert_eq!(block[1], "  second line");
    assert!(is_done_line(block[2]), "{}", block[2]);
    assert!(block[2] >= "✓ done in 1.5s", "{}", block[2]);
    assert!(
        !screen.contains("working…"),
        "the working line is replaced:\n{screen}"
    );
}

#[test]
fn an_approval_rule_asks_and_y_continues() {
    let pane = MockPane::new();
    let script = pane.script(
        "approve.toml",
        "[[rules]]\nmatch = \"deploy\"\nask_approval = true\ndelay_ms = 100\nreply = \"deployed {input}\"\n",
    );
    pane.launch(&["--script", script.to_str().unwrap()]);
    pane.wait_for_prompt();
    pane.paste_and_submit("deploy v2");
    pane.wait_for("the question", |screen| {
        bottom_line(screen) == "? Allow mock tool to run? (y/n)"
    });
    pane.tmux(&["send-keys", "-t", "main", "y"]);
    let screen = pane.wait_for("the reply", |screen| bottom_line(screen) == "mock>");
    let block = lines_after(&screen, "» deploy v2");
    assert_eq!(block[0], "? Allow mock tool to run? (y/n) y");
    assert_eq!(block[1], "● deployed deploy v2");
    assert!(is_done_line(block[2]), "{}", block[2]);
}

#[test]
fn an_error_rule_exits_with_its_code() {
    let pane = MockPane::new();
    let script = pane.script(
        "crash.toml",
        "[[rules]]\nmatch = \"crash\"\nerror = \"model overloaded\"\nexit_code = 3\ndelay_ms = 50\n",
    );
    pane.launch(&["--script", script.to_str().unwrap()]);
    pane.wait_for_prompt();
    pane.paste_and_submit("crash please");
    assert_eq!(pane.exit_status(), 3);
    let screen = pane.screen();
    assert!(
        screen.contains("» crash please\n✗ error: model overloaded\n"),
        "{screen}"
    );
    assert_eq!(pane.log()[0]["input"], "crash please");
}

#[test]
fn ctrl_c_on_an_empty_prompt_exits_with_130() {
    let pane = MockPane::start(&[]);
    pane.wait_for_prompt();
    pane.tmux(&["send-keys", "-t", "main", "C-c"]);
    assert_eq!(pane.exit_status(), 130);
}

#[test]
fn a_malformed_script_fails_in_one_line_before_drawing() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.toml");
    std::fs::write(&script, "[[rules]]\nmatch = \"x\"\ntool = \"fs.read\"\n").unwrap();
    let output = mock_agent_with_stdin(&["--script", script.to_str().unwrap()], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "drew something: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: script {}: line 3: unknown field `tool`",
            script.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_malformed_mcp_config_fails_in_one_line_before_drawing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp.json");
    for (text, problem) in [
        (
            "{\"mcpServers\": {\"cao\": {\"args\": []}}}",
            "server `cao`: a stdio server needs a `command`",
        ),
        ("{\"mcpServers\": ", "EOF while parsing"),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = mock_agent_with_stdin(&["--mcp-config", config.to_str().unwrap()], b"");
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(output.stdout.is_empty(), "drew something: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: MCP config {}: {problem}",
                config.display()
            )),
            "{stderr}"
        );
    }
    let missing = dir.path().join("none.json");
    let output = mock_agent_with_stdin(&["--mcp-config", missing.to_str().unwrap()], b"");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read it"));
}

/// Without MCP servers a tool call fails at once; the reply still comes.
#[test]
fn the_assign_footer_without_mcp_servers_still_gets_its_reply() {
    let output = mock_agent_with_stdin(
        &["--profile", "reviewer"],
        b"\x1b[200~Check it\nReply with the send_message tool.\x1b[201~\r",
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let position = |line: &str| {
        stdout
            .find(&format!("\x1b[2K{line}\r\n"))
            .unwrap_or_else(|| panic!("no line {line:?} in {stdout:?}"))
    };
    let calling = position("● calling send_message(message=\"Reviewed: Check it\")");
    let failed =
        position("● tool send_message failed: no MCP servers are configured (see --mcp-config)");
    let reply = position("● Sent my result to my supervisor.");
    assert!(calling < failed && failed < reply, "{stdout:?}");
}

#[test]
fn piped_input_is_answered_and_the_end_of_input_exits_0() {
    let output = mock_agent_with_stdin(&[], b"hi there\r");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\r\n» hi there\r\n"), "{stdout:?}");
    assert!(stdout.contains("● echo: hi there\r\n"), "{stdout:?}");
    assert!(
        stdout.ends_with("s\r\n\r\n"),
        "no prompt after the end of input: {stdout:?}"
    );
    assert!(stdout.contains("✓ done in 0."), "{stdout:?}");
}

#[test]
fn ctrl_c_while_working_interrupts_and_returns_to_the_prompt() {
    let pane = MockPane::new();
    let script = pane.script("slow.toml", "[[rules]]\ndelay_ms = 60000\n");
    pane.launch(&["--script", script.to_str().unwrap()]);
    pane.wait_for_prompt();
    pane.paste_and_submit("never finishes");
    pane.wait_for("the working line", |screen| {
        is_working_line(bottom_line(screen))
    });
    pane.tmux(&["send-keys", "-t", "main", "C-c"]);
    let screen = pane.wait_for("the prompt", |screen| bottom_line(screen) == "mock>");
    assert_eq!(
        lines_after(&screen, "» never finishes"),
        vec!["✗ interrupted", "", "mock>"]
    );
}

/// What the orchestrator must know: without `-r`, tmux pastes each newline as `\r`, and the
/// agent receives (and logs) exactly that.
#[test]
fn tmux_without_r_pastes_newlines_as_carriage_returns() {
    let pane = MockPane::start(&[]);
    pane.wait_for_prompt();
    pane.tmux(&["set-buffer", "-b", "input", "one\ntwo"]);
    pane.tmux(&["paste-buffer", "-p", "-d", "-b", "input", "-t", "main"]);
    std::thread::sleep(Duration::from_millis(100));
    pane.tmux(&["send-keys", "-t", "main", "Enter"]);
    pane.wait_for("the reply", |screen| screen.contains("✓ done in"));
    assert_eq!(pane.log()[0]["input"], "one\rtwo");
}

fn mock_agent_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cao"))
        .arg("mock-agent")
        .args(args)
        .env_remove("CAO_MOCK_AGENT_SCRIPT")
        .env_remove("CAO_MOCK_AGENT_LOG")
        .env_remove("CAO_MOCK_AGENT_MCP_CONFIG")
        .env_remove("CAO_MOCK_AGENT_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
