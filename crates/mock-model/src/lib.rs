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
//! Side requests are part of the job: a request that demands JSON matching a schema and
//! offers no tools (Gemini CLI's router and next-speaker checks, Claude Code's session title)
//! gets an example of the schema ([`schema_example`]) whatever the rules say, and a rule that
//! wants a tool the request does not offer just replies, so title and memory requests get text.
//!
//! # Verified against the real CLIs
//!
//! Each in its non-interactive mode, in a throwaway `HOME`, inside `unshare -n` with only `lo`
//! up, set up as in `reference/agent-clis.md`; each printed the exact multi-line Unicode reply,
//! called a stdio MCP server's `send_message` when a rule asked (aider has no tools), streamed a
//! slow rule, and printed an error rule's message and exited non-zero (aider: exit 0).
//!
//! - **Claude Code 2.1.197** (`claude -p`): `HEAD /`, then `POST /v1/messages?beta=true`,
//!   streamed. The prompt shares its user message with a `<system-reminder>` text block, and
//!   reminders also ride along with tool results; they are not user text. In the TUI a
//!   session-title side request comes first: no tools, `output_config.format` a `json_schema`
//!   of `{"title"}`. MCP tools are `mcp__<srv>__<tool>` (`--mcp-config`, `--allowedTools`);
//!   the built-in `SendMessage` does not match `send_message` (matching is case-sensitive).
//!   Error: `API Error: 400 mock model refuses`, exit 1.
//! - **Codex 0.169** (`codex exec --skip-git-repo-check … </dev/null`; without the redirect it
//!   waits for stdin): `POST /v1/responses`, streamed. The call that works is a
//!   `function_call` with `namespace: "mcp__<srv>"` and the bare tool name; the result is a
//!   `function_call_output` whose `output` is a list of `input_text` parts (`Wall time: …
//!   Output:`, then the tool's text). In `exec`, MCP calls need
//!   `--dangerously-bypass-approvals-and-sandbox` ("approval policy is never" otherwise).
//!   `exec` starts no daemon. Without `[otel] metrics_exporter = "none"` in `config.toml` it
//!   spends ~5 s at exit trying to send metrics to ab.chatgpt.com. Error: the JSON error body,
//!   exit 1.
//! - **Gemini CLI 0.61** (`gemini -p`): each turn starts with a router
//!   `generateContent` on `gemini-3.5-flash-lite`, now a numerical classifier
//!   (`responseJsonSchema` `{complexity_reasoning: STRING, complexity_score: INTEGER}`, the
//!   score checked to be 1–100 after parsing, hence numbers default to 1), then
//!   `streamGenerateContent?alt=sse` on the model it picked. The prompt shares its user
//!   content with a `<session_context>` part. MCP tools are `mcp_<srv>_<tool>`
//!   (`--approval-mode yolo`); results come back wrapped in `<untrusted_context>`. Error: a
//!   stack trace holding the JSON error, exit 1.
//! - **Qwen Code 0.15.10** (`qwen -p`): `POST /v1/chat/completions`, streamed, with a usage
//!   chunk. MCP tools are deferred: the system prompt lists them under "Deferred Tools" as
//!   `- "mcp__cao__send_message": "…"`, and `tool_search` (`{"query": "select:<name>"}` or
//!   keywords, optional `max_results`) reveals one for the next request. Qwen has a
//!   `send_message` tool of its own, so a deferred tool naming `cao` beats an offered
//!   namesake. After some turns it sends a "managed memory extraction" side request (it gets
//!   the default reply). Error: `[API Error: 400 mock model refuses]`, exit 1.
//! - **opencode 1.18.33** (`opencode run -m <provider>/<model> WORDS…`, config in
//!   `OPENCODE_CONFIG`): `POST /v1/chat/completions`, streamed. `@ai-sdk/openai-compatible` is
//!   bundled in its binary: nothing is fetched. A title side request (system prompt "You are a
//!   title generator", no tools) comes with each first turn. MCP tools are `<srv>_<tool>`, no
//!   approval asked. `run` wraps a single argument with spaces in double quotes, so pass the
//!   words separately. Error: `Error: mock model refuses`, exit 1.
//! - **aider 0.86.2** (`aider --message …`): `POST /v1/chat/completions`, streamed, no tools.
//!   It appends its edit-format reminder, copied from its system prompt, to the user's
//!   message (cut off again), and at start tries to fetch litellm's price list from
//!   raw.githubusercontent.com (fails at once offline). Error:
//!   `litellm.BadRequestError: OpenAIException - mock model refuses`, exit 0.
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
