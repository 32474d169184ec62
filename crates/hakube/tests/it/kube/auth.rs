//! Acceptance 6: who may do what. The administrator (system:masters) may do anything; `bob`,
//! whom nothing is granted, is authenticated but forbidden; a request with no credentials, a
//! token nobody issued or a certificate from another CA is not authenticated.

use anyhow::{Result, ensure};

use super::harness::{ApiCluster, context};
use crate::flavor::Flavor;

/// What kubectl prints when the server answers 401.
const UNAUTHORIZED: &str = "error: You must be logged in to the server (Unauthorized)";

on_both_stores!(admins_may_bob_may_not_strangers_are_unknown);

fn admins_may_bob_may_not_strangers_are_unknown(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;

    let out = cluster.admin().ok(&["get", "pods"])?;
    ensure!(
        out.stdout.is_empty() && out.stderr == "No resources found in default namespace.\n",
        "the admin should list no pods: {out}"
    );
    let out = cluster.kubectl(context::BOB).fails(&["get", "pods"])?;
    ensure!(
        out.stderr
            == "Error from server (Forbidden): pods is forbidden: User \"bob\" cannot list \
                resource \"pods\" in API group \"\" in the namespace \"default\"\n",
        "bob should be forbidden to list pods: {out}"
    );

    let out = cluster.admin().ok(&["auth", "can-i", "create", "pods"])?;
    ensure!(out.stdout == "yes\n", "can the admin create pods? {out}");
    // `can-i` answers no with exit code 1.
    let out = cluster
        .kubectl(context::BOB)
        .fails(&["auth", "can-i", "create", "pods"])?;
    ensure!(
        out.code == Some(1) && out.stdout == "no\n",
        "can bob create pods? {out}"
    );

    for who in [context::NOBODY, context::BAD_TOKEN] {
        let out = cluster.kubectl(who).fails(&["get", "pods"])?;
        ensure!(
            out.stderr.lines().any(|l| l == UNAUTHORIZED),
            "{who} should get 401 Unauthorized: {out}"
        );
    }

    // An administrator's certificate that another CA signed proves nothing. kube-apiserver
    // answers 401. A server that ends the TLS handshake instead serves nothing either, which
    // is what matters; kubectl then reports the TLS alert, or, when the alert loses the race
    // with its first write, a broken pipe or a reset connection.
    let out = cluster.kubectl(context::FORGER).fails(&["get", "pods"])?;
    ensure!(
        out.stderr.lines().any(|l| l == UNAUTHORIZED)
            || ["tls: ", "broken pipe", "connection reset by peer"]
                .iter()
                .any(|refusal| out.stderr.contains(refusal)),
        "a certificate from another CA should be refused: {out}"
    );
    // The refusal was the server's judgement, not an outage: the administrator still gets in.
    cluster.admin().ok(&["get", "--raw", "/readyz"])?;
    Ok(())
}
