//! Running one operation on an engine: ask the server's version, render, execute, parse.

use crate::engine::{Engine, EngineError};

use super::result::OpResult;
use super::{Operation, RenderError};

/// Why an operation could not be run (tmux reporting failure is a [`OpResult`] with status
/// `failed`, not an error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Renders `op` for the engine's server, runs it and parses its result.
pub async fn run<E: Engine + ?Sized>(engine: &E, op: &Operation) -> Result<OpResult, RunError> {
    let version = engine.server_version().await?;
    let command = op.render(version)?;
    let output = engine.execute(command).await?;
    Ok(op.parse_result(&output))
}
