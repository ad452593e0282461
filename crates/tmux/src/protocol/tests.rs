use proptest::prelude::*;

use super::*;
use crate::ids::{PaneId, SessionId, WindowId};

fn parse_all(bytes: &[u8]) -> Vec<ProtocolEvent> {
    let mut parser = ControlParser::new();
    let mut events = Vec::new();
    parser.feed(bytes, &mut events);
    events
}

fn block(number: u64, flags: u32, success: bool, lines: &[&str]) -> ProtocolEvent {
    ProtocolEvent::Reply(ReplyBlock {
        time: 1795254895,
        number,
        flags,
        success,
        lines: lines.iter().map(|l| l.to_string()).collect(),
    })
}

/// A transcript captured from tmux 3.3a (`tmux -C attach`), covering a startup block, a body
/// line starting with `%`, a parse error for a `;` group, queued blocks from `if-shell`,
/// notifications between blocks, multi-line bodies and `%exit`.
const TRANSCRIPT_3_3A: &str =
    "%begin 1795254895 265 0\n%end 1795254895 265 0\n%session-changed $0 a\n\
%begin 1795254895 270 1\n%0\n%end 1795254895 270 1\n\
%begin 1795254895 273 1\nparse error: unknown command: bogus-cmd\n%error 1795254895 273 1\n\
%begin 1795254895 276 1\n%end 1795254895 276 1\n%window-add @1\n\
%begin 1795254895 278 1\nqueued\n%end 1795254895 278 1\n\
%output %0 echo hi\\015\\012\n%window-renamed @0 bash\n\
%begin 1795254895 282 1\nx\ny\n%end 1795254895 282 1\n%exit\n";

#[test]
fn parses_a_real_transcript() {
    let events = parse_all(TRANSCRIPT_3_3A.as_bytes());
    assert_eq!(
        events,
        vec![
            block(265, 0, true, &[]),
            ProtocolEvent::Notification(Notification::SessionChanged {
                session: SessionId(0),
                name: "a".into()
            }),
            block(270, 1, true, &["%0"]),
            block(273, 1, false, &["parse error: unknown command: bogus-cmd"]),
            block(276, 1, true, &[]),
            ProtocolEvent::Notification(Notification::WindowAdd {
                window: WindowId(1)
            }),
            block(278, 1, true, &["queued"]),
            ProtocolEvent::Notification(Notification::Output {
                pane: PaneId(0),
                data: b"echo hi\r\n".to_vec()
            }),
            ProtocolEvent::Notification(Notification::WindowRenamed {
                window: WindowId(0),
                name: "bash".into()
            }),
            block(282, 1, true, &["x", "y"]),
            ProtocolEvent::Notification(Notification::Exit { reason: None }),
        ]
    );
}

#[test]
fn transcript_parses_the_same_byte_by_byte() {
    let whole = parse_all(TRANSCRIPT_3_3A.as_bytes());
    let mut parser = ControlParser::new();
    let mut events = Vec::new();
    for byte in TRANSCRIPT_3_3A.as_bytes() {
        parser.feed(std::slice::from_ref(byte), &mut events);
    }
    assert_eq!(events, whole);
    assert_eq!(parser.pending_bytes(), 0);
}

#[test]
fn only_the_same_number_closes_a_block() {
    let events = parse_all(b"%begin 1 10 1\n%end 1 9 1\n%error 2 11 1\nlast\n%end 1 10 1\n");
    assert_eq!(
        events,
        vec![block_with_time(
            1,
            10,
            &["%end 1 9 1", "%error 2 11 1", "last"]
        )]
    );
}

fn block_with_time(time: u64, number: u64, lines: &[&str]) -> ProtocolEvent {
    ProtocolEvent::Reply(ReplyBlock {
        time,
        number,
        flags: 1,
        success: true,
        lines: lines.iter().map(|l| l.to_string()).collect(),
    })
}

#[test]
fn notifications_inside_a_block_are_taken_out() {
    let events =
        parse_all(b"%begin 1 5 1\nbody\n%pause %3\n%output %3 a\\134b\nmore\n%end 1 5 1\n");
    assert_eq!(
        events,
        vec![
            ProtocolEvent::Notification(Notification::Pause { pane: PaneId(3) }),
            ProtocolEvent::Notification(Notification::Output {
                pane: PaneId(3),
                data: b"a\\b".to_vec()
            }),
            block_with_time(1, 5, &["body", "more"]),
        ]
    );
}

