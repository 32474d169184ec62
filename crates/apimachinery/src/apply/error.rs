//! Why an apply failed, worded as kube-apiserver words it, and the `Status` it answers with.

use crate::status::{ApiError, Cause};

/// A field the applied configuration would change that another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager as kube prints it: `"kubectl"` for an applier, `"kubectl-edit" using
    /// v1` for an updater, with ` with subresource "status"` after the name where it wrote
    /// through a subresource.
    pub manager: String,
    /// The field: `.data.color`, `.spec.template.spec.containers[name="app"].image`.
    pub field: String,
}

/// An apply that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The configuration sets fields other managers own to other values. The client may retry
    /// with `force` to take them over. The list is in kube's order: by manager, then by field.
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The request is malformed: its `apiVersion` or `kind` is not the endpoint's, or it sets
    /// `metadata.managedFields`. Answered 400.
    #[error("{0}")]
    BadRequest(String),
    /// The configuration, or the stored object, does not fit the kind's list types: an item of
    /// a keyed list without its key, two items with one key, an object in a set. kube answers
    /// these 500 with the text as is.
    #[error("{0}")]
    Invalid(String),
}

/// `Apply failed with 1 conflict: conflict with "kubectl": .data.color`, or for several, one line
/// per manager followed by its fields.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager, only.field
        );
    }
    let mut lines = Vec::new();
    let mut current: Option<&str> = None;
    for conflict in conflicts {
        if current != Some(conflict.manager.as_str()) {
            lines.push(format!("conflicts with {}:", conflict.manager));
            current = Some(&conflict.manager);
        }
        lines.push(format!("- {}", conflict.field));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

impl ApplyError {
    /// The `Status` kube-apiserver answers with. A conflict is 409 `Conflict` whose details carry
    /// only the causes (reason `FieldManagerConflict`, one per field): kube names neither the
    /// object nor its kind there, so neither does this.
    pub fn into_api_error(self) -> ApiError {
        match self {
            ApplyError::Conflicts(conflicts) => {
                let mut err = ApiError::new(409, "Conflict", conflict_message(&conflicts));
                err.causes = conflicts
                    .into_iter()
                    .map(|c| Cause {
                        reason: "FieldManagerConflict".into(),
                        field: c.field,
                        message: format!("conflict with {}", c.manager),
                    })
                    .collect();
                err
            }
            ApplyError::BadRequest(message) => ApiError::bad_request(message),
            ApplyError::Invalid(message) => ApiError::new(500, "", message),
        }
    }
}
