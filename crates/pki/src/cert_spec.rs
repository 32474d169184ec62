//! The catalogue of leaf certificates: who each one names (CN and O), what it may be used for
//! and which names it is valid for. Pure: turning a [`CertSpec`] into bytes is the authority's
//! job.
//!
//! Kubernetes reads a client certificate's CN as the user name and each O as a group, so these
//! subjects are identities that RBAC bindings refer to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType};

use crate::error::{Error, Result};
use crate::spec::{NodeSpec, PkiSpec};

/// The group whose members RBAC's bootstrap `cluster-admin` binding lets do anything.
///
/// kubeadm 1.29 and later put `admin.conf` in `kubeadm:cluster-admins` instead and bind that
/// group to cluster-admin itself; hakube's RBAC bootstrap binds only Kubernetes' default
/// `system:masters`, so the administrator certificate names that group.
const MASTERS_GROUP: &str = "system:masters";
/// The group kubeadm puts the API server's kubelet client in (and binds to cluster-admin).
const KUBEADM_CLUSTER_ADMINS: &str = "kubeadm:cluster-admins";
/// The group of every kubelet, which the Node authorizer and `system:node` role expect.
const NODES_GROUP: &str = "system:nodes";

/// What a certificate's key may be used for, in TLS terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    /// A TLS client (extended key usage clientAuth).
    Client,
    /// A TLS server (serverAuth).
    Server,
    /// Both, as a store member is: it serves clients and peers and dials other peers. etcd also
    /// insists on clientAuth in its serving certificate.
    ServerAndClient,
}

