//! Table tests of the plan: models in, listeners and pools out; current and desired in, changes
//! out.

use super::*;

const NODE: &str = "hakube-m02";

type Addrs = Vec<&'static str>;
type Listeners = Vec<(&'static str, ListenerSpec)>;
type Pools = Vec<(PoolKey, PoolSpec)>;

fn name(service: &str, port: &str) -> ServicePortName {
    ServicePortName::new("default", service, port)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|s| addr(s)).collect()
}

/// An endpoint: `r` ready, `t` serving and terminating, `x` neither; on `node` if given.
fn ep(address: &str, state: char, node: Option<&str>) -> Endpoint {
    let (ready, serving, terminating) = match state {
        'r' => (true, true, false),
        't' => (false, true, true),
        _ => (false, false, false),
    };
    Endpoint {
        addr: address.parse().unwrap(),
        node_name: node.map(str::to_string),
        ready,
        serving,
        terminating,
    }
}

fn port(cluster_ip: Option<&str>, port: u16, endpoints: Vec<Endpoint>) -> ServicePort {
    ServicePort {
        cluster_ips: cluster_ip
            .map(|ip| ip.parse().unwrap())
            .into_iter()
            .collect(),
        port,
        node_port: None,
        affinity: None,
        internal_local: false,
        external_local: false,
        endpoints,
    }
}

fn model(ports: Vec<(ServicePortName, ServicePort)>) -> ServiceModel {
    ServiceModel {
        ports: ports.into_iter().collect(),
        unsupported: Default::default(),
    }
}

fn key(service: &str, port: &str, scope: Scope) -> PoolKey {
    PoolKey {
        port: name(service, port),
        scope,
    }
}

fn listener(kind: ListenerKind, pool: PoolKey) -> ListenerSpec {
    ListenerSpec { kind, pool }
}

fn pool(endpoints: &[&str], affinity: Option<u64>) -> PoolSpec {
    PoolSpec {
        endpoints: addrs(endpoints),
        affinity: affinity.map(Duration::from_secs),
    }
}

