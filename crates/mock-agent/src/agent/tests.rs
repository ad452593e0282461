//! Tests of the agent core against a tiny screen model.

use super::*;
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);

/// Just enough of a terminal for the agent's output: `\r\n`, `\r` + erase line, text.
#[derive(Default)]
struct Screen {
    lines: Vec<String>,
}

impl Screen {
    fn apply(&mut self, text: &str) {
        if self.lines.is_empty() {
            self.lines.push(String::new());
        }
        let mut rest = text;
        while let Some(character) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("\x1b[2K") {
                self.lines.last_mut().unwrap().clear();
                rest = after;
                continue;
            }
            match character {
                '\r' => {}
                '\n' => self.lines.push(String::new()),
                c => {
                    assert!(!c.is_control(), "raw control {c:?} in output {text:?}");
                    self.lines.last_mut().unwrap().push(c);
                }
            }
            rest = &rest[character.len_utf8()..];
        }
    }

    fn text(&self) -> String {
        self.lines.join("\n")
    }

    fn bottom(&self) -> &str {
        self.lines.last().map_or("", String::as_str)
    }
}

/// An agent plus its screen, log, the tool calls it asked for, and exit status.
struct Harness {
    agent: Agent,
    screen: Screen,
    log: Vec<String>,
    calls: Vec<ToolCall>,
    exit: Option<i32>,
}

impl Harness {
    fn new(script: &str) -> Self {
        let mut harness = Self {
            agent: Agent::new(Script::parse(script).unwrap(), Duration::ZERO),
            screen: Screen::default(),
            log: Vec::new(),
            calls: Vec::new(),
            exit: None,
        };
        let actions = harness.agent.tick(Duration::ZERO);
        harness.take(actions);
        harness
    }

    fn take(&mut self, actions: Vec<Action>) {
        for action in actions {
            assert!(self.exit.is_none(), "action after exit: {action:?}");
            match action {
                Action::Write(text) => self.screen.apply(&text),
                Action::Submitted(input) => self.log.push(input),
                Action::CallTool(call) => self.calls.push(call),
                Action::Exit(code) => self.exit = Some(code),
            }
        }
    }

    fn feed(&mut self, bytes: &[u8], at_ms: u64) {
        let actions = self.agent.feed(bytes, MS * at_ms as u32);
        self.take(actions);
    }

    fn tick(&mut self, at_ms: u64) {
        let actions = self.agent.tick(MS * at_ms as u32);
        self.take(actions);
    }

    /// Answers call `id` with `text`.
    fn answer(&mut self, id: u64, text: &str, is_error: bool, at_ms: u64) {
        let result = ToolResult {
            text: text.to_owned(),
            is_error,
        };
        let actions = self.agent.tool_result(id, result, MS * at_ms as u32);
        self.take(actions);
    }
}

const TEAM_SCRIPT: &str = r#"
[[rules]]
match = "build"
delay_ms = 100
reply = "developer: {result.0.output}\nreviewer: {result.1.terminal_id}"
[[rules.calls]]
tool = "handoff"
args = { agent_profile = "developer", message = "Implement: {input}" }
[[rules.calls]]
tool = "team.assign"
args = { agent_profile = "reviewer", message = "Review this change: {result.0.output}" }
"#;

fn paste(text: &str) -> Vec<u8> {
    [b"\x1b[200~", text.as_bytes(), b"\x1b[201~"].concat()
}

#[test]
fn start_draws_banner_blank_line_and_prompt() {
    let harness = Harness::new("");
    assert_eq!(harness.screen.text(), format!("{BANNER}\n\nmock> "));
}

#[test]
fn startup_delay_holds_the_banner_back() {
    let mut harness = Harness::new("startup_delay_ms = 500");
    assert_eq!(harness.screen.text(), "");
    assert_eq!(harness.agent.next_deadline(), Some(MS * 500));
    harness.feed(b"early", 100);
    harness.tick(499);
    assert_eq!(harness.screen.text(), "");
    harness.tick(500);
    assert_eq!(harness.screen.bottom(), "mock> early");
}

#[test]
fn typing_echoes_and_backspace_removes_whole_characters() {
    let mut harness = Harness::new("");
    harness.feed("héllo€".as_bytes(), 1);
    assert_eq!(harness.screen.bottom(), "mock> héllo€");
    harness.feed(b"\x7f\x7f", 2);
    assert_eq!(harness.screen.bottom(), "mock> héll");
}

