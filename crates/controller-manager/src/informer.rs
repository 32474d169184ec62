//! Shared informers, as kube-controller-manager's SharedInformerFactory: one list+watch per kind
//! and leadership term, made with the manager's own identity (which may list and watch
//! everything), feeding one cache and any number of subscribers. Controllers read from the cache
//! and act through their own ServiceAccount clients.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use crate::TARGET;
use crate::cache::{Cache, Change};

/// What a kind needs to be informed on.
pub(crate) trait Kind:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}
impl<K> Kind for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// The informers of one leadership term; each starts on first use and stops with the term.
pub(crate) struct Informers {
    client: kube::Client,
    stop: watch::Receiver<bool>,
    started: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl Informers {
    pub(crate) fn new(client: kube::Client, stop: watch::Receiver<bool>) -> Informers {
        Informers {
            client,
            stop,
            started: Mutex::new(HashMap::new()),
        }
    }

    /// The informer for `K`, started if it is not yet.
    pub(crate) fn get<K: Kind>(&self) -> Informer<K> {
        let mut started = self
            .started
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(informer) = started
            .get(&TypeId::of::<K>())
            .and_then(|any| any.downcast_ref::<Informer<K>>())
        {
            return informer.clone();
        }
        let informer = Informer {
            shared: Arc::new(Shared {
                cache: Cache::default(),
                subscribers: Mutex::new(Vec::new()),
                synced: watch::channel(false).0,
            }),
        };
        tokio::spawn(run(
            Api::<K>::all(self.client.clone()),
            informer.clone(),
            self.stop.clone(),
        ));
        started.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }
}

/// One kind's cache and change feed. Cheap to clone.
pub(crate) struct Informer<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<K> {
    cache: Cache<K>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Change<K>>>>,
    synced: watch::Sender<bool>,
}

impl<K: Kind> Informer<K> {
    pub(crate) fn cache(&self) -> Cache<K> {
        self.shared.cache.clone()
    }

    /// Every change from now on, after an `Applied` for each object already cached (and
    /// `Synced` if the cache is), so a late subscriber misses nothing.
    pub(crate) fn subscribe(&self) -> mpsc::UnboundedReceiver<Change<K>> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Under the cache lock, so no change slips between the snapshot and the subscription.
        let objects = self.shared.cache.write();
        for change in objects.snapshot() {
            let _ = tx.send(change);
        }
        self.subscribers().push(tx);
        drop(objects);
        rx
    }

    /// Resolves once the cache holds a full list.
    pub(crate) async fn synced(&self) {
        let mut synced = self.shared.synced.subscribe();
        let _ = synced.wait_for(|synced| *synced).await;
    }

    fn subscribers(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<Change<K>>>> {
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies one watch event to the cache and tells every subscriber, in order.
    fn handle(&self, event: watcher::Event<K>, buffer: &mut Vec<K>) {
        let mut objects = self.shared.cache.write();
        let changes = match event {
            watcher::Event::Apply(object) => objects.apply(object).into_iter().collect(),
            watcher::Event::Delete(object) => vec![objects.delete(object)],
            watcher::Event::Init => {
                buffer.clear();
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                buffer.push(object);
                Vec::new()
            }
            watcher::Event::InitDone => objects.replace(std::mem::take(buffer)),
        };
        if changes.is_empty() {
            return;
        }
        let synced = changes.iter().any(|c| matches!(c, Change::Synced));
        self.subscribers().retain(|subscriber| {
            changes
                .iter()
                .all(|change| subscriber.send(change.clone()).is_ok())
        });
        drop(objects);
        if synced {
            self.shared.synced.send_replace(true);
        }
    }
}

/// Lists and watches `api` into `informer` until `stop`.
async fn run<K: Kind>(api: Api<K>, informer: Informer<K>, mut stop: watch::Receiver<bool>) {
    let kind = K::kind(&());
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut buffer = Vec::new();
    let mut failing = false;
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match event {
            Some(Ok(event)) => {
                if failing {
                    tracing::info!(target: TARGET, "watch of {kind} works again");
                    failing = false;
                }
                informer.handle(event, &mut buffer);
            }
            Some(Err(e)) => {
                if !failing {
                    tracing::warn!(target: TARGET, "failed to list or watch {kind}: {e}");
                    failing = true;
                }
            }
            None => return,
        }
    }
}
