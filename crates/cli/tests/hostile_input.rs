//! Hostile text through every way text reaches an agent, end to end: `POST
//! /terminals/{id}/input`, the inbox (`POST /terminals/{id}/inbox/messages`) and the agent MCP
//! `send_message` tool called over HTTP by another terminal with its own token. A real cao
//! server on 127.0.0.1 drives real `cao mock-agent` panes on a private tmux server, and each
//! agent's own log (`CAO_MOCK_AGENT_LOG`, every submitted input byte for byte) says what
//! arrived: exactly one new turn per send, whose text is `cao_mux::paste_text` of what was
//! sent. Each test stops its server and kills its tmux server on drop.
//!
//! Why a fixed table plus a seeded generator and not proptest: every case costs three real
//! agent turns, and a shrinking run would replay dozens more on a shared machine; a failure
//! here is a delivery bug to read, not a minimal string to search for. The table holds the
//! sequences known to break pastes (bracketed-paste markers, CR/CRLF, C-c, ESC, C1, tmux
//! separators and formats, very long text), and the generator mixes the same pieces with
//! printable Unicode in orders nobody wrote by hand, from a fixed seed so a failure repeats.

mod common;

use std::time::Duration;

use cao_mux::paste_text;
use cao_orchestrator::TerminalStatus;
use common::live::{turn_finished, Answer, Live};
use common::{Fixture, DEADLINE};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

/// Agents answer at once (10 ms of "work") with one line naming what they got, so a turn
/// costs milliseconds and the screen never echoes the hostile text back at length. The reply
/// differs from one turn to the next on purpose: two turns whose screens end alike stall the
/// status engine once the screen scrolls (`identical_turns_on_a_full_screen_each_complete`).
const QUICK: &str = "[[rules]]\ndelay_ms = 10\nreply = \"got: {first_line}\"\n";

/// Agents that answer every turn alike.
const SAME_REPLY: &str = "[[rules]]\ndelay_ms = 10\nreply = \"ok\"\n";

/// The generator's seed: change it to explore, keep it fixed so a failure repeats.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Pieces of hostile text: the bytes terminals act on, shell and tmux syntax, and Unicode.
const PIECES: &[&str] = &[
    "\u{1b}[200~",
    "\u{1b}[201~",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "\u{3}",
    "\u{1b}",
    "\u{7}",
    "\u{8}",
    "\u{7f}",
    "\u{9b}",
    "\u{85}",
    "\u{1b}[31m",
    "\u{1b}]0;title\u{7}",
    "\u{1b}P+q\u{1b}\\",
    ";",
    "'",
    "\"",
    "`",
    "$(id)",
    "\\",
    "#{pane_id}",
    "%1",
    " ",
    "✓",
    "日本語",
    "🦀",
    "e\u{301}",
    "\u{200b}",
    "\u{202e}",
    "\u{2028}",
    "\u{feff}",
    "word",
];

/// Text whose cleaned form still has something to submit (a cleaned text that is empty or
/// only spaces is another question, see `control_bytes_alone_are_refused_as_empty`).
fn fixed_table() -> Vec<String> {
    let long_line = "long ".repeat(1500);
    let many_lines: String = (0..300).map(|line| format!("line {line}\r\n")).collect();
    [
        "plain text".to_string(),
        "end the paste early \u{1b}[201~ then type this as keys\r".to_string(),
        "\u{1b}[200~nested\u{1b}[200~ paste \u{1b}[201~\u{1b}[201~".to_string(),
        "carriage\rreturns\r\nand crlf\r\n".to_string(),
        "interrupt \u{3} and again \u{3}\u{3}".to_string(),
        "escape \u{1b} bell \u{7} delete \u{7f} backspace \u{8}".to_string(),
        "C1 CSI \u{9b}31m and NEL \u{85} and \u{9f}".to_string(),
        "colours \u{1b}[31mred\u{1b}[0m and a title \u{1b}]0;pwned\u{7}".to_string(),
        "tmux; kill-server ; display '#{pane_id}' \\; send-keys C-c".to_string(),
        "quotes ' \" ` $(rm -rf /) ${HOME} && || | > <".to_string(),
        "unicode ✓ 日本語 🦀 e\u{301} \u{202e}reversed\u{202c} \u{200b}zero width\u{feff}"
            .to_string(),
        "\ttabs\tkept\t".to_string(),
        "  leading and trailing spaces  ".to_string(),
        "\u{1b}[201~".to_string(),
        long_line,
        many_lines,
        format!("{}\u{1b}[201~{}", "x".repeat(4000), "y".repeat(4000)),
    ]
    .into()
}

