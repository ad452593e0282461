//! placeholder: filled in by the provider work.
