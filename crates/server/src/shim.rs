//! Temporary stand-in for `cao_orchestrator::service` while the lead writes it on `main`:
//! the same names and signatures, no behaviour. Deleted when `main` lands.
#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;

use cao_orchestrator::home::CaoHome;
use cao_orchestrator::profile::catalog::ProfileCatalog;
use cao_orchestrator::TerminalStatus;
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct CreateTerminal {
    pub agent_profile: String,
    pub provider: Option<String>,
    pub session_name: Option<String>,
    pub working_directory: Option<String>,
    pub env_vars: BTreeMap<String, String>,
    pub model: Option<String>,
    pub allowed_tools: Option<Vec<String>>,
    pub caller_id: Option<String>,
    pub initial_message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Terminal {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub session_name: String,
    pub agent_profile: String,
    pub status: TerminalStatus,
    pub working_directory: Option<String>,
    pub created_at: String,
    pub last_active: Option<String>,
    pub creator_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    pub terminal_count: u32,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionDetail {
    pub session: SessionInfo,
    pub terminals: Vec<Terminal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderInfo {
    pub name: String,
    pub binary: String,
    pub installed: bool,
    pub path: Option<String>,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrchestratorEvent {
    Status {
        terminal_id: String,
        status: TerminalStatus,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Full,
    Last,
}

impl OutputMode {
    pub fn parse(text: &str) -> Option<OutputMode> {
        match text {
            "full" => Some(OutputMode::Full),
            "last" => Some(OutputMode::Last),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

#[derive(Clone)]
pub struct Orchestrator {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    home: CaoHome,
    profiles: ProfileCatalog,
    events: tokio::sync::broadcast::Sender<OrchestratorEvent>,
}

fn missing(id: &str) -> OrchestratorError {
    OrchestratorError::NotFound(format!("no terminal '{id}'"))
}

impl Orchestrator {
    pub fn stub(home: CaoHome) -> Orchestrator {
        let profiles = ProfileCatalog::new(&home);
        let (events, _) = tokio::sync::broadcast::channel(64);
        Orchestrator {
            inner: std::sync::Arc::new(Inner {
                home,
                profiles,
                events,
            }),
        }
    }
    pub fn publish(&self, event: OrchestratorEvent) {
        let _ = self.inner.events.send(event);
    }
    pub async fn create_session(&self, r: CreateTerminal) -> Result<Terminal, OrchestratorError> {
        Err(OrchestratorError::Invalid(format!("stub: {}", r.agent_profile)))
    }
    pub async fn create_terminal_in_session(
        &self,
        session: &str,
        _r: CreateTerminal,
    ) -> Result<Terminal, OrchestratorError> {
        Err(OrchestratorError::NotFound(format!("no session '{session}'")))
    }
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>, OrchestratorError> {
        Ok(Vec::new())
    }
    pub fn get_session(&self, name: &str) -> Result<SessionDetail, OrchestratorError> {
        Err(OrchestratorError::NotFound(format!("no session '{name}'")))
    }
    pub async fn delete_session(&self, name: &str) -> Result<Vec<String>, OrchestratorError> {
        Err(OrchestratorError::NotFound(format!("no session '{name}'")))
    }
    pub fn list_terminals(&self, session: &str) -> Result<Vec<Terminal>, OrchestratorError> {
        Err(OrchestratorError::NotFound(format!("no session '{session}'")))
    }
    pub fn get_terminal(&self, id: &str) -> Result<Terminal, OrchestratorError> {
        Err(missing(id))
    }
    pub async fn delete_terminal(&self, id: &str) -> Result<(), OrchestratorError> {
        Err(missing(id))
    }
    pub async fn send_input(&self, id: &str, _message: &str) -> Result<(), OrchestratorError> {
        Err(missing(id))
    }
    pub async fn send_key(&self, id: &str, _key: &str) -> Result<(), OrchestratorError> {
        Err(missing(id))
    }
    pub async fn output(&self, id: &str, _mode: OutputMode) -> Result<String, OrchestratorError> {
        Err(missing(id))
    }
    pub async fn exit_terminal(&self, id: &str) -> Result<(), OrchestratorError> {
        Err(missing(id))
    }
    pub async fn working_directory(&self, id: &str) -> Result<Option<String>, OrchestratorError> {
        Err(missing(id))
    }
    pub fn profiles(&self) -> &ProfileCatalog {
        &self.inner.profiles
    }
    pub fn providers(&self) -> Vec<ProviderInfo> {
        Vec::new()
    }
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<OrchestratorEvent> {
        self.inner.events.subscribe()
    }
    pub fn home(&self) -> &CaoHome {
        &self.inner.home
    }
}
