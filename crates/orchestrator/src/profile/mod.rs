//! placeholder: filled in by the profile work.
