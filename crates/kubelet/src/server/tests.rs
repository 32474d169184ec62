//! Tests of the kubelet API: routing and answers, then the real HTTPS listener with certificates
//! made here, with and without a client certificate the CA signed.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use http_body_util::Empty;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::*;
use crate::MirrorPod;

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A CA, and what it signed: a serving certificate for 127.0.0.1 and a client certificate.
struct Pki {
    ca: CertificateDer<'static>,
    client: (CertificateDer<'static>, KeyPair),
    /// A client certificate from another CA.
    stranger: (CertificateDer<'static>, KeyPair),
}

fn authority(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(LOCALHOST)));
    params.extended_key_usages = vec![usage];
    (params.signed_by(&key, issuer).unwrap(), key)
}

/// Writes the kubelet's files (serving cert and key, client CA) into `dir`.
fn make_pki(dir: &Path) -> Pki {
    let (ca, issuer) = authority("kubernetes");
    let (serving, serving_key) = leaf(&issuer, "n1", ExtendedKeyUsagePurpose::ServerAuth);
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.join("kubelet.crt"), serving.pem()).unwrap();
    std::fs::write(dir.join("kubelet.key"), serving_key.serialize_pem()).unwrap();
    let client = leaf(
        &issuer,
        "kube-apiserver-kubelet-client",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (_, other) = authority("someone else");
    let stranger = leaf(&other, "intruder", ExtendedKeyUsagePurpose::ClientAuth);
    let der = |(cert, key): (rcgen::Certificate, KeyPair)| (cert.der().clone(), key);
    Pki {
        ca: ca.der().clone(),
        client: der(client),
        stranger: der(stranger),
    }
}

fn client_config(pki: &Pki, identity: Option<&(CertificateDer<'static>, KeyPair)>) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.clone()],
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Opens a connection (TLS when a config is given) and returns a sender for requests on it.
async fn connect(
    addr: SocketAddr,
    tls: Option<ClientConfig>,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, AnyError> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let sender = match tls {
        Some(config) => {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let stream = connector
                .connect(ServerName::IpAddress(IpAddr::V4(LOCALHOST).into()), tcp)
                .await?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            sender
        }
        None => {
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
            tokio::spawn(connection);
            sender
        }
    };
    Ok(sender)
}

/// One GET, its status and whole body.
async fn get(
    addr: SocketAddr,
    tls: Option<ClientConfig>,
    path: &str,
) -> Result<(StatusCode, String), AnyError> {
    let mut sender = connect(addr, tls).await?;
    let request = Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8(body.to_vec())?))
}

fn kubelet_api(log_file: &Path) -> Arc<KubeletApi> {
    let pod = StaticPod::new(
        &MirrorPod {
            role: "etcd".to_string(),
            image: "hakube/etcd:0.1.0".to_string(),
            log_file: log_file.to_owned(),
        },
        "n1",
    );
    Arc::new(KubeletApi {
        node_ip: LOCALHOST,
        pods: Arc::from(vec![pod]),
        run: Run::new("n1", jiff::Timestamp::UNIX_EPOCH, 1),
        registry: Arc::default(),
        configz: serde_json::json!({"kubeletconfig": {"healthzPort": 10248}}),
        state_dir: std::env::temp_dir(),
    })
}

/// Starts the HTTPS kubelet API on a free port of 127.0.0.1.
async fn start_https(dir: &Path, log_file: &Path) -> (SocketAddr, watch::Sender<bool>) {
    let tls = crate::tls::server_config(
        &dir.join("kubelet.crt"),
        &dir.join("kubelet.key"),
        &dir.join("ca.crt"),
    )
    .unwrap();
    let (listener, addr) = bind((LOCALHOST, 0).into()).await.unwrap();
    let api = kubelet_api(log_file);
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve(
        listener,
        Some(TlsAcceptor::from(Arc::new(tls))),
        move |request| api.clone().handle(request),
        stopped,
    ));
    (addr, stop)
}

