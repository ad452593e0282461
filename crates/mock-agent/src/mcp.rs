//! The MCP client: makes the tool calls the agent asks for, on a thread of its own with a
//! small tokio runtime, and reports each result back.
//!
//! Servers are connected at start-up, in the background (as a real agent CLI does, without
//! holding back the first prompt); a call waits for the connection it needs. A server that
//! cannot be reached, or a call that fails, gives a failed [`ToolResult`] with the reason:
//! the agent shows it and goes on, it never exits over it.
//!
//! A call names its server as `server.tool`, or just `tool` for the first server in the
//! config that offers it (servers that failed to connect are skipped).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use tokio::sync::{mpsc, OnceCell};
use tokio::task::JoinSet;

use crate::agent::{ToolCall, ToolResult};
use crate::mcp_config::{McpConfig, McpServer, McpTransport};

/// How long connecting to one server (start, initialize, list tools) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long closing the connections may hold back the agent's exit.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// Called with each finished call and its result, on the runner's thread.
pub type Report = Box<dyn Fn(ToolCall, ToolResult) + Send + Sync>;

/// The running client; dropping it closes the connections (stdio servers get end of input and
/// are killed if they linger) and waits for that, at most [`SHUTDOWN_TIMEOUT`] or so.
pub struct ToolRunner {
    requests: Option<mpsc::UnboundedSender<ToolCall>>,
    thread: Option<JoinHandle<()>>,
}

impl ToolRunner {
    /// Starts connecting to every server of `config`; results go to `report`.
    pub fn start(config: McpConfig, report: Report) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("mcp-client".into())
            .spawn(move || run(config, receiver, report));
        match thread {
            Ok(thread) => Self {
                requests: Some(sender),
                thread: Some(thread),
            },
            // Without a thread every call fails at once, through `call`.
            Err(_) => Self {
                requests: None,
                thread: None,
            },
        }
    }

    /// Makes `call`; its result is reported when it comes. `Err` gives the call back when the
    /// runner is not running.
    pub fn call(&self, call: ToolCall) -> Result<(), ToolCall> {
        match &self.requests {
            Some(requests) => requests.send(call).map_err(|error| error.0),
            None => Err(call),
        }
    }
}

impl Drop for ToolRunner {
    fn drop(&mut self) {
        // Closing the channel tells the thread to close the connections and end.
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One server and its connection, made once (by whoever needs it first).
struct Server {
    config: McpServer,
    connection: OnceCell<Result<Connection, String>>,
}

struct Connection {
    service: RunningService<RoleClient, ClientConfig>,
    tools: Vec<String>,
}

impl Server {
    async fn connection(&self) -> Result<&Connection, &str> {
        let connected = self
            .connection
            .get_or_init(|| async {
                match tokio::time::timeout(CONNECT_TIMEOUT, connect(&self.config.transport)).await {
                    Ok(connected) => connected,
                    Err(_) => Err(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())),
                }
            })
            .await;
        connected.as_ref().map_err(String::as_str)
    }
}

fn run(config: McpConfig, mut requests: mpsc::UnboundedReceiver<ToolCall>, report: Report) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            while let Some(call) = requests.blocking_recv() {
                report(
                    call,
                    failure(format!("cannot start the MCP client: {error}")),
                );
            }
            return;
        }
    };
    runtime.block_on(serve(config, requests, Arc::new(report)));
}

async fn serve(
    config: McpConfig,
    mut requests: mpsc::UnboundedReceiver<ToolCall>,
    report: Arc<Report>,
) {
    let servers: Arc<Vec<Server>> = Arc::new(
        config
            .servers
            .into_iter()
            .map(|config| Server {
                config,
                connection: OnceCell::new(),
            })
            .collect(),
    );
    let mut tasks = JoinSet::new();
    for index in 0..servers.len() {
        let servers = Arc::clone(&servers);
        // A failure is kept and told to each call that needs the server.
        tasks.spawn(async move {
            let _ = servers[index].connection().await;
        });
    }
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(call) => {
                    let servers = Arc::clone(&servers);
                    let report = Arc::clone(&report);
                    tasks.spawn(async move {
                        let result = call_tool(&servers, &call).await;
                        report(call, result);
                    });
                }
                None => break,
            },
            // Reap finished tasks so the set does not grow over a long run.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    // The agent is exiting: calls still running are dropped, connections closed.
    tasks.shutdown().await;
    let Ok(servers) = Arc::try_unwrap(servers) else {
        return;
    };
    let close = async {
        for server in servers {
            if let Some(Ok(connection)) = server.connection.into_inner() {
                let _ = connection.service.cancel().await;
            }
        }
    };
    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, close).await;
}

