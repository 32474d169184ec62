//! The garbage collector's dependency graph: every object seen (by UID) with its
//! ownerReferences, and the reverse edges to its dependents. Owners referenced but not seen are
//! "virtual" until a live lookup settles whether they exist. Applying a watch event returns the
//! work it calls for. Pure.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The finalizer that holds an owner until its blocking dependents are gone.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer that holds an owner until its dependents no longer name it.
pub(crate) const ORPHAN: &str = "orphan";
/// How many deleted owners are remembered as absent (a cache to spare live lookups).
const ABSENT_REMEMBERED: usize = 10_000;

/// Which object a node is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    /// `None` for cluster-scoped objects (or a virtual owner whose scope is not known yet).
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) uid: String,
}

/// One object in the graph.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) identity: Identity,
    /// Seen through a watch (false: only named as someone's owner).
    pub(crate) observed: bool,
    pub(crate) owners: Vec<OwnerReference>,
    pub(crate) dependents: BTreeSet<String>,
    pub(crate) deleting: bool,
    pub(crate) finalizers: Vec<String>,
    /// The last resourceVersion seen, to guard the collector's own writes.
    pub(crate) resource_version: Option<String>,
}

impl Node {
    fn virtual_owner(owner: &OwnerReference, namespace: Option<String>) -> Node {
        Node {
            identity: Identity {
                api_version: owner.api_version.clone(),
                kind: owner.kind.clone(),
                namespace,
                name: owner.name.clone(),
                uid: owner.uid.clone(),
            },
            observed: false,
            owners: Vec::new(),
            dependents: BTreeSet::new(),
            deleting: false,
            finalizers: Vec::new(),
            resource_version: None,
        }
    }

    fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Being deleted in the foreground: waits for its blocking dependents.
    pub(crate) fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }

    /// Being deleted with its dependents orphaned.
    pub(crate) fn orphaning(&self) -> bool {
        self.deleting && self.has_finalizer(ORPHAN)
    }
}

/// Work the graph asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Task {
    /// Look at an object: delete it if its owners are gone, settle a virtual owner, or finish a
    /// foreground deletion.
    Attempt(String),
    /// Orphan an owner's dependents, then drop its `orphan` finalizer.
    Orphan(String),
}

/// What an ownerReference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnerState {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Exists, deleting in the foreground.
    Waiting,
    /// Gone (or replaced by another object of the same name).
    Dangling,
    /// Not in the graph: a live lookup must tell.
    Unknown,
}

#[derive(Default)]
pub(crate) struct Graph {
    nodes: HashMap<String, Node>,
    absent: HashSet<String>,
    absent_order: VecDeque<String>,
}

fn owner_uids(owners: &[OwnerReference]) -> BTreeSet<&str> {
    owners.iter().map(|o| o.uid.as_str()).collect()
}

impl Graph {
    pub(crate) fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Records that `uid` no longer exists.
    fn remember_absent(&mut self, uid: &str) {
        if self.absent.insert(uid.to_string()) {
            self.absent_order.push_back(uid.to_string());
            if self.absent_order.len() > ABSENT_REMEMBERED
                && let Some(oldest) = self.absent_order.pop_front()
            {
                self.absent.remove(&oldest);
            }
        }
    }

