//! The proxy alone: round robin over healthy backends, skipping unhealthy and dead ones, and the
//! listener's end leaving open connections alone.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use vip::Balancer;

use crate::support::{eventually, free_port};

/// A backend that greets each connection with its `name` byte, then echoes.
async fn named_backend(name: u8) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                if conn.write_all(&[name]).await.is_err() {
                    return;
                }
                let (mut read, mut write) = conn.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// Opens a connection through `vip` and returns the stream and the backend's name, or `None`
/// when the proxy closed it without a backend.
async fn connect(vip: SocketAddr) -> Option<(TcpStream, u8)> {
    let mut conn = TcpStream::connect(vip).await.expect("connect to VIP");
    let mut name = [0u8; 1];
    match conn.read(&mut name).await {
        Ok(1) => Some((conn, name[0])),
        _ => None,
    }
}

/// Which backend serves the next connection, after checking bytes flow both ways.
async fn ask(vip: SocketAddr) -> Option<u8> {
    let (mut conn, name) = connect(vip).await?;
    echoes(&mut conn).await;
    Some(name)
}

async fn echoes(conn: &mut TcpStream) {
    conn.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    conn.read_exact(&mut echo).await.expect("echo");
    assert_eq!(&echo, b"ping");
}

async fn asks(vip: SocketAddr, n: usize) -> Vec<Option<u8>> {
    let mut names = Vec::new();
    for _ in 0..n {
        names.push(ask(vip).await);
    }
    names
}

#[tokio::test]
async fn round_robin_skips_unhealthy_backends() {
    let (a, b) = (named_backend(b'A').await, named_backend(b'B').await);
    // Any address in 127/8 is local on Linux: the VIP needs no setup.
    let listener = TcpListener::bind("127.77.0.1:0").await.expect("bind VIP");
    let vip = listener.local_addr().expect("local addr");
    let balancer = Balancer::new(vip);
    balancer.set_candidates([a, b]);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn({
        let balancer = balancer.clone();
        async move {
            balancer
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        }
    });

    // Candidates start unhealthy: the proxy closes the connection.
    assert_eq!(ask(vip).await, None);

    let ok = Ok::<(), &str>(());
    balancer.set_health(a, ok);
    balancer.set_health(b, ok);
    let (first, second) = if a < b { (b'A', b'B') } else { (b'B', b'A') };
    let want: Vec<_> = [first, second, first, second].map(Some).into();
    let got = asks(vip, 4).await;
    assert_eq!(got, want, "alternates in address order");

    balancer.set_health(b, Err("down"));
    assert_eq!(balancer.healthy(), vec![a]);
    assert_eq!(
        asks(vip, 3).await,
        vec![Some(b'A'); 3],
        "unhealthy B skipped"
    );

    balancer.set_health(b, ok);
    let mut got = asks(vip, 2).await;
    got.sort_unstable();
    assert_eq!(got, vec![Some(b'A'), Some(b'B')], "B back in rotation");

    // A connection made while serving outlives the listener.
    let (mut open, _) = connect(vip).await.expect("connection");
    stop.send(()).expect("serve still running");
    serving.await.expect("serve task");
    echoes(&mut open).await;
    eventually(
        "the VIP to stop accepting",
        Duration::from_secs(5),
        async || TcpStream::connect(vip).await.is_err(),
    )
    .await;
}

#[tokio::test]
async fn dead_backend_marked_healthy_is_passed_over() {
    let a = named_backend(b'A').await;
    // A port with nothing behind it: connections are refused.
    let dead = SocketAddr::from(([127, 0, 0, 1], free_port([127, 0, 0, 1].into()).await));
    let listener = TcpListener::bind("127.77.0.2:0").await.expect("bind VIP");
    let vip = listener.local_addr().expect("local addr");
    let balancer = Balancer::new(vip);
    balancer.set_candidates([a, dead]);
    balancer.set_health(a, Ok::<(), &str>(()));
    balancer.set_health(dead, Ok::<(), &str>(()));
    let serving = tokio::spawn({
        let balancer = balancer.clone();
        async move { balancer.serve(listener, std::future::pending()).await }
    });
    assert_eq!(asks(vip, 4).await, vec![Some(b'A'); 4]);
    serving.abort();
}