#[test]
fn percent_lines_that_are_not_notifications_stay_body() {
    let events = parse_all(b"%begin 1 5 1\n%0\n%pause\n%pause %x\n%begin 1 6 1\n%end 1 5 1\n");
    assert_eq!(
        events,
        vec![block_with_time(
            1,
            5,
            &["%0", "%pause", "%pause %x", "%begin 1 6 1"]
        )]
    );
}

#[test]
fn extended_output_and_subscriptions() {
    let events = parse_all(
        b"%extended-output %2 150 : hi\\012\n%extended-output %2 7 x y : a : b\n\
%subscription-changed cmd $1 @2 0 %3 : bash\n%subscription-changed s $1 - - - : \n%exit too far behind\n",
    );
    assert_eq!(
        events,
        vec![
            ProtocolEvent::Notification(Notification::ExtendedOutput {
                pane: PaneId(2),
                age_ms: 150,
                data: b"hi\n".to_vec()
            }),
            ProtocolEvent::Notification(Notification::ExtendedOutput {
                pane: PaneId(2),
                age_ms: 7,
                data: b"a : b".to_vec()
            }),
            ProtocolEvent::Notification(Notification::SubscriptionChanged {
                name: "cmd".into(),
                session: Some(SessionId(1)),
                window: Some(WindowId(2)),
                window_index: Some(0),
                pane: Some(PaneId(3)),
                value: "bash".into()
            }),
            ProtocolEvent::Notification(Notification::SubscriptionChanged {
                name: "s".into(),
                session: Some(SessionId(1)),
                window: None,
                window_index: None,
                pane: None,
                value: "".into()
            }),
            ProtocolEvent::Notification(Notification::Exit {
                reason: Some("too far behind".into())
            }),
        ]
    );
}

/// What tmux 3.3a sends when a pane dies under cao's `pane-died` hook (two mode changes at
/// once, one of them inside the reply to a command in flight) and, up to a second later, the
/// `#{pane_dead}` subscription.
#[test]
fn a_pane_death_as_tmux_reports_it() {
    let events = parse_all(
        b"%pane-mode-changed %7
%begin 1795262405 40 1
%pane-mode-changed %7
%7 1 7
%end 1795262405 40 1
%subscription-changed cao-pane-dead $3 @7 0 %7 : 1
",
    );
    assert_eq!(
        events,
        vec![
            ProtocolEvent::Notification(Notification::PaneModeChanged { pane: PaneId(7) }),
            ProtocolEvent::Notification(Notification::PaneModeChanged { pane: PaneId(7) }),
            ProtocolEvent::Reply(ReplyBlock {
                time: 1795262405,
                number: 40,
                flags: 1,
                success: true,
                lines: vec!["%7 1 7".into()],
            }),
            ProtocolEvent::Notification(Notification::SubscriptionChanged {
                name: "cao-pane-dead".into(),
                session: Some(SessionId(3)),
                window: Some(WindowId(7)),
                window_index: Some(0),
                pane: Some(PaneId(7)),
                value: "1".into()
            }),
        ]
    );
    assert_eq!(
        Notification::parse_strict(b"%pane-mode-changed %7").map(|n| n.pane()),
        Some(Some(PaneId(7)))
    );
    // Not a notification's shape: body text inside a block.
    assert_eq!(Notification::parse_strict(b"%pane-mode-changed %7 x"), None);
    assert_eq!(Notification::parse_strict(b"%pane-mode-changed"), None);
}

#[test]
fn unknown_notifications_are_kept() {
    let events = parse_all(b"%future-thing a b\n%bare\nstray text\n");
    assert_eq!(
        events,
        vec![
            ProtocolEvent::Notification(Notification::Other {
                name: "future-thing".into(),
                args: "a b".into()
            }),
            ProtocolEvent::Notification(Notification::Other {
                name: "bare".into(),
                args: "".into()
            }),
            ProtocolEvent::Stray("stray text".into()),
        ]
    );
}

#[test]
fn unfinished_block_is_reported_at_the_end() {
    let mut parser = ControlParser::new();
    let mut events = Vec::new();
    parser.feed(b"%begin 1 5 1\npartial\n%end 1 5", &mut events);
    assert!(events.is_empty());
    assert!(parser.in_block());
    assert_eq!(parser.finish(), Some((5, vec!["partial".to_string()])));
}

#[test]
fn octal_unescape_handles_edges() {
    assert_eq!(unescape_output(b"\\033[1m\\134"), b"\x1b[1m\\".to_vec());
    assert_eq!(unescape_output(b"trailing\\01"), b"trailing\\01".to_vec());
    assert_eq!(unescape_output(b"\\400"), b"\\400".to_vec());
    assert_eq!(unescape_output("é".as_bytes()), "é".as_bytes().to_vec());
}

