//! The garbage collector's eyes: discovery of the served resources, and one metadata watch
//! per deletable resource feeding the graph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::graph::Identity;
use super::{Collector, IGNORED, Kinds, Monitor};
use crate::cluster::TARGET;

impl Collector {
    /// The resources to monitor (deletable, listable, watchable), and every served kind.
    pub(super) async fn discover(&self) -> Result<Vec<(ApiResource, bool)>, kube::Error> {
        let discovery = Discovery::new(self.client.clone()).run().await?;
        let mut kinds = Kinds::default();
        let mut found = Vec::new();
        for group in discovery.groups() {
            for (resource, caps) in group.recommended_resources() {
                let namespaced = caps.scope == Scope::Namespaced;
                kinds.by_kind.insert(
                    (resource.group.clone(), resource.kind.clone()),
                    (resource.clone(), namespaced),
                );
                let collectable = ["list", "watch", "delete"]
                    .iter()
                    .all(|verb| caps.supports_operation(verb));
                let ignored = IGNORED
                    .iter()
                    .any(|(g, p)| *g == resource.group && *p == resource.plural);
                if collectable && !ignored {
                    found.push((resource, namespaced));
                }
            }
        }
        *self.kinds.write().unwrap_or_else(|p| p.into_inner()) = kinds;
        Ok(found)
    }

    /// Starts monitors for new resources and stops those no longer served.
    pub(super) fn sync_monitors(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        monitors: &mut HashMap<(String, String), Monitor>,
        found: Vec<(ApiResource, bool)>,
    ) {
        let wanted: HashSet<(String, String)> = found
            .iter()
            .map(|(r, _)| (r.group.clone(), r.plural.clone()))
            .collect();
        monitors.retain(|key, monitor| {
            let keep = wanted.contains(key);
            if !keep {
                monitor.task.abort();
            }
            keep
        });
        for (resource, namespaced) in found {
            let key = (resource.group.clone(), resource.plural.clone());
            if monitors.contains_key(&key) {
                continue;
            }
            let (synced, synced_rx) = watch::channel(false);
            let task = tasks.spawn(self.clone().monitor(resource, namespaced, synced));
            monitors.insert(
                key,
                Monitor {
                    task,
                    synced: synced_rx,
                },
            );
        }
    }

    /// Watches the metadata of one resource into the graph.
    async fn monitor(
        self: Arc<Self>,
        resource: ApiResource,
        namespaced: bool,
        synced: watch::Sender<bool>,
    ) {
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::all_with(self.client.clone(), &resource);
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut seen: HashSet<String> = HashSet::new();
        let mut listing: HashSet<String> = HashSet::new();
        let mut failing = false;
        let identity = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            Some(Identity {
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
                namespace: if namespaced {
                    meta.namespace.clone()
                } else {
                    None
                },
                name: meta.name.clone().unwrap_or_default(),
                uid: meta.uid.clone().filter(|u| !u.is_empty())?,
            })
        };
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => {
                    failing = false;
                    event
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(target: TARGET, "garbage collector: failed to watch {}: {e}", resource.plural);
                        failing = true;
                    }
                    continue;
                }
            };
            match event {
                watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                    let Some(id) = identity(&object.metadata) else {
                        continue;
                    };
                    seen.insert(id.uid.clone());
                    listing.insert(id.uid.clone());
                    let tasks = self.graph().upsert(id, &object.metadata);
                    self.enqueue(tasks);
                }
                watcher::Event::Delete(object) => {
                    let Some(uid) = object.metadata.uid.clone() else {
                        continue;
                    };
                    seen.remove(&uid);
                    let tasks = self.graph().remove(&uid);
                    self.enqueue(tasks);
                }
                watcher::Event::Init => listing.clear(),
                watcher::Event::InitDone => {
                    let gone: Vec<String> = seen.difference(&listing).cloned().collect();
                    for uid in gone {
                        let tasks = self.graph().remove(&uid);
                        self.enqueue(tasks);
                    }
                    seen = std::mem::take(&mut listing);
                    synced.send_replace(true);
                }
            }
        }
    }
}
