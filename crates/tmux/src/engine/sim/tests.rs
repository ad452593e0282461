//! Tests of the sim through argv, as the layers above drive it. Expected texts were read from a
//! real tmux 3.3a on a private socket.

use super::*;

async fn run(sim: &SimEngine, argv: &[&str]) -> CommandOutput {
    sim.execute(TmuxCommand::new(argv.iter().copied()))
        .await
        .expect("the sim never fails to run a command")
}

/// Runs a command that must succeed and returns its stdout.
async fn ok(sim: &SimEngine, argv: &[&str]) -> Vec<String> {
    let output = run(sim, argv).await;
    assert!(output.succeeded(), "{argv:?} failed: {output:?}");
    output.stdout
}

/// Runs a command that must fail and returns its error text.
async fn fails(sim: &SimEngine, argv: &[&str]) -> String {
    let output = run(sim, argv).await;
    assert_eq!(output.exit_code, 1, "{argv:?} should fail: {output:?}");
    output.error_text()
}

#[tokio::test]
async fn no_server_until_a_session_and_none_after_the_last() {
    let sim = SimEngine::new();
    assert!(!sim.is_running());
    assert_eq!(
        fails(&sim, &["list-sessions"]).await,
        "no server running on /tmp/tmux-sim/sim"
    );
    ok(&sim, &["new-session", "-d", "-s", "a"]).await;
    ok(&sim, &["new-session", "-d", "-s", "b"]).await;
    assert!(sim.is_running());
    ok(&sim, &["kill-session", "-t", "a"]).await;
    assert!(sim.is_running());
    ok(&sim, &["kill-session", "-t", "b"]).await;
    assert!(!sim.is_running());
    assert_eq!(
        fails(&sim, &["has-session", "-t", "b"]).await,
        "no server running on /tmp/tmux-sim/sim"
    );
}

#[tokio::test]
async fn kill_server_and_start_server() {
    let sim = SimEngine::new();
    ok(&sim, &["start-server"]).await;
    assert!(sim.is_running());
    assert!(ok(&sim, &["list-sessions"]).await.is_empty());
    ok(&sim, &["new-session", "-d"]).await;
    ok(&sim, &["kill-server"]).await;
    assert!(!sim.is_running());
    assert_eq!(
        fails(&sim, &["kill-server"]).await,
        "no server running on /tmp/tmux-sim/sim"
    );
}

#[tokio::test]
async fn creates_inspects_and_kills_through_argv() {
    let sim = SimEngine::new();
    let created = ok(
        &sim,
        &[
            "new-session",
            "-d",
            "-s",
            "work",
            "-x",
            "100",
            "-y",
            "40",
            "-P",
            "-F",
            "#{session_id} #{window_id} #{pane_id}",
        ],
    )
    .await;
    assert_eq!(created, vec!["$0 @0 %0"]);
    let window = ok(
        &sim,
        &[
            "neww",
            "-t",
            "work",
            "-n",
            "ed",
            "-P",
            "-F",
            "#{window_id} #{window_index} #{pane_id}",
        ],
    )
    .await;
    assert_eq!(window, vec!["@1 1 %1"]);
    let split = ok(
        &sim,
        &[
            "splitw",
            "-h",
            "-t",
            "work:1",
            "-P",
            "-F",
            "#{pane_id} #{pane_width}x#{pane_height}",
        ],
    )
    .await;
    assert_eq!(split, vec!["%2 49x40"]);
    let panes = ok(
        &sim,
        &[
            "lsp",
            "-t",
            "work:ed",
            "-F",
            "#{pane_index} #{pane_id} #{pane_active} #{pane_width}",
        ],
    )
    .await;
    assert_eq!(panes, vec!["0 %1 0 50", "1 %2 1 49"]);
    let sessions = ok(
        &sim,
        &[
            "ls",
            "-F",
            "#{session_name} #{session_windows} #{session_attached}",
        ],
    )
    .await;
    assert_eq!(sessions, vec!["work 2 0"]);

    ok(&sim, &["kill-pane", "-t", "%2"]).await;
    let panes = ok(
        &sim,
        &[
            "lsp",
            "-t",
            "@1",
            "-F",
            "#{pane_id} #{pane_width}x#{pane_height}",
        ],
    )
    .await;
    assert_eq!(panes, vec!["%1 100x40"]);
    // Killing the last pane kills its window.
    ok(&sim, &["kill-pane", "-t", "%1"]).await;
    let windows = ok(&sim, &["lsw", "-t", "work", "-F", "#{window_id}"]).await;
    assert_eq!(windows, vec!["@0"]);
    // ... and the last window its session, and the last session the server.
    ok(&sim, &["kill-window", "-t", "work:0"]).await;
    assert!(!sim.is_running());
}

