//! The namespace controller ("namespace"): a namespace being deleted (phase Terminating, with the
//! `kubernetes` finalizer in its spec) is emptied, every namespaced resource found through
//! discovery deleted, with kube's status conditions saying what is left; once empty, the
//! `kubernetes` finalizer is dropped through the `finalize` subresource and the API server
//! removes the namespace.

mod conditions;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams, PropagationPolicy};
use kube::discovery::{ApiResource, Discovery, Scope};

use super::{SyncError, SyncResult, TARGET};
use crate::cache::Change;
use crate::context::Context;
use crate::queue::{ObjectKey, Queue};
use conditions::Outcome;

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "namespace-controller";
/// The spec finalizer this controller owns.
const FINALIZER: &str = "kubernetes";
/// How soon a namespace with content left (pods terminating, finalizers pending) is looked at
/// again.
const REMAINING_POLL: Duration = Duration::from_secs(2);

struct Controller {
    client: kube::Client,
    queue: Arc<Queue>,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let namespaces = ctx.informer::<Namespace>();
    let controller = Arc::new(Controller {
        client,
        queue: Queue::new(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    {
        let queue = controller.queue.clone();
        super::on_change(&mut tasks, namespaces.subscribe(), move |change| {
            if let Change::Applied { new, .. } = change
                && new.metadata.deletion_timestamp.is_some()
            {
                queue.add(ObjectKey::of(new.as_ref()));
            }
        });
    }
    let workers = ctx.settings().concurrent_syncs;
    let queue = controller.queue.clone();
    super::spawn_workers(&mut tasks, &queue, workers, "namespace", move |key| {
        let controller = controller.clone();
        async move { controller.sync(&key.name).await }
    });
    super::run_until_stopped(&ctx, "namespace", tasks).await;
}

/// The namespaced resources that can be listed and deleted, and whether each takes
/// deletecollection.
async fn namespaced_resources(
    client: &kube::Client,
) -> Result<Vec<(ApiResource, bool)>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut found = Vec::new();
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope == Scope::Namespaced
                && caps.supports_operation("list")
                && caps.supports_operation("delete")
            {
                found.push((resource, caps.supports_operation("deletecollection")));
            }
        }
    }
    Ok(found)
}

impl Controller {
    async fn sync(&self, name: &str) -> SyncResult {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(namespace) = api
            .get_opt(name)
            .await
            .map_err(|e| SyncError::api(format!("getting namespace {name}"), e))?
        else {
            return Ok(());
        };
        if namespace.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        let finalizers = namespace
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.clone())
            .unwrap_or_default();
        if !finalizers.iter().any(|f| f == FINALIZER) {
            return Ok(());
        }
        let outcome = self.delete_content(name).await;
        let current = namespace
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        if let Some(conditions) = conditions::update(&current, &outcome, &super::now_seconds()) {
            let mut updated = namespace.clone();
            let status = updated.status.get_or_insert_with(Default::default);
            status.conditions = Some(conditions);
            status.phase = Some("Terminating".into());
            match api
                .replace_status(name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {}
                Err(e) if super::is_conflict(&e) => {
                    return Err(SyncError::NotYet(format!(
                        "namespace {name} changed meanwhile"
                    )));
                }
                Err(e) if super::is_not_found(&e) => return Ok(()),
                Err(e) => {
                    return Err(SyncError::api(
                        format!("updating namespace {name} status"),
                        e,
                    ));
                }
            }
        }
        if !outcome.is_done() {
            tracing::debug!(target: TARGET, "namespace {name}: content remains: {:?}", outcome.remaining);
            self.queue
                .add_after(ObjectKey::new("", name), REMAINING_POLL);
            return Ok(());
        }
        self.finalize(name).await
    }

    /// Deletes everything in the namespace, then counts what is left.
    async fn delete_content(&self, namespace: &str) -> Outcome {
        let mut outcome = Outcome::default();
        let resources = match namespaced_resources(&self.client).await {
            Ok(resources) => resources,
            Err(e) => {
                outcome.discovery_error =
                    Some(format!("Discovery failed for some groups, 1 failing: {e}"));
                return outcome;
            }
        };
        for (resource, collection) in &resources {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), namespace, resource);
            let label = format!("{}.{}", resource.plural, resource.group);
            if let Err(e) = delete_all(&api, *collection).await {
                outcome.delete_errors.push(format!("{label}: {e}"));
            }
            match api.list_metadata(&ListParams::default()).await {
                Ok(list) => {
                    if !list.items.is_empty() {
                        outcome.remaining.insert(label, list.items.len());
                    }
                    for item in &list.items {
                        for finalizer in item.metadata.finalizers.iter().flatten() {
                            *outcome.finalizers.entry(finalizer.clone()).or_default() += 1;
                        }
                    }
                }
                Err(e) if super::is_not_found(&e) => {}
                Err(e) => outcome.delete_errors.push(format!("{label}: {e}")),
            }
        }
        outcome
    }

    /// Drops the `kubernetes` finalizer; the API server then removes the namespace.
    async fn finalize(&self, name: &str) -> SyncResult {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(mut namespace) = api
            .get_opt(name)
            .await
            .map_err(|e| SyncError::api(format!("getting namespace {name}"), e))?
        else {
            return Ok(());
        };
        let spec = namespace.spec.get_or_insert_with(Default::default);
        let left: Vec<String> = spec
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        spec.finalizers = Some(left);
        match api
            .replace_subresource("finalize", name, &PostParams::default(), &namespace)
            .await
        {
            Ok(_) => {
                tracing::info!(target: TARGET, "namespace {name} is empty; finalized");
                Ok(())
            }
            Err(e) if super::is_not_found(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => Err(SyncError::NotYet(format!(
                "namespace {name} changed meanwhile"
            ))),
            Err(e) => Err(SyncError::api(format!("finalizing namespace {name}"), e)),
        }
    }
}

/// Deletes every object of one resource in one namespace (in the background: the garbage
/// collector takes their dependents).
async fn delete_all(api: &Api<DynamicObject>, collection: bool) -> Result<(), kube::Error> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    let ignorable = |e: &kube::Error| matches!(super::status_code(e), Some(404 | 405));
    if collection {
        return match api.delete_collection(&params, &ListParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if ignorable(&e) => Ok(()),
            Err(e) => Err(e),
        };
    }
    let list = match api.list_metadata(&ListParams::default()).await {
        Ok(list) => list,
        Err(e) if ignorable(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for item in list.items {
        let name = item.metadata.name.unwrap_or_default();
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(e) if ignorable(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
