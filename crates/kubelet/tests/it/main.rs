//! The kubelet's integration tests: `start` against a stand-in API server, through registration,
//! the Lease, mirror pods, a restart with a changed role, and shutdown; then pods run as real
//! processes (`pods`).

mod fake_api;
mod pods;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use kubelet::{KubeletConfig, MirrorPod};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fake_api::FakeApi;

const NODE: &str = "/api/v1/nodes/n1";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1";
const ETCD: &str = "/api/v1/namespaces/kube-system/pods/etcd-n1";
const APISERVER: &str = "/api/v1/namespaces/kube-system/pods/kube-apiserver-n1";

/// Polls `check` until it gives a value, or fails after a deadline.
pub(crate) async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A self-signed certificate for 127.0.0.1, serving as the kubelet's certificate and client CA.
pub(crate) fn write_certificates(dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("kubelet.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("kubelet.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.crt"), cert.pem()).unwrap();
}

pub(crate) fn config(
    api: &FakeApi,
    dir: &Path,
    control_plane: bool,
    etcd_image: &str,
) -> KubeletConfig {
    let mirror = |role: &str, image: &str| MirrorPod {
        role: role.to_string(),
        image: image.to_string(),
        log_file: dir.join(format!("{role}.log")),
    };
    KubeletConfig {
        node_name: "n1".to_string(),
        node_ip: Ipv4Addr::LOCALHOST,
        control_plane,
        client: api.client(),
        port: 0,
        healthz_port: 0,
        serving_cert: dir.join("kubelet.crt"),
        serving_key: dir.join("kubelet.key"),
        client_ca: dir.join("ca.crt"),
        version: "v1.33.0".to_string(),
        mirror_pods: vec![
            mirror("etcd", etcd_image),
            mirror("kube-apiserver", "hakube/kube-apiserver:0.1.0"),
        ],
        pod_cidr: Some("10.244.7.0/24".to_string()),
        runtime_exe: "/nonexistent/hakube".into(),
        state_dir: dir.join("pods"),
    }
}

/// A mirror pod once its status shows it running and ready.
fn running(api: &FakeApi, path: &str) -> Option<Value> {
    api.get(path).filter(|pod| {
        pod["status"]["phase"] == "Running"
            && pod["status"]["containerStatuses"][0]["ready"] == true
    })
}

async fn plain_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn registers_renews_mirrors_and_restarts() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());

    let kubelet = kubelet::start(config(&api, dir.path(), true, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), kubelet.registered())
        .await
        .unwrap();
    let health = plain_get(kubelet.healthz_address(), "/healthz").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );

    let node = api.get(NODE).unwrap();
    let uid = node["metadata"]["uid"].clone();
    assert_eq!(Some(uid.as_str().unwrap()), kubelet.node_uid().as_deref());
    assert_eq!(
        node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );
    assert_eq!(node["status"]["conditions"][3]["type"], "Ready");
    assert_eq!(node["status"]["conditions"][3]["status"], "True");
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0");
    assert_eq!(
        node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"],
        kubelet.address().port()
    );

    let lease = eventually("the Lease", || api.get(LEASE)).await;
    assert_eq!(lease["spec"]["holderIdentity"], "n1");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], uid);

    let etcd = eventually("etcd-n1 running", || running(&api, ETCD)).await;
    let apiserver = eventually("kube-apiserver-n1 running", || running(&api, APISERVER)).await;
    assert_eq!(etcd["metadata"]["ownerReferences"][0]["uid"], uid);
    assert_eq!(etcd["spec"]["nodeName"], "n1");
    assert_eq!(etcd["metadata"]["labels"]["component"], "etcd");
    kubelet.shutdown(false).await;
    assert!(
        api.get(ETCD).is_some(),
        "mirror pods stay on a plain shutdown"
    );

    // A restart: etcd's image changed, and the node is no longer a control-plane node.
    let kubelet = kubelet::start(config(&api, dir.path(), false, "hakube/etcd:0.2.0"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), kubelet.registered())
        .await
        .unwrap();
    let node = api.get(NODE).unwrap();
    assert_eq!(
        node["metadata"]["uid"], uid,
        "the Node is updated, not replaced"
    );
    assert!(
        node["metadata"]["labels"]
            .get("node-role.kubernetes.io/control-plane")
            .is_none()
    );
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "n1");

    let new_etcd = eventually("etcd-n1 re-created", || {
        running(&api, ETCD)
            .filter(|pod| pod["spec"]["containers"][0]["image"] == "hakube/etcd:0.2.0")
    })
    .await;
    assert_ne!(new_etcd["metadata"]["uid"], etcd["metadata"]["uid"]);
    let old_id = &apiserver["status"]["containerStatuses"][0]["containerID"];
    let new_apiserver = eventually("kube-apiserver-n1 refreshed", || {
        running(&api, APISERVER)
            .filter(|pod| pod["status"]["containerStatuses"][0]["containerID"] != *old_id)
    })
    .await;
    assert_eq!(
        new_apiserver["metadata"]["uid"], apiserver["metadata"]["uid"],
        "an unchanged static pod keeps its mirror pod"
    );

    kubelet.shutdown(true).await;
    assert!(
        api.get(ETCD).is_none() && api.get(APISERVER).is_none(),
        "removed on request"
    );
    assert!(api.get(NODE).is_some() && api.get(LEASE).is_some());
}

#[tokio::test]
async fn retries_until_the_api_answers() {
    let api = FakeApi::start().await;
    api.set_down(true);
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());
    let kubelet = kubelet::start(config(&api, dir.path(), false, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    eventually("a second registration attempt", || {
        (api.requests() >= 2).then_some(())
    })
    .await;
    assert!(kubelet.node_uid().is_none());
    api.set_down(false);
    tokio::time::timeout(Duration::from_secs(30), kubelet.registered())
        .await
        .unwrap();
    eventually("etcd-n1 running", || running(&api, ETCD)).await;
    kubelet.shutdown(false).await;
}

#[tokio::test]
async fn a_deleted_mirror_pod_comes_back() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());
    let kubelet = kubelet::start(config(&api, dir.path(), true, "hakube/etcd:0.1.0"))
        .await
        .unwrap();
    let first = eventually("etcd-n1 running", || running(&api, ETCD)).await;
    api.delete(ETCD);
    let again = eventually("etcd-n1 back", || running(&api, ETCD)).await;
    assert_ne!(again["metadata"]["uid"], first["metadata"]["uid"]);
    kubelet.shutdown(false).await;
}

#[tokio::test]
async fn a_taken_port_fails_at_once() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_certificates(dir.path());
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = config(&api, dir.path(), true, "hakube/etcd:0.1.0");
    config.port = taken.local_addr().unwrap().port();
    let err = kubelet::start(config)
        .await
        .err()
        .expect("the port is taken");
    assert!(matches!(err, kubelet::Error::Bind { .. }), "{err}");
    assert!(!err.is_retryable());
}
