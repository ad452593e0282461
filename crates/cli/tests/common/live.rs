//! A real cao server on 127.0.0.1 (port 0) in front of an orchestrator on the fixture's
//! private tmux server, with the mock agent as its default provider: its agents reach this
//! server through their MCP config, and the tests talk to it over HTTP as agents and the
//! operator do. The server stops on drop; the fixture then kills its tmux server.

use std::net::SocketAddr;
use std::time::Duration;

use cao_orchestrator::home::CaoHome;
use cao_orchestrator::service::{
    ApiEndpoint, CreateTerminal, Orchestrator, OrchestratorConfig, OrchestratorEvent,
};
use cao_orchestrator::TerminalStatus;
use cao_server::{AuthMode, ServerConfig};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use super::{Fixture, DEADLINE};

pub struct Live {
    pub fixture: Fixture,
    pub addr: SocketAddr,
    pub orchestrator: Orchestrator,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// An HTTP answer: its status and its body (JSON, or the text as a JSON string).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error's `detail`, or "" when there is none.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

impl Live {
    /// Starts the server for `fixture` (its mock-agent log and script go to every agent).
    pub async fn start(fixture: Fixture) -> Live {
        let home = CaoHome::at(fixture.home.path());
        let server_config =
            ServerConfig::local(AuthMode::from_home(&home).expect("a server token")).with_port(0);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = OrchestratorConfig::new(home, fixture.mux());
        config.cao_binary = env!("CARGO_BIN_EXE_cao").into();
        config.default_provider = "mock".into();
        config.path = std::env::var_os("PATH").unwrap_or_default();
        config.api = ApiEndpoint {
            host: "127.0.0.1".into(),
            port: addr.port(),
        };
        config.agent_env = vec![(
            "CAO_MOCK_AGENT_LOG".to_string(),
            fixture.log_path().display().to_string(),
        )];
        if let Some(script) = &fixture.script {
            config.agent_env.push((
                "CAO_MOCK_AGENT_SCRIPT".to_string(),
                script.display().to_string(),
            ));
        }
        let orchestrator = Orchestrator::start(config).await.expect("orchestrator");
        let stop =
            super::serve_in_background(listener, orchestrator.clone(), server_config.clone());
        Live {
            fixture,
            addr,
            orchestrator,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            stop: Some(stop),
        }
    }

    /// The operator's token (`server.token` in the home).
    pub fn operator_token(&self) -> String {
        CaoHome::at(self.fixture.home.path())
            .server_token()
            .unwrap()
    }

    /// The agent token of `terminal_id`, computed as the server does.
    pub fn agent_token(&self, terminal_id: &str) -> String {
        cao_orchestrator::agent_token::agent_token(&self.operator_token(), terminal_id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// One request with `token` as the bearer (none when `None`) and `body` as JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("Accept", "application/json, text/event-stream");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = tokio::time::timeout(DEADLINE, request.send())
            .await
            .expect("the server answers")
            .expect("the request reaches the server");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body }
    }

    /// [`Live::call`] with the operator's token.
    pub async fn operator(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(&self.operator_token()), body)
            .await
    }

    /// A ready mock-agent terminal of `profile` in `session` (the session is made by the
    /// first one).
    pub async fn terminal(&self, session: &str, profile: &str) -> String {
        let request = CreateTerminal {
            agent_profile: profile.into(),
            provider: Some("mock".into()),
            session_name: Some(session.into()),
            ..CreateTerminal::default()
        };
        let exists = !self
            .orchestrator
            .list_terminals(session)
            .unwrap_or_default()
            .is_empty();
        let terminal = if exists {
            self.orchestrator
                .create_terminal_in_session(session, request)
                .await
        } else {
            self.orchestrator.create_session(request).await
        }
        .expect("terminal created");
        self.orchestrator
            .wait_for_status(&terminal.id, TerminalStatus::is_ready, DEADLINE)
            .await
            .expect("the agent gets ready");
        terminal.id
    }

    /// Every `@cao_terminal_id`-tagged pane of the tmux server as (pane pid, terminal id).
    pub fn panes(&self) -> Vec<(u32, String)> {
        let output = std::process::Command::new("tmux")
            .args([
                "-L",
                &self.fixture.socket,
                "list-panes",
                "-a",
                "-F",
                "#{pane_pid} #{@cao_terminal_id}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let (pid, id) = line.split_once(' ')?;
                let pid = pid.parse().ok()?;
                (!id.is_empty()).then(|| (pid, id.to_string()))
            })
            .collect()
    }

    /// The value of `name` in the environment of terminal `terminal_id`'s agent process.
    pub fn agent_env(&self, terminal_id: &str, name: &str) -> Option<String> {
        let (pid, _) = self.panes().into_iter().find(|(_, id)| id == terminal_id)?;
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        environ.split(|byte| *byte == 0).find_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            entry.strip_prefix(&format!("{name}=")).map(str::to_string)
        })
    }

    /// Waits until the session has settled: every terminal ready, no message waiting.
    pub async fn settled(&self, session: &str) {
        let path = format!("/sessions/{session}/activity");
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let activity = self.operator("GET", &path, None).await;
            if activity.body["settled"] == true {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "session {session} never settled: {}",
                activity.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits on `events` (subscribed before the input was sent) for one turn of `terminal_id`:
/// a `processing` status, then a `completed` one. Panics at the deadline, naming `what` and
/// the statuses seen.
pub async fn turn_finished(
    events: &mut broadcast::Receiver<OrchestratorEvent>,
    terminal_id: &str,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: no finished turn of {terminal_id}; saw {seen:?}"))
            .expect("the event stream stays open and keeps up");
        if let OrchestratorEvent::Status {
            terminal_id: id,
            status,
            ..
        } = event
        {
            if id != terminal_id {
                continue;
            }
            seen.push(status);
            match status {
                TerminalStatus::Completed if seen.contains(&TerminalStatus::Processing) => return,
                TerminalStatus::Error => panic!("{what}: terminal {terminal_id} failed"),
                _ => {}
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.orchestrator.stop_watching();
    }
}