#[test]
fn echo_reply_block_follows_the_contract() {
    let mut harness = Harness::new("");
    harness.feed(b"hello\r", 0);
    assert_eq!(harness.log, vec!["hello"]);
    assert_eq!(harness.screen.bottom(), "⠋ working… (esc to interrupt, 0s)");
    harness.tick(100);
    assert_eq!(harness.screen.bottom(), "⠙ working… (esc to interrupt, 0s)");
    harness.tick(200);
    assert_eq!(
        harness.screen.text(),
        format!("{BANNER}\n\nmock> hello\n» hello\n● echo: hello\n✓ done in 0.2s\n\nmock> ")
    );
}

#[test]
fn spinner_counts_whole_seconds() {
    let mut harness = Harness::new("[[rules]]\ndelay_ms = 5000\n");
    harness.feed(b"x\r", 0);
    for at in (100..=2300).step_by(100) {
        harness.tick(at);
    }
    assert_eq!(harness.screen.bottom(), "⠸ working… (esc to interrupt, 2s)");
    // The working line is redrawn in place, never stacked.
    assert_eq!(harness.screen.text().matches("working…").count(), 1);
}

#[test]
fn multi_line_paste_is_summarised_and_logged_exactly() {
    let mut harness = Harness::new("");
    let text = "first \"line\"; $(rm -rf /)\nsecond\\\n\tthird ✓";
    harness.feed(&paste(text), 0);
    assert_eq!(harness.screen.bottom(), "mock> [pasted 3 lines, 42 chars]");
    assert!(harness.log.is_empty(), "pasted newlines must not submit");
    harness.feed(b"\r", 150);
    assert_eq!(harness.log, vec![text]);
    harness.tick(350);
    let screen = harness.screen.text();
    assert!(
        screen.contains(
            "» first \"line\"; $(rm -rf /)\n»   (+2 more lines)\n● echo: first \"line\"; $(rm -rf /)\n  second\\\n   third ✓\n✓ done in 0.2s\n\nmock> "
        ),
        "{screen}"
    );
}

#[test]
fn control_bytes_in_input_are_shown_harmlessly() {
    let mut harness = Harness::new("");
    harness.feed(&paste("a\x1b[31mred\x07"), 0);
    assert_eq!(harness.screen.bottom(), "mock> a^[[31mred^G");
    harness.feed(b"\r", 1);
    assert_eq!(harness.log, vec!["a\x1b[31mred\x07"]);
}

#[test]
fn long_lines_keep_to_one_row() {
    let mut harness = Harness::new("");
    harness.agent.set_width(40);
    let long = "x".repeat(20_000);
    harness.feed(&paste(&long), 0);
    let bottom = harness.screen.bottom().to_owned();
    assert!(bottom.starts_with("mock> …x"), "{bottom}");
    assert!(bottom.chars().count() <= 40, "{bottom}");
    harness.feed(b"\r", 1);
    assert_eq!(harness.log, vec![long]);
    let echo = harness.screen.lines[harness.screen.lines.len() - 2].clone();
    assert!(echo.starts_with("» xxx") && echo.ends_with('…'), "{echo}");
    assert!(echo.chars().count() <= 40);
}

#[test]
fn scripted_reply_with_input_placeholder_and_delay() {
    let mut harness = Harness::new(
        "[[rules]]\nmatch = \"build\"\nreply = \"built {input}\\nall green\"\ndelay_ms = 1000\n",
    );
    harness.feed(b"build it\r", 0);
    harness.tick(999);
    assert!(harness
        .screen
        .bottom()
        .ends_with("working… (esc to interrupt, 0s)"));
    harness.tick(1000);
    assert!(harness
        .screen
        .text()
        .ends_with("● built build it\n  all green\n✓ done in 1.0s\n\nmock> "));
}

#[test]
fn streaming_reveals_a_line_at_a_time_above_the_working_line() {
    let mut harness =
        Harness::new("[[rules]]\nreply = \"one\\ntwo\\nthree\"\ndelay_ms = 100\nstream_ms = 300\n");
    harness.feed(b"go\r", 0);
    harness.tick(100);
    assert!(harness
        .screen
        .text()
        .ends_with("● one\n⠙ working… (esc to interrupt, 0s)"));
    harness.tick(400);
    assert!(harness.screen.text().contains("● one\n  two\n"));
    assert!(harness.screen.bottom().contains("working…"));
    harness.tick(700);
    assert!(harness
        .screen
        .text()
        .ends_with("● one\n  two\n  three\n✓ done in 0.7s\n\nmock> "));
}

