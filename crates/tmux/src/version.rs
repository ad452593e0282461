//! tmux versions as the server reports them (`#{version}`), ordered so version gates compare.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A tmux release: `3.3a` is `{ major: 3, minor: 3, patch: 1 }` (letters count from `a` = 1).
///
/// Development builds (`next-3.4`, `3.4-rc`, `master`) order just below the release they lead
/// to, except `master`, which orders above every release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TmuxVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u8,
}

impl TmuxVersion {
    pub const fn new(major: u16, minor: u16, patch: u8) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The newest release this crate knows about; used where no server can be asked.
    pub const LATEST: TmuxVersion = TmuxVersion::new(3, 7, 0);
    /// `master` builds: above every release.
    pub const MASTER: TmuxVersion = TmuxVersion::new(u16::MAX, 0, 0);
}

impl fmt::Display for TmuxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::MASTER {
            return f.write_str("master");
        }
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch > 0 {
            let letter = (b'a' + self.patch - 1) as char;
            write!(f, "{letter}")?;
        }
        Ok(())
    }
}

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised tmux version {0:?}: expected a form like 3.3a, next-3.4 or master")]
pub struct VersionParseError(pub String);

impl FromStr for TmuxVersion {
    type Err = VersionParseError;

    /// Accepts `3.3a`, `tmux 3.3a` (the output of `tmux -V`), `next-3.4`, `3.4-rc`, `openbsd-7.4`
    /// style prefixes and `master`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || VersionParseError(text.to_string());
        let mut word = text.trim();
        if let Some(rest) = word.strip_prefix("tmux ") {
            word = rest.trim();
        }
        if word == "master" {
            return Ok(Self::MASTER);
        }
        let mut development = false;
        if let Some(rest) = word.strip_prefix("next-") {
            word = rest;
            development = true;
        }
        if let Some((release, _suffix)) = word.split_once('-') {
            // `3.4-rc`, `3.4-rc2`: a candidate for 3.4.
            if release.contains('.') {
                word = release;
                development = true;
            } else {
                return Err(error());
            }
        }
        let (major_text, rest) = word.split_once('.').ok_or_else(error)?;
        let major: u16 = major_text.parse().map_err(|_| error())?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let minor: u16 = rest[..digits_end].parse().map_err(|_| error())?;
        let letters = &rest[digits_end..];
        let patch = match letters.as_bytes() {
            [] => 0,
            [letter @ b'a'..=b'z'] => letter - b'a' + 1,
            _ => return Err(error()),
        };
        let version = Self::new(major, minor, patch);
        if development {
            // Just below the release it leads to.
            return Ok(version.predecessor());
        }
        Ok(version)
    }
}

impl TmuxVersion {
    /// The greatest version strictly below `self` at the precision this type keeps.
    fn predecessor(self) -> Self {
        if self.patch > 0 {
            Self::new(self.major, self.minor, self.patch - 1)
        } else if self.minor > 0 {
            Self::new(self.major, self.minor - 1, u8::MAX)
        } else {
            Self::new(self.major.saturating_sub(1), u16::MAX, u8::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_forms() {
        assert_eq!("3.3a".parse::<TmuxVersion>(), Ok(TmuxVersion::new(3, 3, 1)));
        assert_eq!("tmux 3.3a\n".parse(), Ok(TmuxVersion::new(3, 3, 1)));
        assert_eq!("3.4".parse(), Ok(TmuxVersion::new(3, 4, 0)));
        assert_eq!("master".parse(), Ok(TmuxVersion::MASTER));
    }

    #[test]
    fn development_builds_order_below_their_release() {
        let next: TmuxVersion = "next-3.4".parse().unwrap();
        let rc: TmuxVersion = "3.4-rc".parse().unwrap();
        assert!(next < TmuxVersion::new(3, 4, 0));
        assert!(next > TmuxVersion::new(3, 3, 1));
        assert!(rc < TmuxVersion::new(3, 4, 0));
    }

    #[test]
    fn rejects_garbage() {
        assert!("".parse::<TmuxVersion>().is_err());
        assert!("three".parse::<TmuxVersion>().is_err());
        assert!("3.3ab".parse::<TmuxVersion>().is_err());
    }

    #[test]
    fn displays_like_tmux() {
        assert_eq!(TmuxVersion::new(3, 3, 1).to_string(), "3.3a");
        assert_eq!(TmuxVersion::new(3, 4, 0).to_string(), "3.4");
    }
}