/// xorshift64*: enough randomness to mix pieces, no dependency.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// 1 to 40 pieces and a printable marker at a random place among them.
    fn text(&mut self, case: usize) -> String {
        let count = 1 + self.below(40);
        let marker = self.below(count + 1);
        let mut text = String::new();
        for index in 0..=count {
            if index == marker {
                text.push_str(&format!("case{case}"));
            }
            if index < count {
                text.push_str(PIECES[self.below(PIECES.len())]);
            }
        }
        text
    }
}

fn hostile_texts() -> Vec<String> {
    let mut texts = fixed_table();
    let mut generator = Generator(SEED);
    for case in 0..6 {
        texts.push(generator.text(case));
    }
    for text in &texts {
        assert!(!text.contains('\0'), "NUL has its own test");
        assert!(
            !paste_text(text).trim().is_empty(),
            "{text:?} cleans to nothing"
        );
    }
    texts
}

type Client = RunningService<RoleClient, ()>;

/// An MCP client on terminal `terminal_id`'s own endpoint, with its own agent token.
async fn agent_client(live: &Live, terminal_id: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(
        live.url(&format!("/mcp/agents/{terminal_id}")),
    )
    .auth_header(live.agent_token(terminal_id));
    tokio::time::timeout(
        DEADLINE,
        ().serve(StreamableHttpClientTransport::from_config(config)),
    )
    .await
    .expect("initialize answers")
    .expect("initialize succeeds")
}

/// `send_message` as the client's terminal: whether it failed, and its result as JSON.
async fn send_message(client: &Client, receiver_id: &str, message: &str) -> (bool, Value) {
    let arguments = json!({ "message": message, "receiver_id": receiver_id });
    let request = CallToolRequestParams::new("send_message")
        .with_arguments(arguments.as_object().unwrap().clone());
    let result = tokio::time::timeout(DEADLINE, client.call_tool(request))
        .await
        .expect("send_message answers")
        .expect("send_message is a tool");
    let text = result.content[0]
        .as_text()
        .map(|text| text.text.clone())
        .unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (result.is_error == Some(true), json)
}

/// Checks that terminal `receiver` logged exactly one input more than `before`, and returns it.
fn the_one_new_turn(live: &Live, receiver: &str, before: usize, what: &str) -> String {
    let inputs = live.fixture.inputs_of(receiver);
    assert_eq!(
        inputs.len(),
        before + 1,
        "{what}: expected exactly one new turn, the agent logged {:?}",
        &inputs[before.min(inputs.len())..]
    );
    inputs[before].clone()
}

/// Splits an inbox delivery into its header line and its body, checking the header.
fn delivered_body(logged: &str, sender: &str, message_id: i64, what: &str) -> String {
    let (header, body) = logged
        .split_once('\n')
        .unwrap_or_else(|| panic!("{what}: no header line in {logged:?}"));
    assert_eq!(
        header,
        format!("[message from {sender}, cao inbox #{message_id}]"),
        "{what}"
    );
    body.to_string()
}