#[tokio::test]
async fn has_session_both_ways() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "alpha"]).await;
    assert_eq!(
        run(&sim, &["has-session", "-t", "alpha"]).await.exit_code,
        0
    );
    assert_eq!(
        fails(&sim, &["has-session", "-t", "beta"]).await,
        "can't find session: beta"
    );
    assert_eq!(run(&sim, &["has", "-t", "=alpha"]).await.exit_code, 0);
}

#[tokio::test]
async fn ids_are_monotonic_and_never_reused() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "keep"]).await;
    ok(&sim, &["new-session", "-d", "-s", "gone"]).await;
    ok(&sim, &["kill-session", "-t", "gone"]).await;
    let session = ok(
        &sim,
        &[
            "new-session",
            "-d",
            "-P",
            "-F",
            "#{session_id} #{session_name} #{window_id} #{pane_id}",
        ],
    )
    .await;
    assert_eq!(session, vec!["$2 2 @2 %2"]);
    ok(&sim, &["kill-pane", "-t", "%2"]).await;
    let pane = ok(&sim, &["splitw", "-t", "keep", "-P", "-F", "#{pane_id}"]).await;
    assert_eq!(pane, vec!["%3"]);
    let pids = ok(&sim, &["lsp", "-a", "-F", "#{pane_pid}"]).await;
    assert_eq!(pids, vec!["1000", "1003"]);
}

#[tokio::test]
async fn name_targets_exact_and_prefix() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "foo"]).await;
    // A unique prefix finds the session; `=` demands the exact name.
    assert_eq!(run(&sim, &["has-session", "-t", "fo"]).await.exit_code, 0);
    assert_eq!(
        fails(&sim, &["has-session", "-t", "=fo"]).await,
        "can't find session: fo"
    );
    ok(&sim, &["new-session", "-d", "-s", "food"]).await;
    // Now the prefix is ambiguous, and an exact name still wins over prefixes.
    assert_eq!(
        fails(&sim, &["has-session", "-t", "fo"]).await,
        "can't find session: fo"
    );
    let name = ok(
        &sim,
        &["display-message", "-p", "-t", "foo", "#{session_name}"],
    )
    .await;
    assert_eq!(name, vec!["foo"]);
    let name = ok(&sim, &["display", "-p", "-t", "=food:", "#{session_name}"]).await;
    assert_eq!(name, vec!["food"]);
}

#[tokio::test]
async fn target_forms() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "s", "-n", "first"]).await;
    ok(&sim, &["new-window", "-d", "-t", "s", "-n", "second"]).await;
    ok(&sim, &["split-window", "-d", "-t", "s:1"]).await;
    let cases = [
        ("s:1.1", "%2"),
        ("s:second.0", "%1"),
        ("s:sec", "%1"),
        ("s:", "%0"),
        // A bare word is a window name (prefix) before a session name, as in tmux.
        ("s", "%1"),
        (":1.1", "%2"),
        ("@1.1", "%2"),
        ("@1", "%1"),
        ("$0", "%0"),
        ("%2", "%2"),
        ("1.1", "%2"),
        ("first", "%0"),
    ];
    for (target, pane) in cases {
        let found = ok(&sim, &["display-message", "-p", "-t", target, "#{pane_id}"]).await;
        assert_eq!(found, vec![pane], "target {target}");
    }
    // No -t: the current session's active window and pane.
    assert_eq!(ok(&sim, &["display", "-p", "#{pane_id}"]).await, vec!["%0"]);
}

