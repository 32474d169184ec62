//! The informer cache: the last state seen of every object of one kind, by namespace and name,
//! and the changes that keep it so. Pure: the informer (`informer.rs`) feeds it watch events.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kube::Resource;

/// A change to a cache, as handlers see it.
pub(crate) enum Change<K> {
    /// Added or modified; `old` is the version cached before, if any.
    Applied { old: Option<Arc<K>>, new: Arc<K> },
    /// Deleted (or gone from a relist); the last version seen.
    Deleted(Arc<K>),
    /// A full list has been applied: the cache holds every object.
    Synced,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied { old, new } => Change::Applied {
                old: old.clone(),
                new: new.clone(),
            },
            Change::Deleted(old) => Change::Deleted(old.clone()),
            Change::Synced => Change::Synced,
        }
    }
}

/// A shared, read-mostly view of every object of one kind. Cheap to clone.
pub(crate) struct Cache<K> {
    inner: Arc<RwLock<Objects<K>>>,
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

impl<K> Default for Cache<K> {
    fn default() -> Self {
        Cache {
            inner: Arc::new(RwLock::new(Objects::default())),
        }
    }
}

impl<K: Resource> Cache<K> {
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.read().get(namespace, name)
    }

    /// Every object in `namespace` ("" for cluster-scoped kinds), in name order.
    pub(crate) fn list(&self, namespace: &str) -> Vec<Arc<K>> {
        self.read()
            .by_namespace
            .get(namespace)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Objects<K>> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Objects<K>> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The objects themselves.
pub(crate) struct Objects<K> {
    by_namespace: HashMap<String, BTreeMap<String, Arc<K>>>,
    synced: bool,
}

impl<K> Default for Objects<K> {
    fn default() -> Self {
        Objects {
            by_namespace: HashMap::new(),
            synced: false,
        }
    }
}

fn key_of<K: Resource>(object: &K) -> (String, String) {
    let meta = object.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl<K: Resource> Objects<K> {
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.by_namespace.get(namespace)?.get(name).cloned()
    }

    /// Stores `object`; a change unless it is the version already cached.
    pub(crate) fn apply(&mut self, object: K) -> Option<Change<K>> {
        let (namespace, name) = key_of(&object);
        let new = Arc::new(object);
        let old = self
            .by_namespace
            .entry(namespace)
            .or_default()
            .insert(name, new.clone());
        if let Some(old) = &old
            && old.meta().resource_version.is_some()
            && old.meta().resource_version == new.meta().resource_version
        {
            return None;
        }
        Some(Change::Applied { old, new })
    }

    /// Drops `object`; a change if it was cached (a delete of an unknown object still tells
    /// handlers, with the deleted version).
    pub(crate) fn delete(&mut self, object: K) -> Change<K> {
        let (namespace, name) = key_of(&object);
        let removed = self
            .by_namespace
            .get_mut(&namespace)
            .and_then(|objects| objects.remove(&name));
        if self
            .by_namespace
            .get(&namespace)
            .is_some_and(BTreeMap::is_empty)
        {
            self.by_namespace.remove(&namespace);
        }
        Change::Deleted(removed.unwrap_or_else(|| Arc::new(object)))
    }

    /// Replaces everything with a full list: what changed, what is gone, then `Synced`.
    pub(crate) fn replace(&mut self, objects: Vec<K>) -> Vec<Change<K>> {
        let mut previous = std::mem::take(&mut self.by_namespace);
        let mut changes = Vec::new();
        for object in objects {
            let (namespace, name) = key_of(&object);
            if let Some(old) = previous.get_mut(&namespace).and_then(|ns| ns.remove(&name)) {
                // Put the old one back so `apply` sees it as the previous version.
                self.by_namespace
                    .entry(namespace)
                    .or_default()
                    .insert(name, old);
            }
            changes.extend(self.apply(object));
        }
        let mut gone: Vec<Arc<K>> = previous
            .into_values()
            .flat_map(|objects| objects.into_values())
            .collect();
        gone.sort_by_key(|o| key_of(o.as_ref()));
        changes.extend(gone.into_iter().map(Change::Deleted));
        self.synced = true;
        changes.push(Change::Synced);
        changes
    }

    /// Every object, for a late subscriber to catch up on.
    pub(crate) fn snapshot(&self) -> Vec<Change<K>> {
        let mut all: Vec<Arc<K>> = self
            .by_namespace
            .values()
            .flat_map(|objects| objects.values().cloned())
            .collect();
        all.sort_by_key(|o| key_of(o.as_ref()));
        let mut changes: Vec<Change<K>> = all
            .into_iter()
            .map(|new| Change::Applied { old: None, new })
            .collect();
        if self.synced {
            changes.push(Change::Synced);
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn cm(namespace: &str, name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn describe(change: &Change<ConfigMap>) -> String {
        let name = |o: &ConfigMap| {
            format!(
                "{}/{}@{}",
                o.metadata.namespace.as_deref().unwrap_or(""),
                o.metadata.name.as_deref().unwrap_or(""),
                o.metadata.resource_version.as_deref().unwrap_or("")
            )
        };
        match change {
            Change::Applied { old: None, new } => format!("add {}", name(new)),
            Change::Applied {
                old: Some(old),
                new,
            } => {
                format!("update {} -> {}", name(old), name(new))
            }
            Change::Deleted(old) => format!("delete {}", name(old)),
            Change::Synced => "synced".into(),
        }
    }

    #[test]
    fn applies_deletes_and_relists() {
        let cache: Cache<ConfigMap> = Cache::default();
        let mut objects = cache.write();
        let out: Vec<String> = [
            objects.apply(cm("a", "x", "1")),
            objects.apply(cm("a", "x", "1")),
            objects.apply(cm("a", "x", "2")),
            objects.apply(cm("b", "y", "3")),
            Some(objects.delete(cm("b", "y", "4"))),
        ]
        .iter()
        .flatten()
        .map(describe)
        .collect();
        assert_eq!(
            out,
            [
                "add a/x@1",
                "update a/x@1 -> a/x@2",
                "add b/y@3",
                "delete b/y@3"
            ]
        );
        objects.apply(cm("c", "z", "5"));
        let relist: Vec<String> = objects
            .replace(vec![cm("a", "x", "2"), cm("a", "w", "6")])
            .iter()
            .map(describe)
            .collect();
        assert_eq!(relist, ["add a/w@6", "delete c/z@5", "synced"]);
        drop(objects);
        assert!(cache.read().synced);
        let names: Vec<String> = cache
            .list("a")
            .iter()
            .map(|o| o.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["w", "x"]);
        assert!(cache.get("c", "z").is_none());
        assert_eq!(cache.list("a").len(), 2);
        let snapshot: Vec<String> = cache.read().snapshot().iter().map(describe).collect();
        assert_eq!(snapshot, ["add a/w@6", "add a/x@2", "synced"]);
    }
}
