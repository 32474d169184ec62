//! The cluster controllers against a real API server (this workspace's, over /usr/bin/etcd), run
//! by a real controller manager: endpoints and slices following pod readiness, garbage
//! collection in its three modes, namespace deletion, default ServiceAccounts and the root CA
//! ConfigMap, node lifecycle with taint eviction, DaemonSets and disruption budgets. No kubelet
//! or scheduler runs: the test plays the kubelet (pod IPs, readiness, node heartbeats).

use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Namespace, Node, Pod, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use serde_json::{Value, json};

use crate::support::{Cluster, eventually};
use controller_manager::{ControllerManagerConfig, Settings};

const WITHIN: Duration = Duration::from_secs(30);
const NS: &str = "live";

fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

async fn create<K>(api: &Api<K>, value: Value) -> Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    Ok(api.create(&PostParams::default(), &from(value)).await?)
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// What a kubelet reports for a running pod.
async fn report_pod(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) -> Result<()> {
    let status = json!({"status": {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": now()}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// What a kubelet reports for its node: Ready, with a fresh heartbeat.
async fn heartbeat(nodes: &Api<Node>, name: &str) -> Result<()> {
    let beat = now();
    let condition = |type_: &str, status: &str| {
        json!({"type": type_, "status": status, "reason": "KubeletReady", "message": "",
               "lastHeartbeatTime": beat, "lastTransitionTime": "2024-01-01T00:00:00Z"})
    };
    let status = json!({"status": {"conditions": [
        condition("Ready", "True"),
        condition("MemoryPressure", "False"),
        condition("DiskPressure", "False"),
        condition("PIDPressure", "False"),
    ]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn pod_json(name: &str, labels: Value, node: Option<&str>, extra: Value) -> Value {
    let mut pod = json!({
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "hakube/pause", "ports": [{"name": "http", "containerPort": 8080}]}]},
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    if let Some(map) = extra.as_object() {
        for (k, v) in map {
            pod["spec"][k] = v.clone();
        }
    }
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_controllers_against_a_real_api_server() -> Result<()> {
    let cluster = Cluster::start("127.0.231.1").await?;
    let admin = cluster.admin().await?;
    let manager = controller_manager::start(ControllerManagerConfig {
        identity: "node-1".into(),
        kube_config: cluster.manager_config().await?,
        settings: Settings {
            root_ca_pem: cluster.ca_pem(),
            node_monitor_period: Duration::from_secs(1),
            node_monitor_grace_period: Duration::from_secs(4),
            node_startup_grace_period: Duration::from_secs(4),
            ..Settings::default()
        },
    })
    .await?;
    eventually("leadership", WITHIN, || async {
        manager.is_leader().then_some(())
    })
    .await?;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    create(&namespaces, json!({"metadata": {"name": NS}})).await?;

    service_accounts_and_root_ca(&admin, &cluster.ca_pem()).await?;
    endpoints_follow_readiness(&admin).await?;
    garbage_collection(&admin).await?;
    node_lifecycle_daemonsets_and_budgets(&admin).await?;
    namespace_deletion(&admin).await?;

    manager.shutdown().await;
    cluster.stop().await;
    Ok(())
}

async fn service_accounts_and_root_ca(admin: &kube::Client, ca: &str) -> Result<()> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), NS);
    eventually("the default ServiceAccount", WITHIN, || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(admin.clone(), NS);
    let published = eventually("kube-root-ca.crt", WITHIN, || async {
        configmaps.get_opt("kube-root-ca.crt").await.ok().flatten()
    })
    .await?;
    assert_eq!(published.data.unwrap()["ca.crt"], ca);
    // Deleted, it comes back.
    accounts.delete("default", &DeleteParams::default()).await?;
    eventually("the default ServiceAccount again", WITHIN, || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await?;
    Ok(())
}

async fn endpoints_follow_readiness(admin: &kube::Client) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NS);
    let services: Api<Service> = Api::namespaced(admin.clone(), NS);
    let endpoints: Api<Endpoints> = Api::namespaced(admin.clone(), NS);
    let slices: Api<EndpointSlice> = Api::namespaced(admin.clone(), NS);
    create(
        &services,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
               "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
    )
    .await?;
    create(
        &pods,
        pod_json("web-1", json!({"app": "web"}), Some("n-web"), json!({})),
    )
    .await?;
    report_pod(&pods, "web-1", "10.1.0.5", true).await?;
    let ready_ips = |e: &Endpoints, ready: bool| -> Vec<String> {
        e.subsets
            .iter()
            .flatten()
            .flat_map(|s| {
                if ready {
                    &s.addresses
                } else {
                    &s.not_ready_addresses
                }
            })
            .flatten()
            .map(|a| a.ip.clone())
            .collect()
    };
    let e = eventually("endpoints with the ready pod", WITHIN, || async {
        endpoints
            .get_opt("web")
            .await
            .ok()
            .flatten()
            .filter(|e| ready_ips(e, true) == ["10.1.0.5"])
    })
    .await?;
    let port = &e.subsets.as_ref().unwrap()[0].ports.as_ref().unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
    let slice_ready = |s: &EndpointSlice| {
        s.endpoints
            .iter()
            .filter(|e| e.addresses == ["10.1.0.5"])
            .map(|e| e.conditions.as_ref().and_then(|c| c.ready))
            .next()
            .flatten()
    };
    let by_service = ListParams::default().labels("kubernetes.io/service-name=web");
    let found = eventually("a ready endpoint slice", WITHIN, || async {
        let list = slices.list(&by_service).await.ok()?;
        list.items
            .into_iter()
            .find(|s| slice_ready(s) == Some(true))
    })
    .await?;
    assert!(found.metadata.name.unwrap().starts_with("web-"));
    assert_eq!(
        found.metadata.labels.unwrap()["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    // The pod turns unready: both follow within about a second.
    let flipped = Instant::now();
    report_pod(&pods, "web-1", "10.1.0.5", false).await?;
    eventually("endpoints to drop the pod", WITHIN, || async {
        let e = endpoints.get_opt("web").await.ok().flatten()?;
        (ready_ips(&e, false) == ["10.1.0.5"] && ready_ips(&e, true).is_empty()).then_some(())
    })
    .await?;
    let endpoints_took = flipped.elapsed();
    eventually("the slice to mark it not ready", WITHIN, || async {
        let list = slices.list(&by_service).await.ok()?;
        list.items
            .iter()
            .any(|s| slice_ready(s) == Some(false))
            .then_some(())
    })
    .await?;
    let slice_took = flipped.elapsed();
    println!("readiness -> Endpoints {endpoints_took:?}, -> EndpointSlice {slice_took:?}");
    assert!(slice_took < Duration::from_secs(2), "slow: {slice_took:?}");
    // The Service goes: so do its Endpoints (and, through the collector, its slices).
    services.delete("web", &DeleteParams::default()).await?;
    eventually("endpoints to go", WITHIN, || async {
        matches!(endpoints.get_opt("web").await, Ok(None)).then_some(())
    })
    .await?;
    eventually("slices to go", WITHIN, || async {
        slices
            .list(&by_service)
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await?;
    pods.delete(
        "web-1",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        },
    )
    .await?;
    Ok(())
}

async fn garbage_collection(admin: &kube::Client) -> Result<()> {
    let configmaps: Api<ConfigMap> = Api::namespaced(admin.clone(), NS);
    let owned = |owner: &ConfigMap, name: &str| {
        json!({"metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap",
            "name": owner.metadata.name, "uid": owner.metadata.uid, "blockOwnerDeletion": true,
        }]}})
    };
    let gone = |name: &'static str| {
        let configmaps = configmaps.clone();
        async move { matches!(configmaps.get_opt(name).await, Ok(None)).then_some(()) }
    };
    // Background: the dependent follows its owner.
    let owner = create(&configmaps, json!({"metadata": {"name": "owner-bg"}})).await?;
    create(&configmaps, owned(&owner, "dep-bg")).await?;
    configmaps
        .delete("owner-bg", &DeleteParams::background())
        .await?;
    eventually("the background dependent to go", WITHIN, || gone("dep-bg")).await?;
    // Foreground: the dependent goes first, then the owner.
    let owner = create(&configmaps, json!({"metadata": {"name": "owner-fg"}})).await?;
    create(&configmaps, owned(&owner, "dep-fg")).await?;
    configmaps
        .delete("owner-fg", &DeleteParams::foreground())
        .await?;
    eventually("the foreground dependent to go", WITHIN, || gone("dep-fg")).await?;
    eventually("the foreground owner to go", WITHIN, || gone("owner-fg")).await?;
    // Orphan: the dependent stays, without its owner reference.
    let owner = create(&configmaps, json!({"metadata": {"name": "owner-or"}})).await?;
    create(&configmaps, owned(&owner, "dep-or")).await?;
    configmaps
        .delete(
            "owner-or",
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Orphan),
                ..DeleteParams::default()
            },
        )
        .await?;
    eventually("the orphaning owner to go", WITHIN, || gone("owner-or")).await?;
    let orphan = configmaps.get("dep-or").await?;
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    // Born with an owner that does not exist: collected.
    create(
        &configmaps,
        json!({"metadata": {"name": "dep-dangling", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": "00000000-0000-0000-0000-000000000000"}]}}),
    )
    .await?;
    eventually("the dangling dependent to go", WITHIN, || {
        gone("dep-dangling")
    })
    .await?;
    Ok(())
}

fn taint_keys(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|t| {
            t.iter()
                .map(|t| format!("{}:{}", t.key, t.effect))
                .collect()
        })
        .unwrap_or_default()
}

async fn node_lifecycle_daemonsets_and_budgets(admin: &kube::Client) -> Result<()> {
    let nodes: Api<Node> = Api::all(admin.clone());
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NS);
    create(&nodes, json!({"metadata": {"name": "n1"}})).await?;
    create(
        &nodes,
        json!({"metadata": {"name": "n2", "labels": {"role": "edge"}}}),
    )
    .await?;
    heartbeat(&nodes, "n1").await?;
    heartbeat(&nodes, "n2").await?;
    // n2's kubelet keeps beating; n1's stops after this.
    let beating = {
        let nodes = nodes.clone();
        tokio::spawn(async move {
            loop {
                let _ = heartbeat(&nodes, "n2").await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let evictable = json!({"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                            "effect": "NoExecute", "tolerationSeconds": 1}]});
    create(
        &pods,
        pod_json("on-n1", json!({"app": "pdb"}), Some("n1"), evictable),
    )
    .await?;
    report_pod(&pods, "on-n1", "10.2.0.1", true).await?;
    create(
        &pods,
        pod_json("on-n2", json!({"app": "pdb"}), Some("n2"), json!({})),
    )
    .await?;
    report_pod(&pods, "on-n2", "10.2.0.2", true).await?;

    // A budget over both pods.
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(admin.clone(), NS);
    create(
        &budgets,
        json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "pdb"}}}}),
    )
    .await?;
    eventually("the budget to allow one disruption", WITHIN, || async {
        let status = budgets.get("pdb").await.ok()?.status?;
        (status.current_healthy == 2
            && status.expected_pods == 2
            && status.disruptions_allowed == 1)
            .then_some(())
    })
    .await?;

    // A DaemonSet for edge nodes: one pod, pinned to n2.
    let daemonsets: Api<DaemonSet> = Api::namespaced(admin.clone(), NS);
    create(
        &daemonsets,
        json!({"metadata": {"name": "agent"}, "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                "nodeSelector": {"role": "edge"},
                "containers": [{"name": "c", "image": "hakube/pause"}]}}}}),
    )
    .await?;
    let daemon = eventually("the daemon pod", WITHIN, || async {
        let list = pods
            .list(&ListParams::default().labels("app=agent"))
            .await
            .ok()?;
        (list.items.len() == 1).then(|| list.items[0].clone())
    })
    .await?;
    let pinned = serde_json::to_value(&daemon.spec.as_ref().unwrap().affinity)?;
    assert_eq!(
        pinned["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchFields"][0]["values"][0],
        "n2"
    );
    eventually("the daemonset status", WITHIN, || async {
        let status = daemonsets.get("agent").await.ok()?.status?;
        (status.desired_number_scheduled == 1
            && status.current_number_scheduled == 1
            && status.observed_generation == Some(1))
        .then_some(())
    })
    .await?;
    let revisions: Api<k8s_openapi::api::apps::v1::ControllerRevision> =
        Api::namespaced(admin.clone(), NS);
    assert_eq!(revisions.list(&ListParams::default()).await?.items.len(), 1);

    // n1 falls silent: Unknown conditions, unreachable taints, its pod not ready, then evicted.
    let silent = eventually("n1 to be marked unreachable", WITHIN, || async {
        let node = nodes.get("n1").await.ok()?;
        let keys = taint_keys(&node);
        (keys.contains(&"node.kubernetes.io/unreachable:NoExecute".to_string())
            && keys.contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string()))
        .then_some(node)
    })
    .await?;
    let ready = silent
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("Unknown", Some("NodeStatusUnknown"))
    );
    assert!(
        taint_keys(&nodes.get("n2").await?).is_empty(),
        "the beating node stays untainted"
    );
    eventually("the pod on n1 to be evicted", WITHIN, || async {
        match pods.get_opt("on-n1").await.ok()? {
            None => Some(()),
            Some(pod) => {
                let not_ready = pod
                    .status
                    .as_ref()?
                    .conditions
                    .as_ref()?
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "False");
                (not_ready && pod.metadata.deletion_timestamp.is_some()).then_some(())
            }
        }
    })
    .await?;
    eventually("the budget to count one healthy pod", WITHIN, || async {
        let status = budgets.get("pdb").await.ok()?.status?;
        (status.current_healthy == 1 && status.disruptions_allowed == 0).then_some(())
    })
    .await?;
    // n1 comes back: its taints go.
    heartbeat(&nodes, "n1").await?;
    eventually("n1's taints to go", WITHIN, || async {
        taint_keys(&nodes.get("n1").await.ok()?)
            .is_empty()
            .then_some(())
    })
    .await?;
    beating.abort();
    Ok(())
}

async fn namespace_deletion(admin: &kube::Client) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    create(&namespaces, json!({"metadata": {"name": "doomed"}})).await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(admin.clone(), "doomed");
    create(&configmaps, json!({"metadata": {"name": "content"}})).await?;
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await?;
    eventually("the namespace to go", WITHIN, || async {
        matches!(namespaces.get_opt("doomed").await, Ok(None)).then_some(())
    })
    .await?;
    Ok(())
}
