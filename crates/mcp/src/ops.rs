//! The operations server (CAO's `cao-ops-mcp`): for an agent outside cao that launches cao
//! sessions, watches them, sends them work, reads what they wrote and shuts them down.
//!
//! One tool per method below; each returns CAO's JSON shape for that tool. A new tool is one
//! more method with `#[tool]` (its doc comment is its description) and, when it takes
//! arguments, one parameter struct whose field docs are the parameter descriptions.

use std::collections::BTreeMap;
use std::sync::Arc;

use cao_orchestrator::service::{
    CreateTerminal, Orchestrator, OrchestratorError, OutputMode, Terminal,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_handler, tool_router, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::{reply, terminal_error, Failure, ToolReply};

const FIND_TERMINALS: &str = "list terminals with get_session_info or list_sessions";

/// The operations MCP server over one orchestrator. Cheap to clone (one per request).
#[derive(Clone)]
pub struct OpsServer {
    orchestrator: Orchestrator,
    tools: Arc<ToolRouter<OpsServer>>,
}

impl OpsServer {
    pub fn new(orchestrator: Orchestrator) -> OpsServer {
        OpsServer {
            orchestrator,
            tools: Arc::new(Self::tool_router()),
        }
    }

    fn terminal(&self, terminal_id: &str) -> Result<Terminal, Failure> {
        self.orchestrator
            .get_terminal(terminal_id)
            .map_err(|error| terminal_error(error, terminal_id, FIND_TERMINALS))
    }
}

fn session_error(error: OrchestratorError, session_name: &str) -> Failure {
    match error {
        OrchestratorError::NotFound(_) => Failure(format!(
            "session '{}' not found: list sessions with list_sessions",
            cao_orchestrator::service::session_name(session_name).escape_debug()
        )),
        other => other.into(),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct LaunchSessionParams {
    /// The agent profile to launch (see list_profiles).
    agent_profile: String,
    /// The agent CLI to run it with (default: the profile's provider, else the server's).
    provider: Option<String>,
    /// The session name; `cao-` is prepended when missing (default: generated).
    session_name: Option<String>,
    /// Where the agent starts (default: the server's working directory).
    working_directory: Option<String>,
    /// Tools the agent may use, overriding the profile's allowedTools.
    allowed_tools: Option<Vec<String>>,
    /// A model override for this launch.
    model: Option<String>,
    /// A first task, delivered once the agent is ready (the call does not wait for it).
    initial_message: Option<String>,
    /// Environment variables for the agent.
    env_vars: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct TerminalParams {
    /// The terminal's id (from launch_session or get_session_info).
    terminal_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SessionParams {
    /// The session's name (with or without the `cao-` prefix).
    session_name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SendSessionMessageParams {
    /// The terminal to deliver the message to.
    terminal_id: String,
    /// The message text.
    message: String,
}

fn full() -> String {
    "full".into()
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ReadSessionOutputParams {
    /// The terminal to read; either terminal_id or session_name is required.
    terminal_id: Option<String>,
    /// A session with exactly one terminal, instead of terminal_id.
    session_name: Option<String>,
    /// 'full' (default): the scrollback as it is; 'last': the agent's last reply only.
    #[serde(default = "full")]
    #[schemars(default = "full")]
    mode: String,
    /// Return only the last max_chars characters (values <= 0: no cap).
    max_chars: Option<i64>,
}

#[tool_router]
impl OpsServer {
    /// Create a cao session whose first terminal runs the agent profile. Returns at once with
    /// session_name and terminal_id; with initial_message the task is delivered once the agent
    /// is ready (watch get_terminal_status).
    #[tool]
    async fn launch_session(
        &self,
        Parameters(params): Parameters<LaunchSessionParams>,
    ) -> ToolReply {
        let delivering = params.initial_message.is_some();
        let terminal = self
            .orchestrator
            .create_session(CreateTerminal {
                agent_profile: params.agent_profile,
                provider: params.provider,
                session_name: params.session_name,
                working_directory: params.working_directory,
                env_vars: params.env_vars.unwrap_or_default(),
                model: params.model,
                allowed_tools: params.allowed_tools,
                caller_id: None,
                initial_message: params.initial_message,
            })
            .await?;
        let message = if delivering {
            format!(
                "Session '{}' launched; initial message delivery is in progress",
                terminal.session_name
            )
        } else {
            format!("Session '{}' launched successfully", terminal.session_name)
        };
        reply(json!({
            "success": true,
            "message": message,
            "session_name": terminal.session_name,
            "terminal_id": terminal.id,
            "provider": terminal.provider,
        }))
    }

    /// List the cao sessions with their terminal counts.
    #[tool]
    async fn list_sessions(&self) -> ToolReply {
        reply(json!({ "success": true, "sessions": self.orchestrator.list_sessions()? }))
    }

    /// One session and its terminals (oldest, the conductor, first), each with its status,
    /// provider, profile and last activity.
    #[tool]
    async fn get_session_info(&self, Parameters(params): Parameters<SessionParams>) -> ToolReply {
        let detail = self
            .orchestrator
            .get_session(&params.session_name)
            .map_err(|error| session_error(error, &params.session_name))?;
        reply(detail)
    }

    /// Queue a message for a terminal through its inbox: it is delivered as the terminal's
    /// next task as soon as the terminal is idle or completed (at once if it already is).
    #[tool]
    async fn send_session_message(
        &self,
        Parameters(params): Parameters<SendSessionMessageParams>,
    ) -> ToolReply {
        let terminal = self.terminal(&params.terminal_id)?;
        self.orchestrator
            .send_message(None, Some(&terminal.id), &params.message)?;
        reply(json!({
            "success": true,
            "message": format!("Message queued for terminal '{}'", terminal.id),
            "terminal_id": terminal.id,
        }))
    }

    /// Read a terminal's output: the whole scrollback (mode 'full', the default) or the
    /// agent's last reply (mode 'last'), optionally only the last max_chars characters.
    #[tool]
    async fn read_session_output(
        &self,
        Parameters(params): Parameters<ReadSessionOutputParams>,
    ) -> ToolReply {
        let mode = match params.mode.to_ascii_lowercase().as_str() {
            "full" => OutputMode::Full,
            "last" => OutputMode::Last,
            other => {
                return Err(Failure(format!(
                    "invalid mode '{}': use 'full' or 'last'",
                    other.escape_debug()
                )))
            }
        };
        let terminal_id = match (params.terminal_id, params.session_name) {
            (Some(terminal_id), _) => terminal_id,
            (None, Some(session_name)) => {
                let detail = self
                    .orchestrator
                    .get_session(&session_name)
                    .map_err(|error| session_error(error, &session_name))?;
                match detail.terminals.as_slice() {
                    [only] => only.id.clone(),
                    terminals => {
                        let ids: Vec<&str> = terminals.iter().map(|t| t.id.as_str()).collect();
                        return Err(Failure(format!(
                            "session '{}' has {} terminals ({}): give terminal_id",
                            detail.session.name,
                            ids.len(),
                            ids.join(", ")
                        )));
                    }
                }
            }
            (None, None) => return Err(Failure(
                "no terminal given: pass terminal_id, or session_name of a one-terminal session"
                    .into(),
            )),
        };
        let terminal = self.terminal(&terminal_id)?;
        let output = self.orchestrator.output(&terminal.id, mode).await?;
        let total_chars = output.chars().count();
        let cap = params
            .max_chars
            .filter(|cap| *cap > 0)
            .map(|cap| usize::try_from(cap).unwrap_or(usize::MAX));
        let (output, truncated) = match cap {
            Some(cap) if total_chars > cap => {
                let start = output
                    .char_indices()
                    .nth(total_chars - cap)
                    .map_or(0, |(index, _)| index);
                (output[start..].to_string(), true)
            }
            _ => (output, false),
        };
        reply(json!({
            "success": true,
            "terminal_id": terminal.id,
            "mode": mode.as_str(),
            "output": output,
            "truncated": truncated,
            "total_chars": total_chars,
        }))
    }

    /// A terminal's live status (unknown, idle, processing, completed, waiting_user_answer,
    /// error) and metadata: poll it to know when a task is done.
    #[tool]
    async fn get_terminal_status(
        &self,
        Parameters(params): Parameters<TerminalParams>,
    ) -> ToolReply {
        reply(self.terminal(&params.terminal_id)?)
    }

    /// Shut a session down: every agent is stopped (its scrollback saved) and the session
    /// removed.
    #[tool]
    async fn shutdown_session(&self, Parameters(params): Parameters<SessionParams>) -> ToolReply {
        let name = cao_orchestrator::service::session_name(&params.session_name);
        let terminal_ids = self
            .orchestrator
            .delete_session(&name)
            .await
            .map_err(|error| session_error(error, &name))?;
        reply(json!({
            "success": true,
            "deleted": [name],
            "errors": [],
            "terminal_ids": terminal_ids,
        }))
    }

    /// The agent profiles cao can launch, with description and source.
    #[tool]
    async fn list_profiles(&self) -> ToolReply {
        reply(json!({ "success": true, "profiles": self.orchestrator.profiles().list() }))
    }
}

#[tool_handler(
    router = self.tools,
    name = "cao-ops-mcp",
    instructions = "Manage cao (CLI Agent Orchestrator) sessions from outside them. Typical \
        flow: list_profiles; launch_session (optionally with initial_message); \
        get_terminal_status until 'completed'; read_session_output (mode 'last' for the \
        reply); send_session_message for the next task; get_session_info or list_sessions \
        to watch; shutdown_session when done."
)]
impl ServerHandler for OpsServer {}

#[cfg(test)]
mod tests {
    use super::*;

    /// CAO's tool names and parameter names, which external agents are written against.
    #[test]
    fn tools_keep_caos_names_and_parameters() {
        let tools = OpsServer::tool_router().list_all();
        let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "get_session_info",
                "get_terminal_status",
                "launch_session",
                "list_profiles",
                "list_sessions",
                "read_session_output",
                "send_session_message",
                "shutdown_session",
            ]
        );
        let schema = |name: &str| {
            let tool = tools.iter().find(|tool| tool.name == name).unwrap();
            assert!(tool
                .description
                .as_ref()
                .is_some_and(|text| !text.is_empty()));
            serde_json::Value::Object((*tool.input_schema).clone())
        };
        let launch = schema("launch_session");
        let mut properties: Vec<&String> =
            launch["properties"].as_object().unwrap().keys().collect();
        properties.sort();
        assert_eq!(
            properties,
            [
                "agent_profile",
                "allowed_tools",
                "env_vars",
                "initial_message",
                "model",
                "provider",
                "session_name",
                "working_directory"
            ]
        );
        assert_eq!(launch["required"], json!(["agent_profile"]));
        let read = schema("read_session_output");
        assert_eq!(read["properties"]["mode"]["default"], "full");
        assert!(read
            .get("required")
            .is_none_or(|required| required == &json!([])));
        assert_eq!(
            schema("send_session_message")["required"],
            json!(["terminal_id", "message"])
        );
    }
}
