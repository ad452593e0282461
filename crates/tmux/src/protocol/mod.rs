//! The tmux control-mode (`tmux -C`) protocol, sans-I/O: bytes in, reply blocks and
//! notifications out.
//!
//! Facts the parser is built on (checked against tmux 3.3a):
//! - A reply is `%begin TIME NUMBER FLAGS`, body lines, then `%end` or `%error` with the **same**
//!   number. Body lines may start with `%` (`display-message -p '#{pane_id}'` prints `%0`), and a
//!   `%end` with another number is body text, so only a matching close ends a block.
//! - Notifications may arrive inside a block; a line inside a block is taken as a notification
//!   only when it has the exact shape of a known one (`%output %3 …`, `%pause %3`, …), and never
//!   for `%exit`, `%message` or `%config-error`. Body text that mimics a notification's exact
//!   shape is the one ambiguity the protocol itself leaves.
//! - `%output` escapes bytes below 0x20 and `\` as `\ooo`; everything else (UTF-8 included) is
//!   raw.
//!
//! [`ControlParser`] turns bytes into [`ProtocolEvent`]s; [`Correlator`] pairs reply blocks with
//! the requests that caused them.

mod correlate;
mod notification;

pub use correlate::{Correlated, Correlator, Expectation};
pub use notification::Notification;

use memchr::memchr;

/// One reply block: the output of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyBlock {
    /// Server time when the command started (seconds since the epoch).
    pub time: u64,
    /// The server-global command number; the same on `%begin` and its closing line.
    pub number: u64,
    /// 1 for commands sent on this connection (and commands they queued), 0 otherwise.
    pub flags: u32,
    /// False when the block closed with `%error`.
    pub success: bool,
    /// Body lines, decoded as UTF-8 (invalid sequences replaced).
    pub lines: Vec<String>,
}

impl ReplyBlock {
    /// True for blocks of commands this connection sent.
    pub fn is_own(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// Something the parser recognised in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolEvent {
    Reply(ReplyBlock),
    Notification(Notification),
    /// A line outside any block that is neither `%begin` nor a notification (tmux prints none;
    /// kept so nothing is silently lost).
    Stray(String),
}

#[derive(Debug)]
struct OpenBlock {
    time: u64,
    number: u64,
    flags: u32,
    lines: Vec<String>,
}

/// Incremental parser of a control-mode byte stream.
#[derive(Debug, Default)]
pub struct ControlParser {
    buffer: Vec<u8>,
    consumed: usize,
    open: Option<OpenBlock>,
}

impl ControlParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a reply block has begun but not closed.
    pub fn in_block(&self) -> bool {
        self.open.is_some()
    }

