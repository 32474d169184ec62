//! End to end: [`port_forward`] behind a loopback HTTP server, TCP "pods" on another loopback
//! address, and a SPDY client written here that talks like kubectl, plain and through the
//! WebSocket tunnel. `kubectl.rs` drives the real kubectl against the same handler.

mod kubectl;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hyper::service::service_fn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::*;
use compression::HeaderCompressor;
use frame::{FLAG_FIN, Frame, FrameReader, StreamId, encode, rst};
use headers::HeaderBlock;

/// Where the test pods listen.
const POD_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 231, 1);
/// Where the test kubelet listens.
const KUBELET_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 231, 2);
/// How the handler names the pod in errors.
const POD_DESC: &str = "default/echo";
/// The longest any step may take.
const WAIT: Duration = Duration::from_secs(10);

/// Aborts a background task when the test ends, passed or not.
struct Background(JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A pod port that echoes each connection until its client half-closes.
async fn echo_pod() -> (u16, Background) {
    pod(|mut socket| async move {
        let (mut read, mut write) = socket.split();
        let _ = tokio::io::copy(&mut read, &mut write).await;
        let _ = write.shutdown().await;
    })
    .await
}

/// A pod port that serves each connection with `serve`.
async fn pod<F, Fut>(serve: F) -> (u16, Background)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((POD_IP, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket));
        }
    });
    (port, Background(task))
}

/// A port on the pod's IP nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind((POD_IP, 0)).await.unwrap();
    listener.local_addr().unwrap().port()
}

/// An HTTP/1.1 server whose every request is a port-forward to [`POD_IP`].
async fn kubelet(ip: Ipv4Addr) -> (SocketAddr, Background) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request| async move {
                    Ok::<_, Infallible>(port_forward(request, POD_IP, POD_DESC.to_string()).await)
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

/// The client's sending half.
enum Out {
    Plain(OwnedWriteHalf),
    Tunnel(SplitSink<WebSocketStream<TcpStream>, Message>),
}

/// The client's receiving half.
enum In {
    Plain(OwnedReadHalf),
    Tunnel(SplitStream<WebSocketStream<TcpStream>>),
}

/// Sends frames like kubectl's SPDY library.
struct Sender {
    out: Out,
    compressor: HeaderCompressor,
}

impl Sender {
    async fn send(&mut self, frame: Frame) {
        let mut bytes = BytesMut::new();
        encode(&frame, &mut self.compressor, &mut bytes);
        match &mut self.out {
            Out::Plain(write) => write.write_all(&bytes).await.unwrap(),
            // Go's framer writes a frame in several small writes, each its own message.
            Out::Tunnel(sink) => {
                let (head, rest) = bytes.split_at(bytes.len().min(4));
                for piece in [head, rest] {
                    if !piece.is_empty() {
                        let message = Message::Binary(piece.to_vec().into());
                        sink.send(message).await.unwrap();
                    }
                }
            }
        }
    }

    async fn open(&mut self, stream: StreamId, kind: &str, port: u16, request: &str) {
        let port = port.to_string();
        let headers = HeaderBlock::from([
            ("streamType", kind),
            ("port", port.as_str()),
            ("requestID", request),
        ]);
        self.send(Frame::SynStream {
            stream,
            associated: 0,
            priority: 0,
            slot: 0,
            flags: 0,
            headers,
        })
        .await;
    }

    async fn data(&mut self, stream: StreamId, flags: u8, data: &[u8]) {
        let data = Bytes::copy_from_slice(data);
        self.send(Frame::Data {
            stream,
            flags,
            data,
        })
        .await;
    }
}

/// Reads frames.
struct Receiver {
    input: In,
    reader: FrameReader,
}

impl Receiver {
    /// The next frame other than a WINDOW_UPDATE.
    async fn next(&mut self) -> Frame {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.reader.next_frame().unwrap() {
                    Some(Frame::WindowUpdate { .. }) => continue,
                    Some(frame) => return frame,
                    None => {}
                }
                let bytes = match &mut self.input {
                    In::Plain(read) => {
                        let mut buffer = vec![0u8; 65536];
                        let n = read.read(&mut buffer).await.unwrap();
                        assert_ne!(n, 0, "the kubelet closed the connection");
                        buffer.truncate(n);
                        buffer
                    }
                    In::Tunnel(stream) => match stream.next().await {
                        Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                        other => panic!("unexpected message {other:?}"),
                    },
                };
                self.reader.push(&bytes);
            }
        })
        .await
        .expect("a frame in time")
    }

    async fn expect_reply(&mut self, stream: StreamId) {
        match self.next().await {
            Frame::SynReply { stream: s, .. } if s == stream => {}
            other => panic!("expected SYN_REPLY {stream}, got {other:?}"),
        }
    }

    /// What arrives on each stream until every stream of `streams` has its FIN.
    async fn until_fin(&mut self, streams: &[StreamId]) -> HashMap<StreamId, Vec<u8>> {
        let mut received: HashMap<StreamId, Vec<u8>> = HashMap::new();
        let mut open: Vec<StreamId> = streams.to_vec();
        while !open.is_empty() {
            match self.next().await {
                Frame::Data {
                    stream,
                    flags,
                    data,
                } => {
                    received.entry(stream).or_default().extend_from_slice(&data);
                    if flags & FLAG_FIN != 0 {
                        open.retain(|s| *s != stream);
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        received
    }
}

/// Connects with kubectl's SPDY fallback request.
async fn connect_spdy(kubelet: SocketAddr) -> (Sender, Receiver) {
    let mut socket = TcpStream::connect(kubelet).await.unwrap();
    let request = format!(
        "POST /portForward/default/echo HTTP/1.1\r\nHost: {kubelet}\r\n\
         X-Stream-Protocol-Version: portforward.k8s.io\r\nConnection: Upgrade\r\n\
         Upgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let (head, rest) = read_head(&mut socket).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    for expected in [
        "connection: upgrade",
        "upgrade: spdy/3.1",
        "x-stream-protocol-version: portforward.k8s.io",
    ] {
        assert!(lower.contains(expected), "{expected} in {head}");
    }
    let (read, write) = socket.into_split();
    let mut reader = FrameReader::default();
    reader.push(&rest);
    (
        Sender {
            out: Out::Plain(write),
            compressor: HeaderCompressor::default(),
        },
        Receiver {
            input: In::Plain(read),
            reader,
        },
    )
}

/// Connects with kubectl's first request: SPDY tunneled in a WebSocket.
async fn connect_tunnel(kubelet: SocketAddr) -> (Sender, Receiver) {
    let socket = TcpStream::connect(kubelet).await.unwrap();
    let mut request = format!("ws://{kubelet}/portForward/default/echo")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static("SPDY/3.1+portforward.k8s.io"),
    );
    let (websocket, response) = tokio_tungstenite::client_async(request, socket)
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .unwrap(),
        "SPDY/3.1+portforward.k8s.io"
    );
    let (sink, stream) = websocket.split();
    (
        Sender {
            out: Out::Tunnel(sink),
            compressor: HeaderCompressor::default(),
        },
        Receiver {
            input: In::Tunnel(stream),
            reader: FrameReader::default(),
        },
    )
}

/// Reads an HTTP response head; returns it and the bytes after it.
async fn read_head(socket: &mut TcpStream) -> (String, Vec<u8>) {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = bytes.split_off(end + 4);
            return (String::from_utf8_lossy(&bytes).into_owned(), rest);
        }
        let n = tokio::time::timeout(WAIT, socket.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "closed before the response head ended");
        bytes.extend_from_slice(&buffer[..n]);
    }
}

