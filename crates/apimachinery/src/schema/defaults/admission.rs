//! What kube-apiserver's default admission plugins add to every new Pod, for servers that do not
//! run those plugins separately: the `default` service account, priority 0 with its preemption
//! policy, and five minutes of tolerance for unready or unreachable nodes.
//!
//! The service account token volume is left to the server: its name carries a random suffix.

use serde_json::{Value, json};

use super::{child, set};

/// The taints the node lifecycle controller puts on failing nodes.
const NODE_TAINTS: [&str; 2] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];

/// How long a Pod stays bound to a failing node by default, in seconds.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Applies the ServiceAccount, Priority and DefaultTolerationSeconds admission defaults to a Pod
/// being created.
pub fn admit_pod(pod: &mut Value) {
    let mirror = pod
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some();
    let Some(spec) = child(pod, "spec") else {
        return;
    };
    if !mirror
        && spec
            .get("serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        spec["serviceAccountName"] = json!("default");
        spec["serviceAccount"] = json!("default");
    }
    let has_class = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty());
    if !has_class {
        set(spec, "priority", json!(0));
        set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
    for taint in NODE_TAINTS {
        let tolerated = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|t| tolerates(t, taint)));
        if !tolerated {
            let entry = json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            });
            match spec.get_mut("tolerations").and_then(Value::as_array_mut) {
                Some(list) => list.push(entry),
                None => spec["tolerations"] = json!([entry]),
            }
        }
    }
}

/// Whether a toleration already covers a NoExecute taint with this key.
fn tolerates(toleration: &Value, taint: &str) -> bool {
    let field = |name: &str| toleration.get(name).and_then(Value::as_str).unwrap_or("");
    let key_matches =
        field("key") == taint || (field("key").is_empty() && field("operator") == "Exists");
    let effect = field("effect");
    key_matches && (effect.is_empty() || effect == "NoExecute")
}
