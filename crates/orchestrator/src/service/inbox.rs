//! The inbox: messages between terminals, delivered as a new user turn when the receiver is
//! ready, exactly once, in order.
//!
//! # Delivery
//! A message is a row (`pending`) before anything else happens. Delivery to a receiver is
//! attempted when the message is queued, whenever the receiver's status turns `idle` or
//! `completed` (a status event, not a poll), and once for every receiver with pending
//! messages when the orchestrator starts. One delivery runs per receiver at a time, it
//! takes the oldest pending message (so each sender's order is kept) and it sends one
//! message per ready cycle: the receiver works on it, turns ready again, and that event
//! brings the next one.
//!
//! A delivered message is pasted as
//! ```text
//! [message from developer 1a2b3c4d, cao inbox #17]
//! <the body, byte for byte>
//! ```
//! The header tells the receiving agent who wrote (so it can answer with `send_message`) and
//! carries the message's tag, `cao inbox #17]`.
//!
//! # Exactly once across a crash
//! One delivery is four steps: (1) stage the text in a tmux buffer named `cao-inbox-<id>`;
//! (2) record the attempt (`delivering`); (3) paste the buffer into the receiver and delete it
//! — a single tmux command, so the buffer exists if and only if the paste has not happened;
//! (4) press Enter and record `delivered`. tmux outlives a crash of cao, so at the next start
//! a message left `delivering` is settled by this rule:
//! - its buffer still exists → it was never pasted: the buffer is dropped and the message is
//!   `pending` again (delivered normally, still first in line);
//! - its buffer is gone → it was pasted: it is `delivered`. If its tag does not appear in the
//!   receiver's screen and history, Enter may not have been pressed, so Enter is pressed once
//!   (on a CLI that already submitted it, that is an empty line, which CLIs ignore);
//! - the receiver's pane is gone → `failed`, with the reason;
//! - tmux cannot be asked → `uncertain`: shown in listings, never sent again automatically.
//!
//! A send that fails without pasting (tmux briefly unavailable) puts the message back to
//! `pending` with the reason and retries it with exponential backoff (0.2 s doubling to
//! 30 s); later messages to the same receiver wait behind it, so order holds. Messages to a
//! deleted terminal end `failed` with the reason. Nothing is dropped silently.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{lock, Live, Orchestrator, OrchestratorError, OrchestratorEvent};
use crate::store::{InboxMessage, InboxStatus};

/// The largest message body accepted (the HTTP body limit is 4 MiB).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// A message whose delivery failed this many times in a row (about a minute of retries)
/// ends `failed` with the last reason, and the next one gets its turn.
const MAX_DELIVERY_FAILURES: u32 = 8;

/// Which receivers have a delivery running, which need another pass, and retry timers.
#[derive(Default)]
pub(super) struct InboxState {
    busy: Mutex<HashSet<String>>,
    again: Mutex<HashSet<String>>,
    retry: Mutex<HashMap<String, Retry>>,
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    failures: u32,
    not_before: Instant,
}

/// The tag that identifies message `id` on a receiver's screen.
pub fn delivery_tag(id: i64) -> String {
    format!("cao inbox #{id}]")
}

/// The text pasted into the receiver: a header naming the sender and the tag, then the body.
pub fn delivery_text(id: i64, sender: &str, body: &str) -> String {
    format!("[message from {sender}, {}\n{body}", delivery_tag(id))
}

fn buffer_name(id: i64) -> String {
    format!("cao-inbox-{id}")
}

impl Orchestrator {
    /// Queues `body` for `receiver` (default: the sender's creator) and tries to deliver it at
    /// once. `sender` is the terminal writing, `None` for the operator (CLI, HTTP).
    pub fn send_message(
        &self,
        sender: Option<&str>,
        receiver: Option<&str>,
        body: &str,
    ) -> Result<InboxMessage, OrchestratorError> {
        super::check_message(body)?;
        let sender_row = match sender {
            Some(id) => Some(self.inner.store.get_terminal(id)?.ok_or_else(|| {
                OrchestratorError::NotFound(format!(
                    "sender terminal '{}' does not exist",
                    id.escape_debug()
                ))
            })?),
            None => None,
        };
        let receiver = match (receiver, &sender_row) {
            (Some(receiver), _) => receiver.to_string(),
            (None, Some(row)) => row.creator_id.clone().ok_or_else(|| {
                OrchestratorError::Invalid(format!(
                    "terminal {} has no creator to reply to: pass receiver_id",
                    row.id
                ))
            })?,
            (None, None) => {
                return Err(OrchestratorError::Invalid(
                    "no receiver: pass receiver_id (the terminal to send to)".into(),
                ))
            }
        };
        if sender == Some(receiver.as_str()) {
            return Err(OrchestratorError::Invalid(format!(
                "terminal {receiver} cannot send a message to itself: pass another receiver_id"
            )));
        }
        self.row(&receiver)?;
        let message = self.inner.store.enqueue_message(sender, &receiver, body)?;
        self.message_event(&message.receiver_id, message.id, InboxStatus::Pending);
        self.kick_inbox(&receiver);
        Ok(message)
    }

