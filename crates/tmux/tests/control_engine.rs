//! The control engine against real tmux on private sockets.

mod common;

use std::time::Duration;

use cao_tmux::engine::{ControlEngine, Engine, EngineError, Notification};
use cao_tmux::{PaneId, TmuxCommand, TmuxVersion};
use common::{eventually, signal, TestServer};

fn command(words: &[&str]) -> TmuxCommand {
    TmuxCommand::new(words.iter().copied())
}

async fn new_session(engine: &impl Engine, name: &str, shell: &str) -> PaneId {
    let output = engine
        .execute(command(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            "-P",
            "-F",
            "#{pane_id}",
            shell,
        ]))
        .await
        .expect("new-session runs");
    assert!(output.succeeded(), "new-session failed: {output:?}");
    output.stdout[0].parse().expect("a pane id")
}

#[tokio::test]
async fn starts_the_server_and_reads_its_version_from_it() {
    let server = TestServer::new("version");
    let engine = server.control();
    // No server yet: the version is that of the binary that will start it.
    let expected: TmuxVersion = String::from_utf8_lossy(
        &std::process::Command::new("tmux")
            .arg("-V")
            .output()
            .unwrap()
            .stdout,
    )
    .parse()
    .unwrap();
    assert_eq!(engine.server_version().await.unwrap(), expected);
    // A read on a missing server fails like tmux does, and starts nothing.
    let listed = engine.execute(command(&["list-sessions"])).await.unwrap();
    assert_eq!(listed.exit_code, 1);
    assert!(listed.error_text().contains("no server running"));
    assert!(!engine.is_connected());

    new_session(&engine, "work", "sh").await;
    assert!(engine.is_connected());
    assert_eq!(engine.server_version().await.unwrap(), expected);
    let has = engine
        .execute(command(&["has-session", "-t", "=work"]))
        .await
        .unwrap();
    assert_eq!(has.exit_code, 0);
    let missing = engine
        .execute(command(&["has-session", "-t", "=nope"]))
        .await
        .unwrap();
    assert_eq!(missing.exit_code, 1);
    assert_eq!(missing.stderr, vec!["can't find session: nope"]);
    engine.shutdown().await;
}

#[tokio::test]
async fn pipelined_batches_keep_order_and_per_request_errors() {
    let server = TestServer::new("batch");
    let engine = server.control();
    new_session(&engine, "batch", "sh").await;
    let mut commands = Vec::new();
    for index in 0..2000 {
        if index % 97 == 0 {
            commands.push(command(&["has-session", "-t", "=missing"]));
        } else {
            commands.push(command(&[
                "display-message",
                "-p",
                &format!("reply {index}"),
            ]));
        }
    }
    let results = engine.execute_batch(commands).await;
    assert_eq!(results.len(), 2000);
    for (index, result) in results.into_iter().enumerate() {
        let output = result.expect("engine answered");
        if index % 97 == 0 {
            assert_eq!(output.exit_code, 1, "request {index} should fail");
            assert!(output.error_text().contains("missing"), "{output:?}");
        } else {
            assert_eq!(output.stdout, vec![format!("reply {index}")]);
        }
    }
    engine.shutdown().await;
}

