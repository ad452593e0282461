//! The status engine: pane events in, terminal statuses out.
//!
//! A pane that writes output is marked dirty; after a short debounce its visible screen is
//! captured once and classified by the terminal's provider pack, then a small state machine
//! turns the raw reading into the terminal's status. Idle panes write nothing, so they cost
//! nothing: no timer runs and no tmux command is sent for them.
//!
//! The state machine ([`StatusMachine`]) is pure and tested on its own:
//! - a ready status (idle, completed) stays until new input is sent, so TUI redraws that look
//!   different for a frame do not flap it;
//! - after input, a return to a ready screen counts as `completed` only once the terminal was
//!   seen working (or its screen says completed), so the instant between paste and pickup is
//!   not mistaken for a finished turn;
//! - a dead pane is `error` for good.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::TerminalStatus;

/// How long output must settle before the screen is read.
pub const DEBOUNCE: Duration = Duration::from_millis(30);

/// The pure part of the status engine for one terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMachine {
    status: TerminalStatus,
    /// Input was sent and no ready screen has been accepted since.
    awaiting_reply: bool,
    /// The terminal was seen working since the last input.
    seen_working: bool,
    /// The pane's program exited.
    dead: bool,
    /// The CLI has been ready for input at least once: before that it is starting up, and
    /// a busy screen (connecting its tools, say) is not a turn.
    started: bool,
}

impl Default for StatusMachine {
    fn default() -> Self {
        StatusMachine {
            status: TerminalStatus::Unknown,
            awaiting_reply: false,
            seen_working: false,
            dead: false,
            started: false,
        }
    }
}

impl StatusMachine {
    /// A machine for a terminal adopted after a restart, whose last recorded status was
    /// `status`: a turn that was under way is still awaited, so it ends as `completed`.
    pub fn resume(status: TerminalStatus) -> StatusMachine {
        let working = matches!(
            status,
            TerminalStatus::Processing | TerminalStatus::WaitingUserAnswer
        );
        StatusMachine {
            status,
            awaiting_reply: working,
            seen_working: working,
            dead: false,
            started: status != TerminalStatus::Unknown,
        }
    }

    /// The current status.
    pub fn status(&self) -> TerminalStatus {
        self.status
    }

    /// Input was sent and its answer has not been read yet.
    pub fn awaiting_reply(&self) -> bool {
        self.awaiting_reply
    }

    /// Whether the CLI has been ready for input since it was launched (or was known before a
    /// restart): input sent earlier would reach a program still starting up.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Input was just submitted: ready statuses are released and the terminal counts as
    /// working from now on, so a waiter for the end of this turn cannot see the last one's.
    pub fn input_sent(&mut self) -> TerminalStatus {
        if self.dead {
            return self.status;
        }
        self.awaiting_reply = true;
        self.seen_working = false;
        self.status = TerminalStatus::Processing;
        self.status
    }

    /// A ready screen that has not taken the last input yet (it is queued, on its way, or
    /// still in the composer): the turn goes on, and this is no sign of work.
    pub fn observe_untaken(&mut self) -> TerminalStatus {
        if !self.dead && self.awaiting_reply {
            self.status = TerminalStatus::Processing;
        }
        self.status
    }

    /// The program exited.
    pub fn pane_died(&mut self) -> TerminalStatus {
        self.dead = true;
        self.status = TerminalStatus::Error;
        self.status
    }

    /// A classified screen; returns the new status.
    pub fn observe(&mut self, reading: TerminalStatus) -> TerminalStatus {
        if self.dead {
            return self.status;
        }
        let next = match reading {
            TerminalStatus::Processing | TerminalStatus::WaitingUserAnswer => {
                if self.awaiting_reply {
                    self.seen_working = true;
                }
                reading
            }
            TerminalStatus::Idle | TerminalStatus::Completed if self.awaiting_reply => {
                if self.seen_working || reading == TerminalStatus::Completed {
                    self.awaiting_reply = false;
                    TerminalStatus::Completed
                } else {
                    // Not picked up yet: keep what we had (the input is on its way).
                    match self.status {
                        TerminalStatus::Idle
                        | TerminalStatus::Completed
                        | TerminalStatus::Unknown => TerminalStatus::Processing,
                        other => other,
                    }
                }
            }
            TerminalStatus::Idle if self.status == TerminalStatus::Completed => {
                TerminalStatus::Completed
            }
            // An unrecognisable screen (a CLI switching views) keeps what was known.
            TerminalStatus::Unknown if self.status.is_ready() || self.awaiting_reply => self.status,
            other => other,
        };
        self.started |= next.is_ready();
        self.status = next;
        next
    }
}

/// One watched terminal's shared handle: the status channel waiters subscribe to, and the
/// dirty flag the event router sets.
#[derive(Debug)]
pub struct Watch {
    pub status: watch::Sender<TerminalStatus>,
    pub wake: Notify,
    pub dirty: AtomicBool,
    pub died: AtomicBool,
    pub closed: AtomicBool,
}

