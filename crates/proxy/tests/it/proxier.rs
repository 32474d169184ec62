//! The proxier on real sockets: connecting through cluster IPs and node ports, round-robin,
//! endpoint updates under open connections, listener removal, the cluster-IP hand-over between
//! two nodes' proxies, ClientIP affinity and dead endpoints. Each test has its own 127.0.22x.0/24.

use std::net::SocketAddr;
use std::time::Duration;

use proxy::Proxier;
use serde_json::json;

use crate::support::{
    Backend, Conn, assert_refused, backends_of, eventually, init_logging, model, service, slice,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn node_ip(s: &str) -> Vec<std::net::Ipv4Addr> {
    vec![s.parse().unwrap()]
}

#[tokio::test]
async fn round_robin_over_cluster_ip_and_node_port() {
    init_logging();
    let _backends = [
        Backend::start("127.0.220.1:8080").await,
        Backend::start("127.0.220.2:8080").await,
        Backend::start("127.0.220.3:8080").await,
    ];
    let cluster = addr("127.0.220.100:8000");
    let node_port = addr("127.0.220.200:31000");
    let mut proxier = Proxier::new("n1", node_ip("127.0.220.200"));
    proxier
        .sync(model(
            &[service(
                "web",
                "127.0.220.100",
                8000,
                Some(31000),
                json!({}),
            )],
            &[slice(
                "web",
                8080,
                &["127.0.220.3", "127.0.220.1", "127.0.220.2"],
                &[],
            )],
        ))
        .await;
    assert_eq!(proxier.listening(), vec![cluster, node_port]);

    let mut conn = Conn::open(cluster).await.unwrap();
    assert_eq!(conn.backend, "127.0.220.1:8080");
    conn.echo("hello through the cluster IP").await;
    // The node port shares the cluster IP's rotation: one turn per connection, whichever way in.
    let mut seen = vec![Conn::open(node_port).await.unwrap().backend];
    seen.extend(backends_of(cluster, 2).await);
    seen.extend(backends_of(node_port, 3).await);
    assert_eq!(
        seen,
        [
            "127.0.220.2:8080",
            "127.0.220.3:8080",
            "127.0.220.1:8080",
            "127.0.220.2:8080",
            "127.0.220.3:8080",
            "127.0.220.1:8080",
        ]
    );
    proxier.shutdown().await;
    assert_refused(cluster).await;
    assert_refused(node_port).await;
}

#[tokio::test]
async fn endpoint_updates_keep_open_connections() {
    init_logging();
    let _backends = [
        Backend::start("127.0.221.1:8080").await,
        Backend::start("127.0.221.2:8080").await,
        Backend::start("127.0.221.3:8080").await,
    ];
    let cluster = addr("127.0.221.100:8000");
    let web = || service("web", "127.0.221.100", 8000, None, json!({}));
    let mut proxier = Proxier::new("n1", node_ip("127.0.221.200"));
    proxier
        .sync(model(
            &[web()],
            &[slice("web", 8080, &["127.0.221.1", "127.0.221.2"], &[])],
        ))
        .await;
    let mut kept = Conn::open(cluster).await.unwrap();
    assert_eq!(kept.backend, "127.0.221.1:8080");

    // .1 leaves (its pod is still up, as while it drains), .3 arrives.
    proxier
        .sync(model(
            &[web()],
            &[slice("web", 8080, &["127.0.221.3", "127.0.221.2"], &[])],
        ))
        .await;
    assert_eq!(
        backends_of(cluster, 3).await,
        ["127.0.221.2:8080", "127.0.221.3:8080", "127.0.221.2:8080"]
    );
    kept.echo("still flowing after the endpoint left").await;

    // No ready endpoint: new connections are refused, the open one keeps flowing.
    proxier
        .sync(model(
            &[web()],
            &[slice("web", 8080, &[], &["127.0.221.2", "127.0.221.3"])],
        ))
        .await;
    assert_refused(cluster).await;
    assert!(proxier.listening().is_empty());
    kept.echo("still flowing without endpoints").await;

    // One becomes ready again.
    proxier
        .sync(model(
            &[web()],
            &[slice("web", 8080, &["127.0.221.3"], &["127.0.221.2"])],
        ))
        .await;
    assert_eq!(
        backends_of(cluster, 2).await,
        ["127.0.221.3:8080", "127.0.221.3:8080"]
    );
    proxier.shutdown().await;
}

#[tokio::test]
async fn removed_services_close_their_listeners() {
    init_logging();
    let _backends = [
        Backend::start("127.0.222.1:8080").await,
        Backend::start("127.0.222.2:8080").await,
    ];
    let cluster = addr("127.0.222.100:8000");
    let node_port = addr("127.0.222.200:31002");
    let mut proxier = Proxier::new("n1", node_ip("127.0.222.200"));
    proxier
        .sync(model(
            &[service("a", "127.0.222.100", 8000, Some(31002), json!({}))],
            &[slice("a", 8080, &["127.0.222.1"], &[])],
        ))
        .await;
    let mut kept = Conn::open(node_port).await.unwrap();
    assert_eq!(kept.backend, "127.0.222.1:8080");

    // In one sync `a` goes and `b` takes its cluster IP: the socket stays, new connections go
    // to b's endpoints, and a's node port closes.
    proxier
        .sync(model(
            &[service("b", "127.0.222.100", 8000, None, json!({}))],
            &[
                slice("a", 8080, &["127.0.222.1"], &[]),
                slice("b", 8080, &["127.0.222.2"], &[]),
            ],
        ))
        .await;
    assert_eq!(proxier.listening(), vec![cluster]);
    assert_refused(node_port).await;
    assert_eq!(
        backends_of(cluster, 2).await,
        ["127.0.222.2:8080", "127.0.222.2:8080"]
    );
    kept.echo("a's connection outlives a").await;

    proxier.sync(model(&[], &[])).await;
    assert!(proxier.listening().is_empty());
    assert!(proxier.listeners().is_empty());
    assert_refused(cluster).await;
    proxier.shutdown().await;
}

#[tokio::test]
async fn another_nodes_proxy_takes_the_cluster_ip_over() {
    init_logging();
    let _backend = Backend::start("127.0.223.1:8080").await;
    let cluster = addr("127.0.223.100:8000");
    let services = [service(
        "web",
        "127.0.223.100",
        8000,
        Some(31003),
        json!({}),
    )];
    let slices = [slice("web", 8080, &["127.0.223.1"], &[])];
    let mut first = Proxier::new("n1", node_ip("127.0.223.201"));
    let mut second = Proxier::new("n2", node_ip("127.0.223.202"));
    first.sync(model(&services, &slices)).await;
    second.sync(model(&services, &slices)).await;

    // Both want the cluster IP; the first bound it, the second waits. Node ports are their own.
    assert_eq!(
        first.listening(),
        vec![cluster, addr("127.0.223.201:31003")]
    );
    assert_eq!(second.listening(), vec![addr("127.0.223.202:31003")]);
    assert_eq!(
        second.listeners(),
        vec![cluster, addr("127.0.223.202:31003")]
    );
    let mut kept = Conn::open(cluster).await.unwrap();
    Conn::open(addr("127.0.223.202:31003")).await.unwrap();

    // The holder goes away: the other binds within its retry period.
    first.shutdown().await;
    let within = proxy::BIND_RETRY * 3;
    eventually(within, "the second proxy binds the cluster IP", || {
        second.listening().contains(&cluster)
    })
    .await;
    assert_eq!(
        Conn::open(cluster).await.unwrap().backend,
        "127.0.223.1:8080"
    );
    kept.echo("proxied by the first proxy's splice").await;
    second.shutdown().await;
}

#[tokio::test]
async fn client_ip_affinity_keeps_each_client_on_its_endpoint() {
    init_logging();
    let _backends = [
        Backend::start("127.0.224.1:8080").await,
        Backend::start("127.0.224.2:8080").await,
        Backend::start("127.0.224.3:8080").await,
    ];
    let cluster = addr("127.0.224.100:8000");
    let mut proxier = Proxier::new("n1", node_ip("127.0.224.200"));
    proxier
        .sync(model(
            &[service(
                "web",
                "127.0.224.100",
                8000,
                None,
                json!({"sessionAffinity": "ClientIP"}),
            )],
            &[slice(
                "web",
                8080,
                &["127.0.224.1", "127.0.224.2", "127.0.224.3"],
                &[],
            )],
        ))
        .await;
    let mut seen = Vec::new();
    for client in [
        "127.0.224.51",
        "127.0.224.52",
        "127.0.224.51",
        "127.0.224.52",
        "127.0.224.51",
    ] {
        seen.push(
            Conn::open_from(Some(client), cluster)
                .await
                .unwrap()
                .backend,
        );
    }
    assert_eq!(
        seen,
        [
            "127.0.224.1:8080",
            "127.0.224.2:8080",
            "127.0.224.1:8080",
            "127.0.224.2:8080",
            "127.0.224.1:8080",
        ]
    );
    proxier.shutdown().await;
}

#[tokio::test]
async fn dead_endpoints_are_skipped() {
    init_logging();
    let _alive = Backend::start("127.0.225.1:8080").await;
    // 127.0.225.2:8080 is ready in the slice but nothing listens there: its connects are refused.
    let cluster = addr("127.0.225.100:8000");
    let mut proxier = Proxier::new("n1", node_ip("127.0.225.200"));
    proxier
        .sync(model(
            &[service("web", "127.0.225.100", 8000, None, json!({}))],
            &[slice("web", 8080, &["127.0.225.1", "127.0.225.2"], &[])],
        ))
        .await;
    let started = tokio::time::Instant::now();
    assert_eq!(backends_of(cluster, 4).await, ["127.0.225.1:8080"; 4]);
    // A refused connect costs nothing like the dial timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    proxier.shutdown().await;
}
