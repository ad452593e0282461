//! Plans executed against real tmux on private sockets: both planners over both engines build
//! the same tree.

mod common;

use std::time::Duration;

use cao_tmux::engine::Engine;
use cao_tmux::ops::{
    CapturePane, KeyInput, Layout, NewSession, Operation, Payload, RenameWindow, SelectLayout,
    SendKeys, SplitDirection, SplitWindow,
};
use cao_tmux::plan::{PipelinedPlanner, Plan, PlanReport, SequentialPlanner};
use cao_tmux::snapshot::{take_snapshot, Snapshot};
use cao_tmux::PaneId;
use common::{tmux_available, TestServer};

/// A session of three panes, each told to print a marker.
fn three_panes() -> Plan {
    let mut plan = Plan::new();
    let session = plan
        .find_or_create_session(
            "plans",
            NewSession {
                width: Some(120),
                height: Some(40),
                detached: true,
                ..NewSession::default()
            },
        )
        .expect("a valid probe");
    let right = plan
        .create(SplitWindow {
            target: Some(session.pane()),
            direction: SplitDirection::Horizontal,
            ..SplitWindow::default()
        })
        .expect("a split of the session's pane");
    let bottom = plan
        .create(SplitWindow {
            target: Some(right.pane()),
            direction: SplitDirection::Vertical,
            ..SplitWindow::default()
        })
        .expect("a split of the new pane");
    for (index, slot) in [session, right, bottom].into_iter().enumerate() {
        plan.add(SendKeys {
            target: slot.pane(),
            input: KeyInput::Literal(format!("echo marker-{index}-$((6*7))")),
            repeat: None,
        })
        .expect("typing into a known slot");
        plan.add(SendKeys {
            target: slot.pane(),
            input: KeyInput::Keys(vec!["Enter".into()]),
            repeat: None,
        })
        .expect("typing into a known slot");
    }
    plan.add(RenameWindow {
        target: session.window(),
        name: "main".into(),
    })
    .expect("renaming a known window");
    plan.add(SelectLayout {
        target: session.window(),
        layout: Layout::Tiled,
    })
    .expect("a layout for a known window");
    plan
}

/// What must match across engines and planners: names, indexes and sizes, not ids, pids,
/// layout strings (they carry pane ids) or what the shell runs right now.
fn shape(snapshot: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    for session in &snapshot.sessions {
        for window in &session.windows {
            for pane in &window.panes {
                lines.push(format!(
                    "{} {}:{} {}x{} pane {} {}x{} dead={}",
                    session.name,
                    window.index,
                    window.name,
                    window.width,
                    window.height,
                    pane.index,
                    pane.width,
                    pane.height,
                    pane.dead,
                ));
            }
        }
    }
    lines
}

async fn screen(engine: &dyn Engine, pane: PaneId) -> String {
    let capture: CapturePane =
        serde_json::from_value(serde_json::json!({ "target": pane.to_string() }))
            .expect("a capture op");
    match cao_tmux::ops::run(engine, &Operation::CapturePane(capture))
        .await
        .expect("capture-pane runs")
        .payload
    {
        Payload::Lines(lines) => lines.join("\n"),
        other => panic!("capture-pane gave {other:?}"),
    }
}

/// Runs the plan, checks it did what it says and returns the report and the tree's shape.
async fn build(
    engine: &dyn Engine,
    pipelined: bool,
    hidden: Option<&str>,
) -> (PlanReport, Vec<String>) {
    let plan = three_panes();
    let report = if pipelined {
        PipelinedPlanner::new().execute(&plan, engine).await
    } else {
        SequentialPlanner::new().execute(&plan, engine).await
    }
    .expect("the plan runs");
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.steps[0].found_existing, Some(false));
    assert_eq!(report.slots.len(), 3);
    for (index, ids) in report.slots.values().enumerate() {
        let marker = format!("marker-{index}-42");
        let mut text = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !text.contains(&marker) {
            assert!(
                std::time::Instant::now() < deadline,
                "{marker} never appeared in {}: {text:?}",
                ids.pane
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            text = screen(engine, ids.pane).await;
        }
    }
    let mut snapshot = take_snapshot(engine).await.expect("a snapshot");
    if let Some(name) = hidden {
        snapshot = snapshot.without_session(name);
    }
    // The probe finds what the plan created the second time round, and creates nothing.
    let mut again = Plan::new();
    again
        .find_or_create_session("plans", NewSession::default())
        .expect("a valid probe");
    let second = PipelinedPlanner::new()
        .execute(&again, engine)
        .await
        .expect("the probe runs");
    assert_eq!(second.steps[0].found_existing, Some(true), "{second:#?}");
    assert_eq!(second.slots[&0].session, report.slots[&0].session);
    (report, shape(&snapshot))
}

/// A private server that, when dropped (also on a failed assertion), kills its server and
/// removes the socket file tmux leaves behind.
struct Private(TestServer);

impl Drop for Private {
    fn drop(&mut self) {
        let socket_path = self
            .0
            .tmux_stdout(&["display-message", "-p", "#{socket_path}"])
            .trim()
            .to_string();
        self.0.tmux(&["kill-server"]);
        if socket_path.contains("/cao-test-plan-") {
            let _ = std::fs::remove_file(socket_path);
        }
    }
}

#[tokio::test]
async fn both_planners_build_the_same_tree_over_both_engines() {
    if !tmux_available() {
        eprintln!("tmux is not installed; skipping");
        return;
    }
    let mut shapes = Vec::new();
    let mut round_trips = Vec::new();
    for pipelined in [false, true] {
        let server = Private(TestServer::new("plan-sub"));
        let engine = server.0.subprocess();
        let (report, shape) = build(&engine, pipelined, None).await;
        round_trips.push((
            format!("subprocess pipelined={pipelined}"),
            report.round_trips,
        ));
        shapes.push(shape);
        drop(server);

        let server = Private(TestServer::new("plan-ctl"));
        let engine = server.0.control();
        let (report, shape) = build(&engine, pipelined, Some(engine.control_session())).await;
        round_trips.push((format!("control pipelined={pipelined}"), report.round_trips));
        shapes.push(shape);
        engine.shutdown().await;
        drop(server);
    }
    assert_eq!(shapes[0].len(), 3, "{:#?}", shapes[0]);
    assert!(shapes[0][0].starts_with("plans 0:main"), "{:#?}", shapes[0]);
    for shape in &shapes[1..] {
        assert_eq!(shape, &shapes[0]);
    }
    // Sequential: lookup, create, 2 splits, 6 keys, rename, layout. Pipelined: lookup, create,
    // split, split, then everything else in one batch.
    let counts: Vec<usize> = round_trips.iter().map(|(_, count)| *count).collect();
    assert_eq!(counts, [12, 12, 5, 5], "{round_trips:?}");
}
