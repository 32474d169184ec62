//! Whole agents against a fake API server: one leader at a time, the VIP served by whoever leads,
//! an immediate handover on a clean stop, and a step-down when the leader's API server fails.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vip::{Agent, HealthCheck, LeaseTimings, VipConfig};

use crate::fake_api::{Endpoint, SharedStore, lease};
use crate::support::{ReadyServer, TestCa, eventually, free_port};

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn holder(store: &SharedStore) -> Option<String> {
    lease(store)?.spec?.holder_identity
}

fn transitions(store: &SharedStore) -> Option<i32> {
    lease(store)?.spec?.lease_transitions
}

async fn start(
    name: &str,
    api: &Endpoint,
    vip: SocketAddr,
    backend: SocketAddr,
    ca: &TestCa,
) -> Agent {
    vip::start(VipConfig {
        identity: name.to_owned(),
        vip,
        client: api.client(),
        backend_port: backend.port(),
        local_backend: backend,
        ca_cert: ca.ca_file.clone(),
        timings: LeaseTimings::vip(),
    })
    .await
    .expect("start agent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elects_serves_and_fails_over() {
    crate::support::logs();
    let ca = TestCa::new();
    let vip_ip: IpAddr = "127.77.1.1".parse().expect("ip");
    let vip = SocketAddr::new(vip_ip, free_port(vip_ip).await);
    // One API server stands behind the VIP; its certificate also names the VIP, so the health
    // check can be pointed through the proxy to prove it works end to end.
    let backend = ReadyServer::start(LOCAL, ca.server_config(&[LOCAL, vip_ip])).await;
    let through_vip =
        HealthCheck::from_ca_file(&ca.ca_file, Duration::from_secs(1)).expect("check");
    let store = SharedStore::default();
    let (api1, api2) = (
        Endpoint::start(store.clone()).await,
        Endpoint::start(store.clone()).await,
    );
    let long = Duration::from_secs(10);

    let n1 = start("n1", &api1, vip, backend.addr, &ca).await;
    eventually("n1 to lead", long, async || n1.is_leader()).await;
    assert_eq!(holder(&store).as_deref(), Some("n1"));
    assert_eq!(transitions(&store), Some(0));
    eventually("the VIP to serve", long, async || {
        through_vip.check(vip).await.is_ok()
    })
    .await;
    assert_eq!(n1.healthy_backends(), vec![backend.addr]);

    let n2 = start("n2", &api2, vip, backend.addr, &ca).await;
    eventually("n2 to see the backend", long, async || {
        !n2.healthy_backends().is_empty()
    })
    .await;
    assert!(!n2.is_leader(), "n1's lease is live");

    // A clean stop releases the Lease: n2 takes over within a few retry periods, well before the
    // two-second lease would have run out.
    n1.shutdown().await;
    assert_eq!(holder(&store).as_deref(), Some(""), "released");
    eventually("n2 to lead", Duration::from_millis(1_000), async || {
        n2.is_leader()
    })
    .await;
    assert_eq!(holder(&store).as_deref(), Some("n2"));
    assert_eq!(transitions(&store), Some(1));
    eventually("the VIP to serve again", long, async || {
        through_vip.check(vip).await.is_ok()
    })
    .await;

    // n2's API server goes away: n2 cannot renew, steps down within its renew deadline and drops
    // the VIP; n1 takes over once the lease expires. They never lead at once.
    let n1 = start("n1", &api1, vip, backend.addr, &ca).await;
    api2.set_up(false);
    eventually("a handover to n1", long, async || {
        assert!(!(n1.is_leader() && n2.is_leader()), "two leaders");
        n1.is_leader()
    })
    .await;
    assert!(!n2.is_leader());
    assert_eq!(holder(&store).as_deref(), Some("n1"));
    assert_eq!(transitions(&store), Some(2));
    eventually("the VIP to serve from n1", long, async || {
        through_vip.check(vip).await.is_ok()
    })
    .await;

    api2.set_up(true);
    n2.shutdown().await;
    n1.shutdown().await;
    assert_eq!(holder(&store).as_deref(), Some(""));
}

#[tokio::test]
async fn bad_config_is_refused() {
    let store = SharedStore::default();
    let api = Endpoint::start(store).await;
    let ca = TestCa::new();
    let base = || VipConfig {
        identity: "n1".into(),
        vip: "127.77.1.2:8443".parse().expect("addr"),
        client: api.client(),
        backend_port: 8443,
        local_backend: "127.0.0.1:8443".parse().expect("addr"),
        ca_cert: ca.ca_file.clone(),
        timings: LeaseTimings::vip(),
    };
    let mut no_ca = base();
    no_ca.ca_cert = ca.ca_file.with_file_name("missing.crt");
    assert!(matches!(
        vip::start(no_ca).await,
        Err(vip::Error::CaFile { .. })
    ));
    let mut unsafe_timings = base();
    unsafe_timings.timings.renew_deadline = Duration::from_secs(3);
    assert!(matches!(
        vip::start(unsafe_timings).await,
        Err(vip::Error::Config(_))
    ));
}
