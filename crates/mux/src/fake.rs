//! An in-memory [`Multiplexer`] for tests of what drives one: no tmux, no process, nothing
//! runs in a pane.
//!
//! The test is the pane's program and its server. It sets what each pane shows
//! ([`FakeMux::set_screen`], which also announces the change as [`PaneEvent::Output`]), ends a
//! program ([`FakeMux::exit`]) or the whole server ([`FakeMux::lose_server`]), and reads back
//! what reached each pane: pasted text as the pane got it (after [`crate::paste_text`],
//! bracketed or not) and keys, in order ([`FakeMux::inputs`]), the [`LaunchSpec`] of every
//! spawn ([`FakeMux::launches`]) and the staged buffers. Events are sent only when the test
//! asks, so it orders them itself; [`FakeMux::wait_until`] waits (with a deadline) for the
//! driver to have done something, such as pasting, instead of sleeping.
//!
//! The semantics are the tmux backend's where a caller can tell: pane references name their
//! server, so once a server is lost every pane made on it fails with
//! [`MuxError::ServerGone`] (a later spawn starts a new server, whose panes are numbered from
//! `%0` again); a dead pane stays readable, with its exit status, until it is killed; killing
//! a pane that is gone is not an error; a staged buffer is deleted by the paste that uses it
//! and by nothing else, so it exists if and only if it was not pasted; names are checked as
//! tmux's backend checks them; captured lines lose their trailing spaces.
//!
//! It is compiled for this crate's own tests and, for other crates, behind the `fake` cargo
//! feature, which they enable in their `[dev-dependencies]`: a test double has no place in
//! the `cao` binary, and the feature costs nothing (no dependency of its own).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, watch};

use crate::tmux::check_name;
use crate::{
    BackendInfo, BackendState, Capture, CaptureRange, LaunchSpec, Multiplexer, MuxError, PaneEvent,
    PaneFacts, PaneInfo, PaneRef, Placement,
};

/// Size of a pane whose spawn did not choose one.
const DEFAULT_SIZE: (u16, u16) = (80, 24);

/// Something that reached a pane, in the order it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Text pasted by [`Multiplexer::paste`], as the pane got it: control bytes removed by
    /// [`crate::paste_text`].
    Paste { text: String, bracketed: bool },
    /// The buffer `buffer` pasted by [`Multiplexer::paste_staged`], with the text it held
    /// (cleaned when it was staged).
    PasteStaged {
        buffer: String,
        text: String,
        bracketed: bool,
    },
    /// The keys of one [`Multiplexer::send_keys`] call, by tmux key name.
    Keys(Vec<String>),
}

impl Input {
    /// The pasted text, for a paste.
    pub fn pasted(&self) -> Option<&str> {
        match self {
            Input::Paste { text, .. } | Input::PasteStaged { text, .. } => Some(text),
            Input::Keys(_) => None,
        }
    }

    /// Whether this is the single key `key`.
    pub fn is_key(&self, key: &str) -> bool {
        matches!(self, Input::Keys(keys) if keys.len() == 1 && keys[0] == key)
    }
}

/// One [`Multiplexer::spawn`] that made a pane.
#[derive(Debug, Clone)]
pub struct Launch {
    pub pane: PaneRef,
    pub spec: LaunchSpec,
    pub placement: Placement,
}

#[derive(Debug)]
struct FakePane {
    /// The server it was made on.
    server: u64,
    session: String,
    window: String,
    identity: BTreeMap<String, String>,
    screen: String,
    /// The lines above the screen.
    history: String,
    facts: PaneFacts,
    inputs: Vec<Input>,
    /// Killed (its own or its session's kill): every operation on it is `NoPane`.
    removed: bool,
}

#[derive(Debug)]
struct Server {
    number: u64,
    next_pane: u64,
    buffers: BTreeMap<String, String>,
}

impl Server {
    fn name(&self) -> String {
        server_name(self.number)
    }
}

fn server_name(number: u64) -> String {
    format!("fake-{number}")
}

