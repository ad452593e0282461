//! The cao domain: what an agent is and what it is doing.
//!
//! The data directory (`home`), agent profiles (`profile`), provider packs that know how to
//! launch and read each agent CLI (`provider`), the SQLite store (`store`), the status engine
//! and the terminal service.
//! This crate never builds a tmux argv: it drives panes through `cao_mux`.

pub mod agent_token;
pub mod home;
pub mod profile;
pub mod provider;
pub mod service;
pub mod status;
pub mod store;
pub mod watcher;

pub use status::TerminalStatus;

/// `mutex` locked, poisoned or not. The crate's critical sections are single map or field
/// operations (and the store's transactions roll back when their guard drops), so a panic
/// inside one leaves consistent data and the poison flag carries no information.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
