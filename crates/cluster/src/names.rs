//! Node names and addresses, as minikube gives them: `<profile>`, `<profile>-m02`, ... on
//! `127.0.<block>.2`, `.3`, ..., with the VIP on `.254`. Pure.

use std::net::Ipv4Addr;

/// The first block a profile gets: 127.0.49.0/24, mirroring minikube's 192.168.49.0/24.
pub const FIRST_BLOCK: u8 = 49;
/// The last octet of the VIP in a profile's block.
pub const VIP_HOST: u8 = 254;
/// The most nodes a block holds: .2 to .253.
pub const MAX_NODE_NUMBER: u8 = 252;

/// The name of node `number` (1-based) of `profile`: the first node is named after the profile.
pub fn node_name(profile: &str, number: u8) -> String {
    if number <= 1 {
        profile.to_string()
    } else {
        format!("{profile}-m{number:02}")
    }
}

/// The node number a user's name for a node means: `ha-demo-m02`, `m02` or `ha-demo`.
pub fn parse_node(profile: &str, name: &str) -> Option<u8> {
    if name == profile {
        return Some(1);
    }
    let suffix = name
        .strip_prefix(profile)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(name);
    let digits = suffix.strip_prefix('m')?;
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n >= 2)
}

/// The address of node `number` in `block`.
pub fn node_ip(block: u8, number: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, block, number + 1)
}

/// The profile's virtual IP.
pub fn vip(block: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, block, VIP_HOST)
}

/// The profile's service range: `127.<block>.96.0/20`, so two profiles never share a service
/// address (real clusters use 10.96.0.0/12; loopback keeps ours reachable from the host).
pub fn service_cidr(block: u8) -> String {
    format!("127.{block}.96.0/20")
}

/// The first address of the service range: the `kubernetes` Service's ClusterIP.
pub fn service_ip(block: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, block, 96, 1)
}

/// The pod range of node `number`: `127.<block>.<128 + number>.0/24`, inside the profile's pod
/// block `127.<block>.128.0/17`, so pod addresses say which profile and node they are on, as
/// `10.244.<node>.0/24` does in minikube. Node numbers past 127 have no room left there.
pub fn pod_cidr(block: u8, number: u8) -> Option<String> {
    let third = 128u8.checked_add(number).filter(|t| *t < 255)?;
    Some(format!("127.{block}.{third}.0/24"))
}

/// The profile's whole pod block, as kube-controller-manager's `--cluster-cidr` names it.
pub fn cluster_cidr(block: u8) -> String {
    format!("127.{block}.128.0/17")
}

/// The number of the next node: one past the highest ever given (`last`), as minikube counts,
/// so a deleted node's name, address and store member identity are never reused.
pub fn next_number(last: u8) -> Option<u8> {
    last.checked_add(1).filter(|n| *n <= MAX_NODE_NUMBER)
}

/// The lowest block at or above [`FIRST_BLOCK`] that no other profile holds.
pub fn next_block(used: &[u8]) -> Option<u8> {
    (FIRST_BLOCK..=250).find(|b| !used.contains(b))
}

/// Checks a profile name: it names Nodes and certificates, so it must be a DNS-1123 label
/// short enough to take a `-mNN` suffix.
pub fn check_profile_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "profile name {name:?} is not valid: use lower-case letters, digits and '-', \
             starting and ending with a letter or digit, at most 50 characters"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        let cases: &[(&str, u8)] = &[("ha-demo", 1), ("ha-demo-m02", 2), ("ha-demo-m10", 10)];
        for (name, number) in cases {
            assert_eq!(node_name("ha-demo", *number), *name);
            assert_eq!(parse_node("ha-demo", name), Some(*number), "{name}");
        }
        let parsed: &[(&str, Option<u8>)] = &[
            ("m02", Some(2)),
            ("m2", None),
            ("m01", None),
            ("other", None),
            ("ha-demo-x02", None),
            ("ha-demo-m05", Some(5)),
        ];
        for (name, want) in parsed {
            assert_eq!(parse_node("ha-demo", name), *want, "{name}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(node_ip(49, 1), Ipv4Addr::new(127, 0, 49, 2));
        assert_eq!(node_ip(49, 3), Ipv4Addr::new(127, 0, 49, 4));
        assert_eq!(vip(49), Ipv4Addr::new(127, 0, 49, 254));
        assert_eq!(service_cidr(50), "127.50.96.0/20");
        assert_eq!(service_ip(50), Ipv4Addr::new(127, 50, 96, 1));
        assert_eq!(cluster_cidr(49), "127.49.128.0/17");
        let pods: &[(u8, Option<&str>)] = &[
            (1, Some("127.49.129.0/24")),
            (3, Some("127.49.131.0/24")),
            (126, Some("127.49.254.0/24")),
            (127, None),
            (MAX_NODE_NUMBER, None),
        ];
        for (number, want) in pods {
            assert_eq!(pod_cidr(49, *number).as_deref(), *want, "{number}");
        }
    }

    #[test]
    fn free_numbers_and_blocks() {
        assert_eq!(next_number(0), Some(1));
        assert_eq!(next_number(3), Some(4));
        assert_eq!(next_number(MAX_NODE_NUMBER), None);
        assert_eq!(next_block(&[]), Some(49));
        assert_eq!(next_block(&[49, 50]), Some(51));
    }

    #[test]
    fn profile_names() {
        for good in ["minikube", "ha-demo", "a1"] {
            assert!(check_profile_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "x-", "Ha", "a_b", "a/b", &"x".repeat(51)] {
            assert!(check_profile_name(bad).is_err(), "{bad}");
        }
    }
}
