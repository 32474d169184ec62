//! Deployments and ReplicaSets end to end: a rollout, a rolling update, a rollback to the old
//! template, scaling up and down, adoption and release of pods, and the Events on the way.

use std::time::Duration;

use anyhow::{Context as _, Result};
use controller_manager::{ControllerManager, ControllerManagerConfig, Settings};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support::{Cluster, eventually, holds_for};

const WITHIN: Duration = Duration::from_secs(30);

async fn start_manager(cluster: &Cluster) -> Result<ControllerManager> {
    let manager = controller_manager::start(ControllerManagerConfig {
        identity: "node-1".into(),
        kube_config: cluster.manager_config().await?,
        settings: Settings {
            root_ca_pem: cluster.ca_pem(),
            ..Settings::default()
        },
    })
    .await?;
    eventually("leadership", WITHIN, || async {
        manager.is_leader().then_some(())
    })
    .await?;
    Ok(manager)
}

fn active(pods: &[Pod]) -> Vec<&Pod> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Marks every pod with `label` Ready, as a kubelet would once its containers run.
async fn mark_ready(pods: &Api<Pod>, label: &str) -> Result<()> {
    let now = jiff::Timestamp::now().to_string();
    for pod in pods.list(&ListParams::default().labels(label)).await? {
        if ready(&pod) || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let patch = json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }});
        let name = pod.metadata.name.unwrap_or_default();
        // A pod deleted meanwhile is fine.
        let _ = pods
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
    }
    Ok(())
}

fn annotation(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<String> {
    meta.annotations.as_ref()?.get(key).cloned()
}

fn condition(d: &Deployment, type_: &str) -> Option<(String, String, String)> {
    let c = d
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((
        c.status.clone(),
        c.reason.clone().unwrap_or_default(),
        c.message.clone().unwrap_or_default(),
    ))
}

/// Marks pods ready until the Deployment reports a finished rollout, and returns it.
async fn rolled_out(
    deployments: &Api<Deployment>,
    pods: &Api<Pod>,
    replicas: i32,
) -> Result<Deployment> {
    eventually("the rollout to finish", WITHIN, || async {
        mark_ready(pods, "app=web").await.ok()?;
        let d = deployments.get("web").await.ok()?;
        let status = d.status.clone()?;
        let done = status.observed_generation == d.metadata.generation
            && status.replicas == Some(replicas)
            && status.updated_replicas == Some(replicas)
            && status.available_replicas == Some(replicas)
            && condition(&d, "Progressing")
                .is_some_and(|(_, reason, _)| reason == "NewReplicaSetAvailable");
        done.then_some(d)
    })
    .await
}

/// The ReplicaSets the Deployment owns, by name.
async fn owned_sets(sets: &Api<ReplicaSet>, d: &Deployment) -> Result<Vec<ReplicaSet>> {
    let mut owned: Vec<ReplicaSet> = sets
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == d.metadata.uid.as_ref())
        })
        .collect();
    owned.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(owned)
}

