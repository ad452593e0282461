//! The mock agent's sans-I/O core: a state machine fed with input bytes and clock readings
//! that answers with [`Action`]s (bytes to write, inputs to log, the exit status).
//!
//! It owns the screen contract that classifiers read:
//!
//! ```text
//! cao mock-agent — scripted agent; type /exit to quit
//!
//! mock> hello
//! » hello
//! ⠋ working… (esc to interrupt, 0s)      ← bottom line while working, redrawn in place
//! ● echo: hello                          ← replaces the working line
//! ✓ done in 0.2s
//!
//! mock> _
//! ```
//!
//! A rule's tool calls appear between the echo and the reply, the working line staying at the
//! bottom while each runs:
//!
//! ```text
//! ● calling handoff(agent_profile="developer", message="Implement: x")
//!   ⎿ {"success":true,"output":"done",…}       ← first line of the result
//! ● calling assign(agent_profile="reviewer", …)
//! ● tool assign failed: connection refused     ← a failed call; the turn goes on
//! ● developer: done
//! ```
//!
//! The core does not make the calls: it asks for one with [`Action::CallTool`] and is told
//! the result with [`Agent::tool_result`], so tests feed it fake results.
//!
//! Time is a [`Duration`] since the program started, supplied by the caller, so tests drive
//! the clock by hand.

use std::time::Duration;

use crate::input::{Event, InputParser};
use crate::script::{Outcome, Plan, Script};
use crate::template::Context;

/// The first line on screen.
pub const BANNER: &str = "cao mock-agent — scripted agent; type /exit to quit";
/// The ready prompt.
pub const PROMPT: &str = "mock> ";
/// Spinner frames of the working line.
pub const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// The approval question (bottom line while waiting for `y`/`n`).
pub const APPROVAL_QUESTION: &str = "? Allow mock tool to run? (y/n) ";
/// Exit status after Ctrl-C on an empty prompt (as a shell reports SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// How often the spinner moves.
pub const SPINNER_FRAME: Duration = Duration::from_millis(100);
/// How long a lone `ESC` may wait for the rest of an escape sequence before it counts as the
/// Esc key.
pub const ESCAPE_WAIT: Duration = Duration::from_millis(30);

/// Back to column 0 and erase the line: every in-place redraw starts with it.
const CLEAR_LINE: &str = "\r\x1b[2K";
/// The screen width assumed until the caller tells the real one.
const DEFAULT_WIDTH: usize = 80;

/// What the I/O shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write these bytes to the terminal.
    Write(String),
    /// An input was submitted: log it. Exact text, except that bytes which are not UTF-8 are
    /// replaced by U+FFFD.
    Submitted(String),
    /// Make this tool call off the terminal thread, then pass its result to
    /// [`Agent::tool_result`].
    CallTool(ToolCall),
    /// Exit with this status.
    Exit(i32),
}

/// A tool call the agent wants made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Names this call in [`Agent::tool_result`]; unique within a run.
    pub id: u64,
    /// `tool` or `server.tool`, as the script wrote it.
    pub tool: String,
    /// The arguments, placeholders filled in (a JSON object).
    pub args: serde_json::Value,
}

/// What a tool call gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The result's text, or for a failed call the reason.
    pub text: String,
    /// Whether the call failed (no answer, or a result flagged `isError`).
    pub is_error: bool,
}

/// The agent: screen state, input buffer, the job in progress.
#[derive(Debug)]
pub struct Agent {
    script: Script,
    parser: InputParser,
    /// What is being typed (and pasted) at the prompt, as received.
    buffer: Vec<u8>,
    phase: Phase,
    width: usize,
    input_closed: bool,
    last_input_at: Duration,
    next_call_id: u64,
    actions: Vec<Action>,
}

#[derive(Debug)]
enum Phase {
    /// Simulated slow start: nothing drawn until `ready_at`.
    Starting { ready_at: Duration },
    /// The prompt is on the bottom line.
    Prompt,
    /// Answering an input.
    Busy(Box<Job>),
    /// Gone; every further call is ignored.
    Exited,
}

#[derive(Debug)]
struct Job {
    started_at: Duration,
    /// The submitted input, for placeholders.
    input: String,
    /// Results of the calls made so far.
    results: Vec<ToolResult>,
    plan: Plan,
    step: Step,
    frame: usize,
    next_frame_at: Duration,
}