impl Watch {
    pub fn new(initial: TerminalStatus) -> Arc<Watch> {
        Arc::new(Watch {
            status: watch::channel(initial).0,
            wake: Notify::new(),
            dirty: AtomicBool::new(true),
            died: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        })
    }

    /// Marks the screen as changed and wakes the terminal's reader.
    pub fn poke(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Marks the program as exited and wakes the reader.
    pub fn mark_died(&self) {
        self.died.store(true, Ordering::SeqCst);
        self.poke();
    }

    /// Stops the reader and wakes every status waiter, so they fail at once instead of
    /// waiting out their deadline on a terminal that is gone.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        // The sender lives as long as any clone of the terminal's handle, so waiters would
        // never see the channel close; mark it changed to wake them.
        self.status.send_modify(|_| {});
    }

    /// True once the terminal was deleted (or the server stopped watching it).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TerminalStatus::*;

    fn run(machine: &mut StatusMachine, readings: &[TerminalStatus]) -> Vec<TerminalStatus> {
        readings
            .iter()
            .map(|&reading| machine.observe(reading))
            .collect()
    }

    #[test]
    fn a_turn_goes_idle_processing_completed_and_stays_completed() {
        let mut machine = StatusMachine::default();
        assert_eq!(run(&mut machine, &[Unknown, Idle]), [Unknown, Idle]);
        machine.input_sent();
        assert_eq!(
            run(
                &mut machine,
                &[Idle, Processing, Processing, Completed, Idle, Unknown]
            ),
            [Processing, Processing, Processing, Completed, Completed, Completed]
        );
    }

    #[test]
    fn a_ready_screen_after_working_is_completed_even_when_it_looks_idle() {
        let mut machine = StatusMachine::default();
        run(&mut machine, &[Idle]);
        machine.input_sent();
        assert_eq!(
            run(&mut machine, &[Processing, Idle]),
            [Processing, Completed]
        );
    }

    #[test]
    fn an_approval_prompt_counts_as_working_and_is_reported() {
        let mut machine = StatusMachine::default();
        run(&mut machine, &[Idle]);
        machine.input_sent();
        assert_eq!(
            run(&mut machine, &[WaitingUserAnswer, Processing, Idle]),
            [WaitingUserAnswer, Processing, Completed]
        );
    }

    #[test]
    fn a_dead_pane_is_an_error_for_good() {
        let mut machine = StatusMachine::default();
        run(&mut machine, &[Idle]);
        assert_eq!(machine.pane_died(), Error);
        machine.input_sent();
        assert_eq!(run(&mut machine, &[Idle, Completed]), [Error, Error]);
    }

    #[test]
    fn a_turn_under_way_at_restart_ends_completed() {
        let mut machine = StatusMachine::resume(Processing);
        assert_eq!(
            run(&mut machine, &[Processing, Idle, Idle]),
            [Processing, Completed, Completed]
        );
        let mut machine = StatusMachine::resume(Completed);
        assert_eq!(run(&mut machine, &[Idle]), [Completed]);
    }

    #[test]
    fn startup_dialogs_are_reported_before_readiness() {
        let mut machine = StatusMachine::default();
        assert_eq!(
            run(&mut machine, &[Unknown, WaitingUserAnswer, Idle]),
            [Unknown, WaitingUserAnswer, Idle]
        );
    }

    #[test]
    fn a_screen_switching_views_mid_turn_stays_processing() {
        let mut machine = StatusMachine::default();
        run(&mut machine, &[Idle]);
        machine.input_sent();
        assert_eq!(
            run(&mut machine, &[Unknown, Processing, Unknown, Completed]),
            [Processing, Processing, Processing, Completed]
        );
    }

    #[test]
    fn an_untaken_input_is_no_sign_of_work() {
        let mut machine = StatusMachine::default();
        run(&mut machine, &[Idle]);
        machine.input_sent();
        assert_eq!(machine.observe_untaken(), Processing);
        // The composer cleared, nothing else yet: still waiting, not completed.
        assert_eq!(run(&mut machine, &[Idle]), [Processing]);
        assert_eq!(
            run(&mut machine, &[Processing, Idle]),
            [Processing, Completed]
        );
        // After the turn, an untaken reading changes nothing.
        assert_eq!(machine.observe_untaken(), Completed);
    }

    #[test]
    fn a_cli_is_started_once_it_was_first_ready() {
        let mut machine = StatusMachine::default();
        run(&mut machine, &[Unknown, Processing, WaitingUserAnswer]);
        assert!(!machine.started());
        run(&mut machine, &[Idle]);
        assert!(machine.started());
        machine.input_sent();
        run(&mut machine, &[Processing]);
        assert!(machine.started());
        assert!(StatusMachine::resume(Processing).started());
        assert!(!StatusMachine::resume(Unknown).started());
    }

    #[test]
    fn an_error_screen_is_reported_and_recovers_when_the_cli_does() {
        let mut machine = StatusMachine::default();
        assert_eq!(run(&mut machine, &[Error, Idle]), [Error, Idle]);
    }
}
