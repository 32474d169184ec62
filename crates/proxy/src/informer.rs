//! The API side: watches Services and EndpointSlices into local caches and syncs the proxier on
//! every change, so endpoint updates reach the listeners without polling.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::model::{SERVICE_NAME_LABEL, ServiceModel};
use crate::proxier::Proxier;
use crate::{TARGET, stopped};

/// The shortest time between two syncs: a burst of changes (a rollout touching many slices) is
/// applied in one sync, and a single change still lands well within a second.
const MIN_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// Runs until `stop`: keeps the caches, syncs the proxier after each change, and closes every
/// listener when stopping.
pub(crate) async fn run(
    client: kube::Client,
    mut proxier: Proxier,
    mut stop: watch::Receiver<bool>,
) {
    let changed = Arc::new(Notify::new());
    let (services, services_writer) = reflector::store::<Service>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let watches: [JoinHandle<()>; 2] = [
        tokio::spawn(follow(
            "services",
            reflector::reflector(
                services_writer,
                watcher(
                    Api::<Service>::all(client.clone()),
                    watcher::Config::default(),
                ),
            ),
            changed.clone(),
        )),
        tokio::spawn(follow(
            "endpointslices",
            reflector::reflector(
                slices_writer,
                watcher(
                    Api::<EndpointSlice>::all(client),
                    // Only slices that belong to a Service; others are not the proxy's business.
                    watcher::Config::default().labels(SERVICE_NAME_LABEL),
                ),
            ),
            changed.clone(),
        )),
    ];

    // A first sync with Services but no slices would open listeners with no endpoints behind
    // them, so wait for both initial lists, as kube-proxy waits for its informers.
    let synced = tokio::select! {
        biased;
        () = stopped(&mut stop) => false,
        synced = caches_synced(&services, &slices) => synced,
    };
    if synced {
        loop {
            let model = build(&services, &slices);
            proxier.sync(model).await;
            let next = tokio::time::Instant::now() + MIN_SYNC_INTERVAL;
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                () = changed.notified() => {}
            }
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                () = tokio::time::sleep_until(next) => {}
            }
        }
    }
    for task in watches {
        task.abort();
    }
    proxier.shutdown().await;
}

/// Waits for both caches' first full list; false if a watch ended before it came.
async fn caches_synced(services: &Store<Service>, slices: &Store<EndpointSlice>) -> bool {
    if services.wait_until_ready().await.is_err() {
        return false;
    }
    info!(target: TARGET, "Caches are synced for service config");
    if slices.wait_until_ready().await.is_err() {
        return false;
    }
    info!(target: TARGET, "Caches are synced for endpoint slice config");
    true
}

fn build(services: &Store<Service>, slices: &Store<EndpointSlice>) -> ServiceModel {
    let services = services.state();
    let slices = slices.state();
    ServiceModel::build(
        services.iter().map(|s| s.as_ref()),
        slices.iter().map(|s| s.as_ref()),
    )
}

/// Drives one reflector and signals every event. Errors (a lost connection, a forbidden list)
/// are logged; the back-off retries them.
async fn follow<K>(
    resource: &'static str,
    events: impl futures::Stream<Item = watcher::Result<watcher::Event<K>>> + Send,
    changed: Arc<Notify>,
) {
    let events = events.default_backoff();
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(_) => changed.notify_one(),
            Err(e) => warn!(target: TARGET, "Failed to watch {resource}: {e}"),
        }
    }
}