    /// Bytes received but not yet forming a complete line.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len() - self.consumed
    }

    /// Feeds bytes and appends every event completed by them to `events`.
    pub fn feed(&mut self, data: &[u8], events: &mut Vec<ProtocolEvent>) {
        if self.consumed == self.buffer.len() {
            self.buffer.clear();
            self.consumed = 0;
            // Fast path: parse straight from `data`, keeping only the unterminated tail.
            let mut start = 0;
            while let Some(offset) = memchr(b'\n', &data[start..]) {
                let line = &data[start..start + offset];
                self.handle_line(line, events);
                start += offset + 1;
            }
            self.buffer.extend_from_slice(&data[start..]);
            return;
        }
        self.buffer.extend_from_slice(data);
        while let Some(offset) = memchr(b'\n', &self.buffer[self.consumed..]) {
            let end = self.consumed + offset;
            let line = std::mem::take(&mut self.buffer);
            self.handle_line(&line[self.consumed..end], events);
            self.buffer = line;
            self.consumed = end + 1;
        }
        if self.consumed > 0 && self.consumed * 2 >= self.buffer.len() {
            self.buffer.drain(..self.consumed);
            self.consumed = 0;
        }
    }

    /// Ends the stream: a block still open is returned as unfinished so callers can fail the
    /// request it belonged to.
    pub fn finish(&mut self) -> Option<(u64, Vec<String>)> {
        self.buffer.clear();
        self.consumed = 0;
        self.open.take().map(|block| (block.number, block.lines))
    }

    fn handle_line(&mut self, line: &[u8], events: &mut Vec<ProtocolEvent>) {
        if let Some(open) = &mut self.open {
            if line.first() == Some(&b'%') {
                if let Some((success, guard)) = parse_guard(line) {
                    if guard.number == open.number {
                        if let Some(block) = self.open.take() {
                            events.push(ProtocolEvent::Reply(ReplyBlock {
                                time: block.time,
                                number: block.number,
                                flags: block.flags,
                                success,
                                lines: block.lines,
                            }));
                        }
                        return;
                    }
                }
                // `%exit`, `%message` and `%config-error` never interrupt a reply, and their
                // shape is loose enough to match body text; inside a block they are body.
                if let Some(notification) = Notification::parse_strict(line).filter(|n| {
                    !matches!(
                        n,
                        Notification::Exit { .. }
                            | Notification::Message { .. }
                            | Notification::ConfigError { .. }
                    )
                }) {
                    events.push(ProtocolEvent::Notification(notification));
                    return;
                }
            }
            open.lines.push(String::from_utf8_lossy(line).into_owned());
            return;
        }
        if let Some(guard) = parse_begin(line) {
            self.open = Some(OpenBlock {
                time: guard.time,
                number: guard.number,
                flags: guard.flags,
                lines: Vec::new(),
            });
            return;
        }
        if line.first() == Some(&b'%') {
            events.push(ProtocolEvent::Notification(Notification::parse_lenient(
                line,
            )));
            return;
        }
        events.push(ProtocolEvent::Stray(
            String::from_utf8_lossy(line).into_owned(),
        ));
    }
}

struct Guard {
    time: u64,
    number: u64,
    flags: u32,
}

fn parse_guard_fields(rest: &[u8]) -> Option<Guard> {
    let mut fields = rest.split(|&b| b == b' ');
    let time = parse_decimal(fields.next()?)?;
    let number = parse_decimal(fields.next()?)?;
    let flags = u32::try_from(parse_decimal(fields.next()?)?).ok()?;
    if fields.next().is_some() {
        return None;
    }
    Some(Guard {
        time,
        number,
        flags,
    })
}

fn parse_begin(line: &[u8]) -> Option<Guard> {
    parse_guard_fields(line.strip_prefix(b"%begin ")?)
}

fn parse_guard(line: &[u8]) -> Option<(bool, Guard)> {
    if let Some(rest) = line.strip_prefix(b"%end ") {
        return parse_guard_fields(rest).map(|guard| (true, guard));
    }
    if let Some(rest) = line.strip_prefix(b"%error ") {
        return parse_guard_fields(rest).map(|guard| (false, guard));
    }
    None
}

pub(crate) fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in text {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
    }
    Some(value)
}

/// Decodes `%output` data: `\ooo` octal escapes become bytes; everything else is copied.
pub fn unescape_output(data: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(data.len());
    let mut index = 0;
    while index < data.len() {
        let byte = data[index];
        if byte == b'\\' && index + 3 < data.len() {
            let digits = &data[index + 1..index + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = u32::from(digits[0] - b'0') * 64
                    + u32::from(digits[1] - b'0') * 8
                    + u32::from(digits[2] - b'0');
                if let Ok(value) = u8::try_from(value) {
                    decoded.push(value);
                    index += 4;
                    continue;
                }
            }
        }
        decoded.push(byte);
        index += 1;
    }
    decoded
}

/// Encodes bytes the way tmux writes `%output` data (the inverse of [`unescape_output`]).
pub fn escape_output(data: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(data.len());
    for &byte in data {
        if byte < 0x20 || byte == b'\\' {
            encoded.push(b'\\');
            encoded.push(b'0' + (byte >> 6));
            encoded.push(b'0' + ((byte >> 3) & 7));
            encoded.push(b'0' + (byte & 7));
        } else {
            encoded.push(byte);
        }
    }
    encoded
}

#[cfg(test)]
mod tests;
