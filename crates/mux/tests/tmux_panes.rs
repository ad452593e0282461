//! Panes through the tmux backend against a real tmux server (a private socket per test): the
//! environment a pane's program starts with, one `PaneEvent::Exited` per death, the exit status
//! readable afterwards, and nothing left behind in tmux.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cao_mux::tmux::TmuxMux;
use cao_mux::{LaunchSpec, Multiplexer, MuxError, PaneEvent, PaneRef, Placement};
use cao_tmux::engine::{ControlOptions, Notification};
use cao_tmux::Socket;
use tokio::sync::broadcast;

/// A guard against hanging, never a timing expectation.
const DEADLINE: Duration = Duration::from_secs(20);

/// A private tmux server whose socket lives in a temporary directory; the server is killed (by
/// its socket) and the socket file removed on drop.
struct Server {
    dir: tempfile::TempDir,
}

impl Server {
    fn new() -> Server {
        Server {
            dir: tempfile::Builder::new()
                .prefix("cao-mux-panes-")
                .tempdir()
                .expect("temporary directory"),
        }
    }

    fn socket(&self) -> Socket {
        Socket::Path(self.dir.path().join("tmux.sock"))
    }

    fn mux(&self) -> TmuxMux {
        TmuxMux::with_options(
            ControlOptions::new(self.socket()).config_file("/dev/null"),
            Vec::new(),
        )
    }

    /// A path in the test's directory (trigger files, timestamps).
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs tmux directly on this server (checks that bypass the backend).
    fn tmux(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("tmux")
            .args(self.socket().tmux_args())
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(self.socket().tmux_args())
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_file(self.socket().path());
    }
}

fn tmux_available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok()
}

/// A shell command that waits for `trigger` to exist, then exits with `status`: panes given
/// the same trigger die together.
fn exit_on(trigger: &Path, status: u8) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("while [ ! -e \"$0\" ]; do sleep 0.01; done; exit {status}"),
        trigger.display().to_string(),
    ]
}

async fn spawn(mux: &TmuxMux, session: &str, argv: Vec<String>) -> PaneRef {
    let spec = LaunchSpec {
        session: session.into(),
        window: "main".into(),
        argv: Some(argv),
        ..LaunchSpec::default()
    };
    mux.spawn(&spec, Placement::NewSession)
        .await
        .expect("pane spawns")
        .pane
}

/// The tmux pane id (`%7`) of a pane reference (`%7@<server>`).
fn tmux_id(pane: &PaneRef) -> &str {
    pane.as_str().split('@').next().unwrap_or_default()
}

/// The next event, or a panic after [`DEADLINE`].
async fn next_event(events: &mut broadcast::Receiver<PaneEvent>) -> PaneEvent {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .expect("an event before the deadline")
        .expect("the event stream is open")
}

/// Reads events until every pane in `panes` has had an `Exited`; returns every `Exited` seen.
async fn wait_for_deaths(
    events: &mut broadcast::Receiver<PaneEvent>,
    panes: &[&PaneRef],
) -> Vec<PaneRef> {
    let mut exited = Vec::new();
    while !panes.iter().all(|pane| exited.contains(*pane)) {
        if let PaneEvent::Exited(pane) = next_event(events).await {
            exited.push(pane);
        }
    }
    exited
}

/// Waits until tmux has reported each pane's death both ways: through the once-a-second
/// `#{pane_dead}` subscription (so a duplicate from it would already be on its way) and, when
/// `pushed`, through the death hook's `%pane-mode-changed`, sent at once.
async fn wait_for_reports(
    notifications: &mut broadcast::Receiver<Notification>,
    panes: &[&PaneRef],
    pushed: bool,
) {
    let mut subscribed: Vec<String> = Vec::new();
    let mut mode_changed: Vec<String> = Vec::new();
    let done = |subscribed: &Vec<String>, mode_changed: &Vec<String>| {
        panes.iter().all(|pane| {
            let id = tmux_id(pane).to_string();
            subscribed.contains(&id) && (!pushed || mode_changed.contains(&id))
        })
    };
    while !done(&subscribed, &mode_changed) {
        let notification = tokio::time::timeout(DEADLINE, notifications.recv())
            .await
            .expect("a notification before the deadline")
            .expect("the notification stream is open");
        match notification {
            Notification::SubscriptionChanged {
                pane: Some(pane),
                value,
                ..
            } if value == "1" => subscribed.push(pane.to_string()),
            Notification::PaneModeChanged { pane } => mode_changed.push(pane.to_string()),
            _ => {}
        }
    }
}

