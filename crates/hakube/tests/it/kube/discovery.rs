//! Acceptance 1, the read-only half: `version`, `api-resources`, `api-versions` and `explain`
//! answer as they do against Kubernetes 1.33.

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::columns::Columns;
use super::harness::ApiCluster;
use crate::flavor::Flavor;

on_both_stores!(kubectl_reads_version_discovery_and_schemas);

fn kubectl_reads_version_discovery_and_schemas(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();

    let out = admin.ok(&["version"])?;
    let server = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Server Version: "))
        .with_context(|| format!("`kubectl version` printed no server version: {out}"))?;
    ensure!(
        server.starts_with("v1.33."),
        "server version {server:?} should be v1.33.x: {out}"
    );
    let out = admin.ok(&["version", "-o", "json"])?;
    let version: Value = serde_json::from_str(&out.stdout)?;
    let server = &version["serverVersion"];
    ensure!(
        server["major"] == "1"
            && server["minor"] == "33"
            && server["gitVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("v1.33."))
            && server["platform"] == "linux/amd64",
        "serverVersion: {server:#}"
    );

    api_resources(&cluster)?;

    let out = admin.ok(&["api-versions"])?;
    let versions: Vec<&str> = out.stdout.lines().collect();
    for wanted in [
        "v1",
        "apps/v1",
        "authorization.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
    ] {
        ensure!(
            versions.contains(&wanted),
            "api-versions lacks {wanted}: {out}"
        );
    }
    let mut sorted = versions.clone();
    sorted.sort();
    ensure!(versions == sorted, "kubectl sorts api-versions: {out}");

    explain(&cluster)
}

fn api_resources(cluster: &ApiCluster) -> Result<()> {
    let out = cluster.admin().ok(&["api-resources"])?;
    let table = Columns::parse(&out.stdout)?;
    ensure!(
        table.names() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        "api-resources header: {:?}\n{}",
        table.header,
        out.stdout
    );
    // (NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND), as Kubernetes 1.33 serves them.
    let expected = [
        ["pods", "po", "v1", "true", "Pod"],
        ["services", "svc", "v1", "true", "Service"],
        ["configmaps", "cm", "v1", "true", "ConfigMap"],
        ["secrets", "", "v1", "true", "Secret"],
        ["namespaces", "ns", "v1", "false", "Namespace"],
        ["nodes", "no", "v1", "false", "Node"],
        ["serviceaccounts", "sa", "v1", "true", "ServiceAccount"],
        ["events", "ev", "v1", "true", "Event"],
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        ["replicasets", "rs", "apps/v1", "true", "ReplicaSet"],
        [
            "clusterroles",
            "",
            "rbac.authorization.k8s.io/v1",
            "false",
            "ClusterRole",
        ],
    ];
    for row in expected {
        let found = table
            .rows
            .iter()
            .any(|r| r.iter().map(String::as_str).eq(row.iter().copied()));
        ensure!(
            found,
            "api-resources should list {row:?}; it printed:\n{}",
            out.stdout
        );
    }

    let out = cluster
        .admin()
        .ok(&["api-resources", "--namespaced=false", "-o", "name"])?;
    let names: Vec<&str> = out.stdout.lines().collect();
    ensure!(
        names.contains(&"namespaces")
            && names.contains(&"nodes")
            && names.contains(&"clusterroles.rbac.authorization.k8s.io")
            && !names.contains(&"pods"),
        "cluster-scoped resources: {out}"
    );
    Ok(())
}

fn explain(cluster: &ApiCluster) -> Result<()> {
    let out = cluster.admin().ok(&["explain", "deployment.spec"])?;
    // A field's line is its name, then its type in angle brackets; description lines, which
    // may start with any word, never have that second word.
    let field = |name: &str| {
        out.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|words| {
                words.first() == Some(&name) && words.get(1).is_some_and(|w| w.starts_with('<'))
            })
    };
    ensure!(
        out.stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["KIND:", "Deployment"]))
            && out
                .stdout
                .lines()
                .any(|l| l.split_whitespace().eq(["GROUP:", "apps"]))
            && out
                .stdout
                .lines()
                .any(|l| l.split_whitespace().eq(["VERSION:", "v1"])),
        "explain should name the kind, group and version: {out}"
    );
    ensure!(
        out.stdout.lines().any(|l| l
            .split_whitespace()
            .eq(["FIELD:", "spec", "<DeploymentSpec>"])),
        "explain should name the field and its type: {out}"
    );
    ensure!(
        field("replicas") == Some(vec!["replicas", "<integer>"]),
        "explain should list replicas as an integer: {out}"
    );
    ensure!(
        field("template") == Some(vec!["template", "<PodTemplateSpec>", "-required-"]),
        "explain should list the required template: {out}"
    );
    ensure!(
        field("selector") == Some(vec!["selector", "<LabelSelector>", "-required-"]),
        "explain should list the required selector: {out}"
    );
    Ok(())
}
