//! Typed tmux for cao: no knowledge of agents lives here.
//!
//! What this crate is:
//! - [`ops`]: one typed value per tmux command (60 kinds), each with its metadata (scope, safety,
//!   effects, version gates) in one table, rendering to argv for a given server version and
//!   parsing its own result.
//! - [`protocol`]: a sans-I/O parser of the control-mode (`tmux -C`) byte stream.
//! - [`engine`]: ways to run commands against a tmux server — a fork per call
//!   ([`engine::SubprocessEngine`]), one persistent control-mode connection
//!   ([`engine::ControlEngine`]) and an in-memory simulation ([`engine::SimEngine`]).
//! - [`plan`]: recorded operations with forward references, previewed or executed.
//! - [`snapshot`]: the whole server tree from one `list-panes -a` read.
//!
//! What it is not: an orchestrator. It never decides what runs in a pane, and it never touches
//! the user's default tmux server unless a [`Socket`] says so.

pub mod command;
pub mod engine;
pub mod ids;
pub mod ops;
pub mod plan;
pub mod protocol;
pub mod quote;
pub mod snapshot;
pub mod socket;
pub mod version;

pub use command::{CommandOutput, TmuxCommand};
pub use ids::{PaneId, SessionId, WindowId};
pub use socket::Socket;
pub use version::TmuxVersion;
