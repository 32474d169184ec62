//! What an API server does besides answering requests: it creates the objects every cluster
//! has (system namespaces, the default RBAC policy, the `kubernetes` Service), keeps its RBAC
//! cache current by watching etcd, keeps the `kubernetes` Endpoints (`endpoints.rs`), and
//! compacts old revisions.

use std::sync::Arc;
use std::time::Duration;

use apimachinery::{ResourceInfo, resource, schema};
use etcd_api::etcdserverpb::CompactionRequest;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::server::ApiServer;
use crate::storage::{ListOptions, WatchItem};
use crate::strategy::{self, Stamp};
use crate::{endpoints, rbac};

/// The namespaces every cluster starts with.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];
const RBAC_RESOURCES: &[&str] = &[
    "clusterroles",
    "clusterrolebindings",
    "roles",
    "rolebindings",
];
/// How long to wait before retrying a duty whose store call failed.
const RETRY: Duration = Duration::from_secs(1);

pub fn spawn_duties(server: Arc<ApiServer>, stopped: watch::Receiver<bool>) {
    for plural in RBAC_RESOURCES {
        let info = resource::find("rbac.authorization.k8s.io", "v1", plural)
            .expect("rbac resources are served");
        tokio::spawn(until_stopped(
            stopped.clone(),
            follow_rbac(server.clone(), info),
        ));
    }
    tokio::spawn(until_stopped(
        stopped.clone(),
        create_defaults(server.clone()),
    ));
    tokio::spawn(until_stopped(
        stopped.clone(),
        endpoints::run(server.clone()),
    ));
    tokio::spawn(until_stopped(stopped, compact(server)));
}

async fn until_stopped(mut stopped: watch::Receiver<bool>, duty: impl Future<Output = ()>) {
    tokio::select! {
        _ = stopped.changed() => {}
        _ = duty => {}
    }
}

/// Creates an object unless it exists (then leaves it alone: users may have changed it).
async fn ensure(
    server: &ApiServer,
    info: &ResourceInfo,
    mut object: Value,
) -> Result<(), apimachinery::ApiError> {
    let namespace = object["metadata"]["namespace"].as_str().map(String::from);
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = info.key(namespace.as_deref(), &name);
    if server.storage.get(info, &key).await?.is_some() {
        return Ok(());
    }
    object["apiVersion"] = json!(info.api_version());
    object["kind"] = json!(info.kind);
    schema::apply_defaults(info, &mut object);
    strategy::prepare_create(info, &mut object, &Stamp::now());
    match server.storage.create(info, &key, &object).await {
        Ok(_) => Ok(()),
        // Another API server made it first.
        Err(err) if err.code == 409 => Ok(()),
        Err(err) => Err(err),
    }
}

async fn create_defaults(server: Arc<ApiServer>) {
    let started = std::time::Instant::now();
    loop {
        match try_create_defaults(&server).await {
            Ok(()) => return,
            // A store started alongside needs a moment; only a longer wait is worth a warning.
            Err(err) if started.elapsed() < STORE_GRACE => {
                tracing::debug!(error = %err, "the store is not ready yet; retrying");
                tokio::time::sleep(RETRY).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "creating the cluster's default objects failed; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// How long the store may take to answer before failures to reach it are logged as warnings.
const STORE_GRACE: Duration = Duration::from_secs(10);

async fn try_create_defaults(server: &ApiServer) -> Result<(), apimachinery::ApiError> {
    let find = |group: &str, plural: &str| resource::find(group, "v1", plural).expect("served");
    for name in SYSTEM_NAMESPACES {
        ensure(
            server,
            find("", "namespaces"),
            json!({"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}),
        )
        .await?;
    }
    for (plural, object) in rbac::bootstrap_policy() {
        ensure(server, find("rbac.authorization.k8s.io", plural), object).await?;
    }
    let port = server.config.secure_port;
    let service = json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": server.service_range.first().to_string(),
            "clusterIPs": [server.service_range.first().to_string()],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
        },
    });
    ensure(server, find("", "services"), service).await
}

/// Keeps the RBAC cache equal to what etcd holds: list, then watch; on any failure, again.
async fn follow_rbac(server: Arc<ApiServer>, info: &'static ResourceInfo) {
    let prefix = info.key_prefix(None);
    loop {
        let page = match server
            .storage
            .list(info, &prefix, &ListOptions::default(), &|_| true)
            .await
        {
            Ok(page) => page,
            Err(err) => {
                tracing::debug!(error = %err, resource = info.plural, "listing RBAC objects failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        {
            let mut policy = server.policy.write().expect("policy lock");
            policy.replace_all(info.plural, page.items);
        }
        let Ok(mut events) = server
            .storage
            .watch(info, &prefix, page.revision + 1, Duration::from_secs(60))
            .await
        else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        while let Some(item) = events.next().await {
            let mut policy = server.policy.write().expect("policy lock");
            match item {
                WatchItem::Put { object, .. } => policy.upsert(info.plural, object),
                WatchItem::Deleted { object } => {
                    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
                    let name = object["metadata"]["name"].as_str().unwrap_or_default();
                    policy.remove(info.plural, namespace, name);
                }
                WatchItem::Progress(_) => {}
                WatchItem::Failed(err) => {
                    tracing::debug!(error = %err, resource = info.plural, "RBAC watch ended; listing again");
                    break;
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Compacts etcd's history the way kube-apiserver does: each interval, up to the revision seen
/// one interval earlier, so watchers that are at most one interval behind never miss events.
async fn compact(server: Arc<ApiServer>) {
    let interval = server.config.etcd_compaction_interval;
    if interval.is_zero() {
        return;
    }
    let mut previous = 0i64;
    loop {
        tokio::time::sleep(interval).await;
        if previous > 0 {
            let request = CompactionRequest {
                revision: previous,
                physical: false,
            };
            match server.storage.etcd().kv.clone().compact(request).await {
                Ok(_) => tracing::info!(revision = previous, "compacted etcd"),
                Err(status) if status.message().contains("compacted") => {}
                Err(status) => tracing::warn!(error = %status, "compacting etcd failed"),
            }
        }
        previous = server.storage.revision().await.unwrap_or(0);
    }
}
