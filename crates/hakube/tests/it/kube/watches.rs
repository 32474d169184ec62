//! Acceptance 5: `kubectl get -w` sees a ConfigMap added, modified and deleted, in that order,
//! and a watch from a resourceVersion the store has compacted away is refused with 410 Gone.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::harness::ApiCluster;
use crate::etcdctl::Output;
use crate::flavor::Flavor;

/// How long a watch may take to show an event.
const EVENT_LIMIT: Duration = Duration::from_secs(20);

on_both_stores!(
    watch_sees_added_modified_deleted,
    watch_from_a_compacted_version_is_gone,
);

fn watch_sees_added_modified_deleted(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "namespace", "watched"])?;
    // Once the watch prints the sentinel, its initial list is done and it is watching from the
    // list's resourceVersion, so nothing done afterwards can be folded into that list.
    admin.ok(&[
        "create",
        "configmap",
        "sentinel",
        "-n",
        "watched",
        "--from-literal=k=v",
    ])?;
    let mut watch = admin.spawn(&[
        "get",
        "configmaps",
        "-n",
        "watched",
        "--watch",
        "--output-watch-events",
        "-o",
        "json",
    ])?;
    watch.wait_until("the sentinel", EVENT_LIMIT, |text| {
        events(text).iter().any(|e| e.name == "sentinel")
    })?;

    admin.ok(&[
        "create",
        "configmap",
        "subject",
        "-n",
        "watched",
        "--from-literal=k=1",
    ])?;
    admin.ok(&[
        "patch",
        "configmap",
        "subject",
        "-n",
        "watched",
        "--type=merge",
        "-p",
        r#"{"data":{"k":"2"}}"#,
    ])?;
    admin.ok(&["delete", "configmap", "subject", "-n", "watched"])?;
    watch.wait_until("the deletion", EVENT_LIMIT, |text| {
        events(text)
            .iter()
            .any(|e| e.name == "subject" && e.kind == "DELETED")
    })?;
    let out = watch.stop();

    let all = events(&out.stdout);
    let subject: Vec<&Event> = all.iter().filter(|e| e.name == "subject").collect();
    let seen: Vec<(&str, &str)> = subject
        .iter()
        .map(|e| (e.kind.as_str(), e.value.as_str()))
        .collect();
    ensure!(
        seen == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")],
        "the watch should show the ConfigMap added, modified and deleted: {seen:?}\n{out}"
    );
    ensure!(
        subject.windows(2).all(|w| w[0].version < w[1].version),
        "each event should carry a later resourceVersion: {subject:?}"
    );
    ensure!(
        all.iter()
            .filter(|e| e.name == "sentinel")
            .map(|e| e.kind.as_str())
            .eq(["ADDED"]),
        "the sentinel should be listed once, as ADDED: {all:?}"
    );
    Ok(())
}

fn watch_from_a_compacted_version_is_gone(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "configmap", "old", "--from-literal=k=0"])?;
    let first = admin
        .ok(&[
            "get",
            "configmap",
            "old",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])?
        .stdout;
    for k in ["1", "2"] {
        admin.ok(&[
            "patch",
            "configmap",
            "old",
            "--type=merge",
            "-p",
            &format!(r#"{{"data":{{"k":"{k}"}}}}"#),
        ])?;
    }

    // Compact the store up to its current revision.
    let etcdctl = cluster.etcdctl();
    let out = etcdctl
        .run(&["get", "/registry/configmaps/default/old", "-w", "json"])?
        .ok("reading the store's revision")?;
    let header: Value = serde_json::from_str(&out.stdout)?;
    let revision = header["header"]["revision"]
        .as_u64()
        .with_context(|| format!("no revision in {header:#}"))?;
    etcdctl
        .run(&["compaction", &revision.to_string()])?
        .ok("compacting the store")?;

    let raw_watch = |version: &str| {
        admin.run(&[
            "get",
            "--raw",
            &format!(
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={version}&timeoutSeconds=2"
            ),
        ])
    };
    let out = raw_watch(&first)?;
    ensure!(
        gone(&out)?,
        "a watch from resourceVersion {first}, compacted at {revision}, should get 410: {out}{}",
        admin.server_log_tail()
    );

    // A watch from the compaction revision itself is served, and ends at its timeout; so the
    // check above tells the two apart.
    let out = raw_watch(&revision.to_string())?;
    ensure!(
        out.success() && !gone(&out)?,
        "a watch from resourceVersion {revision}, the compaction revision, should be served: {out}"
    );
    Ok(())
}

/// Whether a raw watch was refused with 410: either as an ERROR event carrying a Status with
/// code 410 (how Kubernetes reports it once the watch has started), or as a failed request
/// whose Status kubectl prints with the reason `Expired` or `Gone`.
fn gone(out: &Output) -> Result<bool> {
    if !out.success() {
        return Ok(out.stderr.contains("Error from server (Expired)")
            || out.stderr.contains("Error from server (Gone)"));
    }
    for event in serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>() {
        let event = event.with_context(|| format!("a watch event that is not JSON: {out}"))?;
        if event["type"] == "ERROR" {
            let status = &event["object"];
            if status["kind"] == "Status" && status["code"] == 410 {
                return Ok(true);
            }
            bail!("an ERROR event without a 410 Status: {event:#}");
        }
    }
    Ok(false)
}

/// One event as `kubectl get -w --output-watch-events -o json` prints it.
#[derive(Debug)]
struct Event {
    kind: String,
    name: String,
    /// The ConfigMap's `data.k`.
    value: String,
    version: u64,
}

/// The complete events in a watch's output so far; a half-printed last one is left out.
fn events(text: &str) -> Vec<Event> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .map(|e| {
            let object = &e["object"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            Event {
                kind: text(&e["type"]),
                name: text(&object["metadata"]["name"]),
                value: text(&object["data"]["k"]),
                version: object["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_default(),
            }
        })
        .collect()
}
