//! Fake backends and builders of Services and EndpointSlices for the proxier tests.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use proxy::ServiceModel;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// How long any single network step may take before a test fails.
pub const STEP: Duration = Duration::from_secs(5);

/// A TCP server that greets each connection with its own address on one line, then echoes.
/// Stops listening when dropped; its accepted connections keep running.
pub struct Backend {
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(addr: &str) -> Backend {
        let addr: SocketAddr = addr.parse().unwrap();
        let listener = TcpListener::bind(addr).await.unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    if conn
                        .write_all(format!("{addr}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let mut buf = [0u8; 1024];
                    loop {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if conn.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Backend { task }
    }
}

/// A connection through the proxy, after the backend's greeting.
pub struct Conn {
    pub backend: String,
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connects from `source` (any loopback address, to play another client) to `addr`.
    pub async fn open_from(source: Option<&str>, addr: SocketAddr) -> std::io::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        if let Some(source) = source {
            let ip: IpAddr = source.parse().unwrap();
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = tokio::time::timeout(STEP, socket.connect(addr))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        tokio::time::timeout(STEP, reader.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if line.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Conn {
            backend: line.trim_end().to_string(),
            reader,
        })
    }

    pub async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        Conn::open_from(None, addr).await
    }

    /// Sends `text` and checks it comes back.
    pub async fn echo(&mut self, text: &str) {
        self.reader
            .get_mut()
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        tokio::time::timeout(STEP, self.reader.read_line(&mut line))
            .await
            .expect("echo timed out")
            .unwrap();
        assert_eq!(line, format!("{text}\n"), "echo through {}", self.backend);
    }
}

/// The backend each of `n` new connections to `addr` lands on.
pub async fn backends_of(addr: SocketAddr, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..n {
        let conn = Conn::open(addr).await.unwrap();
        got.push(conn.backend);
    }
    got
}

/// A connect to `addr` is refused, as a client sees a Service without endpoints.
pub async fn assert_refused(addr: SocketAddr) {
    let result = tokio::time::timeout(STEP, TcpStream::connect(addr)).await;
    match result {
        Ok(Err(e)) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{addr}: {e}"
        ),
        Ok(Ok(_)) => panic!("{addr} accepted a connection"),
        Err(_) => panic!("{addr}: connect timed out instead of being refused"),
    }
}

/// A Service in `default` with one TCP port named `http` on `cluster_ip:port`, NodePort when
/// `node_port` is given, with extra `spec` fields merged in.
pub fn service(
    name: &str,
    cluster_ip: &str,
    port: u16,
    node_port: Option<u16>,
    extra: Value,
) -> Service {
    let mut http = json!({"name": "http", "port": port, "targetPort": "web", "protocol": "TCP"});
    let mut spec =
        json!({"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "type": "ClusterIP"});
    if let Some(node_port) = node_port {
        http["nodePort"] = json!(node_port);
        spec["type"] = json!("NodePort");
    }
    spec["ports"] = json!([http]);
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

/// The EndpointSlice of Service `service`, whose port `http` is `port` on each ready `ips`.
pub fn slice(service: &str, port: u16, ready: &[&str], not_ready: &[&str]) -> EndpointSlice {
    let endpoint = |ip: &&str, ready: bool| json!({"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": false}});
    let endpoints: Vec<Value> = ready
        .iter()
        .map(|ip| endpoint(ip, true))
        .chain(not_ready.iter().map(|ip| endpoint(ip, false)))
        .collect();
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("{service}-abcde"),
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .unwrap()
}

pub fn model(services: &[Service], slices: &[EndpointSlice]) -> ServiceModel {
    ServiceModel::build(services, slices)
}

/// Polls `check` every 50 ms until it holds, failing after `within`.
pub async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs to the test's output when RUST_LOG asks for it.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