fn set_named<'a>(sets: &'a [ReplicaSet], name: &str) -> Option<&'a ReplicaSet> {
    sets.iter()
        .find(|rs| rs.metadata.name.as_deref() == Some(name))
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_rolls_out_updates_rolls_back_and_scales() -> Result<()> {
    let cluster = Cluster::start("127.0.211.1").await?;
    let admin = cluster.admin().await?;
    let manager = start_manager(&cluster).await?;
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(admin.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");

    let web: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
            }
        }
    }))?;
    deployments.create(&PostParams::default(), &web).await?;

    // A ReplicaSet named after the template hash, with three pods that are not ready yet.
    let d = eventually("three pods", WITHIN, || async {
        let d = deployments.get("web").await.ok()?;
        let pods = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        (active(&pods.items).len() == 3 && d.status.as_ref()?.replicas == Some(3)).then_some(d)
    })
    .await?;
    let first = owned_sets(&sets, &d).await?;
    assert_eq!(first.len(), 1, "one ReplicaSet");
    let first = first[0].clone();
    let first_name = first.metadata.name.clone().context("name")?;
    let hash = first
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"))
        .cloned();
    let hash = hash.context("the ReplicaSet carries the pod-template-hash label")?;
    assert_eq!(first_name, format!("web-{hash}"));
    let spec = first.spec.clone().context("spec")?;
    assert_eq!(
        spec.selector
            .match_labels
            .as_ref()
            .and_then(|l| l.get("pod-template-hash")),
        Some(&hash)
    );
    assert_eq!(
        annotation(&first.metadata, "deployment.kubernetes.io/revision").as_deref(),
        Some("1")
    );
    assert_eq!(
        annotation(&first.metadata, "deployment.kubernetes.io/desired-replicas").as_deref(),
        Some("3")
    );
    assert_eq!(
        annotation(&first.metadata, "deployment.kubernetes.io/max-replicas").as_deref(),
        Some("4")
    );
    for pod in pods.list(&ListParams::default().labels("app=web")).await? {
        let owner = &pod.metadata.owner_references.clone().context("owner")?[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", first_name.as_str())
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(
            pod.metadata.generate_name.as_deref(),
            Some(format!("{first_name}-").as_str())
        );
    }
    let d = eventually("the status to count unavailable pods", WITHIN, || async {
        let d = deployments.get("web").await.ok()?;
        let (status, reason, _) = condition(&d, "Available")?;
        (status == "False" && reason == "MinimumReplicasUnavailable").then_some(d)
    })
    .await?;
    assert_eq!(
        d.status.as_ref().and_then(|s| s.unavailable_replicas),
        Some(3)
    );
    assert_eq!(
        annotation(&d.metadata, "deployment.kubernetes.io/revision").as_deref(),
        Some("1")
    );

    // Ready pods complete the rollout.
    let d = rolled_out(&deployments, &pods, 3).await?;
    let (status, _, message) = condition(&d, "Available").context("Available")?;
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("True", "Deployment has minimum availability.")
    );
    let (_, _, message) = condition(&d, "Progressing").context("Progressing")?;
    assert_eq!(
        message,
        format!("ReplicaSet \"{first_name}\" has successfully progressed.")
    );

    // At rest, nothing is written: no controller keeps rewriting what it already wrote. First
    // the last status writes of the rollout land (two polls in a row agree), then nothing may
    // change for 1.5 s.
    let versions = || async {
        let d = deployments.get("web").await.ok()?;
        let rs = sets.get(&first_name).await.ok()?;
        Some((d.metadata.resource_version, rs.metadata.resource_version))
    };
    let previous = std::cell::RefCell::new(None);
    let before = eventually("the rollout's last writes", WITHIN, || async {
        let now = versions().await?;
        let settled = previous.borrow().as_ref() == Some(&now);
        *previous.borrow_mut() = Some(now.clone());
        settled.then_some(now)
    })
    .await?;
    holds_for(
        "the Deployment and its ReplicaSet at rest",
        Duration::from_millis(1500),
        || async { versions().await.as_ref() == Some(&before) },
    )
    .await?;

    // A new image rolls out through a second ReplicaSet.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let d = rolled_out(&deployments, &pods, 3).await?;
    let both = owned_sets(&sets, &d).await?;
    assert_eq!(both.len(), 2, "old and new ReplicaSets");
    let old = set_named(&both, &first_name).context("the first ReplicaSet stays")?;
    let new = both
        .iter()
        .find(|rs| rs.metadata.name.as_deref() != Some(&first_name))
        .context("new")?;
    let second_name = new.metadata.name.clone().context("name")?;
    assert_eq!((replicas(old), replicas(new)), (0, 3));
    assert_eq!(
        annotation(&new.metadata, "deployment.kubernetes.io/revision").as_deref(),
        Some("2")
    );
    assert_eq!(
        annotation(&d.metadata, "deployment.kubernetes.io/revision").as_deref(),
        Some("2")
    );
    let images: Vec<String> = active(
        &pods
            .list(&ListParams::default().labels("app=web"))
            .await?
            .items,
    )
    .iter()
    .filter_map(|p| p.spec.as_ref()?.containers[0].image.clone())
    .collect();
    assert_eq!(images, ["nginx:1.28"; 3]);

    // Rolling back to the first template (as kubectl rollout undo does) reuses its ReplicaSet.
    let mut template = old
        .spec
        .clone()
        .and_then(|s| s.template)
        .context("template")?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    let patch = json!({"spec": {"template": template}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let d = rolled_out(&deployments, &pods, 3).await?;
    let after = owned_sets(&sets, &d).await?;
    assert_eq!(after.len(), 2, "no third ReplicaSet");
    let back = set_named(&after, &first_name).context("first")?;
    assert_eq!(replicas(back), 3);
    assert_eq!(
        annotation(&back.metadata, "deployment.kubernetes.io/revision").as_deref(),
        Some("3")
    );
    assert_eq!(
        annotation(&back.metadata, "deployment.kubernetes.io/revision-history").as_deref(),
        Some("1")
    );
    assert_eq!(
        replicas(set_named(&after, &second_name).context("second")?),
        0
    );

    // Scaling through the scale subresource.
    for (size, _) in [(5, "up"), (2, "down")] {
        deployments
            .patch_scale(
                "web",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"replicas": size}})),
            )
            .await?;
        rolled_out(&deployments, &pods, size).await?;
        let pods_now = pods.list(&ListParams::default().labels("app=web")).await?;
        let owners: Vec<String> = active(&pods_now.items)
            .iter()
            .filter_map(|p| Some(p.metadata.owner_references.as_ref()?[0].name.clone()))
            .collect();
        assert_eq!(
            owners,
            vec![first_name.clone(); size as usize],
            "scaled to {size}"
        );
    }

    // The Events kube would have recorded.
    let events = events.list(&ListParams::default()).await?.items;
    let said = |reason: &str, message: &str| {
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some(reason) && e.message.as_deref() == Some(message))
    };
    assert!(
        said(
            "ScalingReplicaSet",
            &format!("Scaled up replica set {first_name} from 0 to 3")
        ),
        "{events:#?}"
    );
    assert!(said(
        "ScalingReplicaSet",
        &format!("Scaled up replica set {first_name} from 3 to 5")
    ));
    assert!(said(
        "ScalingReplicaSet",
        &format!("Scaled down replica set {first_name} from 5 to 2")
    ));
    assert!(events.iter().any(|e| {
        e.reason.as_deref() == Some("SuccessfulCreate")
            && e.message
                .as_deref()
                .is_some_and(|m| m.starts_with(&format!("Created pod: {first_name}-")))
            && e.source.as_ref().and_then(|s| s.component.as_deref())
                == Some("replicaset-controller")
    }));
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("SuccessfulDelete"))
    );

    manager.shutdown().await;
    cluster.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_set_adopts_matching_orphans_and_releases_pods_that_stop_matching() -> Result<()>
{
    let cluster = Cluster::start("127.0.211.2").await?;
    let admin = cluster.admin().await?;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(admin.clone(), "default");
    // An orphan made before the ReplicaSet (and before the manager runs).
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray", "labels": {"app": "db"}},
        "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}
    }))?;
    pods.create(&PostParams::default(), &orphan).await?;
    let manager = start_manager(&cluster).await?;
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}
            }
        }
    }))?;
    let rs = sets.create(&PostParams::default(), &rs).await?;
    let uid = rs.metadata.uid.clone().context("uid")?;
    let owned_by_rs = |p: &Pod| {
        p.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.uid == uid && o.controller == Some(true))
    };
    // The orphan counts as one of the two.
    eventually("the orphan adopted and one pod made", WITHIN, || async {
        let all = pods
            .list(&ListParams::default().labels("app=db"))
            .await
            .ok()?;
        let active = active(&all.items);
        (active.len() == 2 && active.iter().all(|p| owned_by_rs(p))).then_some(())
    })
    .await?;
    // Relabelled away, it is released and replaced.
    let patch = json!({"metadata": {"labels": {"app": "other"}}});
    pods.patch("stray", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    eventually("the pod released and replaced", WITHIN, || async {
        let stray = pods.get("stray").await.ok()?;
        let all = pods
            .list(&ListParams::default().labels("app=db"))
            .await
            .ok()?;
        (!owned_by_rs(&stray) && active(&all.items).len() == 2).then_some(())
    })
    .await?;
    // Ready pods make it available; its status says so.
    let rs = eventually("ready and available replicas", WITHIN, || async {
        mark_ready(&pods, "app=db").await.ok()?;
        let rs = sets.get("db").await.ok()?;
        let status = rs.status.clone()?;
        (status.ready_replicas == Some(2)
            && status.available_replicas == Some(2)
            && status.fully_labeled_replicas == Some(2)
            && status.observed_generation == rs.metadata.generation)
            .then_some(rs)
    })
    .await?;
    assert_eq!(rs.status.map(|s| s.replicas), Some(2));

    manager.shutdown().await;
    cluster.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_replicas_are_created_promptly_and_exactly_once() -> Result<()> {
    let cluster = Cluster::start("127.0.211.4").await?;
    let admin = cluster.admin().await?;
    let manager = start_manager(&cluster).await?;
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let many: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "many"},
        "spec": {
            "replicas": 100,
            "selector": {"matchLabels": {"app": "many"}},
            "template": {
                "metadata": {"labels": {"app": "many"}},
                "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]}
            }
        }
    }))?;
    // Let the manager start its controllers first (each creates its ServiceAccount), so the
    // clock measures the controllers alone.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(admin.clone(), "kube-system");
    eventually("the controllers to start", WITHIN, || async {
        accounts.get("replicaset-controller").await.ok().map(drop)
    })
    .await?;
    let started = std::time::Instant::now();
    deployments.create(&PostParams::default(), &many).await?;
    eventually("a hundred pods", WITHIN, || async {
        let all = pods
            .list(&ListParams::default().labels("app=many"))
            .await
            .ok()?;
        (all.items.len() >= 100).then_some(())
    })
    .await?;
    let elapsed = started.elapsed();
    println!("100 pods created in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    // Once the status has caught up, there are still exactly a hundred.
    eventually("the status to count them", WITHIN, || async {
        let d = deployments.get("many").await.ok()?;
        (d.status?.replicas == Some(100)).then_some(())
    })
    .await?;
    let all = pods.list(&ListParams::default().labels("app=many")).await?;
    assert_eq!(all.items.len(), 100);

    manager.shutdown().await;
    cluster.stop().await;
    Ok(())
}