async fn connect(transport: &McpTransport) -> Result<Connection, String> {
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("cao-mock-agent", env!("CARGO_PKG_VERSION")),
    );
    let service = match transport {
        McpTransport::Stdio { command, args, env } => {
            let mut process = tokio::process::Command::new(command);
            process.args(args).envs(env).kill_on_drop(true);
            // The server's stderr would draw over the agent's screen.
            let (transport, _stderr) = TokioChildProcess::builder(process)
                .stderr(Stdio::null())
                .spawn()
                .map_err(|error| format!("cannot start `{command}`: {error}"))?;
            client
                .serve(transport)
                .await
                .map_err(|error| format!("`{command}` did not initialize: {error}"))?
        }
        McpTransport::Http { url, headers } => {
            let mut custom = HashMap::new();
            for (name, value) in headers {
                // Checked when the config was loaded.
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|error| format!("header `{name}`: {error}"))?;
                let value = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|error| format!("header `{name}`: {error}"))?;
                custom.insert(name, value);
            }
            let config =
                StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(custom);
            client
                .serve(StreamableHttpClientTransport::from_config(config))
                .await
                .map_err(|error| format!("{url}: {error}"))?
        }
    };
    let tools = service
        .list_all_tools()
        .await
        .map_err(|error| format!("cannot list its tools: {error}"))?
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    Ok(Connection { service, tools })
}

async fn call_tool(servers: &[Server], call: &ToolCall) -> ToolResult {
    if servers.is_empty() {
        return failure("no MCP servers are configured (see --mcp-config)".into());
    }
    let named = servers.iter().find_map(|server| {
        call.tool
            .strip_prefix(server.config.name.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .map(|tool| (server, tool))
    });
    let (connection, tool) = match named {
        Some((server, tool)) => match server.connection().await {
            Ok(connection) => (connection, tool),
            Err(reason) => {
                return failure(format!(
                    "MCP server `{}` is not connected: {reason}",
                    server.config.name
                ))
            }
        },
        None => {
            let mut unreachable = Vec::new();
            let mut found = None;
            for server in servers {
                match server.connection().await {
                    Ok(connection) if connection.tools.contains(&call.tool) => {
                        found = Some(connection);
                        break;
                    }
                    Ok(_) => {}
                    Err(reason) => unreachable.push(format!("`{}`: {reason}", server.config.name)),
                }
            }
            match found {
                Some(connection) => (connection, call.tool.as_str()),
                None if unreachable.is_empty() => {
                    return failure(format!("no MCP server offers the tool `{}`", call.tool))
                }
                None => {
                    return failure(format!(
                        "no connected MCP server offers the tool `{}` (not connected: {})",
                        call.tool,
                        unreachable.join("; ")
                    ))
                }
            }
        }
    };
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let serde_json::Value::Object(args) = &call.args {
        params = params.with_arguments(args.clone());
    }
    match connection.service.call_tool(params).await {
        Ok(result) => ToolResult {
            text: result_text(&result),
            is_error: result.is_error == Some(true),
        },
        Err(error) => failure(error.to_string()),
    }
}

/// The text items of a result, one per line; the structured content when there is no text.
fn result_text(result: &CallToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|content| content.as_text())
        .map(|content| content.text.as_str())
        .collect();
    if texts.is_empty() {
        if let Some(structured) = &result.structured_content {
            return structured.to_string();
        }
    }
    texts.join("\n")
}

fn failure(reason: String) -> ToolResult {
    ToolResult {
        text: reason,
        is_error: true,
    }
}
