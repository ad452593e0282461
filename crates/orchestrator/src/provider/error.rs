//! Errors of the provider packs: loading a pack file, looking a pack up, rendering a launch.

use std::path::PathBuf;

/// What went wrong with a provider pack. Every message is one line written for the user.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A pack file could not be read from disk.
    #[error("cannot read provider pack {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A pack file is not valid TOML or does not describe a pack.
    #[error("invalid provider pack {file}:{line}: {message} (at `{snippet}`)")]
    Parse {
        /// The file (`builtin:<name>.toml` for the embedded packs).
        file: String,
        /// 1-based line of the offending key or value (0 when toml gave no position).
        line: usize,
        /// The offending line, trimmed: it names the key.
        snippet: String,
        message: String,
    },
    /// A pack parsed but is inconsistent (a name used twice, an alias that hides a pack, …).
    #[error("invalid provider pack {file}: {message}")]
    Invalid { file: String, message: String },
    /// No pack has this name or alias.
    #[error("unknown provider `{name}`; known providers: {known}")]
    UnknownProvider { name: String, known: String },
    /// A launch template uses a placeholder the pack language does not define.
    #[error("provider `{provider}`: unknown placeholder `{{{placeholder}}}` in {place}")]
    UnknownPlaceholder {
        provider: String,
        placeholder: String,
        place: String,
    },
    /// A launch template needs a value the caller did not give (outside an optional group).
    #[error("provider `{provider}`: {place} needs `{{{placeholder}}}`, which has no value; give it or put the argument in an optional group")]
    MissingValue {
        provider: String,
        placeholder: String,
        place: String,
    },
    /// A list placeholder was used inside a longer string, where it has no single meaning.
    #[error("provider `{provider}`: the list `{{{placeholder}}}` must stand alone in {place} (or use `{{{placeholder}:json}}`/`{{{placeholder}:toml}}`)")]
    ListInString {
        provider: String,
        placeholder: String,
        place: String,
    },
    /// A file path template escapes the per-terminal config directory.
    #[error("provider `{provider}`: file path `{path}` must be relative to the config directory and stay inside it")]
    FileOutsideConfigDir { provider: String, path: String },
}

impl PackError {
    /// Builds a [`PackError::Parse`] from a toml error, locating it in `source`.
    pub(crate) fn from_toml(file: &str, source: &str, error: &toml::de::Error) -> PackError {
        let (line, snippet) = match error.span() {
            Some(span) => {
                let start = span.start.min(source.len());
                // Bytes, not chars: a span may start inside a multi-byte character.
                let line = source.as_bytes()[..start]
                    .iter()
                    .filter(|byte| **byte == b'\n')
                    .count()
                    + 1;
                let snippet = source
                    .lines()
                    .nth(line - 1)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                (line, snippet)
            }
            None => (0, String::new()),
        };
        PackError::Parse {
            file: file.to_string(),
            line,
            snippet,
            message: error.message().trim().replace('\n', " "),
        }
    }
}
