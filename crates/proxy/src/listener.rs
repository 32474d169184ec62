//! One listening address and the pool behind it: the socket is bound (or retried every second
//! while another proxy holds it), each accepted connection is spliced to an endpoint picked by
//! the pool's round-robin, and closing it leaves spliced connections running.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::plan::{ListenerKind, ListenerSpec, PoolKey, PoolSpec};
use crate::rotation::RoundRobin;
use crate::{TARGET, stopped};

/// How often a listener whose address is taken tries again. A cluster IP is held by one node's
/// proxy at a time, so this is how long the others take to notice that it died.
pub const BIND_RETRY: Duration = Duration::from_secs(1);

/// The connect timeouts for successive endpoints, from kube-proxy's userspace mode: a dead
/// endpoint costs a quarter second before the next is tried.
const DIAL_TIMEOUTS: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// The backlog of a listening socket, as large as the kernel allows by default.
const BACKLOG: u32 = 4096;

/// The endpoints of one pool with their rotation, shared by its listeners and their
/// connections.
#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) key: PoolKey,
    rotation: Mutex<RoundRobin>,
}

impl Pool {
    pub(crate) fn new(key: PoolKey, spec: &PoolSpec) -> Arc<Pool> {
        let rotation = RoundRobin::new(spec.endpoints.clone(), spec.affinity);
        Arc::new(Pool {
            key,
            rotation: Mutex::new(rotation),
        })
    }

    pub(crate) fn set(&self, spec: &PoolSpec) {
        self.rotation().set(spec.endpoints.clone(), spec.affinity);
    }

    fn pick(&self, client: IpAddr) -> Option<SocketAddr> {
        self.rotation().pick(client, Instant::now())
    }

    fn forget(&self, client: IpAddr) {
        self.rotation().forget(client);
    }

    fn rotation(&self) -> MutexGuard<'_, RoundRobin> {
        // Every change to a rotation completes without panicking points in between, so a panic
        // elsewhere while the lock was held leaves it consistent.
        self.rotation.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The addresses this proxy has bound right now, shared with whoever reports them.
#[derive(Clone, Debug, Default)]
pub(crate) struct BoundSet(Arc<Mutex<BTreeSet<SocketAddr>>>);

impl BoundSet {
    pub(crate) fn list(&self) -> Vec<SocketAddr> {
        self.lock().iter().copied().collect()
    }

    fn insert(&self, addr: SocketAddr) {
        self.lock().insert(addr);
    }

    fn remove(&self, addr: SocketAddr) {
        self.lock().remove(&addr);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeSet<SocketAddr>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A listener's task and the handles that steer it.
pub(crate) struct Listener {
    pub(crate) spec: ListenerSpec,
    target: watch::Sender<Target>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Where new connections go, and how the address is reported.
#[derive(Clone, Debug)]
struct Target {
    kind: ListenerKind,
    pool: Arc<Pool>,
}

impl Listener {
    /// Binds `addr` now if it can, so a sync that returns has bound everything it could, and
    /// leaves a task that serves it, or retries the bind every [`BIND_RETRY`] until closed.
    pub(crate) fn open(
        addr: SocketAddr,
        spec: ListenerSpec,
        pool: Arc<Pool>,
        bound: BoundSet,
    ) -> Listener {
        let target = Target {
            kind: spec.kind,
            pool,
        };
        let mut binder = Binder::new(addr);
        let first = binder.try_bind(&target);
        if first.is_some() {
            opened(addr, &target, &bound);
        }
        let (target_tx, target_rx) = watch::channel(target);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(binder, first, target_rx, stop_rx, bound));
        Listener {
            spec,
            target: target_tx,
            stop,
            task,
        }
    }

    /// Sends new connections to `pool` from now on.
    pub(crate) fn retarget(&mut self, spec: ListenerSpec, pool: Arc<Pool>) {
        self.target.send_replace(Target {
            kind: spec.kind,
            pool,
        });
        self.spec = spec;
    }

    /// Closes the socket (or stops retrying) and waits until it is closed.
    pub(crate) async fn close(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            warn!(target: TARGET, "listener task failed: {e}");
        }
    }
}

/// Binds one address and reports failures once per kind of failure, not once per retry.
struct Binder {
    addr: SocketAddr,
    failing: Option<ErrorKind>,
}

impl Binder {
    fn new(addr: SocketAddr) -> Binder {
        Binder {
            addr,
            failing: None,
        }
    }

