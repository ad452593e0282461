//! The orchestrator on the in-memory multiplexer (`cao_mux::fake::FakeMux`): no tmux, no agent
//! process. Each test plays the agent: it sets the screens the mock pack classifies, ends the
//! program or the server, and reads back what the orchestrator pasted and typed. Events are
//! ordered by the test (it waits for the orchestrator's input, or for a status or an event,
//! always with a deadline), never by sleeping.

use std::sync::Arc;
use std::time::Duration;

use cao_mux::fake::{FakeMux, Input};
use cao_mux::{BackendState, PaneRef};
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{
    delivery_text, CreateTerminal, Orchestrator, OrchestratorConfig, OrchestratorError,
    OrchestratorEvent, Terminal, TERMINAL_ID_KEY,
};
use cao_orchestrator::store::InboxStatus;
use cao_orchestrator::TerminalStatus;
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(20);

const SCREENS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/screens/mock");

/// A captured screen of the real mock agent.
fn captured_screen(name: &str) -> String {
    std::fs::read_to_string(format!("{SCREENS}/{name}")).unwrap()
}

/// The mock agent's screen (its contract is in the mock pack): the banner, one finished
/// turn per input in `done`, then `tail`.
fn mock_screen(done: &[&str], tail: &str) -> String {
    let mut screen = String::from("cao mock-agent — scripted agent; type /exit to quit\n\n");
    for input in done {
        screen.push_str(&format!(
            "mock> {input}\n» {input}\n● done: {input}\n✓ done in 0.2s\n\n"
        ));
    }
    screen.push_str(tail);
    screen
}

/// Ready for input after the turns in `done`.
fn ready_screen(done: &[&str]) -> String {
    mock_screen(done, "mock> \n")
}

/// At work on `input`, after the turns in `done`.
fn working_screen(done: &[&str], input: &str) -> String {
    mock_screen(
        done,
        &format!("mock> {input}\n» {input}\n⠋ working… (esc to interrupt, 0s)\n"),
    )
}

/// An orchestrator on a fake multiplexer and a cao home of its own.
struct Harness {
    fake: Arc<FakeMux>,
    orchestrator: Orchestrator,
    home: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(|_| {}, &[]).await
    }

    /// With `adjust` applied to the configuration, and `packs` (file name, TOML) installed as
    /// the user's provider packs.
    async fn start_with(
        adjust: impl FnOnce(&mut OrchestratorConfig),
        packs: &[(&str, &str)],
    ) -> Harness {
        let home = tempfile::tempdir().unwrap();
        let cao_home = CaoHome::at(home.path());
        for (name, pack) in packs {
            std::fs::create_dir_all(cao_home.providers_dir()).unwrap();
            std::fs::write(cao_home.providers_dir().join(name), pack).unwrap();
        }
        let fake = Arc::new(FakeMux::new());
        let mut config = OrchestratorConfig::new(cao_home, fake.clone());
        // Nothing runs in a fake pane; the launch pre-flight only needs the program to exist.
        config.cao_binary = "/bin/sh".into();
        config.path = Default::default();
        config.default_provider = "mock".into();
        config.agent_env = Vec::new();
        adjust(&mut config);
        let orchestrator = Orchestrator::start(config).await.unwrap();
        Harness {
            fake,
            orchestrator,
            home,
        }
    }

    fn request(&self, session: &str) -> CreateTerminal {
        CreateTerminal {
            agent_profile: "developer".into(),
            provider: Some("mock".into()),
            session_name: Some(session.into()),
            working_directory: Some(self.home.path().display().to_string()),
            ..CreateTerminal::default()
        }
    }

    /// Creates a session's terminal; returns it and its pane.
    async fn create(&self, request: CreateTerminal) -> (Terminal, PaneRef) {
        let terminal = self.orchestrator.create_session(request).await.unwrap();
        let pane = self.fake.find(TERMINAL_ID_KEY, &terminal.id).unwrap();
        (terminal, pane)
    }

    /// A terminal whose agent shows its ready prompt, once it is `idle`.
    async fn idle_terminal(&self, session: &str) -> (Terminal, PaneRef) {
        let (terminal, pane) = self.create(self.request(session)).await;
        self.fake.set_screen(&pane, &ready_screen(&[])).unwrap();
        let status = self.wait_for(&terminal.id, TerminalStatus::Idle).await;
        assert_eq!(status, TerminalStatus::Idle);
        (terminal, pane)
    }

    async fn wait_for(&self, id: &str, wanted: TerminalStatus) -> TerminalStatus {
        self.orchestrator
            .wait_for_status(id, |status| status == wanted, DEADLINE)
            .await
            .unwrap()
    }

    /// Waits until the pane got `count` inputs, and returns them.
    async fn inputs(&self, pane: &PaneRef, count: usize) -> Vec<Input> {
        let inputs = self.fake.wait_for_inputs(pane, count, DEADLINE).await;
        assert!(inputs.len() >= count, "{count} inputs expected: {inputs:?}");
        inputs
    }
}

