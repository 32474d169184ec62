//! Each certificate read back with x509-parser: subject, issuer, names, usages and validity.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::{CertInfo, generate, ip};

const DAY: i64 = 24 * 60 * 60;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Validity starts a few minutes back (never in the future) and lasts `days` from about now.
fn assert_validity(info: &CertInfo, days: i64, path: &Path) {
    let now = now();
    assert!(info.not_before <= now, "{path:?} not yet valid");
    assert!(info.not_before >= now - 3600, "{path:?} backdated too far");
    let lifetime = info.not_after - now;
    assert!(
        (days * DAY - 3600..=days * DAY + 60).contains(&lifetime),
        "{path:?} valid for {lifetime}s, want {days} days"
    );
}

#[test]
fn cas() -> Result<()> {
    let (_dir, pki) = generate()?;
    for (path, name) in [(&pki.ca_cert, "kubernetes"), (&pki.etcd_ca_cert, "etcd-ca")] {
        let ca = CertInfo::read(path)?;
        assert_eq!(ca.common_name, name);
        assert_eq!(ca.issuer, name, "self-signed");
        assert!(ca.is_ca && ca.key_cert_sign, "{ca:?}");
        assert!(ca.dns_names.is_empty() && ca.ips.is_empty());
        assert_validity(&ca, 3650, path);
    }
    Ok(())
}

#[test]
fn leaves() -> Result<()> {
    let (_dir, pki) = generate()?;
    let m01 = &pki.nodes["hakube"];
    let m01_member = m01.etcd.as_ref().unwrap();
    // path, CN, O (if any), issuer, extended key usages
    #[rustfmt::skip]
    let cases: [(&Path, &str, &str, &str, &str); 12] = [
        (&pki.apiserver_cert, "kube-apiserver", "", "kubernetes", "server"),
        (&pki.apiserver_kubelet_client_cert, "kube-apiserver-kubelet-client", "kubeadm:cluster-admins", "kubernetes", "client"),
        (&pki.apiserver_etcd_client_cert, "kube-apiserver-etcd-client", "", "etcd-ca", "client"),
        (&pki.etcd_healthcheck_client_cert, "kube-etcd-healthcheck-client", "", "etcd-ca", "client"),
        (&m01_member.server_cert, "hakube", "", "etcd-ca", "server+client"),
        (&m01_member.peer_cert, "hakube", "", "etcd-ca", "server+client"),
        (&pki.admin_cert, "kubernetes-admin", "system:masters", "kubernetes", "client"),
        (&pki.controller_manager_cert, "system:kube-controller-manager", "", "kubernetes", "client"),
        (&pki.scheduler_cert, "system:kube-scheduler", "", "kubernetes", "client"),
        (&pki.kube_proxy_cert, "system:kube-proxy", "", "kubernetes", "client"),
        (&m01.kubelet_client_cert, "system:node:hakube", "system:nodes", "kubernetes", "client"),
        (&m01.kubelet_serving_cert, "system:node:hakube", "system:nodes", "kubernetes", "server"),
    ];
    let mut serials = Vec::new();
    for (path, common_name, organization, issuer, usages) in cases {
        let info = CertInfo::read(path)?;
        assert_eq!(info.common_name, common_name, "{path:?}");
        let organizations: &[&str] = match organization {
            "" => &[],
            one => &[one],
        };
        assert_eq!(info.organizations, organizations, "{path:?}");
        assert_eq!(info.issuer, issuer, "{path:?}");
        let server_auth = usages.contains("server");
        let client_auth = usages.contains("client");
        assert_eq!(
            (info.server_auth, info.client_auth),
            (server_auth, client_auth),
            "{path:?}"
        );
        assert!(!info.is_ca && !info.key_cert_sign, "{path:?} must not sign");
        assert!(info.digital_signature, "{path:?}");
        if !server_auth {
            assert!(info.dns_names.is_empty() && info.ips.is_empty(), "{path:?}");
        }
        assert_validity(&info, 365, path);
        serials.push(info.serial);
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 12, "every certificate has its own serial");
    Ok(())
}

#[test]
fn subject_alternative_names() -> Result<()> {
    let (_dir, pki) = generate()?;

    let apiserver = CertInfo::read(&pki.apiserver_cert)?;
    assert_eq!(
        apiserver.dns_names,
        [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
            "hakube",
            "hakube-m02",
        ]
    );
    // The worker's address is not an API server's.
    assert_eq!(
        apiserver.ips,
        [
            "127.0.0.1",
            "10.96.0.1",
            "192.168.49.254",
            "192.168.49.2",
            "192.168.49.3"
        ]
        .map(ip)
    );

    let member = pki.nodes["hakube-m02"].etcd.clone().unwrap();
    for path in [&member.server_cert, &member.peer_cert] {
        let info = CertInfo::read(path)?;
        assert_eq!(info.dns_names, ["hakube-m02", "localhost"]);
        assert_eq!(info.ips, ["192.168.49.3", "127.0.0.1", "::1"].map(ip));
    }

    let kubelet = CertInfo::read(&pki.nodes["hakube-m03"].kubelet_serving_cert)?;
    assert_eq!(kubelet.dns_names, ["hakube-m03"]);
    assert_eq!(kubelet.ips, [ip("192.168.49.4")]);
    Ok(())
}
