//! Which files a PKI has, with which modes, and how loading, adding nodes and reissuing the API
//! server certificate change them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use pki::{Error, Pki};

use crate::{CertInfo, generate, ip, node, spec};

/// Every file under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir)?.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn mode(path: &Path) -> Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[test]
fn kubeadm_layout() -> Result<()> {
    let (dir, pki) = generate()?;
    let want = [
        "admin.crt",
        "admin.key",
        "apiserver-etcd-client.crt",
        "apiserver-etcd-client.key",
        "apiserver-kubelet-client.crt",
        "apiserver-kubelet-client.key",
        "apiserver.crt",
        "apiserver.key",
        "ca.crt",
        "ca.key",
        "controller-manager.crt",
        "controller-manager.key",
        "encryption-config.yaml",
        "etcd/ca.crt",
        "etcd/ca.key",
        "etcd/hakube-m02-peer.crt",
        "etcd/hakube-m02-peer.key",
        "etcd/hakube-m02-server.crt",
        "etcd/hakube-m02-server.key",
        "etcd/hakube-peer.crt",
        "etcd/hakube-peer.key",
        "etcd/hakube-server.crt",
        "etcd/hakube-server.key",
        "etcd/healthcheck-client.crt",
        "etcd/healthcheck-client.key",
        "kube-proxy.crt",
        "kube-proxy.key",
        "nodes/hakube-kubelet.crt",
        "nodes/hakube-kubelet.key",
        "nodes/hakube-m02-kubelet.crt",
        "nodes/hakube-m02-kubelet.key",
        "nodes/hakube-m02.crt",
        "nodes/hakube-m02.key",
        "nodes/hakube-m03-kubelet.crt",
        "nodes/hakube-m03-kubelet.key",
        "nodes/hakube-m03.crt",
        "nodes/hakube-m03.key",
        "nodes/hakube.crt",
        "nodes/hakube.key",
        "sa.key",
        "sa.pub",
        "scheduler.crt",
        "scheduler.key",
    ];
    assert_eq!(tree(dir.path())?, want);

    assert_eq!(pki.dir, dir.path());
    assert_eq!(pki.ca_cert, dir.path().join("ca.crt"));
    assert_eq!(pki.etcd_ca_key, dir.path().join("etcd/ca.key"));
    assert_eq!(
        pki.nodes.keys().collect::<Vec<_>>(),
        ["hakube", "hakube-m02", "hakube-m03"]
    );
    assert!(pki.nodes["hakube-m02"].etcd.is_some());
    assert!(pki.nodes["hakube-m03"].etcd.is_none());

    // The layout lists every file on disk exactly once, and says which hold secrets.
    let mut listed: Vec<(PathBuf, bool)> = pki
        .cluster_files()
        .into_iter()
        .chain(pki.nodes.values().flat_map(|node| node.files()))
        .map(|(path, secret)| (path.to_path_buf(), secret))
        .collect();
    listed.sort();
    let on_disk: Vec<PathBuf> = want.iter().map(|file| dir.path().join(file)).collect();
    assert_eq!(
        listed
            .iter()
            .map(|(path, _)| path.clone())
            .collect::<Vec<_>>(),
        on_disk
    );
    for (path, secret) in listed {
        let name = path.display().to_string();
        let expect_secret = name.ends_with(".key") || name.ends_with(".yaml");
        assert_eq!(secret, expect_secret, "{name}");
        assert_eq!(
            mode(&path)?,
            if secret { 0o600 } else { 0o644 },
            "mode of {name}"
        );
    }
    Ok(())
}

#[test]
fn keys_are_pkcs8_and_sa_pub_is_spki() -> Result<()> {
    let (_dir, pki) = generate()?;
    for path in [
        &pki.ca_key,
        &pki.sa_key,
        &pki.nodes["hakube"].kubelet_client_key,
    ] {
        let text = std::fs::read_to_string(path)?;
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");
    }
    let text = std::fs::read_to_string(&pki.sa_pub)?;
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
    // sa.pub is the public half of sa.key.
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(&pki.sa_key)?)?;
    assert_eq!(key.public_key_pem(), text);
    Ok(())
}

#[test]
fn load_finds_what_generate_wrote() -> Result<()> {
    let (dir, pki) = generate()?;
    assert_eq!(Pki::load(dir.path())?, pki);
    Ok(())
}

#[test]
fn load_reports_a_missing_file() -> Result<()> {
    let (dir, pki) = generate()?;
    std::fs::remove_file(&pki.scheduler_key)?;
    match Pki::load(dir.path()) {
        Err(Error::Missing(path)) => assert_eq!(path, pki.scheduler_key),
        other => panic!("expected Missing, got {other:?}"),
    }

    let member = pki.nodes["hakube"].etcd.clone().unwrap();
    std::fs::write(&pki.scheduler_key, "")?;
    std::fs::remove_file(&member.peer_key)?;
    match Pki::load(dir.path()) {
        Err(Error::Missing(path)) => assert_eq!(path, member.peer_key),
        other => panic!("expected Missing, got {other:?}"),
    }
    Ok(())
}

