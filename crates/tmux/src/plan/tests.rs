//! Plans against the in-memory sim: recording rules, preview, both planners.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::command::{CommandOutput, TmuxCommand};
use crate::engine::{Engine, SimEngine};
use crate::ids::PaneId;
use crate::ops::{
    CapturePane, KeyInput, KillPane, Layout, NewWindow, Payload, ResultStatus, SelectLayout,
    SendKeys, SplitDirection, SplitWindow,
};
use crate::snapshot::take_snapshot;
use crate::socket::Socket;

const V3_3: TmuxVersion = TmuxVersion::new(3, 3, 1);

/// Counts the round trips a planner makes (calls to `execute` or `execute_batch`).
struct Counting {
    inner: SimEngine,
    round_trips: AtomicUsize,
}

impl Counting {
    fn new() -> Self {
        Self {
            inner: SimEngine::new(),
            round_trips: AtomicUsize::new(0),
        }
    }

    fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Engine for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn socket(&self) -> &Socket {
        self.inner.socket()
    }

    async fn execute(&self, command: TmuxCommand) -> Result<CommandOutput, EngineError> {
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        self.inner.execute(command).await
    }

    async fn execute_batch(
        &self,
        commands: Vec<TmuxCommand>,
    ) -> Vec<Result<CommandOutput, EngineError>> {
        self.round_trips.fetch_add(1, Ordering::SeqCst);
        self.inner.execute_batch(commands).await
    }

    async fn server_version(&self) -> Result<TmuxVersion, EngineError> {
        self.inner.server_version().await
    }
}

fn session(name: &str) -> NewSession {
    NewSession {
        name: Some(name.into()),
        width: Some(80),
        height: Some(24),
        ..detached()
    }
}

/// A detached `new_session` for probes (the derived `Default` is not detached).
fn detached() -> NewSession {
    NewSession {
        detached: true,
        ..NewSession::default()
    }
}

fn literal(target: Target, text: &str) -> SendKeys {
    SendKeys {
        target,
        input: KeyInput::Literal(text.into()),
        repeat: None,
    }
}

fn split(target: Target) -> SplitWindow {
    SplitWindow {
        target: Some(target),
        direction: SplitDirection::Horizontal,
        ..SplitWindow::default()
    }
}

/// new_session → split_window on its pane → send_keys into the new pane.
fn forward_plan() -> (Plan, Slot, Slot) {
    let mut plan = Plan::new();
    let work = plan.create(session("work")).unwrap();
    let right = plan.create(split(work.pane())).unwrap();
    plan.add(literal(right.pane(), "hello right")).unwrap();
    plan.add(literal(work.pane(), "hello left")).unwrap();
    (plan, work, right)
}

async fn screen(engine: &dyn Engine, pane: PaneId) -> String {
    let capture: CapturePane =
        serde_json::from_value(serde_json::json!({ "target": pane.to_string() })).unwrap();
    let op = Operation::CapturePane(capture);
    match crate::ops::run(engine, &op).await.unwrap().payload {
        Payload::Lines(lines) => lines.join("\n"),
        other => panic!("capture-pane gave {other:?}"),
    }
}

#[tokio::test]
async fn forward_references_resolve_with_both_planners() {
    for pipelined in [false, true] {
        let (plan, work, right) = forward_plan();
        let sim = SimEngine::new();
        let report = if pipelined {
            PipelinedPlanner::new().execute(&plan, &sim).await.unwrap()
        } else {
            SequentialPlanner::new().execute(&plan, &sim).await.unwrap()
        };
        assert!(report.succeeded(), "{report:#?}");
        let work_ids = report.ids(work).unwrap();
        let right_ids = report.ids(right).unwrap();
        assert_eq!(work_ids.session, right_ids.session);
        assert_ne!(work_ids.pane, right_ids.pane);
        assert_eq!(
            report.steps[1].argv[..3],
            ["split-window", "-t", &work_ids.pane.to_string()]
        );
        assert_eq!(
            report.steps[2].argv[..3],
            ["send-keys", "-t", &right_ids.pane.to_string()]
        );
        assert!(screen(&sim, right_ids.pane).await.contains("hello right"));
        assert!(screen(&sim, work_ids.pane).await.contains("hello left"));
        assert!(!screen(&sim, right_ids.pane).await.contains("hello left"));
    }
}

