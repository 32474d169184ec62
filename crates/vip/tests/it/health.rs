//! The health check against real TLS servers: status codes, certificate checks, timeouts.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use vip::{HealthCheck, Unhealthy};

use crate::support::{ReadyServer, TestCa, free_port};

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn readyz_status_decides() {
    let ca = TestCa::new();
    let server = ReadyServer::start(LOCAL, ca.server_config(&[LOCAL])).await;
    let check = HealthCheck::from_ca_file(&ca.ca_file, vip::CHECK_TIMEOUT).expect("check");

    check.check(server.addr).await.expect("200 passes");
    for code in [500, 503, 403] {
        server.set_status(code);
        match check.check(server.addr).await {
            Err(Unhealthy::Status(got)) => assert_eq!(got, code),
            other => panic!("{code}: unexpected {other:?}"),
        }
    }
    server.set_status(200);
    check.check(server.addr).await.expect("passes again");
}

#[tokio::test]
async fn certificate_must_match_ca_and_ip() {
    let ca = TestCa::new();
    let other_ca = TestCa::new();
    let check = HealthCheck::from_ca_file(&ca.ca_file, vip::CHECK_TIMEOUT).expect("check");

    let untrusted = ReadyServer::start(LOCAL, other_ca.server_config(&[LOCAL])).await;
    let wrong_ip =
        ReadyServer::start(LOCAL, ca.server_config(&["127.0.0.9".parse().expect("ip")])).await;
    for (name, server) in [("untrusted CA", &untrusted), ("wrong IP", &wrong_ip)] {
        match check.check(server.addr).await {
            Err(Unhealthy::Handshake(_)) => {}
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn refused_and_silent_backends_fail() {
    let ca = TestCa::new();
    let timeout = Duration::from_millis(300);
    let check = HealthCheck::from_ca_file(&ca.ca_file, timeout).expect("check");

    let refused = SocketAddr::new(LOCAL, free_port(LOCAL).await);
    assert!(matches!(
        check.check(refused).await,
        Err(Unhealthy::Connect(_))
    ));

    // Accepts TCP but never speaks TLS: only the timeout ends the check.
    let silent = TcpListener::bind((LOCAL, 0)).await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            conns.push(conn);
        }
    });
    let started = Instant::now();
    assert!(matches!(
        check.check(addr).await,
        Err(Unhealthy::Timeout(_))
    ));
    let took = started.elapsed();
    assert!(took >= timeout && took < timeout * 4, "took {took:?}");
    held.abort();
}
