//! Real kubectl (/usr/bin/kubectl) against the controllers: `create deployment`, `rollout
//! status`, `set image`, `rollout history`, `rollout undo`, `rollout restart` and `scale`, with
//! a stand-in kubelet that marks every pod Ready.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use controller_manager::{ControllerManagerConfig, Settings};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::support::{Cluster, eventually};

/// Runs kubectl with `args` against the cluster; its stdout, or an error with its stderr.
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String> {
    let output = tokio::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .await
        .context("these tests need /usr/bin/kubectl")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "kubectl {args:?} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

/// Marks every pod Ready, over and over, as a kubelet would once containers run.
async fn stand_in_kubelet(pods: Api<Pod>) {
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list {
                let ready = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let patch = json!({"status": {"phase": "Running", "conditions": [{
                    "type": "Ready", "status": "True",
                    "lastTransitionTime": jiff::Timestamp::now().to_string(),
                }]}});
                let name = pod.metadata.name.unwrap_or_default();
                let _ = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn images(pods: &Api<Pod>) -> Result<Vec<String>> {
    let mut images: Vec<String> = pods
        .list(&ListParams::default().labels("app=web"))
        .await?
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.spec?.containers.first()?.image.clone())
        .collect();
    images.sort();
    Ok(images)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_and_scale_work() -> Result<()> {
    let cluster = Cluster::start("127.0.211.5").await?;
    let admin = cluster.admin().await?;
    let kubeconfig = cluster.admin_kubeconfig()?;
    let manager = controller_manager::start(ControllerManagerConfig {
        identity: "node-1".into(),
        kube_config: cluster.manager_config().await?,
        settings: Settings::default(),
    })
    .await?;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let kubelet = tokio::spawn(stand_in_kubelet(pods.clone()));
    let k = |args: &'static [&'static str]| kubectl(&kubeconfig, args);

    k(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
    ])
    .await?;
    let out = k(&["rollout", "status", "deployment/web", "--timeout=60s"]).await?;
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );

    k(&["set", "image", "deployment/web", "nginx=nginx:1.28"]).await?;
    let out = k(&["rollout", "status", "deployment/web", "--timeout=60s"]).await?;
    assert!(out.contains("successfully rolled out"), "{out}");
    eventually(
        "the new image everywhere",
        Duration::from_secs(30),
        || async { (images(&pods).await.ok()? == ["nginx:1.28", "nginx:1.28"]).then_some(()) },
    )
    .await?;

    let history = k(&["rollout", "history", "deployment/web"]).await?;
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");

    let out = k(&["rollout", "undo", "deployment/web"]).await?;
    assert!(out.contains("rolled back"), "{out}");
    k(&["rollout", "status", "deployment/web", "--timeout=60s"]).await?;
    eventually("the old image back", Duration::from_secs(30), || async {
        (images(&pods).await.ok()? == ["nginx:1.27", "nginx:1.27"]).then_some(())
    })
    .await?;
    let history = k(&["rollout", "history", "deployment/web", "--revision=3"]).await?;
    assert!(history.contains("nginx:1.27"), "{history}");

    let out = k(&["rollout", "restart", "deployment/web"]).await?;
    assert!(out.contains("restarted"), "{out}");
    k(&["rollout", "status", "deployment/web", "--timeout=60s"]).await?;
    let sets: Api<ReplicaSet> = Api::namespaced(admin.clone(), "default");
    let count = sets
        .list(&ListParams::default().labels("app=web"))
        .await?
        .items
        .len();
    assert_eq!(count, 3, "a restart makes a third ReplicaSet");

    k(&["scale", "deployment/web", "--replicas=4"]).await?;
    k(&["rollout", "status", "deployment/web", "--timeout=60s"]).await?;
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "default");
    eventually("four available", Duration::from_secs(30), || async {
        let d = deployments.get("web").await.ok()?;
        (d.status?.available_replicas == Some(4)).then_some(())
    })
    .await?;

    kubelet.abort();
    manager.shutdown().await;
    cluster.stop().await;
    Ok(())
}
