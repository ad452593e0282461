//! The route table: every route once, with what the router and the OpenAPI document need.
//! Adding a route is adding one entry here (and its handler).

use axum::routing::{on, MethodFilter, MethodRouter};

use crate::handlers;
use crate::mcp;
use crate::state::AppState;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Delete,
}

impl Verb {
    pub(crate) fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Delete => MethodFilter::DELETE,
        }
    }

    /// The lower-case name OpenAPI uses as a key.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Delete => "delete",
        }
    }
}

/// Where a parameter may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A `{name}` segment of the path.
    Path,
    /// The query string (as CAO sends it) or the JSON body; the body wins.
    QueryOrBody,
    /// Only the JSON body (maps, and text that should stay out of URLs and access logs).
    Body,
}

/// The JSON type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Text,
    /// A JSON array of strings, or `a,b` in one query value.
    TextList,
    /// A JSON object of string values.
    TextMap,
}

/// One parameter of a route.
#[derive(Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub place: Place,
    pub required: bool,
    pub shape: Shape,
    pub about: &'static str,
}

/// One route.
pub(crate) struct Route {
    pub verb: Verb,
    pub path: &'static str,
    pub summary: &'static str,
    /// Reachable without the bearer token.
    pub public: bool,
    pub params: &'static [Param],
    /// The success status and what its body is.
    pub success: (u16, &'static str),
    /// Builds the method router from the verb, so the verb is written once.
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

const fn path(name: &'static str, about: &'static str) -> Param {
    Param {
        name,
        place: Place::Path,
        required: true,
        shape: Shape::Text,
        about,
    }
}

const fn field(name: &'static str, required: bool, about: &'static str) -> Param {
    Param {
        name,
        place: Place::QueryOrBody,
        required,
        shape: Shape::Text,
        about,
    }
}

const SESSION: Param = path("session_name", "The session's name (`cao-…`).");
const TERMINAL: Param = path("terminal_id", "The terminal's id (8 hex characters).");
const AGENT_PROFILE: Param = field("agent_profile", true, "The agent profile to launch.");
const PROVIDER: Param = field("provider", false, "The agent CLI (default: the profile's).");
const WORKING_DIRECTORY: Param = field("working_directory", false, "Where the agent starts.");
const MODEL: Param = field("model", false, "A model override for this launch.");
const ALLOWED_TOOLS: Param = Param {
    name: "allowed_tools",
    place: Place::QueryOrBody,
    required: false,
    shape: Shape::TextList,
    about: "CAO tools the agent may use (`a,b` or a JSON array).",
};
const INITIAL_MESSAGE: Param = Param {
    name: "initial_message",
    place: Place::Body,
    required: false,
    shape: Shape::Text,
    about: "A first message sent once the agent is ready.",
};
const ENV_VARS: Param = Param {
    name: "env_vars",
    place: Place::Body,
    required: false,
    shape: Shape::TextMap,
    about: "Environment variables for the agent (body only, to keep them out of logs).",
};

/// Every route of the API, in the order the OpenAPI document lists them.
pub(crate) static ROUTES: &[Route] = &[
    Route {
        verb: Verb::Get,
        path: "/health",
        summary: "Liveness probe (no token needed).",
        public: true,
        params: &[],
        success: (200, "`{status, service, version, …}`"),
        handler: |verb| on(verb, handlers::health),
    },
    Route {
        verb: Verb::Get,
        path: "/openapi.json",
        summary: "This document.",
        public: false,
        params: &[],
        success: (200, "An OpenAPI 3.1 document."),
        handler: |verb| on(verb, handlers::openapi),
    },
    Route {
        verb: Verb::Post,
        path: "/sessions",
        summary: "Create a session with one terminal running the profile's agent.",
        public: false,
        params: &[
            AGENT_PROFILE,
            PROVIDER,
            field(
                "session_name",
                false,
                "The session name (default: generated).",
            ),
            WORKING_DIRECTORY,
            ALLOWED_TOOLS,
            MODEL,
            INITIAL_MESSAGE,
            ENV_VARS,
        ],
        success: (201, "The new Terminal."),
        handler: |verb| on(verb, handlers::create_session),
    },
    Route {
        verb: Verb::Get,
        path: "/sessions",
        summary: "List cao sessions.",
        public: false,
        params: &[],
        success: (200, "`[{id, name, status, terminal_count, created_at}]`"),
        handler: |verb| on(verb, handlers::list_sessions),
    },
    Route {
        verb: Verb::Get,
        path: "/sessions/{session_name}",
        summary: "A session and its terminals, oldest (the conductor) first.",
        public: false,
        params: &[SESSION],
        success: (200, "`{session, terminals}`"),
        handler: |verb| on(verb, handlers::get_session),
    },
    Route {
        verb: Verb::Delete,
        path: "/sessions/{session_name}",
        summary: "Stop every terminal of a session and remove it.",
        public: false,
        params: &[SESSION],
        success: (
            200,
            "`{success, deleted: [session], errors: [], terminal_ids}`",
        ),
        handler: |verb| on(verb, handlers::delete_session),
    },
    Route {
        verb: Verb::Post,
        path: "/sessions/{session_name}/terminals",
        summary: "Add a terminal to a session.",
        public: false,
        params: &[
            SESSION,
            AGENT_PROFILE,
            PROVIDER,
            field("caller_id", false, "The terminal that asked for this one."),
            WORKING_DIRECTORY,
            ALLOWED_TOOLS,
            MODEL,
            INITIAL_MESSAGE,
            ENV_VARS,
        ],
        success: (201, "The new Terminal."),
        handler: |verb| on(verb, handlers::create_terminal),
    },
    Route {
        verb: Verb::Get,
        path: "/sessions/{session_name}/terminals",
        summary: "A session's terminals, oldest first.",
        public: false,
        params: &[SESSION],
        success: (200, "`[Terminal]`"),
        handler: |verb| on(verb, handlers::list_terminals),
    },
    Route {
        verb: Verb::Get,
        path: "/terminals/{terminal_id}",
        summary: "One terminal and its current status.",
        public: false,
        params: &[TERMINAL],
        success: (200, "A Terminal."),
        handler: |verb| on(verb, handlers::get_terminal),
    },
    Route {
        verb: Verb::Delete,
        path: "/terminals/{terminal_id}",
        summary: "Stop a terminal and remove it.",
        public: false,
        params: &[TERMINAL],
        success: (200, "`{success: true}`"),
        handler: |verb| on(verb, handlers::delete_terminal),
    },
    Route {
        verb: Verb::Post,
        path: "/terminals/{terminal_id}/input",
        summary: "Send a message to the agent (pasted, then Enter).",
        public: false,
        params: &[
            TERMINAL,
            field(
                "message",
                true,
                "The text; prefer the JSON body for long text.",
            ),
            field(
                "sender_id",
                false,
                "The sending terminal (accepted, not recorded).",
            ),
        ],
        success: (200, "`{success: true}`"),
        handler: |verb| on(verb, handlers::send_input),
    },
    Route {
        verb: Verb::Post,
        path: "/terminals/{terminal_id}/key",
        summary: "Send one tmux key (Enter, C-c, Escape, Up, …).",
        public: false,
        params: &[TERMINAL, field("key", true, "The tmux key name.")],
        success: (200, "`{success: true}`"),
        handler: |verb| on(verb, handlers::send_key),
    },
    Route {
        verb: Verb::Get,
        path: "/terminals/{terminal_id}/output",
        summary: "The terminal's output: the full scrollback or the last reply.",
        public: false,
        params: &[
            TERMINAL,
            field("mode", false, "`full` (default) or `last`."),
        ],
        success: (200, "`{output, mode}`"),
        handler: |verb| on(verb, handlers::output),
    },
    Route {
        verb: Verb::Post,
        path: "/terminals/{terminal_id}/exit",
        summary: "Ask the agent CLI to exit the way its provider does.",
        public: false,
        params: &[TERMINAL],
        success: (200, "`{success: true}`"),
        handler: |verb| on(verb, handlers::exit_terminal),
    },
    Route {
        verb: Verb::Post,
        path: "/terminals/{terminal_id}/restore",
        summary:
            "Start a deleted or crashed terminal again under the same id, profile and provider.",
        public: false,
        params: &[TERMINAL],
        success: (200, "Terminal"),
        handler: |verb| on(verb, handlers::restore_terminal),
    },
    Route {
        verb: Verb::Get,
        path: "/terminals/{terminal_id}/working-directory",
        summary: "The pane's current directory.",
        public: false,
        params: &[TERMINAL],
        success: (200, "`{working_directory}` (null when unknown)"),
        handler: |verb| on(verb, handlers::working_directory),
    },
    Route {
        verb: Verb::Get,
        path: "/agents/profiles",
        summary: "Every agent profile cao can find.",
        public: false,
        params: &[],
        success: (200, "`[{name, description, source, path}]`"),
        handler: |verb| on(verb, handlers::list_profiles),
    },
    Route {
        verb: Verb::Get,
        path: "/agents/profiles/{name}",
        summary: "One agent profile, parsed.",
        public: false,
        params: &[path("name", "The profile name.")],
        success: (200, "The profile in CAO's shape."),
        handler: |verb| on(verb, handlers::get_profile),
    },
    Route {
        verb: Verb::Get,
        path: "/agents/providers",
        summary: "Known agent CLIs and whether each is installed.",
        public: false,
        params: &[],
        success: (200, "`[{name, binary, installed, path, aliases}]`"),
        handler: |verb| on(verb, handlers::list_providers),
    },
    Route {
        verb: Verb::Get,
        path: "/sessions/{session_name}/activity",
        summary: "Whether the session's team has finished, and what is still going on.",
        public: false,
        params: &[SESSION],
        success: (200, "`{settled, busy: [reason]}`"),
        handler: |verb| on(verb, handlers::session_activity),
    },
    Route {
        verb: Verb::Post,
        path: "/terminals/{terminal_id}/inbox/messages",
        summary: "Queue a message for the terminal; it is delivered when the agent is ready.",
        public: false,
        params: &[
            TERMINAL,
            field("message", true, "The text; prefer the JSON body for long text."),
            field("sender_id", false, "The sending terminal (absent: the operator)."),
        ],
        success: (200, "`{success, message_id, …}` the queued message"),
        handler: |verb| on(verb, handlers::queue_message),
    },
    Route {
        verb: Verb::Get,
        path: "/terminals/{terminal_id}/inbox/messages",
        summary: "Messages sent to the terminal, oldest first.",
        public: false,
        params: &[
            TERMINAL,
            field(
                "status",
                false,
                "pending, delivering, delivered, failed or uncertain.",
            ),
            field("limit", false, "At most this many (default 100)."),
        ],
        success: (200, "`[message]`"),
        handler: |verb| on(verb, handlers::list_messages),
    },
    Route {
        verb: Verb::Post,
        path: "/agents/messages",
        summary: "send_message: queue a message; without receiver_id it goes to the sender's creator.",
        public: false,
        params: &[
            field("message", true, "The text."),
            field("sender_id", false, "The sending terminal."),
            field("receiver_id", false, "The receiving terminal (default: the sender's creator)."),
        ],
        success: (200, "`{success, message_id, …}` the queued message"),
        handler: |verb| on(verb, handlers::send_message),
    },
    Route {
        verb: Verb::Post,
        path: "/agents/handoff",
        summary: "handoff: run a task on a new worker and wait for its answer.",
        public: false,
        params: &[
            AGENT_PROFILE,
            field("message", true, "The task."),
            field("caller_id", false, "The delegating terminal (its session gets the worker)."),
            field("timeout", false, "Seconds the worker may take (default 600, at most 3600)."),
            field(
                "wait",
                false,
                "Seconds this call waits before answering `pending` with the job id (default: the timeout).",
            ),
            PROVIDER,
            WORKING_DIRECTORY,
            MODEL,
        ],
        success: (200, "`{success, message, output, terminal_id, job_id, status, pending}`"),
        handler: |verb| on(verb, handlers::handoff),
    },
    Route {
        verb: Verb::Post,
        path: "/agents/assign",
        summary: "assign: start a worker on a task and return its id at once.",
        public: false,
        params: &[
            AGENT_PROFILE,
            field("message", true, "The task."),
            field("caller_id", false, "The delegating terminal; it receives the result."),
            field("session_name", false, "The worker's session when there is no caller."),
            PROVIDER,
            WORKING_DIRECTORY,
            MODEL,
        ],
        success: (200, "`{success, terminal_id, session_name, message}`"),
        handler: |verb| on(verb, handlers::assign),
    },
    Route {
        verb: Verb::Get,
        path: "/handoff-results",
        summary: "Handoff jobs, newest first.",
        public: false,
        params: &[
            field("caller_id", false, "Only this caller's jobs."),
            field("limit", false, "At most this many (default 20)."),
        ],
        success: (200, "`[job]`"),
        handler: |verb| on(verb, handlers::list_handoffs),
    },
    Route {
        verb: Verb::Get,
        path: "/handoff-results/{job_id}",
        summary: "get_handoff_result: a handoff's answer, or that it is still running.",
        public: false,
        params: &[path("job_id", "The job id a handoff returned.")],
        success: (200, "`{success, message, output, terminal_id, job_id, status, pending}`"),
        handler: |verb| on(verb, handlers::handoff_result),
    },
    Route {
        verb: Verb::Post,
        path: "/handoff-results/{job_id}/cancel",
        summary: "Cancel a running handoff and tear its worker down.",
        public: false,
        params: &[path("job_id", "The job id a handoff returned.")],
        success: (200, "The job's final answer."),
        handler: |verb| on(verb, handlers::cancel_handoff),
    },
    Route {
        verb: Verb::Get,
        path: "/events",
        summary: "Orchestrator events as server-sent events, one JSON object per `data:`.",
        public: false,
        params: &[field("terminal_id", false, "Only this terminal's events.")],
        success: (200, "`text/event-stream`"),
        handler: |verb| on(verb, handlers::events),
    },
    Route {
        verb: Verb::Post,
        path: "/mcp/ops",
        summary: "MCP over streamable HTTP (stateless, JSON responses): the ops server for \
            agents outside cao (CAO's cao-ops-mcp). POST one JSON-RPC message with \
            `Accept: application/json, text/event-stream`.",
        public: false,
        params: &[],
        success: (
            200,
            "The JSON-RPC answer (`application/json`); 202 for a notification.",
        ),
        handler: |verb| on(verb, mcp::ops),
    },
    Route {
        verb: Verb::Post,
        path: "/mcp/agents/{terminal_id}",
        summary: "MCP over streamable HTTP (stateless, JSON responses): the orchestration \
            server of the agent in this terminal (CAO's cao-mcp-server); the path names the \
            caller. `cao mcp-server` is a stdio proxy to it.",
        public: false,
        params: &[path(
            "terminal_id",
            "The calling terminal's id (its CAO_TERMINAL_ID).",
        )],
        success: (
            200,
            "The JSON-RPC answer (`application/json`); 202 for a notification.",
        ),
        handler: |verb| on(verb, mcp::agent),
    },
];