#[tokio::test]
async fn find_or_create_binds_an_existing_session_and_creates_a_missing_one() {
    let sim = SimEngine::new();
    let existing = crate::ops::run(&sim, &Operation::NewSession(session("kept")))
        .await
        .unwrap();
    let Payload::NewIds(kept_ids) = existing.payload else {
        panic!("no ids: {existing:?}");
    };
    for pipelined in [false, true] {
        let mut plan = Plan::new();
        let kept = plan.find_or_create_session("kept", detached()).unwrap();
        let fresh = plan
            .find_or_create_session(format!("fresh{pipelined}"), detached())
            .unwrap();
        plan.add(literal(kept.pane(), "into kept")).unwrap();
        plan.add(literal(fresh.pane(), "into fresh")).unwrap();
        let report = if pipelined {
            PipelinedPlanner::new().execute(&plan, &sim).await.unwrap()
        } else {
            SequentialPlanner::new().execute(&plan, &sim).await.unwrap()
        };
        assert!(report.succeeded(), "{report:#?}");
        assert_eq!(report.ids(kept), Some(kept_ids));
        assert_eq!(report.steps[0].found_existing, Some(true));
        assert_eq!(report.steps[1].found_existing, Some(false));
        assert_eq!(report.steps[1].argv[0], "new-session");
        let fresh_ids = report.ids(fresh).unwrap();
        assert_ne!(fresh_ids.session, kept_ids.session);
        assert!(screen(&sim, fresh_ids.pane).await.contains("into fresh"));
    }
    let snapshot = take_snapshot(&sim).await.unwrap();
    let names: Vec<&str> = snapshot.sessions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["kept", "freshfalse", "freshtrue"]);
    // Running the same probe again finds what the first run created.
    let mut again = Plan::new();
    again
        .find_or_create_session("freshtrue", detached())
        .unwrap();
    let report = PipelinedPlanner::new().execute(&again, &sim).await.unwrap();
    assert_eq!(report.steps[0].found_existing, Some(true));
    assert_eq!(take_snapshot(&sim).await.unwrap().sessions.len(), 3);
}

#[tokio::test]
async fn find_or_create_on_a_stopped_server_creates() {
    let sim = SimEngine::new();
    let mut plan = Plan::new();
    let slot = plan.find_or_create_session("first", detached()).unwrap();
    let report = SequentialPlanner::new().execute(&plan, &sim).await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.steps[0].found_existing, Some(false));
    assert!(report.ids(slot).is_some());
    // Lookup, then create: two round trips.
    assert_eq!(report.round_trips, 2);
}

