//! Table tests of the EndpointSlice plan.

use k8s_openapi::api::core::v1::{Node, Pod, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::reconcile::{self, Plan, plan};
use crate::cluster::pods::fixtures::{pod, time, with_ip};

fn service() -> Service {
    Service {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("web".into()),
            uid: Some("svc-uid".into()),
            labels: Some([("team".to_string(), "a".to_string())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some([("app".to_string(), "web".to_string())].into()),
            cluster_ip: Some("10.96.0.10".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::Int(8080)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn pods(n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| {
            with_ip(
                pod("ns", &format!("p{i}"), &[("app", "web")], true),
                &format!("10.0.{}.{}", i / 200, i % 200),
            )
        })
        .collect()
}

fn no_node(_: &str) -> Option<&'static Node> {
    None
}

/// Names the created slices `web-<n>` and gives them UIDs, as the API server would.
fn written(plan: &Plan) -> Vec<EndpointSlice> {
    let mut all: Vec<EndpointSlice> = plan.update.clone();
    for (i, slice) in plan.create.iter().enumerate() {
        let mut slice = slice.clone();
        slice.metadata.name = Some(format!("web-{i}"));
        slice.metadata.uid = Some(format!("slice-{i}"));
        slice.metadata.generate_name = None;
        all.push(slice);
    }
    all
}

fn sizes(slices: &[EndpointSlice]) -> Vec<usize> {
    slices.iter().map(|s| s.endpoints.len()).collect()
}

#[test]
fn first_sync_creates_full_slices() {
    let svc = service();
    let pods = pods(250);
    let refs: Vec<&Pod> = pods.iter().collect();
    let p = plan(&svc, &refs, no_node, &[], 100, Some(time(7)));
    assert_eq!(sizes(&p.create), [100, 100, 50]);
    assert!(p.update.is_empty() && p.delete.is_empty());
    let slice = &p.create[0];
    assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(slice.address_type, "IPv4");
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[reconcile::SERVICE_NAME_LABEL], "web");
    assert_eq!(
        labels[reconcile::MANAGED_BY_LABEL],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["team"], "a");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Service", "svc-uid", Some(true))
    );
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port),
        (Some("http"), Some(8080))
    );
    let endpoint = &slice.endpoints[0];
    let conditions = endpoint.conditions.as_ref().unwrap();
    assert_eq!(
        (conditions.ready, conditions.serving, conditions.terminating),
        (Some(true), Some(true), Some(false))
    );
    assert_eq!(endpoint.node_name.as_deref(), Some("node-1"));
    assert_eq!(
        slice.metadata.annotations.as_ref().unwrap()["endpoints.kubernetes.io/last-change-trigger-time"],
        "1970-01-01T00:00:07Z"
    );
}

#[test]
fn steady_state_writes_nothing() {
    let svc = service();
    let pods = pods(150);
    let refs: Vec<&Pod> = pods.iter().collect();
    let existing = written(&plan(&svc, &refs, no_node, &[], 100, None));
    let again = plan(&svc, &refs, no_node, &existing, 100, None);
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn changes_touch_only_the_slices_involved() {
    let svc = service();
    let mut all = pods(150);
    let existing = written(&plan(
        &svc,
        &all.iter().collect::<Vec<_>>(),
        no_node,
        &[],
        100,
        None,
    ));
    // One pod turns unready; another is terminating; a new one appears.
    all[3].status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "False".into();
    all[120].metadata.deletion_timestamp = Some(time(9));
    all.push(with_ip(
        pod("ns", "new", &[("app", "web")], true),
        "10.9.9.9",
    ));
    let refs: Vec<&Pod> = all.iter().collect();
    let p = plan(&svc, &refs, no_node, &existing, 100, None);
    assert!(p.create.is_empty() && p.delete.is_empty(), "{p:?}");
    // Both slices change; the new endpoint joins a slice that changes anyway.
    assert_eq!(p.update.len(), 2);
    assert_eq!(sizes(&p.update).iter().sum::<usize>(), 151);
    let find = |name: &str| {
        p.update
            .iter()
            .flat_map(|s| &s.endpoints)
            .find(|e| e.target_ref.as_ref().unwrap().name.as_deref() == Some(name))
            .and_then(|e| e.conditions.clone())
            .unwrap()
    };
    assert_eq!(
        (find("p3").ready, find("p3").serving),
        (Some(false), Some(false))
    );
    let terminating = find("p120");
    assert_eq!(
        (
            terminating.ready,
            terminating.serving,
            terminating.terminating
        ),
        (Some(false), Some(true), Some(true))
    );
}

#[test]
fn emptied_slices_go_and_a_placeholder_stays() {
    let svc = service();
    let all = pods(3);
    let existing = written(&plan(
        &svc,
        &all.iter().collect::<Vec<_>>(),
        no_node,
        &[],
        100,
        None,
    ));
    let p = plan(&svc, &[], no_node, &existing, 100, None);
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.create.len(), 1, "placeholder");
    assert!(p.create[0].endpoints.is_empty());
    let placeholder = written(&p);
    assert!(
        plan(&svc, &[], no_node, &placeholder, 100, None).is_empty(),
        "placeholder kept"
    );
    // Pods arrive: the placeholder goes, a real slice comes.
    let p = plan(
        &svc,
        &all.iter().collect::<Vec<_>>(),
        no_node,
        &placeholder,
        100,
        None,
    );
    assert_eq!((p.create.len(), p.delete.len()), (1, 1));
}

#[test]
fn slices_of_another_incarnation_or_port_set_are_deleted() {
    let svc = service();
    let all = pods(2);
    let refs: Vec<&Pod> = all.iter().collect();
    let mut existing = written(&plan(&svc, &refs, no_node, &[], 100, None));
    existing[0].metadata.owner_references.as_mut().unwrap()[0].uid = "old-uid".into();
    let p = plan(&svc, &refs, no_node, &existing, 100, None);
    assert_eq!((p.create.len(), p.delete.len()), (1, 1));
    let mut other_port = svc.clone();
    other_port.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port =
        Some(IntOrString::Int(9000));
    let existing = written(&plan(&svc, &refs, no_node, &[], 100, None));
    let p = plan(&other_port, &refs, no_node, &existing, 100, None);
    assert_eq!((p.create.len(), p.delete.len()), (1, 1));
    assert_eq!(p.create[0].ports.as_ref().unwrap()[0].port, Some(9000));
}

#[test]
fn zones_come_from_nodes() {
    let svc = service();
    let all = pods(1);
    let node = Node {
        metadata: ObjectMeta {
            name: Some("node-1".into()),
            labels: Some([("topology.kubernetes.io/zone".to_string(), "z1".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Node::default()
    };
    let p = plan(
        &svc,
        &[&all[0]],
        |name| (name == "node-1").then_some(&node),
        &[],
        100,
        None,
    );
    assert_eq!(p.create[0].endpoints[0].zone.as_deref(), Some("z1"));
}
