//! Store tests against real SQLite files in temp dirs.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::TerminalStatus;

fn terminal(id: &str, session: &str) -> NewTerminal {
    NewTerminal {
        id: id.to_string(),
        session_name: session.to_string(),
        window_name: format!("developer-{}", &id[..4]),
        pane_ref: None,
        provider: "claude_code".to_string(),
        agent_profile: "developer".to_string(),
        working_directory: Some("/tmp".to_string()),
        creator_id: None,
        allowed_tools: Some(vec!["fs_read".to_string(), "@cao-mcp-server".to_string()]),
    }
}

fn file_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("db").join("cao.sqlite3");
    let store = Store::open(&path).unwrap();
    (temp, path, store)
}

#[test]
fn formats_rfc3339_utc_millis() {
    assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    let time = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
    assert_eq!(format_rfc3339(time), "2024-02-29T12:34:56.789Z");
    let time = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
    assert_eq!(format_rfc3339(time), "2099-12-31T23:59:59.000Z");
}

#[test]
fn open_creates_parent_dirs_and_turns_on_wal() {
    let (_temp, path, store) = file_store();
    assert!(path.is_file());
    assert_eq!(store.journal_mode().unwrap(), "wal");
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let foreign_keys: bool = store
        .lock()
        .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
        .unwrap();
    assert!(foreign_keys);
    drop(store);
    // Reopening an up-to-date file changes nothing.
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        SCHEMA_VERSION
    );
}

#[test]
fn migrates_a_version_1_database() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("old.sqlite3");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch(MIGRATIONS[0]).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute(
                "INSERT INTO terminals (id, session_name, window_name, provider, agent_profile, \
                 status, created_at, updated_at) VALUES ('0badcafe', 'cao-old', 'w', 'codex', \
                 'developer', 'idle', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')",
                [],
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let old = store.get_terminal("0badcafe").unwrap().unwrap();
    assert_eq!(old.status, TerminalStatus::Idle);
    assert_eq!(old.allowed_tools, None);
    // Tables from version 2 exist now.
    store
        .append_event(None, "migrated", &serde_json::json!({}))
        .unwrap();
    assert!(store.list_flows().unwrap().is_empty());
}

#[test]
fn refuses_a_newer_schema() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("new.sqlite3");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
    }
    assert_eq!(
        Store::open(&path).unwrap_err().to_string(),
        format!(
            "the database schema is version 99, newer than this cao knows ({SCHEMA_VERSION}); \
             upgrade cao or point CAO_HOME_DIR elsewhere"
        )
    );
}

#[test]
fn terminals_insert_get_list_update() {
    let store = Store::open_in_memory().unwrap();
    let first = store
        .insert_terminal(&terminal("aaaaaaa1", "cao-a"))
        .unwrap();
    assert_eq!(first.status, TerminalStatus::Unknown);
    assert_eq!(first.created_at, first.updated_at);
    assert_eq!(
        first.allowed_tools,
        Some(vec!["fs_read".to_string(), "@cao-mcp-server".to_string()])
    );
    let mut worker = terminal("aaaaaaa2", "cao-a");
    worker.creator_id = Some("aaaaaaa1".to_string());
    store.insert_terminal(&worker).unwrap();
    store
        .insert_terminal(&terminal("bbbbbbb1", "cao-b"))
        .unwrap();

    store
        .update_terminal_status("aaaaaaa2", TerminalStatus::Processing)
        .unwrap();
    store.set_terminal_pane("aaaaaaa2", "%7").unwrap();
    let row = store.get_terminal("aaaaaaa2").unwrap().unwrap();
    assert_eq!(row.status, TerminalStatus::Processing);
    assert_eq!(row.pane_ref.as_deref(), Some("%7"));
    assert_eq!(row.creator_id.as_deref(), Some("aaaaaaa1"));

    let ids: Vec<String> = store
        .list_terminals_by_session("cao-a")
        .unwrap()
        .into_iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(ids, ["aaaaaaa1", "aaaaaaa2"]);
    assert_eq!(store.list_terminals().unwrap().len(), 3);

    let sessions = store.sessions().unwrap();
    let counts: Vec<(&str, u32)> = sessions
        .iter()
        .map(|session| (session.session_name.as_str(), session.terminal_count))
        .collect();
    assert_eq!(counts, [("cao-a", 2), ("cao-b", 1)]);

    store.mark_terminal_exited("bbbbbbb1", "deleted").unwrap();
    let gone = store.get_terminal("bbbbbbb1").unwrap().unwrap();
    assert_eq!(gone.exit_reason.as_deref(), Some("deleted"));
    assert!(gone.exited_at.is_some());
    assert_eq!(store.sessions().unwrap().len(), 1);
    assert_eq!(store.list_terminals().unwrap().len(), 2);

    assert!(matches!(
        store.update_terminal_status("ffffffff", TerminalStatus::Idle),
        Err(StoreError::NotFound {
            what: "terminal",
            ..
        })
    ));
    assert_eq!(store.get_terminal("ffffffff").unwrap(), None);
}

