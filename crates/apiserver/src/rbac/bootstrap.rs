//! The default RBAC policy a new cluster starts with, and the small builders its data is written in.
//!
//! The data is transcribed from Kubernetes' bootstrap policy with the default feature gates of
//! 1.33, so the rules of features that are off by default there (dynamic resource allocation)
//! are left out: the cluster-wide roles and bindings are in `bootstrap_cluster`; the controller
//! roles, the kube-system and kube-public Roles and kubeadm's bindings in `bootstrap_system`.

use serde_json::{Map, Value, json};

use super::{Policy, bootstrap_cluster, bootstrap_system};

pub(super) const CORE: &str = "";
pub(super) const APPS: &str = "apps";
pub(super) const AUTHENTICATION: &str = "authentication.k8s.io";
pub(super) const AUTHORIZATION: &str = "authorization.k8s.io";
pub(super) const BATCH: &str = "batch";
pub(super) const CERTIFICATES: &str = "certificates.k8s.io";
pub(super) const COORDINATION: &str = "coordination.k8s.io";
pub(super) const DISCOVERY: &str = "discovery.k8s.io";
pub(super) const EXTENSIONS: &str = "extensions";
pub(super) const POLICY: &str = "policy";
pub(super) const STORAGE: &str = "storage.k8s.io";
pub(super) const AUTOSCALING: &str = "autoscaling";
pub(super) const NETWORKING: &str = "networking.k8s.io";
pub(super) const RBAC: &str = "rbac.authorization.k8s.io";

pub(super) const READ: &[&str] = &["get", "list", "watch"];
pub(super) const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
pub(super) const READ_WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
pub(super) const READ_UPDATE: &[&str] = &["get", "list", "patch", "update", "watch"];

pub(super) const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
pub(super) const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
pub(super) const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// A PolicyRule under construction.
#[derive(Default)]
pub(super) struct RuleBuilder {
    verbs: Vec<&'static str>,
    groups: Vec<&'static str>,
    resources: Vec<&'static str>,
    names: Vec<&'static str>,
    urls: Vec<&'static str>,
}

/// A resource rule: `r(READ, &[CORE], "pods services")`, resources separated by spaces.
pub(super) fn r(
    verbs: &[&'static str],
    groups: &[&'static str],
    resources: &'static str,
) -> RuleBuilder {
    RuleBuilder {
        verbs: verbs.to_vec(),
        groups: groups.to_vec(),
        resources: resources.split_whitespace().collect(),
        ..RuleBuilder::default()
    }
}

/// A non-resource rule: `urls(&["get"], "/healthz /version")`.
pub(super) fn urls(verbs: &[&'static str], urls: &'static str) -> RuleBuilder {
    RuleBuilder {
        verbs: verbs.to_vec(),
        urls: urls.split_whitespace().collect(),
        ..RuleBuilder::default()
    }
}

impl RuleBuilder {
    /// Limits the rule to objects of these names, separated by spaces.
    pub(super) fn names(mut self, names: &'static str) -> Self {
        self.names = names.split_whitespace().collect();
        self
    }

    /// The rule as the API shows it: verbs, resources, names and URLs sorted, as Kubernetes'
    /// rule builder sorts them; API groups in the order given.
    fn build(self) -> Value {
        let sorted = |mut list: Vec<&str>| {
            list.sort_unstable();
            json!(list)
        };
        let mut out = Map::new();
        if !self.groups.is_empty() || !self.resources.is_empty() {
            out.insert("apiGroups".into(), json!(self.groups));
            out.insert("resources".into(), sorted(self.resources));
        }
        if !self.names.is_empty() {
            out.insert("resourceNames".into(), sorted(self.names));
        }
        if !self.urls.is_empty() {
            out.insert("nonResourceURLs".into(), sorted(self.urls));
        }
        out.insert("verbs".into(), sorted(self.verbs));
        Value::Object(out)
    }
}

/// Create, update and patch events in both event APIs.
pub(super) fn events_rule() -> RuleBuilder {
    r(
        &["create", "patch", "update"],
        &[CORE, "events.k8s.io"],
        "events",
    )
}

/// Who a binding binds.
pub(super) enum Subject {
    User(&'static str),
    Group(&'static str),
    /// (namespace, name)
    ServiceAccount(&'static str, &'static str),
}

fn subject_json(subject: &Subject) -> Value {
    match subject {
        Subject::User(name) => json!({"apiGroup": RBAC, "kind": "User", "name": name}),
        Subject::Group(name) => json!({"apiGroup": RBAC, "kind": "Group", "name": name}),
        Subject::ServiceAccount(namespace, name) => {
            json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
        }
    }
}

/// Whether an object is one of kube-apiserver's own defaults (labelled and auto-updated) or
/// created by kubeadm (neither).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Kubernetes,
    Kubeadm,
}

fn metadata(origin: Origin, namespace: &str, name: &str, labels: &[(&str, &str)]) -> Value {
    let mut meta = json!({"name": name});
    if !namespace.is_empty() {
        meta["namespace"] = json!(namespace);
    }
    let mut all: Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if origin == Origin::Kubernetes {
        all.insert("kubernetes.io/bootstrapping".into(), json!("rbac-defaults"));
        meta["annotations"] = json!({"rbac.authorization.kubernetes.io/autoupdate": "true"});
    }
    if !all.is_empty() {
        meta["labels"] = Value::Object(all);
    }
    meta
}

fn rules_json(rules: Vec<RuleBuilder>) -> Value {
    Value::Array(rules.into_iter().map(RuleBuilder::build).collect())
}

pub(super) fn cluster_role(origin: Origin, name: &str, rules: Vec<RuleBuilder>) -> Value {
    labelled_cluster_role(origin, name, &[], rules)
}

pub(super) fn labelled_cluster_role(
    origin: Origin,
    name: &str,
    labels: &[(&str, &str)],
    rules: Vec<RuleBuilder>,
) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(origin, "", name, labels),
        "rules": rules_json(rules),
    })
}

/// A ClusterRole whose rules are those of the ClusterRoles labelled `selector: "true"`.
pub(super) fn aggregated_cluster_role(
    name: &str,
    labels: &[(&str, &str)],
    selector: &str,
) -> Value {
    json!({
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {selector: "true"}}]},
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(Origin::Kubernetes, "", name, labels),
        "rules": [],
    })
}

