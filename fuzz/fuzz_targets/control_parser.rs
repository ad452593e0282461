//! Feeds arbitrary bytes, split at arbitrary points, to the control-mode parser: it must never
//! panic, must give the same events however the bytes are split, and must never leave a block
//! open after its matching close.
#![no_main]

use cao_tmux::protocol::{ControlParser, ProtocolEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (split_at, bytes) = match data.split_first() {
        Some((first, rest)) => (*first as usize, rest),
        None => return,
    };
    let mut whole = ControlParser::new();
    let mut whole_events: Vec<ProtocolEvent> = Vec::new();
    whole.feed(bytes, &mut whole_events);

    let mut pieces = ControlParser::new();
    let mut piece_events = Vec::new();
    let cut = split_at.min(bytes.len());
    pieces.feed(&bytes[..cut], &mut piece_events);
    pieces.feed(&bytes[cut..], &mut piece_events);
    assert_eq!(whole_events, piece_events);
    assert_eq!(whole.in_block(), pieces.in_block());
    let _ = whole.finish();
});
