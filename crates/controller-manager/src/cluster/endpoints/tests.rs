//! Table tests of the Endpoints a Service should get.

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EndpointSubset, Pod, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::desired::{self, subsets};
use crate::cluster::pods::fixtures::{pod, time, with_ip};
use crate::cluster::trigger_time;

fn service(ports: Vec<ServicePort>, publish_not_ready: bool) -> Service {
    Service {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("web".into()),
            labels: Some([("app".to_string(), "web".to_string())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some([("app".to_string(), "web".to_string())].into()),
            cluster_ip: Some("10.96.0.10".into()),
            ports: Some(ports),
            publish_not_ready_addresses: Some(publish_not_ready),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn port(name: &str, port: i32, target: IntOrString) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(target),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

fn serving(name: &str, ip: &str, ready: bool, container_ports: &[(&str, i32)]) -> Pod {
    let mut p = with_ip(pod("ns", name, &[("app", "web")], ready), ip);
    p.spec.as_mut().unwrap().containers = vec![Container {
        name: "c".into(),
        ports: Some(
            container_ports
                .iter()
                .map(|(n, p)| ContainerPort {
                    name: Some(n.to_string()),
                    container_port: *p,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        ..Container::default()
    }];
    p
}

/// A subset as text: "ready ips | not-ready ips | ports".
fn describe(subsets: &[EndpointSubset]) -> Vec<String> {
    subsets
        .iter()
        .map(|s| {
            let ips = |list: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| {
                list.iter()
                    .flatten()
                    .map(|a| a.ip.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let ports = s
                .ports
                .iter()
                .flatten()
                .map(|p| format!("{}:{}", p.name.clone().unwrap_or_default(), p.port))
                .collect::<Vec<_>>()
                .join(",");
            format!(
                "{} | {} | {}",
                ips(&s.addresses),
                ips(&s.not_ready_addresses),
                ports
            )
        })
        .collect()
}

#[test]
fn subsets_from_pods() {
    let http = || port("http", 80, IntOrString::String("http".into()));
    let numeric = || port("metrics", 9090, IntOrString::Int(9091));
    let a = serving("a", "10.0.0.1", true, &[("http", 8080)]);
    let b = serving("b", "10.0.0.2", false, &[("http", 8080)]);
    let c = serving("c", "10.0.0.3", true, &[("web", 8081)]);
    let mut terminating = serving("d", "10.0.0.4", true, &[("http", 8080)]);
    terminating.metadata.deletion_timestamp = Some(time(1));
    let mut finished = serving("e", "10.0.0.5", true, &[("http", 8080)]);
    finished.status.as_mut().unwrap().phase = Some("Succeeded".into());
    let mut no_ip = serving("f", "", true, &[("http", 8080)]);
    no_ip.status.as_mut().unwrap().pod_ips = None;
    no_ip.status.as_mut().unwrap().pod_ip = None;
    type Case<'a> = (&'a str, Service, Vec<&'a Pod>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        ("no pods", service(vec![http()], false), vec![], vec![]),
        (
            "ready and not ready",
            service(vec![http()], false),
            vec![&a, &b],
            vec!["10.0.0.1 | 10.0.0.2 | http:8080"],
        ),
        (
            "publishNotReadyAddresses lists everyone as ready",
            service(vec![http()], true),
            vec![&a, &b, &terminating],
            vec!["10.0.0.1,10.0.0.2,10.0.0.4 |  | http:8080"],
        ),
        (
            "a named port the pod lacks leaves it out of that port",
            service(vec![http()], false),
            vec![&a, &c],
            vec!["10.0.0.1 |  | http:8080"],
        ),
        (
            "ports reaching different pods get their own subsets",
            service(vec![http(), numeric()], false),
            vec![&a, &c],
            vec![
                "10.0.0.1,10.0.0.3 |  | metrics:9091",
                "10.0.0.1 |  | http:8080",
            ],
        ),
        (
            "terminating, finished and IP-less pods are left out",
            service(vec![http()], false),
            vec![&a, &terminating, &finished, &no_ip],
            vec!["10.0.0.1 |  | http:8080"],
        ),
    ];
    for (name, service, pods, expected) in cases {
        assert_eq!(describe(&subsets(&service, &pods)), expected, "{name}");
    }
}

#[test]
fn headless_without_ports_lists_addresses() {
    let mut svc = service(vec![], false);
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let a = serving("a", "10.0.0.1", true, &[]);
    assert_eq!(describe(&subsets(&svc, &[&a])), ["10.0.0.1 |  | "]);
    // With a cluster IP and no ports there is nothing to list.
    let svc = service(vec![], false);
    assert!(subsets(&svc, &[&a]).is_empty());
}

#[test]
fn writes_only_on_change() {
    let svc = service(vec![port("http", 80, IntOrString::Int(8080))], false);
    let a = serving("a", "10.0.0.1", true, &[]);
    let first = desired::desired(&svc, &[&a], None, Some(time(5))).expect("created");
    assert_eq!(first.metadata.name.as_deref(), Some("web"));
    assert_eq!(
        first
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .get("app")
            .map(String::as_str),
        Some("web")
    );
    assert_eq!(
        first.metadata.annotations.as_ref().unwrap()[trigger_time::ANNOTATION],
        "1970-01-01T00:00:05Z"
    );
    let target = first.subsets.as_ref().unwrap()[0]
        .addresses
        .as_ref()
        .unwrap()[0]
        .target_ref
        .clone()
        .unwrap();
    assert_eq!(
        (
            target.kind.as_deref(),
            target.name.as_deref(),
            target.uid.as_deref()
        ),
        (Some("Pod"), Some("a"), Some("uid-a"))
    );
    assert!(
        desired::desired(&svc, &[&a], Some(&first), None).is_none(),
        "unchanged"
    );
    let b = serving("b", "10.0.0.2", false, &[]);
    let second = desired::desired(&svc, &[&a, &b], Some(&first), None).expect("changed");
    assert_eq!(
        describe(second.subsets.as_deref().unwrap()),
        ["10.0.0.1 | 10.0.0.2 | http:8080"]
    );
    assert!(
        second.metadata.annotations.is_none(),
        "no new trigger clears it"
    );
}

#[test]
fn headless_label() {
    let mut svc = service(vec![port("http", 80, IntOrString::Int(80))], false);
    svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
    let e = desired::desired(&svc, &[], None, None).unwrap();
    assert_eq!(
        e.metadata
            .labels
            .unwrap()
            .get(desired::HEADLESS_LABEL)
            .map(String::as_str),
        Some("")
    );
}

#[test]
fn caps_addresses_at_a_thousand() {
    let svc = service(vec![port("http", 80, IntOrString::Int(80))], false);
    let pods: Vec<Pod> = (0..1100)
        .map(|i| {
            serving(
                &format!("p{i}"),
                &format!("10.1.{}.{}", i / 250, i % 250),
                i % 2 == 0,
                &[],
            )
        })
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let e = desired::desired(&svc, &refs, None, None).unwrap();
    let subset = &e.subsets.as_ref().unwrap()[0];
    assert_eq!(
        subset.addresses.as_ref().unwrap().len(),
        550,
        "every ready address kept"
    );
    assert_eq!(subset.not_ready_addresses.as_ref().unwrap().len(), 450);
    assert_eq!(
        e.metadata.annotations.unwrap()["endpoints.kubernetes.io/over-capacity"],
        "truncated"
    );
}

#[test]
fn pod_changes_that_matter() {
    use super::endpoints_may_differ;
    let a = serving("a", "10.0.0.1", true, &[]);
    let mut relabelled = a.clone();
    relabelled.metadata.labels = None;
    let mut annotated = a.clone();
    annotated.metadata.annotations = Some([("x".to_string(), "y".to_string())].into());
    let unready = serving("a", "10.0.0.1", false, &[]);
    let moved = serving("a", "10.0.0.9", true, &[]);
    let cases = [
        (&relabelled, true),
        (&annotated, false),
        (&unready, true),
        (&moved, true),
    ];
    for (new, expected) in cases {
        assert_eq!(endpoints_may_differ(&a, new), expected);
    }
}
