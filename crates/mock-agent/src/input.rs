//! Turns the raw bytes a terminal sends into key events: typed text, Enter, Backspace, Ctrl-C,
//! Esc and bracketed pastes (`ESC[200~ … ESC[201~`, content kept byte for byte).
//!
//! Bytes may arrive split anywhere (inside a UTF-8 character, an escape sequence or a paste
//! marker); the parser keeps what it cannot decide yet. A lone `ESC` at the end of a chunk is
//! held until more bytes come or [`InputParser::flush_escape`] says the wait is over.

/// Start of a bracketed paste.
pub const PASTE_START: &[u8] = b"\x1b[200~";
/// End of a bracketed paste.
pub const PASTE_END: &[u8] = b"\x1b[201~";

/// Longest escape sequence kept while waiting for its final byte; longer ones are dropped.
const MAX_ESCAPE_LEN: usize = 32;

/// One decoded key or paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Typed printable bytes (UTF-8 text, tabs), in order.
    Text(Vec<u8>),
    /// A complete bracketed paste, without its markers.
    Paste(Vec<u8>),
    /// `\r` or `\n` typed outside a paste.
    Enter,
    /// DEL or Ctrl-H.
    Backspace,
    /// Ctrl-C.
    Interrupt,
    /// A lone Esc key.
    Escape,
}

/// The parser's state between chunks.
#[derive(Debug, Default)]
pub struct InputParser {
    /// Bytes of an unfinished escape sequence (starting with ESC).
    escape: Vec<u8>,
    /// `Some` inside a bracketed paste: the content so far.
    paste: Option<Vec<u8>>,
}

impl InputParser {
    /// A parser outside any paste or escape sequence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a lone `ESC` (or an unfinished sequence) is waiting for more bytes.
    pub fn has_pending_escape(&self) -> bool {
        !self.escape.is_empty()
    }

    /// Whether a bracketed paste has started and not ended.
    pub fn in_paste(&self) -> bool {
        self.paste.is_some()
    }

    /// Decodes `bytes`, appending events to `events`.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<Event>) {
        let mut index = 0;
        while index < bytes.len() {
            if let Some(content) = self.paste.as_mut() {
                // Search from just before the new bytes so a marker split across chunks is
                // found, without rescanning a long paste each time.
                let old_len = content.len();
                let from = old_len.saturating_sub(PASTE_END.len() - 1);
                content.extend_from_slice(&bytes[index..]);
                match find(&content[from..], PASTE_END) {
                    Some(at) => {
                        let end = from + at;
                        // A marker wholly inside the old content would have been found by the
                        // previous call, so it ends among the new bytes.
                        index += (end + PASTE_END.len()).saturating_sub(old_len);
                        content.truncate(end);
                        let pasted = std::mem::take(content);
                        self.paste = None;
                        events.push(Event::Paste(pasted));
                    }
                    None => index = bytes.len(),
                }
                continue;
            }
            let byte = bytes[index];
            index += 1;
            if !self.escape.is_empty() {
                self.escape_byte(byte, events);
                continue;
            }
            match byte {
                0x1b => self.escape.push(byte),
                b'\r' | b'\n' => events.push(Event::Enter),
                0x7f | 0x08 => events.push(Event::Backspace),
                0x03 => events.push(Event::Interrupt),
                b'\t' => push_text(events, byte),
                0x00..=0x1f => {} // other control keys mean nothing to the mock
                _ => push_text(events, byte),
            }
        }
    }

    /// The wait for the rest of an escape sequence is over: a lone `ESC` becomes the Esc key,
    /// an unfinished sequence is dropped.
    pub fn flush_escape(&mut self, events: &mut Vec<Event>) {
        if self.escape == [0x1b] {
            events.push(Event::Escape);
        }
        self.escape.clear();
    }

    fn escape_byte(&mut self, byte: u8, events: &mut Vec<Event>) {
        self.escape.push(byte);
        let sequence = self.escape.as_slice();
        match sequence {
            [0x1b, b'[', ..] | [0x1b, b'O', ..] => {
                let complete = sequence.len() > 2 && (0x40..=0x7e).contains(&byte);
                let is_csi_byte = (0x20..=0x3f).contains(&byte);
                if complete {
                    if sequence == PASTE_START {
                        self.paste = Some(Vec::new());
                    }
                    // Arrows, function keys, focus reports, a stray paste end: ignored.
                    self.escape.clear();
                } else if sequence.len() > 2 && !is_csi_byte {
                    // Not a valid sequence: drop it rather than guess.
                    self.escape.clear();
                } else if sequence.len() > MAX_ESCAPE_LEN {
                    self.escape.clear();
                }
            }
            [0x1b, 0x1b] => {
                // Esc pressed twice: the first is a key, the second may start a sequence.
                events.push(Event::Escape);
                self.escape.truncate(1);
            }
            _ => {
                // Alt+key or Esc followed by typing: the Esc key, then the byte as usual.
                self.escape.clear();
                events.push(Event::Escape);
                self.feed(&[byte], events);
            }
        }
    }
}

fn push_text(events: &mut Vec<Event>, byte: u8) {
    if let Some(Event::Text(text)) = events.last_mut() {
        text.push(byte);
    } else {
        events.push(Event::Text(vec![byte]));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<Event> {
        let mut parser = InputParser::new();
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut events);
        }
        events
    }

    #[test]
    fn typed_text_and_keys() {
        assert_eq!(
            parse_chunks(&[b"hi\x7f\x03\r\nx\ty"]),
            vec![
                Event::Text(b"hi".to_vec()),
                Event::Backspace,
                Event::Interrupt,
                Event::Enter,
                Event::Enter,
                Event::Text(b"x\ty".to_vec()),
            ]
        );
    }

    #[test]
    fn paste_keeps_newlines_and_controls() {
        let events = parse_chunks(&[b"a\x1b[200~one\r\ntwo\x03\x1b[A\x1b[201~\r"]);
        assert_eq!(
            events,
            vec![
                Event::Text(b"a".to_vec()),
                Event::Paste(b"one\r\ntwo\x03\x1b[A".to_vec()),
                Event::Enter,
            ]
        );
    }

    #[test]
    fn markers_split_across_chunks() {
        let events = parse_chunks(&[b"\x1b", b"[20", b"0~ab\x1b[2", b"01", b"~", b"\r"]);
        assert_eq!(events, vec![Event::Paste(b"ab".to_vec()), Event::Enter]);
    }

    #[test]
    fn lone_escape_waits_for_flush() {
        let mut parser = InputParser::new();
        let mut events = Vec::new();
        parser.feed(b"\x1b", &mut events);
        assert!(events.is_empty());
        assert!(parser.has_pending_escape());
        parser.flush_escape(&mut events);
        assert_eq!(events, vec![Event::Escape]);
        assert!(!parser.has_pending_escape());
    }

    #[test]
    fn arrows_are_ignored_and_alt_keys_are_escape_then_text() {
        assert_eq!(
            parse_chunks(&[b"\x1b[A\x1bOB\x1bx"]),
            vec![Event::Escape, Event::Text(b"x".to_vec())]
        );
    }
}
