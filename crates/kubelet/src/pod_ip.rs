//! Pod IPs from the node's pod CIDR: each pod gets its own loopback address, kept for its uid as
//! long as it runs here. Pure: the allocator is a value the pod manager owns.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A pod CIDR such as `127.49.129.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PodCidr {
    network: u32,
    prefix: u8,
}

impl FromStr for PodCidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("pod CIDR {text:?}: want an IPv4 network like 127.49.129.0/24");
        let (ip, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        // A /30 is the smallest range with an address left after the network, the gateway
        // and the broadcast addresses.
        if !(8..=30).contains(&prefix) {
            return Err(format!(
                "pod CIDR {text:?}: the prefix must be between /8 and /30"
            ));
        }
        let network = u32::from(ip);
        if network & !mask(prefix) != 0 {
            return Err(format!(
                "pod CIDR {text:?}: {ip} is not the network's first address"
            ));
        }
        Ok(PodCidr { network, prefix })
    }
}

impl std::fmt::Display for PodCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX << (32 - u32::from(prefix))
}

impl PodCidr {
    /// The first address given to pods: the network address and the one after it (a bridge's
    /// gateway in a CNI network) are skipped.
    fn first(&self) -> u32 {
        self.network + 2
    }

    /// The last address given to pods: the one before the broadcast address.
    fn last(&self) -> u32 {
        (self.network | !mask(self.prefix)) - 1
    }

    /// Whether `ip` is an address this range gives to pods.
    pub(crate) fn usable(&self, ip: Ipv4Addr) -> bool {
        (self.first()..=self.last()).contains(&u32::from(ip))
    }
}

/// The range is used up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to allocate a pod IP: no addresses available in range {0}")]
pub(crate) struct Exhausted(pub String);

/// Which pod holds which address. Addresses are handed out round-robin, so an address a pod
/// just gave back is not reused at once (endpoints may still point at it for a moment).
#[derive(Debug, Clone)]
pub(crate) struct IpAllocator {
    cidr: PodCidr,
    by_uid: HashMap<String, Ipv4Addr>,
    taken: BTreeMap<u32, String>,
    /// Where the next search starts.
    next: u32,
}

impl IpAllocator {
    pub(crate) fn new(cidr: PodCidr) -> Self {
        IpAllocator {
            cidr,
            by_uid: HashMap::new(),
            taken: BTreeMap::new(),
            next: cidr.first(),
        }
    }

    /// The pod's address: the one it holds, or a free one.
    pub(crate) fn allocate(&mut self, uid: &str) -> Result<Ipv4Addr, Exhausted> {
        if let Some(ip) = self.by_uid.get(uid) {
            return Ok(*ip);
        }
        let (first, last) = (self.cidr.first(), self.cidr.last());
        let size = last - first + 1;
        for step in 0..size {
            let candidate = first + (self.next - first + step) % size;
            if !self.taken.contains_key(&candidate) {
                self.next = if candidate == last {
                    first
                } else {
                    candidate + 1
                };
                return Ok(self.hold(uid, candidate));
            }
        }
        Err(Exhausted(self.cidr.to_string()))
    }

    /// Gives a pod back the address its status shows (after a kubelet restart). False if the
    /// address is not in the range or another pod holds it.
    pub(crate) fn adopt(&mut self, uid: &str, ip: Ipv4Addr) -> bool {
        if self.by_uid.get(uid) == Some(&ip) {
            return true;
        }
        if self.by_uid.contains_key(uid)
            || !self.cidr.usable(ip)
            || self.taken.contains_key(&u32::from(ip))
        {
            return false;
        }
        self.hold(uid, u32::from(ip));
        true
    }

    /// Frees the pod's address, if it holds one.
    pub(crate) fn release(&mut self, uid: &str) {
        if let Some(ip) = self.by_uid.remove(uid) {
            self.taken.remove(&u32::from(ip));
        }
    }

    fn hold(&mut self, uid: &str, address: u32) -> Ipv4Addr {
        let ip = Ipv4Addr::from(address);
        self.by_uid.insert(uid.to_string(), ip);
        self.taken.insert(address, uid.to_string());
        ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        let cases = [
            ("127.49.129.0/24", Ok(("127.49.129.2", "127.49.129.254"))),
            ("10.0.0.0/30", Ok(("10.0.0.2", "10.0.0.2"))),
            ("10.1.0.0/16", Ok(("10.1.0.2", "10.1.255.254"))),
            ("127.49.129.1/24", Err("not the network's first address")),
            ("10.0.0.0/31", Err("between /8 and /30")),
            ("10.0.0.0", Err("want an IPv4 network")),
            ("fd00::/64", Err("want an IPv4 network")),
        ];
        for (text, want) in cases {
            match (text.parse::<PodCidr>(), want) {
                (Ok(cidr), Ok((first, last))) => {
                    assert_eq!(Ipv4Addr::from(cidr.first()).to_string(), first, "{text}");
                    assert_eq!(Ipv4Addr::from(cidr.last()).to_string(), last, "{text}");
                    assert_eq!(cidr.to_string(), text);
                }
                (Err(e), Err(want)) => assert!(e.contains(want), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn allocation_skips_reserved_addresses_and_is_stable() {
        let mut ips = IpAllocator::new("127.49.129.0/24".parse().unwrap());
        let a = ips.allocate("a").unwrap();
        let b = ips.allocate("b").unwrap();
        assert_eq!(a, Ipv4Addr::new(127, 49, 129, 2));
        assert_eq!(b, Ipv4Addr::new(127, 49, 129, 3));
        assert_eq!(
            ips.allocate("a").unwrap(),
            a,
            "the same pod keeps its address"
        );
        ips.release("a");
        assert_eq!(
            ips.allocate("c").unwrap(),
            Ipv4Addr::new(127, 49, 129, 4),
            "round-robin: a freed address is not reused at once"
        );
    }

    #[test]
    fn allocation_wraps_and_exhausts() {
        // A /29 gives .2 to .6: five addresses.
        let mut ips = IpAllocator::new("10.0.0.0/29".parse().unwrap());
        let got: Vec<Ipv4Addr> = (0..5)
            .map(|i| ips.allocate(&format!("p{i}")).unwrap())
            .collect();
        assert_eq!(got.first(), Some(&Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(got.last(), Some(&Ipv4Addr::new(10, 0, 0, 6)));
        assert_eq!(
            ips.allocate("p5").unwrap_err().to_string(),
            "failed to allocate a pod IP: no addresses available in range 10.0.0.0/29"
        );
        ips.release("p1");
        assert_eq!(ips.allocate("p5").unwrap(), Ipv4Addr::new(10, 0, 0, 3));
    }

    #[test]
    fn adoption_after_a_restart() {
        let mut ips = IpAllocator::new("127.49.129.0/24".parse().unwrap());
        let cases = [
            ("a", "127.49.129.7", true),
            ("a", "127.49.129.7", true),
            ("a", "127.49.129.8", false),
            ("b", "127.49.129.7", false),
            ("c", "127.49.129.1", false),
            ("d", "127.49.129.255", false),
            ("e", "127.49.130.5", false),
            ("f", "127.49.129.254", true),
        ];
        for (uid, ip, want) in cases {
            assert_eq!(ips.adopt(uid, ip.parse().unwrap()), want, "{uid} {ip}");
        }
        // New pods go around the adopted addresses.
        for _ in 0..5 {
            let ip = ips.allocate(&format!("n{}", ips.by_uid.len())).unwrap();
            assert_ne!(ip, Ipv4Addr::new(127, 49, 129, 7));
        }
    }
}
