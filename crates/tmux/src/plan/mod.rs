//! Plans: operations recorded in order, with forward references to objects not created yet,
//! previewed without a server or executed by a planner.
//!
//! A plan is a list of steps. A step is one [`Operation`], or a find-or-create probe for a
//! session. A step that creates something (a `new_session`, `new_window`, `split_window`,
//! `new_pane` or `break_pane`, or a probe) is a *slot*: later steps name its session, window
//! or pane with [`Slot::session`], [`Slot::window`] or [`Slot::pane`], and a planner replaces
//! those with the ids the step reported. References are checked when a step is added, so a
//! recorded plan never names a slot that does not exist or comes later.
//!
//! ```
//! use cao_tmux::ops::{KeyInput, NewSession, SendKeys, SplitWindow};
//! use cao_tmux::plan::Plan;
//! use cao_tmux::TmuxVersion;
//!
//! let mut plan = Plan::new();
//! let session = plan.create(NewSession { name: Some("work".into()), ..NewSession::default() })?;
//! let right = plan.create(SplitWindow { target: Some(session.pane()), ..SplitWindow::default() })?;
//! plan.add(SendKeys {
//!     target: right.pane(),
//!     input: KeyInput::Literal("make test".into()),
//!     repeat: None,
//! })?;
//! let preview = plan.preview(TmuxVersion::new(3, 3, 1))?;
//! assert_eq!(preview[2][..3], ["send-keys", "-t", "{slot:1.pane}"]);
//! # Ok::<(), cao_tmux::plan::PlanError>(())
//! ```
//!
//! What a plan is not: a transaction. A planner stops at the first failure (unless told not
//! to) but never undoes the steps that already ran; the [`PlanReport`] says which those are.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::engine::EngineError;
use crate::ops::{
    DisplayMessage, HasSession, NewSession, OpKind, Operation, RenderError, SlotPart, SlotRef,
    Target, ID_CAPTURE_FORMAT,
};
use crate::version::TmuxVersion;

mod execute;
mod report;

pub use execute::{PipelinedPlanner, SequentialPlanner};
pub use report::{PlanReport, StepOutcome, StepResult};

/// The position of a step in its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Step(usize);

impl Step {
    /// The step's index, from 0.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A step that creates a session, window or pane; later steps refer to what it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(usize);

impl Slot {
    /// The creating step.
    pub fn step(self) -> Step {
        Step(self.0)
    }

    /// A reference to one of the created objects.
    pub fn slot_ref(self, part: SlotPart) -> SlotRef {
        SlotRef { slot: self.0, part }
    }

    /// The created session (for a window or pane creator: the session it lives in).
    pub fn session(self) -> Target {
        Target::Slot(self.slot_ref(SlotPart::Session))
    }

    /// The created window (for a session: its first window).
    pub fn window(self) -> Target {
        Target::Slot(self.slot_ref(SlotPart::Window))
    }

    /// The created pane (for a session or window: its first pane).
    pub fn pane(self) -> Target {
        Target::Slot(self.slot_ref(SlotPart::Pane))
    }
}

/// Look a session up by exact name and bind the slot to it; create it only when missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindOrCreateSession {
    /// The exact session name.
    pub name: String,
    /// How to create it when missing; its `name` is the probe's name.
    pub create: NewSession,
}

impl FindOrCreateSession {
    /// `has-session -t =name`: whether the session exists (its exit code is the answer).
    pub fn exists_op(&self) -> Operation {
        Operation::HasSession(HasSession {
            target: Target::Name(self.name.clone()),
        })
    }

    /// `display-message -p -t =name: <ids>`: the ids of the session, its current window and
    /// that window's active pane, in the same shape creators print.
    pub fn lookup_op(&self) -> Operation {
        Operation::DisplayMessage(DisplayMessage {
            target: Some(Target::Name(self.name.clone())),
            format: ID_CAPTURE_FORMAT.to_string(),
            print: true,
            literal: false,
        })
    }

    /// The `new_session` run when the session is missing.
    pub fn create_op(&self) -> Operation {
        Operation::NewSession(self.create.clone())
    }
}