#[derive(Debug, Default)]
struct State {
    /// The server running now, if any.
    server: Option<Server>,
    /// How many servers were started.
    servers_started: u64,
    /// Why each lost server went.
    lost: HashMap<u64, String>,
    /// The last server lost and why, while none runs (for [`Multiplexer::state`]).
    last_lost: Option<(String, String)>,
    panes: BTreeMap<PaneRef, FakePane>,
    /// Panes in the order they were made.
    order: Vec<PaneRef>,
    launches: Vec<Launch>,
}

impl State {
    /// The live pane `pane` names, or why it cannot be reached.
    fn pane_mut(&mut self, pane: &PaneRef) -> Result<&mut FakePane, MuxError> {
        let running = self.server.as_ref().map(|server| server.number);
        let Some(found) = self.panes.get_mut(pane) else {
            return Err(MuxError::NoPane(pane.clone()));
        };
        if running != Some(found.server) {
            let reason = self
                .lost
                .get(&found.server)
                .cloned()
                .unwrap_or_else(|| "the server exited".to_string());
            return Err(MuxError::ServerGone(reason));
        }
        if found.removed {
            return Err(MuxError::NoPane(pane.clone()));
        }
        Ok(found)
    }

    fn server_mut(&mut self) -> Result<&mut Server, MuxError> {
        let lost = self.last_lost.as_ref().map(|(_, reason)| reason.clone());
        self.server
            .as_mut()
            .ok_or_else(|| MuxError::ServerGone(lost.unwrap_or_else(|| "no server running".into())))
    }

    fn live_panes(&self) -> impl Iterator<Item = (&PaneRef, &FakePane)> {
        let running = self.server.as_ref().map(|server| server.number);
        self.order.iter().filter_map(move |pane| {
            let found = self.panes.get(pane)?;
            (Some(found.server) == running && !found.removed).then_some((pane, found))
        })
    }

    fn session_exists(&self, session: &str) -> bool {
        self.live_panes().any(|(_, pane)| pane.session == session)
    }
}

/// An in-memory multiplexer driven by the test (see the module docs). Cheap to share behind
/// an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct FakeMux {
    state: Mutex<State>,
    events: broadcast::Sender<PaneEvent>,
    /// Bumped on everything a driver does (spawn, input, staging, kill), for
    /// [`FakeMux::wait_until`].
    changes: watch::Sender<u64>,
}

impl Default for FakeMux {
    fn default() -> Self {
        FakeMux::new()
    }
}

impl FakeMux {
    /// A multiplexer with no server running yet (the first spawn starts one).
    pub fn new() -> FakeMux {
        let (events, _) = broadcast::channel(4096);
        FakeMux {
            state: Mutex::new(State::default()),
            events,
            changes: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves the state consistent before anything can panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|count| *count += 1);
    }

    fn emit(&self, event: PaneEvent) {
        // Nobody listening is fine: events are announcements.
        let _ = self.events.send(event);
    }

    // ----- what the test does ------------------------------------------------------------

    /// Sets what the pane shows (what [`Capture::SCREEN`] returns) and announces it as
    /// [`PaneEvent::Output`].
    pub fn set_screen(&self, pane: &PaneRef, screen: &str) -> Result<(), MuxError> {
        self.lock().pane_mut(pane)?.screen = screen.to_string();
        self.emit(PaneEvent::Output(pane.clone()));
        Ok(())
    }

    /// Sets the lines above the screen (what a capture with history adds) and the history
    /// size to their number. No event: the screen did not change.
    pub fn set_history(&self, pane: &PaneRef, history: &str) -> Result<(), MuxError> {
        let mut state = self.lock();
        let found = state.pane_mut(pane)?;
        found.history = history.to_string();
        found.facts.history_size = history.lines().count() as u32;
        Ok(())
    }

    /// Sets the history size [`Multiplexer::facts`] reports (lines scrolled off the top).
    pub fn set_history_size(&self, pane: &PaneRef, lines: u32) -> Result<(), MuxError> {
        self.lock().pane_mut(pane)?.facts.history_size = lines;
        Ok(())
    }

    /// Announces output without changing the screen (a redraw of the same text).
    pub fn output(&self, pane: &PaneRef) {
        self.emit(PaneEvent::Output(pane.clone()));
    }

