//! `cao tmux demo`: the tmux layer end to end on a private server, for a first look.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use cao_tmux::engine::{ControlEngine, ControlOptions, Engine};
use cao_tmux::{PaneId, Socket, TmuxCommand};

fn command(words: &[&str]) -> TmuxCommand {
    TmuxCommand::new(words.iter().copied())
}

/// Runs the demo on a private socket derived from `socket`, so the user's servers are untouched.
pub async fn run(socket: &Socket) -> Result<()> {
    let label = match socket {
        Socket::Name(name) => name.clone(),
        Socket::Path(_) => "cao".to_string(),
    };
    let private = Socket::Name(format!("{label}-demo-{}", std::process::id()));
    let socket_file = private.path();
    let mut options = ControlOptions::new(private).config_file("/dev/null");
    // Attach the control connection to the demo session itself, so its panes' output streams
    // to us as events.
    options.control_session = "demo".to_string();
    let engine = ControlEngine::with_options(options);
    let outcome = drive(&engine).await;
    let _ = engine.execute(command(&["kill-server"])).await;
    engine.shutdown().await;
    // tmux 3.3a leaves the socket file behind.
    let _ = std::fs::remove_file(socket_file);
    outcome
}

async fn drive(engine: &ControlEngine) -> Result<()> {
    engine.connect().await?;
    println!(
        "tmux {} on {} (private, removed at the end)",
        engine.server_version().await?,
        engine.socket().describe()
    );
    engine
        .execute(command(&[
            "resize-window",
            "-t",
            "=demo:",
            "-x",
            "160",
            "-y",
            "30",
        ]))
        .await?;
    let split = engine
        .execute(command(&[
            "split-window",
            "-h",
            "-d",
            "-t",
            "=demo:",
            "-P",
            "-F",
            "#{pane_id}",
            // A plain POSIX shell: the user's login shell may run slow start-up files.
            "sh",
        ]))
        .await?;
    if !split.succeeded() {
        bail!("split-window failed: {}", split.error_text());
    }
    let shell_pane: PaneId = split
        .stdout
        .first()
        .context("split-window printed no pane id")?
        .parse()?;
    let target = shell_pane.to_string();
    println!("session demo: a shell in pane {shell_pane}");

    // Subscribe before typing, then wait for the answer as pane-output events.
    let mut output = engine.pane_output(shell_pane);
    let text = "echo 'hello from cao; this ; is data' && echo \"answer=$((6 * 7))\"";
    let loaded = engine
        .execute(command(&["load-buffer", "-b", "demo", "-"]).with_stdin(text.as_bytes().to_vec()))
        .await?;
    if !loaded.succeeded() {
        bail!("load-buffer failed: {}", loaded.error_text());
    }
    engine
        .execute(command(&[
            "paste-buffer",
            "-p",
            "-d",
            "-b",
            "demo",
            "-t",
            &target,
        ]))
        .await?;
    engine
        .execute(command(&["send-keys", "-t", &target, "Enter"]))
        .await?;
    let mut seen = Vec::new();
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&seen).contains("answer=42") {
            match output.recv().await {
                Ok(bytes) => seen.extend(bytes),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    })
    .await;
    match answered {
        Ok(Ok(())) => {}
        Ok(Err(error)) => bail!("pane output stream ended: {error}"),
        Err(_) => bail!("the shell in {shell_pane} did not answer within 10 s"),
    }
    let screen = engine
        .execute(command(&["capture-pane", "-p", "-t", &target]))
        .await?;
    println!("--- pane {shell_pane}, captured ---");
    for line in screen.stdout.iter().filter(|line| !line.trim().is_empty()) {
        println!("{line}");
    }
    println!("---");

    let started = std::time::Instant::now();
    let replies = engine
        .execute_batch(
            (0..1000)
                .map(|i| command(&["display-message", "-p", &format!("{i}")]))
                .collect(),
        )
        .await;
    let elapsed = started.elapsed();
    let answered = replies.iter().filter(|reply| reply.is_ok()).count();
    println!(
        "1000 pipelined commands answered: {answered} in {:.2} ms",
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}
