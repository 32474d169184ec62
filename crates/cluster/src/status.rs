//! A profile's status from what the probes found, as `profile list` shows it: OK, HAppy,
//! Degraded, Error (with the reason), Stopped or Starting. Pure: the probes live in `health`.

use serde::Serialize;

/// What the probes found on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeHealth {
    pub name: String,
    pub control_plane: bool,
    /// The node process is alive.
    pub running: bool,
    /// The kubelet answers its health check.
    pub kubelet: bool,
    /// The API server answers `/readyz` (control-plane nodes only).
    pub apiserver: bool,
    /// The node's store member answers a status call (stacked control-plane nodes only).
    pub etcd: bool,
    /// The node has finished joining.
    pub joined: bool,
}

impl NodeHealth {
    /// A control-plane node whose every role answers.
    fn healthy_control_plane(&self) -> bool {
        self.running && self.apiserver && self.kubelet && self.etcd
    }
}

/// A profile's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileStatus {
    /// A healthy cluster with one control-plane node.
    Ok,
    /// Every control-plane node healthy, and at least three of them.
    HAppy,
    /// Quorum holds, but with fewer healthy control-plane nodes than an HA cluster needs.
    Degraded,
    /// Processes run, but the cluster cannot serve: the reason says why.
    Error(String),
    /// No node process runs.
    Stopped,
    /// Nodes are still joining.
    Starting,
}

impl ProfileStatus {
    /// The word `profile list` prints.
    pub fn word(&self) -> &'static str {
        match self {
            ProfileStatus::Ok => "OK",
            ProfileStatus::HAppy => "HAppy",
            ProfileStatus::Degraded => "Degraded",
            ProfileStatus::Error(_) => "Error",
            ProfileStatus::Stopped => "Stopped",
            ProfileStatus::Starting => "Starting",
        }
    }

    /// The reason, for Error.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ProfileStatus::Error(reason) => Some(reason),
            _ => None,
        }
    }
}

/// The store members the cluster has, when some member could say (`None`: none answered).
pub type MemberCount = Option<usize>;

/// Computes the status. `stacked` says whether the control-plane nodes hold the store;
/// `members` is the store's voting member count as a member reported it.
pub fn profile_status(
    ha: bool,
    stacked: bool,
    nodes: &[NodeHealth],
    members: MemberCount,
) -> ProfileStatus {
    if !nodes.iter().any(|n| n.running) {
        return ProfileStatus::Stopped;
    }
    let control_plane: Vec<&NodeHealth> = nodes.iter().filter(|n| n.control_plane).collect();
    if stacked {
        let healthy = control_plane.iter().filter(|n| n.running && n.etcd).count();
        let total = members.unwrap_or(control_plane.len()).max(1);
        if healthy * 2 <= total {
            return ProfileStatus::Error(format!(
                "store quorum lost: {healthy} of {total} members healthy, {} needed",
                total / 2 + 1
            ));
        }
    }
    if !control_plane.iter().any(|n| n.running && n.apiserver) {
        return ProfileStatus::Error("no API server is ready".into());
    }
    if nodes.iter().any(|n| !n.joined) {
        return ProfileStatus::Starting;
    }
    let all_healthy = control_plane.iter().all(|n| {
        let etcd_ok = n.etcd || !stacked;
        n.running && n.apiserver && n.kubelet && etcd_ok
    });
    let ha = ha || control_plane.len() > 1;
    match (ha, all_healthy) {
        (false, true) => ProfileStatus::Ok,
        (true, true) if control_plane.len() >= 3 => ProfileStatus::HAppy,
        (true, _) => ProfileStatus::Degraded,
        (false, false) => ProfileStatus::Error(unhealthy_reason(&control_plane, stacked)),
    }
}

