//! The EndpointSlice controller ("endpointslice"): keeps discovery.k8s.io/v1 EndpointSlices
//! (`<service>-<random>`, at most 100 endpoints each) for every Service with a selector, with
//! ready/serving/terminating conditions the service proxy routes by.

mod reconcile;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};

use super::endpoints::{is_selecting, kept_by_apiserver, selects, services_for_pod_change};
use super::trigger_time::TriggerTimes;
use super::{SyncError, SyncResult, TARGET};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "endpointslice-controller";
/// kube's default `--max-endpoints-per-slice`.
const MAX_ENDPOINTS_PER_SLICE: usize = 100;

struct Controller {
    client: kube::Client,
    services: Cache<Service>,
    pods: Cache<Pod>,
    nodes: Cache<Node>,
    triggers: Mutex<TriggerTimes>,
    recorder: Recorder,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let services = ctx.informer::<Service>();
    let pods = ctx.informer::<Pod>();
    let nodes = ctx.informer::<Node>();
    let slices = ctx.informer::<EndpointSlice>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    let controller = Arc::new(Controller {
        recorder: ctx.recorder(client.clone(), "endpointslice-controller"),
        client,
        services: services.cache(),
        pods: pods.cache(),
        nodes: nodes.cache(),
        triggers: Mutex::new(TriggerTimes::default()),
    });
    {
        let queue = queue.clone();
        super::on_change(
            &mut tasks,
            services.subscribe(),
            move |change| match change {
                Change::Applied { new, .. } => queue.add(ObjectKey::of(new.as_ref())),
                Change::Deleted(old) => queue.add(ObjectKey::of(old.as_ref())),
                Change::Synced => {}
            },
        );
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
    {
        // A managed slice deleted by someone else is made again.
        let queue = queue.clone();
        super::on_change(&mut tasks, slices.subscribe(), move |change| {
            if let Change::Deleted(slice) = change
                && let Some(key) = service_of(&slice)
            {
                queue.add(key);
            }
        });
    }
    tokio::select! {
        () = async { services.synced().await; pods.synced().await; nodes.synced().await } => {}
        () = ctx.stopped() => return,
    }
    let workers = ctx.settings().concurrent_syncs;
    super::spawn_workers(&mut tasks, &queue, workers, "endpointslice", move |key| {
        let controller = controller.clone();
        async move { controller.sync(&key).await }
    });
    super::run_until_stopped(&ctx, "endpointslice", tasks).await;
}

/// The Service a slice managed here belongs to.
fn service_of(slice: &EndpointSlice) -> Option<ObjectKey> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(reconcile::MANAGED_BY_LABEL).map(String::as_str) != Some(reconcile::MANAGED_BY) {
        return None;
    }
    let service = labels.get(reconcile::SERVICE_NAME_LABEL)?;
    Some(ObjectKey::new(
        slice.metadata.namespace.as_deref().unwrap_or(""),
        service,
    ))
}

impl Controller {
    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        if kept_by_apiserver(&key.namespace, &key.name) {
            return Ok(());
        }
        let Some(service) = self.services.get(&key.namespace, &key.name) else {
            // The garbage collector removes the slices of a deleted Service (they are owned).
            self.triggers().forget(&key.namespace, &key.name);
            return Ok(());
        };
        if !is_selecting(&service) || service.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &key.namespace);
        // Read fresh, not from a cache: a slice this controller just made must be seen, or it
        // would be made twice.
        let selector = format!(
            "{}={},{}={}",
            reconcile::SERVICE_NAME_LABEL,
            key.name,
            reconcile::MANAGED_BY_LABEL,
            reconcile::MANAGED_BY
        );
        let existing = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| SyncError::api(format!("listing endpoint slices of {key}"), e))?
            .items;
        let pods = self.pods.list(&key.namespace);
        let selected: Vec<&Pod> = pods
            .iter()
            .map(Arc::as_ref)
            .filter(|p| selects(&service, p))
            .collect();
        let trigger = self.triggers().compute(&service, &selected);
        let nodes = self.nodes.list("");
        let node = |name: &str| {
            nodes
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(name))
                .map(Arc::as_ref)
        };
        let plan = reconcile::plan(
            &service,
            &selected,
            node,
            &existing,
            MAX_ENDPOINTS_PER_SLICE,
            trigger,
        );
        if plan.is_empty() {
            return Ok(());
        }
        self.apply(key, &service, plan).await
    }

    /// Creates first, then updates, then deletes, so the Service never lists fewer endpoints
    /// than it should on the way.
    async fn apply(&self, key: &ObjectKey, service: &Service, plan: reconcile::Plan) -> SyncResult {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &key.namespace);
        for slice in &plan.create {
            match api.create(&PostParams::default(), slice).await {
                Ok(_) => {}
                Err(e) if super::is_namespace_terminating(&e) => return Ok(()),
                Err(e) => return Err(self.failed(key, service, e).await),
            }
        }
        for slice in &plan.update {
            let name = slice.metadata.name.clone().unwrap_or_default();
            match api.replace(&name, &PostParams::default(), slice).await {
                Ok(_) => {}
                Err(e) if super::is_conflict(&e) || super::is_not_found(&e) => {
                    return Err(SyncError::NotYet(format!(
                        "endpoint slice {}/{name} changed meanwhile",
                        key.namespace
                    )));
                }
                Err(e) => return Err(self.failed(key, service, e).await),
            }
        }
        for slice in &plan.delete {
            let name = slice.metadata.name.clone().unwrap_or_default();
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: slice.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(e) if super::is_not_found(&e) || super::is_conflict(&e) => {}
                Err(e) => return Err(self.failed(key, service, e).await),
            }
        }
        tracing::debug!(target: TARGET,
            "endpoint slices of {key}: {} created, {} updated, {} deleted",
            plan.create.len(), plan.update.len(), plan.delete.len());
        Ok(())
    }

    async fn failed(&self, key: &ObjectKey, service: &Service, e: kube::Error) -> SyncError {
        self.recorder
            .warning(
                &super::reference(service),
                "FailedToUpdateEndpointSlices",
                &format!("Error updating Endpoint Slices for Service {key}: {e}"),
            )
            .await;
        SyncError::api(format!("writing endpoint slices of {key}"), e)
    }

    fn triggers(&self) -> std::sync::MutexGuard<'_, TriggerTimes> {
        self.triggers.lock().unwrap_or_else(|p| p.into_inner())
    }
}
