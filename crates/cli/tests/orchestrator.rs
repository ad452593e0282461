//! The orchestrator service against real tmux (a private server per test) and real
//! `cao mock-agent` processes: launch, status events, byte-exact input, last-reply extraction,
//! failures that are fast and leave nothing behind, deletion and re-adoption.

use std::time::{Duration, Instant};

use cao_mux::Multiplexer;
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{CreateTerminal, OrchestratorError, OrchestratorEvent, OutputMode};
use cao_orchestrator::TerminalStatus;

mod common;

use common::{ready, ready_terminal, Fixture, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_agent_goes_idle_then_completes_a_hostile_multiline_task_byte_for_byte() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture.start().await;
    let terminal = orchestrator
        .create_session(fixture.request("hostile"))
        .await
        .unwrap();
    assert_eq!(terminal.session_name, "cao-hostile");
    assert_eq!(terminal.id.len(), 8);
    assert!(terminal.name.starts_with("developer-"));
    let status = orchestrator
        .wait_for_status(&terminal.id, ready, DEADLINE)
        .await
        .unwrap();
    assert_eq!(status, TerminalStatus::Idle);

    let message = "line one; rm -rf / && echo \"$(whoami)\" 'single' `tick`\n\
                   line two \\ backslash \u{1b}[31m not red \t tab\n\
                   ünïcödé ✓ 漢字 🚀\nlast line";
    orchestrator
        .send_input(&terminal.id, message)
        .await
        .unwrap();
    let status = orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    assert_eq!(status, TerminalStatus::Completed);
    // Byte for byte, except the escape byte: a paste carries no control bytes but tab and
    // line feed.
    let pasted = message.replace('\u{1b}', "");
    assert_eq!(fixture.logged_inputs(), vec![pasted]);
    let last = orchestrator
        .output(&terminal.id, OutputMode::Last)
        .await
        .unwrap();
    assert!(last.starts_with("echo: line one; rm -rf /"), "{last:?}");
    assert!(last.contains("ünïcödé ✓ 漢字 🚀"), "{last:?}");
    assert!(last.ends_with("last line"), "{last:?}");

    // A 100 KB message arrives whole.
    let long: String = (0..100_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    orchestrator.send_input(&terminal.id, &long).await.unwrap();
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    let inputs = fixture.logged_inputs();
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[1], long);

    let deleted = orchestrator.delete_session("hostile").await.unwrap();
    assert_eq!(deleted, vec![terminal.id.clone()]);
    assert!(orchestrator.list_sessions().unwrap().is_empty());
    let log = std::fs::read_to_string(CaoHome::at(fixture.home.path()).terminal_log(&terminal.id))
        .unwrap();
    assert!(log.contains("echo: line one"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_agent_binary_fails_at_once_and_leaves_nothing_behind() {
    let fixture = Fixture::new();
    let empty = tempfile::tempdir().unwrap();
    let (orchestrator, mux) = fixture
        .start_with_path(empty.path().as_os_str().to_owned())
        .await;
    let started = Instant::now();
    let error = orchestrator
        .create_session(CreateTerminal {
            provider: Some("claude_code".into()),
            ..fixture.request("missing")
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let message = error.to_string();
    assert!(
        matches!(error, OrchestratorError::Unavailable(_)),
        "{message}"
    );
    assert!(message.contains("claude"), "{message}");
    assert!(message.contains("npm install"), "{message}");
    assert!(orchestrator.list_sessions().unwrap().is_empty());
    assert!(!mux.session_exists("cao-missing").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_profiles_and_providers_list_what_exists() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture.start().await;
    let error = orchestrator
        .create_session(CreateTerminal {
            agent_profile: "nobody".into(),
            ..fixture.request("x")
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nobody") && error.contains("developer"),
        "{error}"
    );
    let error = orchestrator
        .create_session(CreateTerminal {
            provider: Some("nonesuch".into()),
            ..fixture.request("x")
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nonesuch") && error.contains("claude_code"),
        "{error}"
    );
    let error = orchestrator
        .create_session(fixture.request("bad name;rm"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid session name"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_exits_is_an_error_with_its_exit_status() {
    let fixture = Fixture::new();
    let script = fixture.home.path().join("script.toml");
    std::fs::write(
        &script,
        "[[rules]]\nmatch = \"crash\"\nexit_code = 7\nerror = \"boom\"\ndelay_ms = 50\n",
    )
    .unwrap();
    let (orchestrator, _mux) = fixture.start().await;
    let mut request = fixture.request("crash");
    request
        .env_vars
        .insert("CAO_MOCK_AGENT_SCRIPT".into(), script.display().to_string());
    let terminal = orchestrator.create_session(request).await.unwrap();
    orchestrator
        .wait_for_status(&terminal.id, ready, DEADLINE)
        .await
        .unwrap();
    orchestrator
        .send_input(&terminal.id, "please crash")
        .await
        .unwrap();
    let started = Instant::now();
    let error = orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(error.contains("failed"), "{error}");
    assert_eq!(
        orchestrator.status(&terminal.id).unwrap(),
        TerminalStatus::Error
    );
    let refused = orchestrator
        .send_input(&terminal.id, "again")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, OrchestratorError::Conflict(_)),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_orchestrator_re_adopts_live_terminals_without_restarting_them() {
    let fixture = Fixture::new();
    let terminal = {
        let (orchestrator, mux) = fixture.start().await;
        let terminal = ready_terminal(&orchestrator, fixture.request("adopt")).await;
        orchestrator.stop_watching();
        mux.shutdown().await;
        terminal
    };
    let (orchestrator, _mux) = fixture.start().await;
    assert!(orchestrator
        .get_terminal(&terminal.id)
        .unwrap()
        .status
        .is_ready());
    orchestrator
        .send_input(&terminal.id, "after restart")
        .await
        .unwrap();
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    assert_eq!(
        orchestrator
            .output(&terminal.id, OutputMode::Last)
            .await
            .unwrap(),
        "echo: after restart"
    );
    // The agent was not restarted: one process saw both nothing before and this input after.
    assert_eq!(fixture.logged_inputs(), vec!["after restart".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_fails_fast_when_its_terminal_is_deleted() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture.start().await;
    let terminal = ready_terminal(&orchestrator, fixture.request("waiter")).await;
    let waiter = {
        let orchestrator = orchestrator.clone();
        let id = terminal.id.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = orchestrator
                .wait_for_status(&id, |s| s == TerminalStatus::Processing, DEADLINE)
                .await;
            (result, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    orchestrator.delete_terminal(&terminal.id).await.unwrap();
    let (result, elapsed) = waiter.await.unwrap();
    assert!(
        matches!(result, Err(OrchestratorError::NotFound(_))),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_not_completed_by_the_previous_turns_screen() {
    let fixture = Fixture::new();
    let (orchestrator, mux) = fixture.start().await;
    let terminal = ready_terminal(&orchestrator, fixture.request("stale")).await;
    orchestrator
        .send_input(&terminal.id, "first")
        .await
        .unwrap();
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    // An agent slow to react to Enter still shows the last turn's reply. Simulate one by
    // disabling the pane's input: nothing typed arrives.
    let panes = mux.list().await.unwrap();
    let pane = panes
        .iter()
        .find(|pane| pane.identity.get("cao_terminal_id") == Some(&terminal.id))
        .unwrap()
        .pane
        .to_string();
    // The tmux pane id, without the server it belongs to (`%3@<server>`).
    let pane = pane.split('@').next().unwrap().to_string();
    let input = |flag: &str| {
        std::process::Command::new("tmux")
            .args(["-L", &fixture.socket, "select-pane", flag, "-t", &pane])
            .status()
            .unwrap()
    };
    assert!(input("-d").success());
    orchestrator
        .send_input(&terminal.id, "second")
        .await
        .unwrap();
    let early = orchestrator
        .wait_for_status(
            &terminal.id,
            |s| s == TerminalStatus::Completed,
            Duration::from_millis(500),
        )
        .await;
    assert!(input("-e").success());
    assert!(
        matches!(early, Err(OrchestratorError::Timeout(_))),
        "the new turn counted as completed before the agent saw it: {early:?}"
    );
    // Input is back: the same message goes through and completes its own turn.
    orchestrator
        .send_input(&terminal.id, "second")
        .await
        .unwrap();
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    assert_eq!(
        orchestrator
            .output(&terminal.id, OutputMode::Last)
            .await
            .unwrap(),
        "echo: second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_killed_outside_cao_does_not_leave_its_agents_running_hidden() {
    let fixture = Fixture::new();
    let terminal = {
        let (orchestrator, mux) = fixture.start().await;
        let terminal = ready_terminal(&orchestrator, fixture.request("outside")).await;
        orchestrator.stop_watching();
        mux.shutdown().await;
        terminal
    };
    // The user removes the session by hand; its window stays linked into cao's control session.
    let killed = std::process::Command::new("tmux")
        .args(["-L", &fixture.socket, "kill-session", "-t", "=cao-outside"])
        .status()
        .unwrap();
    assert!(killed.success());
    let (orchestrator, mux) = fixture.start().await;
    // Either the terminal is still usable, or it is gone and so is its process.
    match orchestrator.get_terminal(&terminal.id) {
        Ok(_) => {
            orchestrator
                .send_input(&terminal.id, "still here")
                .await
                .unwrap();
            orchestrator
                .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
                .await
                .unwrap();
            orchestrator.delete_session("outside").await.unwrap();
        }
        Err(error) => panic!("the terminal was dropped while its pane runs: {error}"),
    }
    let engine_panes = mux.list().await.unwrap();
    assert!(
        engine_panes
            .iter()
            .all(|pane| pane.identity.get("cao_terminal_id") != Some(&terminal.id)),
        "{engine_panes:?}"
    );
    let windows = std::process::Command::new("tmux")
        .args([
            "-L",
            &fixture.socket,
            "list-windows",
            "-a",
            "-F",
            "#{session_name}",
        ])
        .output()
        .unwrap();
    let windows = String::from_utf8_lossy(&windows.stdout);
    assert_eq!(windows.lines().count(), 1, "{windows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_terminal_is_restored_under_the_same_id() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture.start().await;
    let terminal = ready_terminal(&orchestrator, fixture.request("restore")).await;
    orchestrator.delete_terminal(&terminal.id).await.unwrap();
    assert!(orchestrator.get_terminal(&terminal.id).is_err());
    let running = orchestrator.restore_terminal("ffffffff").await.unwrap_err();
    assert!(
        matches!(running, OrchestratorError::NotFound(_)),
        "{running}"
    );

    let restored = orchestrator.restore_terminal(&terminal.id).await.unwrap();
    assert_eq!(restored.id, terminal.id);
    assert_eq!(restored.session_name, "cao-restore");
    assert_eq!(restored.agent_profile, "developer");
    orchestrator
        .wait_for_status(&terminal.id, ready, DEADLINE)
        .await
        .unwrap();
    let again = orchestrator
        .restore_terminal(&terminal.id)
        .await
        .unwrap_err();
    assert!(matches!(again, OrchestratorError::Conflict(_)), "{again}");
    orchestrator.send_input(&terminal.id, "back").await.unwrap();
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    assert_eq!(
        orchestrator
            .output(&terminal.id, OutputMode::Last)
            .await
            .unwrap(),
        "echo: back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_sent_during_the_first_message_waits_for_its_answer() {
    let fixture = Fixture::with_script(
        "[[rules]]\nmatch = \"slow first\"\ndelay_ms = 1500\nreply = \"first answered\"\n",
    );
    let (orchestrator, _mux) = fixture.start().await;
    let mut events = orchestrator.subscribe();
    let mut request = fixture.request("fenced");
    request.initial_message = Some("slow first".into());
    let terminal = orchestrator.create_session(request).await.unwrap();
    // Sent at once, while the CLI starts and then works on the first message.
    orchestrator
        .send_input(&terminal.id, "second")
        .await
        .unwrap();
    let mut answered_before = false;
    while let Ok(event) = events.try_recv() {
        if let OrchestratorEvent::Status {
            terminal_id,
            status: TerminalStatus::Completed,
            ..
        } = event
        {
            answered_before |= terminal_id == terminal.id;
        }
    }
    assert!(
        answered_before,
        "the second input went in before the first message was answered"
    );
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    assert_eq!(fixture.logged_inputs(), ["slow first", "second"]);
    orchestrator.delete_session("fenced").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_input_twice_completes_twice() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture.start().await;
    let terminal = ready_terminal(&orchestrator, fixture.request("twice")).await;
    for _ in 0..2 {
        orchestrator.send_input(&terminal.id, "same").await.unwrap();
        orchestrator
            .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
            .await
            .unwrap();
    }
    assert_eq!(fixture.logged_inputs(), ["same", "same"]);
    orchestrator.delete_session("twice").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_that_needs_cao_tools_gets_input_once_the_cli_listed_them() {
    let fixture = Fixture::new();
    let pack = common::mock_pack_needing_tools();
    let providers = CaoHome::at(fixture.home.path()).providers_dir();
    std::fs::create_dir_all(&providers).unwrap();
    std::fs::write(providers.join("mock_tools.toml"), pack).unwrap();
    let (orchestrator, _mux) = fixture.start().await;
    let mut request = fixture.request("tools");
    request.provider = Some("mock_tools".into());
    let terminal = orchestrator.create_session(request).await.unwrap();
    orchestrator
        .wait_for_status(&terminal.id, ready, DEADLINE)
        .await
        .unwrap();
    let sending = tokio::spawn({
        let orchestrator = orchestrator.clone();
        let id = terminal.id.clone();
        async move { orchestrator.send_input(&id, "needs tools").await }
    });
    // Ready, but this agent never listed cao's tools (no MCP server here): the input waits.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(fixture.logged_inputs().is_empty());
    assert!(!sending.is_finished());
    orchestrator.agent_listed_tools(&terminal.id);
    sending.await.unwrap().unwrap();
    orchestrator
        .wait_for_status(&terminal.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    assert_eq!(fixture.logged_inputs(), ["needs tools"]);
    orchestrator.delete_session("tools").await.unwrap();
}
