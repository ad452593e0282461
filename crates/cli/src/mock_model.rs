//! `cao mock-model serve`: the scripted model API server of `cao-mock-model`, on a loopback
//! address, for running real agent CLIs offline.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::client::{exit, EXIT_FAILURE};

#[derive(Debug, Subcommand)]
pub enum MockModelCommand {
    /// Serves the script until stopped; prints `listening on http://HOST:PORT` once ready.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ServeArgs {
    /// Loopback address to listen on: 127.0.0.1, ::1 or localhost.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (see the printed line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// TOML script of reply rules (see below).
    #[arg(long, value_name = "FILE")]
    script: PathBuf,
    /// Append one JSON line per request: {"started_ms", "finished_ms", "api", "method",
    /// "path", "model", "stream", "input", "rule", "action", "tool", "status"}.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Speaks Anthropic Messages (/v1/messages), OpenAI Responses (/v1/responses), OpenAI Chat
Completions (/v1/chat/completions) and Gemini (/v1beta/models/M:generateContent, …), streamed
and not. Script:

  model = \"mock-model\"                 # advertised by GET /v1/models
  default_reply = \"You said: {input}\"  # when no rule matches

  [[rules]]
  name = \"multi\"
  match = \"REPLY-MULTI\"                # substring of the latest user message
  reply = \"line one\\nline two\"
  first_byte_delay_ms = 0               # wait before the response starts
  chunk_delay_ms = 0                    # stream slowly: wait between text chunks
  chunk_chars = 0                       # characters per chunk (8 when only the delay is set)
  error = { status = 400, message = \"mock model refuses\" }   # fail with this HTTP error

  [[rules.calls]]                       # tool calls, one per model turn, before the reply
  tool = \"send_message\"                # substring of the offered tool's name
  args = { receiver_id = \"abc12345\", message = \"hello from {input}\" }

Placeholders: {input}, {first_line}, {rest}, {result} (the latest tool result); {{ and }} are
literal braces. Log requests at trace level with CAO_LOG=cao_mock_model=trace.";

pub fn run(command: MockModelCommand) -> Result<()> {
    match command {
        MockModelCommand::Serve(args) => serve(args),
    }
}

/// The loopback address `host` names, if it names one.
fn loopback(host: &str) -> Option<IpAddr> {
    match host {
        "localhost" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        _ => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
            .filter(IpAddr::is_loopback),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let Some(host) = loopback(&args.host) else {
        return Err(exit(
            EXIT_FAILURE,
            format!(
                "--host '{}' is not a loopback address: the mock model only listens on 127.0.0.1, ::1 or localhost",
                args.host
            ),
        ));
    };
    let script = cao_mock_model::Script::load(&args.script)
        .map_err(|error| exit(EXIT_FAILURE, error.to_string()))?;
    if let Some(log) = &args.log {
        // Fail before announcing the address, not after.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open the request log {}", log.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let address = SocketAddr::new(host, args.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {address} (is the port in use? --port 0 picks a free one)"
                )
            })?;
        let bound = listener.local_addr()?;
        let shown = match bound.ip() {
            IpAddr::V6(ip) if ip == Ipv6Addr::LOCALHOST => format!("[::1]:{}", bound.port()),
            _ => bound.to_string(),
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{shown}")?;
        stdout.flush()?;
        drop(stdout);
        cao_mock_model::serve(listener, script, args.log)
            .await
            .context("the mock model server stopped")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_accepted() {
        assert_eq!(loopback("127.0.0.1"), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(loopback("localhost"), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(loopback("::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(loopback("[::1]"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(loopback("0.0.0.0"), None);
        assert_eq!(loopback("192.168.1.2"), None);
        assert_eq!(loopback("example.com"), None);
    }
}