#[test]
fn correlator_pairs_in_order_and_skips_foreign_blocks() {
    let reply = |number, flags, lines: &[&str]| ReplyBlock {
        time: 0,
        number,
        flags,
        success: true,
        lines: lines.iter().map(|l| l.to_string()).collect(),
    };
    let mut correlator = Correlator::new();
    correlator.push("a", Expectation::Single);
    correlator.push("b", Expectation::UntilSentinel { nonce: "n1".into() });
    correlator.push("c", Expectation::Single);
    assert!(matches!(
        correlator.on_block(reply(1, 0, &[])),
        Correlated::Unsolicited(_)
    ));
    assert!(matches!(
        correlator.on_block(reply(2, 1, &["A"])),
        Correlated::Completed { request: "a", .. }
    ));
    assert_eq!(correlator.on_block(reply(3, 1, &[])), Correlated::Partial);
    assert_eq!(
        correlator.on_block(reply(5, 1, &["queued"])),
        Correlated::Partial
    );
    match correlator.on_block(reply(6, 1, &["n1"])) {
        Correlated::Completed { request, blocks } => {
            assert_eq!(request, "b");
            assert_eq!(blocks.len(), 2);
            assert_eq!(blocks[1].lines, vec!["queued".to_string()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        correlator.on_block(reply(7, 1, &["C"])),
        Correlated::Completed { request: "c", .. }
    ));
    assert!(correlator.is_empty());
}

#[derive(Debug, Clone)]
enum Item {
    Block {
        number: u64,
        success: bool,
        lines: Vec<String>,
    },
    Output {
        pane: u32,
        data: Vec<u8>,
    },
}

fn body_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\n]{0,40}",
        "%[a-z-]{0,12}( [^\n]{0,20})?",
        (0u64..1000).prop_map(|n| format!("%end 1 {n} 1")),
        Just("%0".to_string()),
    ]
    .prop_filter("body must not mimic a notification", |line| {
        Notification::parse_strict(line.as_bytes()).is_none()
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (any::<bool>(), prop::collection::vec(body_line(), 0..5)).prop_map(|(success, lines)| {
            Item::Block {
                number: 0,
                success,
                lines,
            }
        }),
        (0u32..100, prop::collection::vec(any::<u8>(), 0..60))
            .prop_map(|(pane, data)| Item::Output { pane, data }),
    ]
}

fn encode(items: &mut [Item]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut next_number = 1000;
    for item in items.iter_mut() {
        match item {
            Item::Block {
                number,
                success,
                lines,
            } => {
                *number = next_number;
                next_number += 3;
                bytes.extend_from_slice(format!("%begin 42 {number} 1\n").as_bytes());
                for line in lines.iter() {
                    bytes.extend_from_slice(line.as_bytes());
                    bytes.push(b'\n');
                }
                let close = if *success { "%end" } else { "%error" };
                bytes.extend_from_slice(format!("{close} 42 {number} 1\n").as_bytes());
            }
            Item::Output { pane, data } => {
                bytes.extend_from_slice(format!("%output %{pane} ").as_bytes());
                bytes.extend_from_slice(&escape_output(data));
                bytes.push(b'\n');
            }
        }
    }
    bytes
}

proptest! {
    #[test]
    fn any_stream_in_any_chunks_parses_to_what_was_sent(
        mut items in prop::collection::vec(item(), 0..30),
        cuts in prop::collection::vec(1usize..64, 0..40),
    ) {
        let bytes = encode(&mut items);
        let mut parser = ControlParser::new();
        let mut events = Vec::new();
        let mut start = 0;
        for cut in cuts {
            let end = (start + cut).min(bytes.len());
            parser.feed(&bytes[start..end], &mut events);
            start = end;
        }
        parser.feed(&bytes[start..], &mut events);
        let expected: Vec<ProtocolEvent> = items
            .iter()
            .map(|item| match item {
                Item::Block { number, success, lines } => ProtocolEvent::Reply(ReplyBlock {
                    time: 42,
                    number: *number,
                    flags: 1,
                    success: *success,
                    lines: lines.clone(),
                }),
                Item::Output { pane, data } => ProtocolEvent::Notification(Notification::Output {
                    pane: PaneId(*pane),
                    data: data.clone(),
                }),
            })
            .collect();
        prop_assert_eq!(events, expected);
        prop_assert!(!parser.in_block());
    }

    #[test]
    fn escape_then_unescape_is_identity(data in prop::collection::vec(any::<u8>(), 0..200)) {
        prop_assert_eq!(unescape_output(&escape_output(&data)), data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut parser = ControlParser::new();
        let mut events = Vec::new();
        parser.feed(&data, &mut events);
        parser.finish();
    }
}