fn message_id(answer: &Value, what: &str) -> i64 {
    answer["message_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{what}: no message_id in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_arrives_cleaned_and_exactly_once_on_every_path() {
    let live = Live::start(Fixture::with_script(QUICK)).await;
    let sender = live.terminal("hostile", "developer").await;
    let receiver = live.terminal("hostile", "developer").await;
    let client = agent_client(&live, &sender).await;
    let input_path = format!("/terminals/{receiver}/input");
    let inbox_path = format!("/terminals/{receiver}/inbox/messages");
    let texts = hostile_texts();
    let mut turns = 0;
    for (case, text) in texts.iter().enumerate() {
        let expected = paste_text(text).into_owned();

        // (i) Typed input.
        let what = format!("case {case} by input");
        let mut events = live.orchestrator.subscribe();
        let sent = live
            .operator("POST", &input_path, Some(json!({ "message": text })))
            .await;
        assert_eq!(sent.status, 200, "{what}: {:?}", sent.body);
        turn_finished(&mut events, &receiver, &what).await;
        let logged = the_one_new_turn(&live, &receiver, turns, &what);
        turns += 1;
        assert_eq!(logged, expected, "{what}: sent {text:?}");

        // (ii) The inbox, from the operator.
        let what = format!("case {case} by the inbox");
        let mut events = live.orchestrator.subscribe();
        let queued = live
            .operator("POST", &inbox_path, Some(json!({ "message": text })))
            .await;
        assert_eq!(queued.status, 200, "{what}: {:?}", queued.body);
        turn_finished(&mut events, &receiver, &what).await;
        let logged = the_one_new_turn(&live, &receiver, turns, &what);
        turns += 1;
        let id = message_id(&queued.body, &what);
        let body = delivered_body(&logged, "the operator", id, &what);
        assert_eq!(body, expected, "{what}: sent {text:?}");

        // (iii) send_message from the other agent, over MCP with its own token.
        let what = format!("case {case} by send_message");
        let mut events = live.orchestrator.subscribe();
        let (failed, answer) = send_message(&client, &receiver, text).await;
        assert!(!failed, "{what}: {answer}");
        turn_finished(&mut events, &receiver, &what).await;
        let logged = the_one_new_turn(&live, &receiver, turns, &what);
        turns += 1;
        let id = message_id(&answer, &what);
        let body = delivered_body(&logged, &format!("developer {sender}"), id, &what);
        assert_eq!(body, expected, "{what}: sent {text:?}");
    }
    client.cancel().await.unwrap();

    // Nothing arrived late: still one turn per send, every message delivered once.
    live.settled("hostile").await;
    assert_eq!(live.fixture.inputs_of(&receiver).len(), turns);
    assert!(live.fixture.inputs_of(&sender).is_empty());
    let messages = live.operator("GET", &inbox_path, None).await;
    let messages = messages.body.as_array().unwrap();
    assert_eq!(messages.len(), 2 * texts.len());
    for message in messages {
        assert_eq!(message["status"], "delivered", "{message}");
        assert_eq!(message["attempts"], 1, "{message}");
    }
    let status = live.orchestrator.get_terminal(&receiver).unwrap().status;
    assert_eq!(status, TerminalStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_is_refused_on_every_path_and_nothing_is_typed() {
    let live = Live::start(Fixture::with_script(QUICK)).await;
    let sender = live.terminal("nul", "developer").await;
    let receiver = live.terminal("nul", "developer").await;
    let client = agent_client(&live, &sender).await;
    for text in [
        "\u{0}",
        "before\u{0}after",
        "ends with NUL\u{0}",
        "\u{1b}[201~\u{0}\u{3}rm -rf ~\r",
    ] {
        for path in [
            format!("/terminals/{receiver}/input"),
            format!("/terminals/{receiver}/inbox/messages"),
        ] {
            let refused: Answer = live
                .operator("POST", &path, Some(json!({ "message": text })))
                .await;
            assert_eq!(refused.status, 400, "{path} {text:?}: {:?}", refused.body);
            assert!(refused.detail().contains("NUL"), "{}", refused.detail());
        }
        let (failed, answer) = send_message(&client, &receiver, text).await;
        assert!(failed, "send_message {text:?}: {answer}");
        assert!(answer.to_string().contains("NUL"), "{answer}");
    }
    client.cancel().await.unwrap();
    live.settled("nul").await;
    assert!(live.fixture.inputs_of(&receiver).is_empty());
    let messages = live
        .operator(
            "GET",
            &format!("/terminals/{receiver}/inbox/messages"),
            None,
        )
        .await;
    assert_eq!(messages.body, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_bytes_alone_are_refused_as_empty() {
    // What is pasted is `paste_text` of the text: ESC, C-c, DEL or C1 alone clean to nothing,
    // and are refused as empty (400), as " " is, on every path.
    let live = Live::start(Fixture::with_script(QUICK)).await;
    let receiver = live.terminal("empty", "developer").await;
    let mut wrong = Vec::new();
    for text in ["\u{1b}", "\u{3}\u{7}\u{7f}\u{9b}", " \u{1b} \u{85} "] {
        for path in [
            format!("/terminals/{receiver}/input"),
            format!("/terminals/{receiver}/inbox/messages"),
        ] {
            let answer = live
                .operator("POST", &path, Some(json!({ "message": text })))
                .await;
            if answer.status != 400 {
                wrong.push(format!(
                    "{path} {text:?}: {} {}",
                    answer.status, answer.body
                ));
            }
        }
    }
    live.settled("empty").await;
    assert!(wrong.is_empty(), "not refused:\n{}", wrong.join("\n"));
    assert_eq!(live.fixture.inputs_of(&receiver), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_turns_on_a_full_screen_each_complete() {
    // The same input answered the same way, turn after turn. Each turn adds five lines and
    // one echo (`» same`); once the 50-row screen is full, one echo scrolls off the top as
    // one is added, and the last turn (from the last echo down) reads exactly as before the
    // input was typed: only the scroll (tmux's history size) tells the new turn from none.
    let live = Live::start(Fixture::with_script(SAME_REPLY)).await;
    let terminal = live.terminal("same", "developer").await;
    let path = format!("/terminals/{terminal}/input");
    for turn in 0..16 {
        let what = format!("turn {turn}");
        let mut events = live.orchestrator.subscribe();
        let sent = live
            .operator("POST", &path, Some(json!({ "message": "same" })))
            .await;
        assert_eq!(sent.status, 200, "{what}: {:?}", sent.body);
        turn_finished(&mut events, &terminal, &what).await;
        assert_eq!(live.fixture.inputs_of(&terminal).len(), turn + 1, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_inputs_at_once_are_each_taken_or_refused_and_none_is_left_typed() {
    // A turn long enough for the later inputs to find the agent at work.
    let live = Live::start(Fixture::with_script(
        "[[rules]]\ndelay_ms = 300\nreply = \"ok\"\n",
    ))
    .await;
    let terminal = live.terminal("burst", "developer").await;
    let path = format!("/terminals/{terminal}/input");
    let live = std::sync::Arc::new(live);
    let mut sends = Vec::new();
    for text in ["first of three", "second of three", "third of three"] {
        let live = live.clone();
        let path = path.clone();
        sends.push((
            text,
            tokio::spawn(async move {
                live.operator("POST", &path, Some(json!({ "message": text })))
                    .await
            }),
        ));
        // Staggered starts, as three quick senders would be; nothing waits on this.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut taken = Vec::new();
    for (text, send) in sends {
        let answer = send.await.unwrap();
        match answer.status {
            200 => taken.push(text.to_string()),
            409 => assert!(answer.detail().contains("busy"), "{}", answer.detail()),
            other => panic!("{text}: {other} {:?}", answer.body),
        }
    }
    assert!(!taken.is_empty(), "the first input finds the agent idle");

    // One turn per accepted input, each its own text whole (no input glued to another).
    live.settled("burst").await;
    let mut logged = live.fixture.inputs_of(&terminal);
    logged.sort();
    taken.sort();
    assert_eq!(logged, taken);
    let status = live.orchestrator.get_terminal(&terminal).unwrap().status;
    assert_eq!(status, TerminalStatus::Completed);

    // Nothing waits in the composer: the next input is a turn of its own text alone.
    let mut events = live.orchestrator.subscribe();
    let later = live
        .operator("POST", &path, Some(json!({ "message": "later" })))
        .await;
    assert_eq!(later.status, 200, "{:?}", later.body);
    turn_finished(&mut events, &terminal, "the later input").await;
    let logged = live.fixture.inputs_of(&terminal);
    assert_eq!(logged.len(), taken.len() + 1, "{logged:?}");
    assert_eq!(logged.last().unwrap(), "later");
}
