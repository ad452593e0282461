//! The two planners: [`SequentialPlanner`] (one command, one answer, then the next) and
//! [`PipelinedPlanner`] (everything whose targets are known in one batch). Both run the same
//! steps in the same order through one driver; they differ only in when they send what they
//! have gathered and wait for the answers.

use std::collections::BTreeMap;

use crate::command::TmuxCommand;
use crate::engine::{Engine, EngineError};
use crate::ops::{NewIds, OpResult, Operation, Payload, ResultStatus, SlotPart, SlotRef, Target};
use crate::version::TmuxVersion;

use super::report::{PlanReport, StepOutcome, StepResult};
use super::{FindOrCreateSession, Plan, PlanError, PlanStep};

/// Runs a plan one command at a time: render a step (its slots resolved from what earlier
/// steps reported), send it, wait for its answer, go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequentialPlanner {
    /// Stop at the first step that does not complete, reporting the rest as skipped (default).
    pub stop_on_error: bool,
}

impl Default for SequentialPlanner {
    fn default() -> Self {
        Self {
            stop_on_error: true,
        }
    }
}

impl SequentialPlanner {
    /// A planner that stops at the first failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to stop at the first failure.
    pub fn stop_on_error(mut self, stop: bool) -> Self {
        self.stop_on_error = stop;
        self
    }

    /// Runs `plan` on `engine`.
    pub async fn execute<E: Engine + ?Sized>(
        &self,
        plan: &Plan,
        engine: &E,
    ) -> Result<PlanReport, PlanError> {
        drive(plan, engine, Policy::Sequential, self.stop_on_error).await
    }
}

/// Runs a plan in as few round trips as its forward references allow.
///
/// Steps are gathered into one batch ([`Engine::execute_batch`]: one write over a control-mode
/// connection) until the planner must wait: right after a creating step whose slot a later step
/// needs, and after a probe's lookup (what follows depends on its answer). A blocking step or one
/// that queues further commands goes in a batch of its own.
///
/// Stopping at a failure happens at batch granularity: the steps sent in the same batch as the
/// failing one have already run, and are reported as they ran; only later batches are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelinedPlanner {
    /// Stop after the batch holding the first step that does not complete, reporting the rest
    /// as skipped (default).
    pub stop_on_error: bool,
}

impl Default for PipelinedPlanner {
    fn default() -> Self {
        Self {
            stop_on_error: true,
        }
    }
}

impl PipelinedPlanner {
    /// A planner that stops at the first failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to stop at the first failure.
    pub fn stop_on_error(mut self, stop: bool) -> Self {
        self.stop_on_error = stop;
        self
    }

    /// Runs `plan` on `engine`.
    pub async fn execute<E: Engine + ?Sized>(
        &self,
        plan: &Plan,
        engine: &E,
    ) -> Result<PlanReport, PlanError> {
        drive(plan, engine, Policy::Pipelined, self.stop_on_error).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Sequential,
    Pipelined,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Sequential => "sequential",
            Policy::Pipelined => "pipelined",
        }
    }
}

/// What a gathered command is for, so its answer lands in the right place.
enum Purpose {
    /// A plain step's operation.
    Op,
    /// A probe's `has-session` and `display-message` (two commands).
    Lookup,
    /// A probe's `new-session`, run because the lookup found nothing.
    Create,
}

/// Commands of one step, gathered for the next send.
struct Item {
    step: usize,
    purpose: Purpose,
    commands: Vec<TmuxCommand>,
}

/// The state of one execution.
struct Run<'a, E: Engine + ?Sized> {
    plan: &'a Plan,
    engine: &'a E,
    version: TmuxVersion,
    stop_on_error: bool,
    outcomes: Vec<Option<StepOutcome>>,
    slots: BTreeMap<usize, NewIds>,
    /// Probes whose lookup found no session: their create is due.
    missing: Vec<usize>,
    /// The first step that did not complete, once stopping is due.
    stopped_by: Option<usize>,
    round_trips: usize,
    batch: Vec<Item>,
}

