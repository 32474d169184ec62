//! Table tests of the model: Services and EndpointSlices in, Service ports and endpoints out.

use serde_json::{Value, json};

use super::*;

fn service(name: &str, spec: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

fn slice(name: &str, service: &str, ports: Value, endpoints: Value) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {SERVICE_NAME_LABEL: service},
        },
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }))
    .unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn ep(addr: &str, node: Option<&str>, ready: bool, serving: bool, terminating: bool) -> Endpoint {
    Endpoint {
        addr: addr.parse().unwrap(),
        node_name: node.map(str::to_string),
        ready,
        serving,
        terminating,
    }
}

fn ready(addr: &str) -> Endpoint {
    ep(addr, None, true, true, false)
}

/// A ClusterIP port on 127.49.96.10 with the given port and endpoints, and default policies.
fn cluster_port(port: u16, endpoints: Vec<Endpoint>) -> ServicePort {
    ServicePort {
        cluster_ips: vec![ip("127.49.96.10")],
        port,
        node_port: None,
        affinity: None,
        internal_local: false,
        external_local: false,
        endpoints,
    }
}

fn web_spec() -> Value {
    json!({
        "clusterIP": "127.49.96.10",
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
    })
}

fn http_ports() -> Value {
    json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
}

struct Case {
    name: &'static str,
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    ports: Vec<(&'static str, ServicePort)>,
    unsupported: Vec<(&'static str, &'static str)>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a named port finds the slice port of the same name",
            services: vec![service("web", web_spec())],
            slices: vec![slice(
                "web-1",
                "web",
                json!([
                    {"name": "metrics", "port": 9090},
                    {"name": "http", "port": 8080, "protocol": "TCP"},
                ]),
                json!([
                    {"addresses": ["127.49.130.2"], "conditions": {"ready": true}},
                    {"addresses": ["127.49.129.5"]},
                ]),
            )],
            ports: vec![(
                "default/web:http",
                cluster_port(
                    80,
                    vec![ready("127.49.129.5:8080"), ready("127.49.130.2:8080")],
                ),
            )],
            unsupported: vec![],
        },
        Case {
            name: "an unnamed port matches an unnamed slice port",
            services: vec![service(
                "web",
                json!({"clusterIP": "127.49.96.10", "ports": [{"port": 80, "targetPort": 8080}]}),
            )],
            slices: vec![slice(
                "web-1",
                "web",
                json!([{"port": 8080}]),
                json!([{"addresses": ["127.49.129.5"], "conditions": {"ready": true}}]),
            )],
            ports: vec![(
                "default/web",
                cluster_port(80, vec![ready("127.49.129.5:8080")]),
            )],
            unsupported: vec![],
        },
        Case {
            name: "no slice, or no slice port of that name, means no endpoints",
            services: vec![service("web", web_spec()), service("api", web_spec())],
            slices: vec![slice(
                "web-1",
                "web",
                json!([{"name": "other", "port": 8080}, {"name": "http", "port": 8080, "protocol": "UDP"}]),
                json!([{"addresses": ["127.49.129.5"]}]),
            )],
            ports: vec![
                ("default/api:http", cluster_port(80, vec![])),
                ("default/web:http", cluster_port(80, vec![])),
            ],
            unsupported: vec![],
        },
        Case {
            name: "slices of other services, namespaces, families or without the label are ignored",
            services: vec![service("web", web_spec())],
            slices: vec![
                slice(
                    "api-1",
                    "api",
                    http_ports(),
                    json!([{"addresses": ["127.49.129.1"]}]),
                ),
                serde_json::from_value(json!({
                    "metadata": {"name": "web-x", "namespace": "other",
                                 "labels": {SERVICE_NAME_LABEL: "web"}},
                    "addressType": "IPv4", "ports": http_ports(),
                    "endpoints": [{"addresses": ["127.49.129.2"]}],
                }))
                .unwrap(),
                serde_json::from_value(json!({
                    "metadata": {"name": "web-6", "namespace": "default",
                                 "labels": {SERVICE_NAME_LABEL: "web"}},
                    "addressType": "IPv6", "ports": http_ports(),
                    "endpoints": [{"addresses": ["::1"]}],
                }))
                .unwrap(),
                serde_json::from_value(json!({
                    "metadata": {"name": "web-manual", "namespace": "default"},
                    "addressType": "IPv4", "ports": http_ports(),
                    "endpoints": [{"addresses": ["127.49.129.3"]}],
                }))
                .unwrap(),
            ],
            ports: vec![("default/web:http", cluster_port(80, vec![]))],
            unsupported: vec![],
        },
        Case {
            name: "conditions: unset ready is ready, serving while terminating is kept apart",
            services: vec![service("web", web_spec())],
            slices: vec![slice(
                "web-1",
                "web",
                http_ports(),
                json!([
                    {"addresses": ["127.49.129.1"], "nodeName": "n1"},
                    {"addresses": ["127.49.129.2"], "nodeName": "n2",
                     "conditions": {"ready": false, "serving": true, "terminating": true}},
                    {"addresses": ["127.49.129.3"],
                     "conditions": {"ready": false, "serving": false, "terminating": true}},
                    {"addresses": ["127.49.129.4"], "conditions": {"ready": false}},
                    {"addresses": ["not-an-ip"]},
                    {"addresses": []},
                ]),
            )],
            ports: vec![(
                "default/web:http",
                cluster_port(
                    80,
                    vec![
                        ep("127.49.129.1:8080", Some("n1"), true, true, false),
                        ep("127.49.129.2:8080", Some("n2"), false, true, true),
                        ep("127.49.129.3:8080", None, false, false, true),
                        ep("127.49.129.4:8080", None, false, false, false),
                    ],
                ),
            )],
            unsupported: vec![],
        },
        Case {
            name: "publishNotReadyAddresses makes every endpoint ready",
            services: vec![service(
                "web",
                json!({
                    "clusterIP": "127.49.96.10",
                    "publishNotReadyAddresses": true,
                    "ports": [{"name": "http", "port": 80}],
                }),
            )],
            slices: vec![slice(
                "web-1",
                "web",
                http_ports(),
                json!([{"addresses": ["127.49.129.4"], "conditions": {"ready": false}}]),
            )],
            ports: vec![(
                "default/web:http",
                cluster_port(80, vec![ready("127.49.129.4:8080")]),
            )],
            unsupported: vec![],
        },
        Case {
            name: "an address in two slices is kept once, as its best",
            services: vec![service("web", web_spec())],
            slices: vec![
                slice(
                    "web-1",
                    "web",
                    http_ports(),
                    json!([{"addresses": ["127.49.129.1"], "conditions": {"ready": false}}]),
                ),
                slice(
                    "web-2",
                    "web",
                    http_ports(),
                    json!([
                        {"addresses": ["127.49.129.1"], "conditions": {"ready": true}},
                        {"addresses": ["127.49.129.2"]},
                    ]),
                ),
            ],
            ports: vec![(
                "default/web:http",
                cluster_port(
                    80,
                    vec![ready("127.49.129.1:8080"), ready("127.49.129.2:8080")],
                ),
            )],
            unsupported: vec![],
        },
        Case {
            name: "headless services keep their endpoints but have no cluster IP",
            services: vec![service(
                "db",
                json!({"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}),
            )],
            slices: vec![slice(
                "db-1",
                "db",
                json!([{"name": "pg", "port": 5432}]),
                json!([{"addresses": ["127.49.129.1"]}]),
            )],
            ports: vec![(
                "default/db:pg",
                ServicePort {
                    cluster_ips: vec![],
                    ..cluster_port(5432, vec![ready("127.49.129.1:5432")])
                },
            )],
            unsupported: vec![],
        },
        Case {
            name: "ExternalName and other proxies' services are not ours",
            services: vec![
                service(
                    "ext",
                    json!({"type": "ExternalName", "externalName": "example.com"}),
                ),
                serde_json::from_value(json!({
                    "metadata": {"name": "mesh", "namespace": "default",
                                 "labels": {SERVICE_PROXY_NAME_LABEL: "other-proxy"}},
                    "spec": web_spec(),
                }))
                .unwrap(),
            ],
            slices: vec![],
            ports: vec![],
            unsupported: vec![],
        },
        Case {
            name: "UDP and SCTP ports are reported, the TCP port is kept",
            services: vec![service(
                "dns",
                json!({
                    "clusterIP": "127.49.96.10",
                    "ports": [
                        {"name": "dns", "port": 53, "protocol": "UDP"},
                        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                        {"name": "sig", "port": 99, "protocol": "SCTP"},
                    ],
                }),
            )],
            slices: vec![],
            ports: vec![("default/dns:dns-tcp", cluster_port(53, vec![]))],
            unsupported: vec![("default/dns", "SCTP"), ("default/dns", "UDP")],
        },
        Case {
            name: "node ports count for NodePort and LoadBalancer services only",
            services: vec![
                service(
                    "np",
                    json!({
                        "type": "NodePort", "clusterIP": "127.49.96.10",
                        "externalTrafficPolicy": "Local",
                        "ports": [{"name": "http", "port": 80, "nodePort": 31000}],
                    }),
                ),
                service(
                    "lb",
                    json!({
                        "type": "LoadBalancer", "clusterIP": "127.49.96.10",
                        "ports": [{"name": "http", "port": 81, "nodePort": 31001}],
                    }),
                ),
                service(
                    "ci",
                    json!({
                        "clusterIP": "127.49.96.10", "externalTrafficPolicy": "Local",
                        "ports": [{"name": "http", "port": 82, "nodePort": 31002}],
                    }),
                ),
            ],
            slices: vec![],
            ports: vec![
                ("default/ci:http", cluster_port(82, vec![])),
                (
                    "default/lb:http",
                    ServicePort {
                        node_port: Some(31001),
                        ..cluster_port(81, vec![])
                    },
                ),
                (
                    "default/np:http",
                    ServicePort {
                        node_port: Some(31000),
                        external_local: true,
                        ..cluster_port(80, vec![])
                    },
                ),
            ],
            unsupported: vec![],
        },
        Case {
            name: "affinity, internal policy, and clusterIPs over clusterIP",
            services: vec![
                service(
                    "sticky",
                    json!({
                        "clusterIP": "127.49.96.10",
                        "clusterIPs": ["127.49.96.10", "fd00::10"],
                        "sessionAffinity": "ClientIP",
                        "internalTrafficPolicy": "Local",
                        "ports": [{"name": "http", "port": 80}],
                    }),
                ),
                service(
                    "timed",
                    json!({
                        "clusterIP": "127.49.96.10",
                        "sessionAffinity": "ClientIP",
                        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                        "ports": [{"name": "http", "port": 80}],
                    }),
                ),
            ],
            slices: vec![],
            ports: vec![
                (
                    "default/sticky:http",
                    ServicePort {
                        affinity: Some(DEFAULT_AFFINITY_TIMEOUT),
                        internal_local: true,
                        ..cluster_port(80, vec![])
                    },
                ),
                (
                    "default/timed:http",
                    ServicePort {
                        affinity: Some(Duration::from_secs(60)),
                        ..cluster_port(80, vec![])
                    },
                ),
            ],
            unsupported: vec![],
        },
    ]
}

fn port_name(display: &str) -> ServicePortName {
    let (ns, rest) = display.split_once('/').unwrap();
    let (name, port) = rest.split_once(':').unwrap_or((rest, ""));
    ServicePortName::new(ns, name, port)
}

#[test]
fn build_from_services_and_slices() {
    for case in cases() {
        let model = ServiceModel::build(&case.services, &case.slices);
        let want_ports: BTreeMap<ServicePortName, ServicePort> = case
            .ports
            .into_iter()
            .map(|(name, port)| (port_name(name), port))
            .collect();
        assert_eq!(model.ports, want_ports, "{}", case.name);
        let want_unsupported: BTreeSet<Unsupported> = case
            .unsupported
            .into_iter()
            .map(|(service, protocol)| Unsupported {
                service: service.to_string(),
                protocol: protocol.to_string(),
            })
            .collect();
        assert_eq!(model.unsupported, want_unsupported, "{}", case.name);
    }
}

#[test]
fn port_names_print_as_kube_proxy_prints_them() {
    let cases = [
        (
            ServicePortName::new("default", "kubernetes", "https"),
            "default/kubernetes:https",
        ),
        (ServicePortName::new("default", "web", ""), "default/web"),
    ];
    for (name, want) in cases {
        assert_eq!(name.to_string(), want);
        assert_eq!(port_name(want), name);
    }
}