pub(super) fn cluster_role_binding(
    origin: Origin,
    name: &str,
    role: &str,
    subjects: &[Subject],
) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(origin, "", name, &[]),
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
        "subjects": subjects.iter().map(subject_json).collect::<Vec<_>>(),
    })
}

pub(super) fn role(origin: Origin, namespace: &str, name: &str, rules: Vec<RuleBuilder>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(origin, namespace, name, &[]),
        "rules": rules_json(rules),
    })
}

/// A RoleBinding to the Role `role` of its own namespace.
pub(super) fn role_binding(
    origin: Origin,
    namespace: &str,
    name: &str,
    role: &str,
    subjects: &[Subject],
) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(origin, namespace, name, &[]),
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": role},
        "subjects": subjects.iter().map(subject_json).collect::<Vec<_>>(),
    })
}

/// The default bootstrap ClusterRoles, ClusterRoleBindings, Roles and RoleBindings that
/// kube-apiserver 1.33 creates (annotation `rbac.authorization.kubernetes.io/autoupdate: "true"`,
/// label `kubernetes.io/bootstrapping: rbac-defaults`), as (plural, object JSON) pairs.
///
/// Also kubeadm's bootstrap-token bindings (without those label and annotation, as kubeadm
/// creates them), and one choice of ours: `system:node` is bound to the group `system:nodes`.
/// Kubernetes leaves that binding without subjects because its Node authorizer grants nodes
/// their access; hakube has no Node authorizer, so nodes get the role directly.
///
/// Aggregated ClusterRoles (`admin`, `edit`, `view`) come with their rules filled in, as they
/// read on a running cluster once the aggregation controller has run.
pub fn bootstrap_policy() -> Vec<(&'static str, Value)> {
    let mut cluster_roles = bootstrap_cluster::cluster_roles();
    cluster_roles.extend(bootstrap_system::controller_roles());
    cluster_roles.extend(bootstrap_system::kubeadm_cluster_roles());
    let mut policy = Policy::default();
    for role in &cluster_roles {
        policy.upsert("clusterroles", role.clone());
    }
    for role in &mut cluster_roles {
        let name = role["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(rules) = policy.aggregated_rules(&name) {
            role["rules"] = Value::Array(rules);
        }
    }
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    out.extend(cluster_roles.into_iter().map(|r| ("clusterroles", r)));
    let bindings = bootstrap_cluster::cluster_role_bindings()
        .into_iter()
        .chain(bootstrap_system::controller_role_bindings())
        .chain(bootstrap_system::kubeadm_cluster_role_bindings());
    out.extend(bindings.map(|b| ("clusterrolebindings", b)));
    out.extend(
        bootstrap_system::namespace_roles()
            .into_iter()
            .map(|r| ("roles", r)),
    );
    out.extend(
        bootstrap_system::namespace_role_bindings()
            .into_iter()
            .map(|b| ("rolebindings", b)),
    );
    out
}
