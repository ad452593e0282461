//! What executing a plan did: one outcome per step, the ids each slot was bound to and how
//! many round trips it took.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ops::{NewIds, OpResult, ResultStatus};
use crate::version::TmuxVersion;

use super::{Slot, StepKind};

/// What became of one step. In JSON: `{"outcome": "ran", "result": {...}}`, `{"outcome":
/// "not_sent", ...}` or `{"outcome": "skipped", "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepResult {
    /// tmux ran it and answered.
    Ran { result: OpResult },
    /// It could not be rendered (status `failed`: nothing was sent) or the engine lost it
    /// (status `unknown`: it may or may not have run).
    NotSent {
        status: ResultStatus,
        reason: String,
    },
    /// The planner did not send it: an earlier step failed, or a slot it needs was never bound.
    Skipped { reason: String },
}

impl StepResult {
    /// `complete`, `failed` or `unknown` (skipped steps are `unknown`: nothing is known about
    /// what they would have done).
    pub fn status(&self) -> ResultStatus {
        match self {
            StepResult::Ran { result } => result.status,
            StepResult::NotSent { status, .. } => *status,
            StepResult::Skipped { .. } => ResultStatus::Unknown,
        }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The step's index in the plan.
    pub step: usize,
    /// Its kind (`find_or_create_session` for a probe).
    pub kind: StepKind,
    /// The command sent, with slots resolved (for a probe: the `new-session` when it ran, else
    /// the lookup). A step that was not sent shows its preview, with slot placeholders.
    pub argv: Vec<String>,
    /// For a probe that ran: whether the session already existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_existing: Option<bool>,
    /// What happened.
    pub result: StepResult,
}

impl StepOutcome {
    /// Shorthand for `result.status()`.
    pub fn status(&self) -> ResultStatus {
        self.result.status()
    }

    /// Whether the planner left the step out.
    pub fn skipped(&self) -> bool {
        matches!(self.result, StepResult::Skipped { .. })
    }
}

/// What executing a plan did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanReport {
    /// `sequential` or `pipelined`.
    pub planner: &'static str,
    /// The engine's name (`control`, `subprocess`, `sim`).
    pub engine: &'static str,
    /// The server version the plan was rendered for.
    #[serde(serialize_with = "crate::ops::spec::serialize_version")]
    pub version: TmuxVersion,
    /// One outcome per step, in plan order.
    pub steps: Vec<StepOutcome>,
    /// The ids each bound slot (creating step index) stands for.
    pub slots: BTreeMap<usize, NewIds>,
    /// How many times the planner sent commands and waited for their answers.
    pub round_trips: usize,
}

impl PlanReport {
    /// Whether every step completed.
    pub fn succeeded(&self) -> bool {
        self.steps
            .iter()
            .all(|outcome| outcome.status() == ResultStatus::Complete)
    }

    /// The first step that did not complete and was not skipped: the one that stopped the plan.
    pub fn first_failure(&self) -> Option<&StepOutcome> {
        self.steps
            .iter()
            .find(|outcome| !outcome.skipped() && outcome.status() != ResultStatus::Complete)
    }

    /// The ids `slot` was bound to, if its step created or found them.
    pub fn ids(&self, slot: Slot) -> Option<NewIds> {
        self.slots.get(&slot.step().index()).copied()
    }
}
