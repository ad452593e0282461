//! The inbox survives a crash: four mock agents exchange 200 messages through a real
//! `cao server`; the server is killed with SIGKILL while deliveries are under way and started
//! again; every message reaches its receiver exactly once and each sender's messages arrive in
//! the order they were sent. What arrived is read from the mock agents' own logs.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const AGENTS: usize = 4;
const PER_SENDER: usize = 50;
const BEFORE_CRASH: usize = 120;

struct Cluster {
    home: tempfile::TempDir,
    socket: String,
    port: u16,
    server: Option<Child>,
    http: reqwest::Client,
}

impl Cluster {
    fn new() -> Cluster {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("script.toml"),
            "[[rules]]\ndelay_ms = 10\n",
        )
        .unwrap();
        Cluster {
            socket: format!("cao-crash-{}-{port}", std::process::id()),
            home,
            port,
            server: None,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn log(&self) -> std::path::PathBuf {
        self.home.path().join("agents.jsonl")
    }

    async fn start_server(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_cao"))
            .arg("server")
            .env("CAO_HOME_DIR", self.home.path())
            .env("CAO_TMUX_SOCKET", &self.socket)
            .env("CAO_API_PORT", self.port.to_string())
            .env("CAO_API_HOST", "127.0.0.1")
            .env(
                "CAO_MOCK_AGENT_SCRIPT",
                self.home.path().join("script.toml"),
            )
            .env_remove("TMUX")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let health = self
                .http
                .get(format!("http://127.0.0.1:{}/health", self.port))
                .send()
                .await;
            if health.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("cao server did not answer /health");
    }

    fn kill_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            // SAFETY: the pid of our own child.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.home.path().join("server.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("http://127.0.0.1:{}{path}", self.port))
            .bearer_auth(self.token())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    fn logged(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|value| {
                Some((
                    value["terminal_id"].as_str()?.to_string(),
                    value["input"].as_str()?.to_string(),
                ))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_server();
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(cao_tmux::Socket::named(&self.socket).path());
    }
}

async fn send(cluster: &Cluster, item: &(usize, String, String, usize)) {
    let (from, sender, receiver, sequence) = item;
    cluster
        .call(
            reqwest::Method::POST,
            &format!("/terminals/{receiver}/inbox/messages"),
            json!({ "sender_id": sender, "message": body(*from, *sequence) }),
        )
        .await;
}

/// The text of message `sequence` from sender `from`: awkward on purpose.
fn body(from: usize, sequence: usize) -> String {
    format!("m{from}-{sequence:03}\nline two; \"quoted\" 'single' $(nope) `tick` \u{1b}[1m")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_and_repeats_nothing_and_keeps_each_senders_order() {
    let mut cluster = Cluster::new();
    cluster.start_server().await;
    let mut agents = Vec::new();
    for index in 0..AGENTS {
        let terminal = cluster
            .call(
                reqwest::Method::POST,
                "/sessions",
                json!({
                    "agent_profile": "developer",
                    "provider": "mock",
                    "session_name": format!("crash{index}"),
                    "env_vars": { "CAO_MOCK_AGENT_LOG": cluster.log().display().to_string() },
                }),
            )
            .await;
        agents.push(terminal["id"].as_str().unwrap().to_string());
    }

    // Message k of every sender, in order; sender s writes to the three others in turn.
    let mut plan = Vec::new();
    for sequence in 0..PER_SENDER {
        for (from, sender) in agents.iter().enumerate() {
            let to = (from + 1 + sequence % (AGENTS - 1)) % AGENTS;
            plan.push((from, sender.clone(), agents[to].clone(), sequence));
        }
    }
    for item in &plan[..BEFORE_CRASH] {
        send(&cluster, item).await;
    }
    // Deliveries are under way (each receiver takes one message per turn): crash now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered_before = cluster
        .logged()
        .iter()
        .filter(|(_, input)| input.contains("cao inbox #"))
        .count();
    cluster.kill_server();
    cluster.start_server().await;
    for item in &plan[BEFORE_CRASH..] {
        send(&cluster, item).await;
    }

    // Wait for every message to be delivered and answered.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut states = BTreeMap::new();
    loop {
        states.clear();
        for agent in &agents {
            let messages = cluster
                .call(
                    reqwest::Method::GET,
                    &format!("/terminals/{agent}/inbox/messages?limit=1000"),
                    json!({}),
                )
                .await;
            for message in messages.as_array().unwrap() {
                *states
                    .entry(message["status"].as_str().unwrap().to_string())
                    .or_insert(0usize) += 1;
            }
        }
        let logged = cluster
            .logged()
            .iter()
            .filter(|(_, input)| input.contains("cao inbox #"))
            .count();
        if states.get("delivered") == Some(&plan.len()) && logged >= plan.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all delivered: {states:?}, {logged} logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{delivered_before} of {} delivered before the SIGKILL; all {} after the restart",
        plan.len(),
        plan.len()
    );

    // From the agents' own logs: exactly once, in each sender's order.
    let logged = cluster.logged();
    for (index, receiver) in agents.iter().enumerate() {
        let received: Vec<(usize, usize)> = logged
            .iter()
            .filter(|(terminal, input)| terminal == receiver && input.contains("cao inbox #"))
            .map(|(_, input)| {
                let body = input.split_once('\n').unwrap().1;
                let head = body.lines().next().unwrap();
                let (from, sequence) = head.trim_start_matches('m').split_once('-').unwrap();
                // The escape byte is not pasted (a paste carries no control bytes).
                assert!(
                    body.ends_with("line two; \"quoted\" 'single' $(nope) `tick` [1m"),
                    "{body:?}"
                );
                (from.parse().unwrap(), sequence.parse().unwrap())
            })
            .collect();
        let expected: Vec<(usize, usize)> = plan
            .iter()
            .filter(|(_, _, to, _)| to == receiver)
            .map(|(from, _, _, sequence)| (*from, *sequence))
            .collect();
        let mut sorted = received.clone();
        sorted.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(
            sorted, expected_sorted,
            "agent {index} did not get each message exactly once"
        );
        for from in 0..AGENTS {
            let order: Vec<usize> = received
                .iter()
                .filter(|(sender, _)| *sender == from)
                .map(|(_, sequence)| *sequence)
                .collect();
            assert!(
                order.windows(2).all(|pair| pair[0] < pair[1]),
                "agent {index} got sender {from}'s messages out of order: {order:?}"
            );
        }
    }
}