#[tokio::test]
async fn concurrent_callers_each_get_their_own_reply() {
    let server = TestServer::new("concurrent");
    let engine = server.control();
    new_session(&engine, "c", "sh").await;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..200 {
                let text = format!("t{task}-{index}");
                let output = engine
                    .execute(command(&["display-message", "-p", &text]))
                    .await
                    .unwrap();
                assert_eq!(output.stdout, vec![text]);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    engine.shutdown().await;
}

#[tokio::test]
async fn hostile_text_is_data_in_buffers() {
    let server = TestServer::new("hostile");
    let engine = server.control();
    new_session(&engine, "h", "sh").await;
    let texts = [
        "a; kill-server",
        "ends with;",
        "ends with \\;",
        "line one\nline two\r\n\ttabbed",
        "\"double\" 'single' $HOME ${HOME} ~ #{pane_id} #S {braces} %if",
        "\\ backslash \\\\ two \\012 octal",
        "unicode é 日本 🚀 \u{1b}[31mred\u{1b}[0m \u{7f}",
        "-t starts like a flag",
    ];
    for (index, text) in texts.iter().enumerate() {
        let name = format!("b{index}");
        let set = engine
            .execute(command(&["set-buffer", "-b", &name, "--", text]))
            .await
            .unwrap();
        assert!(set.succeeded(), "set-buffer {text:?}: {set:?}");
        // Read back through a fork: a different path into tmux.
        let path = std::env::temp_dir().join(format!("{}-{name}", server.name));
        let saved = server.tmux(&["save-buffer", "-b", &name, path.to_str().unwrap()]);
        assert!(saved.status.success(), "{saved:?}");
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(String::from_utf8_lossy(&bytes), *text, "buffer {index}");
    }
    // The server survived every `; kill-server`.
    assert!(server.tmux(&["has-session", "-t", "=h"]).status.success());
    engine.shutdown().await;
}

#[tokio::test]
async fn nul_bytes_are_refused_in_arguments_and_carried_by_load_buffer() {
    let server = TestServer::new("nul");
    let engine = server.control();
    new_session(&engine, "n", "sh").await;
    let refused = engine
        .execute(command(&["set-buffer", "-b", "x", "a\0b"]))
        .await;
    assert!(matches!(refused, Err(EngineError::Quote(_))), "{refused:?}");

    let data = b"bin\0ary\n; kill-server\n\xff\xfe".to_vec();
    let loaded = engine
        .execute(command(&["load-buffer", "-b", "bin", "-"]).with_stdin(data.clone()))
        .await
        .unwrap();
    assert!(loaded.succeeded(), "{loaded:?}");
    let path = std::env::temp_dir().join(format!("{}-bin", server.name));
    assert!(server
        .tmux(&["save-buffer", "-b", "bin", path.to_str().unwrap()])
        .status
        .success());
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let _ = std::fs::remove_file(&path);
    engine.shutdown().await;
}

#[tokio::test]
async fn pasted_text_reaches_a_pane_byte_for_byte() {
    let server = TestServer::new("paste");
    let engine = server.control();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("received.txt");
    let shell = format!("stty -echo; exec cat > '{}'", out.display());
    let pane = new_session(&engine, "p", &shell).await;
    let text = "first; kill-server\n\"quoted\" 'single' $HOME #{pane_id}\n\\ é 日本 \t tab\n";
    let loaded = engine
        .execute(command(&["load-buffer", "-b", "msg", "-"]).with_stdin(text.as_bytes().to_vec()))
        .await
        .unwrap();
    assert!(loaded.succeeded(), "{loaded:?}");
    let target = pane.to_string();
    let pasted = engine
        .execute(command(&["paste-buffer", "-b", "msg", "-t", &target]))
        .await
        .unwrap();
    assert!(pasted.succeeded(), "{pasted:?}");
    eventually(
        "the pane's process to receive the text",
        Duration::from_secs(10),
        || std::fs::read_to_string(&out).is_ok_and(|received| received == text),
    )
    .await;
    engine.shutdown().await;
}

#[tokio::test]
async fn commands_that_queue_commands_keep_correlation() {
    let server = TestServer::new("queue");
    let engine = server.control();
    new_session(&engine, "q", "sh").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("commands.conf");
    std::fs::write(&file, "display-message -p one\ndisplay-message -p two\n").unwrap();
    let results = futures_join(
        &engine,
        vec![
            command(&["source-file", file.to_str().unwrap()]),
            command(&[
                "if-shell",
                "true",
                "display-message -p yes",
                "display-message -p no",
            ]),
            command(&["display-message", "-p", "after"]),
        ],
    )
    .await;
    assert_eq!(results[0].stdout, vec!["one", "two"]);
    assert_eq!(results[1].stdout, vec!["yes"]);
    assert_eq!(results[2].stdout, vec!["after"]);
    engine.shutdown().await;
}

async fn futures_join(
    engine: &ControlEngine,
    commands: Vec<TmuxCommand>,
) -> Vec<cao_tmux::CommandOutput> {
    let mut handles = Vec::new();
    for command in commands {
        let engine = engine.clone();
        handles.push(tokio::spawn(async move { engine.execute(command).await }));
        // Keep submission order deterministic.
        tokio::task::yield_now().await;
    }
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap().unwrap());
    }
    outputs
}