async fn drive<E: Engine + ?Sized>(
    plan: &Plan,
    engine: &E,
    policy: Policy,
    stop_on_error: bool,
) -> Result<PlanReport, PlanError> {
    let version = engine.server_version().await.map_err(PlanError::Version)?;
    let referenced = plan.referenced_slots();
    let mut run = Run {
        plan,
        engine,
        version,
        stop_on_error,
        outcomes: vec![None; plan.len()],
        slots: BTreeMap::new(),
        missing: Vec::new(),
        stopped_by: None,
        round_trips: 0,
        batch: Vec::new(),
    };
    // Whether the answer to this step is needed before anything after it can be rendered.
    let must_wait = |index: usize| policy == Policy::Sequential || referenced[index];
    for (index, step) in plan.steps().iter().enumerate() {
        if run.stopped_by.is_some() {
            break;
        }
        match step {
            PlanStep::Op(op) => {
                let isolated = op.is_blocking() || op.queues_commands();
                if isolated {
                    run.flush().await;
                    // The flush may have hit a failure: nothing after it may be sent.
                    if run.stopped_by.is_some() {
                        break;
                    }
                }
                run.gather_op(index, op, Purpose::Op);
                if isolated || must_wait(index) {
                    run.flush().await;
                }
            }
            PlanStep::FindOrCreateSession(probe) => {
                run.gather_lookup(index, probe);
                run.flush().await;
                if run.stopped_by.is_none() && run.missing.contains(&index) {
                    run.gather_op(index, &probe.create_op(), Purpose::Create);
                    if must_wait(index) {
                        run.flush().await;
                    }
                }
            }
        }
    }
    run.flush().await;
    Ok(run.finish(policy))
}