/// Makes `echo` (a `cat` pane) print, and returns every event that came before its output:
/// notifications are turned into events in order, so everything tmux sent before is in there.
async fn events_until_output(
    mux: &TmuxMux,
    events: &mut broadcast::Receiver<PaneEvent>,
    echo: &PaneRef,
) -> Vec<PaneEvent> {
    mux.send_keys(echo, &["x".to_string()])
        .await
        .expect("keys reach the echo pane");
    let mut seen = Vec::new();
    loop {
        match next_event(events).await {
            PaneEvent::Output(pane) if &pane == echo => break,
            event => seen.push(event),
        }
    }
    // Mode changes are checked by short tasks of their own; give any straggler its turn.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

fn deaths_of(events: &[PaneEvent], pane: &PaneRef) -> usize {
    events
        .iter()
        .filter(|event| matches!(event, PaneEvent::Exited(dead) if dead == pane))
        .count()
}

/// Exits 0 when the environment is as `a_pane_starts_without_the_inherited_variables_it_unsets`
/// sets it up; 3, 4 or 5 name the variable that is not.
const ENVIRONMENT_CHECK: &str = r#"[ -z "${CAO_PROBE_DROPPED+set}" ] || exit 3
[ "$CAO_PROBE_KEPT" = inherited ] || exit 4
[ "$CAO_PROBE_SET" = "a b;'c" ] || exit 5"#;

async fn exit_status_of(mux: &TmuxMux, spec: LaunchSpec) -> Option<i32> {
    let mut events = mux.events();
    let pane = mux
        .spawn(&spec, Placement::NewSession)
        .await
        .expect("pane spawns")
        .pane;
    wait_for_deaths(&mut events, &[&pane]).await;
    mux.facts(&pane)
        .await
        .expect("the dead pane stays readable")
        .exit_status
}

#[tokio::test]
async fn a_pane_starts_without_the_inherited_variables_it_unsets() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    let _first = spawn(&mux, "first", vec!["cat".into()]).await;
    for name in ["CAO_PROBE_DROPPED", "CAO_PROBE_KEPT"] {
        server.tmux(&["set-environment", "-g", name, "inherited"]);
    }
    let spec = |session: &str, unset: &[&str]| LaunchSpec {
        session: session.into(),
        window: "main".into(),
        argv: Some(vec!["sh".into(), "-c".into(), ENVIRONMENT_CHECK.into()]),
        env: vec![("CAO_PROBE_SET".into(), "a b;'c".into())],
        env_unset: unset.iter().map(|name| name.to_string()).collect(),
        ..LaunchSpec::default()
    };

    // CAO_PROBE_SET is set by the spec: listing it too leaves it set.
    let unset = exit_status_of(&mux, spec("unset", &["CAO_PROBE_DROPPED", "CAO_PROBE_SET"])).await;
    assert_eq!(unset, Some(0), "exit 3: still inherited, 4/5: others lost");
    let inherited = exit_status_of(&mux, spec("inherited", &[])).await;
    assert_eq!(
        inherited,
        Some(3),
        "without env_unset the variable is inherited"
    );

    let hostile = mux
        .spawn(&spec("hostile", &["CI; rm -rf ~"]), Placement::NewSession)
        .await
        .map(|info| info.pane);
    assert!(
        matches!(&hostile, Err(MuxError::Invalid { what, .. }) if what.contains("environment variable name")),
        "{hostile:?}"
    );
    assert!(!server
        .tmux(&["list-sessions", "-F", "#{session_name}"])
        .contains("hostile"));
    mux.shutdown().await;
}

