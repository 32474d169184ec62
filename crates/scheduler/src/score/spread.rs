//! Selector spreading: pods of the same controller and Services go to the nodes (and zones)
//! that hold the fewest of them, so a Deployment's replicas spread out even without affinity.

use std::collections::HashMap;

use super::MAX_NODE_SCORE;
use crate::pod_info::PodInfo;
use crate::snapshot::{NodeInfo, Snapshot};

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// How much the zone counts against the node, as in kube's SelectorSpread.
const ZONE_WEIGHTING: f64 = 2.0 / 3.0;

fn zone(node: &NodeInfo) -> Option<String> {
    let labels = node.labels();
    let zone = labels.get(ZONE_LABEL).map(String::as_str).unwrap_or("");
    let region = labels.get(REGION_LABEL).map(String::as_str).unwrap_or("");
    if zone.is_empty() && region.is_empty() {
        None
    } else {
        Some(format!("{region}:\x00:{zone}"))
    }
}

/// Whether an existing pod belongs with `pod` for spreading: same namespace, selected by
/// every Service that selects `pod`, and owned by the same controller when `pod` has one.
struct Peers<'a> {
    pod: &'a PodInfo,
    services: Vec<&'a std::collections::BTreeMap<String, String>>,
}

impl<'a> Peers<'a> {
    fn new(pod: &'a PodInfo, snapshot: &'a Snapshot) -> Option<Peers<'a>> {
        let services: Vec<_> = snapshot
            .services()
            .filter(|s| s.namespace == pod.namespace)
            .filter(|s| s.selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
            .map(|s| &s.selector)
            .collect();
        if services.is_empty() && pod.controller_uid.is_none() {
            return None;
        }
        Some(Peers { pod, services })
    }

    fn include(&self, other: &PodInfo) -> bool {
        other.namespace == self.pod.namespace
            && !other.terminating
            && self
                .services
                .iter()
                .all(|sel| sel.iter().all(|(k, v)| other.labels.get(k) == Some(v)))
            && (self.pod.controller_uid.is_none()
                || other.controller_uid == self.pod.controller_uid)
    }
}

pub fn scores(pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Vec<i64> {
    let Some(peers) = Peers::new(pod, snapshot) else {
        return vec![0; nodes.len()];
    };
    let counts: Vec<i64> = nodes
        .iter()
        .map(|n| n.pods.iter().filter(|p| peers.include(p)).count() as i64)
        .collect();
    let max_node = counts.iter().copied().max().unwrap_or(0);
    let zones: Vec<Option<String>> = nodes.iter().map(|n| zone(n)).collect();
    let mut by_zone: HashMap<&str, i64> = HashMap::new();
    for (count, zone) in counts.iter().zip(&zones) {
        if let Some(zone) = zone {
            *by_zone.entry(zone.as_str()).or_default() += count;
        }
    }
    let max_zone = by_zone.values().copied().max().unwrap_or(0);
    let max = MAX_NODE_SCORE as f64;
    counts
        .iter()
        .zip(&zones)
        .map(|(count, zone)| {
            let mut score = if max_node > 0 {
                max * (max_node - count) as f64 / max_node as f64
            } else {
                max
            };
            if let Some(zone) = zone {
                let zone_score = if max_zone > 0 {
                    max * (max_zone - by_zone[zone.as_str()]) as f64 / max_zone as f64
                } else {
                    max
                };
                score = score * (1.0 - ZONE_WEIGHTING) + ZONE_WEIGHTING * zone_score;
            }
            score as i64
        })
        .collect()
}
