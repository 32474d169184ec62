//! The endpoints controller ("endpoints"): keeps a core/v1 Endpoints object per Service with a
//! selector, listing the IPs and resolved ports of the pods it selects, ready or not.

mod desired;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, PostParams};

use super::trigger_time::TriggerTimes;
use super::{SyncError, SyncResult, TARGET};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};

pub(super) use desired::{find_port, is_headless, is_selecting, selects, should_include};

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "endpoint-controller";

/// Whether the API servers keep this Service's endpoints themselves (`default/kubernetes`).
pub(super) fn kept_by_apiserver(namespace: &str, name: &str) -> bool {
    namespace == "default" && name == "kubernetes"
}

struct Controller {
    client: kube::Client,
    services: Cache<Service>,
    pods: Cache<Pod>,
    triggers: Mutex<TriggerTimes>,
    recorder: Recorder,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let services = ctx.informer::<Service>();
    let pods = ctx.informer::<Pod>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    let controller = Arc::new(Controller {
        recorder: ctx.recorder(client.clone(), "endpoint-controller"),
        client,
        services: services.cache(),
        pods: pods.cache(),
        triggers: Mutex::new(TriggerTimes::default()),
    });
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, services.subscribe(), move |change| {
            if let Some(key) = service_key(&change) {
                queue.add(key);
            }
        });
    }
    {
        let queue = queue.clone();
        let services = services.cache();
        super::on_change(&mut tasks, pods.subscribe(), move |change| {
            for key in services_for_pod_change(&services, &change) {
                queue.add(key);
            }
        });
    }
    tokio::select! {
        () = async { services.synced().await; pods.synced().await } => {}
        () = ctx.stopped() => return,
    }
    // Endpoints whose Service went away while no controller ran are found once, at start.
    {
        let (client, queue, services) =
            (controller.client.clone(), queue.clone(), services.cache());
        tasks.spawn(async move { queue_leftovers(client, &queue, &services).await });
    }
    let workers = ctx.settings().concurrent_syncs;
    super::spawn_workers(&mut tasks, &queue, workers, "endpoints", move |key| {
        let controller = controller.clone();
        async move { controller.sync(&key).await }
    });
    super::run_until_stopped(&ctx, "endpoints", tasks).await;
}

/// Queues every Endpoints object without a Service, except leader-election records (which
/// never had one).
async fn queue_leftovers(client: kube::Client, queue: &Arc<Queue>, services: &Cache<Service>) {
    const LEADER: &str = "control-plane.alpha.kubernetes.io/leader";
    let list = match Api::<Endpoints>::all(client)
        .list(&Default::default())
        .await
    {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(target: TARGET, "Unable to list endpoints ({e}); orphaned endpoints will not be cleaned up");
            return;
        }
    };
    for endpoints in list.items {
        let key = ObjectKey::of(&endpoints);
        let leader = endpoints
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(LEADER));
        if !leader && services.get(&key.namespace, &key.name).is_none() {
            queue.add(key);
        }
    }
}

fn service_key(change: &Change<Service>) -> Option<ObjectKey> {
    match change {
        Change::Applied { new, .. } => Some(ObjectKey::of(new.as_ref())),
        Change::Deleted(old) => Some(ObjectKey::of(old.as_ref())),
        Change::Synced => None,
    }
}

/// The Services whose endpoints a pod change may move: those selecting the old or the new pod,
/// when something endpoints show changed (kube's podEndpointsChanged).
pub(super) fn services_for_pod_change(
    services: &Cache<Service>,
    change: &Change<Pod>,
) -> BTreeSet<ObjectKey> {
    let (old, new) = match change {
        Change::Applied { old, new } => (old.as_deref(), Some(new.as_ref())),
        Change::Deleted(old) => (Some(old.as_ref()), None),
        Change::Synced => return BTreeSet::new(),
    };
    if let (Some(old), Some(new)) = (old, new)
        && !endpoints_may_differ(old, new)
    {
        return BTreeSet::new();
    }
    let namespace = new
        .or(old)
        .and_then(|p| p.metadata.namespace.clone())
        .unwrap_or_default();
    services
        .list(&namespace)
        .iter()
        .filter(|s| old.is_some_and(|p| selects(s, p)) || new.is_some_and(|p| selects(s, p)))
        .map(|s| ObjectKey::of(s.as_ref()))
        .collect()
}

/// Whether a pod update can change any endpoints: labels, hostname, deletion, readiness, IPs,
/// node or phase.
pub(super) fn endpoints_may_differ(old: &Pod, new: &Pod) -> bool {
    let spec = |p: &Pod| {
        p.spec
            .as_ref()
            .map(|s| (s.hostname.clone(), s.subdomain.clone(), s.node_name.clone()))
    };
    old.metadata.labels != new.metadata.labels
        || spec(old) != spec(new)
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        || super::pods::is_ready(old) != super::pods::is_ready(new)
        || super::pods::ips(old) != super::pods::ips(new)
        || super::pods::phase(old) != super::pods::phase(new)
}

impl Controller {
    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        if kept_by_apiserver(&key.namespace, &key.name) {
            return Ok(());
        }
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &key.namespace);
        let Some(service) = self.services.get(&key.namespace, &key.name) else {
            // The Service is gone: so are its endpoints.
            self.triggers().forget(&key.namespace, &key.name);
            return match api.delete(&key.name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(e) if super::is_not_found(&e) => Ok(()),
                Err(e) => Err(SyncError::api(format!("deleting endpoints {key}"), e)),
            };
        };
        if !is_selecting(&service) {
            return Ok(());
        }
        let pods = self.pods.list(&key.namespace);
        let selected: Vec<&Pod> = pods
            .iter()
            .map(Arc::as_ref)
            .filter(|p| selects(&service, p))
            .collect();
        let trigger = self.triggers().compute(&service, &selected);
        let current = match api.get_opt(&key.name).await {
            Ok(current) => current,
            Err(e) => return Err(SyncError::api(format!("getting endpoints {key}"), e)),
        };
        let Some(endpoints) = desired::desired(&service, &selected, current.as_ref(), trigger)
        else {
            return Ok(());
        };
        let written = if current.is_some() {
            api.replace(&key.name, &PostParams::default(), &endpoints)
                .await
        } else {
            api.create(&PostParams::default(), &endpoints).await
        };
        match written {
            Ok(_) => {
                tracing::debug!(target: TARGET, "updated endpoints {key}");
                Ok(())
            }
            Err(e) if super::is_namespace_terminating(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => Err(SyncError::NotYet(format!(
                "endpoints {key} changed meanwhile"
            ))),
            Err(e) => {
                let (reason, message) = if current.is_some() {
                    (
                        "FailedToUpdateEndpoint",
                        format!("Failed to update endpoint {key}: {e}"),
                    )
                } else {
                    (
                        "FailedToCreateEndpoint",
                        format!("Failed to create endpoint for service {key}: {e}"),
                    )
                };
                self.recorder
                    .warning(&super::reference(&endpoints), reason, &message)
                    .await;
                Err(SyncError::api(format!("writing endpoints {key}"), e))
            }
        }
    }

    fn triggers(&self) -> std::sync::MutexGuard<'_, TriggerTimes> {
        self.triggers.lock().unwrap_or_else(|p| p.into_inner())
    }
}
