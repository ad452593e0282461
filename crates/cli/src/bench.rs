//! `cao bench tmux`: the tmux layer measured against its anchors in one run.
//!
//! Every scenario runs on a private tmux server that the benchmark starts and kills. The raw
//! ceiling is a bare `tmux -C` child fed pipelined lines with the least code possible; the
//! engine scenarios report their ratio to it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cao_tmux::engine::{ControlEngine, ControlOptions, Engine, SubprocessEngine};
use cao_tmux::{Socket, TmuxCommand};
use serde::Serialize;

/// One measured scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub scenario: &'static str,
    pub ops: usize,
    pub ops_per_sec: f64,
    pub median_us: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_raw: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'static str>,
}

/// Settings of one benchmark run.
pub struct BenchSettings {
    /// Commands per pipelined round.
    pub ops: usize,
    /// Pipelined rounds (the median round is reported).
    pub rounds: usize,
}

struct PrivateServer {
    name: String,
}

impl PrivateServer {
    fn start() -> Result<Self> {
        let name = format!("cao-bench-{}", std::process::id());
        let server = Self { name };
        let status = server
            .tmux()
            .args(["new-session", "-d", "-s", "bench", "-x", "200", "-y", "50"])
            .status()
            .context("cannot run tmux; install it (apt-get install tmux)")?;
        if !status.success() {
            bail!("tmux could not start a private server {}", server.name);
        }
        Ok(server)
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-u", "-f", "/dev/null", "-L", &self.name]);
        command
    }

