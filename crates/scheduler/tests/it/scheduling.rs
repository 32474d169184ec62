//! The scheduler end to end on a real API server: the tutorial's anti-affinity replicas land on
//! three nodes, a fourth waits with kube's FailedScheduling event and condition, a deleted pod
//! makes room for it, and a burst of pods is bound quickly.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::time::Instant;

use crate::cluster::Cluster;

const IDENTITY: &str = "cp_it0001";

/// Polls `check` until it returns `Some`, or fails after `within`.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_node(admin: &kube::Client, name: &str) {
    let nodes: Api<Node> = Api::all(admin.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "250"},
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "250"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

fn hello(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "hello"}},
        "spec": {
            "containers": [{"name": "hello", "image": "hakube/agnhost", "args": ["hello"]}],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["hello"]}]},
                 "topologyKey": "kubernetes.io/hostname"}
            ]}},
        },
    }))
    .unwrap()
}

fn node_of(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()?
        .node_name
        .clone()
        .filter(|n| !n.is_empty())
}

async fn events_for(admin: &kube::Client, pod: &str, reason: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(pod) && e.reason.as_deref() == Some(reason)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_binds_and_reports_like_kube_scheduler() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let cluster = Cluster::start().await;
    let admin = cluster.admin.clone();
    for n in ["n1", "n2", "n3"] {
        create_node(&admin, n).await;
    }
    let scheduler = scheduler::start(scheduler::SchedulerConfig {
        identity: IDENTITY.into(),
        client: cluster.scheduler.clone(),
        scheduler_name: "default-scheduler".into(),
    })
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");

    // Three replicas with hostname anti-affinity: one per node.
    for i in 0..3 {
        pods.create(&PostParams::default(), &hello(&format!("hello-{i}")))
            .await
            .unwrap();
    }
    let placed: BTreeSet<String> = eventually(Duration::from_secs(60), "three bound pods", || {
        let pods = pods.clone();
        async move {
            let mut nodes = BTreeSet::new();
            for i in 0..3 {
                nodes.insert(node_of(&pods.get(&format!("hello-{i}")).await.ok()?)?);
            }
            Some(nodes)
        }
    })
    .await;
    assert_eq!(
        placed,
        BTreeSet::from(["n1".into(), "n2".into(), "n3".into()])
    );
    assert!(scheduler.is_leader());
    let lease: Api<Lease> = Api::namespaced(admin.clone(), "kube-system");
    let held = lease.get("kube-scheduler").await.unwrap();
    assert_eq!(
        held.spec.unwrap().holder_identity.as_deref(),
        Some(IDENTITY)
    );

    // Each got kube's Scheduled event.
    for i in 0..3 {
        let name = format!("hello-{i}");
        let node = node_of(&pods.get(&name).await.unwrap()).unwrap();
        let events =
            eventually(Duration::from_secs(10), "a Scheduled event", || {
                let admin = admin.clone();
                let name = name.clone();
                async move {
                    Some(events_for(&admin, &name, "Scheduled").await).filter(|e| !e.is_empty())
                }
            })
            .await;
        let event = &events[0];
        assert_eq!(
            event.message.as_deref(),
            Some(format!("Successfully assigned default/{name} to {node}").as_str())
        );
        assert_eq!(event.type_.as_deref(), Some("Normal"));
        assert_eq!(
            event.source.as_ref().unwrap().component.as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(
            event.reporting_component.as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(
            event.reporting_instance.as_deref(),
            Some("default-scheduler-cp")
        );
    }

    // The fourth replica fits nowhere.
    let want = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
                preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    pods.create(&PostParams::default(), &hello("hello-3"))
        .await
        .unwrap();
    let failed = eventually(Duration::from_secs(30), "a FailedScheduling event", || {
        let admin = admin.clone();
        async move {
            events_for(&admin, "hello-3", "FailedScheduling")
                .await
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(failed.message.as_deref(), Some(want));
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let condition = eventually(
        Duration::from_secs(10),
        "the PodScheduled condition",
        || {
            let pods = pods.clone();
            async move {
                let pod = pods.get("hello-3").await.ok()?;
                pod.status?
                    .conditions?
                    .into_iter()
                    .find(|c| c.type_ == "PodScheduled")
            }
        },
    )
    .await;
    assert_eq!(
        (
            condition.status.as_str(),
            condition.reason.as_deref(),
            condition.message.as_deref()
        ),
        ("False", Some("Unschedulable"), Some(want))
    );
    assert_eq!(node_of(&pods.get("hello-3").await.unwrap()), None);

    // Deleting a replica frees its node, and the waiting pod takes it without waiting for the
    // periodic flush.
    let freed = node_of(&pods.get("hello-0").await.unwrap()).unwrap();
    let started = Instant::now();
    pods.delete(
        "hello-0",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();
    let node = eventually(Duration::from_secs(20), "hello-3 to be bound", || {
        let pods = pods.clone();
        async move { node_of(&pods.get("hello-3").await.ok()?) }
    })
    .await;
    assert_eq!(node, freed);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "retried after {:?}",
        started.elapsed()
    );
    // The repeated failures (if any) bumped one event rather than creating more.
    assert_eq!(
        events_for(&admin, "hello-3", "FailedScheduling")
            .await
            .len(),
        1
    );

    // A pod that needs a label no node has waits; labelling a node lets it in.
    let ssd: Pod = serde_json::from_value(json!({
        "metadata": {"name": "ssd"},
        "spec": {"containers": [{"name": "c", "image": "hakube/pause"}], "nodeSelector": {"disk": "ssd"}},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &ssd).await.unwrap();
    let failed = eventually(
        Duration::from_secs(30),
        "ssd's FailedScheduling event",
        || {
            let admin = admin.clone();
            async move {
                events_for(&admin, "ssd", "FailedScheduling")
                    .await
                    .into_iter()
                    .next()
            }
        },
    )
    .await;
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        )
    );
    let nodes: Api<Node> = Api::all(admin.clone());
    let label = json!({"metadata": {"labels": {"disk": "ssd"}}});
    nodes
        .patch("n2", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    let node = eventually(Duration::from_secs(20), "ssd to be bound", || {
        let pods = pods.clone();
        async move { node_of(&pods.get("ssd").await.ok()?) }
    })
    .await;
    assert_eq!(node, "n2");

    // A burst: 300 pods without constraints, bound at a rate worth reporting.
    let burst = 300;
    let started = Instant::now();
    futures::stream::iter(0..burst)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("load-{i}"), "labels": {"app": "load"}},
                    "spec": {"containers": [{"name": "c", "image": "hakube/pause"}]},
                }))
                .unwrap();
                pods.create(&PostParams::default(), &pod).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let created = started.elapsed();
    eventually(Duration::from_secs(120), "the burst to be bound", || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels("app=load"))
                .await
                .ok()?;
            let bound = list.items.iter().filter(|p| node_of(p).is_some()).count();
            (bound == burst).then_some(())
        }
    })
    .await;
    let all = started.elapsed();
    println!(
        "burst: {burst} pods created in {created:?}, all bound {all:?} after the first create ({:.0} pods/s end to end)",
        burst as f64 / all.as_secs_f64()
    );

    // Shutting down releases the Lease.
    scheduler.shutdown().await;
    let released = lease.get("kube-scheduler").await.unwrap();
    let holder = released.spec.unwrap().holder_identity.unwrap_or_default();
    assert!(holder.is_empty(), "still held by {holder}");
    cluster.stop().await;
}
