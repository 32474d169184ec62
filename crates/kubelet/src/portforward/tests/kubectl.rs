//! The real kubectl 1.32 against [`port_forward`]: a fake API server answers discovery and
//! the pod, and hands `pods/portforward` to the handler unchanged, as hakube's API server
//! proxies it to the kubelet. Covers kubectl's WebSocket tunnel (its default), plain SPDY, the
//! fallback from a refused WebSocket to SPDY, and an error reaching kubectl's output.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use http::Method;
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::*;

/// Where the fake API server listens.
const API_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 231, 3);
/// Where kubectl listens for local connections.
const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 231, 4);
const KUBECTL: &str = "/usr/bin/kubectl";

/// How the fake API server passes port-forward requests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proxy {
    Unchanged,
    /// Drops the WebSocket subprotocol, so the kubelet refuses the WebSocket.
    WithoutSubprotocol,
}

/// The port-forward requests the fake API server saw: method and `Upgrade` header.
type Seen = Arc<Mutex<Vec<String>>>;

fn json(body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn api_server(proxy: Proxy, seen: Seen) -> (SocketAddr, Background) {
    let listener = TcpListener::bind((API_IP, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let seen = seen.clone();
                    async move { Ok::<_, Infallible>(answer(request, proxy, address, seen).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (address, Background(task))
}

async fn answer(
    mut request: Request<Incoming>,
    proxy: Proxy,
    address: SocketAddr,
    seen: Seen,
) -> Response<Body> {
    match request.uri().path() {
        "/api" => json(format!(
            r#"{{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{{"clientCIDR":"0.0.0.0/0","serverAddress":"{address}"}}]}}"#
        )),
        "/apis" => json(r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#.to_string()),
        "/api/v1" => json(
            r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[
                {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]},
                {"name":"pods/portforward","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create","get"]}]}"#
                .to_string(),
        ),
        "/api/v1/namespaces/default/pods/echo" => json(
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"echo","namespace":"default","uid":"0b9c5b2e-3c3e-4b8f-9d7e-1f2a3b4c5d6e"},
                "spec":{"containers":[{"name":"echo","image":"echo"}]},"status":{"phase":"Running","podIP":"127.0.231.1"}}"#
                .to_string(),
        ),
        "/api/v1/namespaces/default/pods/echo/portforward" => {
            let upgrade = request
                .headers()
                .get(header::UPGRADE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            seen.lock()
                .unwrap()
                .push(format!("{} {upgrade}", request.method()));
            if proxy == Proxy::WithoutSubprotocol && request.method() == Method::GET {
                request.headers_mut().remove(header::SEC_WEBSOCKET_PROTOCOL);
            }
            port_forward(request, POD_IP, POD_DESC.to_string()).await
        }
        _ => {
            let mut response = json(
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#
                    .to_string(),
            );
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

/// Starts `kubectl port-forward pod/echo :<port>` and waits for its local port.
async fn kubectl(dir: &Path, api: SocketAddr, port: u16, websockets: bool) -> (Child, u16) {
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters: [{{name: fake, cluster: {{server: \"http://{api}\"}}}}]\n\
             users: [{{name: fake, user: {{}}}}]\n\
             contexts: [{{name: fake, context: {{cluster: fake, user: fake, namespace: default}}}}]\n\
             current-context: fake\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(&config)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args([
            "port-forward",
            "pod/echo",
            "--address",
            &LOCAL_IP.to_string(),
        ])
        .arg(format!(":{port}"))
        .env("HOME", dir)
        .env(
            "KUBECTL_PORT_FORWARD_WEBSOCKETS",
            if websockets { "true" } else { "false" },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let local = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // "Forwarding from 127.0.231.4:41234 -> 8080"
            if let Some(rest) = line.strip_prefix(&format!("Forwarding from {LOCAL_IP}:")) {
                return rest.split(' ').next().unwrap().parse::<u16>().unwrap();
            }
        }
        panic!("kubectl ended without forwarding");
    })
    .await
    .expect("kubectl forwarding in time");
    // Keep reading stdout ("Handling connection for ...") so kubectl never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, local)
}

/// One echo round trip through kubectl's local port.
async fn echo_through(local: u16, payload: &[u8]) {
    let mut socket = TcpStream::connect((LOCAL_IP, local)).await.unwrap();
    socket.write_all(payload).await.unwrap();
    socket.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    tokio::time::timeout(WAIT, socket.read_to_end(&mut echoed))
        .await
        .expect("the echo in time")
        .unwrap();
    assert!(
        echoed == payload,
        "echoed {} of {} bytes",
        echoed.len(),
        payload.len()
    );
}

fn have_kubectl() -> bool {
    if Path::new(KUBECTL).exists() {
        return true;
    }
    eprintln!("{KUBECTL} is not installed: the kubectl port-forward tests check nothing");
    false
}

#[tokio::test]
async fn kubectl_forwards_through_each_transport() {
    if !have_kubectl() {
        return;
    }
    let (port, _pod) = echo_pod().await;
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let cases = [
        (Proxy::Unchanged, true, ["GET websocket"].as_slice()),
        (Proxy::Unchanged, false, ["POST SPDY/3.1"].as_slice()),
        // The kubelet refuses the WebSocket; kubectl falls back to SPDY.
        (
            Proxy::WithoutSubprotocol,
            true,
            ["GET websocket", "POST SPDY/3.1"].as_slice(),
        ),
    ];
    for (proxy, websockets, expected) in cases {
        let seen = Seen::default();
        let (api, _api) = api_server(proxy, seen.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let (mut child, local) = kubectl(dir.path(), api, port, websockets).await;
        // Two local connections, one after the other, over the one upgraded connection.
        echo_through(local, b"hello through kubectl").await;
        echo_through(local, &payload).await;
        assert_eq!(
            *seen.lock().unwrap(),
            expected,
            "{proxy:?}, websockets={websockets}"
        );
        child.kill().await.unwrap();
    }
}

#[tokio::test]
async fn kubectl_prints_the_kubelets_error() {
    if !have_kubectl() {
        return;
    }
    let port = closed_port().await;
    let (api, _api) = api_server(Proxy::Unchanged, Seen::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, local) = kubectl(dir.path(), api, port, true).await;
    let mut socket = TcpStream::connect((LOCAL_IP, local)).await.unwrap();
    // kubectl closes the local connection once the error arrives, and then gives up.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, socket.read_to_end(&mut rest)).await;
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().unwrap();
    let _ = tokio::time::timeout(WAIT, pipe.read_to_string(&mut stderr)).await;
    let expected = format!(
        "error forwarding port {port} to pod {POD_DESC}, uid : dial tcp {POD_IP}:{port}: connect: connection refused"
    );
    assert!(stderr.contains(&expected), "{expected} in {stderr}");
    let _ = child.kill().await;
}
