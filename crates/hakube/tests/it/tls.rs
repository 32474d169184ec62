//! Acceptance 5: with certificates the test generates, clients and peers speak TLS, a client
//! with a certificate from the cluster's CA is served, and clients without one are refused.

use anyhow::{Result, ensure};

use crate::cluster::{Cluster, Options};
use crate::etcdctl::{ClientTls, Etcdctl, Output};
use crate::flavor::Flavor;
use crate::machine::machine_shared;
use crate::pki::Pki;
use crate::table::Table;

#[test]
fn tls_serves_trusted_clients_and_refuses_others() -> Result<()> {
    let _machine = machine_shared();
    let cluster = Cluster::start_with(
        Flavor::under_test(),
        Options {
            tls: true,
            ..Options::default()
        },
    )?;
    // Start-up already proved the trusted client works: readiness is polled through it.
    let trusted = cluster.etcdctl();
    trusted
        .run(&["put", "tls/key", "secret"])?
        .ok("put with a client certificate")?;
    let out = trusted
        .run(&["get", "tls/key"])?
        .ok("get with a client certificate")?;
    ensure!(out.stdout == "tls/key\nsecret\n", "get printed {out}");

    let out = trusted
        .run(&["member", "list", "-w", "table"])?
        .ok("member list")?;
    let table = Table::parse(&out.stdout).unwrap_or_else(|| panic!("not a table: {out}"));
    ensure!(
        table
            .values("PEER ADDRS")
            .iter()
            .chain(&table.values("CLIENT ADDRS"))
            .all(|url| url.starts_with("https://")),
        "members should advertise https URLs:\n{}",
        out.stdout
    );

    let pki = cluster.pki().expect("a TLS cluster has a PKI");
    let endpoints = trusted.endpoints().to_vec();
    let no_identity = ClientTls {
        ca: pki.ca.clone(),
        identity: None,
    };
    refused(
        "a client without a certificate",
        Etcdctl::new(endpoints.clone()).with_tls(Some(no_identity)),
    )?;

    let stranger = Pki::generate(&cluster.dir().join("stranger"), &[])?;
    let foreign_identity = ClientTls {
        ca: pki.ca.clone(),
        identity: Some((stranger.client_cert, stranger.client_key)),
    };
    refused(
        "a client whose certificate another CA signed",
        Etcdctl::new(endpoints.clone()).with_tls(Some(foreign_identity)),
    )?;

    let plaintext: Vec<String> = endpoints
        .iter()
        .map(|url| url.replace("https://", "http://"))
        .collect();
    refused("a plaintext client", Etcdctl::new(plaintext))?;

    // None of the refused writes may have landed.
    let out = trusted
        .run(&["get", "tls/", "--prefix", "--keys-only"])?
        .ok("get")?;
    ensure!(
        out.stdout == "tls/key\n\n",
        "only the trusted write should exist: {out}"
    );
    Ok(())
}

/// Checks that `client` can neither write nor read.
fn refused(who: &str, client: Etcdctl) -> Result<()> {
    // Refusal shows as a failed handshake, which etcdctl reports once its timeouts run out.
    let client = client.with_global_args(&["--dial-timeout=2s", "--command-timeout=3s"]);
    let put: Output = client.run(&["put", "tls/refused", "x"])?;
    ensure!(
        !put.success(),
        "{who} should be refused a put, but got {put}"
    );
    eprintln!("{who} was refused: {}", put.stderr.trim());
    let get = client.run(&["get", "tls/key"])?;
    ensure!(
        !get.success(),
        "{who} should be refused a get, but got {get}"
    );
    Ok(())
}
