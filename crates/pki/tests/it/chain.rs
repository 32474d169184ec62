//! The certificates as TLS sees them: rustls's WebPKI verifiers (ring) check each chain, name
//! and usage, and each key is checked against its certificate.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;

use crate::{generate, node, spec};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn cert(path: &Path) -> Result<CertificateDer<'static>> {
    CertificateDer::from_pem_file(path).with_context(|| format!("reading {}", path.display()))
}

fn roots(ca: &Path) -> Result<Arc<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    roots.add(cert(ca)?)?;
    Ok(Arc::new(roots))
}

/// Whether `leaf` verifies as a server certificate for `name` under `ca`.
fn serves(ca: &Path, leaf: &Path, name: &str) -> Result<bool> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider()).build()?;
    let name = ServerName::try_from(name.to_string())?;
    Ok(verifier
        .verify_server_cert(&cert(leaf)?, &[], &name, &[], UnixTime::now())
        .is_ok())
}

/// Whether `leaf` verifies as a client certificate under `ca`.
fn authenticates(ca: &Path, leaf: &Path) -> Result<bool> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider()).build()?;
    Ok(verifier
        .verify_client_cert(&cert(leaf)?, &[], UnixTime::now())
        .is_ok())
}

#[test]
fn apiserver_serves_its_names_only() -> Result<()> {
    let (_dir, pki) = generate()?;
    for name in [
        "kubernetes",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "hakube-m02",
        "127.0.0.1",
        "10.96.0.1",
        "192.168.49.254",
        "192.168.49.2",
        "192.168.49.3",
    ] {
        assert!(serves(&pki.ca_cert, &pki.apiserver_cert, name)?, "{name}");
    }
    for name in ["192.168.49.4", "hakube-m03", "example.com"] {
        assert!(!serves(&pki.ca_cert, &pki.apiserver_cert, name)?, "{name}");
    }
    // Another CA's trust does not extend to it.
    assert!(!serves(
        &pki.etcd_ca_cert,
        &pki.apiserver_cert,
        "kubernetes"
    )?);
    // A client certificate is no server certificate.
    assert!(!serves(&pki.ca_cert, &pki.admin_cert, "kubernetes")?);
    Ok(())
}

#[test]
fn clients_authenticate_to_their_ca_only() -> Result<()> {
    let (_dir, pki) = generate()?;
    let m01 = &pki.nodes["hakube"];
    let member = m01.etcd.as_ref().unwrap();
    for leaf in [
        &pki.admin_cert,
        &pki.apiserver_kubelet_client_cert,
        &pki.controller_manager_cert,
        &pki.scheduler_cert,
        &pki.kube_proxy_cert,
        &m01.kubelet_client_cert,
    ] {
        assert!(authenticates(&pki.ca_cert, leaf)?, "{leaf:?}");
        assert!(!authenticates(&pki.etcd_ca_cert, leaf)?, "{leaf:?}");
    }
    for leaf in [
        &pki.apiserver_etcd_client_cert,
        &pki.etcd_healthcheck_client_cert,
        &member.server_cert,
        &member.peer_cert,
    ] {
        assert!(authenticates(&pki.etcd_ca_cert, leaf)?, "{leaf:?}");
        assert!(!authenticates(&pki.ca_cert, leaf)?, "{leaf:?}");
    }
    // Serving-only certificates cannot be used as clients.
    assert!(!authenticates(&pki.ca_cert, &pki.apiserver_cert)?);
    assert!(!authenticates(&pki.ca_cert, &m01.kubelet_serving_cert)?);
    Ok(())
}

#[test]
fn members_and_kubelets_serve_their_node() -> Result<()> {
    let (_dir, pki) = generate()?;
    let member = pki.nodes["hakube-m02"].etcd.clone().unwrap();
    for leaf in [&member.server_cert, &member.peer_cert] {
        for name in [
            "hakube-m02",
            "localhost",
            "192.168.49.3",
            "127.0.0.1",
            "::1",
        ] {
            assert!(serves(&pki.etcd_ca_cert, leaf, name)?, "{leaf:?} {name}");
        }
        assert!(!serves(&pki.etcd_ca_cert, leaf, "192.168.49.2")?);
    }
    let kubelet = &pki.nodes["hakube-m03"].kubelet_serving_cert;
    assert!(serves(&pki.ca_cert, kubelet, "192.168.49.4")?);
    assert!(serves(&pki.ca_cert, kubelet, "hakube-m03")?);
    assert!(!serves(&pki.ca_cert, kubelet, "192.168.49.2")?);
    Ok(())
}

#[test]
fn every_key_belongs_to_its_certificate() -> Result<()> {
    let (_dir, pki) = generate()?;
    let mut pairs = vec![
        (&pki.ca_cert, &pki.ca_key),
        (&pki.etcd_ca_cert, &pki.etcd_ca_key),
        (&pki.apiserver_cert, &pki.apiserver_key),
        (
            &pki.apiserver_kubelet_client_cert,
            &pki.apiserver_kubelet_client_key,
        ),
        (
            &pki.apiserver_etcd_client_cert,
            &pki.apiserver_etcd_client_key,
        ),
        (
            &pki.etcd_healthcheck_client_cert,
            &pki.etcd_healthcheck_client_key,
        ),
        (&pki.admin_cert, &pki.admin_key),
        (&pki.controller_manager_cert, &pki.controller_manager_key),
        (&pki.scheduler_cert, &pki.scheduler_key),
        (&pki.kube_proxy_cert, &pki.kube_proxy_key),
    ];
    for node in pki.nodes.values() {
        pairs.push((&node.kubelet_client_cert, &node.kubelet_client_key));
        pairs.push((&node.kubelet_serving_cert, &node.kubelet_serving_key));
        if let Some(member) = &node.etcd {
            pairs.push((&member.server_cert, &member.server_key));
            pairs.push((&member.peer_cert, &member.peer_key));
        }
    }
    let provider = provider();
    for (cert_path, key_path) in pairs {
        let key = provider
            .key_provider
            .load_private_key(PrivateKeyDer::from_pem_file(key_path)?)?;
        CertifiedKey::new(vec![cert(cert_path)?], key)
            .keys_match()
            .with_context(|| format!("{key_path:?} and {cert_path:?}"))?;
    }
    Ok(())
}

#[test]
fn reissued_and_added_certificates_chain_to_the_same_ca() -> Result<()> {
    let (dir, pki) = generate()?;
    let mut grown = spec();
    let joiner = node("hakube-m05", "192.168.49.6", true);
    grown.nodes.push(joiner.clone());
    let after = pki::Pki::add_node(dir.path(), &joiner)?;
    pki::Pki::reissue_apiserver(dir.path(), &grown)?;

    assert!(serves(&pki.ca_cert, &pki.apiserver_cert, "192.168.49.6")?);
    assert!(serves(&pki.ca_cert, &pki.apiserver_cert, "192.168.49.254")?);
    let files = &after.nodes["hakube-m05"];
    assert!(authenticates(&pki.ca_cert, &files.kubelet_client_cert)?);
    let member = files.etcd.as_ref().unwrap();
    assert!(serves(
        &pki.etcd_ca_cert,
        &member.peer_cert,
        "192.168.49.6"
    )?);
    assert!(authenticates(&pki.etcd_ca_cert, &member.peer_cert)?);
    Ok(())
}
