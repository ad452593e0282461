//! The fault suite: faults injected under a running team of mock agents, each followed by a
//! check that every message reached the right agent exactly once or ended `failed` with a
//! reason, and that no input reached another agent.
//!
//! Covered here: cao's tmux server killed under the team (and a new one started on the same
//! socket, which hands out the same pane ids again), a single pane killed from outside cao.
//! The other faults have suites of their own: the orchestrator SIGKILLed mid-burst
//! (`inbox_crash.rs`), a second server on the same data directory or socket
//! (`server_process.rs`), hostile bytes through every input path (`hostile_input.rs`).
//!
//! Each test prints its figures (faults, messages sent, delivered exactly once, failed with a
//! reason, lost) on stderr; `--nocapture` shows them.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cao_orchestrator::service::{Orchestrator, OrchestratorError, Terminal};
use cao_orchestrator::store::InboxStatus;
use cao_orchestrator::TerminalStatus;
use common::{ready, ready_terminal, Fixture, DEADLINE};

/// Runs tmux on the fixture's private server.
fn tmux(fixture: &Fixture, args: &[&str]) -> String {
    let output = std::process::Command::new("tmux")
        .args(["-L", &fixture.socket])
        .args(args)
        .output()
        .expect("tmux runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The tmux pane id (`%3`) of a terminal, read from the panes' identity stamps.
fn pane_of(fixture: &Fixture, terminal_id: &str) -> String {
    let listing = tmux(
        fixture,
        &["list-panes", "-a", "-F", "#{pane_id} #{@cao_terminal_id}"],
    );
    listing
        .lines()
        .find_map(|line| {
            let (pane, id) = line.split_once(' ')?;
            (id == terminal_id).then(|| pane.to_string())
        })
        .unwrap_or_else(|| panic!("no pane for {terminal_id} in {listing:?}"))
}

async fn add_worker(orchestrator: &Orchestrator, fixture: &Fixture, session: &str) -> Terminal {
    let terminal = orchestrator
        .create_terminal_in_session(session, fixture.request(session))
        .await
        .expect("worker created");
    orchestrator
        .wait_for_status(&terminal.id, ready, DEADLINE)
        .await
        .expect("worker ready");
    terminal
}

/// Waits until every message listed is in a final state (`delivered` or `failed`), then
/// returns how each ended.
async fn final_states(
    orchestrator: &Orchestrator,
    sent: &[(i64, String)],
) -> BTreeMap<i64, (InboxStatus, Option<String>)> {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let mut states = BTreeMap::new();
        for (id, receiver) in sent {
            let message = orchestrator
                .inbox(receiver, None, 1000)
                .expect("inbox")
                .into_iter()
                .find(|message| message.id == *id)
                .expect("the message is recorded");
            states.insert(*id, (message.status, message.last_error.clone()));
        }
        let settled = states
            .values()
            .all(|(status, _)| matches!(status, InboxStatus::Delivered | InboxStatus::Failed));
        if settled {
            return states;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "messages not settled: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How often each body was received by `receiver` (from the mock agents' own log).
fn receipts(fixture: &Fixture, receiver: &str, body: &str) -> usize {
    fixture
        .inputs_of(receiver)
        .iter()
        .filter(|input| input.lines().skip(1).collect::<Vec<_>>().join("\n") == body)
        .count()
}

fn body(n: usize) -> String {
    format!("fault-suite message {n}: ; 'quoted' \"double\" $(nope)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tmux_server_killed_under_a_team_misdirects_and_loses_nothing() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture.start().await;
    let session = "faults-team";
    let lead = ready_terminal(&orchestrator, fixture.request(session)).await;
    let first = add_worker(&orchestrator, &fixture, session).await;
    let second = add_worker(&orchestrator, &fixture, session).await;
    let team = [lead.id.clone(), first.id.clone(), second.id.clone()];

    // A burst that the team takes in before the fault.
    let mut sent: Vec<(i64, String, String)> = Vec::new();
    for n in 0..6 {
        let receiver = &team[n % 3];
        let sender = &team[(n + 1) % 3];
        let text = body(n);
        let message = orchestrator
            .send_message(Some(sender), Some(receiver), &text)
            .expect("queued");
        sent.push((message.id, receiver.clone(), text));
    }
    let ids: Vec<(i64, String)> = sent.iter().map(|(id, r, _)| (*id, r.clone())).collect();
    final_states(&orchestrator, &ids).await;
    for id in &team {
        orchestrator
            .wait_for_status(id, ready, DEADLINE)
            .await
            .expect("the team is idle again");
    }

    // The fault: cao's tmux server dies under the team.
    tmux(&fixture, &["kill-server"]);
    for id in &team {
        let status = orchestrator
            .wait_for_status(id, |s| s == TerminalStatus::Error, DEADLINE)
            .await
            .expect("the terminal turns to error");
        assert_eq!(status, TerminalStatus::Error);
        match orchestrator.send_input(id, "typed after the fault").await {
            Err(OrchestratorError::Conflict(reason)) => {
                assert!(reason.contains("tmux server exited"), "{reason}")
            }
            other => panic!("input to a terminal of a dead server: {other:?}"),
        }
    }
    let health = orchestrator.health();
    assert_eq!(health.status, "degraded");
    assert_eq!(health.terminals_in_error, 3);

    // Messages sent meanwhile are held, never pasted anywhere.
    for n in 6..12 {
        let receiver = &team[n % 3];
        let text = body(n);
        let message = orchestrator
            .send_message(None, Some(receiver), &text)
            .expect("queued while the team is down");
        sent.push((message.id, receiver.clone(), text));
    }

    // A new terminal starts a new tmux server on the same socket: its pane ids repeat the
    // dead server's, and nothing meant for the old terminals reaches it.
    let outsider = ready_terminal(&orchestrator, fixture.request("faults-outsider")).await;
    let reused = pane_of(&fixture, &outsider.id);
    assert!(
        ["%0", "%1", "%2", "%3"].contains(&reused.as_str()),
        "the new server reuses low pane ids: {reused}"
    );
    for id in &team {
        assert!(orchestrator
            .send_input(id, "not for the outsider")
            .await
            .is_err());
    }
    assert!(fixture.inputs_of(&outsider.id).is_empty());

    // The team comes back under the same ids, and the held messages reach it.
    for id in &team {
        let restored = orchestrator
            .restore_terminal(id)
            .await
            .expect("a terminal of a dead server is restored");
        assert_eq!(&restored.id, id);
    }
    let ids: Vec<(i64, String)> = sent.iter().map(|(id, r, _)| (*id, r.clone())).collect();
    let states = final_states(&orchestrator, &ids).await;
    let mut delivered_once = 0;
    for (id, receiver, text) in &sent {
        let (status, reason) = &states[id];
        assert_eq!(*status, InboxStatus::Delivered, "message {id}: {reason:?}");
        assert_eq!(
            receipts(&fixture, receiver, text),
            1,
            "message {id} to {receiver}"
        );
        delivered_once += 1;
    }
    // Nobody else got anything meant for the team, and the outsider still runs.
    let stray = fixture.inputs_of(&outsider.id);
    assert!(stray.is_empty(), "the outsider received {stray:?}");
    orchestrator
        .wait_for_status(&outsider.id, ready, DEADLINE)
        .await
        .expect("the outsider is unharmed");
    eprintln!(
        "faults: 1 tmux server killed; messages sent {}, delivered exactly once {delivered_once}, failed with a reason 0, lost {}",
        sent.len(),
        sent.len() - delivered_once
    );
    orchestrator.delete_session(session).await.expect("cleanup");
    orchestrator
        .delete_session("faults-outsider")
        .await
        .expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pane_killed_outside_cao_fails_its_held_messages_with_a_reason() {
    let fixture = Fixture::new();
    let (orchestrator, _mux) = fixture
        .start_with(|config| config.message_hold = Duration::from_millis(500))
        .await;
    let session = "faults-pane";
    let survivor = ready_terminal(&orchestrator, fixture.request(session)).await;
    let victim = add_worker(&orchestrator, &fixture, session).await;

    // The fault: the victim's pane is killed from outside cao (no exit status, no death
    // hook: the pane is simply gone).
    tmux(
        &fixture,
        &["kill-pane", "-t", &pane_of(&fixture, &victim.id)],
    );
    orchestrator
        .wait_for_status(&victim.id, |s| s == TerminalStatus::Error, DEADLINE)
        .await
        .expect("the victim turns to error");
    match orchestrator
        .send_input(&victim.id, "to a closed pane")
        .await
    {
        Err(OrchestratorError::Conflict(reason)) => {
            assert!(reason.contains("its pane was closed"), "{reason}")
        }
        other => panic!("input to a closed pane: {other:?}"),
    }

    let mut sent = Vec::new();
    for n in 0..4 {
        let receiver = if n % 2 == 0 { &victim.id } else { &survivor.id };
        let text = body(n);
        let message = orchestrator
            .send_message(None, Some(receiver), &text)
            .expect("queued");
        sent.push((message.id, receiver.clone(), text));
    }
    let ids: Vec<(i64, String)> = sent.iter().map(|(id, r, _)| (*id, r.clone())).collect();
    let states = final_states(&orchestrator, &ids).await;
    let (mut delivered_once, mut failed) = (0, 0);
    for (id, receiver, text) in &sent {
        let (status, reason) = &states[id];
        if receiver == &victim.id {
            assert_eq!(*status, InboxStatus::Failed, "message {id}");
            let reason = reason.as_deref().unwrap_or_default();
            assert!(reason.contains("was not restored"), "{reason}");
            assert_eq!(receipts(&fixture, receiver, text), 0);
            failed += 1;
        } else {
            assert_eq!(*status, InboxStatus::Delivered, "message {id}: {reason:?}");
            assert_eq!(receipts(&fixture, receiver, text), 1);
            delivered_once += 1;
        }
    }
    assert!(
        fixture.inputs_of(&victim.id).is_empty(),
        "nothing reached the victim"
    );
    eprintln!(
        "faults: 1 pane killed; messages sent {}, delivered exactly once {delivered_once}, failed with a reason {failed}, lost {}",
        sent.len(),
        sent.len() - delivered_once - failed
    );
    orchestrator.delete_session(session).await.expect("cleanup");
}