/// Opens a pair the way kubectl does: the error stream (closed at once from the client side),
/// then the data stream.
async fn open_pair(
    sender: &mut Sender,
    receiver: &mut Receiver,
    port: u16,
    request: &str,
    error: StreamId,
    data: StreamId,
) {
    sender.open(error, "error", port, request).await;
    receiver.expect_reply(error).await;
    sender.data(error, FLAG_FIN, b"").await;
    sender.open(data, "data", port, request).await;
    receiver.expect_reply(data).await;
}

/// One echo round trip on a fresh connection.
async fn echo_round_trip(sender: &mut Sender, receiver: &mut Receiver, port: u16) {
    open_pair(sender, receiver, port, "0", 1, 3).await;
    sender.data(3, 0, b"hello ").await;
    sender.data(3, 0, b"pod").await;
    sender.data(3, FLAG_FIN, b"").await;
    let received = receiver.until_fin(&[1, 3]).await;
    assert_eq!(received[&3], b"hello pod");
    // No error: the error stream just ends.
    assert_eq!(received[&1], b"");
}

#[tokio::test]
async fn forwards_over_spdy() {
    let (port, _pod) = echo_pod().await;
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    let (mut sender, mut receiver) = connect_spdy(kubelet).await;
    echo_round_trip(&mut sender, &mut receiver, port).await;
}

#[tokio::test]
async fn forwards_over_the_websocket_tunnel() {
    let (port, _pod) = echo_pod().await;
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    let (mut sender, mut receiver) = connect_tunnel(kubelet).await;
    echo_round_trip(&mut sender, &mut receiver, port).await;
}

