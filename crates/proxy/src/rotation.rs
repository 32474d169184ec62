//! Round-robin over one pool's endpoints, with optional ClientIP session affinity, as a pure type:
//! time is passed in.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How many affinity records a pool keeps before it sweeps out the expired ones. The sweep is
/// linear, so it runs only when the table has grown by this much.
const AFFINITY_SWEEP_AT: usize = 1024;

/// The endpoints of one pool and whose turn it is.
///
/// Endpoints are kept sorted by address, so picks are predictable. When the set changes, the
/// rotation continues after the endpoint picked last (by address), so frequent endpoint updates
/// neither restart it at the first endpoint nor skip anyone.
#[derive(Clone, Debug, Default)]
pub struct RoundRobin {
    endpoints: Vec<SocketAddr>,
    /// Index of the next endpoint to hand out.
    next: usize,
    last: Option<SocketAddr>,
    affinity: Option<Duration>,
    sticky: HashMap<IpAddr, Sticky>,
    sweep_at: usize,
}

#[derive(Clone, Copy, Debug)]
struct Sticky {
    endpoint: SocketAddr,
    last_used: Instant,
}

impl RoundRobin {
    /// A rotation over `endpoints`, with ClientIP affinity for `affinity` when set.
    pub fn new(endpoints: Vec<SocketAddr>, affinity: Option<Duration>) -> RoundRobin {
        let mut rotation = RoundRobin {
            sweep_at: AFFINITY_SWEEP_AT,
            ..RoundRobin::default()
        };
        rotation.set(endpoints, affinity);
        rotation
    }

    /// Replaces the endpoints and the affinity setting. Clients stuck to an endpoint that
    /// remains stay stuck to it.
    pub fn set(&mut self, mut endpoints: Vec<SocketAddr>, affinity: Option<Duration>) {
        endpoints.sort_unstable();
        endpoints.dedup();
        self.next = match self.last {
            Some(last) => endpoints.partition_point(|e| *e <= last),
            None => 0,
        };
        if self.next >= endpoints.len() {
            self.next = 0;
        }
        self.endpoints = endpoints;
        self.affinity = affinity;
        if affinity.is_none() {
            self.sticky.clear();
        } else {
            let endpoints = &self.endpoints;
            self.sticky
                .retain(|_, s| endpoints.binary_search(&s.endpoint).is_ok());
        }
    }

    /// The endpoints, in rotation order.
    pub fn endpoints(&self) -> &[SocketAddr] {
        &self.endpoints
    }

    /// The endpoint for a new connection from `client` at `now`: the client's own endpoint while
    /// its affinity lasts, else the next in turn. `None` when the pool is empty.
    pub fn pick(&mut self, client: IpAddr, now: Instant) -> Option<SocketAddr> {
        if let Some(ttl) = self.affinity
            && let Some(sticky) = self.sticky.get_mut(&client)
        {
            // The timeout counts from the client's last connection, as kube-proxy's does.
            if now.saturating_duration_since(sticky.last_used) < ttl {
                sticky.last_used = now;
                return Some(sticky.endpoint);
            }
        }
        let endpoint = *self.endpoints.get(self.next)?;
        self.next = (self.next + 1) % self.endpoints.len();
        self.last = Some(endpoint);
        if let Some(ttl) = self.affinity {
            let last_used = now;
            self.sticky.insert(
                client,
                Sticky {
                    endpoint,
                    last_used,
                },
            );
            if self.sticky.len() >= self.sweep_at {
                self.sticky
                    .retain(|_, s| now.saturating_duration_since(s.last_used) < ttl);
                self.sweep_at = self.sticky.len() + AFFINITY_SWEEP_AT;
            }
        }
        Some(endpoint)
    }