#[test]
fn approval_yes_continues_and_no_denies() {
    let script = "[[rules]]\nmatch = \"tool\"\nask_approval = true\nreply = \"ran the tool\"\ndelay_ms = 100\n";
    let mut harness = Harness::new(script);
    harness.feed(b"use tool\r", 0);
    harness.tick(100);
    assert_eq!(harness.screen.bottom(), APPROVAL_QUESTION);
    assert_eq!(harness.agent.next_deadline(), None);
    harness.feed(b"x\r", 5000); // neither y nor n: still asking
    assert_eq!(harness.screen.bottom(), APPROVAL_QUESTION);
    harness.feed(b"y", 5000);
    assert!(harness.screen.bottom().contains("working…"));
    harness.tick(5100);
    assert!(harness
        .screen
        .text()
        .ends_with("? Allow mock tool to run? (y/n) y\n● ran the tool\n✓ done in 5.1s\n\nmock> "));

    harness.feed(b"tool again\r", 6000);
    harness.tick(6100);
    harness.feed(b"n", 6200);
    assert!(harness
        .screen
        .text()
        .ends_with("(y/n) n\n● denied\n✓ done in 0.2s\n\nmock> "));
    assert_eq!(harness.log, vec!["use tool", "tool again"]);
}

#[test]
fn fatal_rule_prints_the_error_and_exits_with_its_code() {
    let mut harness =
        Harness::new("[[rules]]\nmatch = \"crash\"\nerror = \"model overloaded\"\nexit_code = 7\ndelay_ms = 50\n");
    harness.feed(b"crash now\r", 0);
    assert_eq!(harness.exit, None);
    harness.tick(50);
    assert_eq!(harness.exit, Some(7));
    assert!(harness
        .screen
        .text()
        .ends_with("» crash now\n✗ error: model overloaded\n"));
    assert!(harness.agent.has_exited());
}

#[test]
fn ctrl_c_clears_then_exits_130() {
    let mut harness = Harness::new("");
    harness.feed(b"abc\x03", 0);
    assert_eq!(harness.screen.bottom(), "mock> ");
    assert_eq!(harness.exit, None);
    harness.feed(b"\x03", 1);
    assert_eq!(harness.exit, Some(EXIT_INTERRUPTED));
}

#[test]
fn ctrl_c_or_esc_while_working_interrupts() {
    let mut harness = Harness::new("[[rules]]\ndelay_ms = 5000\n");
    harness.feed(b"slow\r", 0);
    harness.feed(b"\x03", 300);
    assert!(harness
        .screen
        .text()
        .ends_with("» slow\n✗ interrupted\n\nmock> "));
    harness.feed(b"slow\r", 400);
    harness.feed(b"\x1b", 500);
    assert!(
        harness.screen.bottom().contains("working…"),
        "Esc waits for a sequence"
    );
    assert_eq!(harness.agent.next_deadline(), Some(MS * 530));
    harness.tick(530);
    assert!(harness.screen.text().ends_with("✗ interrupted\n\nmock> "));
    assert_eq!(harness.exit, None);
}

#[test]
fn type_ahead_while_working_shows_at_the_next_prompt() {
    let mut harness = Harness::new("");
    harness.feed(b"one\r", 0);
    harness.feed(b"two\r", 50);
    harness.tick(200);
    assert_eq!(harness.screen.bottom(), "mock> two");
    assert_eq!(harness.log, vec!["one"]);
}

#[test]
fn exit_command_exits_zero_and_is_logged() {
    let mut harness = Harness::new("");
    harness.feed(b"\r", 0);
    assert!(harness.log.is_empty(), "empty Enter submits nothing");
    harness.feed(b"/exit\r", 1);
    assert_eq!(harness.exit, Some(0));
    assert_eq!(harness.log, vec!["/exit"]);
}

#[test]
fn closed_input_exits_after_the_current_reply() {
    let mut harness = Harness::new("");
    harness.feed(b"last\r", 0);
    let actions = harness.agent.close_input(MS * 10);
    harness.take(actions);
    assert_eq!(harness.exit, None);
    harness.tick(200);
    assert_eq!(harness.exit, Some(0));
    assert!(harness
        .screen
        .text()
        .ends_with("● echo: last\n✓ done in 0.2s\n\n"));
}

