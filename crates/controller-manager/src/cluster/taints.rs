//! Taints, tolerations and node selection, as the DaemonSet and taint-eviction controllers check
//! them (the scheduler's rules for a single node).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};

pub(super) const NO_SCHEDULE: &str = "NoSchedule";
pub(super) const NO_EXECUTE: &str = "NoExecute";

pub(super) const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub(super) const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub(super) const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub(super) const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub(super) const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub(super) const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub(super) const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Whether `toleration` tolerates `taint` (an empty effect or key matches any; `Exists` any value).
pub(super) fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// Whether every taint passing `filter` is tolerated.
pub(super) fn tolerates_all(
    tolerations: &[Toleration],
    taints: &[Taint],
    filter: impl Fn(&Taint) -> bool,
) -> bool {
    taints
        .iter()
        .filter(|t| filter(t))
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)))
}

/// For each taint, the tolerations that tolerate it; `None` if some taint is not tolerated.
pub(super) fn matching_tolerations<'a>(
    taints: &[Taint],
    tolerations: &'a [Toleration],
) -> Option<Vec<&'a Toleration>> {
    let mut used = Vec::new();
    for taint in taints {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return None;
        }
        used.extend(matching);
    }
    Some(used)
}

/// The node's taints.
pub(super) fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

/// The pod's tolerations.
pub(super) fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

/// Whether the pod's nodeSelector and required node affinity admit `node`.
pub(super) fn fits_node_affinity(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    if let Some(selector) = &spec.node_selector
        && !selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        Some(selector) => node_selector_matches(selector, node),
        None => true,
    }
}

/// A NodeSelector: its terms are ORed; no terms match nothing.
pub(super) fn node_selector_matches(selector: &NodeSelector, node: &Node) -> bool {
    selector
        .node_selector_terms
        .iter()
        .any(|term| term_matches(term, node))
}

/// A term's requirements are ANDed; an empty term matches nothing.
fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let name = node.metadata.name.clone().unwrap_or_default();
    expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            // metadata.name is the only field a node selector may name.
            r.key == "metadata.name" && requirement_matches(r, Some(&name))
        })
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or(&[]);
    let number = |v: &str| v.parse::<i64>().ok();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if requirement.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSpec, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: some(key),
            operator: some(operator),
            value: some(value),
            effect: some(effect),
            toleration_seconds: None,
        }
    }

    #[test]
    fn toleration_matching() {
        let t = taint("k", "v", NO_EXECUTE);
        let cases = [
            (toleration("k", "Equal", "v", NO_EXECUTE), true),
            (toleration("k", "", "v", ""), true),
            (toleration("k", "Equal", "w", NO_EXECUTE), false),
            (toleration("k", "Exists", "", ""), true),
            (toleration("", "Exists", "", ""), true),
            (toleration("", "Exists", "", NO_SCHEDULE), false),
            (toleration("other", "Exists", "", ""), false),
        ];
        for (toleration, expected) in cases {
            assert_eq!(tolerates(&toleration, &t), expected, "{toleration:?}");
        }
    }

    #[test]
    fn matching_tolerations_needs_every_taint() {
        let taints = [
            taint(UNREACHABLE, "", NO_EXECUTE),
            taint(NOT_READY, "", NO_EXECUTE),
        ];
        let one = [toleration(UNREACHABLE, "Exists", "", NO_EXECUTE)];
        assert!(matching_tolerations(&taints, &one).is_none());
        let both = [
            toleration(UNREACHABLE, "Exists", "", NO_EXECUTE),
            toleration(NOT_READY, "Exists", "", NO_EXECUTE),
        ];
        assert_eq!(
            matching_tolerations(&taints, &both).map(|u| u.len()),
            Some(2)
        );
        assert_eq!(matching_tolerations(&[], &one).map(|u| u.len()), Some(0));
        assert!(tolerates_all(&one, &taints, |t| t.key == UNREACHABLE));
    }

    fn node(name: &str, labels: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec::default()),
            status: None,
        }
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn pod_requiring(terms: Vec<NodeSelectorTerm>, selector: &[(&str, &str)]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_selector: (!selector.is_empty()).then(|| {
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                affinity: Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                            node_selector_terms: terms,
                        }),
                        ..NodeAffinity::default()
                    }),
                    ..Affinity::default()
                }),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn node_affinity() {
        let n = node("n1", &[("zone", "a"), ("cpus", "8")]);
        let term = |exprs: Vec<NodeSelectorRequirement>, fields: Vec<NodeSelectorRequirement>| {
            NodeSelectorTerm {
                match_expressions: Some(exprs),
                match_fields: Some(fields),
            }
        };
        let cases = [
            (
                vec![term(vec![requirement("zone", "In", &["a", "b"])], vec![])],
                &[][..],
                true,
            ),
            (
                vec![term(vec![requirement("zone", "NotIn", &["a"])], vec![])],
                &[][..],
                false,
            ),
            (
                vec![term(vec![requirement("gpu", "DoesNotExist", &[])], vec![])],
                &[][..],
                true,
            ),
            (
                vec![term(vec![requirement("cpus", "Gt", &["4"])], vec![])],
                &[][..],
                true,
            ),
            (
                vec![term(vec![requirement("cpus", "Lt", &["4"])], vec![])],
                &[][..],
                false,
            ),
            (
                vec![term(
                    vec![],
                    vec![requirement("metadata.name", "In", &["n1"])],
                )],
                &[][..],
                true,
            ),
            (
                vec![term(
                    vec![],
                    vec![requirement("metadata.name", "In", &["n2"])],
                )],
                &[][..],
                false,
            ),
            (
                vec![
                    term(vec![], vec![requirement("metadata.name", "In", &["n2"])]),
                    term(vec![requirement("zone", "Exists", &[])], vec![]),
                ],
                &[][..],
                true,
            ),
            (vec![term(vec![], vec![])], &[][..], false),
            (vec![], &[][..], false),
            (
                vec![term(vec![requirement("zone", "Exists", &[])], vec![])],
                &[("zone", "b")][..],
                false,
            ),
        ];
        for (i, (terms, selector, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                fits_node_affinity(&pod_requiring(terms, selector), &n),
                expected,
                "case {i}"
            );
        }
        assert!(fits_node_affinity(&Pod::default(), &n));
    }
}