    /// Drops `client`'s affinity, after its endpoint failed to answer, so the retry moves on.
    pub fn forget(&mut self, client: IpAddr) {
        self.sticky.remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 200, last], 80))
    }

    fn client(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    /// One step of a scenario, with what it should give.
    enum Step {
        /// New endpoints (by last octet) and affinity in seconds.
        Set(Vec<u8>, Option<u64>),
        /// Picks for (client, seconds since the start); 0 means none.
        Picks(Vec<(u8, u64)>, Vec<u8>),
        Forget(u8),
    }

    #[test]
    fn scenarios() {
        use Step::{Forget, Picks, Set};
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Step>)> = vec![
            ("empty pool picks nothing", vec![
                Set(vec![], None),
                Picks(vec![(1, 0)], vec![0]),
            ]),
            ("round robin in address order, whoever asks", vec![
                Set(vec![3, 1, 2, 2], None),
                Picks(vec![(1, 0), (1, 0), (2, 0), (3, 0), (1, 0)], vec![1, 2, 3, 1, 2]),
            ]),
            ("an added endpoint joins after the last pick", vec![
                Set(vec![1, 3], None),
                Picks(vec![(1, 0)], vec![1]),
                Set(vec![1, 2, 3], None),
                Picks(vec![(1, 0), (1, 0), (1, 0)], vec![2, 3, 1]),
            ]),
            ("removing the last picked continues with its successor", vec![
                Set(vec![1, 2, 3], None),
                Picks(vec![(1, 0), (1, 0)], vec![1, 2]),
                Set(vec![1, 3], None),
                Picks(vec![(1, 0), (1, 0)], vec![3, 1]),
            ]),
            ("removing everything after the last pick wraps around", vec![
                Set(vec![1, 2, 3], None),
                Picks(vec![(1, 0), (1, 0), (1, 0)], vec![1, 2, 3]),
                Set(vec![1, 2], None),
                Picks(vec![(1, 0)], vec![1]),
            ]),
            ("an emptied pool picks nothing, refilled it resumes", vec![
                Set(vec![1, 2], None),
                Picks(vec![(1, 0)], vec![1]),
                Set(vec![], None),
                Picks(vec![(1, 0)], vec![0]),
                Set(vec![1, 2], None),
                Picks(vec![(1, 0)], vec![2]),
            ]),
            ("affinity keeps a client on its endpoint", vec![
                Set(vec![1, 2, 3], Some(10)),
                Picks(vec![(1, 0), (2, 0), (1, 1), (3, 2), (2, 3), (1, 4)], vec![1, 2, 1, 3, 2, 1]),
            ]),
            ("affinity lapses after the timeout since the last use", vec![
                Set(vec![1, 2], Some(10)),
                Picks(vec![(1, 0), (1, 9), (1, 18), (1, 28)], vec![1, 1, 1, 2]),
            ]),
            ("affinity to a removed endpoint is dropped", vec![
                Set(vec![1, 2, 3], Some(10)),
                Picks(vec![(1, 0), (2, 0)], vec![1, 2]),
                Set(vec![2, 3], Some(10)),
                Picks(vec![(1, 1), (2, 1)], vec![3, 2]),
            ]),
            ("forget moves a client on", vec![
                Set(vec![1, 2], Some(10)),
                Picks(vec![(1, 0)], vec![1]),
                Forget(1),
                Picks(vec![(1, 0), (1, 1)], vec![2, 2]),
            ]),
            ("turning affinity off forgets every client", vec![
                Set(vec![1, 2], Some(10)),
                Picks(vec![(1, 0)], vec![1]),
                Set(vec![1, 2], None),
                Picks(vec![(1, 0)], vec![2]),
                Set(vec![1, 2], Some(10)),
                Picks(vec![(1, 0), (1, 0)], vec![1, 1]),
            ]),
        ];
        for (name, steps) in cases {
            let start = Instant::now();
            let mut rotation = RoundRobin::new(Vec::new(), None);
            for (i, step) in steps.into_iter().enumerate() {
                match step {
                    Set(endpoints, affinity) => rotation.set(
                        endpoints.into_iter().map(ep).collect(),
                        affinity.map(Duration::from_secs),
                    ),
                    Forget(c) => rotation.forget(client(c)),
                    Picks(asks, want) => {
                        let got: Vec<u8> = asks
                            .into_iter()
                            .map(|(c, at)| {
                                let now = start + Duration::from_secs(at);
                                match rotation.pick(client(c), now) {
                                    Some(SocketAddr::V4(v4)) => v4.ip().octets()[3],
                                    Some(SocketAddr::V6(_)) => u8::MAX,
                                    None => 0,
                                }
                            })
                            .collect();
                        assert_eq!(got, want, "{name}, step {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn expired_affinity_is_swept() {
        let start = Instant::now();
        let ttl = Duration::from_secs(1);
        let mut rotation = RoundRobin::new(vec![ep(1)], Some(ttl));
        for i in 0..(AFFINITY_SWEEP_AT - 1) as u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x7f00_0000u32 + i));
            rotation.pick(ip, start);
        }
        // The table reaches its sweep size with this pick, when every earlier record has expired.
        let later = start + Duration::from_secs(5);
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x7f10_0000u32));
        rotation.pick(ip, later);
        assert_eq!(rotation.sticky.len(), 1, "expired records were kept");
        assert_eq!(rotation.endpoints(), &[ep(1)]);
    }
}