    fn socket(&self) -> Socket {
        Socket::Name(self.name.clone())
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

/// A bare `tmux -C` client: write lines, count closing lines. Nothing more.
struct RawClient {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    line: String,
}

impl RawClient {
    fn attach(server: &PrivateServer) -> Result<Self> {
        let mut child = server
            .tmux()
            .args(["-C", "attach-session", "-t", "=bench"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().context("tmux -C stdin")?;
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().context("stdout")?);
        let mut client = Self {
            child,
            stdin,
            stdout,
            line: String::new(),
        };
        // The startup command's own block (flags 0).
        client.read_replies(1, "0")?;
        Ok(client)
    }

    /// Reads until `count` blocks with these flags have closed.
    fn read_replies(&mut self, count: usize, flags: &str) -> Result<()> {
        let mut seen = 0;
        while seen < count {
            self.line.clear();
            if self.stdout.read_line(&mut self.line)? == 0 {
                bail!("tmux -C exited early");
            }
            if (self.line.starts_with("%end ") || self.line.starts_with("%error "))
                && self.line.trim_end().ends_with(flags)
            {
                seen += 1;
            }
        }
        Ok(())
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn throughput(scenario: &'static str, ops: usize, round_times: &mut [f64]) -> Measurement {
    let median_round = median(round_times);
    Measurement {
        scenario,
        ops,
        ops_per_sec: ops as f64 / median_round,
        median_us: median_round * 1e6 / ops as f64,
        ratio_to_raw: None,
        anchor: None,
        target: None,
    }
}

fn latency(scenario: &'static str, samples: &mut [f64]) -> Measurement {
    let middle = median(samples);
    Measurement {
        scenario,
        ops: samples.len(),
        ops_per_sec: samples.len() as f64 / samples.iter().sum::<f64>(),
        median_us: middle * 1e6,
        ratio_to_raw: None,
        anchor: None,
        target: None,
    }
}

fn display_line(index: usize) -> String {
    format!("display-message -p \"r{index}\"\n")
}

fn raw_pipelined(server: &PrivateServer, settings: &BenchSettings) -> Result<Measurement> {
    let mut client = RawClient::attach(server)?;
    let payload: String = (0..settings.ops).map(display_line).collect();
    let mut rounds = Vec::new();
    for _ in 0..settings.rounds {
        let start = Instant::now();
        client.stdin.write_all(payload.as_bytes())?;
        client.stdin.flush()?;
        client.read_replies(settings.ops, " 1")?;
        rounds.push(start.elapsed().as_secs_f64());
    }
    Ok(throughput("raw_pipelined", settings.ops, &mut rounds))
}

fn raw_sequential(server: &PrivateServer, ops: usize) -> Result<Measurement> {
    let mut client = RawClient::attach(server)?;
    let mut samples = Vec::with_capacity(ops);
    for index in 0..ops {
        let line = display_line(index);
        let start = Instant::now();
        client.stdin.write_all(line.as_bytes())?;
        client.stdin.flush()?;
        client.read_replies(1, " 1")?;
        samples.push(start.elapsed().as_secs_f64());
    }
    Ok(latency("raw_sequential", &mut samples))
}

fn display_commands(ops: usize) -> Vec<TmuxCommand> {
    (0..ops)
        .map(|index| TmuxCommand::new(["display-message", "-p", &format!("r{index}")]))
        .collect()
}

async fn control_pipelined(engine: &ControlEngine, settings: &BenchSettings) -> Result<Measurement> {
    let mut rounds = Vec::new();
    for _ in 0..settings.rounds {
        let commands = display_commands(settings.ops);
        let start = Instant::now();
        let results = engine.execute_batch(commands).await;
        rounds.push(start.elapsed().as_secs_f64());
        if let Some(Err(error)) = results.into_iter().find(|result| result.is_err()) {
            bail!("control engine failed during the benchmark: {error}");
        }
    }
    Ok(throughput("control_pipelined", settings.ops, &mut rounds))
}

async fn sequential<E: Engine>(
    scenario: &'static str,
    engine: &E,
    ops: usize,
) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(ops);
    for index in 0..ops {
        let command = TmuxCommand::new(["display-message", "-p", &format!("r{index}")]);
        let start = Instant::now();
        let output = engine.execute(command).await?;
        samples.push(start.elapsed().as_secs_f64());
        if !output.succeeded() {
            bail!("{scenario}: tmux failed: {}", output.error_text());
        }
    }
    Ok(latency(scenario, &mut samples))
}

fn bare_fork(server: &PrivateServer, ops: usize) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(ops);
    for index in 0..ops {
        let start = Instant::now();
        let output = server
            .tmux()
            .args(["display-message", "-p", &format!("r{index}")])
            .stdin(Stdio::null())
            .output()?;
        samples.push(start.elapsed().as_secs_f64());
        if !output.status.success() {
            bail!("tmux display-message failed");
        }
    }
    Ok(latency("fork_bare", &mut samples))
}

fn fill_pane(server: &PrivateServer) -> Result<String> {
    let pane = server
        .tmux()
        .args(["display-message", "-p", "-t", "=bench", "#{pane_id}"])
        .output()?;
    let pane = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    // Fill the visible 200x50 screen with text.
    let text: String = (0..50).map(|row| format!("{row:03} {}\r\n", "x".repeat(190))).collect();
    let status = server
        .tmux()
        .args(["send-keys", "-t", &pane, "-l", "--", &format!("clear; printf '%s' '{text}'")])
        .status()?;
    if !status.success() {
        bail!("could not fill the capture pane");
    }
    std::thread::sleep(Duration::from_millis(300));
    Ok(pane)
}

async fn capture_control(engine: &ControlEngine, pane: &str, ops: usize) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(ops);
    for _ in 0..ops {
        let command = TmuxCommand::new(["capture-pane", "-p", "-t", pane]);
        let start = Instant::now();
        let output = engine.execute(command).await?;
        samples.push(start.elapsed().as_secs_f64());
        if output.stdout.len() < 50 {
            bail!("capture returned {} lines, expected 50", output.stdout.len());
        }
    }
    Ok(latency("capture_visible_control", &mut samples))
}

fn capture_fork(server: &PrivateServer, pane: &str, ops: usize) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(ops);
    for _ in 0..ops {
        let start = Instant::now();
        let output = server
            .tmux()
            .args(["capture-pane", "-p", "-t", pane])
            .stdin(Stdio::null())
            .output()?;
        samples.push(start.elapsed().as_secs_f64());
        if !output.status.success() {
            bail!("capture-pane failed");
        }
    }
    Ok(latency("capture_visible_fork", &mut samples))
}

/// Runs every scenario and returns the measurements in report order.
pub async fn run(settings: &BenchSettings) -> Result<Vec<Measurement>> {
    if settings.ops == 0 || settings.rounds == 0 {
        bail!("--ops and --rounds must be at least 1");
    }
    let server = PrivateServer::start()?;
    let sequential_ops = (settings.ops / 2).clamp(200, 5000);
    let fork_ops = (settings.ops / 25).clamp(50, 500);
    let capture_ops = 500;

    // Warm up the server (allocation, first-use costs) before anything is timed.
    let _ = raw_pipelined(&server, &BenchSettings { ops: settings.ops.min(2000), rounds: 1 })?;

    let raw = raw_pipelined(&server, settings)?;
    let raw_seq = raw_sequential(&server, sequential_ops)?;

    let mut options = ControlOptions::new(server.socket()).config_file("/dev/null");
    options.control_session = "bench".to_string();
    let control = ControlEngine::with_options(options);
    control.connect().await?;
    let _ = control.execute_batch(display_commands(settings.ops.min(2000))).await;
    let mut control_batch = control_pipelined(&control, settings).await?;
    control_batch.ratio_to_raw = Some(control_batch.ops_per_sec / raw.ops_per_sec);
    control_batch.anchor = Some("raw_pipelined");
    control_batch.target = Some(">= 0.9");
    let mut control_seq = sequential("control_sequential", &control, sequential_ops).await?;
    control_seq.ratio_to_raw = Some(control_seq.ops_per_sec / raw_seq.ops_per_sec);
    control_seq.anchor = Some("raw_sequential");
    control_seq.target = Some(">= 0.8");

    let fork = bare_fork(&server, fork_ops)?;
    let subprocess = SubprocessEngine::new(server.socket()).with_config_file("/dev/null");
    let mut subprocess_seq = sequential("subprocess", &subprocess, fork_ops).await?;
    subprocess_seq.ratio_to_raw = Some(subprocess_seq.ops_per_sec / fork.ops_per_sec);
    subprocess_seq.anchor = Some("fork_bare");
    subprocess_seq.target = Some("median within 10% of fork_bare");

    let pane = fill_pane(&server)?;
    let mut capture = capture_control(&control, &pane, capture_ops).await?;
    let capture_forked = capture_fork(&server, &pane, capture_ops.min(200))?;
    capture.ratio_to_raw = Some(capture.ops_per_sec / capture_forked.ops_per_sec);
    capture.anchor = Some("capture_visible_fork");
    capture.target = Some("median <= 100 us");
    control.shutdown().await;

    Ok(vec![
        raw,
        raw_seq,
        control_batch,
        control_seq,
        fork,
        subprocess_seq,
        capture,
        capture_forked,
    ])
}

/// Prints the measurements as a table with the ratios that matter.
pub fn print_table(measurements: &[Measurement]) {
    println!(
        "{:<26} {:>8} {:>14} {:>12} {:>10}  target",
        "scenario", "ops", "ops/s", "median µs", "ratio"
    );
    for m in measurements {
        let ratio = m
            .ratio_to_raw
            .map(|r| format!("{r:.3}"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<26} {:>8} {:>14.0} {:>12.2} {:>10}  {}",
            m.scenario,
            m.ops,
            m.ops_per_sec,
            m.median_us,
            ratio,
            m.target.unwrap_or("")
        );
    }
    let find = |name: &str| measurements.iter().find(|m| m.scenario == name);
    if let (Some(sub), Some(fork)) = (find("subprocess"), find("fork_bare")) {
        println!(
            "subprocess engine median / bare fork median: {:.3}",
            sub.median_us / fork.median_us
        );
    }
    if let (Some(control), Some(fork)) = (find("capture_visible_control"), find("capture_visible_fork")) {
        println!(
            "visible capture: control {:.1} µs vs fork {:.1} µs ({:.0}x faster)",
            control.median_us,
            fork.median_us,
            fork.median_us / control.median_us
        );
    }
}
