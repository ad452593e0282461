//! The argv builder operations render through: it applies the kind's version gates, renders
//! targets (or slot placeholders in previews) and puts user tokens after `--`.

use std::collections::BTreeMap;

use crate::command::TmuxCommand;
use crate::version::TmuxVersion;

use super::spec::{GateMode, OpSpec};
use super::target::{Target, TargetKind};
use super::{RenderError, ID_CAPTURE_FORMAT};

/// Builds one command's argv for one server version.
pub(crate) struct Args {
    spec: &'static OpSpec,
    version: TmuxVersion,
    preview: bool,
    argv: Vec<String>,
    stdin: Option<Vec<u8>>,
}

impl Args {
    pub(crate) fn new(spec: &'static OpSpec, version: TmuxVersion, preview: bool) -> Self {
        Self {
            spec,
            version,
            preview,
            argv: vec![spec.command.to_string()],
            stdin: None,
        }
    }

    /// An `Invalid` error for this kind.
    pub(crate) fn invalid(&self, field: &'static str, reason: impl Into<String>) -> RenderError {
        RenderError::Invalid {
            kind: self.spec.kind,
            field,
            reason: reason.into(),
        }
    }

    /// Whether `flag` may be written: true unless gated above the running version; a refusing
    /// gate is an error.
    fn allowed(&self, flag: &'static str) -> Result<bool, RenderError> {
        let Some(gate) = self.spec.gate(flag) else {
            return Ok(true);
        };
        if self.version >= gate.since {
            return Ok(true);
        }
        match gate.on_older {
            GateMode::Drop => Ok(false),
            GateMode::Refuse => Err(RenderError::FlagUnsupported {
                kind: self.spec.kind,
                flag,
                needed: gate.since,
                running: self.version,
            }),
        }
    }

    /// Checks a gate (such as a value form like `-x N%`) without writing anything.
    pub(crate) fn require(&self, flag: &'static str) -> Result<(), RenderError> {
        self.allowed(flag).map(|_| ())
    }

    /// Whether a gated flag or form is available on the running server (never an error).
    pub(crate) fn supports(&self, flag: &'static str) -> bool {
        self.spec
            .gate(flag)
            .is_none_or(|gate| self.version >= gate.since)
    }

    /// Writes a bare flag.
    pub(crate) fn flag(&mut self, flag: &'static str) -> Result<(), RenderError> {
        if self.allowed(flag)? {
            self.argv.push(flag.to_string());
        }
        Ok(())
    }

    /// Writes a bare flag when `on` is true.
    pub(crate) fn flag_if(&mut self, on: bool, flag: &'static str) -> Result<(), RenderError> {
        if on {
            self.flag(flag)?;
        }
        Ok(())
    }

    /// Writes a flag and its value.
    pub(crate) fn value(
        &mut self,
        flag: &'static str,
        value: impl Into<String>,
    ) -> Result<(), RenderError> {
        if self.allowed(flag)? {
            self.argv.push(flag.to_string());
            self.argv.push(value.into());
        }
        Ok(())
    }

    /// Writes a flag and its value when there is one.
    pub(crate) fn value_opt(
        &mut self,
        flag: &'static str,
        value: Option<&str>,
    ) -> Result<(), RenderError> {
        match value {
            Some(value) => self.value(flag, value),
            None => Ok(()),
        }
    }

    /// Writes a flag and a non-empty name.
    pub(crate) fn name(
        &mut self,
        flag: &'static str,
        field: &'static str,
        name: Option<&str>,
    ) -> Result<(), RenderError> {
        if let Some(name) = name {
            if name.is_empty() {
                return Err(self.invalid(field, "cannot be empty"));
            }
            self.value(flag, name)?;
        }
        Ok(())
    }

    /// Writes `flag target` for an argument expecting an object of `kind`.
    pub(crate) fn target(
        &mut self,
        flag: &'static str,
        target: &Target,
        kind: TargetKind,
    ) -> Result<(), RenderError> {
        target
            .check_kind(kind)
            .map_err(|error| RenderError::Invalid {
                kind: self.spec.kind,
                field: "target",
                reason: error.to_string(),
            })?;
        let word = match (target.tmux_word(kind), target) {
            (Some(word), _) => word,
            (None, Target::Slot(slot)) if self.preview => slot.to_string(),
            (None, Target::Slot(slot)) => return Err(RenderError::UnresolvedSlot(*slot)),
            (None, _) => return Err(self.invalid("target", "cannot be rendered")),
        };
        self.value(flag, word)
    }

    /// Writes `flag target` when there is a target.
    pub(crate) fn target_opt(
        &mut self,
        flag: &'static str,
        target: Option<&Target>,
        kind: TargetKind,
    ) -> Result<(), RenderError> {
        match target {
            Some(target) => self.target(flag, target, kind),
            None => Ok(()),
        }
    }

    /// Writes `-e NAME=VALUE` per variable (a gated flag on several commands).
    pub(crate) fn environment(
        &mut self,
        environment: &BTreeMap<String, String>,
    ) -> Result<(), RenderError> {
        for (name, value) in environment {
            if name.is_empty() || name.contains('=') {
                return Err(self.invalid(
                    "environment",
                    format!("variable name {name:?} must be non-empty and contain no '='"),
                ));
            }
            self.value("-e", format!("{name}={value}"))?;
        }
        Ok(())
    }

    /// Asks a creator to print the new ids (`-P -F` [`ID_CAPTURE_FORMAT`]).
    pub(crate) fn capture_ids(&mut self) -> Result<(), RenderError> {
        self.flag("-P")?;
        self.value("-F", ID_CAPTURE_FORMAT)
    }

    /// Renders `op`, an operation run by this one (`if-shell`'s branches), as one command
    /// string for the same server version.
    pub(crate) fn nested(
        &self,
        field: &'static str,
        op: &super::Operation,
    ) -> Result<String, RenderError> {
        op.line(self.version, self.preview)
            .map_err(|error| match error {
                RenderError::Invalid { reason, .. } => self.invalid(field, reason),
                other => other,
            })
    }

    /// Writes user tokens after `--`, so a token starting with `-` is never read as a flag.
    pub(crate) fn positional<I, S>(&mut self, words: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut words = words.into_iter().peekable();
        if words.peek().is_some() {
            self.argv.push("--".to_string());
            self.argv.extend(words.map(Into::into));
        }
    }

    /// Writes one word as is (used for `-` meaning standard input).
    pub(crate) fn raw(&mut self, word: &str) {
        self.argv.push(word.to_string());
    }

    /// Feeds bytes to the command's standard input.
    pub(crate) fn stdin(&mut self, data: Vec<u8>) {
        self.stdin = Some(data);
    }

    /// The finished command; refuses NUL in any argv word (standard input may carry it).
    pub(crate) fn finish(self) -> Result<TmuxCommand, RenderError> {
        if let Some(index) = self.argv.iter().position(|word| word.contains('\0')) {
            return Err(RenderError::Invalid {
                kind: self.spec.kind,
                field: "argument",
                reason: format!(
                    "argument {index} contains a NUL byte, which tmux cannot carry in an argument; send such bytes with load_buffer from data"
                ),
            });
        }
        Ok(TmuxCommand {
            argv: self.argv,
            stdin: self.stdin,
        })
    }
}
