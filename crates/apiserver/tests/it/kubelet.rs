//! The kubelet client against a fake kubelet: an HTTPS server with certificates made here, that
//! demands the API server's client certificate and answers `/containerLogs/...` as a kubelet
//! would (whole logs, refusals, and a followed log that runs until the reader goes away).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apimachinery::ApiError;
use apiserver::kubelet_client::{KubeletClient, KubeletLocation};
use apiserver::{ApiServerConfig, EtcdConfig};
use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::ExtendedKeyUsagePurpose;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::certs::Authority;

type FakeBody = BoxBody<Bytes, std::convert::Infallible>;

/// What the fake kubelet saw, and the sender of the followed log it is serving.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    follower: Option<mpsc::Sender<Bytes>>,
}

/// Starts a fake kubelet on 127.0.0.1 that trusts client certificates from `clients`.
async fn fake_kubelet(serving: &Authority, clients: &Authority) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let (cert, key) = serving.leaf(Some("127.0.0.1"), ExtendedKeyUsagePurpose::ServerAuth);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(clients.pem.as_bytes()).unwrap())
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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = state.clone();
            tokio::spawn(async move {
                // A client without an accepted certificate never gets past the handshake.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = seen.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&seen, &request)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (address, seen)
}

fn whole(code: u16, text: &str) -> Response<FakeBody> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())).boxed());
    *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
    response
}

/// The fake kubelet's answers, by container.
fn answer(seen: &Mutex<Seen>, request: &Request<Incoming>) -> Response<FakeBody> {
    let path_and_query = request.uri().path_and_query().unwrap().to_string();
    let mut seen = seen.lock().unwrap();
    seen.requests.push(path_and_query);
    match request.uri().path() {
        "/containerLogs/ns/web/app" => whole(200, "line 1\nline 2\n"),
        "/containerLogs/ns/web/waiting" => whole(
            400,
            "container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating",
        ),
        "/containerLogs/ns/web/follow" => {
            let (sender, receiver) = mpsc::channel::<Bytes>(4);
            seen.follower = Some(sender);
            let frames = ReceiverStream::new(receiver).map(|b| Ok(Frame::data(b)));
            Response::new(BodyExt::boxed(StreamBody::new(frames)))
        }
        _ => whole(404, "404 page not found"),
    }
}

/// Writes the PEM files of the API server's side and returns its configuration.
fn config(dir: &Path, trusted: &Authority, client: (String, String)) -> ApiServerConfig {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let mut config = ApiServerConfig::new(EtcdConfig::default(), "unused".into(), "unused".into());
    config.kubelet_client_certificate = Some(write("client.crt", &client.0));
    config.kubelet_client_key = Some(write("client.key", &client.1));
    config.kubelet_certificate_authority = Some(write("ca.crt", &trusted.pem));
    config
}

fn location(address: SocketAddr, path_and_query: &str) -> KubeletLocation {
    KubeletLocation {
        address,
        path_and_query: path_and_query.to_string(),
    }
}

/// The status and Status message of an error answer.
fn status_of(err: ApiError) -> (u16, String, String) {
    (err.code, err.reason.to_string(), err.message)
}

#[tokio::test]
async fn logs_come_from_the_kubelet_over_mtls() {
    let ca = Authority::new();
    let (kubelet, seen) = fake_kubelet(&ca, &ca).await;
    let dir = tempfile::tempdir().unwrap();
    let client = ca.leaf(None, ExtendedKeyUsagePurpose::ClientAuth);
    let client = KubeletClient::from_config(&config(dir.path(), &ca, client))
        .unwrap()
        .expect("all three flags are set");

    let response = client
        .stream(
            &location(
                kubelet,
                "/containerLogs/ns/web/app?tailLines=2&timestamps=true",
            ),
            "pods/log",
            "web",
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "line 1\nline 2\n");
    assert_eq!(
        seen.lock().unwrap().requests,
        vec!["/containerLogs/ns/web/app?tailLines=2&timestamps=true"]
    );

    // A kubelet's 400 (a container still starting) reaches kubectl as kube-apiserver says it.
    let err = client
        .stream(
            &location(kubelet, "/containerLogs/ns/web/waiting"),
            "pods/log",
            "web",
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err),
        (
            400,
            "BadRequest".into(),
            "container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating".into()
        )
    );
    let err = client
        .stream(
            &location(kubelet, "/containerLogs/ns/web/gone"),
            "pods/log",
            "web",
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err),
        (
            404,
            "NotFound".into(),
            "the server could not find the requested resource ( pods/log web)".into()
        )
    );
}