#[tokio::test]
async fn errors_match_tmux_wording() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "foo"]).await;
    let cases: [(&[&str], &str); 11] = [
        (
            &["new-session", "-d", "-s", "foo"],
            "duplicate session: foo",
        ),
        (&["kill-session", "-t", "nope"], "can't find session: nope"),
        (&["kill-window", "-t", "foo:9"], "can't find window: 9"),
        (&["kill-pane", "-t", "%99"], "can't find pane: %99"),
        (&["kill-pane", "-t", "foo:0.7"], "can't find pane: 7"),
        (&["select-window", "-t", "@42"], "can't find window: @42"),
        (&["bogus"], "unknown command: bogus"),
        (&["new-window", "-Z"], "command new-window: unknown flag -Z"),
        (
            &["rename-session"],
            "command rename-session: too few arguments (need at least 1)",
        ),
        (
            &["rename-session", "-t", "foo", "a", "b"],
            "command rename-session: too many arguments (need at most 1)",
        ),
        (
            &["new-window", "-t", "foo:0"],
            "create window failed: index 0 in use",
        ),
    ];
    for (argv, message) in cases {
        assert_eq!(fails(&sim, argv).await, message, "{argv:?}");
    }
    // Unknown commands are reported before the server check, like tmux's client does.
    let stopped = SimEngine::new();
    assert_eq!(fails(&stopped, &["bogus"]).await, "unknown command: bogus");
}

#[tokio::test]
async fn default_output_shapes() {
    let sim = SimEngine::new();
    assert_eq!(
        ok(&sim, &["new-session", "-d", "-s", "foo", "-P"]).await,
        vec!["foo:"]
    );
    assert_eq!(
        ok(&sim, &["new-window", "-t", "foo", "-P"]).await,
        vec!["foo:1.0"]
    );
    assert_eq!(
        ok(&sim, &["split-window", "-t", "foo", "-P"]).await,
        vec!["foo:1.1"]
    );
    let sessions = ok(&sim, &["list-sessions"]).await;
    assert_eq!(sessions.len(), 1);
    assert!(
        sessions[0].starts_with("foo: 2 windows (created ") && sessions[0].ends_with(')'),
        "{sessions:?}"
    );
    let windows = ok(&sim, &["list-windows", "-t", "foo"]).await;
    assert_eq!(
        windows,
        vec![
            "0: sh- (1 panes) [80x24] [layout b25d,80x24,0,0,0] @0",
            "1: sh* (2 panes) [80x24] [layout 419a,80x24,0,0[80x12,0,0,1,80x11,0,13,2]] @1 (active)",
        ]
    );
    let all = ok(&sim, &["list-windows", "-a"]).await;
    assert_eq!(
        all,
        vec![
            "foo:0: sh- (1 panes) [80x24] ",
            "foo:1: sh* (2 panes) [80x24] "
        ]
    );
    let panes = ok(&sim, &["list-panes", "-t", "foo"]).await;
    assert_eq!(
        panes,
        vec![
            "0: [80x12] [history 0/2000, 0 bytes] %1",
            "1: [80x11] [history 0/2000, 0 bytes] %2 (active)",
        ]
    );
    let panes = ok(&sim, &["list-panes", "-a"]).await;
    assert_eq!(
        panes[0],
        "foo:0.0: [80x24] [history 0/2000, 0 bytes] %0 (active)"
    );
    assert!(ok(&sim, &["list-clients"]).await.is_empty());
}

