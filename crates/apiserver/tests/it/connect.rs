//! exec and `nodes/proxy` through an API server (over a real etcd) to a fake kubelet over mTLS:
//! the upgrade reaches the kubelet with kube-apiserver's query and the negotiating headers, the
//! two upgraded connections are spliced, a kubelet's refusal comes back as it was, and a proxied
//! GET returns the kubelet's answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apimachinery::resource;
use apiserver::{ApiServerConfig, EtcdConfig, Running};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::ExtendedKeyUsagePurpose;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::certs::Authority;
use crate::endpoints::start_etcd;

const API_IP: &str = "127.0.214.1";
const KUBELET_IP: &str = "127.0.214.2";

type FakeBody = BoxBody<Bytes, std::convert::Infallible>;

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn whole(status: u16, content_type: &str, body: &str) -> Response<FakeBody> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    response
}

/// The kubelet's answers: `/configz`, an exec that echoes what it is sent after the 101, and a
/// refusal for a container that does not run. It records each request's target and headers.
fn answer(
    seen: &Mutex<Vec<(String, http::HeaderMap)>>,
    mut request: Request<Incoming>,
) -> Response<FakeBody> {
    let target = request.uri().path_and_query().unwrap().to_string();
    seen.lock()
        .unwrap()
        .push((target.clone(), request.headers().clone()));
    match request.uri().path() {
        "/configz" => whole(
            200,
            "application/json",
            r#"{"kubeletconfig":{"healthzPort":10248}}"#,
        ),
        "/exec/default/web/app" => {
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
            let mut response = whole(101, "text/plain", "");
            response.headers_mut().remove(header::CONTENT_TYPE);
            let h = response.headers_mut();
            h.insert(header::CONNECTION, "Upgrade".parse().unwrap());
            h.insert(header::UPGRADE, "websocket".parse().unwrap());
            h.insert(header::SEC_WEBSOCKET_ACCEPT, "accepted=".parse().unwrap());
            h.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                "v5.channel.k8s.io".parse().unwrap(),
            );
            response
        }
        _ => whole(
            404,
            "text/plain; charset=utf-8",
            "container not found (\"sidecar\")",
        ),
    }
}

