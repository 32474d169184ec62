//! Reads the JSON that `etcdctl endpoint status -w json` and `etcdctl member list -w json` print,
//! so tests can ask who leads, how far each member's log is, and which IDs members have.

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One member's view of the cluster, as `endpoint status` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointStatus {
    pub endpoint: String,
    pub member_id: u64,
    /// The member this one believes leads; 0 when it knows of no leader.
    pub leader: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub is_learner: bool,
}

impl EndpointStatus {
    pub fn is_leader(&self) -> bool {
        self.leader != 0 && self.leader == self.member_id
    }
}

/// Parses `endpoint status -w json`: an array with one entry per endpoint that answered.
pub fn parse_endpoint_status(json: &str) -> Result<Vec<EndpointStatus>> {
    let value: Value = serde_json::from_str(json.trim())
        .with_context(|| format!("endpoint status printed something other than JSON: {json}"))?;
    let Some(entries) = value.as_array() else {
        bail!("endpoint status JSON is not an array: {json}");
    };
    entries
        .iter()
        .map(|entry| {
            let status = &entry["Status"];
            Ok(EndpointStatus {
                endpoint: entry["Endpoint"].as_str().unwrap_or_default().to_string(),
                member_id: number(&status["header"]["member_id"])
                    .with_context(|| format!("no header.member_id in {entry}"))?,
                // Go omits zero values, so an absent field means 0 or false.
                leader: number(&status["leader"]).unwrap_or(0),
                raft_term: number(&status["raftTerm"]).unwrap_or(0),
                raft_index: number(&status["raftIndex"]).unwrap_or(0),
                raft_applied_index: number(&status["raftAppliedIndex"]).unwrap_or(0),
                is_learner: status["isLearner"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// One entry of `member list -w json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEntry {
    pub id: u64,
    /// Empty until the member has started and published its name.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// Parses `member list -w json` into the cluster ID and the members.
pub fn parse_member_list(json: &str) -> Result<(u64, Vec<MemberEntry>)> {
    let value: Value = serde_json::from_str(json.trim())
        .with_context(|| format!("member list printed something other than JSON: {json}"))?;
    let cluster_id = number(&value["header"]["cluster_id"])
        .with_context(|| format!("no header.cluster_id in {json}"))?;
    let members = value["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            Ok(MemberEntry {
                id: number(&m["ID"]).with_context(|| format!("member without ID: {m}"))?,
                name: m["name"].as_str().unwrap_or_default().to_string(),
                peer_urls: strings(&m["peerURLs"]),
                client_urls: strings(&m["clientURLs"]),
                is_learner: m["isLearner"].as_bool().unwrap_or(false),
            })
        })
        .collect::<Result<_>>()?;
    Ok((cluster_id, members))
}

fn number(value: &Value) -> Option<u64> {
    value.as_u64()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Printed by etcd 3.4.23 for a healthy three-member cluster (shortened to two entries).
    const STATUS: &str = r#"[{"Endpoint":"http://127.201.7.1:2379","Status":{"header":{"cluster_id":11102975326479800261,"member_id":4575456418104135513,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":8326276543849899341,"raftIndex":8,"raftTerm":2,"raftAppliedIndex":8,"dbSizeInUse":16384}},{"Endpoint":"http://127.201.7.3:2379","Status":{"header":{"cluster_id":11102975326479800261,"member_id":8326276543849899341,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":8326276543849899341,"raftIndex":8,"raftTerm":2,"raftAppliedIndex":8,"dbSizeInUse":16384}}]"#;

    #[test]
    fn endpoint_status_names_the_leader() {
        let statuses = parse_endpoint_status(STATUS).unwrap();
        let leaders: Vec<_> = statuses.iter().map(EndpointStatus::is_leader).collect();
        assert_eq!(leaders, [false, true]);
        assert_eq!(statuses[0].raft_index, 8);
        assert_eq!(statuses[0].endpoint, "http://127.201.7.1:2379");
        assert!(!statuses[1].is_learner);
    }

    #[test]
    fn member_list_keeps_unstarted_members_nameless() {
        let json = r#"{"header":{"cluster_id":7,"member_id":1,"raft_term":2},"members":[{"ID":1,"name":"m1","peerURLs":["http://127.1.1.1:2380"],"clientURLs":["http://127.1.1.1:2379"]},{"ID":2,"peerURLs":["http://127.1.1.4:2380"],"isLearner":true}]}"#;
        let (cluster, members) = parse_member_list(json).unwrap();
        assert_eq!(cluster, 7);
        assert_eq!(members[0].name, "m1");
        assert_eq!(members[1].name, "");
        assert!(members[1].is_learner);
        assert!(members[1].client_urls.is_empty());
    }
}
