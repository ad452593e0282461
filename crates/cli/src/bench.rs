//! `cao bench tmux`: the tmux layer measured against its anchors in one run.
//!
//! Every scenario runs on a private tmux server that the benchmark starts and kills. The raw
//! ceiling is a bare `tmux -C` child fed pipelined lines with the least code possible; the
//! engine scenarios report their ratio to it.

use std::io::Write;
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
        // tmux 3.3a leaves the socket file behind.
        let _ = std::fs::remove_file(self.socket().path());
    }
}

/// A bare `tmux -C` client: write lines, count closing lines. Nothing more.
struct RawClient {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::process::ChildStdout,
    buffer: Vec<u8>,
    /// Bytes of an unfinished line carried into the next read.
    carry: Vec<u8>,
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
        let stdout = child.stdout.take().context("tmux -C stdout")?;
        let mut client = Self {
            child,
            stdin: Some(stdin),
            stdout,
            buffer: vec![0; 1 << 16],
            carry: Vec::new(),
        };
        // The startup command's own block.
        client.read_replies(1)?;
        Ok(client)
    }

    /// Reads until `count` blocks have closed (`%end`/`%error` at the start of a line).
    fn read_replies(&mut self, count: usize) -> Result<()> {
        use std::io::Read;
        let mut seen = 0;
        while seen < count {
            let read = self.stdout.read(&mut self.buffer)?;
            if read == 0 {
                bail!("tmux -C exited early");
            }
            let mut data = &self.buffer[..read];
            if !self.carry.is_empty() {
                self.carry.extend_from_slice(data);
                data = &self.carry;
            }
            let mut line_start = 0;
            for (index, &byte) in data.iter().enumerate() {
                if byte == b'\n' {
                    let line = &data[line_start..index];
                    if line.starts_with(b"%end ") || line.starts_with(b"%error ") {
                        seen += 1;
                    }
                    line_start = index + 1;
                }
            }
            let rest = data[line_start..].to_vec();
            self.carry = rest;
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let stdin = self.stdin.as_mut().context("tmux -C stdin closed")?;
        stdin.write_all(bytes)?;
        stdin.flush()?;
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

/// One pipelined round on the bare client: the seconds it took.
fn raw_round(client: &mut RawClient, payload: &str, ops: usize) -> Result<f64> {
    {
        // Written from a thread so tmux never waits on us to read while we write.
        let mut stdin = client.stdin.take().context("tmux -C stdin")?;
        let bytes = payload.as_bytes().to_vec();
        let start = Instant::now();
        let writer = std::thread::spawn(move || -> std::io::Result<std::process::ChildStdin> {
            stdin.write_all(&bytes)?;
            stdin.flush()?;
            Ok(stdin)
        });
        client.read_replies(ops)?;
        let elapsed = start.elapsed().as_secs_f64();
        let stdin = writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
        client.stdin = Some(stdin);
        Ok(elapsed)
    }
}

/// One request on the bare client, waited for: the seconds it took.
fn raw_request(client: &mut RawClient, index: usize) -> Result<f64> {
    let line = display_line(index);
    let start = Instant::now();
    client.write(line.as_bytes())?;
    client.read_replies(1)?;
    Ok(start.elapsed().as_secs_f64())
}

fn display_commands(ops: usize) -> Vec<TmuxCommand> {
    (0..ops)
        .map(|index| TmuxCommand::new(["display-message", "-p", &format!("r{index}")]))
        .collect()
}

/// One pipelined round through the control engine: the seconds it took.
async fn control_round(engine: &ControlEngine, ops: usize) -> Result<f64> {
    let commands = display_commands(ops);
    let start = Instant::now();
    let results = engine.execute_batch(commands).await;
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(Err(error)) = results.into_iter().find(|result| result.is_err()) {
        bail!("control engine failed during the benchmark: {error}");
    }
    Ok(elapsed)
}

/// One request through an engine, waited for: the seconds it took.
async fn engine_request<E: Engine>(engine: &E, index: usize) -> Result<f64> {
    let command = TmuxCommand::new(["display-message", "-p", &format!("r{index}")]);
    let start = Instant::now();
    let output = engine.execute(command).await?;
    let elapsed = start.elapsed().as_secs_f64();
    if !output.succeeded() {
        bail!("{}: tmux failed: {}", engine.name(), output.error_text());
    }
    Ok(elapsed)
}

/// One `tmux display-message` child, waited for: the seconds it took.
fn fork_request(server: &PrivateServer, index: usize) -> Result<f64> {
    let start = Instant::now();
    let output = server
        .tmux()
        .args(["display-message", "-p", &format!("r{index}")])
        .stdin(Stdio::null())
        .output()?;
    let elapsed = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("tmux display-message failed");
    }
    Ok(elapsed)
}

fn fill_pane(server: &PrivateServer) -> Result<String> {
    let pane = server
        .tmux()
        .args(["display-message", "-p", "-t", "=bench", "#{pane_id}"])
        .output()?;
    let pane = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    // Fill the visible 200x50 screen with text.
    let text: String = (0..50)
        .map(|row| format!("{row:03} {}\r\n", "x".repeat(190)))
        .collect();
    let status = server
        .tmux()
        .args([
            "send-keys",
            "-t",
            &pane,
            "-l",
            "--",
            &format!("clear; printf '%s' '{text}'"),
        ])
        .status()?;
    if !status.success() {
        bail!("could not fill the capture pane");
    }
    std::thread::sleep(Duration::from_millis(300));
    Ok(pane)
}

/// Captures the visible screen through the control engine and through the bare client,
/// alternating: (engine, bare) medians.
async fn capture_control(
    engine: &ControlEngine,
    raw_client: &mut RawClient,
    pane: &str,
    ops: usize,
) -> Result<(Measurement, Measurement)> {
    let line = format!("capture-pane -p -t {pane}\n");
    let (mut engine_samples, mut raw_samples) = (Vec::with_capacity(ops), Vec::with_capacity(ops));
    for _ in 0..ops {
        let command = TmuxCommand::new(["capture-pane", "-p", "-t", pane]);
        let start = Instant::now();
        let output = engine.execute(command).await?;
        engine_samples.push(start.elapsed().as_secs_f64());
        if output.stdout.len() < 50 {
            bail!(
                "capture returned {} lines, expected 50",
                output.stdout.len()
            );
        }
        let start = Instant::now();
        raw_client.write(line.as_bytes())?;
        raw_client.read_replies(1)?;
        raw_samples.push(start.elapsed().as_secs_f64());
    }
    Ok((
        latency("capture_visible_control", &mut engine_samples),
        latency("capture_visible_raw", &mut raw_samples),
    ))
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

    let mut raw_client = RawClient::attach(&server)?;
    let mut options = ControlOptions::new(server.socket()).config_file("/dev/null");
    options.control_session = "bench".to_string();
    let control = ControlEngine::with_options(options);
    control.connect().await?;

    // Warm up both paths before anything is timed.
    let payload: String = (0..settings.ops).map(display_line).collect();
    raw_round(&mut raw_client, &payload, settings.ops)?;
    control_round(&control, settings.ops).await?;

    // Rounds alternate between the anchor and the engine so machine noise hits both alike.
    let (mut raw_rounds, mut control_rounds) = (Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        raw_rounds.push(raw_round(&mut raw_client, &payload, settings.ops)?);
        control_rounds.push(control_round(&control, settings.ops).await?);
    }
    let raw = throughput("raw_pipelined", settings.ops, &mut raw_rounds);
    let mut control_batch = throughput("control_pipelined", settings.ops, &mut control_rounds);
    control_batch.ratio_to_raw = Some(control_batch.ops_per_sec / raw.ops_per_sec);
    control_batch.anchor = Some("raw_pipelined");
    control_batch.target = Some(">= 0.9");

    let (mut raw_samples, mut control_samples) = (Vec::new(), Vec::new());
    for index in 0..sequential_ops {
        raw_samples.push(raw_request(&mut raw_client, index)?);
        control_samples.push(engine_request(&control, index).await?);
    }
    let raw_seq = latency("raw_sequential", &mut raw_samples);
    let mut control_seq = latency("control_sequential", &mut control_samples);
    control_seq.ratio_to_raw = Some(raw_seq.median_us / control_seq.median_us);
    control_seq.anchor = Some("raw_sequential");
    control_seq.target = Some(">= 0.8");

    let subprocess = SubprocessEngine::new(server.socket()).with_config_file("/dev/null");
    let (mut fork_samples, mut subprocess_samples) = (Vec::new(), Vec::new());
    for index in 0..fork_ops {
        fork_samples.push(fork_request(&server, index)?);
        subprocess_samples.push(engine_request(&subprocess, index).await?);
    }
    let fork = latency("fork_bare", &mut fork_samples);
    let mut subprocess_seq = latency("subprocess", &mut subprocess_samples);
    subprocess_seq.ratio_to_raw = Some(fork.median_us / subprocess_seq.median_us);
    subprocess_seq.anchor = Some("fork_bare");
    subprocess_seq.target = Some("median within 10% of fork_bare");

    let pane = fill_pane(&server)?;
    let (mut capture, capture_raw) =
        capture_control(&control, &mut raw_client, &pane, capture_ops).await?;
    drop(raw_client);
    let capture_forked = capture_fork(&server, &pane, capture_ops.min(200))?;
    capture.ratio_to_raw = Some(capture_forked.median_us / capture.median_us);
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
        capture_raw,
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
    if let (Some(control), Some(fork)) = (
        find("capture_visible_control"),
        find("capture_visible_fork"),
    ) {
        println!(
            "visible capture: control {:.1} µs vs fork {:.1} µs ({:.0}x faster than a fork)",
            control.median_us,
            fork.median_us,
            fork.median_us / control.median_us
        );
    }
}
