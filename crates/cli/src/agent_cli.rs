//! `cao agent …`: the orchestration tools as commands, for scripts and for agents without MCP.
//!
//! The caller's identity is `--from`, else `CAO_TERMINAL_ID` (set in every pane cao starts);
//! without either the call comes from the operator. A `MESSAGE` of `-` is read from stdin,
//! byte for byte.

use std::io::Read;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{exit, Client, EXIT_AGENT_FAILED, EXIT_TIMEOUT};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run a task on a new worker and wait for its answer (printed); like the MCP `handoff`.
    Handoff {
        /// The worker's agent profile.
        agent_profile: String,
        /// The task (`-` reads it from stdin).
        message: String,
        /// Seconds the worker may take.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Start a worker on a task and print its terminal id at once; like the MCP `assign`.
    Assign {
        /// The worker's agent profile.
        agent_profile: String,
        /// The task (`-` reads it from stdin).
        message: String,
        /// The worker's session when there is no caller (default: a new session).
        #[arg(long)]
        session: Option<String>,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Queue a message in a terminal's inbox; like the MCP `send_message`.
    SendMessage {
        /// The text (`-` reads it from stdin).
        message: String,
        /// The receiving terminal (default: the sender's creator).
        #[arg(long = "to", value_name = "TERMINAL_ID")]
        receiver_id: Option<String>,
        /// The sending terminal (default: $CAO_TERMINAL_ID; none: the operator).
        #[arg(long, env = "CAO_TERMINAL_ID")]
        from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A worker terminal's status, or a handoff job's (16-character job id).
    Status {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A worker terminal's last reply, or a handoff job's result.
    Result {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Interrupt a worker's turn (C-c), remove it with --delete, or cancel a handoff job.
    Cancel {
        id: String,
        /// Remove the worker terminal instead of interrupting it.
        #[arg(long)]
        delete: bool,
    },
}

/// Where and how the worker runs.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The delegating terminal (default: $CAO_TERMINAL_ID; none: the operator).
    #[arg(long, env = "CAO_TERMINAL_ID")]
    from: Option<String>,
    /// The worker's CLI (default: the profile's, else the caller's).
    #[arg(long)]
    provider: Option<String>,
    /// Where the worker starts (default: the caller's directory).
    #[arg(long)]
    working_directory: Option<String>,
    /// A model override.
    #[arg(long)]
    model: Option<String>,
    /// Print the whole answer as JSON.
    #[arg(long)]
    json: bool,
}

impl WorkerArgs {
    fn body(&self, agent_profile: &str, message: &str) -> Value {
        json!({
            "agent_profile": agent_profile,
            "message": message,
            "caller_id": self.from,
            "provider": self.provider,
            "working_directory": self.working_directory,
            "model": self.model,
        })
    }
}

fn read_message(message: String) -> Result<String> {
    if message != "-" {
        return Ok(message);
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read the message from stdin")?;
    String::from_utf8(bytes).context("the message on stdin is not UTF-8")
}

/// A handoff job id is 16 hex characters; a terminal id is 8.
fn is_job_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints a handoff answer; a failed one is an error with the right exit code.
fn report_handoff(answer: &Value, json: bool) -> Result<()> {
    if json {
        print_json(answer)?;
    }
    let message = answer["message"].as_str().unwrap_or("").to_string();
    match answer["status"].as_str() {
        Some("completed") => {
            if !json {
                println!("{}", answer["output"].as_str().unwrap_or(""));
            }
            Ok(())
        }
        Some("pending") | Some("running") => Err(exit(EXIT_TIMEOUT, message)),
        Some("timed_out") => Err(exit(EXIT_TIMEOUT, message)),
        _ => Err(exit(EXIT_AGENT_FAILED, message)),
    }
}

pub async fn run(command: AgentCommand) -> Result<()> {
    let client = Client::from_env()?;
    match command {
        AgentCommand::Handoff {
            agent_profile,
            message,
            timeout,
            worker,
        } => {
            let message = read_message(message)?;
            client.ensure_server().await?;
            let mut body = worker.body(&agent_profile, &message);
            body["timeout"] = json!(timeout);
            let answer = client.post("/agents/handoff", &[], &body).await?;
            report_handoff(&answer, worker.json)
        }
        AgentCommand::Assign {
            agent_profile,
            message,
            session,
            worker,
        } => {
            let message = read_message(message)?;
            client.ensure_server().await?;
            let mut body = worker.body(&agent_profile, &message);
            body["session_name"] = json!(session);
            let answer = client.post("/agents/assign", &[], &body).await?;
            if worker.json {
                print_json(&answer)
            } else {
                println!("{}", answer["terminal_id"].as_str().unwrap_or(""));
                Ok(())
            }
        }
        AgentCommand::SendMessage {
            message,
            receiver_id,
            from,
            json,
        } => {
            let message = read_message(message)?;
            let body = json!({ "message": message, "sender_id": from, "receiver_id": receiver_id });
            let answer = client.post("/agents/messages", &[], &body).await?;
            if json {
                print_json(&answer)
            } else {
                println!(
                    "message #{} queued for {}",
                    answer["message_id"],
                    answer["receiver_id"].as_str().unwrap_or("?")
                );
                Ok(())
            }
        }
        AgentCommand::Status { id, json } => {
            let (answer, status) = if is_job_id(&id) {
                let answer = client.get(&format!("/handoff-results/{id}")).await?;
                let status = answer["status"].as_str().unwrap_or("").to_string();
                (answer, status)
            } else {
                let answer = client.get(&format!("/terminals/{id}")).await?;
                let status = answer["status"].as_str().unwrap_or("").to_string();
                (answer, status)
            };
            if json {
                print_json(&answer)
            } else {
                println!("{status}");
                Ok(())
            }
        }
        AgentCommand::Result { id, json } => {
            if is_job_id(&id) {
                let answer = client.get(&format!("/handoff-results/{id}")).await?;
                return report_handoff(&answer, json);
            }
            let answer = client
                .get_query(
                    &format!("/terminals/{id}/output"),
                    &[("mode", "last".to_string())],
                )
                .await?;
            if json {
                print_json(&answer)
            } else {
                println!("{}", answer["output"].as_str().unwrap_or(""));
                Ok(())
            }
        }
        AgentCommand::Cancel { id, delete } => {
            if is_job_id(&id) {
                let answer = client
                    .post(&format!("/handoff-results/{id}/cancel"), &[], &json!({}))
                    .await?;
                println!("{}", answer["message"].as_str().unwrap_or("cancelled"));
            } else if delete {
                client.delete(&format!("/terminals/{id}")).await?;
            } else {
                client
                    .post(
                        &format!("/terminals/{id}/key"),
                        &[("key", "C-c".to_string())],
                        &json!({}),
                    )
                    .await?;
            }
            Ok(())
        }
    }
}