fn paste(text: &str) -> Input {
    Input::Paste {
        text: text.into(),
        bracketed: true,
    }
}

fn enter() -> Input {
    Input::Keys(vec!["Enter".into()])
}

/// The next event `wanted` accepts, within the deadline.
async fn next_event(
    events: &mut broadcast::Receiver<OrchestratorEvent>,
    wanted: impl Fn(&OrchestratorEvent) -> bool,
) -> OrchestratorEvent {
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the event stream closed"),
            }
        }
    })
    .await;
    found.expect("the event within the deadline")
}

/// The statuses of terminal `id` announced so far (and not yet read).
fn statuses(events: &mut broadcast::Receiver<OrchestratorEvent>, id: &str) -> Vec<TerminalStatus> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let OrchestratorEvent::Status {
            terminal_id,
            status,
            ..
        } = event
        {
            if terminal_id == id {
                seen.push(status);
            }
        }
    }
    seen
}

/// The states message `id` went through so far (and not yet read).
fn message_states(
    events: &mut broadcast::Receiver<OrchestratorEvent>,
    id: i64,
) -> Vec<InboxStatus> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let OrchestratorEvent::Message {
            message_id, status, ..
        } = event
        {
            if message_id == id {
                seen.push(status);
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_terminal_goes_idle_then_processing_then_completed_as_its_screen_says() {
    let harness = Harness::start().await;
    let mut events = harness.orchestrator.subscribe();
    let mut last = harness.orchestrator.subscribe();
    let (terminal, pane) = harness.create(harness.request("status")).await;
    assert_eq!(terminal.status, TerminalStatus::Unknown);
    let launch = &harness.fake.launches()[0];
    assert_eq!(launch.pane, pane);
    assert_eq!(launch.spec.session, "cao-status");
    let argv = launch.spec.argv.clone().unwrap();
    assert_eq!(argv[..2], ["/bin/sh".to_string(), "mock-agent".to_string()]);
    assert!(launch
        .spec
        .env
        .contains(&("CAO_TERMINAL_ID".to_string(), terminal.id.clone())));

    harness
        .fake
        .set_screen(&pane, &captured_screen("00-startup.txt"))
        .unwrap();
    harness.wait_for(&terminal.id, TerminalStatus::Idle).await;

    let sender = {
        let orchestrator = harness.orchestrator.clone();
        let id = terminal.id.clone();
        tokio::spawn(async move { orchestrator.send_input(&id, "hello mock").await })
    };
    assert_eq!(
        harness.inputs(&pane, 2).await,
        vec![paste("hello mock"), enter()]
    );
    harness
        .fake
        .set_screen(&pane, &captured_screen("02-processing.txt"))
        .unwrap();
    sender.await.unwrap().unwrap();
    assert_eq!(
        harness.orchestrator.status(&terminal.id).unwrap(),
        TerminalStatus::Processing
    );
    harness
        .fake
        .set_screen(&pane, &captured_screen("03-completed.txt"))
        .unwrap();
    // The status changes before it is announced: wait for the announcement.
    next_event(&mut last, |event| {
        matches!(
            event,
            OrchestratorEvent::Status {
                status: TerminalStatus::Completed,
                ..
            }
        )
    })
    .await;
    assert_eq!(
        statuses(&mut events, &terminal.id),
        vec![
            TerminalStatus::Idle,
            TerminalStatus::Processing,
            TerminalStatus::Completed
        ]
    );
    // Answered once: nothing more was typed.
    assert_eq!(harness.fake.inputs(&pane).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_is_pasted_clean_then_entered_and_entered_again_while_the_screen_does_not_react() {
    let harness = Harness::start().await;
    let (terminal, pane) = harness.idle_terminal("input").await;
    let message = "line one \u{1b}[31mnot red\r\nline two\ttab ✓\u{7}";
    let sender = {
        let orchestrator = harness.orchestrator.clone();
        let id = terminal.id.clone();
        tokio::spawn(async move { orchestrator.send_input(&id, message).await })
    };
    let cleaned = "line one [31mnot red\nline two\ttab ✓";
    assert_eq!(
        harness.inputs(&pane, 2).await,
        vec![paste(cleaned), enter()]
    );
    // The screen stays as it was: the Enter was lost, so it is pressed again.
    assert_eq!(
        harness.inputs(&pane, 3).await,
        vec![paste(cleaned), enter(), enter()]
    );
    harness
        .fake
        .set_screen(&pane, &working_screen(&[], "line one [31mnot red"))
        .unwrap();
    sender.await.unwrap().unwrap();
    assert_eq!(harness.fake.inputs(&pane).len(), 3);
    assert_eq!(
        harness.orchestrator.status(&terminal.id).unwrap(),
        TerminalStatus::Processing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_to_a_terminal_at_work_is_refused_naming_the_status() {
    let harness = Harness::start().await;
    let (terminal, pane) = harness.idle_terminal("busy").await;
    let sender = {
        let orchestrator = harness.orchestrator.clone();
        let id = terminal.id.clone();
        tokio::spawn(async move { orchestrator.send_input(&id, "first").await })
    };
    harness.inputs(&pane, 2).await;
    harness
        .fake
        .set_screen(&pane, &working_screen(&[], "first"))
        .unwrap();
    sender.await.unwrap().unwrap();
    let error = harness
        .orchestrator
        .send_input(&terminal.id, "second")
        .await
        .unwrap_err();
    assert!(matches!(error, OrchestratorError::Conflict(_)), "{error}");
    assert!(error.to_string().contains("processing"), "{error}");
    assert_eq!(harness.fake.pasted(&pane), vec!["first".to_string()]);
}

/// The mock pack, renamed, taking the profile's system prompt as the first message.
fn mock_pack_with_prompt_as_first_message() -> String {
    let pack = include_str!("../src/provider/packs/mock.toml")
        .replace("name = \"mock\"", "name = \"mock_first\"")
        .replace("aliases = [\"mock_cli\"]", "aliases = []")
        .replace(
            "install_hint = ",
            "system_prompt = \"first_message\"\ninstall_hint = ",
        );
    assert!(pack.contains("system_prompt = \"first_message\""));
    pack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_message_is_pasted_and_answered_before_a_later_input() {
    let pack = mock_pack_with_prompt_as_first_message();
    let harness = Harness::start_with(|_| {}, &[("mock_first.toml", &pack)]).await;
    let (terminal, pane) = harness
        .create(CreateTerminal {
            provider: Some("mock_first".into()),
            initial_message: Some("the first task".into()),
            ..harness.request("first")
        })
        .await;
    // Sent while the CLI is still starting: it waits behind the first message.
    let later = {
        let orchestrator = harness.orchestrator.clone();
        let id = terminal.id.clone();
        tokio::spawn(async move { orchestrator.send_input(&id, "the later task").await })
    };
    harness.fake.set_screen(&pane, &ready_screen(&[])).unwrap();
    let system_prompt = harness
        .orchestrator
        .profiles()
        .find("developer")
        .unwrap()
        .system_prompt;
    let first = format!("{system_prompt}\n\nthe first task");
    let first_line = system_prompt.lines().find(|line| !line.trim().is_empty());
    let first_line = first_line.unwrap().trim();
    assert_eq!(
        harness.inputs(&pane, 2).await,
        vec![paste(&cao_mux::paste_text(&first)), enter()]
    );
    harness
        .fake
        .set_screen(&pane, &working_screen(&[], first_line))
        .unwrap();
    // Nothing else is typed while the first message's turn runs.
    harness
        .fake
        .set_screen(&pane, &ready_screen(&[first_line]))
        .unwrap();
    harness
        .wait_for(&terminal.id, TerminalStatus::Completed)
        .await;
    let inputs = harness.inputs(&pane, 4).await;
    assert_eq!(inputs[2..], [paste("the later task"), enter()]);
    harness
        .fake
        .set_screen(&pane, &working_screen(&[first_line], "the later task"))
        .unwrap();
    later.await.unwrap().unwrap();
    assert_eq!(harness.fake.inputs(&pane).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initial_message_goes_in_once_the_cli_is_ready() {
    let harness = Harness::start().await;
    let (terminal, pane) = harness
        .create(CreateTerminal {
            initial_message: Some("start here".into()),
            ..harness.request("initial")
        })
        .await;
    // The mock pack takes the system prompt at launch; only the caller's message is typed.
    assert!(harness.fake.inputs(&pane).is_empty());
    harness.fake.set_screen(&pane, &ready_screen(&[])).unwrap();
    assert_eq!(
        harness.inputs(&pane, 2).await,
        vec![paste("start here"), enter()]
    );
    harness
        .fake
        .set_screen(&pane, &ready_screen(&["start here"]))
        .unwrap();
    harness
        .wait_for(&terminal.id, TerminalStatus::Completed)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_ready_terminal_is_staged_pasted_and_delivered() {
    let harness = Harness::start().await;
    let (terminal, pane) = harness.idle_terminal("inbox").await;
    let mut events = harness.orchestrator.subscribe();
    let mut all = harness.orchestrator.subscribe();
    let message = harness
        .orchestrator
        .send_message(None, Some(&terminal.id), "please review\u{7} the diff")
        .unwrap();
    let id = message.id;
    next_event(&mut events, |event| {
        matches!(event, OrchestratorEvent::Message { message_id, status: InboxStatus::Delivered, .. } if *message_id == id)
    })
    .await;
    let text = delivery_text(id, "the operator", "please review\u{7} the diff");
    assert_eq!(
        harness.fake.inputs(&pane),
        vec![
            Input::PasteStaged {
                buffer: format!("cao-inbox-{id}"),
                text: cao_mux::paste_text(&text).into_owned(),
                bracketed: true,
            },
            enter()
        ]
    );
    assert_eq!(harness.fake.staged(&format!("cao-inbox-{id}")), None);
    assert_eq!(
        message_states(&mut all, id),
        vec![
            InboxStatus::Pending,
            InboxStatus::Delivering,
            InboxStatus::Delivered
        ]
    );
    let listed = harness.orchestrator.inbox(&terminal.id, None, 10).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, InboxStatus::Delivered);
    // The receiver works on it as a new turn.
    assert_eq!(
        harness.orchestrator.status(&terminal.id).unwrap(),
        TerminalStatus::Processing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_terminal_whose_cli_exited_is_held_then_failed() {
    let hold = Duration::from_millis(300);
    let harness = Harness::start_with(|config| config.message_hold = hold, &[]).await;
    let (terminal, pane) = harness.idle_terminal("exited").await;
    let mut events = harness.orchestrator.subscribe();
    harness.fake.exit(&pane, 3).unwrap();
    harness.wait_for(&terminal.id, TerminalStatus::Error).await;
    let reason = next_event(&mut events, |event| {
        matches!(
            event,
            OrchestratorEvent::Status {
                status: TerminalStatus::Error,
                ..
            }
        )
    })
    .await;
    let OrchestratorEvent::Status { reason, .. } = reason else {
        unreachable!()
    };
    assert_eq!(reason.as_deref(), Some("cao exited with status 3"));

    let mut all = harness.orchestrator.subscribe();
    let message = harness
        .orchestrator
        .send_message(None, Some(&terminal.id), "are you there?")
        .unwrap();
    let id = message.id;
    next_event(&mut events, |event| {
        matches!(event, OrchestratorEvent::Message { message_id, status: InboxStatus::Failed, .. } if *message_id == id)
    })
    .await;
    let listed = harness.orchestrator.inbox(&terminal.id, None, 10).unwrap();
    assert_eq!(listed[0].status, InboxStatus::Failed);
    let why = listed[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("cao exited with status 3"), "{why}");
    assert!(why.contains("not restored"), "{why}");
    // Held, never pasted anywhere.
    assert_eq!(
        message_states(&mut all, id),
        vec![InboxStatus::Pending, InboxStatus::Failed]
    );
    assert!(harness.fake.inputs(&pane).is_empty());
    assert_eq!(harness.fake.staged(&format!("cao-inbox-{id}")), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_held_for_a_terminal_that_exited_goes_to_it_once_restored() {
    let harness = Harness::start().await;
    let (terminal, pane) = harness.idle_terminal("restored").await;
    harness.fake.exit(&pane, 1).unwrap();
    harness.wait_for(&terminal.id, TerminalStatus::Error).await;
    let mut events = harness.orchestrator.subscribe();
    let message = harness
        .orchestrator
        .send_message(None, Some(&terminal.id), "after the restore")
        .unwrap();

    harness
        .orchestrator
        .restore_terminal(&terminal.id)
        .await
        .unwrap();
    assert!(harness.fake.is_killed(&pane));
    let restored = harness.fake.find(TERMINAL_ID_KEY, &terminal.id).unwrap();
    assert_ne!(restored, pane);
    harness
        .fake
        .set_screen(&restored, &ready_screen(&[]))
        .unwrap();
    let id = message.id;
    let settled = next_event(&mut events, |event| {
        matches!(event, OrchestratorEvent::Message { message_id, status: InboxStatus::Delivered | InboxStatus::Failed, .. } if *message_id == id)
    })
    .await;
    let listed = harness.orchestrator.inbox(&terminal.id, None, 10).unwrap();
    assert!(
        matches!(
            settled,
            OrchestratorEvent::Message {
                status: InboxStatus::Delivered,
                ..
            }
        ),
        "{listed:?}"
    );
    let pasted = harness.fake.pasted(&restored);
    assert_eq!(
        pasted,
        vec![delivery_text(id, "the operator", "after the restore")]
    );
    assert!(harness.fake.inputs(&pane).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_server_turns_its_terminals_error_and_says_why() {
    let harness = Harness::start().await;
    let (terminal, pane) = harness.idle_terminal("lost").await;
    let mut events = harness.orchestrator.subscribe();
    harness.fake.lose_server("the tmux server exited");
    harness.wait_for(&terminal.id, TerminalStatus::Error).await;
    let event = next_event(&mut events, |event| {
        matches!(
            event,
            OrchestratorEvent::Status {
                status: TerminalStatus::Error,
                ..
            }
        )
    })
    .await;
    assert_eq!(
        event,
        OrchestratorEvent::Status {
            terminal_id: terminal.id.clone(),
            status: TerminalStatus::Error,
            reason: Some("the tmux server exited".into()),
        }
    );
    let health = harness.orchestrator.health();
    assert_eq!(health.status, "degraded");
    assert_eq!(health.terminals_in_error, 1);
    assert!(matches!(health.backend, BackendState::Lost { .. }));

    let error = harness
        .orchestrator
        .send_input(&terminal.id, "anyone?")
        .await
        .unwrap_err();
    assert!(matches!(error, OrchestratorError::Conflict(_)), "{error}");
    assert!(error.to_string().contains("tmux server exited"), "{error}");
    let waited = harness
        .orchestrator
        .wait_for_status(&terminal.id, TerminalStatus::is_ready, DEADLINE)
        .await
        .unwrap_err();
    assert!(
        waited.to_string().contains("tmux server exited"),
        "{waited}"
    );
    assert!(harness.fake.inputs(&pane).is_empty());
}