#[tokio::test]
async fn an_exiting_pane_reports_its_death_once_with_its_status() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    let mut events = mux.events();
    let mut notifications = mux.engine().notifications();
    let echo = spawn(&mux, "echo", vec!["cat".into()]).await;
    let pane = spawn(
        &mux,
        "worker",
        vec!["sh".into(), "-c".into(), "sleep 0.3; exit 7".into()],
    )
    .await;

    let exited = wait_for_deaths(&mut events, &[&pane]).await;
    assert_eq!(exited, vec![pane.clone()]);
    let facts = mux
        .facts(&pane)
        .await
        .expect("the dead pane stays readable");
    assert!(facts.dead);
    assert_eq!(facts.exit_status, Some(7));

    wait_for_reports(&mut notifications, &[&pane], true).await;
    let later = events_until_output(&mux, &mut events, &echo).await;
    assert_eq!(deaths_of(&later, &pane), 0, "a second Exited: {later:?}");
    assert_eq!(server.tmux(&["list-buffers"]), "");
    mux.shutdown().await;
}

#[tokio::test]
async fn panes_dying_together_report_one_death_each() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    let mut events = mux.events();
    let mut notifications = mux.engine().notifications();
    let echo = spawn(&mux, "echo", vec!["cat".into()]).await;
    let trigger = server.file("go");
    let first = spawn(&mux, "first", exit_on(&trigger, 7)).await;
    let second = spawn(&mux, "second", exit_on(&trigger, 9)).await;
    std::fs::write(&trigger, "").expect("trigger written");

    let mut exited: Vec<PaneEvent> = wait_for_deaths(&mut events, &[&first, &second])
        .await
        .into_iter()
        .map(PaneEvent::Exited)
        .collect();
    wait_for_reports(&mut notifications, &[&first, &second], true).await;
    exited.extend(events_until_output(&mux, &mut events, &echo).await);
    assert_eq!(deaths_of(&exited, &first), 1, "{exited:?}");
    assert_eq!(deaths_of(&exited, &second), 1, "{exited:?}");

    assert_eq!(mux.facts(&first).await.unwrap().exit_status, Some(7));
    assert_eq!(mux.facts(&second).await.unwrap().exit_status, Some(9));
    // Whatever tmux did to report the deaths left no buffer and no pane in a mode.
    assert_eq!(server.tmux(&["list-buffers"]), "");
    let modes = server.tmux(&["list-panes", "-a", "-F", "#{pane_in_mode}"]);
    assert!(modes.lines().all(|mode| mode == "0"), "{modes:?}");
    mux.shutdown().await;
}

#[tokio::test]
async fn a_pane_watched_in_copy_mode_keeps_its_mode_and_still_reports_its_death() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    let mut events = mux.events();
    let mut notifications = mux.engine().notifications();
    let echo = spawn(&mux, "echo", vec!["cat".into()]).await;
    let trigger = server.file("go");
    let pane = spawn(&mux, "watched", exit_on(&trigger, 3)).await;

    // A user scrolling a live pane: mode changes, no death.
    server.tmux(&["copy-mode", "-t", tmux_id(&pane)]);
    let before = events_until_output(&mux, &mut events, &echo).await;
    assert_eq!(deaths_of(&before, &pane), 0, "{before:?}");

    std::fs::write(&trigger, "").expect("trigger written");
    let exited = wait_for_deaths(&mut events, &[&pane]).await;
    assert_eq!(exited, vec![pane.clone()]);
    // The hook left the scrolled pane alone: the subscription reported the death.
    wait_for_reports(&mut notifications, &[&pane], false).await;
    let later = events_until_output(&mux, &mut events, &echo).await;
    assert_eq!(deaths_of(&later, &pane), 0, "{later:?}");
    assert_eq!(mux.facts(&pane).await.unwrap().exit_status, Some(3));
    let mode = server.tmux(&[
        "display-message",
        "-p",
        "-t",
        tmux_id(&pane),
        "#{pane_mode}",
    ]);
    assert_eq!(mode.trim(), "copy-mode");
    mux.shutdown().await;
}

/// Prints how long a death takes to arrive as `PaneEvent::Exited` (measured from a timestamp
/// the pane's shell writes just before it exits). A measurement, not a test:
/// `cargo test -p cao-mux --test tmux_panes -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn death_to_event_latency() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    let mut events = mux.events();
    let mut latencies = Vec::new();
    for round in 0..10 {
        let stamp = server.file(&format!("died-{round}"));
        // Lives of different lengths, so deaths fall at different points of tmux's
        // one-second subscription timer.
        let life = 0.3 + 0.09 * f64::from(round);
        let argv = vec![
            "sh".into(),
            "-c".into(),
            format!("sleep {life:.2}; date +%s%N > \"$0\"; exit 7"),
            stamp.display().to_string(),
        ];
        let pane = spawn(&mux, &format!("round{round}"), argv).await;
        wait_for_deaths(&mut events, &[&pane]).await;
        let arrived = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let died: u128 = std::fs::read_to_string(&stamp)
            .expect("the pane wrote its timestamp")
            .trim()
            .parse()
            .expect("a timestamp");
        latencies.push(arrived.saturating_sub(died) as f64 / 1e6);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "death -> PaneEvent::Exited over {} deaths: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        latencies.len(),
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    mux.shutdown().await;
}