    /// The pane's program exits with `status`: the pane turns dead (still readable) and
    /// [`PaneEvent::Exited`] is announced.
    pub fn exit(&self, pane: &PaneRef, status: i32) -> Result<(), MuxError> {
        {
            let mut state = self.lock();
            let found = state.pane_mut(pane)?;
            found.facts.dead = true;
            found.facts.exit_status = Some(status);
            found.facts.current_command = None;
        }
        self.emit(PaneEvent::Exited(pane.clone()));
        Ok(())
    }

    /// The server exits: its panes and buffers are gone, operations on them fail with
    /// [`MuxError::ServerGone`] carrying `reason`, and [`PaneEvent::ServerLost`] is announced.
    /// The next spawn starts a new server. Nothing happens when no server runs.
    pub fn lose_server(&self, reason: &str) {
        {
            let mut state = self.lock();
            let Some(server) = state.server.take() else {
                return;
            };
            state.lost.insert(server.number, reason.to_string());
            state.last_lost = Some((server.name(), reason.to_string()));
        }
        self.changed();
        self.emit(PaneEvent::ServerLost {
            reason: reason.to_string(),
        });
    }

    /// Announces [`PaneEvent::Resync`] (events may have been missed).
    pub fn resync(&self) {
        self.emit(PaneEvent::Resync);
    }

    // ----- what the test reads -----------------------------------------------------------

    /// What reached the pane so far, in order (also for a pane killed or lost since).
    pub fn inputs(&self, pane: &PaneRef) -> Vec<Input> {
        self.lock()
            .panes
            .get(pane)
            .map(|found| found.inputs.clone())
            .unwrap_or_default()
    }

    /// The texts pasted into the pane, in order.
    pub fn pasted(&self, pane: &PaneRef) -> Vec<String> {
        self.inputs(pane)
            .iter()
            .filter_map(|input| input.pasted().map(str::to_string))
            .collect()
    }

    /// Every spawn that made a pane, in order.
    pub fn launches(&self) -> Vec<Launch> {
        self.lock().launches.clone()
    }

    /// The pane of the running server stamped `key` = `value`, if any.
    pub fn find(&self, key: &str, value: &str) -> Option<PaneRef> {
        self.lock()
            .live_panes()
            .find(|(_, pane)| pane.identity.get(key).map(String::as_str) == Some(value))
            .map(|(pane, _)| pane.clone())
    }

    /// Whether the pane was killed (by its own kill or its session's).
    pub fn is_killed(&self, pane: &PaneRef) -> bool {
        self.lock()
            .panes
            .get(pane)
            .is_some_and(|found| found.removed)
    }

    /// The text staged under `name` on the running server, if any.
    pub fn staged(&self, name: &str) -> Option<String> {
        self.lock()
            .server
            .as_ref()
            .and_then(|server| server.buffers.get(name).cloned())
    }

    /// Waits until `check` holds, re-checking each time a driver does something (spawns,
    /// pastes, stages, sends keys, kills); `false` if it still does not at the deadline.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeMux) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changes.subscribe();
        loop {
            changes.borrow_and_update();
            if check(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives in `self`: it cannot close while borrowed here.
                Ok(Err(_)) | Err(_) => return check(self),
            }
        }
    }

    /// Waits until the pane got at least `count` inputs, and returns them all (fewer at the
    /// deadline).
    pub async fn wait_for_inputs(
        &self,
        pane: &PaneRef,
        count: usize,
        timeout: Duration,
    ) -> Vec<Input> {
        self.wait_until(timeout, |fake| fake.inputs(pane).len() >= count)
            .await;
        self.inputs(pane)
    }

    fn record(&self, pane: &PaneRef, input: Input) -> Result<(), MuxError> {
        self.lock().pane_mut(pane)?.inputs.push(input);
        self.changed();
        Ok(())
    }
}

#[async_trait]
impl Multiplexer for FakeMux {
    async fn check(&self) -> Result<BackendInfo, MuxError> {
        Ok(BackendInfo {
            backend: "fake",
            version: "1".to_string(),
        })
    }

