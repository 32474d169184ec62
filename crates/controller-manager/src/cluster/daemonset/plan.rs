//! What a DaemonSet needs: which nodes should run its pod (nodeSelector, node affinity, taints
//! against its tolerations plus the ones the controller adds), which pods to create and delete
//! (missing, failed, duplicate, misplaced, and old ones under the RollingUpdate budget), and its
//! status. Pure: time is passed in.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cluster::taints::{
    self, DISK_PRESSURE, MEMORY_PRESSURE, NETWORK_UNAVAILABLE, NO_EXECUTE, NO_SCHEDULE, NOT_READY,
    PID_PRESSURE, UNREACHABLE, UNSCHEDULABLE,
};
use crate::cluster::{controller_reference, pods};

/// The label naming the template revision a pod was made from.
pub(crate) const REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The deprecated label kube still sets with the DaemonSet's generation.
const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// The tolerations kube adds to every daemon pod, so it runs where nodes are unhealthy,
/// pressured or cordoned (and, with host networking, before the network is up).
pub(crate) fn default_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let exists = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Toleration::default()
    };
    let mut added = vec![
        exists(NOT_READY, NO_EXECUTE),
        exists(UNREACHABLE, NO_EXECUTE),
        exists(DISK_PRESSURE, NO_SCHEDULE),
        exists(MEMORY_PRESSURE, NO_SCHEDULE),
        exists(PID_PRESSURE, NO_SCHEDULE),
        exists(UNSCHEDULABLE, NO_SCHEDULE),
    ];
    if spec.host_network == Some(true) {
        added.push(exists(NETWORK_UNAVAILABLE, NO_SCHEDULE));
    }
    let mut tolerations = spec.tolerations.clone().unwrap_or_default();
    for toleration in added {
        // The same key and effect already tolerated keeps the template's own toleration.
        if !tolerations
            .iter()
            .any(|t| t.key == toleration.key && t.effect == toleration.effect)
        {
            tolerations.push(toleration);
        }
    }
    tolerations
}

/// Sets the required node affinity to exactly `node` (by metadata.name), keeping the
/// template's label expressions, so the scheduler places the pod there.
fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let field = NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(vec![node.to_string()]),
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let selector = node_affinity
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default);
    if selector.node_selector_terms.is_empty() {
        selector
            .node_selector_terms
            .push(NodeSelectorTerm::default());
    }
    for term in &mut selector.node_selector_terms {
        term.match_fields = Some(vec![field.clone()]);
    }
}

/// The node a daemon pod is for: where it is bound, or where its affinity pins it.
pub(crate) fn target_node(pod: &Pod) -> Option<String> {
    let bound = pods::node_name(pod);
    if !bound.is_empty() {
        return Some(bound.to_string());
    }
    pod.spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

/// The daemon pod for `node`, unnamed (the API server names it `<daemonset>-<random>`).
pub(crate) fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    spec.tolerations = Some(default_tolerations(&spec));
    pin_to_node(&mut spec, node);
    let mut metadata = template.metadata.unwrap_or_default();
    let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(REVISION_HASH_LABEL.into(), hash.into());
    if let Some(generation) = ds.metadata.generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), generation.to_string());
    }
    metadata.name = None;
    metadata.generate_name = Some(format!("{}-", ds.metadata.name.as_deref().unwrap_or("")));
    metadata.namespace = ds.metadata.namespace.clone();
    metadata.owner_references = Some(vec![controller_reference(ds)]);
    Pod {
        metadata,
        spec: Some(spec),
        status: None,
    }
}

/// Whether `node` should run the daemon pod, and whether a pod already there may stay (it may
/// when only NoSchedule taints are untolerated).
pub(crate) fn should_run(ds: &DaemonSet, node: &Node) -> (bool, bool) {
    let name = node.metadata.name.clone().unwrap_or_default();
    let pod = new_pod(ds, &name, "");
    let spec = pod.spec.as_ref().expect("new_pod sets a spec");
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return (false, false);
    }
    if !taints::fits_node_affinity(&pod, node) {
        return (false, false);
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or(&[]);
    let node_taints = taints::node_taints(node);
    if taints::tolerates_all(tolerations, node_taints, |t| {
        t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE
    }) {
        return (true, true);
    }
    (
        false,
        taints::tolerates_all(tolerations, node_taints, |t| t.effect == NO_EXECUTE),
    )
}

/// A revision hash of the template: FNV-1a over its JSON (and the collision count), spelt with
/// kube's safe alphabet.
pub(crate) fn template_hash(template: &PodTemplateSpec, collision_count: i32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash: u32 = 0x811c_9dc5;
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(&json);
    if collision_count > 0 {
        feed(&collision_count.to_le_bytes());
    }
    hash.to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// The pods to make and remove, and the status to report.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Nodes needing a daemon pod.
    pub(crate) create: Vec<String>,
    /// Pods to delete (by name), with why.
    pub(crate) delete: Vec<(String, &'static str)>,
    pub(crate) status: DaemonSetStatus,
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_HASH_LABEL)
        .map(String::as_str)
}

fn oldest_first(pods: &mut [&Pod]) {
    pods.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref(),
            a.metadata.name.as_ref(),
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref(),
                b.metadata.name.as_ref(),
            ))
    });
}

/// `maxUnavailable` resolved against the desired count (percentages round up; at least one).
fn max_unavailable(ds: &DaemonSet, desired: i32) -> i32 {
    let value = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(IntOrString::Int(1));
    let n = match value {
        IntOrString::Int(n) => n,
        IntOrString::String(s) => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            ((percent * i64::from(desired) + 99) / 100) as i32
        }
    };
    n.max(1)
}