    /// Messages sent to `receiver`, oldest first.
    pub fn inbox(
        &self,
        receiver: &str,
        status: Option<InboxStatus>,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, OrchestratorError> {
        if self.inner.store.get_terminal(receiver)?.is_none() {
            return Err(OrchestratorError::NotFound(format!(
                "terminal '{}' does not exist",
                receiver.escape_debug()
            )));
        }
        Ok(self.inner.store.list_messages(receiver, status, limit)?)
    }

    fn message_event(&self, receiver: &str, message_id: i64, status: InboxStatus) {
        let _ = self.inner.events.send(OrchestratorEvent::Message {
            message_id,
            receiver_id: receiver.to_string(),
            status,
        });
    }

    pub(super) fn fail_messages_to(&self, receiver: &str, reason: &str) {
        let failed = self
            .inner
            .store
            .list_messages(receiver, None, usize::MAX)
            .unwrap_or_default()
            .into_iter()
            .filter(|message| {
                matches!(
                    message.status,
                    InboxStatus::Pending | InboxStatus::Delivering
                )
            })
            .collect::<Vec<_>>();
        if let Err(error) = self.inner.store.fail_undelivered_messages(receiver, reason) {
            tracing::warn!(terminal = %receiver, %error, "could not fail undelivered messages");
            return;
        }
        for message in failed {
            self.message_event(receiver, message.id, InboxStatus::Failed);
        }
    }

    /// Starts the dispatcher that turns "receiver is ready" events into deliveries, and
    /// tries every receiver that has messages waiting.
    pub(super) fn start_inbox(&self) {
        let mut events = self.inner.events.subscribe();
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(inner) = weak.upgrade() else { return };
                let orchestrator = Orchestrator { inner };
                match event {
                    Ok(OrchestratorEvent::Status {
                        terminal_id,
                        status,
                        ..
                    }) if status.is_ready() => orchestrator.kick_inbox(&terminal_id),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => orchestrator.kick_all_inboxes(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        self.kick_all_inboxes();
    }

    fn kick_all_inboxes(&self) {
        match self.inner.store.pending_receivers() {
            Ok(receivers) => {
                for receiver in receivers {
                    self.kick_inbox(&receiver);
                }
            }
            Err(error) => tracing::warn!(%error, "could not list pending inbox receivers"),
        }
    }

    /// Makes sure a delivery pass runs for `receiver` (now, or again right after the running
    /// one).
    pub(super) fn kick_inbox(&self, receiver: &str) {
        let state = &self.inner.inbox;
        {
            let mut busy = lock(&state.busy);
            if busy.contains(receiver) {
                lock(&state.again).insert(receiver.to_string());
                return;
            }
            busy.insert(receiver.to_string());
        }
        let orchestrator = self.clone();
        let receiver = receiver.to_string();
        tokio::spawn(async move {
            loop {
                // After a delivery the receiver is working; its next ready event (or this
                // loop, if that event already came) brings the next message.
                orchestrator.deliver_next(&receiver).await;
                let state = &orchestrator.inner.inbox;
                let mut busy = lock(&state.busy);
                if lock(&state.again).remove(&receiver) {
                    continue;
                }
                busy.remove(&receiver);
                return;
            }
        });
    }

    /// One delivery pass: the oldest pending message, if the receiver is ready for it; a
    /// failed send schedules its own retry.
    async fn deliver_next(&self, receiver: &str) {
        let live = match self.live(receiver) {
            Ok(live) => live,
            Err(OrchestratorError::NotFound(_)) => {
                self.fail_messages_to(receiver, &format!("terminal {receiver} no longer exists"));
                return;
            }
            // No pane right now (crashed, being restored): wait for it to come back.
            Err(_) => return,
        };
        let message = match self.inner.store.next_pending_message(receiver) {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(terminal = %receiver, %error, "could not read the inbox");
                return;
            }
        };
        if let Some(retry) = lock(&self.inner.inbox.retry).get(receiver).copied() {
            if Instant::now() < retry.not_before {
                self.kick_inbox_at(receiver, retry.not_before);
                return;
            }
        }
        let _turn = live.input.lock().await;
        if live.watch.is_closed() {
            return;
        }
        let status = *live.watch.status.borrow();
        if status == crate::TerminalStatus::Error {
            // Held for a restore, up to the hold time (see `hold_messages`).
            let died_at = *lock(&live.died_at);
            if died_at.is_some_and(|died| died.elapsed() >= self.inner.message_hold) {
                let reason = lock(&live.exit_reason).clone().unwrap_or_default();
                self.fail_messages_to(
                    receiver,
                    &format!(
                        "terminal {receiver} failed ({reason}) and was not restored within {:?}",
                        self.inner.message_hold
                    ),
                );
            }
            return;
        }
        if !status.is_ready() {
            return;
        }
        match self.deliver(&live, receiver, &message).await {
            Ok(()) => {
                lock(&self.inner.inbox.retry).remove(receiver);
            }
            Err(reason) => {
                let failures = lock(&self.inner.inbox.retry)
                    .get(receiver)
                    .map_or(0, |retry| retry.failures)
                    + 1;
                if failures >= MAX_DELIVERY_FAILURES {
                    lock(&self.inner.inbox.retry).remove(receiver);
                    let reason = format!("delivery failed {failures} times: {reason}");
                    tracing::warn!(terminal = %receiver, message = message.id, %reason, "inbox message failed");
                    if let Err(error) = self.inner.store.mark_message_failed(message.id, &reason) {
                        tracing::warn!(message = message.id, %error, "could not record the failure");
                    }
                    self.message_event(receiver, message.id, InboxStatus::Failed);
                    drop(_turn);
                    self.kick_inbox(receiver);
                    return;
                }
                let delay = {
                    let mut retries = lock(&self.inner.inbox.retry);
                    let delay = FIRST_RETRY
                        .saturating_mul(1 << failures.min(8).saturating_sub(1))
                        .min(LAST_RETRY);
                    retries.insert(
                        receiver.to_string(),
                        Retry {
                            failures,
                            not_before: Instant::now() + delay,
                        },
                    );
                    delay
                };
                tracing::warn!(terminal = %receiver, message = message.id, %reason, ?delay, "inbox delivery failed; retrying");
                self.kick_inbox_at(receiver, Instant::now() + delay);
            }
        }
    }

    /// Messages to a terminal that just went into error are held, never pasted anywhere: a
    /// `restore` (same id) gets them. After the hold time, a pass of the inbox ends them
    /// `failed` if the terminal is still in error.
    pub(super) fn hold_messages(&self, receiver: &str) {
        self.kick_inbox_at(receiver, Instant::now() + self.inner.message_hold);
    }

    fn kick_inbox_at(&self, receiver: &str, at: Instant) {
        let weak = std::sync::Arc::downgrade(&self.inner);
        let receiver = receiver.to_string();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            if let Some(inner) = weak.upgrade() {
                Orchestrator { inner }.kick_inbox(&receiver);
            }
        });
    }

