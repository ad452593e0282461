//! `cao tmux demo`: the tmux layer end to end on a private server, for a first look.

use anyhow::{bail, Result};
use cao_tmux::engine::{ControlEngine, ControlOptions, Engine};
use cao_tmux::{Socket, TmuxCommand};

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
    let engine =
        ControlEngine::with_options(ControlOptions::new(private.clone()).config_file("/dev/null"));
    let outcome = drive(&engine).await;
    let _ = engine.execute(command(&["kill-server"])).await;
    engine.shutdown().await;
    outcome
}

async fn drive(engine: &ControlEngine) -> Result<()> {
    println!(
        "tmux server {} (private, removed at the end)",
        engine.socket().describe()
    );
    let created = engine
        .execute(command(&[
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            "160",
            "-y",
            "40",
            "-P",
            "-F",
            "#{pane_id}",
        ]))
        .await?;
    if !created.succeeded() {
        bail!("new-session failed: {}", created.error_text());
    }
    let first = created.stdout[0].clone();
    let split = engine
        .execute(command(&[
            "split-window",
            "-h",
            "-d",
            "-t",
            &first,
            "-P",
            "-F",
            "#{pane_id}",
        ]))
        .await?;
    let second = split.stdout.first().cloned().unwrap_or_default();
    println!(
        "session demo: panes {first} and {second} (version {})",
        engine.server_version().await?
    );

    let text = "echo 'hello from cao; this ; is data' && echo \"$((6 * 7))\"";
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
            "-b",
            "demo",
            "-t",
            &second,
        ]))
        .await?;
    engine
        .execute(command(&["send-keys", "-t", &second, "Enter"]))
        .await?;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let screen = engine
        .execute(command(&["capture-pane", "-p", "-t", &second]))
        .await?;
    println!("--- pane {second} ---");
    for line in screen.stdout.iter().filter(|line| !line.trim().is_empty()) {
        println!("{line}");
    }
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