#[tokio::test]
async fn blocking_commands_do_not_block_the_shared_connection() {
    let server = TestServer::new("block");
    let engine = server.control();
    new_session(&engine, "w", "sh").await;
    let waiter = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .execute(command(&["wait-for", "cao-test-channel"]))
                .await
        })
    };
    // The shared connection still answers while wait-for blocks.
    for index in 0..50 {
        let text = format!("still alive {index}");
        let output = engine
            .execute(command(&["display-message", "-p", &text]))
            .await
            .unwrap();
        assert_eq!(output.stdout, vec![text]);
    }
    // Foreground run-shell also runs on its own connection and returns when the job ends.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("sleep 0.2; touch '{}'", marker.display());
    let run = engine
        .execute(command(&["run-shell", &script]))
        .await
        .unwrap();
    assert!(run.succeeded(), "{run:?}");
    assert!(marker.exists(), "run-shell returned before its job ended");
    assert!(!waiter.is_finished());
    let signalled = engine
        .execute(command(&["wait-for", "-S", "cao-test-channel"]))
        .await
        .unwrap();
    assert!(signalled.succeeded());
    let waited = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(waited.succeeded());
    engine.shutdown().await;
}

#[tokio::test]
async fn a_dead_server_fails_every_pending_request_and_the_engine_recovers() {
    let server = TestServer::new("dead");
    let engine = server.control();
    new_session(&engine, "d", "sh").await;
    let server_pid = server.server_pid().expect("server pid");
    let commands: Vec<TmuxCommand> = (0..50_000)
        .map(|index| command(&["display-message", "-p", &format!("n{index}")]))
        .collect();
    let batch = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.execute_batch(commands).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    signal(server_pid, "KILL");
    let results = tokio::time::timeout(Duration::from_secs(20), batch)
        .await
        .expect("pending requests fail promptly")
        .unwrap();
    let failed: Vec<_> = results.iter().filter(|result| result.is_err()).collect();
    assert!(
        !failed.is_empty(),
        "the kill should have hit pending requests"
    );
    for error in &failed {
        let message = error.as_ref().unwrap_err().to_string();
        assert!(
            message.contains("connection to -L"),
            "clear error: {message}"
        );
    }
    // Replies that did arrive are still correct.
    for (index, result) in results.iter().enumerate() {
        if let Ok(output) = result {
            assert_eq!(output.stdout, vec![format!("n{index}")]);
        }
    }
    // A read finds no server (and starts none); a new session brings everything back.
    let listed = engine.execute(command(&["list-sessions"])).await.unwrap();
    assert_eq!(listed.exit_code, 1);
    new_session(&engine, "again", "sh").await;
    let output = engine
        .execute(command(&["display-message", "-p", "back"]))
        .await
        .unwrap();
    assert_eq!(output.stdout, vec!["back"]);
    engine.shutdown().await;
}

#[tokio::test]
async fn a_killed_client_is_replaced_in_the_background() {
    let server = TestServer::new("client");
    let engine = server.control();
    new_session(&engine, "c", "sh").await;
    let mut notifications = engine.notifications();
    let first_pid = engine.client_pid().expect("connected");
    signal(first_pid, "KILL");
    eventually("a new control client", Duration::from_secs(10), || {
        engine.client_pid().is_some_and(|pid| pid != first_pid)
    })
    .await;
    assert!(engine.stats().connections >= 2);
    let output = engine
        .execute(command(&["display-message", "-p", "ok"]))
        .await
        .unwrap();
    assert_eq!(output.stdout, vec!["ok"]);
    // The session the user created is untouched.
    assert!(server.tmux(&["has-session", "-t", "=c"]).status.success());
    drop(notifications.try_recv());
    engine.shutdown().await;
}

