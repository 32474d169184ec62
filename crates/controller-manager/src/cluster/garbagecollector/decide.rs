//! What the garbage collector does with one object once the state of each of its owners is
//! known (kube's attemptToDeleteItem). Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::graph::{FOREGROUND, Node, ORPHAN, OwnerState};

#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    Nothing,
    /// Delete the object with this propagationPolicy.
    Delete(&'static str),
    /// Keep the object but rewrite its ownerReferences: references to owners that are gone are
    /// dropped, and references to owners deleting in the foreground stop blocking them.
    SetOwners(Vec<OwnerReference>),
}

/// The action for `node`, whose owners are in `states` (each settled: no `Unknown`).
pub(crate) fn attempt(node: &Node, states: &[(OwnerReference, OwnerState)]) -> Action {
    if node.deleting || states.is_empty() {
        return Action::Nothing;
    }
    let count = |state: OwnerState| states.iter().filter(|(_, s)| *s == state).count();
    let (solid, waiting, dangling) = (
        count(OwnerState::Solid) + count(OwnerState::Unknown),
        count(OwnerState::Waiting),
        count(OwnerState::Dangling),
    );
    if solid > 0 {
        if waiting == 0 && dangling == 0 {
            return Action::Nothing;
        }
        let owners: Vec<OwnerReference> = states
            .iter()
            .filter(|(_, s)| *s != OwnerState::Dangling)
            .map(|(owner, state)| {
                let mut owner = owner.clone();
                if *state == OwnerState::Waiting {
                    owner.block_owner_deletion = Some(false);
                }
                owner
            })
            .collect();
        if owners == node.owners {
            return Action::Nothing;
        }
        return Action::SetOwners(owners);
    }
    // Every owner is gone or going. One still deleting in the foreground waits for this
    // object, so an object with dependents of its own goes in the foreground too.
    if waiting > 0 && !node.dependents.is_empty() {
        return Action::Delete("Foreground");
    }
    let has = |finalizer: &str| node.finalizers.iter().any(|f| f == finalizer);
    if has(ORPHAN) {
        Action::Delete("Orphan")
    } else if has(FOREGROUND) {
        Action::Delete("Foreground")
    } else {
        Action::Delete("Background")
    }
}