#[tokio::test]
async fn formats_expand_known_variables_and_blank_unknown_ones() {
    let sim = SimEngine::new();
    ok(
        &sim,
        &[
            "new-session",
            "-d",
            "-s",
            "f",
            "-c",
            "/srv",
            "--",
            "python3",
            "-q",
        ],
    )
    .await;
    let text = ok(
        &sim,
        &[
            "display-message",
            "-p",
            "#{session_name}|#{window_name}|#{pane_current_command}|#{pane_current_path}|#{pane_title}|#{pane_dead}|#{pane_dead_status}|#{client_name}|#{version}|##|#{nope}|#{?pane_active,on,off}|#S:#I.#P",
        ],
    )
    .await;
    assert_eq!(
        text,
        vec!["f|python3|python3|/srv|sim|0|||3.3a|#||on|f:0.0"]
    );
    let created = ok(&sim, &["display", "-p", "#{session_created}"]).await;
    assert!(created[0].parse::<u64>().is_ok_and(|t| t > 1_600_000_000));
}

#[tokio::test]
async fn buffers_round_trip_hostile_text_byte_for_byte() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d"]).await;
    let hostile = "a; kill-server\n\"quoted\" 'single' $HOME #{pane_id} \\ ;\n  ünïcødé ✓ 🚀\ttab";
    ok(&sim, &["set-buffer", "-b", "h", hostile]).await;
    assert_eq!(
        ok(&sim, &["show-buffer", "-b", "h"]).await.join("\n"),
        hostile
    );
    assert!(sim.is_running());

    let bytes = hostile.as_bytes().to_vec();
    let load = TmuxCommand::new(["load-buffer", "-b", "in", "-"]).with_stdin(bytes.clone());
    assert!(sim.execute(load).await.unwrap().succeeded());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let path_text = path.to_str().unwrap();
    ok(&sim, &["save-buffer", "-b", "in", path_text]).await;
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    ok(&sim, &["load-buffer", "-b", "again", path_text]).await;
    assert_eq!(
        ok(&sim, &["show-buffer", "-b", "again"]).await.join("\n"),
        hostile
    );
}

#[tokio::test]
async fn buffer_names_order_and_errors() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d"]).await;
    assert_eq!(fails(&sim, &["show-buffer"]).await, "no buffers");
    ok(&sim, &["set-buffer", "hello"]).await;
    ok(&sim, &["set-buffer", "world"]).await;
    assert_eq!(
        ok(&sim, &["list-buffers"]).await,
        vec!["buffer1: 5 bytes: \"world\"", "buffer0: 5 bytes: \"hello\""]
    );
    assert_eq!(ok(&sim, &["show-buffer"]).await, vec!["world"]);
    assert_eq!(
        fails(&sim, &["show-buffer", "-b", "nope"]).await,
        "no buffer nope"
    );
    assert_eq!(
        fails(&sim, &["delete-buffer", "-b", "nope"]).await,
        "unknown buffer: nope"
    );
    assert_eq!(fails(&sim, &["set-buffer"]).await, "no data specified");
    ok(&sim, &["delete-buffer", "-b", "buffer1"]).await;
    assert_eq!(ok(&sim, &["show-buffer"]).await, vec!["hello"]);
    assert_eq!(
        fails(&sim, &["load-buffer", "/nonexistent/file"]).await,
        "/nonexistent/file: No such file or directory"
    );
}