#[test]
fn calls_run_in_order_under_the_working_line_then_the_reply() {
    let mut harness = Harness::new(TEAM_SCRIPT);
    harness.agent.set_width(200);
    harness.feed(b"build it\r", 0);
    harness.tick(99);
    assert!(harness.calls.is_empty(), "the working time comes first");
    harness.tick(100);
    assert_eq!(
        harness.calls,
        vec![ToolCall {
            id: 0,
            tool: "handoff".into(),
            args: serde_json::json!({"agent_profile": "developer", "message": "Implement: build it"}),
        }]
    );
    let screen = harness.screen.text();
    assert!(
        screen.ends_with(
            "» build it\n● calling handoff(agent_profile=\"developer\", message=\"Implement: build it\")\n⠙ working… (esc to interrupt, 0s)"
        ),
        "{screen}"
    );
    // A handoff may block for minutes: the spinner goes on, nothing else happens.
    for at in (200..=65_000).step_by(100) {
        harness.tick(at);
    }
    assert_eq!(harness.calls.len(), 1);
    assert_eq!(harness.agent.next_deadline(), Some(MS * 65_100));
    assert!(harness
        .screen
        .bottom()
        .ends_with("working… (esc to interrupt, 65s)"));

    let handoff = r#"{"success":true,"message":"done","output":"built it","terminal_id":"dev00001","job_id":"j1"}"#;
    harness.answer(0, handoff, false, 65_050);
    assert_eq!(harness.calls.len(), 2);
    assert_eq!(harness.calls[1].id, 1);
    assert_eq!(harness.calls[1].tool, "team.assign");
    assert_eq!(
        harness.calls[1].args,
        serde_json::json!({"agent_profile": "reviewer", "message": "Review this change: built it"})
    );
    assert!(harness.screen.bottom().contains("working…"));
    harness.answer(
        1,
        r#"{"success":true,"terminal_id":"rev00002","message":"assigned"}"#,
        false,
        65_100,
    );
    assert_eq!(
        harness.screen.text(),
        format!(
            "{BANNER}\n\nmock> build it\n» build it\n\
             ● calling handoff(agent_profile=\"developer\", message=\"Implement: build it\")\n\
             \x20 ⎿ {handoff}\n\
             ● calling team.assign(agent_profile=\"reviewer\", message=\"Review this change: built it\")\n\
             \x20 ⎿ {{\"success\":true,\"terminal_id\":\"rev00002\",\"message\":\"assigned\"}}\n\
             ● developer: built it\n  reviewer: rev00002\n✓ done in 65.1s\n\nmock> "
        )
    );
    assert_eq!(harness.log, vec!["build it"]);
}

#[test]
fn a_failed_call_shows_its_reason_and_the_turn_goes_on() {
    let mut harness = Harness::new(TEAM_SCRIPT);
    harness.feed(b"build\r", 0);
    harness.tick(100);
    harness.answer(
        0,
        "MCP server `cao` is not connected: connection refused\nmore",
        true,
        150,
    );
    assert_eq!(
        harness.calls[1].args["message"],
        "Review this change: MCP server `cao` is not connected: connection refused\nmore",
        "a failed call's {{result.N.field}} is its error text"
    );
    harness.answer(1, "", false, 160);
    let screen = harness.screen.text();
    assert!(
        screen.contains(
            "\n● tool handoff failed: MCP server `cao` is not connected: connection refused\n● calling team.assign("
        ),
        "{screen}"
    );
    assert!(
        screen.contains("\n  ⎿ (no output)\n● developer: MCP server"),
        "{screen}"
    );
    assert!(!screen.contains('✗'), "{screen}");
    assert!(screen.ends_with("✓ done in 0.2s\n\nmock> "), "{screen}");
    assert_eq!(harness.exit, None);
}

#[test]
fn results_for_calls_no_longer_awaited_are_ignored() {
    let mut harness = Harness::new(TEAM_SCRIPT);
    harness.feed(b"build\r", 0);
    harness.tick(100);
    harness.answer(7, "{}", false, 110);
    assert_eq!(harness.calls.len(), 1, "not the awaited call");
    harness.feed(b"\x03", 120);
    assert!(harness.screen.text().ends_with("✗ interrupted\n\nmock> "));
    harness.answer(0, "{}", false, 130);
    assert_eq!(harness.calls.len(), 1);
    assert!(harness.screen.text().ends_with("✗ interrupted\n\nmock> "));

    // The next turn's calls get new ids, so the late answer cannot be taken for them.
    harness.feed(b"build again\r", 200);
    harness.tick(300);
    assert_eq!(harness.calls[1].id, 1);
    harness.answer(0, "{}", false, 310);
    assert_eq!(harness.calls.len(), 2);
}