/// One leaf certificate to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertSpec {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub usage: Usage,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl CertSpec {
    fn client(common_name: &str, organizations: &[&str]) -> CertSpec {
        CertSpec {
            common_name: common_name.into(),
            organizations: organizations.iter().map(|o| o.to_string()).collect(),
            usage: Usage::Client,
            dns_names: Vec::new(),
            ips: Vec::new(),
        }
    }

    /// The API server's serving certificate: the Service's DNS names, the loopback names, the
    /// first service IP, the VIP and every control-plane node's name and address.
    pub fn apiserver(spec: &PkiSpec) -> CertSpec {
        let mut dns_names: Vec<String> = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
        ]
        .map(String::from)
        .into();
        let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(spec.service_ip)];
        ips.extend(spec.vip);
        for node in spec.control_plane() {
            dns_names.push(node.name.clone());
            ips.push(node.ip);
        }
        CertSpec {
            common_name: "kube-apiserver".into(),
            organizations: Vec::new(),
            usage: Usage::Server,
            dns_names: dedup(dns_names),
            ips: dedup(ips),
        }
    }

    /// What the API server presents to kubelets (for logs, exec and port-forward).
    pub fn apiserver_kubelet_client() -> CertSpec {
        CertSpec::client("kube-apiserver-kubelet-client", &[KUBEADM_CLUSTER_ADMINS])
    }

    /// What the API server presents to the store; signed by the etcd CA.
    pub fn apiserver_etcd_client() -> CertSpec {
        CertSpec::client("kube-apiserver-etcd-client", &[])
    }

    /// What health checks and `etcdctl` present to the store; signed by the etcd CA.
    pub fn etcd_healthcheck_client() -> CertSpec {
        CertSpec::client("kube-etcd-healthcheck-client", &[])
    }

    /// A store member's certificate for its client URLs; signed by the etcd CA.
    pub fn etcd_server(node: &NodeSpec) -> CertSpec {
        CertSpec::etcd_member(node)
    }

    /// A store member's certificate for its peer URLs; signed by the etcd CA. It has the same
    /// subject and names as the serving one, as kubeadm's have, but its own key.
    pub fn etcd_peer(node: &NodeSpec) -> CertSpec {
        CertSpec::etcd_member(node)
    }

    fn etcd_member(node: &NodeSpec) -> CertSpec {
        CertSpec {
            common_name: node.name.clone(),
            organizations: Vec::new(),
            usage: Usage::ServerAndClient,
            dns_names: dedup(vec![node.name.clone(), "localhost".into()]),
            ips: dedup(vec![
                node.ip,
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]),
        }
    }

    /// The administrator's client certificate (`admin.conf`); see [`MASTERS_GROUP`].
    pub fn admin() -> CertSpec {
        CertSpec::client("kubernetes-admin", &[MASTERS_GROUP])
    }

    /// The controller manager's client certificate, the user Kubernetes' bootstrap RBAC grants
    /// the `system:kube-controller-manager` role.
    pub fn controller_manager() -> CertSpec {
        CertSpec::client("system:kube-controller-manager", &[])
    }

    /// The scheduler's client certificate (`system:kube-scheduler` in bootstrap RBAC).
    pub fn scheduler() -> CertSpec {
        CertSpec::client("system:kube-scheduler", &[])
    }

    /// kube-proxy's client certificate, the user bootstrap RBAC binds to `system:node-proxier`.
    pub fn kube_proxy() -> CertSpec {
        CertSpec::client("system:kube-proxy", &[])
    }

    /// A kubelet's client certificate: the identity the Node authorizer recognises.
    pub fn kubelet_client(node: &NodeSpec) -> CertSpec {
        CertSpec::client(&format!("system:node:{}", node.name), &[NODES_GROUP])
    }

    /// A kubelet's serving certificate, as the kubelet's server TLS bootstrap would get it
    /// signed: the node's identity, for its name and address.
    pub fn kubelet_serving(node: &NodeSpec) -> CertSpec {
        CertSpec {
            usage: Usage::Server,
            dns_names: vec![node.name.clone()],
            ips: vec![node.ip],
            ..CertSpec::kubelet_client(node)
        }
    }

    /// rcgen's parameters for this certificate, without validity and serial number (the
    /// authority sets those when it signs).
    pub fn params(&self) -> Result<CertificateParams> {
        let what = || format!("certificate for {}", self.common_name);
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        for organization in &self.organizations {
            params
                .distinguished_name
                .push(DnType::OrganizationName, organization.as_str());
        }
        for name in &self.dns_names {
            let name = name.clone().try_into().map_err(Error::rcgen(what()))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        params
            .subject_alt_names
            .extend(self.ips.iter().copied().map(SanType::IpAddress));
        params.is_ca = IsCa::ExplicitNoCa;
        // An ECDSA key only signs; keyEncipherment belongs to RSA key exchange.
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match self.usage {
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Usage::ServerAndClient => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

/// Drops repeats and keeps the first occurrence's place: the VIP may well be a node's address.
fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn node(name: &str, addr: &str, control_plane: bool) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            ip: ip(addr),
            control_plane,
        }
    }

    #[test]
    fn subjects_and_usages() {
        let m01 = node("m01", "192.168.49.2", true);
        #[rustfmt::skip]
        let cases = [
            (CertSpec::apiserver_kubelet_client(), "kube-apiserver-kubelet-client", vec!["kubeadm:cluster-admins"], Usage::Client),
            (CertSpec::apiserver_etcd_client(), "kube-apiserver-etcd-client", vec![], Usage::Client),
            (CertSpec::etcd_healthcheck_client(), "kube-etcd-healthcheck-client", vec![], Usage::Client),
            (CertSpec::etcd_server(&m01), "m01", vec![], Usage::ServerAndClient),
            (CertSpec::etcd_peer(&m01), "m01", vec![], Usage::ServerAndClient),
            (CertSpec::admin(), "kubernetes-admin", vec!["system:masters"], Usage::Client),
            (CertSpec::controller_manager(), "system:kube-controller-manager", vec![], Usage::Client),
            (CertSpec::scheduler(), "system:kube-scheduler", vec![], Usage::Client),
            (CertSpec::kube_proxy(), "system:kube-proxy", vec![], Usage::Client),
            (CertSpec::kubelet_client(&m01), "system:node:m01", vec!["system:nodes"], Usage::Client),
            (CertSpec::kubelet_serving(&m01), "system:node:m01", vec!["system:nodes"], Usage::Server),
        ];
        for (cert, common_name, organizations, usage) in cases {
            assert_eq!(cert.common_name, common_name);
            assert_eq!(cert.organizations, organizations, "{common_name}");
            assert_eq!(cert.usage, usage, "{common_name}");
        }
    }

    #[test]
    fn apiserver_names() {
        let spec = PkiSpec {
            cluster_name: "hakube".into(),
            service_ip: Ipv4Addr::new(10, 96, 0, 1),
            // The VIP repeats a node's address, which must not give a repeated SAN.
            vip: Some(ip("192.168.49.2")),
            nodes: vec![
                node("m01", "192.168.49.2", true),
                node("w01", "192.168.49.9", false),
                node("m02", "192.168.49.3", true),
            ],
        };
        let cert = CertSpec::apiserver(&spec);
        assert_eq!(cert.common_name, "kube-apiserver");
        assert_eq!(cert.usage, Usage::Server);
        assert_eq!(
            cert.dns_names,
            [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "localhost",
                "m01",
                "m02",
            ]
        );
        assert_eq!(
            cert.ips,
            ["127.0.0.1", "10.96.0.1", "192.168.49.2", "192.168.49.3"].map(ip)
        );
    }

    #[test]
    fn member_and_kubelet_names() {
        let m01 = node("m01", "192.168.49.2", true);
        let member = CertSpec::etcd_server(&m01);
        assert_eq!(member.dns_names, ["m01", "localhost"]);
        assert_eq!(member.ips, ["192.168.49.2", "127.0.0.1", "::1"].map(ip));
        let kubelet = CertSpec::kubelet_serving(&m01);
        assert_eq!(kubelet.dns_names, ["m01"]);
        assert_eq!(kubelet.ips, [ip("192.168.49.2")]);
        // A loopback node does not list 127.0.0.1 twice.
        let local = CertSpec::etcd_peer(&node("local", "127.0.0.1", true));
        assert_eq!(local.ips, ["127.0.0.1", "::1"].map(ip));
    }

    #[test]
    fn params() {
        let params = CertSpec::etcd_server(&node("m01", "192.168.49.2", true))
            .params()
            .unwrap();
        assert_eq!(params.is_ca, IsCa::ExplicitNoCa);
        assert_eq!(params.key_usages, [KeyUsagePurpose::DigitalSignature]);
        assert_eq!(
            params.extended_key_usages,
            [
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth
            ]
        );
        assert_eq!(params.subject_alt_names.len(), 5);
        assert!(params.use_authority_key_identifier_extension);
    }
}