#[tokio::test]
async fn keys_paste_and_capture() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-x", "20", "-y", "3"]).await;
    ok(&sim, &["send-keys", "-l", "echo 'a b'"]).await;
    ok(&sim, &["send-keys", "Enter", "ls", "Space", "-la", "Enter"]).await;
    let screen = ok(&sim, &["capture-pane", "-p"]).await;
    assert_eq!(screen, vec!["echo 'a b'", "ls -la", ""]);
    ok(&sim, &["set-buffer", "-b", "p", "one\ntwo"]).await;
    ok(&sim, &["paste-buffer", "-b", "p", "-d"]).await;
    assert_eq!(
        fails(&sim, &["show-buffer", "-b", "p"]).await,
        "no buffer p"
    );
    // Four lines on a three-line screen: one is history.
    assert_eq!(
        ok(&sim, &["capture-pane", "-p"]).await,
        vec!["ls -la", "one", "two"]
    );
    assert_eq!(
        ok(&sim, &["capture-pane", "-p", "-S", "-", "-E", "0"]).await,
        vec!["echo 'a b'", "ls -la"]
    );
    assert_eq!(
        ok(&sim, &["display", "-p", "#{history_size}"]).await,
        vec!["1"]
    );
    ok(&sim, &["clear-history"]).await;
    assert_eq!(
        ok(&sim, &["capture-pane", "-p", "-S", "-10"]).await,
        vec!["ls -la", "one", "two"]
    );
    ok(&sim, &["capture-pane", "-b", "shot", "-E", "0"]).await;
    assert_eq!(
        ok(&sim, &["show-buffer", "-b", "shot"]).await,
        vec!["ls -la"]
    );
}

#[tokio::test]
async fn options_and_environment() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "foo"]).await;
    ok(&sim, &["set-option", "-g", "@my", "v 1"]).await;
    assert_eq!(
        ok(&sim, &["show-options", "-g", "@my"]).await,
        vec!["@my \"v 1\""]
    );
    assert_eq!(ok(&sim, &["show-options", "-gv", "@my"]).await, vec!["v 1"]);
    assert_eq!(
        fails(&sim, &["show-options", "-g", "@nope"]).await,
        "invalid option: @nope"
    );
    assert!(ok(&sim, &["show-options", "-gqv", "@nope"])
        .await
        .is_empty());
    assert_eq!(
        fails(&sim, &["set-option", "-g", "nonexistent", "1"]).await,
        "invalid option: nonexistent"
    );
    assert_eq!(
        ok(&sim, &["show-options", "-g", "base-index"]).await,
        vec!["base-index 0"]
    );
    ok(&sim, &["set-option", "-w", "-t", "foo:0", "@w", "x"]).await;
    assert_eq!(
        ok(&sim, &["show-options", "-wv", "-t", "foo:0", "@w"]).await,
        vec!["x"]
    );
    ok(&sim, &["set-option", "-p", "-t", "foo:0.0", "@p", "y"]).await;
    assert_eq!(
        ok(&sim, &["show-options", "-p", "-t", "%0"]).await,
        vec!["@p y"]
    );
    ok(&sim, &["setw", "-t", "foo", "@sw", "z"]).await;
    assert_eq!(
        ok(&sim, &["showw", "-v", "-t", "foo", "@sw"]).await,
        vec!["z"]
    );

    // base-index decides where new windows go.
    ok(&sim, &["set-option", "-g", "base-index", "1"]).await;
    let index = ok(
        &sim,
        &[
            "new-session",
            "-d",
            "-s",
            "one",
            "-P",
            "-F",
            "#{window_index}",
        ],
    )
    .await;
    assert_eq!(index, vec!["1"]);

    ok(&sim, &["set-environment", "-g", "FOO", "bar"]).await;
    assert_eq!(
        ok(&sim, &["show-environment", "-g", "FOO"]).await,
        vec!["FOO=bar"]
    );
    assert_eq!(
        fails(&sim, &["show-environment", "-g", "NOPE"]).await,
        "unknown variable: NOPE"
    );
    ok(&sim, &["setenv", "-t", "foo", "X", "1"]).await;
    ok(&sim, &["setenv", "-t", "foo", "-r", "Y"]).await;
    assert_eq!(ok(&sim, &["showenv", "-t", "foo"]).await, vec!["X=1", "-Y"]);
}