#[test]
fn generate_refuses_to_replace_a_ca() -> Result<()> {
    let (dir, pki) = generate()?;
    let before = std::fs::read(&pki.ca_key)?;
    match Pki::generate(dir.path(), &spec()) {
        Err(Error::AlreadyExists(path)) => assert_eq!(path, pki.ca_cert),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(std::fs::read(&pki.ca_key)?, before);
    Ok(())
}

#[test]
fn generate_refuses_a_bad_spec() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut bad = spec();
    bad.nodes.push(node("../escape", "192.168.49.9", false));
    assert!(matches!(
        Pki::generate(dir.path(), &bad),
        Err(Error::InvalidSpec(_))
    ));
    // Nothing was written.
    assert!(tree(dir.path())?.is_empty());
    Ok(())
}

#[test]
fn add_node_issues_only_the_new_node() -> Result<()> {
    let (dir, before) = generate()?;
    let ca_cert = std::fs::read(&before.ca_cert)?;
    let admin_cert = std::fs::read(&before.admin_cert)?;

    let worker = node("hakube-m04", "192.168.49.5", false);
    let pki = Pki::add_node(dir.path(), &worker)?;
    let files = &pki.nodes["hakube-m04"];
    assert!(files.etcd.is_none());
    assert!(!dir.path().join("etcd/hakube-m04-server.crt").exists());
    let client = CertInfo::read(&files.kubelet_client_cert)?;
    assert_eq!(client.common_name, "system:node:hakube-m04");
    assert_eq!(client.issuer, "kubernetes");
    let serving = CertInfo::read(&files.kubelet_serving_cert)?;
    assert_eq!(serving.ips, [ip("192.168.49.5")]);

    let control = node("hakube-m05", "192.168.49.6", true);
    let pki = Pki::add_node(dir.path(), &control)?;
    let member = pki.nodes["hakube-m05"].etcd.clone().unwrap();
    let server = CertInfo::read(&member.server_cert)?;
    assert_eq!(server.common_name, "hakube-m05");
    assert_eq!(server.issuer, "etcd-ca");
    assert!(server.ips.contains(&ip("192.168.49.6")));
    for (path, secret) in pki.nodes["hakube-m05"].files() {
        assert_eq!(mode(path)?, if secret { 0o600 } else { 0o644 });
    }

    // The rest of the PKI is untouched.
    assert_eq!(std::fs::read(&pki.ca_cert)?, ca_cert);
    assert_eq!(std::fs::read(&pki.admin_cert)?, admin_cert);
    assert_eq!(pki.nodes.len(), 5);
    assert_eq!(Pki::load(dir.path())?, pki);

    assert!(matches!(
        Pki::add_node(dir.path(), &node("Bad_Name", "192.168.49.7", false)),
        Err(Error::InvalidSpec(_))
    ));
    Ok(())
}

#[test]
fn a_node_name_ending_in_kubelet_is_still_one_node() -> Result<()> {
    let (dir, _) = generate()?;
    Pki::add_node(dir.path(), &node("hakube-kubelet", "192.168.49.7", false))?;
    let pki = Pki::load(dir.path())?;
    assert_eq!(
        pki.nodes.keys().collect::<Vec<_>>(),
        ["hakube", "hakube-kubelet", "hakube-m02", "hakube-m03"]
    );
    assert_eq!(
        pki.nodes["hakube-kubelet"].kubelet_serving_cert,
        dir.path().join("nodes/hakube-kubelet-kubelet.crt")
    );
    Ok(())
}

#[test]
fn reissue_apiserver_keeps_the_key_and_adds_names() -> Result<()> {
    let (dir, pki) = generate()?;
    let key = std::fs::read(&pki.apiserver_key)?;
    let old = CertInfo::read(&pki.apiserver_cert)?;
    assert!(!old.ips.contains(&ip("192.168.49.6")));

    let mut grown = spec();
    grown.nodes.push(node("hakube-m05", "192.168.49.6", true));
    Pki::add_node(dir.path(), &grown.nodes[3])?;
    Pki::reissue_apiserver(dir.path(), &grown)?;

    let new = CertInfo::read(&pki.apiserver_cert)?;
    assert!(new.ips.contains(&ip("192.168.49.6")));
    assert!(new.dns_names.contains(&"hakube-m05".to_string()));
    assert_eq!(std::fs::read(&pki.apiserver_key)?, key);
    assert_eq!(new.public_key, old.public_key);
    assert_ne!(
        new.serial, old.serial,
        "a reissued certificate needs its own serial"
    );
    assert_eq!(mode(&pki.apiserver_cert)?, 0o644);
    Ok(())
}

#[test]
fn a_ca_key_that_does_not_match_is_refused() -> Result<()> {
    let (dir, pki) = generate()?;
    // The etcd CA's key in the cluster CA's place.
    std::fs::copy(&pki.etcd_ca_key, &pki.ca_key)?;
    match Pki::add_node(dir.path(), &node("hakube-m04", "192.168.49.5", false)) {
        Err(Error::KeyMismatch { cert, key }) => {
            assert_eq!(cert, pki.ca_cert);
            assert_eq!(key, pki.ca_key);
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
    Ok(())
}
