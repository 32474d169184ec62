//! What server-side apply needs to know of a kind's schema: which lists are keyed (and by which
//! fields), which are sets, which objects are atomic, and which fields kube's typed objects always
//! carry. These are the `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
//! `x-kubernetes-map-type` markers of the Kubernetes 1.33 types.
//!
//! Fields are named by their dotted path with list positions left out, as in
//! [`merge_strategy`]: `spec.template.spec.containers.ports` in a Deployment. Lists this table does
//! not list take the strategic merge key when they have one (kube's OpenAPI converter does the
//! same for lists without a list type), and are atomic otherwise; objects are granular unless
//! listed.

use serde_json::Value;

use crate::patch::{MergeStrategy, merge_strategy};

/// One key field of a keyed list, and the value kube assumes when an item leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

/// How a list's items are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced and owned whole.
    Atomic,
    /// Scalars owned one by one (`finalizers`).
    Set,
    /// Objects owned one by one, identified by these fields.
    Map(&'static [ListKey]),
}

/// What a rule says of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    List(ListType),
    /// An object replaced and owned whole (`+structType=atomic`, `+mapType=atomic`).
    AtomicObject,
}

/// Where a rule's path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// An object's own `metadata`.
    Meta,
    /// A PodSpec, wherever the kind keeps one.
    PodSpec,
    /// A container, init container or ephemeral container of a PodSpec.
    Container,
    /// The root of one kind.
    Kind(&'static str),
}

const fn key(name: &'static str) -> ListKey {
    ListKey {
        name,
        default: None,
    }
}

const NAME: &[ListKey] = &[key("name")];
const PROTOCOL_TCP: ListKey = ListKey {
    name: "protocol",
    default: Some("TCP"),
};

use Rule::{AtomicObject, List};
use Scope::{Container, Kind, Meta, PodSpec};

static RULES: &[(Scope, &str, Rule)] = &[
    (Meta, "finalizers", List(ListType::Set)),
    (Meta, "ownerReferences", List(ListType::Map(&[key("uid")]))),
    (Meta, "managedFields", List(ListType::Atomic)),
    (PodSpec, "containers", List(ListType::Map(NAME))),
    (PodSpec, "initContainers", List(ListType::Map(NAME))),
    (PodSpec, "ephemeralContainers", List(ListType::Map(NAME))),
    (PodSpec, "volumes", List(ListType::Map(NAME))),
    (PodSpec, "imagePullSecrets", List(ListType::Map(NAME))),
    (PodSpec, "hostAliases", List(ListType::Map(&[key("ip")]))),
    (
        PodSpec,
        "topologySpreadConstraints",
        List(ListType::Map(&[
            key("topologyKey"),
            key("whenUnsatisfiable"),
        ])),
    ),
    (
        PodSpec,
        "topologySpreadConstraints.labelSelector",
        AtomicObject,
    ),
    (PodSpec, "schedulingGates", List(ListType::Map(NAME))),
    (PodSpec, "resourceClaims", List(ListType::Map(NAME))),
    (
        PodSpec,
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        AtomicObject,
    ),
    (
        Container,
        "ports",
        List(ListType::Map(&[key("containerPort"), PROTOCOL_TCP])),
    ),
    (Container, "env", List(ListType::Map(NAME))),
    (Container, "env.valueFrom.fieldRef", AtomicObject),
    (Container, "env.valueFrom.resourceFieldRef", AtomicObject),
    (Container, "env.valueFrom.configMapKeyRef", AtomicObject),
    (Container, "env.valueFrom.secretKeyRef", AtomicObject),
    (
        Container,
        "volumeMounts",
        List(ListType::Map(&[key("mountPath")])),
    ),
    (
        Container,
        "volumeDevices",
        List(ListType::Map(&[key("devicePath")])),
    ),
    (Container, "resources.claims", List(ListType::Map(NAME))),
    (
        Kind("Service"),
        "spec.ports",
        List(ListType::Map(&[key("port"), PROTOCOL_TCP])),
    ),
    (Kind("Service"), "spec.selector", AtomicObject),
    (Kind("ReplicationController"), "spec.selector", AtomicObject),
    (Kind("Deployment"), "spec.selector", AtomicObject),
    (Kind("ReplicaSet"), "spec.selector", AtomicObject),
    (Kind("StatefulSet"), "spec.selector", AtomicObject),
    (Kind("DaemonSet"), "spec.selector", AtomicObject),
    (Kind("Job"), "spec.selector", AtomicObject),
    (Kind("PodDisruptionBudget"), "spec.selector", AtomicObject),
    (Kind("NetworkPolicy"), "spec.podSelector", AtomicObject),
    (
        Kind("ValidatingWebhookConfiguration"),
        "webhooks",
        List(ListType::Map(NAME)),
    ),
    (
        Kind("MutatingWebhookConfiguration"),
        "webhooks",
        List(ListType::Map(NAME)),
    ),
];

/// Where each kind keeps its PodSpec.
static POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template.spec"),
    ("Deployment", "spec.template.spec"),
    ("ReplicaSet", "spec.template.spec"),
    ("StatefulSet", "spec.template.spec"),
    ("DaemonSet", "spec.template.spec"),
    ("ReplicationController", "spec.template.spec"),
    ("Job", "spec.template.spec"),
    ("CronJob", "spec.jobTemplate.spec.template.spec"),
];

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

const WORKLOAD_TEMPLATE: &str = r#"{"metadata":{},"spec":{"containers":null}}"#;

