//! exec and attach end to end: a hyper server with upgrades on a loopback port routes to
//! [`exec`] and [`attach`], and a tokio-tungstenite client speaks the channel protocol to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::*;

fn target(workdir: PathBuf) -> ContainerTarget {
    ContainerTarget {
        pod_ip: "127.0.213.9".parse().unwrap(),
        env: vec![
            ("GREETING".into(), "hello from the pod".into()),
            ("HOSTNAME".into(), "stale-name".into()),
        ],
        workdir,
        hostname: "web-7d4b9-xk2lp".into(),
        pid: 1,
    }
}

/// A kubelet-like server for `/exec` and `/attach`, on a port of its own.
async fn serve(workdir: PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let workdir = workdir.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let target = target(workdir.clone());
                    async move {
                        let answer = if request.uri().path().starts_with("/attach") {
                            attach(request).await
                        } else {
                            exec(request, target).await
                        };
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    address
}

type Client = tokio_tungstenite::WebSocketStream<TcpStream>;

/// Opens a WebSocket to `path_and_query` offering `protocols`.
async fn connect(address: SocketAddr, path_and_query: &str, protocols: &str) -> Client {
    let mut request = format!("ws://{address}{path_and_query}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let stream = TcpStream::connect(address).await.unwrap();
    let (socket, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    socket
}

/// What came back on each channel until the server closed.
#[derive(Debug, Default)]
struct Received {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    error: Vec<u8>,
    closed_normally: bool,
}

impl Received {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn status(&self) -> Value {
        serde_json::from_slice(&self.error).expect("a Status on the error channel")
    }
}

async fn receive_all(socket: &mut Client) -> Received {
    let mut received = Received::default();
    let all = async {
        while let Some(message) = socket.next().await {
            match message.unwrap() {
                Message::Binary(data) => {
                    let (channel, data) = data.split_first().expect("a channel byte");
                    match *channel {
                        1 => received.stdout.extend_from_slice(data),
                        2 => received.stderr.extend_from_slice(data),
                        3 => received.error.extend_from_slice(data),
                        other => panic!("a message on channel {other}"),
                    }
                }
                Message::Close(frame) => {
                    received.closed_normally = frame.is_some_and(|f| u16::from(f.code) == 1000);
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .expect("the session ends");
    received
}

fn query(command: &[&str], streams: &str) -> String {
    let mut query: Vec<String> = command
        .iter()
        .map(|c| format!("command={}", encode(c)))
        .collect();
    query.push(streams.to_string());
    format!("/exec/default/web/app?{}", query.join("&"))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn exec_runs_in_the_containers_environment_and_reports_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let script = "echo \"$GREETING\"; echo \"$HOSTNAME\"; pwd; echo oops >&2; exit 3";
    let mut socket = connect(
        address,
        &query(&["sh", "-c", script], "stdout=1&stderr=1"),
        "v5.channel.k8s.io",
    )
    .await;
    let received = receive_all(&mut socket).await;
    let workdir = dir.path().canonicalize().unwrap();
    assert_eq!(
        received.stdout(),
        format!(
            "hello from the pod\nweb-7d4b9-xk2lp\n{}\n",
            workdir.display()
        )
    );
    assert_eq!(received.stderr, b"oops\n");
    let status = received.status();
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "3");
    assert!(received.closed_normally);
}

#[tokio::test]
async fn a_bare_hostname_prints_the_pods_name() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        &query(&["hostname"], "stdout=1&stderr=1"),
        "v5.channel.k8s.io",
    )
    .await;
    let received = receive_all(&mut socket).await;
    assert_eq!(received.stdout(), "web-7d4b9-xk2lp\n");
    assert_eq!(
        received.status(),
        serde_json::json!({"metadata": {}, "status": "Success"})
    );
}

#[tokio::test]
async fn stdin_flows_and_v5_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        &query(&["tr", "a-z", "A-Z"], "stdin=1&stdout=1&stderr=1"),
        "v5.channel.k8s.io",
    )
    .await;
    for chunk in [&b"\x00hello "[..], b"\x00world\n"] {
        socket
            .send(Message::Binary(chunk.to_vec().into()))
            .await
            .unwrap();
    }
    // v5's close signal for stdin: `tr` sees end of input and exits.
    socket
        .send(Message::Binary(vec![255, 0].into()))
        .await
        .unwrap();
    let received = receive_all(&mut socket).await;
    assert_eq!(received.stdout(), "HELLO WORLD\n");
    assert_eq!(received.status()["status"], "Success");
}

#[tokio::test]
async fn v4_is_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        &query(&["echo", "v4 works"], "stdout=true"),
        "v4.channel.k8s.io",
    )
    .await;
    let received = receive_all(&mut socket).await;
    assert_eq!(received.stdout(), "v4 works\n");
    assert_eq!(received.status()["status"], "Success");
}

