//! The backend-neutral multiplexer surface the orchestrator drives.
