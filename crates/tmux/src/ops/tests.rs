//! Tests of the whole table: every kind rendered (insta), round-tripped through JSON and
//! checked against its catalog row, plus targets, slots, gates and result parsing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proptest::prelude::*;

use super::*;
use crate::command::CommandOutput;
use crate::ids::{PaneId, SessionId, WindowId};

const V3_3A: TmuxVersion = TmuxVersion::new(3, 3, 1);
const V2_9: TmuxVersion = TmuxVersion::new(2, 9, 0);
const V3_7: TmuxVersion = TmuxVersion::new(3, 7, 0);

fn t(text: &str) -> Target {
    text.parse().unwrap()
}

fn env() -> BTreeMap<String, String> {
    BTreeMap::from([("AGENT".to_string(), "a b".to_string())])
}

fn cmd(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// One value of every kind, with most optional fields set.
fn samples() -> Vec<Operation> {
    vec![
        BreakPane {
            source: Some(t("%1")),
            target: Some(t("=work")),
            name: Some("logs".into()),
            detached: true,
            placement: None,
        }
        .into(),
        CapturePane {
            target: t("%1"),
            range: CaptureRange::Lines {
                start: -100,
                end: 10,
            },
            join_wrapped: true,
            escapes: false,
            preserve_trailing: true,
        }
        .into(),
        CapturePane {
            target: t("%1"),
            range: CaptureRange::History(2000),
            join_wrapped: false,
            escapes: false,
            preserve_trailing: false,
        }
        .into(),
        ClearHistory {
            target: t("%1"),
            hyperlinks: true,
        }
        .into(),
        DeleteBuffer {
            name: Some("b1".into()),
        }
        .into(),
        DetachClient {
            client: Some(t("client:/dev/pts/3")),
            session: None,
            all_others: false,
        }
        .into(),
        DisplayMessage {
            target: Some(t("%1")),
            format: "#{pane_current_command}".into(),
            print: true,
            literal: false,
        }
        .into(),
        HasSession { target: t("=work") }.into(),
        IfShell {
            condition: "#{pane_in_mode}".into(),
            format: true,
            background: false,
            target: Some(t("%1")),
            then: Box::new(
                SendKeys {
                    target: t("%1"),
                    input: KeyInput::CopyMode("cancel".into()),
                    repeat: None,
                }
                .into(),
            ),
            otherwise: Some(Box::new(
                DisplayMessage {
                    target: Some(t("%1")),
                    format: "not in a mode; \"quoted\" $HOME".into(),
                    print: true,
                    literal: false,
                }
                .into(),
            )),
        }
        .into(),
        JoinPane {
            source: t("%2"),
            target: t("%1"),
            direction: SplitDirection::Horizontal,
            size: Some(Size::Percent(30)),
            before: true,
            full: false,
            detached: true,
        }
        .into(),
        KillPane {
            target: t("%1"),
            all_others: false,
        }
        .into(),
        KillServer {}.into(),
        KillSession {
            target: t("$1"),
            all_others: false,
        }
        .into(),
        KillWindow {
            target: t("@1"),
            all_others: true,
        }
        .into(),
        LastPane {
            target: Some(t("@1")),
            keep_zoom: true,
        }
        .into(),
        LastWindow {
            target: Some(t("=work")),
        }
        .into(),
        LinkWindow {
            source: t("@1"),
            target: t("=other:3"),
            placement: Some(Placement::After),
            kill_existing: true,
            detached: true,
        }
        .into(),
        ListBuffers {
            filter: Some("#{m:cao-*,#{buffer_name}}".into()),
        }
        .into(),
        ListClients {
            target: None,
            filter: None,
        }
        .into(),
        ListPanes {
            scope: ListPanesScope::Session(t("=work")),
            filter: None,
            user_options: vec!["cao_terminal".into()],
        }
        .into(),
        ListSessions { filter: None }.into(),
        ListWindows {
            scope: ListWindowsScope::Server,
            filter: None,
        }
        .into(),
        LoadBuffer {
            name: Some("b1".into()),
            source: BufferSource::Data("bytes\0with nul".into()),
            clipboard: true,
        }
        .into(),
        MovePane {
            source: t("%2"),
            target: t("%1"),
            direction: SplitDirection::Vertical,
            size: Some(Size::Cells(10)),
            before: false,
            full: false,
            detached: false,
        }
        .into(),
        MoveWindow {
            source: Some(t("@2")),
            target: Some(t("=work:5")),
            renumber: false,
            placement: None,
            kill_existing: false,
            detached: true,
        }
        .into(),
        NewPane {
            target: Some(t("%1")),
            width: Some(40),
            height: Some(10),
            x: Some(5),
            y: Some(2),
            detached: true,
            start_directory: None,
            environment: BTreeMap::new(),
            command: cmd(&["htop"]),
        }
        .into(),
        NewSession {
            name: Some("work".into()),
            window_name: Some("main".into()),
            start_directory: Some("/tmp".into()),
            width: Some(200),
            height: Some(50),
            environment: env(),
            detached: true,
            command: cmd(&["bash", "-l"]),
        }
        .into(),
        NewWindow {
            target: Some(t("=work")),
            name: Some("agent 1".into()),
            start_directory: None,
            environment: env(),
            detached: true,
            placement: None,
            kill_existing: false,
            select_existing: false,
            command: cmd(&["claude --resume"]),
        }
        .into(),
        NextWindow {
            target: None,
            with_alert: true,
        }
        .into(),
        PreviousWindow {
            target: Some(t("$0")),
            with_alert: false,
        }
        .into(),
        PasteBuffer {
            target: t("%1"),
            name: Some("b1".into()),
            delete_after: true,
            bracketed: true,
            separator: None,
            raw_newlines: false,
        }
        .into(),
        PipePane {
            target: t("%1"),
            command: Some("cat >> /tmp/log".into()),
            input: false,
            output: true,
            only_if_none: true,
        }
        .into(),
        RefreshClient {
            client: Some(t("client:client-123")),
            size: Some((200, 50)),
            flags: cmd(&["pause-after=2", "no-output"]),
            pane_flow: vec![PaneFlowSetting {
                pane: PaneId(3),
                flow: PaneFlow::Continue,
            }],
            subscriptions: vec![Subscription {
                name: "cmd".into(),
                scope: SubscriptionScope::AllPanes,
                format: Some("#{pane_current_command}".into()),
            }],
        }
        .into(),
        RenameSession {
            target: t("$1"),
            name: "-renamed".into(),
        }
        .into(),
        RenameWindow {
            target: t("@1"),
            name: "w; x".into(),
        }
        .into(),
        ResizePane {
            target: t("%1"),
            resize: PaneResize::To {
                width: Some(Size::Cells(80)),
                height: None,
            },
        }
        .into(),
        ResizeWindow {
            target: t("@1"),
            resize: WindowResize::By {
                direction: PaneDirection::Left,
                cells: 5,
            },
        }
        .into(),
        RespawnPane {
            target: t("%1"),
            kill: true,
            start_directory: Some("/srv".into()),
            environment: env(),
            command: cmd(&["codex"]),
        }
        .into(),
        RespawnWindow {
            target: t("@1"),
            kill: true,
            start_directory: None,
            environment: BTreeMap::new(),
            command: Vec::new(),
        }
        .into(),
        RotateWindow {
            target: t("@1"),
            direction: CycleDirection::Down,
            keep_zoom: true,
        }
        .into(),
        RunShell {
            command: "echo hi".into(),
            background: true,
            target: Some(t("%1")),
            tmux_command: false,
            delay_ms: None,
            start_directory: None,
        }
        .into(),
        SaveBuffer {
            name: Some("b1".into()),
            path: PathBuf::from("/tmp/out"),
            append: true,
        }
        .into(),
        SelectLayout {
            target: t("@1"),
            layout: Layout::MainVertical,
        }
        .into(),
        SelectPane {
            target: t("%1"),
            direction: Some(PaneDirection::Up),
            title: Some("agent".into()),
            keep_zoom: true,
        }
        .into(),
        SelectWindow {
            target: t("=work:1"),
        }
        .into(),
        SendKeys {
            target: t("%1"),
            input: KeyInput::Literal("-x; kill-server".into()),
            repeat: None,
        }
        .into(),
        SetBuffer {
            name: Some("b1".into()),
            data: "hello".into(),
            append: false,
            clipboard: true,
        }
        .into(),
        SetEnvironment {
            target: Some(t("=work")),
            name: "TOKEN".into(),
            change: EnvChange::Set("-secret".into()),
            hidden: false,
        }
        .into(),
        SetHook {
            scope: HookScope::Session(t("=work")),
            hook: "pane-exited".into(),
            command: Some("run-shell 'echo done'".into()),
            append: true,
        }
        .into(),
        SetOption {
            scope: OptionScope::Window(t("@1")),
            name: "remain-on-exit".into(),
            value: Some("on".into()),
            append: false,
            only_if_unset: false,
            expand_formats: false,
        }
        .into(),
        SetWindowOption {
            target: Some(t("@1")),
            global: false,
            name: "synchronize-panes".into(),
            value: None,
            append: false,
        }
        .into(),
        ShowBuffer { name: None }.into(),
        ShowOptions {
            scope: OptionScope::Pane(t("%1")),
            name: Some("remain-on-exit".into()),
            include_inherited: false,
            quiet: true,
        }
        .into(),
        SourceFile {
            paths: vec![PathBuf::from("/etc/tmux.conf")],
            quiet: true,
            parse_only: false,
            verbose: true,
            expand_formats: false,
        }
        .into(),
        SplitWindow {
            target: Some(t("%1")),
            direction: SplitDirection::Horizontal,
            size: Some(Size::Percent(40)),
            before: false,
            full: false,
            detached: true,
            start_directory: Some("/work".into()),
            environment: BTreeMap::new(),
            keep_zoom: true,
            command: cmd(&["--weird"]),
        }
        .into(),
        StartServer {}.into(),
        SuspendClient { client: None }.into(),
        SwapPane {
            target: t("%1"),
            source: Some(t("%2")),
            direction: None,
            detached: true,
            keep_zoom: true,
        }
        .into(),
        SwapWindow {
            source: t("@1"),
            target: t("@2"),
            detached: false,
        }
        .into(),
        SwitchClient {
            client: None,
            target: t("=work"),
            keep_zoom: true,
        }
        .into(),
        UnlinkWindow {
            target: t("@3"),
            kill_if_last: true,
        }
        .into(),
    ]
}

/// A table of argv (or errors) for every sample at one version.
fn render_table(version: TmuxVersion) -> String {
    let mut table = String::new();
    for op in samples() {
        let line = match op.render(version) {
            Ok(command) => {
                let mut words = format!("{:?}", command.argv);
                if let Some(stdin) = &command.stdin {
                    words.push_str(&format!(" <stdin {} bytes>", stdin.len()));
                }
                words
            }
            Err(error) => format!("error: {error}"),
        };
        table.push_str(&format!("{}: {line}\n", op.kind()));
    }
    table
}

#[test]
fn every_kind_has_a_sample() {
    let kinds: BTreeSet<OpKind> = samples().iter().map(Operation::kind).collect();
    assert_eq!(kinds.len(), 60);
    assert_eq!(OpKind::ALL.len(), 60);
}

#[test]
fn renders_every_kind_on_3_3a() {
    insta::assert_snapshot!("render_3_3a", render_table(V3_3A));
}

#[test]
fn renders_every_kind_on_2_9_with_gates_applied() {
    insta::assert_snapshot!("render_2_9", render_table(V2_9));
}

#[test]
fn renders_every_kind_on_3_7() {
    insta::assert_snapshot!("render_3_7", render_table(V3_7));
}

#[test]
fn every_kind_round_trips_through_json() {
    for op in samples() {
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["kind"], op.kind().name());
        let back: Operation = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, op, "{json}");
    }
}

