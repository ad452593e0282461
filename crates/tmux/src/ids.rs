//! tmux object ids: `$N` sessions, `@N` windows, `%N` panes, with their sigils validated.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an id string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {text:?}: expected {sigil} followed by digits, like {sigil}3")]
pub struct IdParseError {
    pub kind: &'static str,
    pub sigil: char,
    pub text: String,
}

macro_rules! tmux_id {
    ($(#[$doc:meta])* $name:ident, $sigil:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            pub const SIGIL: char = $sigil;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $sigil, self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let error = || IdParseError { kind: $kind, sigil: $sigil, text: text.to_string() };
                let digits = text.strip_prefix($sigil).ok_or_else(error)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(error());
                }
                digits.parse().map($name).map_err(|_| error())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

tmux_id!(
    /// A session id, `$N`.
    SessionId, '$', "session"
);
tmux_id!(
    /// A window id, `@N`.
    WindowId, '@', "window"
);
tmux_id!(
    /// A pane id, `%N`.
    PaneId, '%', "pane"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_sigils() {
        assert_eq!("%12".parse::<PaneId>(), Ok(PaneId(12)));
        assert_eq!(PaneId(12).to_string(), "%12");
        assert_eq!("@0".parse::<WindowId>(), Ok(WindowId(0)));
        assert_eq!("$7".parse::<SessionId>(), Ok(SessionId(7)));
    }

    #[test]
    fn rejects_wrong_sigils_and_junk() {
        assert!("@1".parse::<PaneId>().is_err());
        assert!("%".parse::<PaneId>().is_err());
        assert!("%1x".parse::<PaneId>().is_err());
        assert!("%-1".parse::<PaneId>().is_err());
        assert!("$1".parse::<WindowId>().is_err());
    }

    #[test]
    fn serializes_as_strings() {
        assert_eq!(serde_json::to_string(&PaneId(3)).unwrap(), "\"%3\"");
        let back: PaneId = serde_json::from_str("\"%3\"").unwrap();
        assert_eq!(back, PaneId(3));
        assert!(serde_json::from_str::<PaneId>("\"@3\"").is_err());
    }
}
