//! `cao server` (also `cao-server`): the orchestrator behind the HTTP API, on cao's tmux socket.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use cao_mux::tmux::TmuxMux;
use cao_mux::Multiplexer;
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{ApiEndpoint, Orchestrator, OrchestratorConfig, TERMINAL_ID_KEY};
use cao_server::{AuthMode, ServerConfig};
use cao_tmux::engine::ControlOptions;
use cao_tmux::Socket;
use clap::Args;

use crate::client::{exit, EXIT_FAILURE};

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "CAO_API_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, env = "CAO_API_PORT", default_value_t = 9889)]
    port: u16,
    /// Serve without the bearer token (anyone on this machine can then drive your agents).
    #[arg(long)]
    no_auth: bool,
}

/// The pid file of the running server, for `cao shutdown --server`.
pub fn pid_file(home: &CaoHome) -> std::path::PathBuf {
    home.root().join("server.pid")
}

struct PidFile(std::path::PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn run(args: ServerArgs, socket: &Socket) -> Result<()> {
    let host: IpAddr = args.host.parse().map_err(|_| {
        exit(
            EXIT_FAILURE,
            format!(
                "--host '{}' is not an IP address (use 127.0.0.1)",
                args.host
            ),
        )
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let home = CaoHome::from_env()?;
        home.ensure_dirs()?;
        let auth = if args.no_auth {
            tracing::warn!(
                "serving without a bearer token: any local process can drive your agents"
            );
            eprintln!("warning: --no-auth: any local process can drive your agents");
            AuthMode::Disabled
        } else {
            AuthMode::from_home(&home)?
        };
        let mut config = ServerConfig::local(auth).with_port(args.port);
        config.host = host;
        // Bind first: a taken port fails before anything else is started.
        let listener = cao_server::bind(&config).await?;
        let mux = Arc::new(TmuxMux::with_options(
            ControlOptions::new(socket.clone()),
            vec![TERMINAL_ID_KEY.to_string()],
        ));
        mux.check()
            .await
            .map_err(|error| exit(EXIT_FAILURE, error.to_string()))?;
        let mut orchestrator_config = OrchestratorConfig::new(home.clone(), mux.clone());
        orchestrator_config.api = ApiEndpoint {
            host: args.host.clone(),
            port: listener
                .local_addr()
                .map(|address| address.port())
                .unwrap_or(args.port),
        };
        let orchestrator = Orchestrator::start(orchestrator_config)
            .await
            .map_err(|error| exit(EXIT_FAILURE, error.to_string()))?;
        let pid_path = pid_file(&home);
        std::fs::write(&pid_path, std::process::id().to_string())
            .with_context(|| format!("cannot write {}", pid_path.display()))?;
        let _pid_file = PidFile(pid_path);
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        cao_server::serve_on(listener, orchestrator.clone(), &config, shutdown).await?;
        // The agents keep running in tmux; the next server re-adopts them.
        orchestrator.stop_watching();
        mux.shutdown().await;
        Ok(())
    })
}
