//! The same typed operations through every engine — a fork per call, the control connection
//! and the simulation — leave the same tree behind on real tmux 3.3a and in the model.

mod common;

use cao_tmux::engine::{ControlEngine, Engine, SimEngine};
use cao_tmux::ops::{run, NewIds, OpResult, Operation, Payload, ResultStatus};
use cao_tmux::snapshot::{take_snapshot, Snapshot};
use common::TestServer;
use serde_json::{json, Value};

fn op(value: Value) -> Operation {
    serde_json::from_value(value.clone()).unwrap_or_else(|error| panic!("{value}: {error}"))
}

async fn must(engine: &dyn Engine, value: Value) -> OpResult {
    let result = run(engine, &op(value.clone()))
        .await
        .expect("engine runs it");
    assert_eq!(
        result.status,
        ResultStatus::Complete,
        "{} on {}: {:?}",
        value,
        engine.name(),
        result.output
    );
    result
}

fn new_ids(result: &OpResult) -> NewIds {
    match &result.payload {
        Payload::NewIds(ids) => *ids,
        other => panic!("expected new ids, got {other:?}"),
    }
}

/// Builds the scenario and returns the resulting snapshot (control session left out).
async fn scenario(engine: &dyn Engine, hidden_session: Option<&str>) -> Snapshot {
    let created = must(
        engine,
        json!({"kind": "new_session", "name": "alpha", "window_name": "editor",
               "width": 120, "height": 40, "detached": true, "command": ["sh"]}),
    )
    .await;
    let first = new_ids(&created).pane.to_string();
    let right = must(
        engine,
        json!({"kind": "split_window", "target": first, "direction": "horizontal",
               "detached": true, "command": ["sh"]}),
    )
    .await;
    let right = new_ids(&right).pane.to_string();
    must(engine, json!({"kind": "select_pane", "target": right})).await;
    let below = must(
        engine,
        json!({"kind": "split_window", "target": first, "direction": "vertical",
               "detached": true, "command": ["sh"]}),
    )
    .await;
    let below = new_ids(&below).pane.to_string();
    let logs = must(
        engine,
        json!({"kind": "new_window", "target": "=alpha", "name": "logs",
               "detached": true, "command": ["sh"]}),
    )
    .await;
    let logs_window = new_ids(&logs).window.to_string();
    must(
        engine,
        json!({"kind": "rename_window", "target": logs_window, "name": "logs; kill-server \"x\""}),
    )
    .await;
    must(
        engine,
        json!({"kind": "new_session", "name": "beta two", "detached": true, "window_name": "w",
               "command": ["sh"]}),
    )
    .await;

    let exists = must(engine, json!({"kind": "has_session", "target": "=alpha"})).await;
    assert_eq!(exists.payload, Payload::Exists(true), "{}", engine.name());
    let missing = run(
        engine,
        &op(json!({"kind": "has_session", "target": "=nope"})),
    )
    .await
    .unwrap();
    assert_eq!(missing.status, ResultStatus::Complete);
    assert_eq!(missing.payload, Payload::Exists(false), "{}", engine.name());

    // (The simulation has no layout tree, so the pane killed is one whose space tmux gives
    // back to its direct neighbour.)
    must(engine, json!({"kind": "kill_pane", "target": below})).await;
    let failed = run(engine, &op(json!({"kind": "kill_pane", "target": below})))
        .await
        .unwrap();
    assert_eq!(failed.status, ResultStatus::Failed, "{}", engine.name());

    let snapshot = take_snapshot(engine).await.expect("snapshot");
    match hidden_session {
        Some(name) => snapshot.without_session(name),
        None => snapshot,
    }
}

/// The shape of a tree, without ids, pids and what runs in the panes.
fn shape(snapshot: &Snapshot) -> Value {
    json!(snapshot
        .sessions
        .iter()
        .map(|session| json!({
            "name": session.name,
            "windows": session.windows.iter().map(|window| json!({
                "index": window.index,
                "name": window.name,
                "active": window.active,
                "size": [window.width, window.height],
                "panes": window.panes.iter().map(|pane| json!({
                    "index": pane.index,
                    "active": pane.active,
                    "size": [pane.width, pane.height],
                    "dead": pane.dead,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())
}

#[tokio::test]
async fn subprocess_control_and_sim_build_the_same_tree() {
    let forked_server = TestServer::new("agree-fork");
    let forked = forked_server.subprocess();
    let forked_tree = shape(&scenario(&forked, None).await);

    let control_server = TestServer::new("agree-control");
    let control: ControlEngine = control_server.control();
    let hidden = control.control_session().to_string();
    let control_tree = shape(&scenario(&control, Some(&hidden)).await);
    control.shutdown().await;

    let sim = SimEngine::new();
    let sim_tree = shape(&scenario(&sim, None).await);

    assert_eq!(forked_tree, control_tree, "subprocess vs control");
    assert_eq!(forked_tree, sim_tree, "real tmux vs simulation");
    // Sanity: the scenario really built something.
    assert_eq!(forked_tree.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_snapshot_is_one_read_and_matches_list_commands() {
    let server = TestServer::new("snapshot");
    let engine = server.control();
    let hidden = engine.control_session().to_string();
    let snapshot = scenario(&engine, Some(&hidden)).await;
    let alpha = snapshot.find_session("alpha").expect("alpha exists");
    assert_eq!(alpha.windows.len(), 2);
    assert_eq!(alpha.windows[0].panes.len(), 2);
    assert_eq!(alpha.windows[1].name, "logs; kill-server \"x\"");
    assert!(snapshot.find_session("beta two").is_some());
    // The same panes as tmux's own listing.
    let listed = server.tmux_stdout(&["list-panes", "-a", "-F", "#{pane_id}"]);
    let mut from_tmux: Vec<String> = listed.lines().map(str::to_string).collect();
    let control_panes = server.tmux_stdout(&[
        "list-panes",
        "-s",
        "-t",
        &format!("={hidden}"),
        "-F",
        "#{pane_id}",
    ]);
    from_tmux.retain(|pane| !control_panes.lines().any(|hidden| hidden == pane));
    let mut from_snapshot: Vec<String> = snapshot.panes().map(|pane| pane.id.to_string()).collect();
    from_tmux.sort();
    from_snapshot.sort();
    assert_eq!(from_snapshot, from_tmux);
    engine.shutdown().await;
}