    /// The four steps of one delivery (see the module docs). Called with the receiver's
    /// input lock held and the receiver ready. An `Err` means the message is pending again.
    async fn deliver(
        &self,
        live: &Live,
        receiver: &str,
        message: &InboxMessage,
    ) -> Result<(), String> {
        let mux = &self.inner.mux;
        let store = &self.inner.store;
        let buffer = buffer_name(message.id);
        let text = delivery_text(message.id, &self.sender_label(message), &message.body);
        mux.stage(&buffer, &text)
            .await
            .map_err(|error| error.to_string())?;
        if let Err(error) = store.mark_message_delivering(message.id) {
            let _ = mux.drop_staged(&buffer).await;
            return Err(format!("could not record the attempt: {error}"));
        }
        self.message_event(receiver, message.id, InboxStatus::Delivering);
        self.remember_history(live, &text).await;
        let pasted = mux
            .paste_staged(&live.pane, &buffer, live.pack.input.paste)
            .await;
        if let Err(error) = pasted {
            // The buffer tells whether the paste happened; a pane whose server is gone was
            // never written to (the server is checked before anything is sent).
            let gone = matches!(error, cao_mux::MuxError::ServerGone(_));
            if gone || mux.has_staged(&buffer).await.unwrap_or(false) {
                let _ = mux.drop_staged(&buffer).await;
                let reason = format!("not pasted: {error}");
                // Left `delivering`, it is not offered again until a restart finds it interrupted.
                if let Err(error) = store.release_message(message.id, &reason) {
                    tracing::warn!(message = message.id, terminal = %receiver, %error, "could not put a message back in the queue");
                }
                self.message_event(receiver, message.id, InboxStatus::Pending);
                return Err(reason);
            }
        }
        let submitted = self.submit_pasted(live).await;
        self.turn_started(receiver, live, text.len());
        match submitted {
            Ok(()) => {
                if let Err(error) = store.mark_message_delivered(message.id) {
                    tracing::warn!(message = message.id, %error, "delivered, but not recorded");
                }
                self.message_event(receiver, message.id, InboxStatus::Delivered);
            }
            Err(error) => {
                // Pasted but maybe not submitted: never paste it again.
                let reason = format!("pasted, but Enter failed: {error}");
                if let Err(error) = store.mark_message_uncertain(message.id, &reason) {
                    tracing::warn!(message = message.id, terminal = %receiver, %error, "could not record a message as uncertain");
                }
                self.message_event(receiver, message.id, InboxStatus::Uncertain);
            }
        }
        Ok(())
    }