    async fn spawn(&self, spec: &LaunchSpec, placement: Placement) -> Result<PaneInfo, MuxError> {
        check_name("session name", &spec.session)?;
        check_name("window name", &spec.window)?;
        for key in spec.identity.keys() {
            check_name("identity key", key)?;
        }
        for name in spec.env.iter().map(|(name, _)| name).chain(&spec.env_unset) {
            if !crate::is_env_name(name) {
                return Err(MuxError::Invalid {
                    what: "environment variable name",
                    reason: format!("'{}' is not a valid name", name.escape_debug()),
                });
            }
        }
        if spec.argv.as_ref().is_some_and(|argv| argv.is_empty()) {
            return Err(MuxError::Invalid {
                what: "launch argv",
                reason: "it is empty".into(),
            });
        }
        let pane = {
            let mut state = self.lock();
            let exists = state.session_exists(&spec.session);
            match placement {
                Placement::NewSession if exists => {
                    return Err(MuxError::SessionExists(spec.session.clone()))
                }
                Placement::NewWindow if !exists => {
                    return Err(MuxError::NoSession(spec.session.clone()))
                }
                _ => {}
            }
            if state.server.is_none() {
                state.servers_started += 1;
                state.server = Some(Server {
                    number: state.servers_started,
                    next_pane: 0,
                    buffers: BTreeMap::new(),
                });
                state.last_lost = None;
            }
            let server = state.server_mut()?;
            let pane = PaneRef(format!("%{}@{}", server.next_pane, server.name()));
            server.next_pane += 1;
            let number = server.number;
            let program = spec
                .argv
                .as_ref()
                .and_then(|argv| argv.first())
                .map(|program| {
                    Path::new(program)
                        .file_name()
                        .map_or_else(|| program.clone(), |name| name.to_string_lossy().into())
                })
                .unwrap_or_else(|| "sh".to_string());
            let (width, height) = spec.size.unwrap_or(DEFAULT_SIZE);
            state.panes.insert(
                pane.clone(),
                FakePane {
                    server: number,
                    session: spec.session.clone(),
                    window: spec.window.clone(),
                    identity: spec.identity.clone(),
                    screen: String::new(),
                    history: String::new(),
                    facts: PaneFacts {
                        pid: None,
                        current_command: Some(program),
                        dead: false,
                        exit_status: None,
                        cwd: spec.cwd.clone(),
                        width,
                        height,
                        history_size: 0,
                    },
                    inputs: Vec::new(),
                    removed: false,
                },
            );
            state.order.push(pane.clone());
            state.launches.push(Launch {
                pane: pane.clone(),
                spec: spec.clone(),
                placement,
            });
            pane
        };
        self.changed();
        Ok(PaneInfo {
            pane,
            session: spec.session.clone(),
            window: spec.window.clone(),
            identity: spec.identity.clone(),
        })
    }

    async fn watch(&self, pane: &PaneRef) -> Result<(), MuxError> {
        self.lock().pane_mut(pane).map(|_| ())
    }

    async fn list(&self) -> Result<Vec<PaneInfo>, MuxError> {
        Ok(self
            .lock()
            .live_panes()
            .map(|(pane, found)| PaneInfo {
                pane: pane.clone(),
                session: found.session.clone(),
                window: found.window.clone(),
                identity: found.identity.clone(),
            })
            .collect())
    }

    async fn session_exists(&self, session: &str) -> Result<bool, MuxError> {
        check_name("session name", session)?;
        Ok(self.lock().session_exists(session))
    }

    async fn paste(&self, pane: &PaneRef, text: &str, bracketed: bool) -> Result<(), MuxError> {
        let text = crate::paste_text(text).into_owned();
        self.record(pane, Input::Paste { text, bracketed })
    }