/// One recorded step. In JSON: `{"op": {"kind": "split_window", ...}}` or
/// `{"find_or_create_session": {"name": "work", "create": {...}}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStep {
    /// Run one operation.
    Op(Operation),
    /// Find a session by name, or create it.
    FindOrCreateSession(FindOrCreateSession),
}

impl PlanStep {
    /// What kind of step this is, for reports and errors.
    pub fn kind(&self) -> StepKind {
        match self {
            PlanStep::Op(op) => StepKind::Op(op.kind()),
            PlanStep::FindOrCreateSession(_) => StepKind::FindOrCreateSession,
        }
    }

    /// Whether later steps may refer to what this step creates.
    pub fn is_creator(&self) -> bool {
        match self {
            PlanStep::Op(op) => op.spec().captures_ids,
            PlanStep::FindOrCreateSession(_) => true,
        }
    }

    /// The slots this step refers to.
    pub fn slot_refs(&self) -> Vec<SlotRef> {
        match self {
            PlanStep::Op(op) => op.slot_refs(),
            PlanStep::FindOrCreateSession(_) => Vec::new(),
        }
    }
}

/// A step's kind: an operation kind, or `find_or_create_session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    Op(OpKind),
    FindOrCreateSession,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepKind::Op(kind) => f.write_str(kind.name()),
            StepKind::FindOrCreateSession => f.write_str("find_or_create_session"),
        }
    }
}

impl Serialize for StepKind {
    /// The snake_case name, like an operation's `kind`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a step could not be recorded, previewed or a plan executed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("step {step} ({kind}) refers to {slot}, but step {} is not in the plan yet; add the step that creates it first", slot.slot)]
    ForwardSlot {
        step: usize,
        kind: StepKind,
        slot: SlotRef,
    },
    #[error("step {step} ({kind}) refers to {slot}, but step {} is {creator}, which creates nothing; refer to a new_session, new_window, split_window, new_pane, break_pane or find_or_create_session step", slot.slot)]
    NotASlot {
        step: usize,
        kind: StepKind,
        slot: SlotRef,
        creator: StepKind,
    },
    #[error("{kind} creates nothing, so it has no slot; record it with Plan::add")]
    CreatesNothing { kind: OpKind },
    #[error("find_or_create_session: {reason}")]
    InvalidProbe { reason: String },
    #[error("step {step} ({kind}) cannot be rendered: {error}")]
    Render {
        step: usize,
        kind: StepKind,
        error: RenderError,
    },
    #[error("could not ask the tmux server for its version, so nothing ran: {0}")]
    Version(EngineError),
}

/// Operations recorded in order, with forward references between them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedPlan")]
pub struct Plan {
    steps: Vec<PlanStep>,
}

/// A plan as read from JSON, before its slot references are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UncheckedPlan {
    steps: Vec<PlanStep>,
}

impl TryFrom<UncheckedPlan> for Plan {
    type Error = PlanError;

    fn try_from(unchecked: UncheckedPlan) -> Result<Plan, PlanError> {
        Plan::from_steps(unchecked.steps)
    }
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// A plan of these steps, checked as if each were added in turn.
    pub fn from_steps(steps: impl IntoIterator<Item = PlanStep>) -> Result<Plan, PlanError> {
        let mut plan = Plan::new();
        for step in steps {
            plan.push(step)?;
        }
        Ok(plan)
    }

