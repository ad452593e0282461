//! cao's MCP tool sets: what agents can ask cao to do over the Model Context Protocol.
//!
//! - [`OpsServer`] (`ops.rs`): the operations server for agents outside cao, CAO's
//!   `cao-ops-mcp`: launch sessions, read their status and output, message them, shut them
//!   down, list profiles.
//! - [`AgentServer`] (`agent.rs`): the orchestration server every agent cao starts gets, CAO's
//!   `cao-mcp-server`. Its caller is a terminal, named per request by a [`CallerTerminal`]
//!   (the transport puts it there; over HTTP it is the `{terminal_id}` path segment).
//!
//! Tool names, parameter names and defaults are CAO's. A tool answers with one text item
//! holding the JSON CAO's tool returns, and the same value as structured content (a list, as
//! `find_profiles` returns, wrapped as `{"result": [...]}` the way FastMCP does); a tool that
//! fails answers `isError: true` with one line naming the cause and the fix, never a protocol
//! error.
//!
//! What it is not: a transport, or any orchestration. `cao-server` serves these handlers over
//! streamable HTTP (`/mcp/ops`, `/mcp/agents/{terminal_id}`) and `cao mcp-server` is a stdio
//! proxy to that; every tool turns its call into [`Orchestrator`] calls and shapes the result.
//!
//! [`Orchestrator`]: cao_orchestrator::service::Orchestrator

mod agent;
mod ops;

pub use agent::AgentServer;
pub use ops::OpsServer;

use cao_orchestrator::service::OrchestratorError;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};
use rmcp::model::{CallToolResult, ContentBlock, IntoContents};
use serde::Serialize;
use serde_json::Value;

/// The terminal an orchestration-server request comes from. The transport inserts it into the
/// HTTP request's extensions (or straight into the MCP request's extensions); a request without
/// one has no caller, and every agent tool refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerTerminal(pub String);

/// The caller as a tool sees it: the [`CallerTerminal`] of the request, if any.
#[derive(Debug, Clone)]
pub(crate) struct Caller(Option<String>);

impl<C: AsRequestContext> FromContextPart<C> for Caller {
    fn from_context_part(context: &mut C) -> Result<Self, rmcp::ErrorData> {
        let extensions = &context.as_request_context().extensions;
        let direct = extensions.get::<CallerTerminal>();
        let over_http = extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<CallerTerminal>());
        Ok(Caller(direct.or(over_http).map(|caller| caller.0.clone())))
    }
}

/// A tool that failed: one line naming the cause and the fix. Becomes a tool result with
/// `isError: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure(pub(crate) String);

impl IntoContents for Failure {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0)]
    }
}

impl From<OrchestratorError> for Failure {
    fn from(error: OrchestratorError) -> Failure {
        Failure(error.to_string())
    }
}

/// What every tool returns.
pub(crate) type ToolReply = Result<CallToolResult, Failure>;

/// A successful answer: the JSON as text, and as structured content. Structured content must
/// be an object, so a list (CAO's `find_profiles`) is given there as `{"result": [...]}`, as
/// FastMCP does.
pub(crate) fn reply(value: impl Serialize) -> ToolReply {
    let value = serde_json::to_value(value)
        .map_err(|error| Failure(format!("cao could not encode the result: {error}")))?;
    let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    result.structured_content = Some(match value {
        Value::Object(_) => value,
        other => serde_json::json!({ "result": other }),
    });
    Ok(result)
}

/// Rewrites an orchestrator "not found" about `terminal_id` into a message whose fix is a tool
/// the caller has (`hint`); other errors keep their own one-line message.
pub(crate) fn terminal_error(error: OrchestratorError, terminal_id: &str, hint: &str) -> Failure {
    match error {
        OrchestratorError::NotFound(_) => Failure(format!(
            "terminal {} not found: {hint}",
            terminal_id.escape_debug()
        )),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_structured_as_they_are_and_lists_are_wrapped() {
        let object = reply(serde_json::json!({"success": true})).unwrap();
        assert_eq!(
            object.structured_content,
            Some(serde_json::json!({"success": true}))
        );
        assert_eq!(object.is_error, Some(false));
        let list = reply(serde_json::json!([1, 2])).unwrap();
        assert_eq!(
            list.structured_content,
            Some(serde_json::json!({"result": [1, 2]}))
        );
        let text = list.content[0].as_text().map(|text| text.text.as_str());
        assert_eq!(text, Some("[1,2]"));
    }

    #[test]
    fn a_missing_terminal_names_the_tool_that_lists_them() {
        let failure = terminal_error(
            OrchestratorError::NotFound("terminal 'x' does not exist".into()),
            "1a2b3c4d",
            "list terminals with list_siblings",
        );
        assert_eq!(
            failure.0,
            "terminal 1a2b3c4d not found: list terminals with list_siblings"
        );
        let other = terminal_error(OrchestratorError::Conflict("busy".into()), "x", "hint");
        assert_eq!(other.0, "busy");
    }
}