struct Case {
    name: &'static str,
    model: ServiceModel,
    listeners: Vec<(&'static str, ListenerSpec)>,
    pools: Vec<(PoolKey, PoolSpec)>,
    conflicts: Vec<Conflict>,
}

fn node_ips() -> Vec<Ipv4Addr> {
    vec![
        "127.0.49.3".parse().unwrap(),
        "127.0.49.103".parse().unwrap(),
    ]
}

fn cases() -> Vec<Case> {
    use ListenerKind::{ClusterIp, NodePort};
    use Scope::{Cluster, Node};
    let two_ready = || {
        vec![
            ep("127.49.129.5:8080", 'r', Some("hakube")),
            ep("127.49.130.5:8080", 'r', Some(NODE)),
        ]
    };
    vec![
        Case {
            name: "a cluster IP with ready endpoints gets one listener and its pool",
            model: model(vec![(
                name("web", "http"),
                port(Some("127.49.96.10"), 80, two_ready()),
            )]),
            listeners: vec![(
                "127.49.96.10:80",
                listener(ClusterIp, key("web", "http", Cluster)),
            )],
            pools: vec![(
                key("web", "http", Cluster),
                pool(&["127.49.129.5:8080", "127.49.130.5:8080"], None),
            )],
            conflicts: vec![],
        },
        Case {
            name: "no ready endpoints: no listener, so connects are refused",
            model: model(vec![(
                name("web", "http"),
                port(
                    Some("127.49.96.10"),
                    80,
                    vec![ep("127.49.129.5:8080", 'x', None)],
                ),
            )]),
            listeners: vec![],
            pools: vec![],
            conflicts: vec![],
        },
        Case {
            name: "headless services get no listener",
            model: model(vec![(name("db", "pg"), port(None, 5432, two_ready()))]),
            listeners: vec![],
            pools: vec![],
            conflicts: vec![],
        },
        Case {
            name: "node ports listen on every node IP and share the cluster IP's pool",
            model: model(vec![(
                name("web", "http"),
                ServicePort {
                    node_port: Some(31000),
                    affinity: Some(Duration::from_secs(60)),
                    ..port(Some("127.49.96.10"), 80, two_ready())
                },
            )]),
            listeners: vec![
                (
                    "127.0.49.3:31000",
                    listener(NodePort, key("web", "http", Cluster)),
                ),
                (
                    "127.0.49.103:31000",
                    listener(NodePort, key("web", "http", Cluster)),
                ),
                (
                    "127.49.96.10:80",
                    listener(ClusterIp, key("web", "http", Cluster)),
                ),
            ],
            pools: vec![(
                key("web", "http", Cluster),
                pool(&["127.49.129.5:8080", "127.49.130.5:8080"], Some(60)),
            )],
            conflicts: vec![],
        },
        Case {
            name: "externalTrafficPolicy Local: node ports get this node's endpoints only",
            model: model(vec![(
                name("web", "http"),
                ServicePort {
                    node_port: Some(31000),
                    external_local: true,
                    ..port(Some("127.49.96.10"), 80, two_ready())
                },
            )]),
            listeners: vec![
                (
                    "127.0.49.3:31000",
                    listener(NodePort, key("web", "http", Node)),
                ),
                (
                    "127.0.49.103:31000",
                    listener(NodePort, key("web", "http", Node)),
                ),
                (
                    "127.49.96.10:80",
                    listener(ClusterIp, key("web", "http", Cluster)),
                ),
            ],
            pools: vec![
                (
                    key("web", "http", Cluster),
                    pool(&["127.49.129.5:8080", "127.49.130.5:8080"], None),
                ),
                (key("web", "http", Node), pool(&["127.49.130.5:8080"], None)),
            ],
            conflicts: vec![],
        },
        Case {
            name: "externalTrafficPolicy Local without a local endpoint: no node port here",
            model: model(vec![(
                name("web", "http"),
                ServicePort {
                    node_port: Some(31000),
                    external_local: true,
                    ..port(
                        Some("127.49.96.10"),
                        80,
                        vec![ep("127.49.129.5:8080", 'r', Some("hakube"))],
                    )
                },
            )]),
            listeners: vec![(
                "127.49.96.10:80",
                listener(ClusterIp, key("web", "http", Cluster)),
            )],
            pools: vec![(
                key("web", "http", Cluster),
                pool(&["127.49.129.5:8080"], None),
            )],
            conflicts: vec![],
        },
        Case {
            name: "internalTrafficPolicy Local narrows the cluster IP's pool",
            model: model(vec![(
                name("web", "http"),
                ServicePort {
                    node_port: Some(31000),
                    internal_local: true,
                    ..port(Some("127.49.96.10"), 80, two_ready())
                },
            )]),
            listeners: vec![
                (
                    "127.0.49.3:31000",
                    listener(NodePort, key("web", "http", Cluster)),
                ),
                (
                    "127.0.49.103:31000",
                    listener(NodePort, key("web", "http", Cluster)),
                ),
                (
                    "127.49.96.10:80",
                    listener(ClusterIp, key("web", "http", Node)),
                ),
            ],
            pools: vec![
                (
                    key("web", "http", Cluster),
                    pool(&["127.49.129.5:8080", "127.49.130.5:8080"], None),
                ),
                (key("web", "http", Node), pool(&["127.49.130.5:8080"], None)),
            ],
            conflicts: vec![],
        },
        Case {
            name: "two ports wanting one address: the first by name keeps it",
            model: model(vec![
                (
                    name("a", "http"),
                    port(Some("127.49.96.10"), 80, two_ready()),
                ),
                (
                    name("b", "http"),
                    port(Some("127.49.96.10"), 80, two_ready()),
                ),
            ]),
            listeners: vec![(
                "127.49.96.10:80",
                listener(ClusterIp, key("a", "http", Cluster)),
            )],
            pools: vec![(
                key("a", "http", Cluster),
                pool(&["127.49.129.5:8080", "127.49.130.5:8080"], None),
            )],
            conflicts: vec![Conflict {
                addr: addr("127.49.96.10:80"),
                kept: name("a", "http"),
                dropped: name("b", "http"),
            }],
        },
    ]
}

#[test]
fn plans() {
    for case in cases() {
        let got = plan(&case.model, NODE, &node_ips());
        let listeners: BTreeMap<SocketAddr, ListenerSpec> = case
            .listeners
            .into_iter()
            .map(|(a, spec)| (addr(a), spec))
            .collect();
        assert_eq!(got.listeners, listeners, "{}", case.name);
        let pools: BTreeMap<PoolKey, PoolSpec> = case.pools.into_iter().collect();
        assert_eq!(got.pools, pools, "{}", case.name);
        assert_eq!(got.conflicts, case.conflicts, "{}", case.name);
    }
}

#[test]
fn usable_endpoints_prefer_ready_then_terminating() {
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<Endpoint>, Option<&str>, Addrs)> = vec![
        ("ready ones only, when any is ready", vec![
            ep("127.0.0.1:1", 'r', None), ep("127.0.0.2:1", 't', None), ep("127.0.0.3:1", 'x', None),
        ], None, vec!["127.0.0.1:1"]),
        ("serving terminating ones when none is ready", vec![
            ep("127.0.0.2:1", 't', None), ep("127.0.0.3:1", 'x', None),
        ], None, vec!["127.0.0.2:1"]),
        ("nothing serving, nothing usable", vec![ep("127.0.0.3:1", 'x', None)], None, vec![]),
        ("node-local: ready here only", vec![
            ep("127.0.0.1:1", 'r', Some("other")), ep("127.0.0.2:1", 'r', Some(NODE)),
            ep("127.0.0.3:1", 'r', None),
        ], Some(NODE), vec!["127.0.0.2:1"]),
        ("node-local: falls back to terminating here, not to ready elsewhere", vec![
            ep("127.0.0.1:1", 'r', Some("other")), ep("127.0.0.2:1", 't', Some(NODE)),
        ], Some(NODE), vec!["127.0.0.2:1"]),
    ];
    for (name, endpoints, node, want) in cases {
        assert_eq!(usable_endpoints(&endpoints, node), addrs(&want), "{name}");
    }
}