#[tokio::test]
async fn kill_server_succeeds_and_nothing_restarts_it() {
    let server = TestServer::new("kill");
    let engine = server.control();
    new_session(&engine, "k", "sh").await;
    let killed = engine.execute(command(&["kill-server"])).await.unwrap();
    assert!(killed.succeeded(), "{killed:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.tmux(&["list-sessions"]).status.success(),
        "server must stay down"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn pane_output_streams_and_flow_control_continues_paused_panes() {
    let server = TestServer::new("flow");
    let mut options = server.control_options();
    options.pause_after = Some(Duration::from_secs(1));
    let engine = ControlEngine::with_options(options);
    engine.connect().await.unwrap();
    // %output only comes for panes of the attached (control) session.
    let target = format!("={}", engine.control_session());
    let created = engine
        .execute(command(&[
            "new-window",
            "-d",
            "-t",
            &target,
            "-P",
            "-F",
            "#{pane_id}",
            "cat",
        ]))
        .await
        .unwrap();
    let pane: PaneId = created.stdout[0].parse().unwrap();
    // Subscribe first, then make the pane write.
    let mut output = engine.pane_output(pane);
    let target = pane.to_string();
    let typed = engine
        .execute(command(&[
            "send-keys",
            "-t",
            &target,
            "-l",
            "hello from the pane\r",
        ]))
        .await
        .unwrap();
    assert!(typed.succeeded(), "{typed:?}");
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&seen).contains("hello from the pane") {
            match output.recv().await {
                Ok(bytes) => seen.extend(bytes),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => panic!("{error}"),
            }
        }
    })
    .await
    .expect("pane output arrives");

    // Pause the pane for this client, as tmux does when the client falls behind; the engine
    // must continue it by itself.
    let mut notifications = engine.notifications();
    let pause = format!("{pane}:pause");
    let paused = engine
        .execute(command(&["refresh-client", "-A", &pause]))
        .await
        .unwrap();
    assert!(paused.succeeded(), "{paused:?}");
    let resumed = tokio::time::timeout(Duration::from_secs(15), async {
        let mut saw_pause = false;
        loop {
            match notifications.recv().await {
                Ok(Notification::Pause { pane: paused }) if paused == pane => saw_pause = true,
                Ok(Notification::Continue { pane: continued })
                    if continued == pane && saw_pause =>
                {
                    return
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => panic!("{error}"),
            }
        }
    })
    .await;
    assert!(
        resumed.is_ok(),
        "paused pane was continued; stats {:?}",
        engine.stats()
    );
    assert!(engine.stats().pauses >= 1);
    assert!(engine.is_connected(), "never disconnected");
    let output = engine
        .execute(command(&["display-message", "-p", "ok"]))
        .await
        .unwrap();
    assert_eq!(output.stdout, vec!["ok"]);
    engine.shutdown().await;
}

#[tokio::test]
async fn first_words_tmux_would_not_answer_are_refused_before_sending() {
    let server = TestServer::new("assign");
    let engine = server.control();
    new_session(&engine, "a", "sh").await;
    // `FOO=bar` as a command is an environment assignment: tmux sends no reply block, which
    // would hand every later reply to the wrong caller. It must never reach tmux.
    let results = engine
        .execute_batch(vec![
            command(&["display-message", "-p", "A"]),
            command(&["FOO=bar"]),
            command(&["display-message", "-p", "B"]),
        ])
        .await;
    assert_eq!(results[0].as_ref().unwrap().stdout, vec!["A"]);
    assert!(
        matches!(results[1], Err(EngineError::Quote(_))),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap().stdout, vec!["B"]);
    let after = engine
        .execute(command(&["display-message", "-p", "C"]))
        .await
        .unwrap();
    assert_eq!(after.stdout, vec!["C"]);
    engine.shutdown().await;
}

#[tokio::test]
async fn abbreviated_command_names_are_routed_by_what_they_mean() {
    let server = TestServer::new("prefix");
    let engine = server.control();
    new_session(&engine, "p", "sh").await;
    // `if-sh` is if-shell: it queues a command whose block must stay with it.
    let mut tasks = Vec::new();
    for words in [
        vec!["if-sh", "-F", "1", "display-message -p FROM_IF"],
        vec!["display-message", "-p", "NEXT"],
    ] {
        let engine = engine.clone();
        let words: Vec<String> = words.into_iter().map(String::from).collect();
        tasks.push(tokio::spawn(async move {
            engine.execute(TmuxCommand::new(words)).await.unwrap()
        }));
        tokio::task::yield_now().await;
    }
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.unwrap());
    }
    assert_eq!(outputs[0].stdout, vec!["FROM_IF"]);
    assert_eq!(outputs[1].stdout, vec!["NEXT"]);
    // `run-s` is a foreground run-shell: it must not block the shared connection.
    let sleeper = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.execute(command(&["run-s", "sleep 1"])).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let quick = tokio::time::timeout(
        Duration::from_millis(700),
        engine.execute(command(&["display-message", "-p", "quick"])),
    )
    .await
    .expect("the shared connection is not blocked")
    .unwrap();
    assert_eq!(quick.stdout, vec!["quick"]);
    assert!(sleeper.await.unwrap().unwrap().succeeded());
    engine.shutdown().await;
}

