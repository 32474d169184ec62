//! Acceptance 2: `kubectl get` prints the same columns as against Kubernetes, with the same
//! cells for objects no controller has touched yet.

use std::time::Duration;

use anyhow::{Result, ensure};

use super::columns::{Columns, is_age};
use super::harness::ApiCluster;
use super::seed::HELLO_HA;
use super::workflow::in_service_range;
use crate::flavor::Flavor;

on_both_stores!(get_prints_kubernetes_tables);

fn get_prints_kubernetes_tables(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "namespace", "demo"])?;
    admin.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "demo",
        "--from-literal=color=blue",
        "--from-literal=size=large",
    ])?;
    admin.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "demo",
        "--from-literal=password=hunter2",
    ])?;
    admin.ok_with_stdin(&["apply", "-f", "-"], Some(HELLO_HA))?;
    // The API server creates the `kubernetes` Service shortly after it starts.
    admin.poll_until(
        &["get", "service", "kubernetes"],
        Duration::from_secs(30),
        |out| out.success(),
    )?;

    let table = get(&cluster, &["namespaces"], &["NAME", "STATUS", "AGE"])?;
    for name in [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "demo",
    ] {
        let row = table.row(name)?;
        ensure!(
            row[1] == ("STATUS", "Active") && is_age(row[2].1),
            "namespace {name}: {row:?}"
        );
    }

    let table = get(
        &cluster,
        &["configmaps", "-n", "demo"],
        &["NAME", "DATA", "AGE"],
    )?;
    let row = table.row("settings")?;
    ensure!(row[1] == ("DATA", "2") && is_age(row[2].1), "{row:?}");

    let table = get(
        &cluster,
        &["secrets", "-n", "demo"],
        &["NAME", "TYPE", "DATA", "AGE"],
    )?;
    let row = table.row("creds")?;
    ensure!(
        row[1..3] == [("TYPE", "Opaque"), ("DATA", "1")] && is_age(row[3].1),
        "{row:?}"
    );

    // A Deployment no controller has acted on: nothing ready, updated or available.
    let deployment_columns = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"];
    let table = get(&cluster, &["deployments"], &deployment_columns)?;
    let row = table.row("hello")?;
    ensure!(
        row[1..4] == [("READY", "0/3"), ("UP-TO-DATE", "0"), ("AVAILABLE", "0")]
            && is_age(row[4].1),
        "{row:?}"
    );
    let wide: Vec<&str> = deployment_columns
        .iter()
        .copied()
        .chain(["CONTAINERS", "IMAGES", "SELECTOR"])
        .collect();
    let table = get(&cluster, &["deployments", "-o", "wide"], &wide)?;
    let row = table.row("hello")?;
    ensure!(
        row[5..]
            == [
                ("CONTAINERS", "hello-from"),
                ("IMAGES", "pbitty/hello-from:latest"),
                ("SELECTOR", "app=hello"),
            ],
        "{row:?}"
    );

    let service_columns = [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
    ];
    let table = get(&cluster, &["services"], &service_columns)?;
    let row = table.row("hello")?;
    ensure!(
        row[1] == ("TYPE", "NodePort")
            && in_service_range(row[2].1)
            && row[3..5] == [("EXTERNAL-IP", "<none>"), ("PORT(S)", "80:31000/TCP")]
            && is_age(row[5].1),
        "{row:?}"
    );
    // The first address of the service range goes to the API server's own Service.
    let row = table.row("kubernetes")?;
    ensure!(
        row[1..5]
            == [
                ("TYPE", "ClusterIP"),
                ("CLUSTER-IP", "10.96.0.1"),
                ("EXTERNAL-IP", "<none>"),
                ("PORT(S)", "443/TCP"),
            ],
        "{row:?}"
    );
    let wide: Vec<&str> = service_columns
        .iter()
        .copied()
        .chain(["SELECTOR"])
        .collect();
    let table = get(&cluster, &["services", "-o", "wide"], &wide)?;
    ensure!(
        table.row("hello")?[6] == ("SELECTOR", "app=hello")
            && table.row("kubernetes")?[6] == ("SELECTOR", "<none>"),
        "{table:#?}"
    );
    Ok(())
}

/// `kubectl get <args>`, checked to print exactly the `columns` Kubernetes prints.
fn get(cluster: &ApiCluster, args: &[&str], columns: &[&str]) -> Result<Columns> {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    let out = cluster.admin().ok(&full)?;
    let table = Columns::parse(&out.stdout)?;
    ensure!(
        table.names() == columns,
        "kubectl {} should print the columns {columns:?}; it printed:\n{}",
        full.join(" "),
        out.stdout
    );
    Ok(table)
}
