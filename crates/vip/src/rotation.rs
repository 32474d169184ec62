//! The backend rotation, as a pure type: which API servers are candidates, which of them passed
//! their last health check, and whose turn it is next.

use std::net::SocketAddr;

/// A change in the set of backends that receive connections, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The backend joined the rotation.
    Added(SocketAddr),
    /// The backend left the rotation.
    Removed(SocketAddr),
}

/// Round-robin over the healthy candidates.
///
/// Candidates are kept sorted by address so the order, and hence the tests, do not depend on the
/// order the Nodes were listed in. A new candidate starts unhealthy: it takes no connection until
/// one health check passes.
#[derive(Clone, Debug, Default)]
pub struct Rotation {
    backends: Vec<Backend>,
    /// Index into `backends` where the search for the next healthy one starts.
    cursor: usize,
}

#[derive(Clone, Copy, Debug)]
struct Backend {
    addr: SocketAddr,
    healthy: bool,
}

impl Rotation {
    /// An empty rotation.
    pub fn new() -> Rotation {
        Rotation::default()
    }

    /// Replaces the candidates, keeping the health of those that stay. Returns the healthy
    /// backends that left the rotation because they are no longer candidates.
    pub fn set_candidates(&mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Vec<Change> {
        let mut wanted: Vec<SocketAddr> = addrs.into_iter().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let removed = self
            .backends
            .iter()
            .filter(|b| b.healthy && wanted.binary_search(&b.addr).is_err())
            .map(|b| Change::Removed(b.addr))
            .collect();
        self.backends = wanted
            .into_iter()
            .map(|addr| Backend {
                addr,
                healthy: self.is_healthy(addr),
            })
            .collect();
        removed
    }

    /// Records the result of a health check. Returns the change to the rotation, if any; a check
    /// of an address that is no longer a candidate changes nothing.
    pub fn set_health(&mut self, addr: SocketAddr, healthy: bool) -> Option<Change> {
        let backend = self.backends.iter_mut().find(|b| b.addr == addr)?;
        if backend.healthy == healthy {
            return None;
        }
        backend.healthy = healthy;
        Some(if healthy {
            Change::Added(addr)
        } else {
            Change::Removed(addr)
        })
    }

    /// The backend whose turn it is, skipping unhealthy ones; `None` when none is healthy.
    pub fn next_backend(&mut self) -> Option<SocketAddr> {
        let n = self.backends.len();
        (0..n)
            .map(|i| (self.cursor + i) % n)
            .find(|&i| self.backends[i].healthy)
            .map(|i| {
                self.cursor = (i + 1) % n;
                self.backends[i].addr
            })
    }

    /// Whether `addr` is a candidate that passed its last check.
    pub fn is_healthy(&self, addr: SocketAddr) -> bool {
        self.backends.iter().any(|b| b.addr == addr && b.healthy)
    }

    /// The healthy backends, in rotation order.
    pub fn healthy(&self) -> Vec<SocketAddr> {
        self.backends
            .iter()
            .filter(|b| b.healthy)
            .map(|b| b.addr)
            .collect()
    }

    /// All candidates, in rotation order.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        self.backends.iter().map(|b| b.addr).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, last], 8443))
    }

    /// One step of a scenario: an event, then what it should report.
    enum Step {
        Candidates(Vec<u8>, Vec<Change>),
        Health(u8, bool, Option<Change>),
        /// The next picks, `0` meaning none.
        Picks(Vec<u8>),
    }

    fn run(name: &str, steps: Vec<Step>) {
        let mut rotation = Rotation::new();
        for (i, step) in steps.into_iter().enumerate() {
            match step {
                Step::Candidates(addrs, want) => {
                    let got = rotation.set_candidates(addrs.into_iter().map(a));
                    assert_eq!(got, want, "{name}, step {i}");
                }
                Step::Health(addr, healthy, want) => {
                    assert_eq!(
                        rotation.set_health(a(addr), healthy),
                        want,
                        "{name}, step {i}"
                    );
                }
                Step::Picks(want) => {
                    let got: Vec<u8> = want
                        .iter()
                        .map(|_| match rotation.next_backend() {
                            Some(SocketAddr::V4(v4)) => v4.ip().octets()[3],
                            Some(SocketAddr::V6(_)) => u8::MAX,
                            None => 0,
                        })
                        .collect();
                    assert_eq!(got, want, "{name}, step {i}");
                }
            }
        }
    }

    #[test]
    fn scenarios() {
        use Change::{Added, Removed};
        use Step::{Candidates, Health, Picks};
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Step>)> = vec![
            ("empty rotation picks nothing", vec![Picks(vec![0, 0])]),
            ("candidates start unhealthy", vec![
                Candidates(vec![1, 2], vec![]),
                Picks(vec![0]),
            ]),
            ("round robin over the healthy, in address order", vec![
                Candidates(vec![3, 1, 2], vec![]),
                Health(1, true, Some(Added(a(1)))),
                Health(2, true, Some(Added(a(2)))),
                Health(3, true, Some(Added(a(3)))),
                Picks(vec![1, 2, 3, 1, 2]),
            ]),
            ("one failed check removes at once, one pass adds back", vec![
                Candidates(vec![1, 2, 3], vec![]),
                Health(1, true, Some(Added(a(1)))),
                Health(2, true, Some(Added(a(2)))),
                Health(3, true, Some(Added(a(3)))),
                Health(2, false, Some(Removed(a(2)))),
                Picks(vec![1, 3, 1, 3]),
                Health(2, true, Some(Added(a(2)))),
                Picks(vec![1, 2, 3]),
            ]),
            ("repeated results report nothing", vec![
                Candidates(vec![1], vec![]),
                Health(1, false, None),
                Health(1, true, Some(Added(a(1)))),
                Health(1, true, None),
                Picks(vec![1, 1]),
            ]),
            ("checks of unknown addresses are ignored", vec![
                Candidates(vec![1], vec![]),
                Health(9, true, None),
                Picks(vec![0]),
            ]),
            ("a dropped candidate leaves, the kept keep their health", vec![
                Candidates(vec![1, 2], vec![]),
                Health(1, true, Some(Added(a(1)))),
                Health(2, true, Some(Added(a(2)))),
                Candidates(vec![2, 3, 3], vec![Removed(a(1))]),
                Picks(vec![2, 2]),
                Health(1, false, None),
            ]),
            ("dropping an unhealthy candidate is silent", vec![
                Candidates(vec![1, 2], vec![]),
                Health(2, true, Some(Added(a(2)))),
                Candidates(vec![2], vec![]),
                Picks(vec![2]),
            ]),
            ("all unhealthy picks nothing", vec![
                Candidates(vec![1, 2], vec![]),
                Health(1, true, Some(Added(a(1)))),
                Health(1, false, Some(Removed(a(1)))),
                Picks(vec![0]),
            ]),
        ];
        for (name, steps) in cases {
            run(name, steps);
        }
    }

    #[test]
    fn listings() {
        let mut rotation = Rotation::new();
        rotation.set_candidates([a(2), a(1)]);
        rotation.set_health(a(2), true);
        assert_eq!(rotation.candidates(), vec![a(1), a(2)]);
        assert_eq!(rotation.healthy(), vec![a(2)]);
        assert!(rotation.is_healthy(a(2)));
        assert!(!rotation.is_healthy(a(1)));
    }
}
