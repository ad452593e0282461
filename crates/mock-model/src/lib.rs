//! `cao mock-model`: a scripted model API server on 127.0.0.1 that real agent CLIs talk to
//! instead of a vendor, so cao's conformance tests run them end to end offline.
//!
//! It speaks the four APIs those CLIs use, streamed and not: Anthropic Messages (Claude Code),
//! OpenAI Responses (Codex), OpenAI Chat Completions (opencode, Qwen Code, aider) and Gemini
//! (Gemini CLI). What it answers comes from a TOML [`Script`]: rules matched on the latest
//! user message reply with templated text, call tools (one per model turn, by a substring of
//! the tool's name, so one rule works for every CLI's naming), stream slowly, delay the first
//! byte, or fail with an HTTP error in the API's own shape. It is not a model: it never
//! looks at anything but the latest user message, the tool calls and results since, and the
//! tools on offer, and it keeps no state between requests.
//!
//! The cores are sans-I/O: [`wire`] reads each API's request into a
//! [`Conversation`](conversation::Conversation) and encodes a [`Turn`](wire::Turn);
//! [`decide`](decide::decide) picks the answer; [`serve`] is the thin axum shell that adds the
//! delays and writes the request log (one JSON line per request, see
//! [`request_log::LogRecord`]).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let script = cao_mock_model::Script::from_toml_str(r#"
//!     [[rules]]
//!     match = "hello"
//!     reply = "Hi! You said: {input}"
//! "#).expect("a valid script");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("listening on http://{}", listener.local_addr()?);
//! cao_mock_model::serve(listener, script, None).await
//! # }
//! ```

pub mod conversation;
pub mod decide;
pub mod request_log;
pub mod schema_example;
pub mod script;
mod server;
pub mod template;
pub mod wire;

pub use script::{Script, ScriptError};
pub use server::serve;
