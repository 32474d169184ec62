//! The files as tools no one here wrote read them: openssl and kubectl. Each test returns early,
//! saying so, when its tool is not installed.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::generate;

/// Runs `program args`; `None` if the program is not installed. Returns success, stdout and
/// stderr.
fn run(program: &str, args: &[&str]) -> Result<Option<(bool, String, String)>> {
    match Command::new(program).args(args).output() {
        Ok(out) => Ok(Some((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("{program} is not installed; skipping its checks");
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("running {program}")),
    }
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `openssl verify` with one CA and one purpose; `None` if openssl is missing.
fn openssl_verifies(ca: &Path, leaf: &Path, purpose: &str) -> Result<Option<bool>> {
    let args = [
        "verify",
        "-CAfile",
        path(ca),
        "-purpose",
        purpose,
        path(leaf),
    ];
    Ok(run("openssl", &args)?.map(|(ok, out, _)| ok && out.trim_end().ends_with(": OK")))
}

#[test]
fn openssl_verifies_chains_and_purposes() -> Result<()> {
    let (_dir, pki) = generate()?;
    let m01 = &pki.nodes["hakube"];
    let member = m01.etcd.as_ref().unwrap();
    let cases = [
        (&pki.ca_cert, &pki.apiserver_cert, "sslserver", true),
        (&pki.ca_cert, &pki.apiserver_cert, "sslclient", false),
        (&pki.ca_cert, &pki.admin_cert, "sslclient", true),
        (&pki.ca_cert, &pki.admin_cert, "sslserver", false),
        (
            &pki.ca_cert,
            &pki.apiserver_kubelet_client_cert,
            "sslclient",
            true,
        ),
        (&pki.ca_cert, &pki.kube_proxy_cert, "sslclient", true),
        (&pki.ca_cert, &m01.kubelet_client_cert, "sslclient", true),
        (&pki.ca_cert, &m01.kubelet_serving_cert, "sslserver", true),
        (&pki.etcd_ca_cert, &member.server_cert, "sslserver", true),
        (&pki.etcd_ca_cert, &member.peer_cert, "sslclient", true),
        (
            &pki.etcd_ca_cert,
            &pki.apiserver_etcd_client_cert,
            "sslclient",
            true,
        ),
        (
            &pki.etcd_ca_cert,
            &pki.etcd_healthcheck_client_cert,
            "sslclient",
            true,
        ),
        // The two CAs do not vouch for each other's certificates.
        (&pki.ca_cert, &member.server_cert, "sslserver", false),
        (&pki.etcd_ca_cert, &pki.admin_cert, "sslclient", false),
    ];
    for (ca, leaf, purpose, want) in cases {
        let Some(got) = openssl_verifies(ca, leaf, purpose)? else {
            return Ok(());
        };
        assert_eq!(
            got, want,
            "openssl verify -CAfile {ca:?} -purpose {purpose} {leaf:?}"
        );
    }
    Ok(())
}

#[test]
fn openssl_reads_subjects_and_extensions() -> Result<()> {
    let (_dir, pki) = generate()?;
    let Some((ok, text, err)) = run(
        "openssl",
        &["x509", "-noout", "-text", "-in", path(&pki.apiserver_cert)],
    )?
    else {
        return Ok(());
    };
    assert!(ok, "{err}");
    for want in [
        "DNS:kubernetes.default.svc.cluster.local",
        "IP Address:10.96.0.1",
        "IP Address:192.168.49.254",
        "TLS Web Server Authentication",
        "Digital Signature",
        "CA:FALSE",
        "ecdsa-with-SHA256",
        "NIST CURVE: P-256",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }

    let args = ["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"];
    for (cert, want) in [
        (
            &pki.admin_cert,
            "subject=O=system:masters,CN=kubernetes-admin",
        ),
        (
            &pki.nodes["hakube-m03"].kubelet_client_cert,
            "subject=O=system:nodes,CN=system:node:hakube-m03",
        ),
        (&pki.ca_cert, "subject=CN=kubernetes"),
    ] {
        let (ok, out, err) = run("openssl", &[&args[..], &[path(cert)]].concat())?.unwrap();
        assert!(ok, "{err}");
        assert_eq!(out.trim_end(), want);
    }

    // sa.pub is the public half of sa.key, as openssl derives it.
    let (ok, public, err) =
        run("openssl", &["pkey", "-in", path(&pki.sa_key), "-pubout"])?.unwrap();
    assert!(ok, "{err}");
    assert_eq!(public, std::fs::read_to_string(&pki.sa_pub)?);
    Ok(())
}

#[test]
fn kubectl_reads_the_kubeconfig() -> Result<()> {
    let (dir, pki) = generate()?;
    let file = dir.path().join("admin.conf");
    let text = pki::kubeconfig(
        "https://192.168.49.254:8443",
        &pki.ca_cert,
        &pki.admin_cert,
        &pki.admin_key,
        "hakube",
        "kubernetes-admin",
    )?;
    std::fs::write(&file, text)?;
    let jsonpath = "-o=jsonpath={.current-context} {.clusters[0].cluster.server} {.users[0].name}";
    let Some((ok, out, err)) = run(
        "kubectl",
        &[
            "config",
            "view",
            "--kubeconfig",
            path(&file),
            "--raw",
            jsonpath,
        ],
    )?
    else {
        return Ok(());
    };
    assert!(ok, "{err}");
    assert_eq!(out, "hakube https://192.168.49.254:8443 kubernetes-admin");
    Ok(())
}
