//! The I/O shell around [`Agent`]: raw mode and bracketed paste on the real terminal (undone
//! on exit and on panic), a thread reading stdin, the MCP client's thread, the clock, stdout
//! and the log file.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::agent::{Action, Agent, ToolCall, ToolResult};
use crate::mcp::ToolRunner;
use crate::mcp_config::McpConfig;
use crate::script::Script;
use crate::{MockAgentError, Options};

const BRACKETED_PASTE_ON: &str = "\x1b[?2004h";
const BRACKETED_PASTE_OFF: &str = "\x1b[?2004l";
/// How long to sleep when the agent needs no tick: bounds how late a resize is noticed.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// What wakes the shell up.
enum Incoming {
    /// Bytes from stdin.
    Input(Vec<u8>),
    /// Stdin ended.
    InputClosed,
    /// A tool call finished.
    ToolDone(ToolCall, ToolResult),
}

/// Runs the mock agent on this process's terminal until it exits; returns the exit status.
///
/// The script, the MCP config and the log are checked before anything is drawn. MCP servers
/// are connected in the background from the start.
pub fn run(options: &Options) -> Result<i32, MockAgentError> {
    let script = match &options.script {
        Some(path) => Script::load(path)?,
        None => Script::builtin(options.profile.as_deref())?,
    };
    let mcp_config = options
        .mcp_config
        .as_deref()
        .map(McpConfig::load)
        .transpose()?;
    let log = options.log.as_ref().map(EventLog::open).transpose()?;
    let interactive = std::io::stdin().is_terminal();
    let _guard = if interactive {
        Some(TerminalGuard::enter()?)
    } else {
        None
    };

    let (sender, receiver) = mpsc::channel();
    let runner = mcp_config
        .filter(|config| !config.servers.is_empty())
        .map(|config| {
            let results = sender.clone();
            ToolRunner::start(
                config,
                Box::new(move |call, result| {
                    // The receiver is gone only once the agent has exited.
                    let _ = results.send(Incoming::ToolDone(call, result));
                }),
            )
        });
    let input = sender.clone();
    std::thread::spawn(move || read_stdin(&input));
    let mut shell = Shell {
        log,
        terminal_id: options.terminal_id.clone(),
        runner,
        results: sender,
    };

    let clock = Instant::now();
    let mut agent = Agent::new(script, Duration::ZERO);
    let mut actions = agent.tick(Duration::ZERO);
    loop {
        if let Some(code) = shell.perform(actions)? {
            return Ok(code);
        }
        if interactive {
            if let Ok((columns, _rows)) = crossterm::terminal::size() {
                agent.set_width(columns);
            }
        }
        let now = clock.elapsed();
        let wait = agent
            .next_deadline()
            .map_or(IDLE_WAIT, |deadline| deadline.saturating_sub(now));
        actions = match receiver.recv_timeout(wait) {
            Ok(Incoming::Input(bytes)) => {
                let mut actions = agent.feed(&bytes, clock.elapsed());
                actions.extend(agent.tick(clock.elapsed()));
                actions
            }
            Ok(Incoming::InputClosed) => agent.close_input(clock.elapsed()),
            Ok(Incoming::ToolDone(call, result)) => {
                if let Some(log) = shell.log.as_mut() {
                    log.append_tool_call(&call, &result, shell.terminal_id.as_deref())?;
                }
                agent.tool_result(call.id, result, clock.elapsed())
            }
            // The shell holds a sender itself, so the channel never disconnects.
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                agent.tick(clock.elapsed())
            }
        };
    }
}

/// Sends stdin's bytes as they come, then [`Incoming::InputClosed`].
fn read_stdin(sender: &mpsc::Sender<Incoming>) {
    let mut stdin = std::io::stdin().lock();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(count) => {
                if sender
                    .send(Incoming::Input(chunk[..count].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = sender.send(Incoming::InputClosed);
}

/// What carries out the agent's actions.
struct Shell {
    log: Option<EventLog>,
    terminal_id: Option<String>,
    /// `None` without MCP servers: every call fails at once.
    runner: Option<ToolRunner>,
    /// Where immediate failures of calls go, like results from the runner.
    results: mpsc::Sender<Incoming>,
}

impl Shell {
    /// Carries out actions in order; `Some(status)` once the agent exits.
    fn perform(&mut self, actions: Vec<Action>) -> Result<Option<i32>, MockAgentError> {
        // Locked per batch, not for the whole run, so the panic hook can always write.
        let mut stdout = std::io::stdout().lock();
        for action in actions {
            match action {
                Action::Write(text) => stdout
                    .write_all(text.as_bytes())
                    .map_err(MockAgentError::Terminal)?,
                Action::Submitted(input) => {
                    if let Some(log) = self.log.as_mut() {
                        log.append_input(&input, self.terminal_id.as_deref())?;
                    }
                }
                Action::CallTool(call) => {
                    let refused = match &self.runner {
                        Some(runner) => runner
                            .call(call)
                            .err()
                            .map(|call| (call, "the MCP client is not running".to_owned())),
                        None => Some((
                            call,
                            "no MCP servers are configured (see --mcp-config)".to_owned(),
                        )),
                    };
                    if let Some((call, reason)) = refused {
                        let result = ToolResult {
                            text: reason,
                            is_error: true,
                        };
                        // Our own receiver: it is alive as long as this shell.
                        let _ = self.results.send(Incoming::ToolDone(call, result));
                    }
                }
                Action::Exit(code) => {
                    stdout.flush().map_err(MockAgentError::Terminal)?;
                    return Ok(Some(code));
                }
            }
        }
        stdout.flush().map_err(MockAgentError::Terminal)?;
        Ok(None)
    }
}

/// The `--log` file: one JSON object per submitted input and per finished tool call,
/// appended and flushed at once.
struct EventLog {
    path: PathBuf,
    file: File,
}

impl EventLog {
    fn open(path: &PathBuf) -> Result<Self, MockAgentError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| MockAgentError::LogOpen {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path: path.clone(),
            file,
        })
    }

    fn append_input(
        &mut self,
        input: &str,
        terminal_id: Option<&str>,
    ) -> Result<(), MockAgentError> {
        self.append(serde_json::json!({
            "at_ms": now_ms(),
            "input": input,
            "terminal_id": terminal_id,
        }))
    }

    fn append_tool_call(
        &mut self,
        call: &ToolCall,
        result: &ToolResult,
        terminal_id: Option<&str>,
    ) -> Result<(), MockAgentError> {
        self.append(serde_json::json!({
            "at_ms": now_ms(),
            "tool": call.tool,
            "args": call.args,
            "result": result.text,
            "is_error": result.is_error,
            "terminal_id": terminal_id,
        }))
    }

    fn append(&mut self, entry: serde_json::Value) -> Result<(), MockAgentError> {
        let mut line = entry.to_string();
        line.push('\n');
        // One write of the whole line on an O_APPEND file: lines from several agents sharing a
        // log do not interleave.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| MockAgentError::LogWrite {
                path: self.path.clone(),
                source,
            })
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Raw mode and bracketed paste while alive; restored on drop and by the panic hook.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> Result<Self, MockAgentError> {
        crossterm::terminal::enable_raw_mode().map_err(MockAgentError::Terminal)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(BRACKETED_PASTE_ON.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|error| {
                restore_terminal();
                MockAgentError::Terminal(error)
            })?;
        Ok(Self)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Idempotent, so the panic hook and the guard may both run it.
fn restore_terminal() {
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(BRACKETED_PASTE_OFF.as_bytes());
    let _ = stdout.flush();
    let _ = crossterm::terminal::disable_raw_mode();
}