    /// An object seen added or changed.
    pub(crate) fn upsert(&mut self, identity: Identity, meta: &ObjectMeta) -> Vec<Task> {
        let uid = identity.uid.clone();
        let owners = meta.owner_references.clone().unwrap_or_default();
        let mut tasks = Vec::new();
        let before = self.nodes.get(&uid).cloned();
        let (old_owners, was_deleting_dependents, was_orphaning) = match &before {
            Some(node) if node.observed => (
                node.owners.clone(),
                node.deleting_dependents(),
                node.orphaning(),
            ),
            _ => (Vec::new(), false, false),
        };
        let namespace = identity.namespace.clone();
        let node = self.nodes.entry(uid.clone()).or_insert_with(|| Node {
            identity: identity.clone(),
            observed: true,
            owners: Vec::new(),
            dependents: BTreeSet::new(),
            deleting: false,
            finalizers: Vec::new(),
            resource_version: None,
        });
        node.identity = identity;
        node.resource_version = meta.resource_version.clone();
        node.observed = true;
        node.owners = owners.clone();
        node.deleting = meta.deletion_timestamp.is_some();
        node.finalizers = meta.finalizers.clone().unwrap_or_default();
        let (deleting_dependents, orphaning) = (node.deleting_dependents(), node.orphaning());
        let dependents: Vec<String> = node.dependents.iter().cloned().collect();

        let (old_uids, new_uids) = (owner_uids(&old_owners), owner_uids(&owners));
        for gone in old_uids.difference(&new_uids) {
            tasks.extend(self.unlink(gone, &uid));
        }
        for owner in &owners {
            let added = !old_uids.contains(owner.uid.as_str());
            let reblocked = old_owners.iter().any(|o| {
                o.uid == owner.uid && o.block_owner_deletion != owner.block_owner_deletion
            });
            let absent = self.absent.contains(&owner.uid);
            let node = self
                .nodes
                .entry(owner.uid.clone())
                .or_insert_with(|| Node::virtual_owner(owner, namespace.clone()));
            node.dependents.insert(uid.clone());
            if added && (!node.observed || node.deleting_dependents() || absent) {
                tasks.push(Task::Attempt(uid.clone()));
            }
            if reblocked && node.deleting_dependents() {
                tasks.push(Task::Attempt(owner.uid.clone()));
            }
        }
        if deleting_dependents && !was_deleting_dependents {
            tasks.push(Task::Attempt(uid.clone()));
            tasks.extend(dependents.iter().cloned().map(Task::Attempt));
        }
        if orphaning && !was_orphaning {
            tasks.push(Task::Orphan(uid));
        }
        tasks.sort();
        tasks.dedup();
        tasks
    }

    /// Drops the edge owner -> dependent; work if the owner was waiting for it.
    fn unlink(&mut self, owner: &str, dependent: &str) -> Vec<Task> {
        let Some(node) = self.nodes.get_mut(owner) else {
            return Vec::new();
        };
        node.dependents.remove(dependent);
        if !node.observed && node.dependents.is_empty() {
            self.nodes.remove(owner);
            return Vec::new();
        }
        if node.deleting_dependents() {
            vec![Task::Attempt(owner.to_string())]
        } else {
            Vec::new()
        }
    }

    /// An object seen deleted.
    pub(crate) fn remove(&mut self, uid: &str) -> Vec<Task> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut tasks: Vec<Task> = node.dependents.iter().cloned().map(Task::Attempt).collect();
        if !node.dependents.is_empty() {
            self.remember_absent(uid);
        }
        for owner in &node.owners {
            tasks.extend(self.unlink(&owner.uid, uid));
        }
        tasks.sort();
        tasks.dedup();
        tasks
    }

    /// A virtual owner found not to exist: its dependents are looked at again.
    pub(crate) fn mark_absent(&mut self, uid: &str) -> Vec<Task> {
        self.remember_absent(uid);
        match self.nodes.get(uid) {
            Some(node) if !node.observed => {
                let node = self.nodes.remove(uid).expect("just seen");
                node.dependents.into_iter().map(Task::Attempt).collect()
            }
            _ => Vec::new(),
        }
    }

    /// What `owner` points at, as far as the graph knows.
    pub(crate) fn owner_state(&self, owner: &OwnerReference) -> OwnerState {
        match self.nodes.get(&owner.uid) {
            Some(node) if node.observed => {
                if node.deleting_dependents() {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                }
            }
            _ if self.absent.contains(&owner.uid) => OwnerState::Dangling,
            _ => OwnerState::Unknown,
        }
    }

    /// The dependents of `uid` that block its deletion (blockOwnerDeletion on their reference).
    pub(crate) fn blocking_dependents(&self, uid: &str) -> Vec<&Node> {
        let Some(node) = self.nodes.get(uid) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion == Some(true))
            })
            .collect()
    }

    /// Every observed node with an owner the graph does not know, for the first pass after
    /// the caches fill.
    pub(crate) fn with_unknown_owners(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.observed)
            .filter(|n| {
                n.owners
                    .iter()
                    .any(|o| self.owner_state(o) != OwnerState::Solid)
            })
            .map(|n| n.identity.uid.clone())
            .collect()
    }

    /// The UIDs of every virtual node.
    pub(crate) fn virtual_nodes(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| !n.observed)
            .map(|n| n.identity.uid.clone())
            .collect()
    }
}