#[derive(Debug)]
enum Step {
    /// The working line is at the bottom until `until`.
    Working { until: Duration },
    /// The approval question is at the bottom.
    Asking,
    /// Waiting for the result of call `id`, the working line at the bottom.
    Calling { id: u64 },
    /// Reply lines appear one at a time above the working line.
    Streaming {
        lines: Vec<String>,
        next: usize,
        next_at: Duration,
    },
}

impl Agent {
    /// An agent that shows its banner once `now + startup_delay_ms` is reached (call
    /// [`Agent::tick`] to draw it).
    pub fn new(script: Script, now: Duration) -> Self {
        let ready_at = now + Duration::from_millis(script.startup_delay_ms);
        Self {
            script,
            parser: InputParser::new(),
            buffer: Vec::new(),
            phase: Phase::Starting { ready_at },
            width: DEFAULT_WIDTH,
            input_closed: false,
            last_input_at: now,
            next_call_id: 0,
            actions: Vec::new(),
        }
    }

    /// Sets the screen width (columns), used to keep the prompt and echo lines on one row.
    pub fn set_width(&mut self, columns: u16) {
        self.width = usize::from(columns).max(20);
    }

    /// Whether the agent has exited (an [`Action::Exit`] was returned).
    pub fn has_exited(&self) -> bool {
        matches!(self.phase, Phase::Exited)
    }

    /// Bytes from the terminal.
    pub fn feed(&mut self, bytes: &[u8], now: Duration) -> Vec<Action> {
        self.last_input_at = now;
        let mut events = Vec::new();
        self.parser.feed(bytes, &mut events);
        for event in events {
            self.handle(event, now);
        }
        self.advance(now);
        std::mem::take(&mut self.actions)
    }

    /// The clock moved: draw the spinner, finish work that is due.
    pub fn tick(&mut self, now: Duration) -> Vec<Action> {
        if self.parser.has_pending_escape() && now >= self.last_input_at + ESCAPE_WAIT {
            let mut events = Vec::new();
            self.parser.flush_escape(&mut events);
            for event in events {
                self.handle(event, now);
            }
        }
        self.advance(now);
        std::mem::take(&mut self.actions)
    }

    /// The terminal's input ended: exit at the next prompt (at once if idle). A pending
    /// approval question counts as denied.
    pub fn close_input(&mut self, now: Duration) -> Vec<Action> {
        let mut events = Vec::new();
        self.parser.flush_escape(&mut events);
        for event in events {
            self.handle(event, now);
        }
        self.input_closed = true;
        match &self.phase {
            Phase::Starting { .. } | Phase::Prompt => self.exit(0),
            Phase::Busy(job) if matches!(job.step, Step::Asking) => self.answer(false, now),
            Phase::Busy(_) | Phase::Exited => {}
        }
        self.advance(now);
        std::mem::take(&mut self.actions)
    }

    /// The result of the tool call `id`. A result for a call that is no longer awaited (the
    /// turn was interrupted) is ignored.
    pub fn tool_result(&mut self, id: u64, result: ToolResult, now: Duration) -> Vec<Action> {
        if let Phase::Busy(job) = &mut self.phase {
            if matches!(job.step, Step::Calling { id: awaited } if awaited == id) {
                let tool = job
                    .plan
                    .calls
                    .get(job.results.len())
                    .map_or("?", |call| call.tool.as_str());
                let first = split_lines(&result.text)
                    .first()
                    .map_or(String::new(), |line| sanitize(line));
                // One column spare, as for the prompt, so the line never wraps.
                let line = if result.is_error {
                    fit_head(
                        &format!("● tool {tool} failed: {first}"),
                        self.width.saturating_sub(1),
                    )
                } else if first.is_empty() {
                    "  ⎿ (no output)".to_owned()
                } else {
                    format!("  ⎿ {}", fit_head(&first, self.width.saturating_sub(5)))
                };
                job.results.push(result);
                // Working with nothing left to wait for: `advance` starts the next call or
                // gives the outcome.
                job.step = Step::Working { until: now };
                let working = working_line(job, now);
                self.write(CLEAR_LINE);
                self.write(&line);
                self.write("\r\n");
                self.write(&working);
            }
        }
        self.advance(now);
        std::mem::take(&mut self.actions)
    }