/// Waits for a [`PaneEvent::ServerLost`], skipping other events.
async fn server_lost(events: &mut broadcast::Receiver<PaneEvent>) -> String {
    loop {
        if let PaneEvent::ServerLost { reason } = next_event(events).await {
            return reason;
        }
    }
}

/// Captures `pane` until its screen contains `text`, or panics after [`DEADLINE`].
async fn wait_for_screen(mux: &TmuxMux, pane: &PaneRef, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let screen = mux
            .capture(pane, cao_mux::Capture::SCREEN)
            .await
            .expect("capture");
        if screen.contains(text) {
            return screen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{text:?} never showed; screen: {screen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_pane_reference_never_reaches_a_pane_of_a_later_server() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    let mut events = mux.events();
    let old = spawn(&mux, "first", vec!["cat".into()]).await;

    // The server dies under cao; the loss is announced.
    server.tmux(&["kill-server"]);
    let reason = server_lost(&mut events).await;
    assert!(reason.contains("tmux server exited"), "{reason}");

    // A new server on the same socket hands out the same pane ids again.
    let new = spawn(&mux, "second", vec!["cat".into()]).await;
    assert_eq!(
        tmux_id(&old),
        tmux_id(&new),
        "the probe needs a reused pane id"
    );
    assert_ne!(old, new);

    // Every operation through the old reference fails, naming the cause, and does nothing.
    for result in [
        mux.paste(&old, "for the old pane", true).await,
        mux.send_keys(&old, &["x".to_string(), "Enter".to_string()])
            .await,
        mux.watch(&old).await,
    ] {
        match result {
            Err(MuxError::ServerGone(reason)) => assert!(reason.contains("tmux server exited")),
            other => panic!("expected ServerGone, got {other:?}"),
        }
    }
    assert!(matches!(
        mux.capture(&old, cao_mux::Capture::SCREEN).await,
        Err(MuxError::ServerGone(_))
    ));
    assert!(matches!(
        mux.facts(&old).await,
        Err(MuxError::ServerGone(_))
    ));
    // Removing the old pane is done (it is gone) and leaves the new one running.
    mux.kill_pane(&old).await.expect("a gone pane is removed");
    let facts = mux.facts(&new).await.expect("the new pane is there");
    assert!(!facts.dead);
    let screen = mux
        .capture(&new, cao_mux::Capture::SCREEN)
        .await
        .expect("capture");
    assert!(!screen.contains("old pane"), "{screen:?}");
    let option = server.tmux(&["show-options", "-p", "-t", tmux_id(&new), "-v", "@key"]);
    assert_eq!(option, "");
    mux.shutdown().await;
}

#[tokio::test]
async fn pasted_text_cannot_leave_the_paste() {
    if !tmux_available() {
        return;
    }
    let server = Server::new();
    let mux = server.mux();
    // `cat -v` shows every byte it receives, a bracketed paste wrapped in its markers.
    let program = r"printf '\033[?2004hREADY\r\n'; stty raw -echo; exec cat -v";
    let pane = spawn(
        &mux,
        "paste",
        vec!["sh".into(), "-c".into(), program.into()],
    )
    .await;
    wait_for_screen(&mux, &pane, "READY").await;
    let hostile = "one\u{1b}[201~two\rthree\u{3}\u{7f}four\u{9b}five\u{1b}[200~";
    mux.paste(&pane, hostile, true).await.expect("pasted");
    // Exactly one paste: the markers tmux adds around the text, which keeps nothing a
    // terminal acts on (the carriage return became a line feed, shown as a new line).
    let screen = wait_for_screen(&mux, &pane, "^[[201~").await;
    let shown: String = screen.split_whitespace().collect();
    assert_eq!(shown, "READY^[[200~one[201~twothreefourfive[200~^[[201~");
    mux.shutdown().await;
}