    fn try_bind(&mut self, target: &Target) -> Option<TcpListener> {
        match bind(self.addr) {
            Ok(listener) => {
                if self.failing.take().is_some() && target.kind == ListenerKind::ClusterIp {
                    info!(
                        target: TARGET,
                        servicePort = %self.addr,
                        portName = %target.pool.key.port,
                        "Took over service port from another node's proxy"
                    );
                }
                Some(listener)
            }
            Err(e) => {
                if self.failing != Some(e.kind()) {
                    self.failing = Some(e.kind());
                    self.report(target, &e);
                }
                None
            }
        }
    }

    fn report(&self, target: &Target, e: &std::io::Error) {
        let addr = self.addr;
        let name = &target.pool.key.port;
        match (e.kind(), target.kind) {
            (ErrorKind::AddrInUse, ListenerKind::ClusterIp) => info!(
                target: TARGET,
                servicePort = %addr,
                portName = %name,
                "Service port is served by another node's proxy, retrying every {BIND_RETRY:?} \
                 to take over"
            ),
            (ErrorKind::PermissionDenied, _) => error!(
                target: TARGET,
                servicePort = %addr,
                portName = %name,
                "Can't open {} port {addr}/TCP: binding a port below 1024 needs root or \
                 CAP_NET_BIND_SERVICE (or a lower net.ipv4.ip_unprivileged_port_start); \
                 retrying every {BIND_RETRY:?}: {e}",
                target.kind
            ),
            (_, kind) => warn!(
                target: TARGET,
                servicePort = %addr,
                portName = %name,
                "Can't open {kind} port {addr}/TCP, retrying every {BIND_RETRY:?}: {e}"
            ),
        }
    }
}

/// Binds with SO_REUSEADDR, as every server does, so connections of an earlier listener still in
/// TIME_WAIT do not block the address; Linux still refuses a second listener on one address.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn run(
    mut binder: Binder,
    mut first: Option<TcpListener>,
    mut target: watch::Receiver<Target>,
    mut stop: watch::Receiver<bool>,
    bound: BoundSet,
) {
    let addr = binder.addr;
    let listener = loop {
        if let Some(listener) = first.take() {
            break listener;
        }
        tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            () = tokio::time::sleep(BIND_RETRY) => {}
        }
        let now = target.borrow().clone();
        if let Some(listener) = binder.try_bind(&now) {
            opened(addr, &now, &bound);
            break listener;
        }
    };
    loop {
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, peer)) => {
                let pool = target.borrow_and_update().pool.clone();
                tokio::spawn(splice(client, peer, pool));
            }
            // A client that reset before accept, or no descriptors left: neither is fixed by
            // closing, so note it and go on; the pause keeps a lasting error from spinning.
            Err(e) => {
                warn!(target: TARGET, servicePort = %addr, "Accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    drop(listener);
    bound.remove(addr);
    info!(target: TARGET, servicePort = %addr, "Closed port {addr}/TCP");
}

/// Records a newly bound address.
fn opened(addr: SocketAddr, target: &Target, bound: &BoundSet) {
    bound.insert(addr);
    info!(
        target: TARGET,
        servicePort = %addr,
        portName = %target.pool.key,
        "Opened {} {addr}/TCP", target.kind
    );
}

/// Connects `client` to an endpoint and copies bytes both ways until both sides close. Nothing
/// has reached the client yet, so an endpoint that does not answer is replaced by the next.
async fn splice(mut client: TcpStream, peer: SocketAddr, pool: Arc<Pool>) {
    let _ = client.set_nodelay(true);
    for timeout in DIAL_TIMEOUTS {
        let Some(endpoint) = pool.pick(peer.ip()) else {
            warn!(
                target: TARGET,
                service = %pool.key,
                "Couldn't find an endpoint for service: no ready endpoints"
            );
            refuse(client);
            return;
        };
        debug!(target: TARGET, service = %pool.key, %endpoint, %peer, "Mapped service to endpoint");
        let connected = tokio::time::timeout(timeout, TcpStream::connect(endpoint))
            .await
            .unwrap_or_else(|_| Err(ErrorKind::TimedOut.into()));
        match connected {
            Ok(mut upstream) => {
                let _ = upstream.set_nodelay(true);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    debug!(target: TARGET, %peer, %endpoint, "connection ended: {e}");
                }
                return;
            }
            Err(e) => {
                debug!(target: TARGET, service = %pool.key, %endpoint, "Dial failed: {e}");
                pool.forget(peer.ip());
            }
        }
    }
    warn!(
        target: TARGET,
        service = %pool.key,
        %peer,
        "Failed to connect to any endpoint of service, closing the connection"
    );
    refuse(client);
}

/// Closes an accepted connection with a reset, the nearest a userspace proxy gets to refusing it
/// once the kernel has completed the handshake.
fn refuse(client: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
}
