//! Tests of the ownership graph and of what the collector does with an object.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::decide::{Action, attempt};
use super::graph::{FOREGROUND, Graph, Identity, ORPHAN, OwnerState, Task};
use crate::cluster::pods::fixtures::time;

fn identity(kind: &str, name: &str) -> Identity {
    Identity {
        api_version: if kind == "Pod" { "v1" } else { "apps/v1" }.into(),
        kind: kind.into(),
        namespace: Some("ns".into()),
        name: name.into(),
        uid: format!("{name}-uid"),
    }
}

fn owner(kind: &str, name: &str, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: format!("{name}-uid"),
        controller: Some(true),
        block_owner_deletion: Some(block),
    }
}

fn meta(owners: Vec<OwnerReference>, deleting: bool, finalizers: &[&str]) -> ObjectMeta {
    ObjectMeta {
        owner_references: (!owners.is_empty()).then_some(owners),
        deletion_timestamp: deleting.then(|| time(1)),
        finalizers: (!finalizers.is_empty())
            .then(|| finalizers.iter().map(|f| f.to_string()).collect()),
        ..ObjectMeta::default()
    }
}

fn attempt_task(name: &str) -> Task {
    Task::Attempt(format!("{name}-uid"))
}

#[test]
fn dependents_of_unseen_owners_are_checked() {
    let mut g = Graph::default();
    // A pod whose ReplicaSet was not seen yet: looked at (a live lookup settles it).
    let tasks = g.upsert(
        identity("Pod", "p"),
        &meta(vec![owner("ReplicaSet", "rs", true)], false, &[]),
    );
    assert_eq!(tasks, [attempt_task("p")]);
    assert_eq!(
        g.owner_state(&owner("ReplicaSet", "rs", true)),
        OwnerState::Unknown
    );
    // The ReplicaSet shows up: it is solid, and no more work.
    assert!(
        g.upsert(identity("ReplicaSet", "rs"), &meta(vec![], false, &[]))
            .is_empty()
    );
    assert_eq!(
        g.owner_state(&owner("ReplicaSet", "rs", true)),
        OwnerState::Solid
    );
    assert!(g.with_unknown_owners().is_empty());
}

#[test]
fn deleting_an_owner_looks_at_its_dependents() {
    let mut g = Graph::default();
    g.upsert(identity("ReplicaSet", "rs"), &meta(vec![], false, &[]));
    g.upsert(
        identity("Pod", "a"),
        &meta(vec![owner("ReplicaSet", "rs", true)], false, &[]),
    );
    g.upsert(
        identity("Pod", "b"),
        &meta(vec![owner("ReplicaSet", "rs", true)], false, &[]),
    );
    assert_eq!(g.remove("rs-uid"), [attempt_task("a"), attempt_task("b")]);
    assert_eq!(
        g.owner_state(&owner("ReplicaSet", "rs", true)),
        OwnerState::Dangling
    );
}

#[test]
fn foreground_deletion() {
    let mut g = Graph::default();
    g.upsert(identity("Deployment", "d"), &meta(vec![], false, &[]));
    g.upsert(
        identity("ReplicaSet", "rs"),
        &meta(vec![owner("Deployment", "d", true)], false, &[]),
    );
    g.upsert(
        identity("Pod", "p"),
        &meta(vec![owner("ReplicaSet", "rs", true)], false, &[]),
    );
    // The Deployment starts deleting in the foreground: it and its dependents are looked at.
    let tasks = g.upsert(
        identity("Deployment", "d"),
        &meta(vec![], true, &[FOREGROUND]),
    );
    assert_eq!(tasks, [attempt_task("d"), attempt_task("rs")]);
    assert_eq!(
        g.owner_state(&owner("Deployment", "d", true)),
        OwnerState::Waiting
    );
    assert_eq!(g.blocking_dependents("d-uid").len(), 1);
    // The ReplicaSet has dependents of its own: it goes in the foreground too.
    let rs = g.node("rs-uid").unwrap().clone();
    assert_eq!(
        attempt(
            &rs,
            &[(owner("Deployment", "d", true), OwnerState::Waiting)]
        ),
        Action::Delete("Foreground")
    );
    // Once the ReplicaSet is gone the Deployment is looked at again (to drop its finalizer).
    g.upsert(
        identity("ReplicaSet", "rs"),
        &meta(vec![owner("Deployment", "d", true)], true, &[FOREGROUND]),
    );
    assert_eq!(g.remove("rs-uid"), [attempt_task("d"), attempt_task("p")]);
    assert!(g.blocking_dependents("d-uid").is_empty());
}

