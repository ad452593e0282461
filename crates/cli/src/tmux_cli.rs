//! `cao tmux catalog | snapshot | op`: thin translations between the command line and the
//! typed tmux layer.

use anyhow::{bail, Context, Result};
use cao_tmux::engine::{ControlEngine, ControlOptions, Engine, SubprocessEngine};
use cao_tmux::ops::{catalog, run, Operation, ResultStatus};
use cao_tmux::snapshot::take_snapshot;
use cao_tmux::{Socket, TmuxVersion};

use crate::app::EngineChoice;

/// The chosen engine for `socket`.
pub fn engine(choice: EngineChoice, socket: &Socket) -> Box<dyn Engine> {
    match choice {
        EngineChoice::Control => Box::new(ControlEngine::with_options(ControlOptions::new(
            socket.clone(),
        ))),
        EngineChoice::Subprocess => Box::new(SubprocessEngine::new(socket.clone())),
    }
}

pub fn print_catalog(json: bool) -> Result<()> {
    let entries = catalog();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<18} {:<8} {:<12} {:<7} description",
        "kind", "command", "scope", "safety", "since"
    );
    for entry in &entries {
        let scope = serde_json::to_value(entry.scope)?;
        let safety = serde_json::to_value(entry.safety)?;
        println!(
            "{:<20} {:<18} {:<8} {:<12} {:<7} {}",
            entry.kind.to_string(),
            entry.command,
            scope.as_str().unwrap_or(""),
            safety.as_str().unwrap_or(""),
            entry.min_version,
            entry.description
        );
    }
    println!("{} operations", entries.len());
    Ok(())
}

pub async fn print_snapshot(engine: &dyn Engine, json: bool) -> Result<()> {
    let snapshot = take_snapshot(engine)
        .await
        .with_context(|| format!("cannot read tmux server {}", engine.socket().describe()))?;
    let snapshot = snapshot.without_session(cao_tmux::engine::control::DEFAULT_CONTROL_SESSION);
    if json {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
        return Ok(());
    }
    if snapshot.sessions.is_empty() {
        println!("no sessions on {}", engine.socket().describe());
    }
    for session in &snapshot.sessions {
        println!("{} {}", session.id, session.name);
        for window in &session.windows {
            let active = if window.active { " (active)" } else { "" };
            println!("  {} {}:{}{active}", window.id, window.index, window.name);
            for pane in &window.panes {
                println!(
                    "    {} {}x{} {} {}",
                    pane.id, pane.width, pane.height, pane.current_command, pane.current_path
                );
            }
        }
    }
    Ok(())
}

pub async fn run_operation(engine: &dyn Engine, text: &str, preview: bool) -> Result<()> {
    let operation: Operation = serde_json::from_str(text).map_err(|error| {
        anyhow::anyhow!(
            "invalid operation JSON: {error}\nhint: `cao tmux catalog --json` lists every kind and its fields"
        )
    })?;
    if preview {
        let version = engine.server_version().await.unwrap_or(TmuxVersion::LATEST);
        let argv = operation.render_preview(version)?;
        println!("{}", serde_json::to_string(&argv)?);
        return Ok(());
    }
    let result = run(engine, &operation).await?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    if result.status == ResultStatus::Failed {
        bail!(
            "{} failed: {}",
            operation.kind(),
            result.output.error_text()
        );
    }
    Ok(())
}
