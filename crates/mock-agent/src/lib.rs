//! `cao mock-agent`: a scripted agent-like terminal program.