    /// The recorded steps, in order.
    pub fn steps(&self) -> &[PlanStep] {
        &self.steps
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The slot of `step`, if that step creates something.
    pub fn slot(&self, step: Step) -> Option<Slot> {
        self.steps
            .get(step.0)
            .filter(|recorded| recorded.is_creator())
            .map(|_| Slot(step.0))
    }

    /// Records an operation. Fails if it refers to a slot that is not an earlier creating step.
    pub fn add(&mut self, op: impl Into<Operation>) -> Result<Step, PlanError> {
        self.push(PlanStep::Op(op.into()))
    }

    /// Records a creating operation and returns its slot. Fails for an operation that creates
    /// nothing, or one that refers to a slot that is not an earlier creating step.
    pub fn create(&mut self, op: impl Into<Operation>) -> Result<Slot, PlanError> {
        let op = op.into();
        if !op.spec().captures_ids {
            return Err(PlanError::CreatesNothing { kind: op.kind() });
        }
        self.push(PlanStep::Op(op)).map(|step| Slot(step.0))
    }

    /// Records a probe: at execution, the session named exactly `name` is looked up and the
    /// slot bound to its ids (its current window and that window's active pane); only when it
    /// is missing does `create` run. `create.name` is set to `name`; naming another session
    /// there is an error.
    pub fn find_or_create_session(
        &mut self,
        name: impl Into<String>,
        mut create: NewSession,
    ) -> Result<Slot, PlanError> {
        let name = name.into();
        if create.name.get_or_insert_with(|| name.clone()) != &name {
            return Err(PlanError::InvalidProbe {
                reason: format!(
                    "it looks for session {name:?} but would create {:?}; leave new_session's name empty or make them equal",
                    create.name.unwrap_or_default()
                ),
            });
        }
        self.push(PlanStep::FindOrCreateSession(FindOrCreateSession {
            name,
            create,
        }))
        .map(|step| Slot(step.0))
    }

    fn push(&mut self, step: PlanStep) -> Result<Step, PlanError> {
        let index = self.steps.len();
        self.check(index, &step)?;
        self.steps.push(step);
        Ok(Step(index))
    }

    /// Checks a step about to be recorded at `index`.
    fn check(&self, index: usize, step: &PlanStep) -> Result<(), PlanError> {
        let kind = step.kind();
        if let PlanStep::FindOrCreateSession(probe) = step {
            crate::ops::target::validate_session_name(&probe.name)
                .map_err(|reason| PlanError::InvalidProbe { reason })?;
            if probe.create.name.as_deref() != Some(probe.name.as_str()) {
                return Err(PlanError::InvalidProbe {
                    reason: format!(
                        "create.name must be {:?}, the name it looks for",
                        probe.name
                    ),
                });
            }
        }
        for slot in step.slot_refs() {
            let Some(creator) = self.steps[..index].get(slot.slot) else {
                return Err(PlanError::ForwardSlot {
                    step: index,
                    kind,
                    slot,
                });
            };
            if !creator.is_creator() {
                return Err(PlanError::NotASlot {
                    step: index,
                    kind,
                    slot,
                    creator: creator.kind(),
                });
            }
        }
        Ok(())
    }

    /// The argv of every step for a server running `version`, without a server: slot targets
    /// show as placeholders like `{slot:2.pane}`, and a probe shows its two lookup commands
    /// followed by the `new-session` it runs when the session is missing.
    pub fn preview(&self, version: TmuxVersion) -> Result<Vec<Vec<String>>, PlanError> {
        let mut argvs = Vec::with_capacity(self.steps.len());
        for (index, step) in self.steps.iter().enumerate() {
            let render = |op: &Operation| {
                op.render_preview(version)
                    .map_err(|error| PlanError::Render {
                        step: index,
                        kind: step.kind(),
                        error,
                    })
            };
            match step {
                PlanStep::Op(op) => argvs.push(render(op)?),
                PlanStep::FindOrCreateSession(probe) => {
                    argvs.push(render(&probe.exists_op())?);
                    argvs.push(render(&probe.lookup_op())?);
                    argvs.push(render(&probe.create_op())?);
                }
            }
        }
        Ok(argvs)
    }

    /// Indexes of the creating steps some later step refers to: where a planner must wait for
    /// an answer before it can send more.
    pub(crate) fn referenced_slots(&self) -> Vec<bool> {
        let mut referenced = vec![false; self.steps.len()];
        for step in &self.steps {
            for slot in step.slot_refs() {
                if let Some(flag) = referenced.get_mut(slot.slot) {
                    *flag = true;
                }
            }
        }
        referenced
    }
}

#[cfg(test)]
mod tests;