    /// `developer 1a2b3c4d`, or `the operator` for a message from outside any terminal.
    fn sender_label(&self, message: &InboxMessage) -> String {
        match &message.sender_id {
            Some(id) => match self.inner.store.get_terminal(id) {
                Ok(Some(row)) => format!("{} {id}", row.agent_profile),
                _ => id.clone(),
            },
            None => "the operator".to_string(),
        }
    }

    /// At start: settles the messages whose delivery a crash interrupted (the rule is in the
    /// module docs).
    pub(super) async fn settle_interrupted_deliveries(&self) -> Result<(), OrchestratorError> {
        let interrupted = self.inner.store.interrupted_deliveries()?;
        for message in interrupted {
            let id = message.id;
            let receiver = message.receiver_id.clone();
            let buffer = buffer_name(id);
            let Ok(live) = self.live(&receiver) else {
                let reason =
                    format!("terminal {receiver} was gone when cao restarted during the delivery");
                self.inner.store.mark_message_failed(id, &reason)?;
                self.message_event(&receiver, id, InboxStatus::Failed);
                continue;
            };
            let staged = match self.inner.mux.has_staged(&buffer).await {
                Ok(staged) => staged,
                Err(error) => {
                    let reason = format!("interrupted by a restart; tmux could not tell whether it was pasted: {error}");
                    self.inner.store.mark_message_uncertain(id, &reason)?;
                    self.message_event(&receiver, id, InboxStatus::Uncertain);
                    continue;
                }
            };
            if staged {
                let _ = self.inner.mux.drop_staged(&buffer).await;
                self.inner
                    .store
                    .release_message(id, "interrupted by a restart before it was pasted")?;
                self.message_event(&receiver, id, InboxStatus::Pending);
                tracing::info!(message = id, terminal = %receiver, "interrupted delivery: not pasted, queued again");
                continue;
            }
            let history = self
                .inner
                .mux
                .capture(
                    &live.pane,
                    cao_mux::Capture {
                        range: cao_mux::CaptureRange::WithHistory(super::HISTORY_LINES),
                        join_wrapped: true,
                    },
                )
                .await
                .unwrap_or_default();
            if !history.contains(&delivery_tag(id)) {
                // Pasted, maybe not submitted.
                let _turn = live.input.lock().await;
                if let Err(error) = self.submit_pasted(&live).await {
                    tracing::warn!(message = id, %error, "could not press Enter for an interrupted delivery");
                }
                self.turn_started(&receiver, &live, message.body.len());
            }
            self.inner.store.mark_message_delivered(id)?;
            self.message_event(&receiver, id, InboxStatus::Delivered);
            tracing::info!(message = id, terminal = %receiver, "interrupted delivery: it was pasted, recorded as delivered");
        }
        Ok(())
    }
}