/// The fields kube's typed zero value of each kind carries (non-pointer structs, and lists
/// without `omitempty` as null), as far as objects and lists go. kube compares against typed
/// objects, so these fields are never "added" by a write and never get a `"."` entry: a
/// Deployment's `f:spec` and `f:template` have none, while `f:labels` and `f:rollingUpdate` do.
pub(super) fn skeleton_json(kind: &str) -> String {
    let t = WORKLOAD_TEMPLATE;
    match kind {
        "Pod" => r#"{"spec":{"containers":null},"status":{}}"#.to_string(),
        "PodTemplate" => format!(r#"{{"template":{t}}}"#),
        "Deployment" => format!(
            r#"{{"spec":{{"selector":null,"template":{t},"strategy":{{}}}},"status":{{}}}}"#
        ),
        "ReplicaSet" => format!(r#"{{"spec":{{"selector":null,"template":{t}}},"status":{{}}}}"#),
        "StatefulSet" | "DaemonSet" => format!(
            r#"{{"spec":{{"selector":null,"template":{t},"updateStrategy":{{}}}},"status":{{}}}}"#
        ),
        "Job" => format!(r#"{{"spec":{{"template":{t}}},"status":{{}}}}"#),
        "CronJob" => format!(
            r#"{{"spec":{{"jobTemplate":{{"metadata":{{}},"spec":{{"template":{t}}}}}}},"status":{{}}}}"#
        ),
        "ReplicationController" | "Namespace" | "PersistentVolume" | "PodDisruptionBudget" => {
            r#"{"spec":{},"status":{}}"#.to_string()
        }
        "Service" | "Ingress" => r#"{"spec":{},"status":{"loadBalancer":{}}}"#.to_string(),
        "Node" => {
            r#"{"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{}},"nodeInfo":{}}}"#
                .to_string()
        }
        "PersistentVolumeClaim" => r#"{"spec":{"resources":{}},"status":{}}"#.to_string(),
        "Role" | "ClusterRole" => r#"{"rules":null}"#.to_string(),
        "RoleBinding" | "ClusterRoleBinding" => r#"{"roleRef":{}}"#.to_string(),
        "NetworkPolicy" => r#"{"spec":{"podSelector":{}}}"#.to_string(),
        "HorizontalPodAutoscaler" => r#"{"spec":{"scaleTargetRef":{}},"status":{}}"#.to_string(),
        "Lease" => r#"{"spec":{}}"#.to_string(),
        "EndpointSlice" => r#"{"endpoints":null}"#.to_string(),
        "Event" => r#"{"involvedObject":{},"source":{}}"#.to_string(),
        _ => "{}".to_string(),
    }
}

/// The apply-relevant schema of one kind.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'k> {
    kind: &'k str,
}

impl<'k> Schema<'k> {
    pub fn new(kind: &'k str) -> Self {
        Schema { kind }
    }

    /// The rule for a dotted path, looked up from the most specific scope out.
    fn rule(&self, path: &str) -> Option<Rule> {
        let find = |scope: Scope, rest: &str| {
            RULES
                .iter()
                .find(|(s, p, _)| *s == scope && *p == rest)
                .map(|(_, _, r)| *r)
        };
        if let Some(rest) = path.strip_prefix("metadata.")
            && let Some(rule) = find(Meta, rest)
        {
            return Some(rule);
        }
        if let Some((_, spec)) = POD_SPECS.iter().find(|(k, _)| *k == self.kind)
            && let Some(rest) = path.strip_prefix(spec).and_then(|r| r.strip_prefix('.'))
        {
            let in_container = CONTAINER_LISTS.iter().find_map(|list| {
                rest.strip_prefix(list)
                    .and_then(|r| r.strip_prefix('.'))
                    .and_then(|r| find(Container, r))
            });
            if let Some(rule) = in_container.or_else(|| find(PodSpec, rest)) {
                return Some(rule);
            }
        }
        RULES
            .iter()
            .find(|(s, p, _)| matches!(s, Kind(k) if *k == self.kind) && *p == path)
            .map(|(_, _, r)| *r)
    }

    /// How the list at `path` is owned.
    pub fn list_type(&self, path: &str) -> ListType {
        match self.rule(path) {
            Some(List(list)) => list,
            Some(AtomicObject) => ListType::Atomic,
            None => match merge_strategy(self.kind, path) {
                Some(MergeStrategy::MergeByKey(name)) => {
                    single_key(name).map_or(ListType::Atomic, ListType::Map)
                }
                Some(MergeStrategy::MergeScalars) => ListType::Set,
                _ => ListType::Atomic,
            },
        }
    }

    /// Whether the object at `path` is replaced and owned whole.
    pub fn atomic_object(&self, path: &str) -> bool {
        match self.rule(path) {
            Some(AtomicObject) => true,
            Some(List(_)) => false,
            None => merge_strategy(self.kind, path) == Some(MergeStrategy::Replace),
        }
    }

    /// The typed zero value of the kind, as JSON (see [`skeleton_json`]).
    pub fn skeleton(&self) -> Value {
        // The texts above are constants; the tests parse every one of them.
        let mut skeleton: Value =
            serde_json::from_str(&skeleton_json(self.kind)).unwrap_or_default();
        if let Value::Object(map) = &mut skeleton {
            map.insert("metadata".into(), Value::Object(Default::default()));
        }
        skeleton
    }
}

/// A one-key list type for a strategic merge key. The keys must live in a static table, so the
/// key is looked up among the merge keys the strategy table uses.
fn single_key(name: &str) -> Option<&'static [ListKey]> {
    static SINGLE_KEYS: &[ListKey] = &[
        key("name"),
        key("type"),
        key("uid"),
        key("ip"),
        key("port"),
        key("containerPort"),
        key("mountPath"),
        key("devicePath"),
        key("topologyKey"),
    ];
    let i = SINGLE_KEYS.iter().position(|k| k.name == name)?;
    Some(&SINGLE_KEYS[i..=i])
}
