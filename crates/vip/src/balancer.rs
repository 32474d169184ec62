//! The L4 load balancer on the VIP: accepts TCP connections and splices each one to the next
//! healthy backend. TLS passes through untouched, so clients verify the API servers themselves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::rotation::{Change, Rotation};

/// How long to wait for a backend to accept before trying the next one. Backends are local
/// processes, so a slow connect means a wedged one.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The backends of one VIP and the proxy in front of them. Clones share the rotation, so the
/// health checkers and the listener see the same state.
#[derive(Clone, Debug)]
pub struct Balancer {
    vip: SocketAddr,
    rotation: Arc<Mutex<Rotation>>,
}

impl Balancer {
    /// A balancer for `vip` (used in log lines) with no backends yet.
    pub fn new(vip: SocketAddr) -> Balancer {
        Balancer {
            vip,
            rotation: Arc::default(),
        }
    }

    /// The VIP this balancer serves.
    pub fn vip(&self) -> SocketAddr {
        self.vip
    }

    /// Replaces the candidate backends (see [`Rotation::set_candidates`]), logging those that
    /// leave the rotation.
    pub fn set_candidates(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        let changes = self.rotation().set_candidates(addrs);
        for change in changes {
            self.log(change, None);
        }
    }

    /// Records a health check result; `reason` says why a failed check failed.
    pub fn set_health(&self, addr: SocketAddr, result: Result<(), impl std::fmt::Display>) {
        let change = self.rotation().set_health(addr, result.is_ok());
        if let Some(change) = change {
            self.log(change, result.err().map(|e| e.to_string()));
        }
    }

    /// The healthy backends, in rotation order.
    pub fn healthy(&self) -> Vec<SocketAddr> {
        self.rotation().healthy()
    }

    /// The candidate backends, in rotation order.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        self.rotation().candidates()
    }

    /// Accepts connections on `listener` until `until` completes, then drops the listener.
    /// Connections already spliced keep running until either side closes them.
    pub async fn serve(&self, listener: TcpListener, until: impl Future<Output = ()>) {
        tokio::pin!(until);
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut until => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((client, peer)) => {
                    let balancer = self.clone();
                    tokio::spawn(async move { balancer.splice(client, peer).await });
                }
                // Per-connection failures (e.g. the peer reset before accept) or running out of
                // descriptors: neither is fixed by stopping, so note it and go on; the short pause
                // keeps a persistent error from spinning a core.
                Err(e) => {
                    warn!(vip = %self.vip, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Connects `client` to a healthy backend and copies bytes both ways until both sides close.
    /// Nothing has been sent to the client yet, so a backend that refuses is transparently
    /// replaced by the next one.
    async fn splice(&self, mut client: TcpStream, peer: SocketAddr) {
        // API traffic is small requests and watch events; Nagle would only add latency.
        let _ = client.set_nodelay(true);
        let attempts = self.rotation().healthy().len().max(1);
        for _ in 0..attempts {
            let Some(backend) = self.rotation().next_backend() else {
                break;
            };
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
            match connected {
                Ok(mut upstream) => {
                    let _ = upstream.set_nodelay(true);
                    debug!(%peer, %backend, "proxying connection");
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                    {
                        debug!(%peer, %backend, "connection ended: {e}");
                    }
                    return;
                }
                Err(e) => debug!(%peer, %backend, "backend connect failed: {e}"),
            }
        }
        warn!(
            %peer,
            "no healthy backend for [{}], dropping connection",
            self.vip
        );
    }

    fn log(&self, change: Change, reason: Option<String>) {
        match change {
            Change::Added(addr) => info!("Added backend for [{}] on [{addr}]", self.vip),
            Change::Removed(addr) => match reason {
                Some(reason) => info!(
                    %reason,
                    "Removed backend for [{}] on [{addr}]",
                    self.vip
                ),
                None => info!("Removed backend for [{}] on [{addr}]", self.vip),
            },
        }
    }

    fn rotation(&self) -> MutexGuard<'_, Rotation> {
        // The rotation is updated with plain assignments that cannot leave it half-changed, so a
        // panic elsewhere while holding the lock does not make its contents wrong.
        self.rotation.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
