//! Paste buffer operations: set_buffer, load_buffer, save_buffer, show_buffer, delete_buffer,
//! list_buffers, paste_buffer.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::render::Args;
use super::result::BUFFER_FORMAT;
use super::spec::{gate, opt, req, Effects, GateMode, OpSpec, V3_2};
use super::target::{Target, TargetKind};
use super::{targets, OpDef, RenderError};

/// A row of the table with the fields buffer commands share.
macro_rules! buffer_spec {
    ($kind:ident, $command:literal, $scope:ident, $safety:ident, $effects:expr, $gates:expr, $description:literal, $fields:expr) => {
        $crate::ops::spec::plain_spec!(
            $kind,
            $command,
            $scope,
            $safety,
            $effects,
            true,
            $gates,
            $description,
            $fields
        )
    };
}

const NAME_FIELD: super::FieldSpec = opt(
    "name",
    "string (buffer name; the newest buffer when absent)",
);

/// `set-buffer`: sets a buffer from text (which cannot contain NUL; see [`LoadBuffer`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBuffer {
    /// The buffer (`-b`); a new automatic buffer when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The text.
    pub data: String,
    /// Append to the buffer instead of replacing it (`-a`).
    #[serde(default)]
    pub append: bool,
    /// Also send it to the terminal clipboard (`-w`, tmux 3.2+; dropped on older servers).
    #[serde(default)]
    pub clipboard: bool,
}

