//! Pairing reply blocks with requests, by order and flags — never by counting `;`.
//!
//! Requests are registered in the order their lines are written. Blocks with flags 0 (the
//! startup command, hooks) belong to nobody. A request that may queue further commands
//! (`source-file`, `if-shell`, …) is followed by a sentinel command (`display-message -p NONCE`)
//! and owns every block up to and including the sentinel's; any other request owns exactly one
//! block.

use std::collections::VecDeque;

use super::ReplyBlock;

/// How many blocks a request produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Exactly one block.
    Single,
    /// Blocks until one whose body is exactly `nonce` (the sentinel's own block, which is not
    /// part of the result).
    UntilSentinel { nonce: String },
}

/// The outcome of feeding one block.
#[derive(Debug, PartialEq, Eq)]
pub enum Correlated<T> {
    /// A request has all its blocks (the first is its own; later ones came from commands it
    /// queued).
    Completed { request: T, blocks: Vec<ReplyBlock> },
    /// The block belongs to a request still waiting for more.
    Partial,
    /// A block not caused by any pending request.
    Unsolicited(ReplyBlock),
}

#[derive(Debug)]
struct PendingRequest<T> {
    request: T,
    expectation: Expectation,
    blocks: Vec<ReplyBlock>,
}

/// The queue of requests awaiting their replies on one connection.
#[derive(Debug)]
pub struct Correlator<T> {
    pending: VecDeque<PendingRequest<T>>,
}

impl<T> Default for Correlator<T> {
    fn default() -> Self {
        Self {
            pending: VecDeque::new(),
        }
    }
}

impl<T> Correlator<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a request whose line has been (or is about to be) written, in write order.
    pub fn push(&mut self, request: T, expectation: Expectation) {
        self.pending.push_back(PendingRequest {
            request,
            expectation,
            blocks: Vec::new(),
        });
    }

    /// Requests still waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Assigns one block.
    pub fn on_block(&mut self, block: ReplyBlock) -> Correlated<T> {
        if !block.is_own() {
            return Correlated::Unsolicited(block);
        }
        let Some(front) = self.pending.front_mut() else {
            return Correlated::Unsolicited(block);
        };
        let complete = match &front.expectation {
            Expectation::Single => {
                front.blocks.push(block);
                true
            }
            Expectation::UntilSentinel { nonce } => {
                let is_sentinel =
                    block.success && block.lines.len() == 1 && block.lines[0] == *nonce;
                if !is_sentinel {
                    front.blocks.push(block);
                }
                is_sentinel
            }
        };
        if !complete {
            return Correlated::Partial;
        }
        match self.pending.pop_front() {
            Some(done) => Correlated::Completed {
                request: done.request,
                blocks: done.blocks,
            },
            None => Correlated::Partial,
        }
    }

    /// Removes every pending request (the connection is gone), oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.pending.drain(..).map(|pending| pending.request)
    }
}