/// Which roles of which nodes do not answer.
fn unhealthy_reason(control_plane: &[&NodeHealth], stacked: bool) -> String {
    let mut parts = Vec::new();
    for n in control_plane.iter().filter(|n| !n.healthy_control_plane()) {
        let mut down = Vec::new();
        if !n.running {
            down.push("process");
        } else {
            if !n.apiserver {
                down.push("apiserver");
            }
            if !n.kubelet {
                down.push("kubelet");
            }
            if stacked && !n.etcd {
                down.push("etcd");
            }
        }
        if !down.is_empty() {
            parts.push(format!("{}: {} down", n.name, down.join(", ")));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(name: &str, running: bool, healthy: bool) -> NodeHealth {
        NodeHealth {
            name: name.into(),
            control_plane: true,
            running,
            kubelet: healthy,
            apiserver: healthy,
            etcd: healthy,
            joined: true,
        }
    }

    fn worker(name: &str) -> NodeHealth {
        NodeHealth {
            control_plane: false,
            apiserver: false,
            etcd: false,
            ..cp(name, true, true)
        }
    }

    #[test]
    fn statuses() {
        let up = |n| cp(n, true, true);
        let dead = |n| cp(n, false, false);
        let sick = |n| NodeHealth {
            apiserver: false,
            ..cp(n, true, true)
        };
        let joining = NodeHealth {
            joined: false,
            ..up("c")
        };
        #[rustfmt::skip]
        type Case = (&'static str, bool, bool, Vec<NodeHealth>, MemberCount, ProfileStatus);
        let cases: Vec<Case> = vec![
            (
                "one healthy node",
                false,
                true,
                vec![up("a")],
                Some(1),
                ProfileStatus::Ok,
            ),
            (
                "three healthy",
                true,
                true,
                vec![up("a"), up("b"), up("c")],
                Some(3),
                ProfileStatus::HAppy,
            ),
            (
                "three healthy and a worker",
                true,
                true,
                vec![up("a"), up("b"), up("c"), worker("w")],
                Some(3),
                ProfileStatus::HAppy,
            ),
            (
                "two of two after a delete",
                true,
                true,
                vec![up("a"), up("c")],
                Some(2),
                ProfileStatus::Degraded,
            ),
            (
                "one of three dead",
                true,
                true,
                vec![up("a"), dead("b"), up("c")],
                Some(3),
                ProfileStatus::Degraded,
            ),
            (
                "an API server not ready",
                true,
                true,
                vec![up("a"), sick("b"), up("c")],
                Some(3),
                ProfileStatus::Degraded,
            ),
            (
                "quorum lost",
                true,
                true,
                vec![up("a"), dead("b"), dead("c")],
                Some(3),
                ProfileStatus::Error("store quorum lost: 1 of 3 members healthy, 2 needed".into()),
            ),
            (
                "all stopped",
                true,
                true,
                vec![dead("a"), dead("b"), dead("c")],
                Some(3),
                ProfileStatus::Stopped,
            ),
            (
                "no member answered",
                true,
                true,
                vec![dead("a"), sick("b"), dead("c")],
                None,
                ProfileStatus::Error("store quorum lost: 1 of 3 members healthy, 2 needed".into()),
            ),
            (
                "still joining",
                true,
                true,
                vec![up("a"), up("b"), joining],
                Some(3),
                ProfileStatus::Starting,
            ),
            (
                "single node, API down",
                false,
                true,
                vec![sick("a")],
                Some(1),
                ProfileStatus::Error("no API server is ready".into()),
            ),
            (
                "external etcd, three up",
                true,
                false,
                vec![
                    NodeHealth {
                        etcd: false,
                        ..up("a")
                    },
                    NodeHealth {
                        etcd: false,
                        ..up("b")
                    },
                    NodeHealth {
                        etcd: false,
                        ..up("c")
                    },
                ],
                None,
                ProfileStatus::HAppy,
            ),
        ];
        for (what, ha, stacked, nodes, members, want) in cases {
            assert_eq!(profile_status(ha, stacked, &nodes, members), want, "{what}");
        }
    }

    #[test]
    fn words() {
        assert_eq!(ProfileStatus::HAppy.word(), "HAppy");
        assert_eq!(ProfileStatus::Error("x".into()).reason(), Some("x"));
    }
}