    async fn stage(&self, name: &str, text: &str) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        let text = crate::paste_text(text).into_owned();
        self.lock()
            .server_mut()?
            .buffers
            .insert(name.to_string(), text);
        self.changed();
        Ok(())
    }

    async fn paste_staged(
        &self,
        pane: &PaneRef,
        name: &str,
        bracketed: bool,
    ) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        {
            let mut state = self.lock();
            state.pane_mut(pane)?;
            let Some(text) = state.server_mut()?.buffers.remove(name) else {
                return Err(MuxError::Command {
                    command: "paste-buffer".into(),
                    reason: format!("no buffer {name}"),
                });
            };
            state.pane_mut(pane)?.inputs.push(Input::PasteStaged {
                buffer: name.to_string(),
                text,
                bracketed,
            });
        }
        self.changed();
        Ok(())
    }

    async fn has_staged(&self, name: &str) -> Result<bool, MuxError> {
        check_name("buffer name", name)?;
        Ok(self.lock().server_mut()?.buffers.contains_key(name))
    }

    async fn drop_staged(&self, name: &str) -> Result<(), MuxError> {
        check_name("buffer name", name)?;
        self.lock().server_mut()?.buffers.remove(name);
        self.changed();
        Ok(())
    }

    async fn send_keys(&self, pane: &PaneRef, keys: &[String]) -> Result<(), MuxError> {
        let keys: Vec<String> = keys.iter().filter(|key| !key.is_empty()).cloned().collect();
        if keys.is_empty() {
            return self.lock().pane_mut(pane).map(|_| ());
        }
        self.record(pane, Input::Keys(keys))
    }

    async fn capture(&self, pane: &PaneRef, capture: Capture) -> Result<String, MuxError> {
        let mut state = self.lock();
        let found = state.pane_mut(pane)?;
        let history: Vec<&str> = found.history.lines().collect();
        let kept = match capture.range {
            CaptureRange::Visible => 0,
            CaptureRange::WithHistory(lines) => history.len().min(lines as usize),
            CaptureRange::All => history.len(),
        };
        let above = history[history.len() - kept..].iter().copied();
        Ok(crate::screen_text(above.chain(found.screen.lines())))
    }

    async fn facts(&self, pane: &PaneRef) -> Result<PaneFacts, MuxError> {
        self.lock().pane_mut(pane).map(|found| found.facts.clone())
    }

    async fn kill_pane(&self, pane: &PaneRef) -> Result<(), MuxError> {
        match self.lock().pane_mut(pane) {
            Ok(found) => found.removed = true,
            // Gone with its pane or with its whole server: nothing is left to end.
            Err(MuxError::NoPane(_) | MuxError::ServerGone(_)) => return Ok(()),
            Err(error) => return Err(error),
        }
        self.changed();
        Ok(())
    }

    async fn kill_session(&self, session: &str) -> Result<(), MuxError> {
        check_name("session name", session)?;
        {
            let mut state = self.lock();
            let panes: Vec<PaneRef> = state
                .live_panes()
                .filter(|(_, found)| found.session == session)
                .map(|(pane, _)| pane.clone())
                .collect();
            if panes.is_empty() {
                return Err(MuxError::NoSession(session.to_string()));
            }
            for pane in panes {
                if let Some(found) = state.panes.get_mut(&pane) {
                    found.removed = true;
                }
            }
        }
        self.changed();
        Ok(())
    }

    fn events(&self) -> broadcast::Receiver<PaneEvent> {
        self.events.subscribe()
    }

    fn state(&self) -> BackendState {
        let state = self.lock();
        match (&state.server, &state.last_lost) {
            (Some(server), _) => BackendState::Connected {
                server: server.name(),
            },
            (None, Some((server, reason))) => BackendState::Lost {
                server: server.clone(),
                reason: reason.clone(),
            },
            (None, None) => BackendState::Idle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn spec(session: &str) -> LaunchSpec {
        LaunchSpec {
            session: session.into(),
            window: "w".into(),
            argv: Some(vec!["/bin/agent".into(), "--flag".into()]),
            identity: BTreeMap::from([("cao_terminal_id".to_string(), "abc".to_string())]),
            size: Some((100, 30)),
            ..LaunchSpec::default()
        }
    }

    #[tokio::test]
    async fn spawned_panes_are_listed_stamped_and_show_the_screen_the_test_sets() {
        let fake = FakeMux::new();
        assert_eq!(fake.state(), BackendState::Idle);
        let mut events = fake.events();
        let info = fake.spawn(&spec("s"), Placement::NewSession).await.unwrap();
        assert_eq!(info.pane.as_str(), "%0@fake-1");
        assert!(matches!(
            fake.spawn(&spec("s"), Placement::NewSession).await,
            Err(MuxError::SessionExists(_))
        ));
        assert!(matches!(
            fake.spawn(&spec("t"), Placement::NewWindow).await,
            Err(MuxError::NoSession(_))
        ));
        let second = fake.spawn(&spec("s"), Placement::NewWindow).await.unwrap();
        assert_eq!(second.pane.as_str(), "%1@fake-1");
        assert_eq!(fake.list().await.unwrap().len(), 2);
        assert_eq!(fake.find("cao_terminal_id", "abc"), Some(info.pane.clone()));
        assert_eq!(fake.launches()[0].spec.argv, spec("s").argv);
        assert!(fake.session_exists("s").await.unwrap());
        assert_eq!(
            fake.state(),
            BackendState::Connected {
                server: "fake-1".into()
            }
        );

        fake.set_screen(&info.pane, "hello   \nmock> ").unwrap();
        assert_eq!(
            events.recv().await.unwrap(),
            PaneEvent::Output(info.pane.clone())
        );
        fake.set_history(&info.pane, "one\ntwo").unwrap();
        let screen = fake.capture(&info.pane, Capture::SCREEN).await.unwrap();
        assert_eq!(screen, "hello\nmock>\n");
        let with_one = Capture {
            range: CaptureRange::WithHistory(1),
            join_wrapped: true,
        };
        let text = fake.capture(&info.pane, with_one).await.unwrap();
        assert_eq!(text, "two\nhello\nmock>\n");
        let facts = fake.facts(&info.pane).await.unwrap();
        assert_eq!(
            (facts.pid, facts.dead, facts.history_size),
            (None, false, 2)
        );
        assert_eq!((facts.width, facts.height), (100, 30));
        assert_eq!(facts.current_command.as_deref(), Some("agent"));
    }

    #[tokio::test]
    async fn input_is_recorded_as_the_pane_gets_it() {
        let fake = FakeMux::new();
        let pane = fake
            .spawn(&spec("s"), Placement::NewSession)
            .await
            .unwrap()
            .pane;
        fake.paste(&pane, "a\u{1b}[201~b\r\nc", true).await.unwrap();
        fake.send_keys(&pane, &["Enter".into(), String::new()])
            .await
            .unwrap();
        fake.paste(&pane, "y", false).await.unwrap();
        assert_eq!(
            fake.inputs(&pane),
            vec![
                Input::Paste {
                    text: "a[201~b\nc".into(),
                    bracketed: true
                },
                Input::Keys(vec!["Enter".into()]),
                Input::Paste {
                    text: "y".into(),
                    bracketed: false
                },
            ]
        );
        assert!(fake.inputs(&pane)[1].is_key("Enter"));
        assert_eq!(fake.wait_for_inputs(&pane, 3, WAIT).await.len(), 3);
    }

    #[tokio::test]
    async fn a_staged_buffer_is_gone_if_and_only_if_it_was_pasted() {
        let fake = FakeMux::new();
        let pane = fake
            .spawn(&spec("s"), Placement::NewSession)
            .await
            .unwrap()
            .pane;
        fake.stage("cao-inbox-1", "text\u{7}").await.unwrap();
        assert!(fake.has_staged("cao-inbox-1").await.unwrap());
        assert_eq!(fake.staged("cao-inbox-1").as_deref(), Some("text"));
        let elsewhere = PaneRef("%9@fake-1".into());
        assert!(matches!(
            fake.paste_staged(&elsewhere, "cao-inbox-1", true).await,
            Err(MuxError::NoPane(_))
        ));
        assert!(fake.has_staged("cao-inbox-1").await.unwrap());
        fake.paste_staged(&pane, "cao-inbox-1", true).await.unwrap();
        assert!(!fake.has_staged("cao-inbox-1").await.unwrap());
        assert_eq!(
            fake.inputs(&pane),
            vec![Input::PasteStaged {
                buffer: "cao-inbox-1".into(),
                text: "text".into(),
                bracketed: true
            }]
        );
        assert_eq!(fake.pasted(&pane), vec!["text".to_string()]);
        assert!(matches!(
            fake.paste_staged(&pane, "cao-inbox-1", true).await,
            Err(MuxError::Command { .. })
        ));
        fake.stage("cao-inbox-2", "x").await.unwrap();
        fake.drop_staged("cao-inbox-2").await.unwrap();
        fake.drop_staged("cao-inbox-2").await.unwrap();
        assert!(!fake.has_staged("cao-inbox-2").await.unwrap());
    }

    #[tokio::test]
    async fn an_exited_pane_stays_readable_until_killed() {
        let fake = FakeMux::new();
        let mut events = fake.events();
        let pane = fake
            .spawn(&spec("s"), Placement::NewSession)
            .await
            .unwrap()
            .pane;
        fake.exit(&pane, 3).unwrap();
        assert_eq!(
            events.recv().await.unwrap(),
            PaneEvent::Exited(pane.clone())
        );
        let facts = fake.facts(&pane).await.unwrap();
        assert_eq!((facts.dead, facts.exit_status), (true, Some(3)));
        fake.kill_pane(&pane).await.unwrap();
        assert!(fake.is_killed(&pane));
        assert!(matches!(
            fake.capture(&pane, Capture::SCREEN).await,
            Err(MuxError::NoPane(_))
        ));
        fake.kill_pane(&pane).await.unwrap();
        assert!(!fake.session_exists("s").await.unwrap());
        assert!(matches!(
            fake.kill_session("s").await,
            Err(MuxError::NoSession(_))
        ));
    }

    #[tokio::test]
    async fn a_lost_server_takes_its_panes_and_buffers_and_a_new_one_starts_afresh() {
        let fake = FakeMux::new();
        let mut events = fake.events();
        let pane = fake
            .spawn(&spec("s"), Placement::NewSession)
            .await
            .unwrap()
            .pane;
        fake.stage("cao-inbox-1", "x").await.unwrap();
        fake.lose_server("the tmux server exited");
        assert_eq!(
            events.recv().await.unwrap(),
            PaneEvent::ServerLost {
                reason: "the tmux server exited".into()
            }
        );
        assert_eq!(
            fake.state(),
            BackendState::Lost {
                server: "fake-1".into(),
                reason: "the tmux server exited".into()
            }
        );
        for result in [
            fake.capture(&pane, Capture::SCREEN).await.map(|_| ()),
            fake.paste(&pane, "x", true).await,
            fake.send_keys(&pane, &["Enter".into()]).await,
            fake.facts(&pane).await.map(|_| ()),
            fake.has_staged("cao-inbox-1").await.map(|_| ()),
        ] {
            match result {
                Err(MuxError::ServerGone(reason)) => assert_eq!(reason, "the tmux server exited"),
                other => panic!("{other:?}"),
            }
        }
        fake.kill_pane(&pane).await.unwrap();
        assert!(fake.list().await.unwrap().is_empty());
        assert!(!fake.session_exists("s").await.unwrap());

        // The same pane number on the next server is another pane.
        let again = fake
            .spawn(&spec("s"), Placement::NewSession)
            .await
            .unwrap()
            .pane;
        assert_eq!(again.as_str(), "%0@fake-2");
        assert!(matches!(
            fake.capture(&pane, Capture::SCREEN).await,
            Err(MuxError::ServerGone(_))
        ));
        assert!(!fake.has_staged("cao-inbox-1").await.unwrap());
        assert!(fake.inputs(&pane).is_empty());
    }

    #[tokio::test]
    async fn waiting_for_input_ends_when_it_comes_or_at_the_deadline() {
        let fake = std::sync::Arc::new(FakeMux::new());
        let pane = fake
            .spawn(&spec("s"), Placement::NewSession)
            .await
            .unwrap()
            .pane;
        let typist = {
            let fake = fake.clone();
            let pane = pane.clone();
            tokio::spawn(async move { fake.send_keys(&pane, &["Enter".into()]).await })
        };
        let inputs = fake.wait_for_inputs(&pane, 1, WAIT).await;
        assert_eq!(inputs, vec![Input::Keys(vec!["Enter".into()])]);
        typist.await.unwrap().unwrap();
        let waited = fake
            .wait_until(Duration::from_millis(10), |fake| {
                fake.inputs(&pane).len() > 1
            })
            .await;
        assert!(!waited);
    }
}