/// The plan for `ds` over `nodes`, given its own `pods` (already filtered by controllerRef) and
/// its current revision `hash`.
pub(crate) fn plan(
    ds: &DaemonSet,
    nodes: &[&Node],
    pods: &[&Pod],
    hash: &str,
    now: Timestamp,
) -> Plan {
    let spec = ds.spec.clone().unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in pods {
        if let Some(node) = target_node(pod) {
            by_node.entry(node).or_default().push(pod);
        }
    }
    let mut plan = Plan::default();
    let mut status = DaemonSetStatus {
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        ..DaemonSetStatus::default()
    };
    let mut updated = 0;
    let mut available = 0;
    let known: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let mut running_nodes = Vec::new();
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let (run, keep) = should_run(ds, node);
        if run {
            running_nodes.push(name.clone());
        }
        let mut here: Vec<&Pod> = by_node.get(&name).cloned().unwrap_or_default();
        oldest_first(&mut here);
        // Status: counted over every pod here, as kube does.
        if run {
            status.desired_number_scheduled += 1;
            if let Some(first) = here.first() {
                status.current_number_scheduled += 1;
                if pods::is_ready(first) {
                    status.number_ready += 1;
                }
                if pods::is_available(first, min_ready, now) {
                    available += 1;
                }
                if revision_of(first) == Some(hash) {
                    updated += 1;
                }
            }
        } else if !here.is_empty() {
            status.number_misscheduled += 1;
        }
        // Pods to make and remove.
        if run && here.is_empty() {
            plan.create.push(name.clone());
        } else if keep {
            let mut running = Vec::new();
            for pod in here.iter().filter(|p| !pods::is_terminating(p)) {
                if pods::phase(pod) == "Failed" {
                    plan.delete
                        .push((pod.metadata.name.clone().unwrap_or_default(), "failed"));
                } else {
                    running.push(*pod);
                }
            }
            for extra in running.iter().skip(1) {
                plan.delete
                    .push((extra.metadata.name.clone().unwrap_or_default(), "duplicate"));
            }
        } else {
            for pod in here.iter().filter(|p| !pods::is_terminating(p)) {
                plan.delete
                    .push((pod.metadata.name.clone().unwrap_or_default(), "misplaced"));
            }
        }
    }
    // Pods for nodes that no longer exist.
    for (node, here) in &by_node {
        if !known.contains(&node.as_str()) {
            for pod in here.iter().filter(|p| !pods::is_terminating(p)) {
                plan.delete
                    .push((pod.metadata.name.clone().unwrap_or_default(), "misplaced"));
            }
        }
    }
    status.updated_number_scheduled = Some(updated);
    status.number_available = Some(available);
    status.number_unavailable = Some(status.desired_number_scheduled - available);
    if rolling {
        let budget = max_unavailable(ds, status.desired_number_scheduled);
        plan.delete.extend(rolling_update(
            &running_nodes,
            &by_node,
            hash,
            min_ready,
            budget,
            now,
        ));
    }
    plan.delete.sort();
    plan.delete.dedup_by(|a, b| a.0 == b.0);
    plan.status = status;
    plan
}

/// Old pods to replace on the `nodes` that should run the daemon (kube's rollingUpdate without
/// surge): unavailable old pods at once, available ones while fewer than `budget` nodes are
/// unavailable.
fn rolling_update(
    nodes: &[String],
    by_node: &BTreeMap<String, Vec<&Pod>>,
    hash: &str,
    min_ready: i32,
    budget: i32,
    now: Timestamp,
) -> Vec<(String, &'static str)> {
    let mut unavailable = 0;
    let mut replace = Vec::new();
    let mut candidates = Vec::new();
    for node in nodes {
        let here: Vec<&Pod> = by_node
            .get(node)
            .map(|p| {
                p.iter()
                    .filter(|p| !pods::is_terminating(p))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let new: Vec<&Pod> = here
            .iter()
            .filter(|p| revision_of(p) == Some(hash))
            .copied()
            .collect();
        let old: Vec<&Pod> = here
            .iter()
            .filter(|p| revision_of(p) != Some(hash))
            .copied()
            .collect();
        if new.len() > 1 || old.len() > 1 {
            // Duplicates are cleaned up first; this node waits.
            continue;
        }
        match (old.first(), new.first()) {
            (None, None) | (Some(_), Some(_)) => unavailable += 1,
            (None, Some(new)) => {
                if !pods::is_available(new, min_ready, now) {
                    unavailable += 1;
                }
            }
            (Some(old), None) => {
                let name = old.metadata.name.clone().unwrap_or_default();
                if !pods::is_available(old, min_ready, now) {
                    replace.push((name, "outdated"));
                } else if unavailable < budget {
                    candidates.push((name, "outdated"));
                }
            }
        }
    }
    let room = (budget - unavailable).max(0) as usize;
    replace.extend(candidates.into_iter().take(room));
    replace
}

/// The ControllerRevision data for a template: a patch replacing the DaemonSet's template, as
/// kube stores it (and `kubectl rollout undo` applies it).
pub(crate) fn revision_data(template: &PodTemplateSpec) -> serde_json::Value {
    let mut template = serde_json::to_value(template).unwrap_or_default();
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), "replace".into());
    }
    serde_json::json!({ "spec": { "template": template } })
}

/// The metadata of a new ControllerRevision for `ds` at `hash`.
pub(crate) fn revision_meta(ds: &DaemonSet, hash: &str) -> ObjectMeta {
    let mut labels = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_HASH_LABEL.into(), hash.into());
    ObjectMeta {
        name: Some(format!(
            "{}-{hash}",
            ds.metadata.name.as_deref().unwrap_or("")
        )),
        namespace: ds.metadata.namespace.clone(),
        labels: Some(labels),
        owner_references: Some(vec![controller_reference(ds)]),
        ..ObjectMeta::default()
    }
}
