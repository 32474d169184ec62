//! Acceptance 1, the everyday half: create a namespace, a ConfigMap and a Secret, apply the
//! seed workload and apply it again changed, then read it back in every output format, with
//! label and field selectors, and with `describe`.

use std::net::Ipv4Addr;

use anyhow::{Result, ensure};
use serde_json::Value;

use super::columns::Columns;
use super::harness::ApiCluster;
use super::seed::{HELLO_HA, hello_ha_with_replicas};
use crate::flavor::Flavor;

on_both_stores!(create_apply_and_read_back);

fn create_apply_and_read_back(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();

    admin.expect(&["create", "namespace", "demo"], "namespace/demo created\n")?;
    admin.expect(
        &[
            "create",
            "configmap",
            "settings",
            "-n",
            "demo",
            "--from-literal=color=blue",
            "--from-literal=size=large",
        ],
        "configmap/settings created\n",
    )?;
    admin.expect(
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            "demo",
            "--from-literal=password=hunter2",
        ],
        "secret/creds created\n",
    )?;

    admin.expect_with_stdin(
        &["apply", "-f", "-"],
        Some(HELLO_HA),
        "deployment.apps/hello created\nservice/hello created\n",
    )?;
    admin.expect_with_stdin(
        &["apply", "-f", "-"],
        Some(&hello_ha_with_replicas(4)),
        "deployment.apps/hello configured\nservice/hello unchanged\n",
    )?;

    read_back(&cluster)?;
    selectors(&cluster)?;
    describe(&cluster)
}

fn read_back(cluster: &ApiCluster) -> Result<()> {
    let admin = cluster.admin();
    admin.expect(
        &[
            "get",
            "deployment",
            "hello",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
        "4",
    )?;
    admin.expect(
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.color}",
        ],
        "blue",
    )?;
    // `hunter2`, base64-encoded: Secrets come back decrypted.
    admin.expect(
        &[
            "get",
            "secret",
            "creds",
            "-n",
            "demo",
            "-o",
            "jsonpath={.type} {.data.password}",
        ],
        "Opaque aHVudGVyMg==",
    )?;

    let out = admin.ok(&["get", "deployments", "-o", "wide"])?;
    let table = Columns::parse(&out.stdout)?;
    let row = table.row("hello")?;
    ensure!(
        row[1..4] == [("READY", "0/4"), ("UP-TO-DATE", "0"), ("AVAILABLE", "0")]
            && row[5..]
                == [
                    ("CONTAINERS", "hello-from"),
                    ("IMAGES", "pbitty/hello-from:latest"),
                    ("SELECTOR", "app=hello"),
                ],
        "get deployments -o wide: {row:?}\n{}",
        out.stdout
    );

    let out = admin.ok(&["get", "deployment", "hello", "-o", "yaml"])?;
    let yaml = &out.stdout;
    ensure!(
        yaml.starts_with("apiVersion: apps/v1\n")
            && yaml.lines().any(|l| l == "kind: Deployment")
            && yaml.lines().any(|l| l == "  name: hello")
            && yaml.lines().any(|l| l == "  namespace: default")
            && yaml.lines().any(|l| l == "  replicas: 4")
            // List items start at their key's indentation, and keys are sorted, so the
            // container's line is its first key, `image`, after the list dash.
            && yaml
                .lines()
                .any(|l| l == "      - image: pbitty/hello-from:latest"),
        "get -o yaml: {out}"
    );

    let out = admin.ok(&["get", "deployment", "hello", "-o", "json"])?;
    let deployment: Value = serde_json::from_str(&out.stdout)?;
    let meta = &deployment["metadata"];
    ensure!(
        deployment["apiVersion"] == "apps/v1"
            && deployment["kind"] == "Deployment"
            && meta["name"] == "hello"
            && meta["uid"].as_str().is_some_and(|u| u.len() == 36)
            && meta["resourceVersion"]
                .as_str()
                .is_some_and(|rv| rv.parse::<u64>().is_ok())
            && meta["creationTimestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
            // Created, then one change of spec.
            && meta["generation"] == 2
            && meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string()
            && deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]
                ["containerPort"]
                == 80,
        "get -o json: {deployment:#}"
    );

    let out = admin.ok(&["get", "service", "hello", "-o", "json"])?;
    let service: Value = serde_json::from_str(&out.stdout)?;
    let spec = &service["spec"];
    let cluster_ip = spec["clusterIP"].as_str().unwrap_or_default();
    ensure!(
        spec["type"] == "NodePort"
            && spec["ports"][0]["nodePort"] == 31000
            && spec["ports"][0]["port"] == 80
            && spec["ports"][0]["targetPort"] == "http"
            && in_service_range(cluster_ip)
            && spec["clusterIPs"][0] == cluster_ip,
        "the Service should have node port 31000 and a cluster IP in 10.96.0.0/12: {service:#}"
    );
    Ok(())
}

