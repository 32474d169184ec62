//! The checks the tutorial repeats after each step, each polled with a deadline: which nodes
//! kubectl shows, what `profile list` says, which store members etcdctl lists, and `status`.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, ensure};

use super::PROFILE;
use super::harness::{Ha, SHORT_LIMIT, poll_until};
use super::views;

/// How long a state the cluster is converging to may take to show.
pub const SETTLE: Duration = Duration::from_secs(90);

/// A node the tutorial expects: its number (1 for `ha-demo`, 2 for `-m02`, ...) and kind.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    pub number: u8,
    pub control_plane: bool,
}

pub const fn cp(number: u8) -> Expected {
    Expected {
        number,
        control_plane: true,
    }
}

pub const fn worker(number: u8) -> Expected {
    Expected {
        number,
        control_plane: false,
    }
}

/// The name of node `number` of the profile, as minikube names them.
pub fn node_name(number: u8) -> String {
    if number == 1 {
        PROFILE.to_string()
    } else {
        format!("{PROFILE}-m{number:02}")
    }
}

/// `kubectl get nodes -o wide` shows exactly `nodes`, each Ready, with ROLES `control-plane`
/// or `<none>` and its own INTERNAL-IP.
pub fn nodes(ha: &Ha, nodes: &[Expected]) -> Result<String> {
    let kubectl = ha.kubectl();
    poll_until(
        "kubectl get nodes shows the expected nodes, Ready",
        SETTLE,
        || {
            let out = kubectl.ok(&["get", "nodes", "-o", "wide"])?;
            let rows = views::nodes_wide(&out.stdout)?;
            let names: BTreeSet<String> = rows.iter().map(|r| r.name.clone()).collect();
            let want: BTreeSet<String> = nodes.iter().map(|n| node_name(n.number)).collect();
            ensure!(
                names == want,
                "nodes {names:?}, want {want:?}:\n{}",
                out.stdout
            );
            for node in nodes {
                let name = node_name(node.number);
                let row = rows.iter().find(|r| r.name == name).expect("listed");
                let roles = if node.control_plane {
                    "control-plane"
                } else {
                    "<none>"
                };
                let ip = ha.node_ip(node.number).to_string();
                ensure!(
                    row.status == "Ready" && row.roles == roles && row.internal_ip == ip,
                    "{name}: want Ready, {roles}, {ip}:\n{}",
                    out.stdout
                );
            }
            Ok(out.stdout)
        },
    )
}

/// `hakube profile list` shows the profile with `status`, the VIP and `nodes` nodes, in its
/// table and in `-o json`.
pub fn profile(ha: &Ha, status: &str, nodes: usize) -> Result<()> {
    let what = format!("hakube profile list shows {PROFILE} {status} with {nodes} nodes");
    poll_until(&what, SETTLE, || {
        let out = ha.hakube_ok(&["profile", "list"], SHORT_LIMIT)?;
        let row = views::profile_row(&out.stdout, PROFILE)
            .map_err(|e| anyhow::anyhow!("{e:#}: {out}"))?;
        let vip = ha.vip().to_string();
        let nodes_text = nodes.to_string();
        let want = [
            ("Status", status),
            ("IP", vip.as_str()),
            ("Port", "8443"),
            ("Nodes", nodes_text.as_str()),
            ("Driver", "process"),
        ];
        for (column, value) in want {
            ensure!(
                row.get(column).map(String::as_str) == Some(value),
                "{column} should be {value}: {out}"
            );
        }
        let json = ha.profile_json(PROFILE)?;
        ensure!(
            json["Status"] == status && json["IP"] == vip && json["Nodes"] == nodes,
            "profile list -o json: {json}"
        );
        Ok(())
    })
}

/// `hakube etcdctl -- member list -w table` lists exactly the control-plane nodes `numbers`,
/// each `started` and not a learner.
pub fn members(ha: &Ha, numbers: &[u8]) -> Result<()> {
    let args = [
        "etcdctl", "-p", PROFILE, "--", "member", "list", "-w", "table",
    ];
    poll_until(
        "the store's members are the control-plane nodes, all voters",
        SETTLE,
        || {
            let out = ha.hakube_ok(&args, SHORT_LIMIT)?;
            let rows = views::member_table(&out.stdout)?;
            let names: BTreeSet<String> = rows.iter().map(|r| r.name.clone()).collect();
            let want: BTreeSet<String> = numbers.iter().map(|n| node_name(*n)).collect();
            ensure!(names == want, "members {names:?}, want {want:?}: {out}");
            ensure!(
                rows.iter()
                    .all(|r| r.status == "started" && r.is_learner == "false"),
                "every member should be started and not a learner: {out}"
            );
            Ok(())
        },
    )
}

/// `hakube status` shows every node running, with `kubeconfig: Configured` on control-plane
/// nodes, and exits 0.
pub fn status(ha: &Ha, nodes: &[Expected]) -> Result<()> {
    poll_until("hakube status shows every node running", SETTLE, || {
        let out = ha.hakube(&["status", "-p", PROFILE], SHORT_LIMIT)?;
        ensure!(out.success(), "hakube status should exit 0: {out}");
        let blocks = views::status_blocks(&out.stdout);
        ensure!(blocks.len() == nodes.len(), "one block per node: {out}");
        for node in nodes {
            let name = node_name(node.number);
            let block = blocks
                .get(&name)
                .ok_or_else(|| anyhow::anyhow!("no block for {name}: {out}"))?;
            let mut want = vec![("host", "Running"), ("kubelet", "Running")];
            if node.control_plane {
                want.extend([("type", "Control Plane"), ("apiserver", "Running")]);
                want.push(("kubeconfig", "Configured"));
            } else {
                want.push(("type", "Worker"));
            }
            for (key, value) in want {
                ensure!(
                    block.get(key).map(String::as_str) == Some(value),
                    "{name}: {key} should be {value}: {out}"
                );
            }
        }
        Ok(())
    })
}

/// `kubectl get pods -n kube-system` lists the etcd, kube-apiserver and kube-vip mirror pods
/// of each control-plane node `numbers`, Running.
pub fn control_plane_pods(ha: &Ha, numbers: &[u8]) -> Result<()> {
    let kubectl = ha.kubectl();
    poll_until("the control-plane pods are Running", SETTLE, || {
        let out = kubectl.ok(&["get", "pods", "-n", "kube-system"])?;
        let pods = views::pod_statuses(&out.stdout)?;
        for number in numbers {
            for role in ["etcd", "kube-apiserver", "kube-vip"] {
                let pod = format!("{role}-{}", node_name(*number));
                ensure!(
                    pods.get(&pod).map(String::as_str) == Some("Running"),
                    "{pod} should be Running:\n{}",
                    out.stdout
                );
            }
        }
        Ok(())
    })
}

/// The VIP's holder, from the kube-vip Lease.
pub fn vip_holder(ha: &Ha) -> Result<String> {
    let out = ha.kubectl().ok(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "plndr-cp-lock",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])?;
    let holder = out.stdout.trim().to_string();
    ensure!(!holder.is_empty(), "the Lease has no holder: {out}");
    Ok(holder)
}
