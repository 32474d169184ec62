//! The watches that keep the scheduler's snapshot current: nodes, pods, namespaces and Services,
//! each listed then watched (no resync). A re-list is delivered whole, so the loop can drop
//! whatever vanished while the watch was down.

use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::Result;

/// A change to one kind of object.
#[derive(Debug)]
pub enum Change<K> {
    Applied(Box<K>),
    Deleted(Box<K>),
    /// A complete (re-)list: everything else of this kind is gone.
    Listed(Vec<K>),
}

/// What the scheduling loop reacts to.
#[derive(Debug)]
pub enum Input {
    Nodes(Change<Node>),
    Pods(Change<Pod>),
    Namespaces(Change<Namespace>),
    Services(Change<Service>),
    /// A binding finished.
    Bound {
        key: String,
        uid: String,
        node: String,
        result: Result<()>,
    },
}

/// Starts one list-and-watch that feeds `tx`; it ends when the receiver is gone.
pub fn spawn_watch<K>(
    api: Api<K>,
    tx: mpsc::Sender<Input>,
    wrap: fn(Change<K>) -> Input,
    kind: &'static str,
) -> JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        let mut listing: Option<Vec<K>> = None;
        let mut failing = false;
        while let Some(item) = stream.next().await {
            let change = match item {
                Ok(watcher::Event::Init) => {
                    listing = Some(Vec::new());
                    None
                }
                Ok(watcher::Event::InitApply(obj)) => {
                    listing.get_or_insert_with(Vec::new).push(obj);
                    None
                }
                Ok(watcher::Event::InitDone) => {
                    Some(Change::Listed(listing.take().unwrap_or_default()))
                }
                Ok(watcher::Event::Apply(obj)) => Some(Change::Applied(Box::new(obj))),
                Ok(watcher::Event::Delete(obj)) => Some(Change::Deleted(Box::new(obj))),
                Err(e) => {
                    // The watcher retries with backoff; say so once per outage.
                    if !failing {
                        tracing::warn!(target: "kube-scheduler", r#type = kind, err = %e, "Failed to watch");
                    }
                    failing = true;
                    None
                }
            };
            if let Some(change) = change {
                failing = false;
                if tx.send(wrap(change)).await.is_err() {
                    return;
                }
            }
        }
    })
}