#[tokio::test]
async fn a_followed_log_streams_until_the_reader_leaves() {
    let ca = Authority::new();
    let (kubelet, seen) = fake_kubelet(&ca, &ca).await;
    let dir = tempfile::tempdir().unwrap();
    let client = ca.leaf(None, ExtendedKeyUsagePurpose::ClientAuth);
    let client = KubeletClient::from_config(&config(dir.path(), &ca, client))
        .unwrap()
        .unwrap();
    let response = client
        .stream(
            &location(kubelet, "/containerLogs/ns/web/follow?follow=true"),
            "pods/log",
            "web",
        )
        .await
        .unwrap();
    let sender = seen.lock().unwrap().follower.clone().unwrap();
    let mut body = response.into_body();
    for line in ["first\n", "second\n"] {
        sender.send(Bytes::from(line)).await.unwrap();
        // Each line arrives while the kubelet's answer is still open: nothing is buffered.
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("a line written by the kubelet reaches the reader")
            .unwrap()
            .unwrap();
        assert_eq!(frame.into_data().unwrap(), line);
    }
    drop(body);
    // The reader went away, so the kubelet's connection closes and its writes start failing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if sender.send(Bytes::from_static(b"more\n")).await.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the kubelet's stream outlived its reader"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_untrusted_or_absent_kubelet_is_an_error_naming_the_url() {
    let ca = Authority::new();
    let impostor = Authority::new();
    // Serves a certificate from a CA the API server does not trust.
    let (kubelet, seen) = fake_kubelet(&impostor, &ca).await;
    let dir = tempfile::tempdir().unwrap();
    let client = ca.leaf(None, ExtendedKeyUsagePurpose::ClientAuth);
    let client = KubeletClient::from_config(&config(dir.path(), &ca, client))
        .unwrap()
        .unwrap();
    let err = client
        .stream(
            &location(kubelet, "/containerLogs/ns/web/app"),
            "pods/log",
            "web",
        )
        .await
        .unwrap_err();
    let prefix = format!("Get \"https://{kubelet}/containerLogs/ns/web/app\": tls: ");
    assert_eq!((err.code, err.reason), (500, ""));
    assert!(err.message.starts_with(&prefix), "{}", err.message);
    assert!(seen.lock().unwrap().requests.is_empty());

    // Nothing listens on a port just freed.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let err = client
        .stream(
            &location(closed, "/containerLogs/ns/web/app?follow=true"),
            "pods/log",
            "web",
        )
        .await
        .unwrap_err();
    assert_eq!(
        status_of(err),
        (
            500,
            String::new(),
            format!(
                "Get \"https://{closed}/containerLogs/ns/web/app?follow=true\": dial tcp {closed}: connect: connection refused"
            )
        )
    );
}

#[tokio::test]
async fn a_kubelet_that_does_not_know_the_api_server_refuses_it() {
    let ca = Authority::new();
    let other_clients = Authority::new();
    // This kubelet trusts only client certificates of another CA.
    let (kubelet, seen) = fake_kubelet(&ca, &other_clients).await;
    let dir = tempfile::tempdir().unwrap();
    let client = ca.leaf(None, ExtendedKeyUsagePurpose::ClientAuth);
    let client = KubeletClient::from_config(&config(dir.path(), &ca, client))
        .unwrap()
        .unwrap();
    let err = client
        .stream(
            &location(kubelet, "/containerLogs/ns/web/app"),
            "pods/log",
            "web",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 500, "{}", err.message);
    assert!(seen.lock().unwrap().requests.is_empty());
}