/// A kubelet API on KUBELET_IP that serves with `ca`'s certificate and demands a client
/// certificate of `ca`.
async fn fake_kubelet(ca: &Authority) -> (SocketAddr, Arc<Mutex<Vec<(String, http::HeaderMap)>>>) {
    let (cert, key) = ca.leaf(Some(KUBELET_IP), ExtendedKeyUsagePurpose::ServerAuth);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((KUBELET_IP, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = seen.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&seen, request)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (address, seen)
}

/// An API server on API_IP that trusts `ca` for clients and kubelets alike.
async fn start_apiserver(etcd_url: &str, dir: &std::path::Path, ca: &Authority) -> Running {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (cert, key) = ca.leaf(Some(API_IP), ExtendedKeyUsagePurpose::ServerAuth);
    let store = EtcdConfig {
        servers: vec![etcd_url.to_string()],
        ..Default::default()
    };
    let mut config = ApiServerConfig::new(store, write("api.crt", &cert), write("api.key", &key));
    config.bind_address = API_IP.parse().unwrap();
    config.secure_port = free_port(API_IP);
    config.client_ca_file = Some(write("ca.crt", &ca.pem));
    let (client_cert, client_key) =
        ca.client("kube-apiserver-kubelet-client", &["kubeadm:cluster-admins"]);
    config.kubelet_client_certificate = Some(write("kubelet-client.crt", &client_cert));
    config.kubelet_client_key = Some(write("kubelet-client.key", &client_key));
    config.kubelet_certificate_authority = Some(write("ca.crt", &ca.pem));
    apiserver::start(config).await.unwrap()
}

/// A TLS connection to the API server as `system:masters`.
async fn connect(server: &Running, ca: &Authority) -> tokio_rustls::client::TlsStream<TcpStream> {
    connect_as(server, ca, "admin", &["system:masters"]).await
}

/// A TLS connection to the API server as `user` in `groups`.
async fn connect_as(
    server: &Running,
    ca: &Authority,
    user: &str,
    groups: &[&str],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let (cert, key) = ca.client(user, groups);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let tcp = TcpStream::connect(server.address).await.unwrap();
    let name = ServerName::IpAddress(server.address.ip().into());
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// Reads an answer's head (status line and headers), leaving the connection at its body.
async fn read_head(stream: &mut (impl AsyncReadExt + Unpin)) -> (u16, Vec<(String, String)>) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(
            n,
            1,
            "the answer ended in its head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers)
}

/// Reads a body as its head describes it: a Content-Length, chunks, or up to the close.
async fn read_body(
    stream: &mut (impl AsyncReadExt + Unpin),
    headers: &[(String, String)],
) -> Vec<u8> {
    if let Some(length) = header(headers, "content-length") {
        let mut body = vec![0u8; length.parse().unwrap()];
        stream.read_exact(&mut body).await.unwrap();
        return body;
    }
    if header(headers, "transfer-encoding") == Some("chunked") {
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                line.push(stream.read_u8().await.unwrap());
            }
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16).unwrap();
            let mut chunk = vec![0u8; size + 2];
            stream.read_exact(&mut chunk).await.unwrap();
            if size == 0 {
                return body;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let mut body = Vec::new();
    // A close without TLS close_notify still ends the body.
    let _ = stream.read_to_end(&mut body).await;
    body
}

/// One request on a fresh connection as the admin; the status, headers and body.
async fn request(
    server: &Running,
    ca: &Authority,
    text: &str,
) -> (u16, Vec<(String, String)>, String) {
    request_as(server, ca, "admin", &["system:masters"], text).await
}

/// One request on a fresh connection as `user`; the status, headers and body.
async fn request_as(
    server: &Running,
    ca: &Authority,
    user: &str,
    groups: &[&str],
    text: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = connect_as(server, ca, user, groups).await;
    stream.write_all(text.as_bytes()).await.unwrap();
    let answer = async {
        let (status, headers) = read_head(&mut stream).await;
        let body = read_body(&mut stream, &headers).await;
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(20), answer)
        .await
        .expect("an answer")
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {API_IP}\r\nConnection: close\r\n\r\n")
}

fn exec_upgrade(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {API_IP}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\nUser-Agent: kubectl/v1.32.0\r\n\r\n"
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn exec_and_node_proxy_reach_the_kubelet() {
    let etcd = start_etcd().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let (kubelet, seen) = fake_kubelet(&ca).await;
    let server = start_apiserver(&etcd.url, dir.path(), &ca).await;

    let storage = &server.server.storage;
    let nodes = resource::find("", "v1", "nodes").unwrap();
    let pods = resource::find("", "v1", "pods").unwrap();
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "uid": "u1"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": KUBELET_IP}, {"type": "Hostname", "address": "node-1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port()}},
        },
    });
    storage
        .create(nodes, &nodes.key(None, "node-1"), &node)
        .await
        .unwrap();
    for (name, node) in [("web", "node-1"), ("pending", "")] {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "app", "image": "hakube/agnhost"}, {"name": "sidecar", "image": "hakube/pause"}], "nodeName": node},
        });
        storage
            .create(pods, &pods.key(Some("default"), name), &pod)
            .await
            .unwrap();
    }

    // The RBAC policy arrives by a watch after the start: wait until the admin is allowed.
    let configz = "/api/v1/nodes/node-1/proxy/configz";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (status, headers, body) = loop {
        let answer = request(&server, &ca, &get(configz)).await;
        if answer.0 != 403 || tokio::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(body, r#"{"kubeletconfig":{"healthzPort":10248}}"#);
    // The port form reaches the same kubelet.
    let port_form = format!("/api/v1/nodes/node-1:{}/proxy/configz", kubelet.port());
    assert_eq!(request(&server, &ca, &get(&port_form)).await.0, 200);

    // exec: a 101 from the kubelet, then the two connections are one.
    let mut stream = connect(&server, &ca).await;
    let path = "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=echo+hi&container=app&stdin=true&stdout=true&tty=true";
    stream
        .write_all(exec_upgrade(path).as_bytes())
        .await
        .unwrap();
    let (status, headers) = read_head(&mut stream).await;
    assert_eq!(status, 101);
    assert_eq!(
        header(&headers, "sec-websocket-protocol"),
        Some("v5.channel.k8s.io")
    );
    assert_eq!(header(&headers, "sec-websocket-accept"), Some("accepted="));
    for message in [&b"\x00first"[..], b"\x00second"] {
        stream.write_all(message).await.unwrap();
        let mut echo = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut echo))
            .await
            .expect("the kubelet's echo comes back through the API server")
            .unwrap();
        assert_eq!(echo, message);
    }
    drop(stream);
    {
        let seen = seen.lock().unwrap();
        let (target, headers) = seen
            .iter()
            .find(|(t, _)| t.starts_with("/exec/"))
            .expect("the exec reached the kubelet");
        assert_eq!(
            target,
            "/exec/default/web/app?command=sh&command=-c&command=echo+hi&input=1&output=1&tty=1"
        );
        assert_eq!(headers["sec-websocket-protocol"], "v5.channel.k8s.io");
        assert_eq!(headers["upgrade"], "websocket");
        assert!(headers.get(header::AUTHORIZATION).is_none());
    }

    // A kubelet's refusal comes back as the kubelet said it.
    let (status, _, body) = request(
        &server,
        &ca,
        &exec_upgrade(
            "/api/v1/namespaces/default/pods/web/exec?command=ls&container=sidecar&stdout=true",
        ),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (404, "container not found (\"sidecar\")")
    );

    // The API server's own refusals are Statuses.
    let cases = [
        (
            exec_upgrade(
                "/api/v1/namespaces/default/pods/pending/exec?command=ls&container=app&stdout=true",
            ),
            400,
            "pod pending does not have a host assigned",
        ),
        (
            exec_upgrade("/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true"),
            400,
            "a container name must be specified for pod web, choose one of: [app sidecar]",
        ),
        (
            exec_upgrade("/api/v1/namespaces/default/pods/gone/exec?command=ls&stdout=true"),
            404,
            "pods \"gone\" not found",
        ),
        (
            get("/api/v1/namespaces/default/pods/web/exec?command=ls&container=app&stdout=true"),
            400,
            "Upgrade request required",
        ),
        (
            get("/api/v1/nodes/node-2/proxy/configz"),
            404,
            "nodes \"node-2\" not found",
        ),
    ];
    for (text, code, message) in cases {
        let (status, _, body) = request(&server, &ca, &text).await;
        let status_object: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (
                status,
                status_object["message"].as_str().unwrap_or_default()
            ),
            (code, message),
            "{text}"
        );
    }

    // A user who may only `get` pods/exec cannot open a WebSocket exec: that takes `create`.
    let roles = resource::find("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
    let bindings =
        resource::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings").unwrap();
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "exec-getter"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get"]}],
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "exec-getter"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "exec-getter"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}],
    });
    storage
        .create(roles, &roles.key(None, "exec-getter"), &role)
        .await
        .unwrap();
    storage
        .create(bindings, &bindings.key(None, "exec-getter"), &binding)
        .await
        .unwrap();
    let exec = exec_upgrade(
        "/api/v1/namespaces/default/pods/web/exec?command=ls&container=app&stdout=true",
    );
    let expected = "pods \"web\" is forbidden: User \"viewer\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\"";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = request_as(&server, &ca, "viewer", &[], &exec).await;
        let message = serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // Until the watch brings the role, the refusal is for `get`.
        if message == expected {
            assert_eq!(status, 403);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status} {message}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.shutdown().await;
}
