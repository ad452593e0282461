//! The I/O shell around [`Agent`]: raw mode and bracketed paste on the real terminal (undone
//! on exit and on panic), a thread reading stdin, the clock, stdout and the log file.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::agent::{Action, Agent};
use crate::script::Script;
use crate::{MockAgentError, Options};

const BRACKETED_PASTE_ON: &str = "\x1b[?2004h";
const BRACKETED_PASTE_OFF: &str = "\x1b[?2004l";
/// How long to sleep when the agent needs no tick: bounds how late a resize is noticed.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// Runs the mock agent on this process's terminal until it exits; returns the exit status.
///
/// The script and log are checked before anything is drawn.
pub fn run(options: &Options) -> Result<i32, MockAgentError> {
    let script = match &options.script {
        Some(path) => Script::load(path)?,
        None => Script::default(),
    };
    let mut log = options.log.as_ref().map(InputLog::open).transpose()?;
    let interactive = std::io::stdin().is_terminal();
    let _guard = if interactive {
        Some(TerminalGuard::enter()?)
    } else {
        None
    };

    let clock = Instant::now();
    let mut agent = Agent::new(script, Duration::ZERO);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || read_stdin(&sender));

    let mut input_open = true;
    let mut actions = agent.tick(Duration::ZERO);
    loop {
        if let Some(code) = perform(actions, log.as_mut(), options.terminal_id.as_deref())? {
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
        actions = if input_open {
            match receiver.recv_timeout(wait) {
                Ok(bytes) => {
                    let mut actions = agent.feed(&bytes, clock.elapsed());
                    actions.extend(agent.tick(clock.elapsed()));
                    actions
                }
                Err(RecvTimeoutError::Timeout) => agent.tick(clock.elapsed()),
                Err(RecvTimeoutError::Disconnected) => {
                    input_open = false;
                    agent.close_input(clock.elapsed())
                }
            }
        } else {
            std::thread::sleep(wait);
            agent.tick(clock.elapsed())
        };
    }
}

/// Sends stdin's bytes as they come; dropping the sender says the input ended.
fn read_stdin(sender: &mpsc::Sender<Vec<u8>>) {
    let mut stdin = std::io::stdin().lock();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stdin.read(&mut chunk) {
            Ok(0) => return,
            Ok(count) => {
                if sender.send(chunk[..count].to_vec()).is_err() {
                    return;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Carries out actions in order; `Some(status)` once the agent exits.
fn perform(
    actions: Vec<Action>,
    mut log: Option<&mut InputLog>,
    terminal_id: Option<&str>,
) -> Result<Option<i32>, MockAgentError> {
    // Locked per batch, not for the whole run, so the panic hook can always write.
    let mut stdout = std::io::stdout().lock();
    for action in actions {
        match action {
            Action::Write(text) => stdout
                .write_all(text.as_bytes())
                .map_err(MockAgentError::Terminal)?,
            Action::Submitted(input) => {
                if let Some(log) = log.as_deref_mut() {
                    log.append(&input, terminal_id)?;
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

/// The `--log` file: one JSON object per submitted input, appended and flushed at once.
struct InputLog {
    path: PathBuf,
    file: File,
}

impl InputLog {
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

    fn append(&mut self, input: &str, terminal_id: Option<&str>) -> Result<(), MockAgentError> {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let mut line = serde_json::json!({
            "at_ms": at_ms as u64,
            "input": input,
            "terminal_id": terminal_id,
        })
        .to_string();
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