#[tokio::test]
async fn renames_selects_and_moves() {
    let sim = SimEngine::new();
    ok(&sim, &["new-session", "-d", "-s", "a"]).await;
    ok(&sim, &["new-window", "-t", "a"]).await;
    ok(&sim, &["rename-window", "-t", "a:0", "zero"]).await;
    ok(&sim, &["rename", "-t", "a", "b"]).await;
    ok(&sim, &["select-window", "-t", "b:zero"]).await;
    let windows = ok(&sim, &["lsw", "-F", "#{window_name}#{window_flags}"]).await;
    assert_eq!(windows, vec!["zero*", "sh-"]);
    ok(&sim, &["select-window", "-l"]).await;
    assert_eq!(
        ok(&sim, &["display", "-p", "#{window_index}"]).await,
        vec!["1"]
    );
    ok(&sim, &["new-window", "-a", "-t", "b:0", "-d"]).await;
    let indexes = ok(&sim, &["lsw", "-F", "#{window_index}:#{window_id}"]).await;
    assert_eq!(indexes, vec!["0:@0", "1:@2", "2:@1"]);
    ok(&sim, &["move-window", "-s", "b:2", "-t", "b:7"]).await;
    let indexes = ok(&sim, &["lsw", "-F", "#{window_index}:#{window_id}"]).await;
    assert_eq!(indexes, vec!["0:@0", "1:@2", "7:@1"]);
    ok(&sim, &["split-window", "-t", "b:0"]).await;
    ok(&sim, &["select-pane", "-t", "b:0.0"]).await;
    assert_eq!(ok(&sim, &["display", "-p", "#{pane_id}"]).await, vec!["%0"]);
    ok(&sim, &["swap-pane", "-s", "b:0.0", "-t", "b:0.1"]).await;
    let panes = ok(
        &sim,
        &["lsp", "-t", "b:0", "-F", "#{pane_id} #{pane_height}"],
    )
    .await;
    assert_eq!(panes, vec!["%3 12", "%0 11"]);
    ok(&sim, &["resize-pane", "-t", "%3", "-y", "5"]).await;
    ok(
        &sim,
        &["resize-window", "-t", "b:1", "-x", "120", "-y", "30"],
    )
    .await;
    let size = ok(
        &sim,
        &[
            "display",
            "-p",
            "-t",
            "b:1",
            "#{window_width}x#{window_height} #{pane_width}",
        ],
    )
    .await;
    assert_eq!(size, vec!["120x30 120"]);
}

#[tokio::test]
async fn new_session_attach_or_create_and_version() {
    let sim = SimEngine::with_version(TmuxVersion::new(3, 4, 0));
    assert_eq!(
        sim.server_version().await.unwrap(),
        TmuxVersion::new(3, 4, 0)
    );
    ok(&sim, &["new-session", "-d", "-s", "x"]).await;
    assert!(ok(&sim, &["new-session", "-A", "-d", "-s", "x"])
        .await
        .is_empty());
    assert_eq!(ok(&sim, &["ls", "-F", "#{session_name}"]).await, vec!["x"]);
    assert_eq!(
        ok(&sim, &["display", "-p", "#{version}"]).await,
        vec!["3.4"]
    );
    assert_eq!(sim.name(), "sim");
    assert_eq!(sim.socket(), &Socket::Name("sim".into()));
}

#[tokio::test]
async fn batch_runs_in_order_and_continues_after_failures() {
    let sim = SimEngine::new();
    let results = sim
        .execute_batch(vec![
            TmuxCommand::new(["new-session", "-d", "-s", "b"]),
            TmuxCommand::new(["kill-window", "-t", "b:5"]),
            TmuxCommand::new(["display-message", "-p", "#{session_name}"]),
        ])
        .await;
    let outputs: Vec<CommandOutput> = results.into_iter().map(Result::unwrap).collect();
    assert!(outputs[0].succeeded());
    assert_eq!(outputs[1].error_text(), "can't find window: 5");
    assert_eq!(outputs[2].stdout, vec!["b"]);
}
