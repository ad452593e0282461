//! The request log: one JSON line per request, appended when its response has been sent.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

/// One line of the request log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    /// Unix epoch milliseconds when the request arrived.
    pub started_ms: u64,
    /// Unix epoch milliseconds when the last byte of the response was handed over.
    pub finished_ms: u64,
    /// `anthropic`, `responses`, `chat`, `gemini` or `other`.
    pub api: &'static str,
    pub method: String,
    pub path: String,
    pub model: Option<String>,
    pub stream: bool,
    /// The latest user message text.
    pub input: Option<String>,
    /// The matched rule's name, or its index as a number; null for none.
    pub rule: Value,
    /// `reply`, `tool_call`, `error`, `router`, `count_tokens` or `other`.
    pub action: &'static str,
    /// The full name of the tool called.
    pub tool: Option<String>,
    pub status: u16,
    /// Why the model did not do what the rule asked (a tool that is not offered, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LogRecord {
    /// A record of a request that arrived now; the handler fills in the rest.
    pub fn started(api: &'static str, method: &str, path: &str) -> LogRecord {
        LogRecord {
            started_ms: now_ms(),
            finished_ms: 0,
            api,
            method: method.to_owned(),
            path: path.to_owned(),
            model: None,
            stream: false,
            input: None,
            rule: Value::Null,
            action: "other",
            tool: None,
            status: 200,
            note: None,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// An open request log file.
#[derive(Debug)]
pub struct RequestLog {
    file: Mutex<File>,
}

impl RequestLog {
    /// Opens `path` for appending, creating it when missing.
    pub fn open(path: &Path) -> std::io::Result<RequestLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(RequestLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line. A failed write is reported through `tracing`, not to the client
    /// whose response is already on its way.
    pub fn append(&self, record: &LogRecord) {
        let mut line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::warn!(%error, "cannot encode a request log line");
                return;
            }
        };
        line.push('\n');
        // A poisoned lock only means another writer panicked mid-line; keep logging.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // One write call per line, and `File` has no buffer of its own: each line is on disk
        // (in the page cache) when this returns.
        if let Err(error) = file.write_all(line.as_bytes()) {
            tracing::warn!(%error, "cannot write the request log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_json_line_per_record() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("requests.jsonl");
        let log = RequestLog::open(&path).unwrap();
        let mut record = LogRecord::started("chat", "POST", "/v1/chat/completions");
        record.rule = Value::from(2);
        log.append(&record);
        record.note = Some("tool not offered: x".into());
        log.append(&record);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["api"], "chat");
        assert_eq!(lines[0]["rule"], 2);
        assert!(lines[0].get("note").is_none());
        assert_eq!(lines[1]["note"], "tool not offered: x");
    }
}
