//! `cao bench status`: how fast a screen change becomes a status event, and what idle
//! terminals cost (tmux commands per second), on a private tmux server with real mock agents.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cao_mux::tmux::TmuxMux;
use cao_mux::{Multiplexer, PaneEvent, PaneRef};
use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{
    CreateTerminal, Orchestrator, OrchestratorConfig, OrchestratorEvent, TERMINAL_ID_KEY,
};
use cao_orchestrator::TerminalStatus;
use cao_tmux::engine::ControlOptions;
use cao_tmux::Socket;
use serde::Serialize;

/// What `cao bench status` measured.
#[derive(Debug, Serialize)]
pub struct StatusBench {
    pub terminals: usize,
    pub idle_seconds: f64,
    pub idle_tmux_commands: u64,
    pub idle_commands_per_second: f64,
    pub turns: usize,
    pub change_to_event_p50_ms: f64,
    pub change_to_event_p90_ms: f64,
    pub change_to_event_max_ms: f64,
    pub launch_to_ready_p50_ms: f64,
}

struct Cleanup {
    socket: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_file(Socket::named(&self.socket).path());
    }
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

pub async fn run(terminals: usize, turns: usize, idle_seconds: u64) -> Result<StatusBench> {
    let socket = format!("cao-bench-status-{}", std::process::id());
    let _cleanup = Cleanup {
        socket: socket.clone(),
    };
    let home = tempfile::tempdir().context("cannot create a temporary CAO_HOME_DIR")?;
    let script = home.path().join("script.toml");
    std::fs::write(&script, "[[rules]]\ndelay_ms = 20\n")?;
    let options = ControlOptions::new(Socket::named(&socket)).config_file("/dev/null");
    let mux = Arc::new(TmuxMux::with_options(
        options,
        vec![TERMINAL_ID_KEY.to_string()],
    ));
    let mut config = OrchestratorConfig::new(CaoHome::at(home.path()), mux.clone());
    config.default_provider = "mock".into();
    let orchestrator = Orchestrator::start(config).await?;
    let request = |session: Option<String>| CreateTerminal {
        agent_profile: "developer".into(),
        provider: Some("mock".into()),
        session_name: session,
        env_vars: BTreeMap::from([(
            "CAO_MOCK_AGENT_SCRIPT".to_string(),
            script.display().to_string(),
        )]),
        ..CreateTerminal::default()
    };

    let mut ids = Vec::new();
    let mut ready_ms = Vec::new();
    for index in 0..terminals.max(1) {
        let started = Instant::now();
        let terminal = if index == 0 {
            orchestrator
                .create_session(request(Some("bench".into())))
                .await?
        } else {
            orchestrator
                .create_terminal_in_session("bench", request(None))
                .await?
        };
        orchestrator
            .wait_for_status(
                &terminal.id,
                TerminalStatus::is_ready,
                Duration::from_secs(30),
            )
            .await?;
        ready_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        ids.push(terminal.id);
    }

    // Idle cost: every agent sits at its prompt; count what cao asks tmux meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = mux.engine().stats().requests;
    tokio::time::sleep(Duration::from_secs(idle_seconds)).await;
    let idle_commands = mux.engine().stats().requests - before;

    // Latency: the last pane output before each `completed` event, to that event.
    let target = ids[0].clone();
    let pane = PaneRef(
        orchestrator
            .store()
            .get_terminal(&target)?
            .and_then(|row| row.pane_ref)
            .context("the benchmark terminal has no pane")?,
    );
    let mut latencies = Vec::new();
    for turn in 0..turns {
        let mut pane_events = mux.events();
        let mut statuses = orchestrator.subscribe();
        orchestrator
            .send_input(&target, &format!("turn {turn}"))
            .await?;
        let mut last_output: Option<Instant> = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            tokio::select! {
                event = pane_events.recv() => {
                    if let Ok(PaneEvent::Output(changed)) = event {
                        if changed == pane {
                            last_output = Some(Instant::now());
                        }
                    }
                }
                event = statuses.recv() => {
                    if let Ok(OrchestratorEvent::Status { terminal_id, status: TerminalStatus::Completed, .. }) = event {
                        if terminal_id == target {
                            let now = Instant::now();
                            // Output events queued before the status event are drained first.
                            while let Ok(event) = pane_events.try_recv() {
                                if event == PaneEvent::Output(pane.clone()) {
                                    last_output = Some(now);
                                }
                            }
                            if let Some(output) = last_output {
                                latencies.push(now.duration_since(output).as_secs_f64() * 1000.0);
                            }
                            break;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => anyhow::bail!("turn {turn} did not complete within 10 s"),
            }
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    ready_ms.sort_by(|a, b| a.total_cmp(b));
    orchestrator.stop_watching();
    for id in &ids {
        let _ = orchestrator.delete_terminal(id).await;
    }
    mux.shutdown().await;
    Ok(StatusBench {
        terminals: ids.len(),
        idle_seconds: idle_seconds as f64,
        idle_tmux_commands: idle_commands,
        idle_commands_per_second: idle_commands as f64 / idle_seconds.max(1) as f64,
        turns: latencies.len(),
        change_to_event_p50_ms: percentile(&latencies, 0.5),
        change_to_event_p90_ms: percentile(&latencies, 0.9),
        change_to_event_max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        launch_to_ready_p50_ms: percentile(&ready_ms, 0.5),
    })
}

pub fn print(bench: &StatusBench) {
    println!("status engine on {} mock-agent terminals", bench.terminals);
    println!(
        "  idle: {} tmux commands in {:.0} s = {:.2}/s (target 0; CAO polls every pane)",
        bench.idle_tmux_commands, bench.idle_seconds, bench.idle_commands_per_second
    );
    println!(
        "  screen change -> status event: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms over {} turns (target p50 <= 50 ms; CAO polls at 1 s)",
        bench.change_to_event_p50_ms,
        bench.change_to_event_p90_ms,
        bench.change_to_event_max_ms,
        bench.turns
    );
    println!(
        "  launch -> ready (mock agent): p50 {:.0} ms",
        bench.launch_to_ready_p50_ms
    );
}