#[test]
fn routes() {
    let cases = [
        ("/healthz", Route::Healthz),
        ("/pods", Route::Pods),
        ("/pods/", Route::Pods),
        (
            "/containerLogs/kube-system/etcd-n1/etcd",
            Route::ContainerLogs {
                namespace: "kube-system",
                pod: "etcd-n1",
                container: "etcd",
            },
        ),
        ("/containerLogs/kube-system/etcd-n1", Route::NotImplemented),
        ("/containerLogs/kube-system//etcd", Route::NotImplemented),
        (
            "/exec/default/p/c",
            Route::Exec {
                namespace: "default",
                pod: "p",
                container: "c",
            },
        ),
        (
            "/exec/default/p/uid-1/c",
            Route::Exec {
                namespace: "default",
                pod: "p",
                container: "c",
            },
        ),
        (
            "/attach/default/p/c",
            Route::Attach {
                namespace: "default",
                pod: "p",
                container: "c",
            },
        ),
        (
            "/portForward/default/p",
            Route::PortForward {
                namespace: "default",
                pod: "p",
            },
        ),
        (
            "/portForward/default/p/uid-1",
            Route::PortForward {
                namespace: "default",
                pod: "p",
            },
        ),
        ("/exec/default/p", Route::NotImplemented),
        ("/portForward/default", Route::NotImplemented),
        ("/run/default/p/c", Route::NotImplemented),
        ("/configz", Route::Configz),
        ("/stats/summary", Route::NotImplemented),
        ("/metrics/cadvisor", Route::NotImplemented),
        ("/", Route::NotFound),
        ("/nothing", Route::NotFound),
        ("/healthz/extra", Route::NotFound),
    ];
    for (path, want) in cases {
        assert_eq!(route(path), want, "{path}");
    }
}

#[tokio::test]
async fn answers() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("etcd.log");
    std::fs::write(&log, "a\nb\nc\n").unwrap();
    let api = kubelet_api(&log);
    let cases = [
        (Method::GET, "/healthz", StatusCode::OK, "ok"),
        (
            Method::GET,
            "/containerLogs/kube-system/etcd-n1/etcd?tailLines=1",
            StatusCode::OK,
            "c\n",
        ),
        (
            Method::GET,
            "/containerLogs/kube-system/etcd-n1/etcd?limitBytes=3",
            StatusCode::OK,
            "a\nb",
        ),
        (
            Method::GET,
            "/containerLogs/kube-system/etcd-n2/etcd",
            StatusCode::NOT_FOUND,
            "pod \"etcd-n2\" does not exist\n",
        ),
        (
            Method::GET,
            "/containerLogs/default/etcd-n1/etcd",
            StatusCode::NOT_FOUND,
            "pod \"etcd-n1\" does not exist\n",
        ),
        (
            Method::GET,
            "/containerLogs/kube-system/etcd-n1/sidecar",
            StatusCode::NOT_FOUND,
            "container \"sidecar\" not found in pod \"etcd-n1\"\n",
        ),
        (
            Method::GET,
            "/containerLogs/kube-system/etcd-n1/etcd?tailLines=-2",
            StatusCode::BAD_REQUEST,
            "tailLines: must be greater than or equal to 0",
        ),
        (
            Method::POST,
            "/exec/default/web/app?command=ls",
            StatusCode::NOT_FOUND,
            "pod \"web\" does not exist\n",
        ),
        (
            Method::POST,
            "/exec/kube-system/etcd-n1/sidecar?command=ls",
            StatusCode::NOT_FOUND,
            "container not found (\"sidecar\")\n",
        ),
        (
            Method::GET,
            "/portForward/default/web",
            StatusCode::NOT_FOUND,
            "pod \"web\" does not exist\n",
        ),
        (
            Method::DELETE,
            "/exec/kube-system/etcd-n1/etcd?command=ls",
            StatusCode::METHOD_NOT_ALLOWED,
            "405: Method Not Allowed",
        ),
        (
            Method::GET,
            "/stats/summary",
            StatusCode::NOT_IMPLEMENTED,
            "not implemented",
        ),
        (
            Method::POST,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "405: Method Not Allowed",
        ),
        (
            Method::GET,
            "/elsewhere",
            StatusCode::NOT_FOUND,
            "404 page not found",
        ),
    ];
    for (method, path, status, body) in cases {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(())
            .unwrap();
        let response = api.clone().handle(request).await;
        assert_eq!(response.status(), status, "{method} {path}");
        let got = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(got, body.as_bytes(), "{method} {path}");
    }
}