#[tokio::test]
async fn a_missing_program_is_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        &query(&["no-such-program-here"], "stdout=1"),
        "v5.channel.k8s.io",
    )
    .await;
    let status = receive_all(&mut socket).await.status();
    assert_eq!(status["reason"], "InternalError");
    assert_eq!(
        status["message"],
        "Internal error occurred: error executing command in container: exec: \"no-such-program-here\": executable file not found in $PATH"
    );
}

#[tokio::test]
async fn a_tty_echoes_and_edits_lines() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        &query(&["cat"], "stdin=1&stdout=1&stderr=1&tty=1"),
        "v5.channel.k8s.io",
    )
    .await;
    // A raw-mode terminal sends CR for Enter and DEL for backspace; ^D ends the input.
    for chunk in [&b"\x00hx\x7fi\r"[..], b"\x00\x04"] {
        socket
            .send(Message::Binary(chunk.to_vec().into()))
            .await
            .unwrap();
    }
    let received = receive_all(&mut socket).await;
    // The echo of the typing, then cat's copy of the line, with CRLF line ends.
    assert_eq!(received.stdout(), "hx\x08 \x08i\r\nhi\r\n");
    assert_eq!(received.status()["status"], "Success");
}

#[tokio::test]
async fn a_client_that_leaves_takes_its_command_along() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        &query(&["sh", "-c", "echo $$; exec sleep 60"], "stdout=1"),
        "v5.channel.k8s.io",
    )
    .await;
    let mut pid = String::new();
    while !pid.ends_with('\n') {
        match tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Binary(data))) if data[0] == 1 => {
                pid.push_str(&String::from_utf8_lossy(&data[1..]));
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
    assert!(proc.exists());
    drop(socket);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // Gone, or a zombie about to be reaped.
    while proc.exists()
        && !std::fs::read_to_string(proc.join("stat")).is_ok_and(|s| s.contains(") Z"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the command outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn attach_is_not_implemented_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let mut socket = connect(
        address,
        "/attach/default/web/app?stdout=1&stderr=1",
        "v5.channel.k8s.io",
    )
    .await;
    let status = receive_all(&mut socket).await.status();
    assert_eq!(status["reason"], "NotImplemented");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("kubectl logs -f"),
        "{status}"
    );
}

/// A raw HTTP/1.1 request; the answer's status line and body (read up to its Content-Length,
/// since the connection stays open).
async fn raw(address: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_string)
                    })
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    let status = head.lines().next().unwrap_or_default().to_string();
                    return (status, body.to_string());
                }
            }
            let mut buffer = [0u8; 4096];
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the connection closed early: {text}");
            answer.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer")
}

#[tokio::test]
async fn requests_that_cannot_upgrade_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let address = serve(dir.path().to_path_buf()).await;
    let cases = [
        (
            "POST /exec/default/web/app?command=ls&stdout=1 HTTP/1.1\r\nHost: k\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n",
            "unable to upgrade: SPDY/3.1 is not served for exec and attach; use a WebSocket with a subprotocol of [v5.channel.k8s.io v4.channel.k8s.io]\n",
        ),
        (
            "GET /exec/default/web/app?stdout=1 HTTP/1.1\r\nHost: k\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
            "you must specify at least one command for the container\n",
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = raw(address, request).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{status}");
        assert_eq!(body, expected);
    }
}
