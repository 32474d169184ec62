//! What `hakube` refuses before any node starts, each with one clear line on stderr and a
//! non-zero exit: an HA cluster of two, a bad profile name, an unknown profile, and a VIP port
//! someone else holds. None of these needs a cluster, and none may leave a profile behind.

use std::net::TcpListener;

use anyhow::{Context, Result, ensure};

use super::harness::{API_PORT, Ha, SHORT_LIMIT};

/// Runs `hakube ARGS` and requires a non-zero exit with exactly one line on stderr that
/// contains every one of `needles`.
fn refused(ha: &Ha, args: &[&str], needles: &[&str]) -> Result<()> {
    let out = ha.hakube(args, SHORT_LIMIT)?;
    let what = format!("hakube {}", args.join(" "));
    ensure!(!out.success(), "{what} should be refused: {out}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    ensure!(
        lines.len() == 1,
        "{what} should say why in one line on stderr: {out}"
    );
    for needle in needles {
        ensure!(
            lines[0].contains(needle),
            "{what}: the reason should mention {needle:?}: {out}"
        );
    }
    Ok(())
}

#[test]
fn refuses_bad_input_with_one_clear_line() -> Result<()> {
    let _machine = crate::machine::machine_shared();
    let ha = Ha::new()?;
    ha.outcome(refusals(&ha))
}

fn refusals(ha: &Ha) -> Result<()> {
    let subnet = ha.subnet();
    refused(
        ha,
        &[
            "start", "--ha", "--nodes", "2", "-p", "x", "--subnet", &subnet,
        ],
        &["3"],
    )?;
    refused(
        ha,
        &["start", "-p", "Bad_Name", "--subnet", &subnet],
        &["Bad_Name"],
    )?;
    refused(ha, &["status", "-p", "nosuch"], &["nosuch", "not found"])?;

    let vip = ha.vip();
    let _taken = TcpListener::bind((vip, API_PORT))
        .with_context(|| format!("{vip}:{API_PORT} should be free for the test to take"))?;
    refused(
        ha,
        &["start", "--ha", "-p", "busy", "--subnet", &subnet],
        &["in use", &API_PORT.to_string(), &vip.to_string()],
    )?;

    let listed = ha.hakube_ok(&["profile", "list", "-o", "json"], SHORT_LIMIT)?;
    let list: serde_json::Value = serde_json::from_str(&listed.stdout)
        .with_context(|| format!("profile list -o json: {listed}"))?;
    ensure!(
        list["valid"].as_array().is_some_and(|v| v.is_empty())
            && list["invalid"].as_array().is_some_and(|v| v.is_empty()),
        "a refused start should leave no profile: {listed}"
    );
    for name in ["x", "Bad_Name", "busy"] {
        let dir = ha.profile_dir(name);
        ensure!(!dir.exists(), "a refused start left {}", dir.display());
    }
    ensure!(
        !ha.kubeconfig().exists() || !std::fs::read_to_string(ha.kubeconfig())?.contains("busy"),
        "a refused start should not touch the kubeconfig"
    );
    Ok(())
}
