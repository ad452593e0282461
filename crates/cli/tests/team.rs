//! Teams against real tmux and real `cao mock-agent` processes: the inbox (delivery when the
//! receiver is ready, order, hostile text byte for byte, failures, crash recovery), handoff
//! (answer, teardown, a crashing worker) and assign (task with footer, a worker that cannot
//! start). Every assertion about what arrived is read from the mock agents' own logs.

mod common;

use std::time::{Duration, Instant};

use cao_mux::Multiplexer;
use cao_orchestrator::service::{
    delivery_tag, delivery_text, AssignRequest, HandoffRequest, OrchestratorError,
    ASSIGN_FOOTER_MARK,
};
use cao_orchestrator::store::{HandoffStatus, InboxStatus};
use cao_orchestrator::TerminalStatus;
use common::{eventually, ready, ready_terminal, Fixture, DEADLINE};

/// Quick replies, a slow task and a crash on demand.
const SCRIPT: &str = r#"
[[rules]]
match = "crash now"
delay_ms = 300
error = "worker blew up"
exit_code = 3

[[rules]]
match = "take your time"
delay_ms = 1500

[[rules]]
delay_ms = 20
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_once_in_order_byte_for_byte_when_the_receiver_is_ready() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, _mux) = fixture.start().await;
    let sender = orchestrator
        .create_session(fixture.request("inbox"))
        .await
        .unwrap();
    let receiver = orchestrator
        .create_terminal_in_session("inbox", fixture.request("inbox"))
        .await
        .unwrap();
    for id in [&sender.id, &receiver.id] {
        orchestrator
            .wait_for_status(id, ready, DEADLINE)
            .await
            .unwrap();
    }
    // Busy receiver: everything queues behind the slow task.
    orchestrator
        .send_input(&receiver.id, "take your time")
        .await
        .unwrap();
    let hostile = [
        "first; rm -rf / && echo \"$(id)\" 'q' `tick`".to_string(),
        "multi\nline\n\ttabbed \\ back\u{1b}[31m escape \u{7f} del ünï 🚀".to_string(),
        format!("big:{}", "0123456789abcdef\n".repeat(100 * 1024 / 17)),
        "   leading spaces and trailing newline\n".to_string(),
    ];
    let mut ids = Vec::new();
    for text in &hostile {
        let message = orchestrator
            .send_message(Some(&sender.id), Some(&receiver.id), text)
            .unwrap();
        assert_eq!(message.status, InboxStatus::Pending);
        ids.push(message.id);
    }
    let delivered = eventually(Duration::from_secs(30), || {
        orchestrator
            .inbox(&receiver.id, Some(InboxStatus::Delivered), 100)
            .unwrap()
            .len()
            == hostile.len()
    })
    .await;
    assert!(
        delivered,
        "{:?}",
        orchestrator.inbox(&receiver.id, None, 100).unwrap()
    );
    // Let the last one be answered, then read the receiver's own log.
    orchestrator
        .wait_for_status(&receiver.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .unwrap();
    let inputs = fixture.inputs_of(&receiver.id);
    assert_eq!(inputs[0], "take your time");
    let expected: Vec<String> = ids
        .iter()
        .zip(&hostile)
        .map(|(id, text)| delivery_text(*id, &format!("developer {}", sender.id), text))
        // As pasted: the escape and DEL bytes are not carried (`cao_mux::paste_text`).
        .map(|text| cao_mux::paste_text(&text).into_owned())
        .collect();
    // Compared without printing megabytes when they differ.
    for (index, (got, want)) in inputs[1..].iter().zip(&expected).enumerate() {
        assert!(
            got == want,
            "message {index} differs: {} vs {} bytes",
            got.len(),
            want.len()
        );
    }
    assert_eq!(inputs.len(), expected.len() + 1);
    // Nothing reached the sender.
    assert!(fixture.inputs_of(&sender.id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_refused_and_messages_to_a_deleted_terminal_fail_visibly() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, _mux) = fixture.start().await;
    let a = orchestrator
        .create_session(fixture.request("refuse"))
        .await
        .unwrap();
    let b = orchestrator
        .create_terminal_in_session("refuse", fixture.request("refuse"))
        .await
        .unwrap();
    let refused = |result: Result<_, OrchestratorError>| match result {
        Err(OrchestratorError::Invalid(message)) | Err(OrchestratorError::NotFound(message)) => {
            message
        }
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(refused(orchestrator.send_message(Some(&a.id), Some(&a.id), "me")).contains("itself"));
    assert!(refused(orchestrator.send_message(Some(&a.id), None, "who")).contains("no creator"));
    assert!(refused(orchestrator.send_message(None, Some("ffffffff"), "x")).contains("ffffffff"));
    assert!(refused(orchestrator.send_message(None, Some(&b.id), " \n")).contains("empty"));
    assert!(refused(orchestrator.send_message(None, Some(&b.id), "a\0b")).contains("NUL"));
    let huge = "x".repeat(cao_orchestrator::service::MAX_MESSAGE_BYTES + 1);
    assert!(refused(orchestrator.send_message(None, Some(&b.id), &huge)).contains("bytes"));

    // Queued behind a slow task, then the receiver is deleted.
    orchestrator
        .wait_for_status(&b.id, ready, DEADLINE)
        .await
        .unwrap();
    orchestrator
        .send_input(&b.id, "take your time")
        .await
        .unwrap();
    let message = orchestrator
        .send_message(None, Some(&b.id), "never read")
        .unwrap();
    orchestrator.delete_terminal(&b.id).await.unwrap();
    let stored = orchestrator
        .inbox(&b.id, None, 10)
        .unwrap()
        .into_iter()
        .find(|row| row.id == message.id)
        .unwrap();
    assert_eq!(stored.status, InboxStatus::Failed);
    assert!(
        stored.last_error.as_deref().unwrap().contains("deleted"),
        "{stored:?}"
    );
    assert!(!fixture
        .inputs_of(&b.id)
        .iter()
        .any(|input| input.contains("never read")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_interrupted_by_a_crash_is_settled_exactly_once_at_the_next_start() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, mux) = fixture.start().await;
    let receiver = ready_terminal(&orchestrator, fixture.request("settle")).await;
    let pane = cao_mux::PaneRef(
        orchestrator
            .store()
            .get_terminal(&receiver.id)
            .unwrap()
            .unwrap()
            .pane_ref
            .unwrap(),
    );
    // Hold deliveries off while the two "crashed" attempts are staged by hand.
    orchestrator
        .send_input(&receiver.id, "take your time")
        .await
        .unwrap();
    let store = orchestrator.store();
    // 1. Crashed after recording the attempt, before the paste: its buffer is still staged.
    let unpasted = orchestrator
        .send_message(None, Some(&receiver.id), "not pasted yet")
        .unwrap();
    // 2. Crashed after the paste, before Enter: the text sits in the agent's input line.
    let pasted = orchestrator
        .send_message(None, Some(&receiver.id), "pasted, no enter")
        .unwrap();
    orchestrator.stop_watching();
    orchestrator
        .wait_for_status(&receiver.id, |s| s == TerminalStatus::Completed, DEADLINE)
        .await
        .ok();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    mux.stage(
        &format!("cao-inbox-{}", unpasted.id),
        &delivery_text(unpasted.id, "the operator", "not pasted yet"),
    )
    .await
    .unwrap();
    store.mark_message_delivering(unpasted.id).unwrap();
    mux.paste(
        &pane,
        &delivery_text(pasted.id, "the operator", "pasted, no enter"),
        true,
    )
    .await
    .unwrap();
    store.mark_message_delivering(pasted.id).unwrap();
    drop(orchestrator);
    drop(mux);

    // The next start settles both: each arrives exactly once.
    let (orchestrator, mux) = fixture.start().await;
    let settled = eventually(Duration::from_secs(20), || {
        let rows = orchestrator.inbox(&receiver.id, None, 10).unwrap();
        rows.iter().all(|row| row.status == InboxStatus::Delivered)
            && fixture
                .inputs_of(&receiver.id)
                .iter()
                .filter(|input| input.contains("cao inbox #"))
                .count()
                == 2
    })
    .await;
    let inputs = fixture.inputs_of(&receiver.id);
    assert!(
        settled,
        "{inputs:?} {:?}",
        orchestrator.inbox(&receiver.id, None, 10).unwrap()
    );
    for message in [&pasted, &unpasted] {
        let text = delivery_text(message.id, "the operator", &message.body);
        assert_eq!(
            inputs.iter().filter(|input| **input == text).count(),
            1,
            "{inputs:?}"
        );
        assert!(text.contains(&delivery_tag(message.id)));
    }
    assert!(!mux
        .has_staged(&format!("cao-inbox-{}", unpasted.id))
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_answers_with_the_workers_reply_and_tears_the_worker_down() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, _mux) = fixture.start().await;
    let mut supervisor = fixture.request("handoff");
    supervisor.agent_profile = "code_supervisor".into();
    let supervisor = orchestrator.create_session(supervisor).await.unwrap();
    orchestrator
        .wait_for_status(&supervisor.id, ready, DEADLINE)
        .await
        .unwrap();
    let task = "write the parser; keep \"quotes\"\nand two lines";
    let started = Instant::now();
    let outcome = orchestrator
        .handoff(HandoffRequest {
            caller_id: Some(supervisor.id.clone()),
            agent_profile: "developer".into(),
            message: task.into(),
            timeout: Duration::from_secs(60),
            wait: None,
            working_directory: None,
            model: None,
            provider: None,
        })
        .await
        .unwrap();
    eprintln!("handoff round trip: {:?}", started.elapsed());
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.status, HandoffStatus::Completed);
    assert_eq!(
        outcome.output.as_deref(),
        Some("echo: write the parser; keep \"quotes\"\nand two lines")
    );
    let worker = outcome.terminal_id.clone().unwrap();
    assert_eq!(fixture.inputs_of(&worker), [task]);
    // The job is stored, and the worker goes away.
    let stored = orchestrator.handoff_result(&outcome.job_id).unwrap();
    assert_eq!(stored.output, outcome.output);
    let gone = eventually(Duration::from_secs(15), || {
        orchestrator.get_terminal(&worker).is_err()
    })
    .await;
    assert!(gone, "the worker was not torn down");
    assert_eq!(
        orchestrator.list_terminals("handoff").unwrap().len(),
        1,
        "only the supervisor remains"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_crashes_fails_its_handoff_with_the_exit_status() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, _mux) = fixture.start().await;
    let request = HandoffRequest {
        caller_id: None,
        agent_profile: "developer".into(),
        message: "crash now".into(),
        timeout: Duration::from_secs(60),
        wait: None,
        working_directory: None,
        model: None,
        provider: Some("mock".into()),
    };
    let outcome = orchestrator.handoff(request).await.unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.status, HandoffStatus::Failed);
    assert!(
        outcome.message.contains("exited with status 3"),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawning_needs_the_cao_mcp_server_in_the_callers_allowed_tools() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, _mux) = fixture.start().await;
    let mut restricted = fixture.request("authz");
    restricted.allowed_tools = Some(vec!["fs_read".into(), "execute_bash".into()]);
    let developer = orchestrator.create_session(restricted).await.unwrap();
    let refused = orchestrator
        .assign(AssignRequest {
            caller_id: Some(developer.id.clone()),
            agent_profile: "reviewer".into(),
            message: "review".into(),
            session_name: None,
            working_directory: None,
            model: None,
            provider: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, OrchestratorError::Forbidden(message) if message.contains("@cao-mcp-server")),
        "{refused:?}"
    );
    assert_eq!(orchestrator.list_terminals("authz").unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_returns_at_once_and_the_worker_gets_the_task_with_a_reply_footer() {
    let fixture = Fixture::with_script(SCRIPT);
    let (orchestrator, _mux) = fixture.start().await;
    let mut supervisor = fixture.request("assign");
    supervisor.agent_profile = "code_supervisor".into();
    let supervisor = orchestrator.create_session(supervisor).await.unwrap();
    let outcome = orchestrator
        .assign(AssignRequest {
            caller_id: Some(supervisor.id.clone()),
            agent_profile: "reviewer".into(),
            message: "review the parser".into(),
            session_name: None,
            working_directory: None,
            model: None,
            provider: None,
        })
        .await
        .unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.session_name, "cao-assign");
    let worker = outcome.terminal_id;
    assert_eq!(
        orchestrator.get_terminal(&worker).unwrap().creator_id,
        Some(supervisor.id.clone())
    );
    let got_task = eventually(DEADLINE, || !fixture.inputs_of(&worker).is_empty()).await;
    assert!(got_task);
    let task = &fixture.inputs_of(&worker)[0];
    assert!(task.starts_with("review the parser\n\n---\n"), "{task:?}");
    assert!(task.contains(ASSIGN_FOOTER_MARK) && task.contains(&supervisor.id));
    // The worker's answer goes back to its creator without naming it.
    let message = orchestrator
        .send_message(Some(&worker), None, "looks good")
        .unwrap();
    assert_eq!(message.receiver_id, supervisor.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assigned_worker_that_dies_at_start_is_reported_to_the_caller_and_removed() {
    let fixture = Fixture::with_script("startup_delay_ms = 200\n");
    let (orchestrator, _mux) = fixture.start().await;
    let mut supervisor = fixture.request("doomed");
    supervisor.agent_profile = "code_supervisor".into();
    let supervisor = orchestrator.create_session(supervisor).await.unwrap();
    orchestrator
        .wait_for_status(&supervisor.id, ready, DEADLINE)
        .await
        .unwrap();
    let outcome = orchestrator
        .assign(AssignRequest {
            caller_id: Some(supervisor.id.clone()),
            agent_profile: "reviewer".into(),
            message: "review".into(),
            session_name: None,
            working_directory: None,
            model: None,
            provider: None,
        })
        .await
        .unwrap();
    let worker = outcome.terminal_id;
    // The worker's CLI dies while starting (killed behind cao's back): it cannot take the task.
    let pane = cao_mux::PaneRef(
        orchestrator
            .store()
            .get_terminal(&worker)
            .unwrap()
            .unwrap()
            .pane_ref
            .unwrap(),
    );
    let facts = orchestrator.mux().facts(&pane).await.unwrap();
    let pid = facts.pid.unwrap();
    kill(pid);
    let told = eventually(DEADLINE, || {
        fixture
            .inputs_of(&supervisor.id)
            .iter()
            .any(|input| input.contains("assign failed") && input.contains(&worker))
    })
    .await;
    assert!(told, "{:?}", fixture.inputs_of(&supervisor.id));
    let gone = eventually(DEADLINE, || orchestrator.get_terminal(&worker).is_err()).await;
    assert!(gone);
}

fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
