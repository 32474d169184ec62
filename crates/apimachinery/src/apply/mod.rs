//! Server-side apply and field ownership (`metadata.managedFields`), as kube-apiserver 1.33 keeps
//! them: which manager set which field, recorded on every write, and the apply operation that
//! merges a configuration and refuses to take fields from other managers unless forced.
//!
//! Everything here is pure: the server passes the stored object, the request's object, the
//! manager's name and the time, and stores what comes back.
//!
//! - [`record_update`] for create, update and patch.
//! - [`apply`] for `application/apply-patch+yaml` patches, creating when there is no object.
//! - [`owned_fields`] and [`FieldSet`] for the fieldsV1 format itself.

mod error;
mod fields;
mod managed;
mod merge;
mod path;
mod schema;
mod server_side;
mod set;
mod update;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use error::{ApplyError, Conflict};
pub use managed::{ManagedFieldsEntry, Operation, managed_fields};
pub use path::{FieldPath, PathElement};
pub use server_side::apply;
pub use set::FieldSet;
pub use update::record_update;

/// Who writes, and through what: what a `managedFields` entry is recorded under.
#[derive(Debug, Clone, Copy)]
pub struct FieldManager<'a> {
    /// The request's `fieldManager`, else what [`manager_name`] makes of its user agent.
    /// kubectl names itself per command (`kubectl-create`, `kubectl-edit`, `kubectl-label`,
    /// `kubectl-client-side-apply`, and `kubectl` for server-side apply).
    pub manager: &'a str,
    /// The object's kind (`Deployment`): it decides how lists are keyed.
    pub kind: &'a str,
    /// The version of the request (`v1`, `apps/v1`).
    pub api_version: &'a str,
    /// `""` for the main resource, else the subresource written (`status`, `scale`).
    pub subresource: &'a str,
    /// Whether the kind has a `status` subresource. Then main-resource writes own nothing under
    /// `status` and status writes own nothing under `spec`, as kube's reset fields have it.
    pub status_subresource: bool,
    /// The time of the write, RFC 3339 in UTC to the second (`2025-05-01T10:00:00Z`), as kube
    /// writes entry times. Entries are ordered by comparing these texts.
    pub now: &'a str,
}

impl FieldManager<'_> {
    /// The fields this write may not own: the strategy resets whatever the request sets there.
    fn reset_fields(&self) -> Vec<FieldPath> {
        match (self.status_subresource, self.subresource) {
            (true, "") => vec![FieldPath::fields(&["status"])],
            (true, "status") => vec![FieldPath::fields(&["spec"])],
            _ => Vec::new(),
        }
    }
}

/// The manager of a request, as kube names it: its `fieldManager` when given, else its user
/// agent up to the first `/` (`kubectl` for `kubectl/v1.33.0 (linux/amd64) ...`) without
/// unprintable characters and cut to 128 bytes, else `unknown`.
pub fn manager_name(field_manager: Option<&str>, user_agent: &str) -> String {
    if let Some(name) = field_manager.filter(|m| !m.is_empty()) {
        return name.to_string();
    }
    let mut name = String::new();
    let prefix = user_agent.split('/').next().unwrap_or_default();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if name.len() + c.len_utf8() > 128 {
            break;
        }
        name.push(c);
    }
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// The fields `object` (a stored object or an applied configuration) of `kind` sets, as its
/// applier would own them: metadata kube never tracks (name, namespace, uid, resourceVersion,
/// generation, creationTimestamp, managedFields), `apiVersion` and `kind` left out, and with
/// `status_subresource` everything under `status` too.
pub fn owned_fields(
    object: &Value,
    kind: &str,
    status_subresource: bool,
) -> Result<FieldSet, ApplyError> {
    let set =
        fields::field_set(&schema::Schema::new(kind), object, true).map_err(ApplyError::Invalid)?;
    let reset = if status_subresource {
        vec![FieldPath::fields(&["status"])]
    } else {
        Vec::new()
    };
    Ok(strip_meta(&set.without_subtrees(&reset)))
}

/// The set without the fields kube never records an owner for.
fn strip_meta(set: &FieldSet) -> FieldSet {
    const TOP: &[&str] = &["apiVersion", "kind", "metadata"];
    const META: &[&str] = &[
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ];
    let mut out = set.clone();
    for name in TOP {
        out.remove(&FieldPath::fields(&[name]));
    }
    for name in META {
        out.remove(&FieldPath::fields(&["metadata", name]));
    }
    out
}