impl<E: Engine + ?Sized> Run<'_, E> {
    /// Whatever went wrong in `step` is a failure that stops the plan, when stopping is on.
    fn failed(&mut self, step: usize) {
        if self.stop_on_error && self.stopped_by.is_none() {
            self.stopped_by = Some(step);
        }
    }

    fn record(
        &mut self,
        step: usize,
        argv: Vec<String>,
        found_existing: Option<bool>,
        result: StepResult,
    ) {
        if result.status() != ResultStatus::Complete {
            self.failed(step);
        }
        self.outcomes[step] = Some(StepOutcome {
            step,
            kind: self.plan.steps()[step].kind(),
            argv,
            found_existing,
            result,
        });
    }

    fn resolve(&self, slot: SlotRef) -> Option<Target> {
        let ids = self.slots.get(&slot.slot)?;
        Some(match slot.part {
            SlotPart::Session => Target::Session(ids.session),
            SlotPart::Window => Target::Window(ids.window),
            SlotPart::Pane => Target::Pane(ids.pane),
        })
    }

    /// Resolves and renders `op` into the batch, or records why it cannot be sent.
    fn gather_op(&mut self, step: usize, op: &Operation, purpose: Purpose) {
        let preview = || op.render_preview(self.version).unwrap_or_default();
        let mut resolved = op.clone();
        if let Err(error) = resolved.resolve_slots(&|slot| self.resolve(slot)) {
            let reason = match error {
                crate::ops::RenderError::UnresolvedSlot(slot) => format!(
                    "it needs {slot}, which step {} did not create or find",
                    slot.slot
                ),
                other => other.to_string(),
            };
            let argv = preview();
            // Not a failure of its own: the step that should have bound the slot already is one.
            self.outcomes[step] = Some(StepOutcome {
                step,
                kind: self.plan.steps()[step].kind(),
                argv,
                found_existing: None,
                result: StepResult::Skipped { reason },
            });
            return;
        }
        match resolved.render(self.version) {
            Ok(command) => self.batch.push(Item {
                step,
                purpose,
                commands: vec![command],
            }),
            Err(error) => {
                let argv = preview();
                let found_existing = matches!(purpose, Purpose::Create).then_some(false);
                self.record(
                    step,
                    argv,
                    found_existing,
                    StepResult::NotSent {
                        status: ResultStatus::Failed,
                        reason: error.to_string(),
                    },
                );
            }
        }
    }

    /// Renders a probe's two lookup commands into the batch.
    fn gather_lookup(&mut self, step: usize, probe: &FindOrCreateSession) {
        let rendered = probe
            .exists_op()
            .render(self.version)
            .and_then(|exists| Ok(vec![exists, probe.lookup_op().render(self.version)?]));
        match rendered {
            Ok(commands) => self.batch.push(Item {
                step,
                purpose: Purpose::Lookup,
                commands,
            }),
            Err(error) => self.record(
                step,
                Vec::new(),
                None,
                StepResult::NotSent {
                    status: ResultStatus::Failed,
                    reason: error.to_string(),
                },
            ),
        }
    }

    /// Sends the gathered commands (one round trip) and files their answers.
    async fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.batch);
        let commands: Vec<TmuxCommand> = items
            .iter()
            .flat_map(|item| item.commands.iter().cloned())
            .collect();
        let expected = commands.len();
        self.round_trips += 1;
        let mut answers = if expected == 1 {
            let mut commands = commands;
            match commands.pop() {
                Some(command) => vec![self.engine.execute(command).await],
                None => Vec::new(),
            }
        } else {
            self.engine.execute_batch(commands).await
        }
        .into_iter();
        for item in items {
            let mut take = || {
                answers.next().unwrap_or_else(|| {
                    Err(EngineError::Protocol(format!(
                        "the engine answered fewer than the {expected} commands sent"
                    )))
                })
            };
            match item.purpose {
                Purpose::Op | Purpose::Create => {
                    let answer = take();
                    self.file_op(item, answer);
                }
                Purpose::Lookup => {
                    let exists = take();
                    let lookup = take();
                    self.file_lookup(item, exists, lookup);
                }
            }
        }
    }

    fn file_op(&mut self, item: Item, answer: Result<crate::CommandOutput, EngineError>) {
        let step = item.step;
        let argv = item
            .commands
            .into_iter()
            .next()
            .map(|command| command.argv)
            .unwrap_or_default();
        let found_existing = matches!(item.purpose, Purpose::Create).then_some(false);
        let op = match (&self.plan.steps()[step], item.purpose) {
            (PlanStep::Op(op), _) => op.clone(),
            (PlanStep::FindOrCreateSession(probe), _) => probe.create_op(),
        };
        let result = match answer {
            Ok(output) => {
                let result = op.parse_result(&output);
                if let Payload::NewIds(ids) = result.payload {
                    self.slots.insert(step, ids);
                }
                StepResult::Ran { result }
            }
            Err(error) => StepResult::NotSent {
                status: ResultStatus::Unknown,
                reason: error.to_string(),
            },
        };
        self.record(step, argv, found_existing, result);
    }

    fn file_lookup(
        &mut self,
        item: Item,
        exists: Result<crate::CommandOutput, EngineError>,
        lookup: Result<crate::CommandOutput, EngineError>,
    ) {
        let step = item.step;
        let PlanStep::FindOrCreateSession(probe) = &self.plan.steps()[step] else {
            return; // unreachable: lookups are only gathered for probes
        };
        let (exists_op, lookup_op) = (probe.exists_op(), probe.lookup_op());
        let lookup_argv = item
            .commands
            .get(1)
            .map(|command| command.argv.clone())
            .unwrap_or_default();
        let not_sent = |error: EngineError| StepResult::NotSent {
            status: ResultStatus::Unknown,
            reason: error.to_string(),
        };
        let exists = match exists {
            Ok(output) => exists_op.parse_result(&output),
            Err(error) => return self.record(step, lookup_argv, None, not_sent(error)),
        };
        match exists.payload {
            Payload::Exists(false) => self.missing.push(step),
            _ => {
                let result: OpResult = match lookup {
                    Ok(output) => lookup_op.parse_result(&output),
                    Err(error) => {
                        return self.record(step, lookup_argv, Some(true), not_sent(error))
                    }
                };
                let ids = match &result.payload {
                    Payload::Lines(lines) => lines.iter().find_map(|line| NewIds::parse(line)),
                    _ => None,
                };
                let result = match ids {
                    Some(ids) => {
                        self.slots.insert(step, ids);
                        OpResult {
                            status: ResultStatus::Complete,
                            payload: Payload::NewIds(ids),
                            output: result.output,
                        }
                    }
                    // The session existed for has-session but could not be read right after
                    // (killed in between, or an unreadable answer).
                    None if result.status == ResultStatus::Complete => OpResult {
                        status: ResultStatus::Unknown,
                        ..result
                    },
                    None => result,
                };
                self.record(step, lookup_argv, Some(true), StepResult::Ran { result });
            }
        }
    }

    fn finish(self, policy: Policy) -> PlanReport {
        let reason = match self.stopped_by {
            Some(step) => format!("not run: step {step} did not complete and stop_on_error is set"),
            None => "not run".to_string(),
        };
        let version = self.version;
        let steps = self
            .outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.unwrap_or_else(|| {
                    let step = &self.plan.steps()[index];
                    let argv = match step {
                        PlanStep::Op(op) => op.render_preview(version),
                        PlanStep::FindOrCreateSession(probe) => {
                            probe.create_op().render_preview(version)
                        }
                    }
                    .unwrap_or_default();
                    StepOutcome {
                        step: index,
                        kind: step.kind(),
                        argv,
                        found_existing: None,
                        result: StepResult::Skipped {
                            reason: reason.clone(),
                        },
                    }
                })
            })
            .collect();
        PlanReport {
            planner: policy.name(),
            engine: self.engine.name(),
            version,
            steps,
            slots: self.slots,
            round_trips: self.round_trips,
        }
    }
}
