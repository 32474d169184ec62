//! The `kubernetes` Endpoints over a real etcd (/usr/bin/etcd): two API servers in this process
//! publish themselves, a server whose master lease lapses drops out, and a server that shuts
//! down cleanly leaves long before its lease would have lapsed.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use apimachinery::resource;
use apiserver::etcd::Etcd;
use apiserver::{ApiServerConfig, EtcdConfig, Running};
use etcd_api::etcdserverpb::{LeaseGrantRequest, PutRequest, RangeRequest};
use rcgen::ExtendedKeyUsagePurpose;
use serde_json::Value;

use crate::certs::Authority;

/// A single-member etcd on loopback, killed when dropped.
pub(crate) struct EtcdProcess {
    child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub(crate) async fn start_etcd() -> EtcdProcess {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let peer = format!("http://127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
    let child = Command::new("/usr/bin/etcd")
        .args(["--name", "it", "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("it={peer}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("these tests need /usr/bin/etcd (apt-get install etcd-server)");
    let etcd = EtcdProcess {
        child,
        url,
        _dir: dir,
    };
    let client = Etcd::connect(&EtcdConfig {
        servers: vec![etcd.url.clone()],
        ..Default::default()
    })
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client
        .kv
        .clone()
        .range(RangeRequest {
            key: b"ready".to_vec(),
            ..Default::default()
        })
        .await
        .is_err()
    {
        assert!(tokio::time::Instant::now() < deadline, "etcd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    etcd
}

async fn start_apiserver(
    etcd: &EtcdProcess,
    dir: &std::path::Path,
    ip: &str,
    port: u16,
) -> Running {
    let (cert, key) = Authority::new().leaf(Some(ip), ExtendedKeyUsagePurpose::ServerAuth);
    let cert_file = dir.join(format!("{ip}.crt"));
    let key_file = dir.join(format!("{ip}.key"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let store = EtcdConfig {
        servers: vec![etcd.url.clone()],
        ..Default::default()
    };
    let mut config = ApiServerConfig::new(store, cert_file, key_file);
    config.bind_address = ip.parse().unwrap();
    // One port for both servers, as in a real cluster: the Endpoints carry a single port.
    config.secure_port = port;
    config.endpoint_reconcile_interval = Duration::from_millis(300);
    apiserver::start(config).await.unwrap()
}

/// The addresses the `kubernetes` Endpoints and EndpointSlice list now.
async fn published(server: &Running) -> (Vec<String>, Vec<String>) {
    let storage = &server.server.storage;
    let endpoints = resource::find("", "v1", "endpoints").unwrap();
    let slices = resource::find("discovery.k8s.io", "v1", "endpointslices").unwrap();
    let read = |object: Option<Value>, pointer: &str, field: &str| -> Vec<String> {
        let Some(object) = object else {
            return Vec::new();
        };
        object
            .pointer(pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.pointer(field)?.as_str().map(String::from))
            .collect()
    };
    let key = |info: &apimachinery::ResourceInfo| info.key(Some("default"), "kubernetes");
    let stored_endpoints = storage.get(endpoints, &key(endpoints)).await.unwrap();
    let stored_slice = storage.get(slices, &key(slices)).await.unwrap();
    (
        read(stored_endpoints, "/subsets/0/addresses", "/ip"),
        read(stored_slice, "/endpoints", "/addresses/0"),
    )
}

/// Polls until both objects list exactly `ips`, within `within`.
async fn wait_published(server: &Running, ips: &[&str], within: Duration) {
    let want: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = published(server).await;
        if now == (want.clone(), want.clone()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "wanted {want:?} within {within:?}, the Endpoints and slice list {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn lease_key_exists(server: &Running, ip: &str) -> bool {
    let response = server
        .server
        .storage
        .etcd()
        .kv
        .clone()
        .range(RangeRequest {
            key: format!("/registry/masterleases/{ip}").into_bytes(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    !response.kvs.is_empty()
}

#[tokio::test]
async fn the_kubernetes_endpoints_follow_the_live_api_servers() {
    let etcd = start_etcd().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = start_apiserver(&etcd, dir.path(), "127.0.0.1", port).await;
    let second = start_apiserver(&etcd, dir.path(), "127.0.0.2", port).await;
    wait_published(&first, &["127.0.0.1", "127.0.0.2"], Duration::from_secs(20)).await;
    let endpoints = resource::find("", "v1", "endpoints").unwrap();
    let stored = first
        .server
        .storage
        .get(endpoints, &endpoints.key(Some("default"), "kubernetes"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["subsets"][0]["ports"],
        serde_json::json!([{"name": "https", "port": port, "protocol": "TCP"}])
    );

    // A server that died: its lease is never renewed, so it lapses and the server drops out.
    let etcd_client = first.server.storage.etcd();
    let lease = etcd_client
        .lease
        .clone()
        .lease_grant(LeaseGrantRequest { ttl: 3, id: 0 })
        .await
        .unwrap()
        .into_inner()
        .id;
    etcd_client
        .kv
        .clone()
        .put(PutRequest {
            key: b"/registry/masterleases/127.0.0.9".to_vec(),
            value: b"{}".to_vec(),
            lease,
            ..Default::default()
        })
        .await
        .unwrap();
    let all = ["127.0.0.1", "127.0.0.2", "127.0.0.9"];
    wait_published(&first, &all, Duration::from_secs(10)).await;
    wait_published(&first, &["127.0.0.1", "127.0.0.2"], Duration::from_secs(20)).await;

    // A clean shutdown takes the lease key away at once and the server out of the Endpoints
    // well before its 15 s lease could have lapsed.
    second.shutdown().await;
    assert!(!lease_key_exists(&first, "127.0.0.2").await);
    assert!(lease_key_exists(&first, "127.0.0.1").await);
    wait_published(&first, &["127.0.0.1"], Duration::from_secs(5)).await;
    first.shutdown().await;
}
