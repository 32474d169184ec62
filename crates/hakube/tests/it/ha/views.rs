//! Reading what the tools print: `kubectl get nodes -o wide` and `get pods` tables, the rows of
//! `hakube profile list`, the blocks of `hakube status`, and `etcdctl member list -w table`.
//! Pure, so that a check's failure shows what was printed.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

/// One row of `kubectl get nodes -o wide`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    pub name: String,
    pub status: String,
    pub roles: String,
    pub internal_ip: String,
}

/// Reads `kubectl get nodes -o wide`. The columns up to INTERNAL-IP hold no spaces (OS-IMAGE,
/// further right, may), so splitting on whitespace finds them.
pub fn nodes_wide(text: &str) -> Result<Vec<NodeRow>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .context("no header")?
        .split_whitespace()
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("no {name} column in {header:?}"))
    };
    let (name, status, roles, ip) = (
        column("NAME")?,
        column("STATUS")?,
        column("ROLES")?,
        column("INTERNAL-IP")?,
    );
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let cell = |i: usize| {
                cells
                    .get(i)
                    .map(|c| c.to_string())
                    .with_context(|| format!("short row {line:?}"))
            };
            Ok(NodeRow {
                name: cell(name)?,
                status: cell(status)?,
                roles: cell(roles)?,
                internal_ip: cell(ip)?,
            })
        })
        .collect()
}

/// Reads `kubectl get pods`: each pod's name and STATUS.
pub fn pod_statuses(text: &str) -> Result<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .context("no header")?
        .split_whitespace()
        .collect();
    let status = header
        .iter()
        .position(|h| *h == "STATUS")
        .with_context(|| format!("no STATUS column in {header:?}"))?;
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            match (cells.first(), cells.get(status)) {
                (Some(name), Some(status)) => Ok((name.to_string(), status.to_string())),
                _ => bail!("short row {line:?}"),
            }
        })
        .collect()
}

/// The rows (header first) of a `|`-boxed table, as `profile list` and `etcdctl -w table`
/// print them, each as its trimmed cells.
fn boxed_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|-") && !l.starts_with("+-"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The cells of `hakube profile list`'s row for `profile`, by header:
/// Profile, Driver, IP, Port, Version, Status, Nodes.
pub fn profile_row(text: &str, profile: &str) -> Result<BTreeMap<String, String>> {
    let rows = boxed_rows(text);
    let header = rows.first().context("no table")?;
    let row = rows
        .iter()
        .skip(1)
        .find(|r| r.first().is_some_and(|c| c == profile))
        .with_context(|| format!("no row for {profile}"))?;
    Ok(header.iter().cloned().zip(row.iter().cloned()).collect())
}

/// `hakube status`'s blocks: each node's name and its `key: value` lines.
pub fn status_blocks(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().filter(|l| !l.trim().is_empty());
            let name = lines.next()?.trim().to_string();
            let fields = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            Some((name, fields))
        })
        .collect()
}

/// One row of `etcdctl member list -w table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    pub status: String,
    pub name: String,
    pub is_learner: String,
}

/// Reads `etcdctl member list -w table`
/// (`| ID | STATUS | NAME | PEER ADDRS | CLIENT ADDRS | IS LEARNER |`).
pub fn member_table(text: &str) -> Result<Vec<MemberRow>> {
    let rows = boxed_rows(text);
    let header = rows.first().context("no table")?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no {name} column in {header:?}"))
    };
    let (status, name, learner) = (column("STATUS")?, column("NAME")?, column("IS LEARNER")?);
    rows.iter()
        .skip(1)
        .map(|r| {
            let cell = |i: usize| {
                r.get(i)
                    .cloned()
                    .with_context(|| format!("short row {r:?}"))
            };
            Ok(MemberRow {
                status: cell(status)?,
                name: cell(name)?,
                is_learner: cell(learner)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tables() -> Result<()> {
        let nodes = "NAME          STATUS   ROLES           AGE   VERSION   INTERNAL-IP    EXTERNAL-IP   OS-IMAGE             KERNEL-VERSION   CONTAINER-RUNTIME\n\
                     ha-demo-m05   Ready    <none>          5s    v1.33.0   127.0.200.6    <none>        Debian GNU/Linux 12  6.1.0            hakube://1\n";
        let rows = nodes_wide(nodes)?;
        assert_eq!(rows[0].roles, "<none>");
        assert_eq!(rows[0].internal_ip, "127.0.200.6");
        let profiles = "|---------|---------|-----------------|------|---------|-------|-------|\n\
                        | Profile | Driver  | IP              | Port | Version | Status| Nodes |\n\
                        |---------|---------|-----------------|------|---------|-------|-------|\n\
                        | ha-demo | process | 127.0.200.254   | 8443 | v1.33.0 | HAppy | 3     |\n\
                        |---------|---------|-----------------|------|---------|-------|-------|\n";
        let row = profile_row(profiles, "ha-demo")?;
        assert_eq!(row["Status"], "HAppy");
        assert_eq!(row["Nodes"], "3");
        let members = "+------------------+---------+---------+------------------+------------------+------------+\n\
                       |        ID        | STATUS  |  NAME   |    PEER ADDRS    |   CLIENT ADDRS   | IS LEARNER |\n\
                       +------------------+---------+---------+------------------+------------------+------------+\n\
                       | 8e9e05c52164694d | started | ha-demo | https://x:2380   | https://x:2379   |      false |\n\
                       +------------------+---------+---------+------------------+------------------+------------+\n";
        let rows = member_table(members)?;
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].status.as_str(), rows[0].is_learner.as_str()),
            ("started", "false")
        );
        let status = status_blocks(
            "ha-demo\ntype: Control Plane\nhost: Running\n\nha-demo-m05\ntype: Worker\nhost: Stopped\n",
        );
        assert_eq!(status["ha-demo-m05"]["host"], "Stopped");
        Ok(())
    }
}
