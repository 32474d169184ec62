//! The root CA publisher ("root-ca-cert-publisher"): every active namespace has the ConfigMap
//! `kube-root-ca.crt` holding the cluster CA as `ca.crt`, so pods can verify the API server.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use super::serviceaccount::is_active;
use super::{SyncError, SyncResult, TARGET};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::queue::{ObjectKey, Queue};

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "root-ca-cert-publisher";
/// The ConfigMap's name in every namespace.
const NAME: &str = "kube-root-ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// The ConfigMap as it should be, or `None` when `current` already is.
pub(super) fn desired(namespace: &str, ca: &str, current: Option<&ConfigMap>) -> Option<ConfigMap> {
    let data: BTreeMap<String, String> = [("ca.crt".to_string(), ca.to_string())].into();
    let described = |cm: &ConfigMap| {
        cm.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
            .map(String::as_str)
            == Some(DESCRIPTION)
    };
    match current {
        Some(cm) if cm.data.as_ref() == Some(&data) && described(cm) => None,
        Some(cm) => {
            let mut cm = cm.clone();
            cm.data = Some(data);
            cm.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
            Some(cm)
        }
        None => Some(ConfigMap {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                namespace: Some(namespace.into()),
                annotations: Some(
                    [(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string())].into(),
                ),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        }),
    }
}

struct Controller {
    client: kube::Client,
    ca: String,
    namespaces: Cache<Namespace>,
    configmaps: Cache<ConfigMap>,
}

pub(super) async fn run(ctx: Context) {
    let ca = ctx.settings().root_ca_pem.clone();
    if ca.trim().is_empty() {
        // Publishing an empty bundle would break every pod that trusts it.
        tracing::warn!(target: TARGET, "root-ca-cert-publisher: no root CA configured; not publishing {NAME}");
        ctx.stopped().await;
        return;
    }
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let namespaces = ctx.informer::<Namespace>();
    let configmaps = ctx.informer::<ConfigMap>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, namespaces.subscribe(), move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(ObjectKey::new(
                    "",
                    new.metadata.name.as_deref().unwrap_or(""),
                ));
            }
        });
    }
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, configmaps.subscribe(), move |change| {
            let cm = match &change {
                Change::Applied { new, .. } => new,
                Change::Deleted(old) => old,
                Change::Synced => return,
            };
            if cm.metadata.name.as_deref() == Some(NAME) {
                queue.add(ObjectKey::new(
                    "",
                    cm.metadata.namespace.as_deref().unwrap_or(""),
                ));
            }
        });
    }
    tokio::select! {
        () = async { namespaces.synced().await; configmaps.synced().await } => {}
        () = ctx.stopped() => return,
    }
    let controller = Arc::new(Controller {
        client,
        ca,
        namespaces: namespaces.cache(),
        configmaps: configmaps.cache(),
    });
    super::spawn_workers(
        &mut tasks,
        &queue,
        ctx.settings().concurrent_syncs,
        "root-ca-cert-publisher",
        move |key| {
            let controller = controller.clone();
            async move { controller.sync(&key.name).await }
        },
    );
    super::run_until_stopped(&ctx, "root-ca-cert-publisher", tasks).await;
}

impl Controller {
    async fn sync(&self, namespace: &str) -> SyncResult {
        let Some(ns) = self.namespaces.get("", namespace) else {
            return Ok(());
        };
        if !is_active(&ns) {
            return Ok(());
        }
        let current = self.configmaps.get(namespace, NAME);
        let Some(cm) = desired(namespace, &self.ca, current.as_deref()) else {
            return Ok(());
        };
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let written = if current.is_some() {
            api.replace(NAME, &PostParams::default(), &cm).await
        } else {
            api.create(&PostParams::default(), &cm).await
        };
        match written {
            Ok(_) => Ok(()),
            Err(e) if super::is_namespace_terminating(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => Err(SyncError::NotYet(format!(
                "{namespace}/{NAME} changed meanwhile"
            ))),
            Err(e) => Err(SyncError::api(format!("publishing {namespace}/{NAME}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_and_repairs_the_bundle() {
        let made = desired("ns", "PEM", None).expect("created");
        assert_eq!(made.metadata.name.as_deref(), Some(NAME));
        assert_eq!(made.data.as_ref().unwrap()["ca.crt"], "PEM");
        assert!(desired("ns", "PEM", Some(&made)).is_none(), "in place");
        let mut edited = made.clone();
        edited.data = Some([("ca.crt".to_string(), "other".to_string())].into());
        assert_eq!(desired("ns", "PEM", Some(&edited)).unwrap().data, made.data);
    }
}