#[tokio::test]
async fn a_new_session_right_after_kill_server_starts_a_fresh_server() {
    let server = TestServer::new("rekill");
    let engine = server.control();
    for round in 0..8 {
        new_session(&engine, &format!("s{round}"), "sh").await;
        let killed = engine.execute(command(&["kill-ser"])).await.unwrap();
        assert!(killed.succeeded(), "round {round}: {killed:?}");
    }
    new_session(&engine, "last", "sh").await;
    assert!(server
        .tmux(&["has-session", "-t", "=last"])
        .status
        .success());
    engine.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_fails_its_setup_is_not_retried_in_a_loop() {
    let server = TestServer::new("setupfail");
    // A tmux that reports a version this crate cannot read.
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("tmux");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\ntmux \"$@\" | sed -u 's/^3\\.[0-9][a-z]*$/weird-version/'\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut options = server.control_options();
    options.binary = wrapper.clone();
    let engine = ControlEngine::with_options(options);
    let error = engine.connect().await.unwrap_err();
    assert!(error.to_string().contains("weird-version"), "{error}");
    // No background loop keeps spawning control clients: sample for a while after the
    // failure settles and see none come and go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..70 {
        seen.extend(control_clients(&server.name));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The server forked from the first client carries its command line; it is not a client.
    if let Some(server_pid) = server.server_pid() {
        seen.remove(&server_pid);
    }
    assert!(seen.is_empty(), "control clients kept starting: {seen:?}");
    assert_eq!(engine.stats().connections, 0);
    engine.shutdown().await;
}

/// The pids of `tmux -C` processes running against this socket (from /proc).
fn control_clients(socket_name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(socket_name) && text.contains(" -C ")).then_some(pid)
        })
        .collect()
}

#[tokio::test]
async fn commands_bound_to_a_server_never_reach_the_next_one() {
    let server = TestServer::new("bound");
    let engine = server.control();
    let first = new_session(&engine, "first", "cat").await;
    let identity = engine.server_identity().await.expect("identified");
    assert_eq!(engine.current_server(), Some(identity.clone()));
    let mut states = engine.server_state();
    assert_eq!(
        *states.borrow_and_update(),
        cao_tmux::engine::ServerState::Connected(identity.clone())
    );

    // Bound to the running server: run in order, in one write, with per-command results.
    let outputs = engine
        .execute_on_server(
            &identity,
            vec![
                command(&[
                    "display-message",
                    "-p",
                    "-t",
                    &first.to_string(),
                    "#{pane_id}",
                ]),
                command(&["has-session", "-t", "=nope"]),
                command(&["if-shell", "-F", "1", "set-option -g @bound yes"]),
                command(&["show-options", "-gv", "@bound"]),
            ],
        )
        .await
        .expect("run on the server");
    assert_eq!(outputs[0].stdout, vec![first.to_string()]);
    assert_eq!(outputs[1].exit_code, 1);
    assert_eq!(outputs[3].stdout, vec!["yes"]);

    // The server dies: the loss is announced, and bound commands find no server.
    server.tmux(&["kill-server"]);
    let lost = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            states.changed().await.expect("the engine lives");
            if let cao_tmux::engine::ServerState::Lost { server, .. } = &*states.borrow() {
                return server.clone();
            }
        }
    })
    .await
    .expect("the loss is announced");
    assert_eq!(lost, identity);
    let none = engine
        .execute_on_server(&identity, vec![command(&["list-sessions"])])
        .await;
    assert!(
        matches!(none, Err(EngineError::NoServer { .. })),
        "{none:?}"
    );

    // A new server on the same socket hands out the same pane id: bound to the old server,
    // a command is refused before anything is sent.
    let second = new_session(&engine, "second", "cat").await;
    assert_eq!(first, second, "the new server reuses the pane id");
    let refused = engine
        .execute_on_server(
            &identity,
            vec![command(&[
                "send-keys",
                "-t",
                &second.to_string(),
                "for the old pane",
                "Enter",
            ])],
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::ServerChanged { .. })),
        "{refused:?}"
    );
    let screen = engine
        .execute(command(&["capture-pane", "-p", "-t", &second.to_string()]))
        .await
        .unwrap();
    assert!(!screen.stdout.join("\n").contains("old pane"));
    // Commands that need a connection of their own cannot be bound.
    let newer = engine.server_identity().await.unwrap();
    assert_ne!(newer, identity);
    assert!(engine
        .execute_on_server(&newer, vec![command(&["wait-for", "x"])])
        .await
        .is_err());
    engine.shutdown().await;
}