#[tokio::test]
async fn pods_lists_the_static_pods() {
    let api = kubelet_api(Path::new("/nonexistent"));
    let response = api
        .clone()
        .handle(Request::get("/pods").body(()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"][0]["metadata"]["name"], "etcd-n1");
    assert_eq!(list["items"][0]["status"]["phase"], "Running");
}

#[tokio::test]
async fn mtls_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let log = dir.path().join("etcd.log");
    std::fs::write(&log, "first\nsecond\nthird\n").unwrap();
    let (addr, _stop) = start_https(dir.path(), &log).await;

    let refused = get(addr, Some(client_config(&pki, None)), "/healthz").await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");
    let refused = get(
        addr,
        Some(client_config(&pki, Some(&pki.stranger))),
        "/healthz",
    )
    .await;
    assert!(refused.is_err(), "another CA's certificate: {refused:?}");
    let refused = get(addr, None, "/healthz").await;
    assert!(
        !matches!(refused, Ok((StatusCode::OK, _))),
        "plain HTTP: {refused:?}"
    );

    let trusted = || Some(client_config(&pki, Some(&pki.client)));
    let healthz = get(addr, trusted(), "/healthz").await.unwrap();
    assert_eq!(healthz, (StatusCode::OK, "ok".to_string()));
    let log = get(
        addr,
        trusted(),
        "/containerLogs/kube-system/etcd-n1/etcd?tailLines=2",
    )
    .await
    .unwrap();
    assert_eq!(log, (StatusCode::OK, "second\nthird\n".to_string()));
    let missing = get(addr, trusted(), "/containerLogs/kube-system/nope/etcd")
        .await
        .unwrap();
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn follow_streams_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let log = dir.path().join("etcd.log");
    std::fs::write(&log, "before\n").unwrap();
    let (addr, _stop) = start_https(dir.path(), &log).await;
    let mut sender = connect(addr, Some(client_config(&pki, Some(&pki.client))))
        .await
        .unwrap();
    let request = Request::get("/containerLogs/kube-system/etcd-n1/etcd?follow=true")
        .header(header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut appended = false;
    while !got.contains("after\n") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("no log line in time; got {got:?}"))
            .expect("the stream ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            got.push_str(std::str::from_utf8(&data).unwrap());
        }
        if got.contains("before\n") && !appended {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            file.write_all(b"after\n").unwrap();
            appended = true;
        }
    }
    assert_eq!(got, "before\nafter\n");
}

#[tokio::test]
async fn the_health_port_is_plain_http() {
    let (listener, addr) = bind((LOCALHOST, 0).into()).await.unwrap();
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(serve(listener, None, healthz, stopped));
    assert_eq!(
        get(addr, None, "/healthz").await.unwrap(),
        (StatusCode::OK, "ok".to_string())
    );
    assert_eq!(
        get(addr, None, "/pods").await.unwrap().0,
        StatusCode::NOT_FOUND
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn tls_needs_a_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    std::fs::write(dir.path().join("empty.crt"), "").unwrap();
    let err = crate::tls::server_config(
        &dir.path().join("kubelet.crt"),
        &dir.path().join("kubelet.key"),
        &dir.path().join("empty.crt"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err}");
    let err = crate::tls::server_config(
        &dir.path().join("kubelet.crt"),
        &dir.path().join("kubelet.key"),
        &dir.path().join("missing.crt"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err}");
}

#[test]
fn static_pods_run_in_the_node_process() {
    let api = kubelet_api(Path::new("/nonexistent"));
    let target = api
        .container_target("kube-system", "etcd-n1", None)
        .unwrap();
    assert_eq!(target.pid, std::process::id());
    assert_eq!(target.pod_ip, LOCALHOST);
    assert_eq!(target.hostname, "etcd-n1");
    assert!(
        target
            .env
            .contains(&("HOSTNAME".to_string(), "etcd-n1".to_string()))
    );
    assert!(
        api.container_target("kube-system", "etcd-n1", Some("etcd"))
            .is_some()
    );
    assert_eq!(
        api.container_target("kube-system", "etcd-n1", Some("other")),
        None
    );
    assert_eq!(api.container_target("default", "etcd-n1", None), None);
}
