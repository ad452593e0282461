//! Any text without NUL, quoted for a control-mode line, reaches tmux as exactly that text; and
//! as an argv word of a forked tmux, too. Checked against the real server, byte for byte.

mod common;

use cao_tmux::engine::{ControlEngine, Engine, SubprocessEngine};
use cao_tmux::TmuxCommand;
use common::TestServer;
use proptest::prelude::*;

fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just(";".to_string()),
        Just("\\;".to_string()),
        Just(" ; kill-server".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("$HOME".to_string()),
        Just("${X}".to_string()),
        Just("#{pane_id}".to_string()),
        Just("##".to_string()),
        Just("~".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("%if".to_string()),
        Just("\\".to_string()),
        Just("\\012".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\t".to_string()),
        Just("\u{1b}[0m".to_string()),
        Just("\u{7f}".to_string()),
        Just("-".to_string()),
        Just("--".to_string()),
        "[\\x01-\\x1f]".prop_map(|s: String| s),
        "\\PC{1,8}",
    ];
    prop::collection::vec(pieces, 1..12).prop_map(|parts| parts.concat())
}

struct Fixture {
    server: TestServer,
    runtime: tokio::runtime::Runtime,
    control: ControlEngine,
    forked: SubprocessEngine,
}

fn fixture() -> Fixture {
    let server = TestServer::new("quoting");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let control = server.control();
    let forked = server.subprocess();
    runtime.block_on(async {
        let created = control
            .execute(TmuxCommand::new(["new-session", "-d", "-s", "q"]))
            .await
            .unwrap();
        assert!(created.succeeded(), "{created:?}");
    });
    Fixture {
        server,
        runtime,
        control,
        forked,
    }
}

fn saved_buffer(server: &TestServer, name: &str) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("{}-{name}", server.name));
    let saved = server.tmux(&["save-buffer", "-b", name, path.to_str().unwrap()]);
    assert!(saved.status.success(), "{saved:?}");
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    bytes
}

#[test]
fn set_buffer_round_trips_any_text_through_both_engines() {
    let fixture = fixture();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 150,
        ..ProptestConfig::default()
    });
    runner
        .run(&hostile_text(), |text| {
            for (engine, name) in [
                (&fixture.control as &dyn Engine, "from-control"),
                (&fixture.forked as &dyn Engine, "from-fork"),
            ] {
                let output = fixture
                    .runtime
                    .block_on(engine.execute(TmuxCommand::new([
                        "set-buffer",
                        "-b",
                        name,
                        "--",
                        text.as_str(),
                    ])))
                    .unwrap();
                prop_assert!(output.succeeded(), "{}: {:?}", engine.name(), output);
                let bytes = saved_buffer(&fixture.server, name);
                prop_assert_eq!(
                    String::from_utf8_lossy(&bytes).into_owned(),
                    text.clone(),
                    "through the {} engine",
                    engine.name()
                );
            }
            Ok(())
        })
        .unwrap();
    fixture.runtime.block_on(fixture.control.shutdown());
}