    /// When the agent next needs [`Agent::tick`], if at all.
    pub fn next_deadline(&self) -> Option<Duration> {
        let escape = self
            .parser
            .has_pending_escape()
            .then_some(self.last_input_at + ESCAPE_WAIT);
        let phase = match &self.phase {
            Phase::Starting { ready_at } => Some(*ready_at),
            Phase::Busy(job) => match &job.step {
                Step::Working { until } => Some((*until).min(job.next_frame_at)),
                Step::Streaming { next_at, .. } => Some((*next_at).min(job.next_frame_at)),
                Step::Calling { .. } => Some(job.next_frame_at),
                Step::Asking => None,
            },
            Phase::Prompt | Phase::Exited => None,
        };
        match (escape, phase) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle(&mut self, event: Event, now: Duration) {
        match &mut self.phase {
            Phase::Exited => {}
            Phase::Starting { .. } => match event {
                Event::Interrupt => self.exit(EXIT_INTERRUPTED),
                // Typed ahead; shown once the prompt appears. Enter is lost, as with agents
                // that are not listening yet.
                Event::Text(bytes) | Event::Paste(bytes) => self.buffer.extend_from_slice(&bytes),
                Event::Backspace => pop_char(&mut self.buffer),
                Event::Enter | Event::Escape => {}
            },
            Phase::Prompt => match event {
                Event::Text(bytes) | Event::Paste(bytes) => {
                    self.buffer.extend_from_slice(&bytes);
                    self.redraw_prompt();
                }
                Event::Backspace => {
                    pop_char(&mut self.buffer);
                    self.redraw_prompt();
                }
                Event::Enter => {
                    if !self.buffer.is_empty() {
                        self.submit(now);
                    }
                }
                Event::Interrupt => {
                    if self.buffer.is_empty() {
                        self.write("\r\n");
                        self.exit(EXIT_INTERRUPTED);
                    } else {
                        self.buffer.clear();
                        self.redraw_prompt();
                    }
                }
                Event::Escape => {}
            },
            Phase::Busy(job) => match event {
                Event::Interrupt | Event::Escape => {
                    self.write(CLEAR_LINE);
                    self.write("✗ interrupted\r\n\r\n");
                    self.back_to_prompt();
                }
                Event::Text(bytes) if matches!(job.step, Step::Asking) => match bytes.first() {
                    Some(b'y' | b'Y') => self.answer(true, now),
                    Some(b'n' | b'N') => self.answer(false, now),
                    _ => {}
                },
                // Type-ahead: kept for the next prompt, not shown while working.
                Event::Text(bytes) | Event::Paste(bytes) => self.buffer.extend_from_slice(&bytes),
                Event::Backspace => pop_char(&mut self.buffer),
                Event::Enter => {}
            },
        }
    }

    fn submit(&mut self, now: Duration) {
        let input = String::from_utf8_lossy(&std::mem::take(&mut self.buffer)).into_owned();
        self.actions.push(Action::Submitted(input.clone()));
        self.write("\r\n");
        if input.trim() == "/exit" {
            self.exit(0);
            return;
        }
        let lines = split_lines(&input);
        let first = lines.first().copied().unwrap_or("");
        let room = self.width.saturating_sub(3);
        self.write(&format!("» {}\r\n", fit_head(&sanitize(first), room)));
        if lines.len() > 1 {
            self.write(&format!("»   (+{} more lines)\r\n", lines.len() - 1));
        }
        let plan = self.script.plan_for(&input);
        let job = Job {
            started_at: now,
            input,
            results: Vec::new(),
            step: Step::Working {
                until: now + plan.delay,
            },
            plan,
            frame: 0,
            next_frame_at: now + SPINNER_FRAME,
        };
        self.write(&working_line(&job, now));
        self.phase = Phase::Busy(Box::new(job));
    }

    fn answer(&mut self, approved: bool, now: Duration) {
        let Phase::Busy(job) = &mut self.phase else {
            return;
        };
        if approved {
            job.step = Step::Working {
                until: now + job.plan.delay,
            };
            job.next_frame_at = now + SPINNER_FRAME;
            let line = working_line(job, now);
            self.write("y\r\n");
            self.write(&line);
        } else {
            self.write("n\r\n● denied\r\n");
            self.finish(now);
        }
    }

    /// Moves time-driven states forward until nothing more is due at `now`.
    fn advance(&mut self, now: Duration) {
        // Each pass either changes state or returns; the bound only guards against a bug.
        for _ in 0..10_000 {
            if !self.advance_once(now) {
                return;
            }
        }
    }

    fn advance_once(&mut self, now: Duration) -> bool {
        match &mut self.phase {
            Phase::Starting { ready_at } if now >= *ready_at => {
                self.phase = Phase::Prompt;
                self.write(&format!("{BANNER}\r\n\r\n"));
                self.redraw_prompt();
                true
            }
            Phase::Busy(job) => match &mut job.step {
                Step::Working { until } if now >= *until => {
                    if job.plan.ask_approval {
                        // Asked once per input: after `y` the work goes on to the reply.
                        job.plan.ask_approval = false;
                        job.step = Step::Asking;
                        self.write(CLEAR_LINE);
                        self.write(APPROVAL_QUESTION);
                        return true;
                    }
                    if let Some(call) = job.plan.calls.get(job.results.len()) {
                        let context = Context {
                            input: &job.input,
                            results: &job.results,
                        };
                        let call = ToolCall {
                            id: self.next_call_id,
                            tool: call.tool.clone(),
                            args: call.args.render(&context),
                        };
                        self.next_call_id += 1;
                        job.step = Step::Calling { id: call.id };
                        let working = working_line(job, now);
                        let room = self.width.saturating_sub("● calling ".len());
                        let shown = fit_head(&sanitize(&describe_call(&call)), room);
                        self.write(CLEAR_LINE);
                        self.write(&format!("● calling {shown}\r\n"));
                        self.write(&working);
                        self.actions.push(Action::CallTool(call));
                        return true;
                    }
                    match job.plan.outcome.clone() {
                        Outcome::Fatal { code, message } => {
                            self.write(CLEAR_LINE);
                            self.write(&format!("✗ error: {}\r\n", sanitize(&message)));
                            self.exit(code);
                        }
                        Outcome::Reply(template) => {
                            let text = template.render(&Context {
                                input: &job.input,
                                results: &job.results,
                            });
                            let lines = reply_lines(&text);
                            match job.plan.stream_gap {
                                Some(_) => {
                                    job.step = Step::Streaming {
                                        lines,
                                        next: 0,
                                        next_at: now,
                                    };
                                }
                                None => {
                                    self.write(CLEAR_LINE);
                                    for line in lines {
                                        self.write(&line);
                                        self.write("\r\n");
                                    }
                                    self.finish(now);
                                }
                            }
                        }
                    }
                    true
                }
                Step::Streaming {
                    lines,
                    next,
                    next_at,
                } if now >= *next_at => {
                    let line = lines.get(*next).cloned().unwrap_or_default();
                    *next += 1;
                    let done = *next >= lines.len();
                    *next_at = now + job.plan.stream_gap.unwrap_or_default();
                    let working = working_line(job, now);
                    self.write(CLEAR_LINE);
                    self.write(&line);
                    self.write("\r\n");
                    if done {
                        self.finish(now);
                    } else {
                        self.write(&working);
                    }
                    true
                }
                Step::Working { .. } | Step::Streaming { .. } | Step::Calling { .. }
                    if now >= job.next_frame_at =>
                {
                    job.frame += 1;
                    // After a stall, continue from now instead of replaying missed frames.
                    let next = job.next_frame_at + SPINNER_FRAME;
                    job.next_frame_at = if next > now {
                        next
                    } else {
                        now + SPINNER_FRAME
                    };
                    let line = working_line(job, now);
                    self.write(&line);
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn finish(&mut self, now: Duration) {
        let started_at = match &self.phase {
            Phase::Busy(job) => job.started_at,
            _ => now,
        };
        let seconds = now.saturating_sub(started_at).as_secs_f64();
        self.write(CLEAR_LINE);
        self.write(&format!("✓ done in {seconds:.1}s\r\n\r\n"));
        self.back_to_prompt();
    }

    fn back_to_prompt(&mut self) {
        self.phase = Phase::Prompt;
        if self.input_closed {
            self.exit(0);
        } else {
            self.redraw_prompt();
        }
    }

    fn redraw_prompt(&mut self) {
        let room = self.width.saturating_sub(PROMPT.len() + 1);
        let shown = display_input(&self.buffer, room);
        self.write(&format!("{CLEAR_LINE}{PROMPT}{shown}"));
    }

    fn exit(&mut self, code: i32) {
        self.phase = Phase::Exited;
        self.actions.push(Action::Exit(code));
    }

    fn write(&mut self, text: &str) {
        if let Some(Action::Write(pending)) = self.actions.last_mut() {
            pending.push_str(text);
        } else {
            self.actions.push(Action::Write(text.to_owned()));
        }
    }
}

/// The working line, starting with a line clear so it can be redrawn in place.
fn working_line(job: &Job, now: Duration) -> String {
    let spinner = SPINNER[job.frame % SPINNER.len()];
    let seconds = now.saturating_sub(job.started_at).as_secs();
    format!("{CLEAR_LINE}{spinner} working… (esc to interrupt, {seconds}s)")
}

/// `tool(key="value", other=1)`: the call as the `● calling` line shows it, values as JSON.
fn describe_call(call: &ToolCall) -> String {
    let args = match &call.args {
        serde_json::Value::Object(object) => object
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    format!("{}({args})", call.tool)
}

/// Reply text as screen lines: `● ` before the first, two spaces before the rest.
fn reply_lines(text: &str) -> Vec<String> {
    split_lines(text)
        .into_iter()
        .enumerate()
        .map(|(index, line)| {
            let prefix = if index == 0 { "● " } else { "  " };
            format!("{prefix}{}", sanitize(line))
        })
        .collect()
}

/// What the prompt line shows of the input: the text when it is one line that fits, its tail
/// when it is one long line, a summary when it has several lines.
fn display_input(buffer: &[u8], room: usize) -> String {
    let text = String::from_utf8_lossy(buffer);
    let lines = split_lines(&text);
    if lines.len() > 1 {
        return format!(
            "[pasted {} lines, {} chars]",
            lines.len(),
            text.chars().count()
        );
    }
    fit_tail(&sanitize(&text), room)
}

/// Splits on `\r\n`, `\n` or `\r` (tmux pastes newlines as `\r` unless told otherwise); a
/// final line break does not start another line.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\r' | b'\n' => {
                lines.push(&text[start..index]);
                if bytes[index] == b'\r' && bytes.get(index + 1) == Some(&b'\n') {
                    index += 1;
                }
                start = index + 1;
            }
            _ => {}
        }
        index += 1;
    }
    if start < text.len() || lines.is_empty() {
        lines.push(&text[start..]);
    }
    lines
}

/// Makes text safe to print on one row: tabs become spaces, control characters become caret
/// notation (`^[`, `^C`, `^?`) or `?`, so input can never move the cursor or inject escapes.
pub fn sanitize(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\t' => shown.push(' '),
            '\u{7f}' => shown.push_str("^?"),
            c if (c as u32) < 0x20 => {
                shown.push('^');
                // Below 0x20, adding 0x40 gives an ASCII letter or symbol.
                shown.push(char::from(c as u8 + 0x40));
            }
            c if c.is_control() => shown.push('?'),
            c => shown.push(c),
        }
    }
    shown
}