#[test]
fn catalog_fields_match_the_json_of_every_kind() {
    for op in samples() {
        let spec = op.spec();
        let json = serde_json::to_value(&op).unwrap();
        let keys: BTreeSet<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|key| *key != "kind")
            .collect();
        let declared: BTreeSet<&str> = spec.fields.iter().map(|field| field.name).collect();
        assert_eq!(keys, declared, "{}", op.kind());
        // Required fields are required; every other field may be left out.
        for field in spec.fields {
            let mut partial = json.clone();
            partial.as_object_mut().unwrap().remove(field.name);
            let parsed = serde_json::from_value::<Operation>(partial);
            assert_eq!(
                parsed.is_err(),
                field.required,
                "{}.{}",
                op.kind(),
                field.name
            );
        }
    }
}

#[test]
fn specs_agree_with_their_kinds() {
    for kind in OpKind::ALL {
        let spec = kind.spec();
        assert_eq!(spec.kind, *kind);
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        assert_eq!(spec.command, kind.name().replace('_', "-"));
        assert_eq!(
            spec.safety == Safety::Readonly,
            spec.effects.read_only,
            "{kind}"
        );
        assert_eq!(
            spec.safety == Safety::Destructive,
            spec.effects.destructive,
            "{kind}"
        );
    }
}

