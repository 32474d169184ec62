//! Table tests for server-side apply and field ownership: field sets and fieldsV1, ownership
//! moves on ordinary writes, and apply with its merges, removals and conflicts.

mod apply;
mod fields;
mod update;

use serde_json::Value;

use super::{FieldManager, ManagedFieldsEntry, managed_fields};

const NOW: &str = "2025-05-01T10:00:00Z";
const LATER: &str = "2025-05-01T11:00:00Z";

/// A main-resource write by `manager` to a kind without a status subresource.
fn writer<'a>(manager: &'a str, kind: &'a str, api_version: &'a str) -> FieldManager<'a> {
    FieldManager {
        manager,
        kind,
        api_version,
        subresource: "",
        status_subresource: false,
        now: NOW,
    }
}

/// The object's entries as (manager, operation, fieldsV1).
fn entries(object: &Value) -> Vec<(String, &'static str, Value)> {
    managed_fields(object)
        .expect("managedFields read back")
        .into_iter()
        .map(|e: ManagedFieldsEntry| {
            (
                e.manager.clone(),
                e.operation.as_str(),
                e.fields.to_fields_v1(),
            )
        })
        .collect()
}

/// The object without its managedFields, to compare content alone.
fn content(object: &Value) -> Value {
    super::managed::without_managed_fields(object)
}