#[test]
fn calls_come_after_the_approval_and_a_denial_skips_them() {
    let script = "[[rules]]\nask_approval = true\ndelay_ms = 10\nreply = \"{result.0}\"\n[[rules.calls]]\ntool = \"t\"\n";
    let mut harness = Harness::new(script);
    harness.feed(b"go\r", 0);
    harness.tick(10);
    assert_eq!(harness.screen.bottom(), APPROVAL_QUESTION);
    assert!(harness.calls.is_empty());
    harness.feed(b"y", 20);
    harness.tick(30);
    assert_eq!(harness.calls.len(), 1);
    assert_eq!(harness.calls[0].args, serde_json::json!({}));
    harness.answer(0, "ok", false, 40);
    assert!(harness
        .screen
        .text()
        .ends_with("  ⎿ ok\n● ok\n✓ done in 0.0s\n\nmock> "));
    harness.feed(b"go\r", 100);
    harness.tick(110);
    harness.feed(b"n", 120);
    assert_eq!(harness.calls.len(), 1);
    assert!(harness
        .screen
        .text()
        .ends_with("● denied\n✓ done in 0.0s\n\nmock> "));
}

#[test]
fn call_lines_keep_to_one_row() {
    let mut harness = Harness::new(TEAM_SCRIPT);
    harness.agent.set_width(40);
    harness.feed(&paste("build\nwith a very long second line of text"), 0);
    harness.feed(b"\r", 1);
    harness.tick(101);
    let calling = harness.screen.lines[harness.screen.lines.len() - 2].clone();
    assert!(
        calling.starts_with("● calling handoff(agent_profile="),
        "{calling}"
    );
    assert!(
        calling.ends_with('…') && calling.chars().count() <= 40,
        "{calling}"
    );
    harness.answer(0, &format!("{}\nsecond", "r".repeat(100)), false, 102);
    let result = harness
        .screen
        .lines
        .iter()
        .find(|line| line.starts_with("  ⎿ "))
        .unwrap()
        .clone();
    assert!(
        result.ends_with('…') && result.chars().count() <= 40,
        "{result}"
    );
    harness.answer(1, &format!("{}\x1b[2J", "e".repeat(100)), true, 103);
    let failed = harness
        .screen
        .lines
        .iter()
        .find(|line| line.starts_with("● tool team.assign failed: "))
        .unwrap()
        .clone();
    assert!(
        failed.ends_with('…') && failed.chars().count() <= 40,
        "{failed}"
    );
}

#[test]
fn split_lines_handles_every_line_break() {
    assert_eq!(split_lines(""), vec![""]);
    assert_eq!(split_lines("a"), vec!["a"]);
    assert_eq!(split_lines("a\r\nb\rc\nd\n"), vec!["a", "b", "c", "d"]);
    assert_eq!(split_lines("a\n\nb"), vec!["a", "", "b"]);
}

/// Feeds `bytes` cut at the given points (each taken modulo the length).
fn feed_in_chunks(harness: &mut Harness, bytes: &[u8], cuts: &[usize], at_ms: u64) {
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    for pair in cuts.windows(2) {
        harness.feed(&bytes[pair[0]..pair[1]], at_ms);
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32),
        script_index in 0usize..4,
    ) {
        let scripts = [
            "",
            "[[rules]]\nask_approval = true\ndelay_ms = 20\nstream_ms = 10\nreply = \"a\\nb\"\n",
            "[[rules]]\nmatch = \"x\"\nerror = \"boom\"\nexit_code = 4\n",
            TEAM_SCRIPT,
        ];
        let mut agent = Agent::new(Script::parse(scripts[script_index]).unwrap(), Duration::ZERO);
        let mut at = Duration::ZERO;
        let _ = agent.tick(at);
        let mut pending = Vec::new();
        for (index, chunk) in chunks.into_iter().enumerate() {
            at += MS * 7;
            pending.extend(agent.feed(&chunk, at));
            at += MS * 13;
            pending.extend(agent.tick(at));
            // Answer the calls asked for so far, some late, some failed.
            if index % 2 == 1 {
                for action in std::mem::take(&mut pending) {
                    if let Action::CallTool(call) = action {
                        let result = ToolResult { text: chunk.len().to_string(), is_error: index % 4 == 1 };
                        let _ = agent.tool_result(call.id, result, at);
                    }
                }
            }
        }
        let _ = agent.close_input(at);
        let _ = agent.tick(at + Duration::from_secs(60));
    }

    #[test]
    fn pasted_text_arrives_in_the_log_unchanged(
        text in "[a-zA-Z0-9 \"'`;$(){}\\\\|&<>\n\r\t\x01-\x1a\u{7f}é✓漢😀]{1,200}",
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut harness = Harness::new("");
        let bytes = [paste(&text), b"\r".to_vec()].concat();
        feed_in_chunks(&mut harness, &bytes, &cuts, 1);
        prop_assert_eq!(harness.log, vec![text]);
    }
}
