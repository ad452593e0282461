//! The state every handler shares: the orchestrator, the guards, the MCP services and the
//! shutdown signal.

use std::sync::Arc;

use tokio::sync::watch;

use crate::guard::Guard;
use crate::mcp::McpEndpoints;
use crate::orchestrator::Orchestrator;

/// Cheap to clone: one `Arc` of everything the handlers need.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

struct Shared {
    orchestrator: Orchestrator,
    guard: Guard,
    mcp: McpEndpoints,
    body_limit: usize,
    shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub(crate) fn new(
        orchestrator: Orchestrator,
        guard: Guard,
        mcp: McpEndpoints,
        body_limit: usize,
        shutdown: watch::Receiver<bool>,
    ) -> AppState {
        AppState(Arc::new(Shared {
            orchestrator,
            guard,
            mcp,
            body_limit,
            shutdown,
        }))
    }

    pub(crate) fn orchestrator(&self) -> &Orchestrator {
        &self.0.orchestrator
    }

    pub(crate) fn guard(&self) -> &Guard {
        &self.0.guard
    }

    pub(crate) fn mcp(&self) -> &McpEndpoints {
        &self.0.mcp
    }

    pub(crate) fn body_limit(&self) -> usize {
        self.0.body_limit
    }

    /// Resolves when the server starts shutting down, so long-lived streams (SSE) end and
    /// graceful shutdown does not wait for them forever. Never resolves for a router built
    /// without `serve`.
    pub(crate) fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut shutdown = self.0.shutdown.clone();
        async move {
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}