#[test]
fn orphaning_is_asked_for_once() {
    let mut g = Graph::default();
    g.upsert(identity("ReplicaSet", "rs"), &meta(vec![], false, &[]));
    g.upsert(
        identity("Pod", "p"),
        &meta(vec![owner("ReplicaSet", "rs", true)], false, &[]),
    );
    let tasks = g.upsert(identity("ReplicaSet", "rs"), &meta(vec![], true, &[ORPHAN]));
    assert_eq!(tasks, [Task::Orphan("rs-uid".into())]);
    assert!(
        g.upsert(identity("ReplicaSet", "rs"), &meta(vec![], true, &[ORPHAN]))
            .is_empty()
    );
    // The pod lets go: the edge goes with it.
    g.upsert(identity("Pod", "p"), &meta(vec![], false, &[]));
    assert!(g.node("rs-uid").unwrap().dependents.is_empty());
}

#[test]
fn virtual_owners_found_absent_release_their_dependents() {
    let mut g = Graph::default();
    g.upsert(
        identity("Pod", "p"),
        &meta(vec![owner("ReplicaSet", "gone", true)], false, &[]),
    );
    assert_eq!(g.virtual_nodes(), ["gone-uid"]);
    assert_eq!(g.mark_absent("gone-uid"), [attempt_task("p")]);
    assert!(g.virtual_nodes().is_empty());
    assert_eq!(
        g.owner_state(&owner("ReplicaSet", "gone", true)),
        OwnerState::Dangling
    );
}

#[test]
fn decisions() {
    let mut g = Graph::default();
    g.upsert(
        identity("Pod", "p"),
        &meta(
            vec![
                owner("ReplicaSet", "a", true),
                owner("ReplicaSet", "b", true),
            ],
            false,
            &[],
        ),
    );
    let pod = g.node("p-uid").unwrap().clone();
    let (a, b) = (
        owner("ReplicaSet", "a", true),
        owner("ReplicaSet", "b", true),
    );
    let unblocked = OwnerReference {
        block_owner_deletion: Some(false),
        ..b.clone()
    };
    let cases = [
        (
            "all solid",
            vec![
                (a.clone(), OwnerState::Solid),
                (b.clone(), OwnerState::Solid),
            ],
            Action::Nothing,
        ),
        (
            "all gone",
            vec![
                (a.clone(), OwnerState::Dangling),
                (b.clone(), OwnerState::Dangling),
            ],
            Action::Delete("Background"),
        ),
        (
            "one gone, one solid: the reference goes",
            vec![
                (a.clone(), OwnerState::Solid),
                (b.clone(), OwnerState::Dangling),
            ],
            Action::SetOwners(vec![a.clone()]),
        ),
        (
            "one solid, one waiting: stop blocking it",
            vec![
                (a.clone(), OwnerState::Solid),
                (b.clone(), OwnerState::Waiting),
            ],
            Action::SetOwners(vec![a.clone(), unblocked]),
        ),
        (
            "waiting without dependents: background",
            vec![
                (a.clone(), OwnerState::Waiting),
                (b.clone(), OwnerState::Dangling),
            ],
            Action::Delete("Background"),
        ),
    ];
    for (name, states, expected) in cases {
        assert_eq!(attempt(&pod, &states), expected, "{name}");
    }
    // An object carrying the orphan finalizer keeps that policy when its owners go.
    g.upsert(
        identity("ReplicaSet", "r"),
        &meta(vec![owner("Deployment", "d", true)], false, &[ORPHAN]),
    );
    let rs = g.node("r-uid").unwrap().clone();
    assert_eq!(
        attempt(
            &rs,
            &[(owner("Deployment", "d", true), OwnerState::Dangling)]
        ),
        Action::Delete("Orphan")
    );
    // Something already being deleted is left alone.
    g.upsert(identity("Pod", "q"), &meta(vec![a.clone()], true, &[]));
    let q = g.node("q-uid").unwrap().clone();
    assert_eq!(attempt(&q, &[(a, OwnerState::Dangling)]), Action::Nothing);
}