fn selectors(cluster: &ApiCluster) -> Result<()> {
    let admin = cluster.admin();
    // The API server labels every namespace with its own name.
    admin.expect(
        &[
            "get",
            "namespaces",
            "-l",
            "kubernetes.io/metadata.name=demo",
            "-o",
            "name",
        ],
        "namespace/demo\n",
    )?;
    admin.expect(
        &[
            "get",
            "namespaces",
            "-l",
            "kubernetes.io/metadata.name in (demo,kube-system)",
            "-o",
            "name",
        ],
        "namespace/demo\nnamespace/kube-system\n",
    )?;

    admin.expect(
        &[
            "get",
            "deployments",
            "--field-selector",
            "metadata.name=hello",
            "-o",
            "name",
        ],
        "deployment.apps/hello\n",
    )?;
    let out = admin.ok(&[
        "get",
        "services",
        "--field-selector",
        "metadata.name=nothing",
    ])?;
    ensure!(
        out.stdout.is_empty() && out.stderr == "No resources found in default namespace.\n",
        "a field selector that matches nothing: {out}"
    );
    admin.expect(
        &[
            "get",
            "secrets",
            "-n",
            "demo",
            "--field-selector",
            "type=Opaque",
            "-o",
            "name",
        ],
        "secret/creds\n",
    )?;
    let out = admin.fails(&["get", "configmaps", "--field-selector", "data.color=blue"])?;
    ensure!(
        out.stderr.starts_with("Error from server (BadRequest)")
            && out.stderr.contains("\"data.color\""),
        "an unsupported field selector should be refused with 400: {out}"
    );
    Ok(())
}

fn describe(cluster: &ApiCluster) -> Result<()> {
    let out = cluster.admin().ok(&["describe", "deployment", "hello"])?;
    let field = |key: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    for (key, value) in [
        ("Name", "hello"),
        ("Namespace", "default"),
        ("Selector", "app=hello"),
        (
            "Replicas",
            "4 desired | 0 updated | 0 total | 0 available | 0 unavailable",
        ),
        ("StrategyType", "RollingUpdate"),
        (
            "RollingUpdateStrategy",
            "100% max unavailable, 25% max surge",
        ),
    ] {
        ensure!(
            field(key) == Some(value),
            "describe should show {key}: {value}; it printed:\n{out}"
        );
    }
    ensure!(
        out.stdout.lines().any(|l| l == "Pod Template:")
            && out.stdout.lines().any(|l| l
                .split_whitespace()
                .eq(["Image:", "pbitty/hello-from:latest"])),
        "describe should show the pod template: {out}"
    );
    Ok(())
}

/// Whether `ip` is in 10.96.0.0/12, the default service range.
pub fn in_service_range(ip: &str) -> bool {
    let range = u32::from(Ipv4Addr::new(10, 96, 0, 0));
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|ip| u32::from(ip) & 0xfff0_0000 == range)
}