#[test]
fn terminal_constraints() {
    let store = Store::open_in_memory().unwrap();
    store
        .insert_terminal(&terminal("aaaaaaa1", "cao-a"))
        .unwrap();
    assert!(matches!(
        store.insert_terminal(&terminal("aaaaaaa1", "cao-a")),
        Err(StoreError::Constraint(_))
    ));
    for bad_id in ["AAAAAAA1", "short", "aaaaaaa1x", "ggggggg1"] {
        assert!(
            matches!(
                store.insert_terminal(&terminal(&format!("{bad_id:<8}"), "cao-a")),
                Err(StoreError::Constraint(_))
            ),
            "{bad_id}"
        );
    }
    let mut orphan = terminal("aaaaaaa2", "cao-a");
    orphan.creator_id = Some("ffffffff".to_string());
    assert!(matches!(
        store.insert_terminal(&orphan),
        Err(StoreError::Constraint(_))
    ));
}

#[test]
fn deleting_a_terminal_cascades_to_its_inbox_and_clears_creator() {
    let store = Store::open_in_memory().unwrap();
    store
        .insert_terminal(&terminal("aaaaaaa1", "cao-a"))
        .unwrap();
    let mut worker = terminal("aaaaaaa2", "cao-a");
    worker.creator_id = Some("aaaaaaa1".to_string());
    store.insert_terminal(&worker).unwrap();
    let message = store
        .enqueue_message(Some("aaaaaaa2"), "aaaaaaa1", "done")
        .unwrap();
    store.delete_terminal("aaaaaaa1").unwrap();
    assert_eq!(store.get_message(message.id).unwrap(), None);
    assert_eq!(
        store.get_terminal("aaaaaaa2").unwrap().unwrap().creator_id,
        None
    );
    assert!(matches!(
        store.delete_terminal("aaaaaaa1"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn inbox_is_ordered_per_receiver() {
    let store = Store::open_in_memory().unwrap();
    for id in ["aaaaaaa1", "bbbbbbb1"] {
        store.insert_terminal(&terminal(id, "cao-a")).unwrap();
    }
    let a1 = store.enqueue_message(None, "aaaaaaa1", "a-one").unwrap();
    let b1 = store
        .enqueue_message(Some("aaaaaaa1"), "bbbbbbb1", "b-one")
        .unwrap();
    let a2 = store.enqueue_message(None, "aaaaaaa1", "a-two").unwrap();
    assert_eq!(a1.status, InboxStatus::Pending);
    assert_eq!(a1.attempts, 0);
    assert_eq!(store.pending_receivers().unwrap(), ["aaaaaaa1", "bbbbbbb1"]);

    assert_eq!(
        store.next_pending_message("aaaaaaa1").unwrap().unwrap().id,
        a1.id
    );
    store.mark_message_delivering(a1.id).unwrap();
    // A claimed message cannot be claimed again.
    assert!(matches!(
        store.mark_message_delivering(a1.id),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store.next_pending_message("aaaaaaa1").unwrap().unwrap().id,
        a2.id
    );
    store.mark_message_delivered(a1.id).unwrap();
    let delivered = store.get_message(a1.id).unwrap().unwrap();
    assert_eq!(delivered.status, InboxStatus::Delivered);
    assert_eq!(delivered.attempts, 1);
    assert!(delivered.delivered_at.is_some());

    store.mark_message_delivering(b1.id).unwrap();
    store.mark_message_failed(b1.id, "pane gone").unwrap();
    let failed = store.get_message(b1.id).unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.last_error.as_deref()),
        (InboxStatus::Failed, Some("pane gone"))
    );
    assert_eq!(store.pending_receivers().unwrap(), ["aaaaaaa1"]);

    let all: Vec<i64> = store
        .list_messages("aaaaaaa1", None, 10)
        .unwrap()
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert_eq!(all, [a1.id, a2.id]);
    let pending = store
        .list_messages("aaaaaaa1", Some(InboxStatus::Pending), 10)
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].body, "a-two");
    assert_eq!(store.list_messages("aaaaaaa1", None, 1).unwrap().len(), 1);

    assert!(matches!(
        store.enqueue_message(None, "ffffffff", "lost"),
        Err(StoreError::NotFound {
            what: "terminal",
            ..
        })
    ));
}

#[test]
fn interrupted_deliveries_survive_a_reopen_and_can_be_settled() {
    let (_temp, path, store) = file_store();
    store
        .insert_terminal(&terminal("aaaaaaa1", "cao-a"))
        .unwrap();
    let first = store.enqueue_message(None, "aaaaaaa1", "hi").unwrap();
    let second = store.enqueue_message(None, "aaaaaaa1", "again").unwrap();
    let third = store.enqueue_message(None, "aaaaaaa1", "later").unwrap();
    store.mark_message_delivering(first.id).unwrap();
    store.mark_message_delivering(second.id).unwrap();
    drop(store);
    let reopened = Store::open(&path).unwrap();
    let interrupted: Vec<i64> = reopened
        .interrupted_deliveries()
        .unwrap()
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert_eq!(interrupted, [first.id, second.id]);
    reopened.release_message(first.id, "not pasted").unwrap();
    let released = reopened.get_message(first.id).unwrap().unwrap();
    assert_eq!(released.status, InboxStatus::Pending);
    assert_eq!(released.last_error.as_deref(), Some("not pasted"));
    assert!(reopened.release_message(first.id, "twice").is_err());
    reopened
        .mark_message_uncertain(second.id, "pane unreadable")
        .unwrap();
    assert_eq!(
        reopened.get_message(second.id).unwrap().unwrap().status,
        InboxStatus::Uncertain
    );
    assert_eq!(
        reopened
            .fail_undelivered_messages("aaaaaaa1", "receiver deleted")
            .unwrap(),
        2
    );
    for id in [first.id, third.id] {
        let row = reopened.get_message(id).unwrap().unwrap();
        assert_eq!(row.status, InboxStatus::Failed);
        assert_eq!(row.last_error.as_deref(), Some("receiver deleted"));
    }
    assert!(reopened.interrupted_deliveries().unwrap().is_empty());
}

#[test]
fn handoff_jobs_lifecycle() {
    let store = Store::open_in_memory().unwrap();
    let job = store
        .insert_handoff(&NewHandoffJob {
            job_id: "job-1".to_string(),
            caller_id: Some("aaaaaaa1".to_string()),
            agent_profile: "developer".to_string(),
            message: "fix it".to_string(),
        })
        .unwrap();
    assert_eq!(job.status, HandoffStatus::Pending);
    assert_eq!(job.worker_id, None);
    store.set_handoff_worker("job-1", "bbbbbbb1").unwrap();
    assert_eq!(
        store.get_handoff("job-1").unwrap().unwrap().status,
        HandoffStatus::Running
    );
    store
        .update_handoff("job-1", HandoffStatus::Completed, Some("fixed"), None)
        .unwrap();
    let done = store.get_handoff("job-1").unwrap().unwrap();
    assert_eq!(done.status, HandoffStatus::Completed);
    assert_eq!(done.result.as_deref(), Some("fixed"));
    assert_eq!(done.worker_id.as_deref(), Some("bbbbbbb1"));
    assert!(done.finished_at.is_some());
    assert_eq!(store.get_handoff("nope").unwrap(), None);
    assert!(matches!(
        store.update_handoff("nope", HandoffStatus::Failed, None, Some("x")),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        serde_json::to_value(HandoffStatus::TimedOut).unwrap(),
        serde_json::json!("timed_out")
    );
}

#[test]
fn flows_crud() {
    let store = Store::open_in_memory().unwrap();
    let flow = FlowRow {
        name: "nightly".to_string(),
        schedule: "0 2 * * *".to_string(),
        agent_profile: "developer".to_string(),
        provider: None,
        script: Some("./gate.sh".to_string()),
        prompt: "Check [[repo]]".to_string(),
        enabled: true,
        last_run_at: None,
        next_run_at: Some("2025-01-02T02:00:00.000Z".to_string()),
    };
    store.insert_flow(&flow).unwrap();
    assert!(matches!(
        store.insert_flow(&flow),
        Err(StoreError::Constraint(_))
    ));
    assert_eq!(store.get_flow("nightly").unwrap().as_ref(), Some(&flow));
    store.update_flow_enabled("nightly", false).unwrap();
    store
        .update_flow_runs("nightly", Some("2025-01-02T02:00:00.000Z"), None)
        .unwrap();
    let updated = store.get_flow("nightly").unwrap().unwrap();
    assert!(!updated.enabled);
    assert_eq!(
        updated.last_run_at.as_deref(),
        Some("2025-01-02T02:00:00.000Z")
    );
    assert_eq!(store.list_flows().unwrap().len(), 1);
    store.delete_flow("nightly").unwrap();
    assert!(matches!(
        store.delete_flow("nightly"),
        Err(StoreError::NotFound { what: "flow", .. })
    ));
}

#[test]
fn events_append_and_replay() {
    let store = Store::open_in_memory().unwrap();
    let first = store
        .append_event(
            Some("aaaaaaa1"),
            "terminal.status",
            &serde_json::json!({"status": "idle"}),
        )
        .unwrap();
    let second = store
        .append_event(None, "server.started", &serde_json::json!({}))
        .unwrap();
    assert!(second > first);
    let events = store.list_events_since(0, 10).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].data, serde_json::json!({"status": "idle"}));
    assert_eq!(events[0].terminal_id.as_deref(), Some("aaaaaaa1"));
    assert!(events[0].at.ends_with('Z'));
    let after = store.list_events_since(first, 10).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].kind, "server.started");
    assert_eq!(store.list_events_since(0, 1).unwrap().len(), 1);
}