#[test]
fn catalog_lists_60_unique_kinds() {
    let entries = catalog();
    assert_eq!(entries.len(), 60);
    let kinds: BTreeSet<OpKind> = entries.iter().map(|entry| entry.kind).collect();
    assert_eq!(kinds.len(), 60);
    let json = serde_json::to_value(&entries).unwrap();
    let new_pane = json
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["kind"] == "new_pane")
        .unwrap();
    assert_eq!(new_pane["min_version"], "3.7");
    assert_eq!(new_pane["command"], "new-pane");
    assert_eq!(new_pane["captures_ids"], true);
}

#[test]
fn unknown_kinds_and_fields_and_enum_values_are_rejected() {
    let error = serde_json::from_str::<Operation>(r#"{"kind":"split_windw"}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("split_windw"), "{error}");
    let error = serde_json::from_str::<Operation>(r#"{"kind":"split_window","direction":"left"}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `left`"), "{error}");
    assert!(error.contains("horizontal"), "{error}");
    let error =
        serde_json::from_str::<Operation>(r#"{"kind":"kill_pane","target":"%1","force":true}"#)
            .unwrap_err()
            .to_string();
    assert!(error.contains("force"), "{error}");
    let error = serde_json::from_str::<Operation>(r#"{"kind":"kill_pane","target":"1"}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid target"), "{error}");
    let op: Operation = serde_json::from_str(r#"{"kind":"split_window"}"#).unwrap();
    assert_eq!(op, Operation::SplitWindow(SplitWindow::default()));
}

#[test]
fn too_new_kinds_and_meaningful_flags_fail_with_the_needed_version() {
    let op = Operation::NewPane(NewPane::default());
    let error = op.render(V3_3A).unwrap_err();
    assert_eq!(
        error.to_string(),
        "new_pane needs tmux 3.7 or newer; the server runs 3.3a"
    );
    let op = Operation::NewWindow(NewWindow {
        environment: env(),
        ..NewWindow::default()
    });
    assert!(matches!(
        op.render(V2_9),
        Err(RenderError::FlagUnsupported { flag: "-e", .. })
    ));
    let op = Operation::RunShell(RunShell {
        command: "kill-server".into(),
        background: false,
        target: None,
        tmux_command: true,
        delay_ms: None,
        start_directory: None,
    });
    assert!(
        op.render(V2_9).is_err(),
        "-C must not silently become a shell command"
    );
    assert!(op.is_blocking());
    assert!(op.queues_commands());
}

#[test]
fn user_tokens_follow_a_double_dash() {
    let op = Operation::SendKeys(SendKeys {
        target: t("%1"),
        input: KeyInput::Literal("-x; kill-server".into()),
        repeat: None,
    });
    let argv = op.render(V3_3A).unwrap().argv;
    assert_eq!(
        argv,
        ["send-keys", "-t", "%1", "-l", "--", "-x; kill-server"]
    );
    let op = Operation::SendKeys(SendKeys {
        target: t("%1"),
        input: KeyInput::Keys(cmd(&["-n", "Enter"])),
        repeat: Some(2),
    });
    let argv = op.render(V3_3A).unwrap().argv;
    assert_eq!(
        argv,
        ["send-keys", "-N", "2", "-t", "%1", "--", "-n", "Enter"]
    );
}

#[test]
fn nul_is_rejected_except_in_load_buffer_data() {
    let op = Operation::SetBuffer(SetBuffer {
        name: None,
        data: "a\0b".into(),
        append: false,
        clipboard: false,
    });
    let error = op.render(V3_3A).unwrap_err().to_string();
    assert!(error.contains("NUL"), "{error}");
    let op = Operation::LoadBuffer(LoadBuffer {
        name: Some("b".into()),
        source: BufferSource::Data("a\0b".into()),
        clipboard: false,
    });
    let command = op.render(V3_3A).unwrap();
    assert_eq!(command.argv, ["load-buffer", "-b", "b", "-"]);
    assert_eq!(command.stdin.as_deref(), Some(&b"a\0b"[..]));
}

#[test]
fn invalid_values_are_rejected() {
    let bad_session = Operation::NewSession(NewSession {
        name: Some("a.b".into()),
        ..NewSession::default()
    });
    assert!(matches!(
        bad_session.render(V3_3A),
        Err(RenderError::Invalid { field: "name", .. })
    ));
    let empty_rename = Operation::RenameWindow(RenameWindow {
        target: t("@1"),
        name: String::new(),
    });
    assert!(empty_rename.render(V3_3A).is_err());
    let pane_index_for_window = Operation::KillWindow(KillWindow {
        target: t("@1.2"),
        all_others: false,
    });
    assert!(pane_index_for_window.render(V3_3A).is_err());
    let percent = Operation::ResizePane(ResizePane {
        target: t("%1"),
        resize: PaneResize::To {
            width: Some(Size::Percent(50)),
            height: None,
        },
    });
    assert_eq!(
        percent.render(V3_3A).unwrap().argv,
        ["resize-pane", "-x", "50%", "-t", "%1"]
    );
    assert!(percent.render(V2_9).is_err());
    let zero = Operation::SplitWindow(SplitWindow {
        size: Some(Size::Percent(0)),
        ..SplitWindow::default()
    });
    assert!(zero.render(V3_3A).is_err());
}

#[test]
fn slots_are_listed_previewed_and_resolved() {
    let mut op = Operation::SplitWindow(SplitWindow {
        target: Some(Target::Slot(SlotRef {
            slot: 2,
            part: SlotPart::Pane,
        })),
        ..SplitWindow::default()
    });
    assert_eq!(
        op.slot_refs(),
        [SlotRef {
            slot: 2,
            part: SlotPart::Pane
        }]
    );
    assert_eq!(
        op.render(V3_3A),
        Err(RenderError::UnresolvedSlot(SlotRef {
            slot: 2,
            part: SlotPart::Pane
        }))
    );
    let preview = op.render_preview(V3_3A).unwrap();
    assert_eq!(preview[..3], ["split-window", "-t", "{slot:2.pane}"]);
    assert!(op.resolve_slots(&|_| None).is_err());
    op.resolve_slots(&|slot| (slot.slot == 2).then_some(Target::Pane(PaneId(9))))
        .unwrap();
    assert!(op.slot_refs().is_empty());
    assert_eq!(
        op.render(V3_3A).unwrap().argv[..3],
        ["split-window", "-t", "%9"]
    );
}

#[test]
fn has_session_answers_with_its_exit_code() {
    let op = Operation::HasSession(HasSession { target: t("=work") });
    let missing = op.parse_result(&CommandOutput::failed("can't find session: work"));
    assert_eq!(missing.status, ResultStatus::Complete);
    assert_eq!(missing.payload, Payload::Exists(false));
    let present = op.parse_result(&CommandOutput::ok(vec![]));
    assert_eq!(present.payload, Payload::Exists(true));
    let other = Operation::KillPane(KillPane {
        target: t("%1"),
        all_others: false,
    });
    assert_eq!(
        other.parse_result(&CommandOutput::failed("no pane")).status,
        ResultStatus::Failed
    );
    let mut warned = CommandOutput::ok(vec![]);
    warned.stderr.push("warning".into());
    assert_eq!(other.parse_result(&warned).status, ResultStatus::Failed);
}

#[test]
fn creators_capture_their_ids() {
    for op in samples().into_iter().filter(|op| op.spec().captures_ids) {
        let argv = op.render(V3_7).unwrap().argv;
        let at = argv.iter().position(|word| word == "-P").unwrap();
        assert_eq!(
            argv[at + 1..at + 3],
            ["-F", ID_CAPTURE_FORMAT],
            "{}",
            op.kind()
        );
        let result = op.parse_result(&CommandOutput::ok(vec!["$1 @2 %3".into()]));
        assert_eq!(result.status, ResultStatus::Complete);
        assert_eq!(
            result.payload,
            Payload::NewIds(NewIds {
                session: SessionId(1),
                window: WindowId(2),
                pane: PaneId(3)
            })
        );
        let missing = op.parse_result(&CommandOutput::ok(vec![]));
        assert_eq!(missing.status, ResultStatus::Unknown);
    }
}

#[test]
fn list_rows_keep_awkward_names() {
    let name = "my session; x\twith tabs ünïcødé 🚀";
    let line = ["$3", name, "2", "1", "1700000000"].join("\u{1f}");
    let op = Operation::ListSessions(ListSessions { filter: None });
    let result = op.parse_result(&CommandOutput::ok(vec![line]));
    let Payload::Sessions(rows) = result.payload else {
        panic!("{result:?}")
    };
    assert_eq!(rows[0].name, name);
    assert_eq!(rows[0].id, SessionId(3));

    let window_line = [
        "$3",
        name,
        "@4",
        "2",
        "win dow;",
        "1",
        "2",
        "80",
        "24",
        "b25d,80x24,0,0,0",
    ]
    .join("\u{1f}");
    let op = Operation::ListWindows(ListWindows::default());
    let Payload::Windows(rows) = op
        .parse_result(&CommandOutput::ok(vec![window_line]))
        .payload
    else {
        panic!()
    };
    assert_eq!(
        (rows[0].name.as_str(), rows[0].active, rows[0].index),
        ("win dow;", true, 2)
    );

    let pane_line = [
        "$3",
        name,
        "0",
        "@4",
        "2",
        "w",
        "1",
        "80",
        "24",
        "l",
        "%5",
        "0",
        "1",
        "80",
        "24",
        "",
        "",
        "/tmp/ä b",
        "1",
        "127",
        "tïtle\twith tab",
    ]
    .join("\u{1f}");
    let op = Operation::ListPanes(ListPanes::default());
    let Payload::Panes(rows) = op.parse_result(&CommandOutput::ok(vec![pane_line])).payload else {
        panic!()
    };
    assert_eq!(rows[0].pid, None);
    assert_eq!(rows[0].dead_status, Some(127));
    assert_eq!(rows[0].title, "tïtle\twith tab");
    assert_eq!(rows[0].current_path, "/tmp/ä b");
    let snapshot = crate::snapshot::Snapshot::from_rows(rows);
    assert_eq!(snapshot.sessions[0].name, name);

    let client_line = ["/dev/pts/1", name, "/dev/pts/1", "200", "50"].join("\u{1f}");
    let op = Operation::ListClients(ListClients::default());
    let Payload::Clients(rows) = op
        .parse_result(&CommandOutput::ok(vec![client_line]))
        .payload
    else {
        panic!()
    };
    assert_eq!(rows[0].session, name);

    let broken = Operation::ListSessions(ListSessions { filter: None })
        .parse_result(&CommandOutput::ok(vec!["$x\u{1f}a".into()]));
    assert_eq!(broken.status, ResultStatus::Unknown);
}

#[test]
fn formats_use_only_supported_variables() {
    const SUPPORTED: &[&str] = &[
        "session_id",
        "session_name",
        "session_windows",
        "session_attached",
        "session_created",
        "window_id",
        "window_index",
        "window_name",
        "window_active",
        "window_panes",
        "window_width",
        "window_height",
        "window_layout",
        "pane_id",
        "pane_index",
        "pane_active",
        "pane_width",
        "pane_height",
        "pane_pid",
        "pane_current_command",
        "pane_current_path",
        "pane_dead",
        "pane_dead_status",
        "pane_title",
        "client_name",
        "client_session",
        "client_tty",
        "client_width",
        "client_height",
        "buffer_name",
        "buffer_size",
        "version",
    ];
    for format in [
        result::SESSION_FORMAT,
        result::WINDOW_FORMAT,
        result::PANE_FORMAT,
        result::CLIENT_FORMAT,
        result::BUFFER_FORMAT,
        ID_CAPTURE_FORMAT,
    ] {
        for part in format.split("#{").skip(1) {
            let variable = part.split('}').next().unwrap();
            assert!(SUPPORTED.contains(&variable), "{variable}");
        }
    }
}

#[test]
fn every_kind_renders_a_command_of_the_command_table() {
    for kind in OpKind::ALL {
        let command = kind.spec().command;
        assert_eq!(
            crate::command::canonical_command(command),
            Some(command),
            "{kind}"
        );
    }
}

#[test]
fn failures_are_classified_from_tmux_error_text() {
    let failed = |text: &str| CommandOutput {
        exit_code: 1,
        stdout: Vec::new(),
        stderr: vec![text.to_string()],
    };
    let kill = Operation::KillPane(KillPane {
        target: t("%9"),
        all_others: false,
    });
    let cases = [
        (
            "can't find pane: %9",
            Failure::NotFound(Some(TargetKind::Pane)),
        ),
        (
            "can't find session: work",
            Failure::NotFound(Some(TargetKind::Session)),
        ),
        (
            "can't find window: @4",
            Failure::NotFound(Some(TargetKind::Window)),
        ),
        ("duplicate session: work", Failure::DuplicateSession),
        ("no server running on /tmp/tmux-0/cao", Failure::NoServer),
        ("unknown option: frobnicate", Failure::Other),
    ];
    for (text, expected) in cases {
        assert_eq!(
            kill.parse_result(&failed(text)).failure(),
            Some(expected),
            "{text}"
        );
    }
    let done = CommandOutput {
        exit_code: 0,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    assert_eq!(kill.parse_result(&done).failure(), None);
}

#[test]
fn list_panes_reads_the_user_options_asked_for() {
    let op = Operation::ListPanes(ListPanes {
        user_options: vec!["terminal".into(), "role".into()],
        ..ListPanes::default()
    });
    let argv = op.render(V3_3A).unwrap().argv;
    assert!(argv[3].ends_with("#{pane_title}\u{1f}#{@terminal}\u{1f}#{@role}"));
    let mut line = vec![
        "$0",
        "work",
        "0",
        "@1",
        "0",
        "main",
        "1",
        "80",
        "24",
        "b25d,80x24,0,0,0",
        "%2",
        "0",
        "1",
        "80",
        "24",
        "4242",
        "bash",
        "/tmp",
        "0",
        "",
        "title",
    ]
    .join("\u{1f}");
    line.push_str("\u{1f}t-1\u{1f}");
    let output = CommandOutput {
        exit_code: 0,
        stdout: vec![line],
        stderr: Vec::new(),
    };
    let Payload::Panes(rows) = op.parse_result(&output).payload else {
        panic!("no pane rows");
    };
    assert_eq!(rows[0].user_options["terminal"], "t-1");
    assert_eq!(rows[0].user_options["role"], "");

    let bad = Operation::ListPanes(ListPanes {
        user_options: vec!["a}b".into()],
        ..ListPanes::default()
    });
    assert!(matches!(
        bad.render(V3_3A),
        Err(RenderError::Invalid {
            field: "user_options",
            ..
        })
    ));
}

#[test]
fn if_shell_branches_are_quoted_command_lines() {
    let op = Operation::IfShell(IfShell {
        condition: "#{pane_in_mode}".into(),
        format: true,
        background: false,
        target: Some(t("%3")),
        then: Box::new(
            SendKeys {
                target: t("%3"),
                input: KeyInput::Keys(vec!["-x;".into()]),
                repeat: None,
            }
            .into(),
        ),
        otherwise: None,
    });
    let argv = op.render(V3_3A).unwrap().argv;
    assert_eq!(
        argv,
        [
            "if-shell",
            "-F",
            "-t",
            "%3",
            "--",
            "#{pane_in_mode}",
            "send-keys \"-t\" \"%3\" \"--\" \"-x;\""
        ]
    );
    assert!(!op.is_blocking());
    assert!(op.queues_commands());

    let from_data = Operation::IfShell(IfShell {
        condition: "true".into(),
        format: false,
        background: false,
        target: None,
        then: Box::new(
            LoadBuffer {
                name: None,
                source: BufferSource::Data("x".into()),
                clipboard: false,
            }
            .into(),
        ),
        otherwise: None,
    });
    assert!(from_data.render(V3_3A).is_err());
    assert!(from_data.is_blocking());
}

#[test]
fn show_options_are_split_and_unquoted() {
    let op = Operation::ShowOptions(ShowOptions {
        scope: OptionScope::GlobalSession,
        name: None,
        include_inherited: false,
        quiet: false,
    });
    let output = CommandOutput::ok(vec![
        "status on".into(),
        "status-left \"[#S] \\\"x\\\" \"".into(),
    ]);
    assert_eq!(
        op.parse_result(&output).payload,
        Payload::Options(vec![
            ("status".into(), "on".into()),
            ("status-left".into(), "[#S] \"x\" ".into())
        ])
    );
}

proptest! {
    #[test]
    fn send_keys_round_trips_and_keeps_text_as_one_word(text in "\\PC{1,40}", pane in 0u32..1000) {
        let op = Operation::SendKeys(SendKeys {
            target: Target::Pane(PaneId(pane)),
            input: KeyInput::Literal(text.clone()),
            repeat: None,
        });
        let json = serde_json::to_string(&op).unwrap();
        prop_assert_eq!(serde_json::from_str::<Operation>(&json).unwrap(), op.clone());
        let argv = op.render(V3_3A).unwrap().argv;
        prop_assert_eq!(&argv[argv.len() - 2], "--");
        prop_assert_eq!(&argv[argv.len() - 1], &text);
    }

    #[test]
    fn index_targets_round_trip(session in 0u32..100, window in 0u32..100, pane in proptest::option::of(0u32..100), name in "[a-zA-Z0-9 _;-]{1,12}") {
        for target in [
            Target::Index { parent: IndexParent::Session(SessionId(session)), window: Some(window), pane },
            Target::Index { parent: IndexParent::SessionName(name.clone()), window: Some(window), pane },
            Target::Name(name.clone()),
        ] {
            let text = target.to_string();
            prop_assert_eq!(text.parse::<Target>().unwrap(), target.clone());
            let json = serde_json::to_string(&target).unwrap();
            prop_assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), target);
        }
    }
}
