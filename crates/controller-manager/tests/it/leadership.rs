//! Two controller managers: one leads (and acts through the controllers' ServiceAccounts), the
//! other waits, and takes over as soon as the first shuts down and releases the Lease.

use std::time::Duration;

use anyhow::{Context as _, Result};
use controller_manager::{ControllerManagerConfig, Settings};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;

use crate::support::{Cluster, eventually, holds_for};

const WITHIN: Duration = Duration::from_secs(30);

async fn config(cluster: &Cluster, node: &str) -> Result<ControllerManagerConfig> {
    Ok(ControllerManagerConfig {
        identity: node.into(),
        kube_config: cluster.manager_config().await?,
        settings: Settings::default(),
    })
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get("kube-controller-manager")
        .await
        .ok()?
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_manager_leads_and_another_takes_over_when_it_stops() -> Result<()> {
    let cluster = Cluster::start("127.0.211.3").await?;
    let admin = cluster.admin().await?;
    let leases: Api<Lease> = Api::namespaced(admin.clone(), "kube-system");
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "kube-system");

    let first = controller_manager::start(config(&cluster, "node-1").await?).await?;
    eventually("the first to lead", WITHIN, || async {
        first.is_leader().then_some(())
    })
    .await?;
    let second = controller_manager::start(config(&cluster, "node-2").await?).await?;
    let held = holder(&leases).await.context("a holder")?;
    assert!(held.starts_with("node-1_"), "{held}");

    // The leader's controllers act as their own ServiceAccounts.
    for name in ["deployment-controller", "replicaset-controller"] {
        eventually(&format!("ServiceAccount {name}"), WITHIN, || async {
            accounts.get(name).await.ok().map(drop)
        })
        .await?;
    }
    // Well past a renewal or two, the second still waits.
    holds_for("the second waiting", Duration::from_secs(2), || async {
        !second.is_leader()
    })
    .await?;

    first.shutdown().await;
    // A released Lease is taken at the next retry (1 s), long before it would expire.
    eventually("the second to lead", Duration::from_secs(4), || async {
        second.is_leader().then_some(())
    })
    .await?;
    let held = holder(&leases).await.context("a holder")?;
    assert!(held.starts_with("node-2_"), "{held}");

    second.shutdown().await;
    cluster.stop().await;
    Ok(())
}