/// Columns a character may take; non-ASCII counts as two so wide characters never wrap.
fn columns(character: char) -> usize {
    if character.is_ascii() {
        1
    } else {
        2
    }
}

/// `text` if it fits in `room` columns, else its head and `…`.
fn fit_head(text: &str, room: usize) -> String {
    if text.chars().map(columns).sum::<usize>() <= room {
        return text.to_owned();
    }
    let mut used = 1;
    let mut shown = String::new();
    for character in text.chars() {
        used += columns(character);
        if used > room {
            break;
        }
        shown.push(character);
    }
    shown.push('…');
    shown
}

/// `text` if it fits in `room` columns, else `…` and its tail.
fn fit_tail(text: &str, room: usize) -> String {
    if text.chars().map(columns).sum::<usize>() <= room {
        return text.to_owned();
    }
    let mut used = 1;
    let mut tail = Vec::new();
    for character in text.chars().rev() {
        used += columns(character);
        if used > room {
            break;
        }
        tail.push(character);
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

/// Removes the last character (all bytes of a UTF-8 sequence).
fn pop_char(buffer: &mut Vec<u8>) {
    while let Some(byte) = buffer.pop() {
        // Continuation bytes are 0b10xxxxxx; stop after removing the lead byte.
        if byte & 0xc0 != 0x80 {
            break;
        }
    }
}

#[cfg(test)]
mod tests;