#[tokio::test]
async fn reports_a_port_nothing_listens_on() {
    let port = closed_port().await;
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    let (mut sender, mut receiver) = connect_spdy(kubelet).await;
    open_pair(&mut sender, &mut receiver, port, "0", 1, 3).await;
    let received = receiver.until_fin(&[1, 3]).await;
    assert_eq!(
        String::from_utf8_lossy(&received[&1]),
        format!(
            "error forwarding port {port} to pod {POD_DESC}, uid : dial tcp {POD_IP}:{port}: connect: connection refused"
        )
    );
    assert_eq!(received[&3], b"");
}

#[tokio::test]
async fn moves_megabytes_both_ways_on_several_pairs() {
    const SIZE: usize = 3 * 1024 * 1024;
    let (port, _pod) = echo_pod().await;
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    for tunnel in [false, true] {
        let (mut sender, mut receiver) = if tunnel {
            connect_tunnel(kubelet).await
        } else {
            connect_spdy(kubelet).await
        };
        open_pair(&mut sender, &mut receiver, port, "a", 1, 3).await;
        open_pair(&mut sender, &mut receiver, port, "b", 5, 7).await;
        let payload = |seed: u8| -> Vec<u8> {
            (0..SIZE)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                .collect()
        };
        let (first, second) = (payload(1), payload(2));
        // Send while the echoes come back, as kubectl's two copy loops do; far more than any
        // flow-control window, which the client here (like spdystream) never waits for.
        let sending = tokio::spawn({
            let (first, second) = (first.clone(), second.clone());
            async move {
                for (a, b) in first.chunks(32 * 1024).zip(second.chunks(32 * 1024)) {
                    sender.data(3, 0, a).await;
                    sender.data(7, 0, b).await;
                }
                sender.data(3, FLAG_FIN, b"").await;
                sender.data(7, FLAG_FIN, b"").await;
                sender
            }
        });
        let received = receiver.until_fin(&[1, 3, 5, 7]).await;
        sending.await.unwrap();
        assert!(received[&3] == first, "pair a over tunnel={tunnel}");
        assert!(received[&7] == second, "pair b over tunnel={tunnel}");
    }
}

#[tokio::test]
async fn a_pod_closing_first_ends_the_forward() {
    let (port, _pod) = pod(|mut socket| async move {
        let _ = socket.write_all(b"banner").await;
    })
    .await;
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    let (mut sender, mut receiver) = connect_tunnel(kubelet).await;
    open_pair(&mut sender, &mut receiver, port, "0", 1, 3).await;
    assert_eq!(receiver.until_fin(&[3]).await[&3], b"banner");
    // As kubectl does once the pod's side ended: reset the data stream, then wait for the
    // error stream's end.
    sender
        .send(Frame::RstStream {
            stream: 3,
            status: rst::CANCEL,
        })
        .await;
    assert_eq!(receiver.until_fin(&[1]).await[&1], b"");
}

#[tokio::test]
async fn answers_pings_and_refuses_bad_streams() {
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    let (mut sender, mut receiver) = connect_spdy(kubelet).await;
    sender.send(Frame::Ping { id: 1 }).await;
    assert_eq!(receiver.next().await, Frame::Ping { id: 1 });
    sender.open(1, "stdin", 80, "0").await;
    assert_eq!(
        receiver.next().await,
        Frame::RstStream {
            stream: 1,
            status: rst::REFUSED_STREAM
        }
    );
}

#[tokio::test]
async fn refuses_requests_it_cannot_upgrade() {
    let (kubelet, _kubelet) = kubelet(KUBELET_IP).await;
    let cases = [
        (
            "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n",
            "400 Bad Request",
            None,
        ),
        (
            "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n",
            "403 Forbidden",
            Some("x-accepted-stream-protocol-versions: portforward.k8s.io"),
        ),
        // A WebSocket without the tunneling subprotocol: kubectl falls back to SPDY on this.
        (
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "400 Bad Request",
            None,
        ),
    ];
    for (headers, status, expected_header) in cases {
        let mut socket = TcpStream::connect(kubelet).await.unwrap();
        let request =
            format!("GET /portForward/default/echo HTTP/1.1\r\nHost: {kubelet}\r\n{headers}\r\n");
        socket.write_all(request.as_bytes()).await.unwrap();
        let (head, _) = read_head(&mut socket).await;
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
        if let Some(expected) = expected_header {
            assert!(head.to_ascii_lowercase().contains(expected), "{head}");
        }
    }
}

#[tokio::test]
async fn refuses_a_request_hyper_cannot_hand_over() {
    // Right headers, but built here: no connection to take over.
    let request = Request::post("/portForward/default/echo")
        .header("X-Stream-Protocol-Version", "portforward.k8s.io")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .body(())
        .unwrap();
    let response = port_forward(request, POD_IP, POD_DESC.to_string()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