#[test]
fn listener_diffs() {
    use ListenerChange::{Close, Open, Retarget};
    use ListenerKind::{ClusterIp, NodePort};
    let a = || listener(ClusterIp, key("a", "http", Scope::Cluster));
    let b = || listener(ClusterIp, key("b", "http", Scope::Cluster));
    let a_local = || listener(ClusterIp, key("a", "http", Scope::Node));
    let a_node = || listener(NodePort, key("a", "http", Scope::Cluster));
    #[rustfmt::skip]
    let cases: Vec<(&str, Listeners, Listeners, Vec<ListenerChange>)> = vec![
        ("nothing to nothing", vec![], vec![], vec![]),
        ("unchanged", vec![("127.0.0.1:80", a())], vec![("127.0.0.1:80", a())], vec![]),
        ("opens", vec![], vec![("127.0.0.1:80", a()), ("127.0.0.2:80", b())],
            vec![Open(addr("127.0.0.1:80"), a()), Open(addr("127.0.0.2:80"), b())]),
        ("closes", vec![("127.0.0.1:80", a())], vec![], vec![Close(addr("127.0.0.1:80"))]),
        ("another service at the same address, another pool, another kind", vec![
            ("127.0.0.1:80", a()), ("127.0.0.2:80", a()), ("127.0.0.3:80", a()),
        ], vec![
            ("127.0.0.1:80", b()), ("127.0.0.2:80", a_local()), ("127.0.0.3:80", a_node()),
        ], vec![
            Retarget(addr("127.0.0.1:80"), b()),
            Retarget(addr("127.0.0.2:80"), a_local()),
            Retarget(addr("127.0.0.3:80"), a_node()),
        ]),
        ("closes first, then retargets, then opens", vec![
            ("127.0.0.2:80", a()), ("127.0.0.3:80", a()),
        ], vec![
            ("127.0.0.1:80", a()), ("127.0.0.3:80", b()),
        ], vec![
            Close(addr("127.0.0.2:80")),
            Retarget(addr("127.0.0.3:80"), b()),
            Open(addr("127.0.0.1:80"), a()),
        ]),
    ];
    for (name, current, desired, want) in cases {
        let to_map = |l: Vec<(&str, ListenerSpec)>| -> BTreeMap<SocketAddr, ListenerSpec> {
            l.into_iter().map(|(a, s)| (addr(a), s)).collect()
        };
        assert_eq!(
            diff_listeners(&to_map(current), &to_map(desired)),
            want,
            "{name}"
        );
    }
}

#[test]
fn pool_diffs() {
    use PoolChange::{Add, Remove, Update};
    let a = || key("a", "http", Scope::Cluster);
    let b = || key("b", "http", Scope::Cluster);
    #[rustfmt::skip]
    let cases: Vec<(&str, Pools, Pools, Vec<PoolChange>)> = vec![
        ("unchanged", vec![(a(), pool(&["127.0.0.1:1"], None))],
            vec![(a(), pool(&["127.0.0.1:1"], None))], vec![]),
        ("added and removed", vec![(a(), pool(&["127.0.0.1:1"], None))],
            vec![(b(), pool(&["127.0.0.1:1"], None))],
            vec![Add(b(), pool(&["127.0.0.1:1"], None)), Remove(a())]),
        ("new endpoints", vec![(a(), pool(&["127.0.0.1:1"], None))],
            vec![(a(), pool(&["127.0.0.1:1", "127.0.0.2:1"], None))],
            vec![Update(a(), pool(&["127.0.0.1:1", "127.0.0.2:1"], None))]),
        ("new affinity", vec![(a(), pool(&["127.0.0.1:1"], None))],
            vec![(a(), pool(&["127.0.0.1:1"], Some(5)))],
            vec![Update(a(), pool(&["127.0.0.1:1"], Some(5)))]),
    ];
    for (name, current, desired, want) in cases {
        let current: BTreeMap<_, _> = current.into_iter().collect();
        let desired: BTreeMap<_, _> = desired.into_iter().collect();
        assert_eq!(diff_pools(&current, &desired), want, "{name}");
    }
}

#[test]
fn port_diffs_ignore_endpoints() {
    use PortChange::{Added, Removed, Updated};
    let web = || port(Some("127.49.96.10"), 80, vec![]);
    let before = model(vec![
        (name("kept", "http"), web()),
        (name("moved", "http"), web()),
        (name("scaled", "http"), web()),
        (name("gone", "http"), web()),
    ]);
    let after = model(vec![
        (name("kept", "http"), web()),
        (
            name("moved", "http"),
            ServicePort {
                node_port: Some(31000),
                ..web()
            },
        ),
        (
            name("scaled", "http"),
            port(Some("127.49.96.10"), 80, vec![ep("127.0.0.1:1", 'r', None)]),
        ),
        (name("new", "http"), web()),
    ]);
    assert_eq!(
        diff_ports(&before, &after),
        vec![
            Updated(name("moved", "http")),
            Added(name("new", "http")),
            Removed(name("gone", "http")),
        ]
    );
}
