//! End to end against a real API server (in this process, over /usr/bin/etcd): the proxy started
//! with the system:kube-proxy identity follows Services and EndpointSlices through its watches,
//! serves the `kubernetes` Service on 443 when it may bind privileged ports, and records its
//! Starting event.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use proxy::ProxyConfig;
use serde_json::json;

use crate::cluster::Cluster;
use crate::support::{Backend, Conn, assert_refused, init_logging, slice};

/// How long a watched change may take to reach the listeners before the test fails; the target
/// is about a second, the margin is for a loaded machine. The measured times are printed.
const APPLIED_WITHIN: Duration = Duration::from_secs(10);

/// Opens connections to `addr` until one lands on `backend`; returns how long that took.
async fn until_backend(addr: SocketAddr, backend: &str) -> Duration {
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(conn) = Conn::open(addr).await
            && conn.backend == backend
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < APPLIED_WITHIN,
            "{addr} did not reach {backend} within {APPLIED_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether this process may bind ports below 1024 (root, or CAP_NET_BIND_SERVICE).
fn may_bind_privileged() -> bool {
    std::net::TcpListener::bind("127.0.228.250:443").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_the_api() {
    init_logging();
    let service_ip = Ipv4Addr::new(127, 0, 227, 1);
    let cluster = Cluster::start("127.0.226.1", "127.0.227.0/24", service_ip).await;
    let admin = cluster.admin().await;
    let _backends = [
        Backend::start("127.0.228.1:8080").await,
        Backend::start("127.0.228.2:8080").await,
    ];
    let node_ip = Ipv4Addr::new(127, 0, 228, 200);
    let proxy = proxy::start(ProxyConfig {
        node_name: "node-1".into(),
        node_ip,
        client: cluster.kube_proxy().await,
        node_port_addresses: vec![node_ip],
    })
    .unwrap();

    // A NodePort Service whose cluster IP the API server allocates, and its slice.
    let services: Api<Service> = Api::namespaced(admin.clone(), "default");
    let web: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "type": "NodePort",
            "ports": [{"name": "http", "port": 8000, "targetPort": "web", "nodePort": 31005}],
        },
    }))
    .unwrap();
    let web = services.create(&PostParams::default(), &web).await.unwrap();
    let cluster_ip: Ipv4Addr = web.spec.unwrap().cluster_ip.unwrap().parse().unwrap();
    let cluster_addr = SocketAddr::from((cluster_ip, 8000));
    let node_port = SocketAddr::from((node_ip, 31005));
    let slices: Api<EndpointSlice> = Api::namespaced(admin.clone(), "default");
    let web_slice = slice("web", 8080, &["127.0.228.1"], &[]);
    slices
        .create(&PostParams::default(), &web_slice)
        .await
        .unwrap();
    let took = until_backend(cluster_addr, "127.0.228.1:8080").await;
    eprintln!("new Service served on its cluster IP after {took:?}");
    until_backend(node_port, "127.0.228.1:8080").await;

    // A second endpoint becomes ready: new connections reach it.
    let endpoints = json!([
        {"addresses": ["127.0.228.1"], "conditions": {"ready": true}},
        {"addresses": ["127.0.228.2"], "conditions": {"ready": true}},
    ]);
    let name = web_slice.metadata.name.clone().unwrap();
    let mut kept = Conn::open(cluster_addr).await.unwrap();
    slices
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"endpoints": endpoints})),
        )
        .await
        .unwrap();
    let took = until_backend(cluster_addr, "127.0.228.2:8080").await;
    eprintln!("endpoint update applied after {took:?}");

    // The Service goes: both its ports close; the open connection keeps flowing.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    while proxy.listening().contains(&cluster_addr) || proxy.listening().contains(&node_port) {
        assert!(
            started.elapsed() < APPLIED_WITHIN,
            "the deleted Service's ports stayed open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "deleted Service's ports closed after {:?}",
        started.elapsed()
    );
    assert_refused(cluster_addr).await;
    assert_refused(node_port).await;
    kept.echo("outlives its Service").await;

    // The `kubernetes` Service on 443 leads to the API server.
    let kubernetes = SocketAddr::from((service_ip, 443));
    if may_bind_privileged() {
        let started = tokio::time::Instant::now();
        while !proxy.listening().contains(&kubernetes) {
            assert!(
                started.elapsed() < APPLIED_WITHIN,
                "kubernetes Service not served"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let via_service = cluster.admin_via(&format!("https://{kubernetes}")).await;
        let namespaces: Api<Namespace> = Api::all(via_service);
        let listed = namespaces.list(&ListParams::default()).await.unwrap();
        assert!(
            listed
                .items
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some("default"))
        );
    } else {
        eprintln!("not checking the kubernetes Service: binding port 443 needs root");
    }

    // The Starting event is on the Node.
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");
    let started = tokio::time::Instant::now();
    loop {
        let list = events.list(&ListParams::default()).await.unwrap();
        if list.items.iter().any(|e| {
            e.reason.as_deref() == Some("Starting")
                && e.involved_object.name.as_deref() == Some("node-1")
                && e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("kube-proxy")
        }) {
            break;
        }
        assert!(started.elapsed() < APPLIED_WITHIN, "no Starting event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.shutdown().await;
    if may_bind_privileged() {
        assert_refused(kubernetes).await;
    }
    cluster.stop().await;
}
