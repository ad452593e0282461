//! The operation catalog: every kind's metadata and JSON fields, generated from the one table
//! of [`OpSpec`] rows, for `cao tmux catalog --json`, MCP schemas and docs.

use serde::Serialize;

use super::spec::{Effects, FieldSpec, FlagGate, OpSpec, Safety, Scope};
use super::OpKind;

/// One kind as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntry {
    pub kind: OpKind,
    pub command: &'static str,
    pub scope: Scope,
    pub safety: Safety,
    pub effects: Effects,
    pub chainable: bool,
    /// The oldest server with the command, as tmux prints versions (`3.3a`).
    pub min_version: String,
    pub flag_gates: &'static [FlagGate],
    pub blocking: bool,
    pub queues_commands: bool,
    pub captures_ids: bool,
    pub description: &'static str,
    /// The JSON fields besides `kind`.
    pub fields: &'static [FieldSpec],
}

impl From<&'static OpSpec> for CatalogEntry {
    fn from(spec: &'static OpSpec) -> Self {
        CatalogEntry {
            kind: spec.kind,
            command: spec.command,
            scope: spec.scope,
            safety: spec.safety,
            effects: spec.effects,
            chainable: spec.chainable,
            min_version: spec.min_version.to_string(),
            flag_gates: spec.flag_gates,
            blocking: spec.blocking,
            queues_commands: spec.queues_commands,
            captures_ids: spec.captures_ids,
            description: spec.description,
            fields: spec.fields,
        }
    }
}

/// Every operation kind, alphabetically.
pub fn catalog() -> Vec<CatalogEntry> {
    OpKind::ALL
        .iter()
        .map(|kind| CatalogEntry::from(kind.spec()))
        .collect()
}
