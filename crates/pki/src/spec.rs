//! What a PKI is made for: the cluster's name, its addresses and its nodes.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::error::{Error, Result};

/// The cluster a PKI is generated for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiSpec {
    /// The cluster's name, as kubeconfigs name it. Certificates do not carry it (kubeadm's do
    /// not either); it is here so that one value describes the cluster for every caller.
    pub cluster_name: String,
    /// The first address of the service range (10.96.0.1 for 10.96.0.0/12): the ClusterIP of the
    /// `kubernetes` Service, through which pods reach the API server.
    pub service_ip: Ipv4Addr,
    /// The virtual IP in front of the API servers, if the cluster has one.
    pub vip: Option<IpAddr>,
    /// Every node; control-plane nodes run a store member and an API server.
    pub nodes: Vec<NodeSpec>,
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's name: the Node object's name, and the CN of its store member's certificates.
    pub name: String,
    /// The address the node's kubelet, store member and API server listen on.
    pub ip: IpAddr,
    /// Whether the node runs a store member and an API server.
    pub control_plane: bool,
}

impl PkiSpec {
    /// The nodes that run a store member and an API server.
    pub fn control_plane(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|node| node.control_plane)
    }

    /// Checks that the spec describes a cluster: valid, distinct node names and at least one
    /// control-plane node.
    pub(crate) fn validate(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        for node in &self.nodes {
            node.validate()?;
            if !names.insert(node.name.as_str()) {
                return Err(Error::InvalidSpec(format!(
                    "node {:?} is listed twice",
                    node.name
                )));
            }
        }
        if self.control_plane().next().is_none() {
            return Err(Error::InvalidSpec(
                "a cluster needs at least one control-plane node".into(),
            ));
        }
        Ok(())
    }
}

impl NodeSpec {
    /// Checks the node's name. It becomes a file name and a DNS name in certificates, so it
    /// must be what Kubernetes requires of a Node's name anyway: a DNS-1123 subdomain. That also
    /// keeps `..` and `/` out of the PKI's paths.
    pub(crate) fn validate(&self) -> Result<()> {
        if is_dns1123_subdomain(&self.name) {
            Ok(())
        } else {
            Err(Error::InvalidSpec(format!(
                "node name {:?} must be a DNS-1123 subdomain: lower-case letters, digits, '-' \
                 and '.', starting and ending with a letter or digit, at most 253 characters",
                self.name
            )))
        }
    }
}

/// Whether `name` is a DNS-1123 subdomain, the rule Kubernetes applies to most object names.
fn is_dns1123_subdomain(name: &str) -> bool {
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 63
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, last: u8, control_plane: bool) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            ip: IpAddr::V4(Ipv4Addr::new(192, 168, 0, last)),
            control_plane,
        }
    }

    fn spec(nodes: Vec<NodeSpec>) -> PkiSpec {
        PkiSpec {
            cluster_name: "hakube".into(),
            service_ip: Ipv4Addr::new(10, 96, 0, 1),
            vip: None,
            nodes,
        }
    }

    #[test]
    fn node_names() {
        let cases = [
            ("hakube", true),
            ("hakube-m02", true),
            ("node.example.com", true),
            ("0", true),
            ("", false),
            ("Hakube", false),
            ("-a", false),
            ("a-", false),
            ("a..b", false),
            ("..", false),
            ("a/b", false),
            ("a_b", false),
            (&"a".repeat(64), false),
        ];
        for (name, valid) in cases {
            assert_eq!(is_dns1123_subdomain(name), valid, "{name:?}");
        }
    }

    #[test]
    fn specs() {
        let cases = [
            (spec(vec![node("a", 1, true)]), None),
            (spec(vec![node("a", 1, true), node("b", 2, false)]), None),
            (
                spec(vec![node("a", 1, false)]),
                Some("a cluster needs at least one control-plane node"),
            ),
            (
                spec(vec![]),
                Some("a cluster needs at least one control-plane node"),
            ),
            (
                spec(vec![node("a", 1, true), node("a", 2, false)]),
                Some("node \"a\" is listed twice"),
            ),
            (
                spec(vec![node("../a", 1, true)]),
                Some("node name \"../a\" must be a DNS-1123 subdomain"),
            ),
        ];
        for (spec, want) in cases {
            match (spec.validate(), want) {
                (Ok(()), None) => {}
                (Err(Error::InvalidSpec(got)), Some(want)) => {
                    assert!(got.starts_with(want), "{got:?} should start with {want:?}")
                }
                (got, want) => panic!("{spec:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
