//! Backend discovery and health: lists the control-plane Nodes every second, and runs one health
//! checker per candidate API server that feeds the [`Balancer`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::ListParams;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use crate::balancer::Balancer;
use crate::health::{CHECK_INTERVAL, HealthCheck};
use crate::stopped;

/// The label that marks control-plane Nodes, whose API servers are the backends.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// How often the Nodes are listed. A list is cheap at our size and, unlike a watch, needs no
/// resumption logic when the local API server restarts.
const LIST_PERIOD: Duration = Duration::from_secs(1);

/// Keeps the balancer's candidates and their health current.
pub(crate) struct Discovery {
    nodes: Api<Node>,
    port: u16,
    local: SocketAddr,
    balancer: Balancer,
    health: HealthCheck,
    checkers: HashMap<SocketAddr, JoinHandle<()>>,
    /// Whether the last list failed, so a down API server is logged once.
    failing: bool,
}

impl Discovery {
    pub(crate) fn new(
        client: kube::Client,
        port: u16,
        local: SocketAddr,
        balancer: Balancer,
        health: HealthCheck,
    ) -> Discovery {
        Discovery {
            nodes: Api::all(client),
            port,
            local,
            balancer,
            health,
            checkers: HashMap::new(),
            failing: false,
        }
    }

    /// Lists and reconciles every second until `stop` fires, then stops the checkers.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // The local backend is known without the API: check it before the first list answers, so
        // the first node's VIP serves as soon as its own API server is ready.
        self.reconcile(vec![self.local]);
        let mut tick = tokio::time::interval(LIST_PERIOD);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                _ = tick.tick() => {}
            }
            let listed = tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                listed = tokio::time::timeout(LIST_PERIOD, self.list()) => listed,
            };
            match listed {
                Ok(Ok(nodes)) => {
                    if self.failing {
                        info!("listing control-plane nodes works again");
                    }
                    self.failing = false;
                    let wanted = candidates(&nodes, self.port, self.local);
                    self.reconcile(wanted);
                }
                // Keep the last known candidates: the API server that cannot list may be the
                // only one down, and the others still deserve connections.
                Ok(Err(e)) => self.list_failed(&e),
                Err(_) => self.list_failed(&"timed out"),
            }
        }
        for (_, checker) in self.checkers.drain() {
            checker.abort();
        }
    }

    async fn list(&self) -> kube::Result<Vec<Node>> {
        let params = ListParams::default().labels(CONTROL_PLANE_LABEL);
        Ok(self.nodes.list(&params).await?.items)
    }

    fn list_failed(&mut self, error: &dyn std::fmt::Display) {
        if self.failing {
            debug!("listing control-plane nodes failed: {error}");
        } else {
            warn!("listing control-plane nodes failed, keeping the known backends: {error}");
        }
        self.failing = true;
    }

    /// Starts checkers for new candidates and stops those of dropped ones.
    fn reconcile(&mut self, wanted: Vec<SocketAddr>) {
        self.checkers.retain(|addr, checker| {
            let keep = wanted.contains(addr);
            if !keep {
                checker.abort();
            }
            keep
        });
        // After the aborts, so a dropped backend's last result cannot land after its removal
        // (results for non-candidates are ignored anyway).
        self.balancer.set_candidates(wanted.iter().copied());
        for addr in wanted {
            self.checkers.entry(addr).or_insert_with(|| {
                debug!(%addr, "checking backend");
                tokio::spawn(check_forever(
                    self.health.clone(),
                    self.balancer.clone(),
                    addr,
                ))
            });
        }
    }
}

/// Checks `addr` every [`CHECK_INTERVAL`] and records each result. One failure removes it and
/// one pass adds it back: with a 200 ms period and a 500 ms timeout a dead API server leaves the
/// rotation within about half a second, and flapping is bounded by the same period.
async fn check_forever(health: HealthCheck, balancer: Balancer, addr: SocketAddr) {
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = health.check(addr).await;
        if let Err(e) = &result {
            debug!(%addr, "health check failed: {e}");
        }
        balancer.set_health(addr, result);
    }
}

/// The candidate backends: the InternalIP of each listed Node on `port`, and `local`.
pub(crate) fn candidates(nodes: &[Node], port: u16, local: SocketAddr) -> Vec<SocketAddr> {
    let mut addrs: Vec<SocketAddr> = nodes
        .iter()
        .filter_map(|node| node.status.as_ref()?.addresses.as_ref())
        .flatten()
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, port))
        .chain(std::iter::once(local))
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    addrs
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{NodeAddress, NodeStatus};

    use super::*;

    fn node(addresses: &[(&str, &str)]) -> Node {
        Node {
            status: Some(NodeStatus {
                addresses: Some(
                    addresses
                        .iter()
                        .map(|(t, a)| NodeAddress {
                            type_: (*t).into(),
                            address: (*a).into(),
                        })
                        .collect(),
                ),
                ..NodeStatus::default()
            }),
            ..Node::default()
        }
    }

    #[test]
    fn candidates_table() {
        let local: SocketAddr = "127.0.49.1:8443".parse().expect("addr");
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Node>, Vec<&str>)> = vec![
            ("no nodes yet: only the local backend", vec![], vec!["127.0.49.1:8443"]),
            ("internal IPs, local deduplicated", vec![
                node(&[("InternalIP", "127.0.49.2"), ("Hostname", "n2")]),
                node(&[("InternalIP", "127.0.49.1")]),
            ], vec!["127.0.49.1:8443", "127.0.49.2:8443"]),
            ("other address types and bad IPs ignored", vec![
                node(&[("ExternalIP", "10.0.0.1"), ("InternalIP", "not-an-ip")]),
                Node::default(),
            ], vec!["127.0.49.1:8443"]),
            ("IPv6", vec![node(&[("InternalIP", "::1")])], vec!["127.0.49.1:8443", "[::1]:8443"]),
        ];
        for (name, nodes, want) in cases {
            let want: Vec<SocketAddr> = want.iter().map(|a| a.parse().expect("addr")).collect();
            assert_eq!(candidates(&nodes, 8443, local), want, "{name}");
        }
    }
}