#[test]
fn preview_shows_placeholders_and_probes() {
    let mut plan = Plan::new();
    let home = plan.find_or_create_session("home", detached()).unwrap();
    let window = plan
        .create(NewWindow {
            target: Some(home.session()),
            name: Some("logs".into()),
            ..NewWindow::default()
        })
        .unwrap();
    let bottom = plan
        .create(SplitWindow {
            target: Some(window.pane()),
            direction: SplitDirection::Vertical,
            ..SplitWindow::default()
        })
        .unwrap();
    plan.add(SendKeys {
        target: bottom.pane(),
        input: KeyInput::Keys(vec!["tail -f log".into(), "Enter".into()]),
        repeat: None,
    })
    .unwrap();
    plan.add(SelectLayout {
        target: window.window(),
        layout: Layout::EvenVertical,
    })
    .unwrap();
    let lines: Vec<String> = plan
        .preview(V3_3)
        .unwrap()
        .iter()
        .map(|argv| serde_json::to_string(argv).unwrap())
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn slot_references_are_checked_when_added() {
    let mut plan = Plan::new();
    let forward = plan.add(literal(
        Target::Slot(SlotRef {
            slot: 0,
            part: SlotPart::Pane,
        }),
        "x",
    ));
    assert!(
        matches!(forward, Err(PlanError::ForwardSlot { step: 0, .. })),
        "{forward:?}"
    );
    let work = plan.create(session("w")).unwrap();
    let typed = plan.add(literal(work.pane(), "x")).unwrap();
    let later = plan.add(literal(
        Target::Slot(SlotRef {
            slot: 5,
            part: SlotPart::Window,
        }),
        "x",
    ));
    let error = later.unwrap_err();
    assert!(matches!(error, PlanError::ForwardSlot { step: 2, .. }));
    assert_eq!(
        error.to_string(),
        "step 2 (send_keys) refers to {slot:5.window}, but step 5 is not in the plan yet; add the step that creates it first"
    );
    let not_a_creator = plan.add(literal(
        Target::Slot(SlotRef {
            slot: typed.index(),
            part: SlotPart::Pane,
        }),
        "x",
    ));
    assert!(matches!(
        not_a_creator,
        Err(PlanError::NotASlot {
            creator: StepKind::Op(OpKind::SendKeys),
            ..
        })
    ));
    assert!(matches!(
        plan.create(literal(work.pane(), "x")),
        Err(PlanError::CreatesNothing {
            kind: OpKind::SendKeys
        })
    ));
    assert!(matches!(
        plan.find_or_create_session("a", session("b")),
        Err(PlanError::InvalidProbe { .. })
    ));
    assert!(matches!(
        plan.find_or_create_session("a.b", detached()),
        Err(PlanError::InvalidProbe { .. })
    ));
    // Rejected steps leave the plan as it was.
    assert_eq!(plan.len(), 2);
    assert_eq!(plan.slot(work.step()), Some(work));
    assert_eq!(plan.slot(typed), None);
}

#[test]
fn a_plan_round_trips_through_json_and_is_checked_when_read() {
    let mut plan = forward_plan().0;
    plan.find_or_create_session("probe", detached()).unwrap();
    let json = serde_json::to_string_pretty(&plan).unwrap();
    assert!(json.contains(r#""kind": "split_window""#), "{json}");
    assert!(json.contains(r#""target": "{slot:1.pane}""#), "{json}");
    assert!(json.contains(r#""find_or_create_session""#), "{json}");
    let read: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(read, plan);

    let forward = r#"{"steps": [
        {"op": {"kind": "send_keys", "target": "{slot:1.pane}", "input": {"literal": "x"}}},
        {"op": {"kind": "new_session"}}
    ]}"#;
    let error = serde_json::from_str::<Plan>(forward).unwrap_err();
    assert!(
        error.to_string().contains("step 1 is not in the plan yet"),
        "{error}"
    );
}

/// One session, then 20 steps that all need its pane.
fn wide_plan() -> Plan {
    let mut plan = Plan::new();
    let work = plan.create(session("wide")).unwrap();
    for index in 0..20 {
        plan.add(literal(work.pane(), &format!("line {index} ")))
            .unwrap();
    }
    plan
}

#[tokio::test]
async fn pipelining_saves_round_trips_and_ends_in_the_same_state() {
    let plan = wide_plan();
    let sequential_engine = Counting::new();
    let sequential = SequentialPlanner::new()
        .execute(&plan, &sequential_engine)
        .await
        .unwrap();
    let pipelined_engine = Counting::new();
    let pipelined = PipelinedPlanner::new()
        .execute(&plan, &pipelined_engine)
        .await
        .unwrap();
    assert!(sequential.succeeded() && pipelined.succeeded());
    assert_eq!(sequential.round_trips, 21);
    assert_eq!(sequential_engine.round_trips(), 21);
    assert_eq!(pipelined.round_trips, 2);
    assert_eq!(pipelined_engine.round_trips(), 2);
    assert_eq!(
        take_snapshot(&sequential_engine).await.unwrap(),
        take_snapshot(&pipelined_engine).await.unwrap()
    );
    let pane = pipelined.slots[&0].pane;
    assert_eq!(
        screen(&sequential_engine, pane).await,
        screen(&pipelined_engine, pane).await
    );
    assert!(screen(&pipelined_engine, pane).await.contains("line 19"));
}

#[tokio::test]
async fn waves_end_only_where_an_answer_is_needed() {
    let mut plan = Plan::new();
    let work = plan.create(session("waves")).unwrap();
    plan.add(literal(work.pane(), "a")).unwrap();
    // Nobody refers to this window, so it does not end a wave.
    plan.create(NewWindow {
        target: Some(work.session()),
        ..NewWindow::default()
    })
    .unwrap();
    let right = plan.create(split(work.pane())).unwrap();
    plan.add(literal(right.pane(), "b")).unwrap();
    // A blocking step goes alone (the sim has no run-shell, so it fails: keep going).
    plan.add(Operation::RunShell(
        serde_json::from_str(r#"{"command": "true"}"#).unwrap(),
    ))
    .unwrap();
    plan.add(literal(right.pane(), "c")).unwrap();
    let engine = Counting::new();
    let report = PipelinedPlanner::new()
        .stop_on_error(false)
        .execute(&plan, &engine)
        .await
        .unwrap();
    assert_eq!(report.steps[6].status(), ResultStatus::Complete);
    // [new_session] [send, new_window, split] [send] [run_shell] [send]
    assert_eq!(report.round_trips, 5, "{report:#?}");
    assert_eq!(engine.round_trips(), 5);
}

#[tokio::test]
async fn a_failing_step_stops_the_plan_and_the_rest_are_skipped() {
    let mut plan = Plan::new();
    let work = plan.create(session("stop")).unwrap();
    plan.add(KillPane {
        target: Target::Pane(PaneId(99)),
        all_others: false,
    })
    .unwrap();
    plan.add(literal(work.pane(), "never")).unwrap();
    let sim = SimEngine::new();
    let report = SequentialPlanner::new().execute(&plan, &sim).await.unwrap();
    assert!(!report.succeeded());
    assert_eq!(report.first_failure().map(|outcome| outcome.step), Some(1));
    assert_eq!(report.steps[1].status(), ResultStatus::Failed);
    assert!(report.steps[2].skipped());
    assert_eq!(report.steps[2].status(), ResultStatus::Unknown);
    let StepResult::Skipped { reason } = &report.steps[2].result else {
        panic!("not skipped: {:?}", report.steps[2]);
    };
    assert!(reason.contains("step 1 did not complete"), "{reason}");
    assert_eq!(
        report.steps[2].argv[..3],
        ["send-keys", "-t", "{slot:0.pane}"]
    );
    assert_eq!(report.round_trips, 2);

    // Without stopping, the rest runs.
    let sim = SimEngine::new();
    let report = SequentialPlanner::new()
        .stop_on_error(false)
        .execute(&plan, &sim)
        .await
        .unwrap();
    assert_eq!(report.steps[1].status(), ResultStatus::Failed);
    assert_eq!(report.steps[2].status(), ResultStatus::Complete);
}

#[tokio::test]
async fn a_failed_creator_stops_both_planners_before_its_dependents() {
    let mut plan = Plan::new();
    let work = plan.create(session("dup")).unwrap();
    let again = plan.create(session("dup")).unwrap();
    plan.add(literal(again.pane(), "x")).unwrap();
    plan.add(literal(work.pane(), "y")).unwrap();
    for pipelined in [false, true] {
        let sim = SimEngine::new();
        let report = if pipelined {
            PipelinedPlanner::new().execute(&plan, &sim).await.unwrap()
        } else {
            SequentialPlanner::new().execute(&plan, &sim).await.unwrap()
        };
        assert_eq!(report.steps[0].status(), ResultStatus::Complete);
        assert_eq!(report.steps[1].status(), ResultStatus::Failed);
        assert!(report.steps[2].skipped() && report.steps[3].skipped());
        assert_eq!(report.slots.len(), 1);
        // Without stopping, the dependent of the failed creator is skipped for its slot and
        // the independent step still runs.
        let sim = SimEngine::new();
        let report = PipelinedPlanner::new()
            .stop_on_error(false)
            .execute(&plan, &sim)
            .await
            .unwrap();
        let StepResult::Skipped { reason } = &report.steps[2].result else {
            panic!("not skipped: {:?}", report.steps[2]);
        };
        assert!(reason.contains("{slot:1.pane}"), "{reason}");
        assert_eq!(report.steps[3].status(), ResultStatus::Complete);
    }
}

#[tokio::test]
async fn a_step_that_cannot_render_is_reported_not_sent() {
    let mut plan = Plan::new();
    let work = plan.create(session("render")).unwrap();
    plan.add(SendKeys {
        target: work.pane(),
        input: KeyInput::Literal(String::new()),
        repeat: None,
    })
    .unwrap();
    plan.add(literal(work.pane(), "after")).unwrap();
    let report = PipelinedPlanner::new()
        .execute(&plan, &SimEngine::new())
        .await
        .unwrap();
    assert!(matches!(
        report.steps[1].result,
        StepResult::NotSent {
            status: ResultStatus::Failed,
            ..
        }
    ));
    assert!(report.steps[2].skipped());
    assert!(matches!(
        plan.preview(V3_3),
        Err(PlanError::Render { step: 1, .. })
    ));
}

#[tokio::test]
async fn the_report_serializes() {
    let (plan, _, _) = forward_plan();
    let report = PipelinedPlanner::new()
        .execute(&plan, &SimEngine::new())
        .await
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["planner"], "pipelined");
    assert_eq!(json["engine"], "sim");
    assert_eq!(json["version"], "3.3a");
    assert_eq!(json["steps"][1]["kind"], "split_window");
    assert_eq!(json["steps"][1]["result"]["outcome"], "ran");
    assert_eq!(json["slots"]["0"]["pane"], "%0");
    assert_eq!(json["round_trips"], 3);
}

#[tokio::test]
async fn a_failure_before_an_isolated_step_stops_the_plan() {
    let mut plan = Plan::new();
    plan.create(session("stops")).unwrap();
    plan.add(Operation::KillPane(
        serde_json::from_str(r#"{"target": "%99"}"#).unwrap(),
    ))
    .unwrap();
    plan.add(Operation::RunShell(
        serde_json::from_str(r#"{"command": "true"}"#).unwrap(),
    ))
    .unwrap();
    let engine = Counting::new();
    let report = PipelinedPlanner::new()
        .execute(&plan, &engine)
        .await
        .unwrap();
    assert_eq!(report.steps[1].status(), ResultStatus::Failed);
    assert!(report.steps[2].skipped(), "{report:#?}");
    // [new_session, kill_pane]: the run_shell was never sent.
    assert_eq!(engine.round_trips(), 1, "{report:#?}");
}