impl OpDef for SetBuffer {
    const SPEC: &'static OpSpec = buffer_spec!(
        SetBuffer,
        "set-buffer",
        Server,
        Mutating,
        Effects::SET,
        &[gate("-w", V3_2, GateMode::Drop)],
        "Set a paste buffer from text (no NUL bytes; use load_buffer for those)",
        &[
            NAME_FIELD,
            req("data", "string"),
            opt("append", "bool"),
            opt("clipboard", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.append, "-a")?;
        args.flag_if(self.clipboard, "-w")?;
        args.name("-b", "name", self.name.as_deref())?;
        args.positional([self.data.as_str()]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// Where `load-buffer` reads from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BufferSource {
    /// A file the tmux server reads.
    File(PathBuf),
    /// These bytes, fed on standard input (any byte, NUL included).
    Data(String),
}

/// `load-buffer`: sets a buffer from a file or from data on standard input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBuffer {
    /// The buffer (`-b`); a new automatic buffer when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The file or data.
    pub source: BufferSource,
    /// Also send it to the terminal clipboard (`-w`, tmux 3.2+; dropped on older servers).
    #[serde(default)]
    pub clipboard: bool,
}

impl OpDef for LoadBuffer {
    const SPEC: &'static OpSpec = buffer_spec!(
        LoadBuffer,
        "load-buffer",
        Server,
        Mutating,
        Effects::SET,
        &[gate("-w", V3_2, GateMode::Drop)],
        "Set a paste buffer from a file or from data (any bytes, via standard input)",
        &[
            NAME_FIELD,
            req("source", "{\"file\": path} | {\"data\": string}"),
            opt("clipboard", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.clipboard, "-w")?;
        args.name("-b", "name", self.name.as_deref())?;
        match &self.source {
            BufferSource::File(path) => {
                let path = path
                    .to_str()
                    .ok_or_else(|| args.invalid("source", "the path is not valid UTF-8"))?;
                if path.is_empty() || path == "-" {
                    return Err(
                        args.invalid("source", "give a file path (use data for standard input)")
                    );
                }
                args.positional([path]);
            }
            BufferSource::Data(data) => {
                // The last word must be exactly `-`: engines without a stdin pipe replace it
                // with a file path (see `TmuxCommand`).
                args.raw("-");
                args.stdin(data.as_bytes().to_vec());
            }
        }
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `save-buffer`: writes a buffer to a file the server can reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveBuffer {
    /// The buffer (`-b`).
    #[serde(default)]
    pub name: Option<String>,
    /// The file.
    pub path: PathBuf,
    /// Append to the file (`-a`).
    #[serde(default)]
    pub append: bool,
}

impl OpDef for SaveBuffer {
    const SPEC: &'static OpSpec = buffer_spec!(
        SaveBuffer,
        "save-buffer",
        Server,
        Mutating,
        Effects::SET,
        &[],
        "Write a paste buffer to a file",
        &[
            NAME_FIELD,
            req("path", "string (path)"),
            opt("append", "bool")
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.append, "-a")?;
        args.name("-b", "name", self.name.as_deref())?;
        let path = self
            .path
            .to_str()
            .ok_or_else(|| args.invalid("path", "the path is not valid UTF-8"))?;
        if path.is_empty() {
            return Err(args.invalid("path", "cannot be empty"));
        }
        args.positional([path]);
        Ok(())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `show-buffer`: a buffer's contents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowBuffer {
    /// The buffer (`-b`).
    #[serde(default)]
    pub name: Option<String>,
}

impl OpDef for ShowBuffer {
    const SPEC: &'static OpSpec = buffer_spec!(
        ShowBuffer,
        "show-buffer",
        Server,
        Readonly,
        Effects {
            reads_output: true,
            ..Effects::READ
        },
        &[],
        "Print a paste buffer (payload lines)",
        &[NAME_FIELD]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.name("-b", "name", self.name.as_deref())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `delete-buffer`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBuffer {
    /// The buffer (`-b`).
    #[serde(default)]
    pub name: Option<String>,
}

impl OpDef for DeleteBuffer {
    const SPEC: &'static OpSpec = buffer_spec!(
        DeleteBuffer,
        "delete-buffer",
        Server,
        Destructive,
        Effects::DESTROY,
        &[],
        "Delete a paste buffer",
        &[NAME_FIELD]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.name("-b", "name", self.name.as_deref())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `list-buffers`: the paste buffers as typed rows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBuffers {
    /// Only buffers for which this format is true (`-f`, tmux 3.2+).
    #[serde(default)]
    pub filter: Option<String>,
}

impl OpDef for ListBuffers {
    const SPEC: &'static OpSpec = buffer_spec!(
        ListBuffers,
        "list-buffers",
        Server,
        Readonly,
        Effects::READ,
        &[gate("-f", V3_2, GateMode::Refuse)],
        "List the paste buffers with their sizes (payload buffers)",
        &[opt("filter", "string (tmux format)")]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.value("-F", BUFFER_FORMAT)?;
        args.value_opt("-f", self.filter.as_deref())
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        Vec::new()
    }
}

/// `paste-buffer`: types a buffer into a pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasteBuffer {
    /// The pane (`-t`).
    pub target: Target,
    /// The buffer (`-b`).
    #[serde(default)]
    pub name: Option<String>,
    /// Delete the buffer afterwards (`-d`).
    #[serde(default)]
    pub delete_after: bool,
    /// Use bracketed paste if the program asked for it (`-p`).
    #[serde(default)]
    pub bracketed: bool,
    /// Replace each newline with this separator (`-s`; a carriage return by default).
    #[serde(default)]
    pub separator: Option<String>,
    /// Keep newlines as they are (`-r`).
    #[serde(default)]
    pub raw_newlines: bool,
}

impl OpDef for PasteBuffer {
    const SPEC: &'static OpSpec = buffer_spec!(
        PasteBuffer,
        "paste-buffer",
        Pane,
        Mutating,
        Effects {
            writes_input: true,
            idempotent: false,
            ..Effects::SET
        },
        &[],
        "Paste a buffer into a pane as input",
        &[
            req("target", "target (pane)"),
            NAME_FIELD,
            opt("delete_after", "bool"),
            opt("bracketed", "bool"),
            opt("separator", "string"),
            opt("raw_newlines", "bool"),
        ]
    );

    fn render_into(&self, args: &mut Args) -> Result<(), RenderError> {
        args.flag_if(self.delete_after, "-d")?;
        args.flag_if(self.bracketed, "-p")?;
        args.flag_if(self.raw_newlines, "-r")?;
        args.value_opt("-s", self.separator.as_deref())?;
        args.name("-b", "name", self.name.as_deref())?;
        args.target("-t", &self.target, TargetKind::Pane)
    }

    fn targets_mut(&mut self) -> Vec<&mut Target> {
        targets([Some(&mut self.target)])
    }
}