#[test]
fn concurrent_writers_on_one_file() {
    let (_temp, path, store) = file_store();
    store
        .insert_terminal(&terminal("aaaaaaa1", "cao-a"))
        .unwrap();
    drop(store);
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each thread has its own Store, as two processes would.
                let store = Store::open(&path).unwrap();
                for index in 0..100 {
                    store
                        .enqueue_message(None, "aaaaaaa1", &format!("{writer}-{index}"))
                        .unwrap();
                    store
                        .append_event(None, "test", &serde_json::json!({"writer": writer}))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let messages = store.list_messages("aaaaaaa1", None, 1000).unwrap();
    assert_eq!(messages.len(), 200);
    // Each writer's messages keep their order.
    for writer in 0..2 {
        let bodies: Vec<String> = messages
            .iter()
            .filter(|message| message.body.starts_with(&format!("{writer}-")))
            .map(|message| message.body.clone())
            .collect();
        let expected: Vec<String> = (0..100).map(|index| format!("{writer}-{index}")).collect();
        assert_eq!(bodies, expected);
    }
    assert_eq!(store.list_events_since(0, 1000).unwrap().len(), 200);
}

#[test]
fn one_store_shared_across_threads() {
    let store = Arc::new(Store::open_in_memory().unwrap());
    store
        .insert_terminal(&terminal("aaaaaaa1", "cao-a"))
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..25 {
                    store.enqueue_message(None, "aaaaaaa1", "x").unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(
        store.list_messages("aaaaaaa1", None, 1000).unwrap().len(),
        100
    );
}
