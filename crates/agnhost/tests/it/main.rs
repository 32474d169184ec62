//! agnhost's servers over real sockets: `hello` on a loopback pod IP answers every request with
//! its greeting and stops on request; `netexec` answers its endpoints over HTTP and UDP.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use agnhost::{Command, PodEnv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// A port free on `ip` right now (the test's own loopback address, so nobody else takes it).
fn free_port(ip: IpAddr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends one HTTP/1.1 request (closing the connection) and returns the whole raw answer; retries
/// the connect until the server listens.
async fn get(address: SocketAddr, path: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(address).await {
            Ok(stream) => break stream,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{address} never listened: {e}"),
        }
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("the server answers")
        .unwrap();
    answer
}

fn body(answer: &str) -> &str {
    answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

fn env(ip: &str, hostname: &str) -> PodEnv {
    PodEnv {
        pod_ip: Some(ip.parse().unwrap()),
        hostname: hostname.into(),
    }
}

#[tokio::test]
async fn hello_greets_from_the_pod_and_stops() {
    let ip: IpAddr = "127.0.211.7".parse().unwrap();
    let port = free_port(ip);
    let (stop_tx, stop) = watch::channel(false);
    let server = tokio::spawn(agnhost::run(
        Command::Hello { port },
        env("127.0.211.7", "hello-6d8f9-abcde"),
        stop,
    ));
    let address = SocketAddr::new(ip, port);
    for path in ["/", "/anything?at=all"] {
        let answer = get(address, path).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert_eq!(
            body(&answer),
            "Hello from hello-6d8f9-abcde (127.0.211.7)\n"
        );
    }
    // Bound to the pod IP only: another loopback address of the same port has no listener.
    let other = SocketAddr::new("127.0.211.8".parse().unwrap(), port);
    assert!(TcpStream::connect(other).await.is_err());

    stop_tx.send(true).unwrap();
    let code = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("hello stops when told")
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn netexec_serves_http_and_udp() {
    let ip: IpAddr = "127.0.211.9".parse().unwrap();
    let http_port = free_port(ip);
    let udp_port = std::net::UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (stop_tx, stop) = watch::channel(false);
    let server = tokio::spawn(agnhost::run(
        Command::Netexec {
            http_port,
            udp_port: Some(udp_port),
        },
        env("127.0.211.9", "netexec-1"),
        stop,
    ));
    let address = SocketAddr::new(ip, http_port);
    assert_eq!(body(&get(address, "/hostname").await), "netexec-1");
    assert_eq!(
        body(&get(address, "/echo?msg=hi%20there").await),
        "hi there"
    );
    let answer = get(address, "/echo?msg=teapot&code=418").await;
    assert!(answer.starts_with("HTTP/1.1 418"), "{answer}");
    let shell = get(address, "/shell?shellCommand=echo%20from-shell").await;
    assert_eq!(body(&shell), r#"{"output":"from-shell\n"}"#);
    let failing = get(address, "/shell?cmd=exit%203").await;
    assert_eq!(body(&failing), r#"{"error":"exit status 3"}"#);

    let udp = tokio::net::UdpSocket::bind("127.0.211.10:0").await.unwrap();
    udp.send_to(b"echo over udp", (ip, udp_port)).await.unwrap();
    let mut buffer = [0u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), udp.recv_from(&mut buffer))
        .await
        .expect("the UDP server answers")
        .unwrap();
    assert_eq!(&buffer[..n], b"over udp");
    // Once the UDP server runs, /healthz is 200; /dial reaches it through the pod IP.
    let health = get(address, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let dial = get(
        address,
        &format!("/dial?host=127.0.211.9&port={udp_port}&request=hostname&protocol=udp&tries=2"),
    )
    .await;
    assert_eq!(body(&dial), r#"{"responses":["netexec-1","netexec-1"]}"#);
    let dial = get(
        address,
        &format!("/dial?host=127.0.211.9&port={http_port}&request=echo%3Fmsg%3Dvia-http"),
    )
    .await;
    assert_eq!(body(&dial), r#"{"responses":["via-http"]}"#);

    stop_tx.send(true).unwrap();
    let code = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("netexec stops when told")
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
}

#[tokio::test]
async fn netexec_exits_with_the_code_asked_for() {
    let ip: IpAddr = "127.0.211.11".parse().unwrap();
    let http_port = free_port(ip);
    let (_stop_tx, stop) = watch::channel(false);
    let server = tokio::spawn(agnhost::run(
        Command::Netexec {
            http_port,
            udp_port: None,
        },
        env("127.0.211.11", "netexec-2"),
        stop,
    ));
    let answer = get(SocketAddr::new(ip, http_port), "/exit?code=7&timeout=2s").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let code = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("netexec exits after /exit")
        .unwrap()
        .unwrap();
    assert_eq!(code, 7);
}

#[test]
fn unknown_subcommands_fail_with_usage_code() {
    let code = agnhost::main(vec!["frobnicate".into()]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert_eq!(
        agnhost::main(vec!["help".into()]),
        std::process::ExitCode::SUCCESS
    );
}
