//! Tests for the RBAC authorizer, its messages and the bootstrap policy.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo::new(name, groups)
}

fn authenticated(name: &str) -> UserInfo {
    user(name, &["system:authenticated"])
}

fn subject(kind: &str, name: &str, namespace: &str) -> Value {
    match kind {
        "ServiceAccount" if namespace.is_empty() => json!({"kind": kind, "name": name}),
        "ServiceAccount" => json!({"kind": kind, "name": name, "namespace": namespace}),
        _ => json!({"apiGroup": RBAC_GROUP, "kind": kind, "name": name}),
    }
}

fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Value>) -> Value {
    json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

fn role_binding(
    namespace: &str,
    name: &str,
    kind: &str,
    role: &str,
    subjects: Vec<Value>,
) -> Value {
    json!({
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role},
        "subjects": subjects,
    })
}

/// The bootstrap policy plus a few users' bindings.
fn policy() -> Policy {
    let mut policy = Policy::default();
    for (plural, object) in bootstrap_policy() {
        policy.upsert(plural, object);
    }
    policy.upsert(
        "clusterrolebindings",
        cluster_role_binding("alice-view", "view", vec![subject("User", "alice", "")]),
    );
    policy.upsert(
        "rolebindings",
        role_binding(
            "dev",
            "bob-edit",
            "ClusterRole",
            "edit",
            vec![subject("User", "bob", "")],
        ),
    );
    policy.upsert(
        "rolebindings",
        role_binding(
            "dev",
            "erin-admin",
            "ClusterRole",
            "admin",
            vec![subject("User", "erin", "")],
        ),
    );
    policy.upsert(
        "roles",
        json!({
            "metadata": {"name": "web-reader", "namespace": "dev"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"], "verbs": ["get"]}],
        }),
    );
    policy.upsert(
        "rolebindings",
        role_binding(
            "dev",
            "carol-web",
            "Role",
            "web-reader",
            vec![subject("User", "carol", "")],
        ),
    );
    // A ServiceAccount subject without a namespace means the binding's namespace.
    policy.upsert(
        "rolebindings",
        role_binding(
            "dev",
            "ci",
            "ClusterRole",
            "edit",
            vec![subject("ServiceAccount", "ci", "")],
        ),
    );
    policy.upsert(
        "clusterroles",
        json!({
            "metadata": {"name": "scaler"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get", "update"]},
                {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]},
            ],
        }),
    );
    policy.upsert(
        "clusterrolebindings",
        cluster_role_binding(
            "dave-scaler",
            "scaler",
            vec![subject("Group", "scalers", "")],
        ),
    );
    policy
}

/// A resource request: (verb, namespace, group, resource, subresource, name).
type Request<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

fn resource_attrs<'a>(user: &'a UserInfo, request: Request<'a>) -> Attributes<'a> {
    let (verb, namespace, api_group, resource, subresource, name) = request;
    Attributes {
        user,
        verb,
        namespace,
        api_group,
        resource,
        subresource,
        name,
        resource_request: true,
        path: "",
    }
}

fn path_attrs<'a>(user: &'a UserInfo, verb: &'a str, path: &'a str) -> Attributes<'a> {
    Attributes {
        user,
        verb,
        namespace: "",
        api_group: "",
        resource: "",
        subresource: "",
        name: "",
        resource_request: false,
        path,
    }
}

#[test]
fn resource_requests() {
    use Decision::{Allow, Deny};
    let policy = policy();
    let admin = user(
        "kubernetes-admin",
        &["system:masters", "system:authenticated"],
    );
    let node = user("system:node:n1", &["system:nodes", "system:authenticated"]);
    let bootstrap = user(
        "system:bootstrap:abcdef",
        &[
            "system:bootstrappers",
            "system:bootstrappers:kubeadm:default-node-token",
            "system:authenticated",
        ],
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, UserInfo, Request, Decision)> = vec![
        ("masters do anything", admin.clone(), ("delete", "", "", "nodes", "", "n1"), Allow),
        ("masters escalate", admin.clone(), ("escalate", "", RBAC_GROUP, "clusterroles", "", ""), Allow),
        ("view gets pods", authenticated("alice"), ("get", "default", "", "pods", "", "web"), Allow),
        ("view lists deployments", authenticated("alice"), ("list", "prod", "apps", "deployments", "", ""), Allow),
        ("view reads logs", authenticated("alice"), ("get", "default", "", "pods", "log", "web"), Allow),
        ("view cannot read secrets", authenticated("alice"), ("get", "default", "", "secrets", "", "s"), Deny),
        ("view cannot exec", authenticated("alice"), ("create", "default", "", "pods", "exec", "web"), Deny),
        ("view cannot create", authenticated("alice"), ("create", "default", "", "pods", "", ""), Deny),
        ("edit creates deployments", authenticated("bob"), ("create", "dev", "apps", "deployments", "", ""), Allow),
        ("edit reads secrets", authenticated("bob"), ("get", "dev", "", "secrets", "", "s"), Allow),
        ("edit scales", authenticated("bob"), ("update", "dev", "apps", "deployments", "scale", "d"), Allow),
        ("edit cannot bind roles", authenticated("bob"), ("create", "dev", RBAC_GROUP, "rolebindings", "", ""), Deny),
        ("rolebinding stays in its namespace", authenticated("bob"), ("create", "default", "apps", "deployments", "", ""), Deny),
        ("rolebinding is not cluster-wide", authenticated("bob"), ("list", "", "", "pods", "", ""), Deny),
        ("admin binds roles", authenticated("erin"), ("create", "dev", RBAC_GROUP, "rolebindings", "", ""), Allow),
        ("admin has edit", authenticated("erin"), ("delete", "dev", "", "secrets", "", "s"), Allow),
        ("admin cannot touch quota", authenticated("erin"), ("update", "dev", "", "resourcequotas", "", "q"), Deny),
        ("resourceNames allow the named pod", authenticated("carol"), ("get", "dev", "", "pods", "", "web"), Allow),
        ("resourceNames refuse other pods", authenticated("carol"), ("get", "dev", "", "pods", "", "db"), Deny),
        ("resourceNames refuse lists", authenticated("carol"), ("list", "dev", "", "pods", "", ""), Deny),
        ("service account subject", authenticated("system:serviceaccount:dev:ci"), ("create", "dev", "", "pods", "", ""), Allow),
        ("service account of another namespace", authenticated("system:serviceaccount:other:ci"), ("create", "dev", "", "pods", "", ""), Deny),
        ("resource/subresource rule", user("dave", &["scalers"]), ("get", "dev", "", "pods", "log", "web"), Allow),
        ("*/subresource rule", user("dave", &["scalers"]), ("update", "dev", "apps", "statefulsets", "scale", "s"), Allow),
        ("*/subresource is not the resource", user("dave", &["scalers"]), ("get", "dev", "apps", "statefulsets", "", "s"), Deny),
        ("subresource rule is not the resource", user("dave", &["scalers"]), ("get", "dev", "", "pods", "", "web"), Deny),
        ("nodes read secrets", node.clone(), ("get", "default", "", "secrets", "", "s"), Allow),
        ("nodes evict", node.clone(), ("create", "default", "", "pods", "eviction", "p"), Allow),
        ("nodes cannot delete secrets", node, ("delete", "default", "", "secrets", "", "s"), Deny),
        ("scheduler binds pods", user("system:kube-scheduler", &[]), ("create", "default", "", "pods", "binding", "p"), Allow),
        ("scheduler holds its lease", user("system:kube-scheduler", &[]), ( "update", "kube-system", "coordination.k8s.io", "leases", "", "kube-scheduler", ), Allow),
        ("scheduler cannot take other leases", user("system:kube-scheduler", &[]), ( "update", "kube-system", "coordination.k8s.io", "leases", "", "other", ), Deny),
        ("controller SA", authenticated("system:serviceaccount:kube-system:deployment-controller"), ("create", "default", "apps", "replicasets", "", ""), Allow),
        ("controller SA limits", authenticated("system:serviceaccount:kube-system:deployment-controller"), ("create", "default", "", "secrets", "", ""), Deny),
        ("bootstrap token asks for a certificate", bootstrap.clone(), ( "create", "", "certificates.k8s.io", "certificatesigningrequests", "", "", ), Allow),
        ("bootstrap token gets nodes", bootstrap.clone(), ("get", "", "", "nodes", "", "n1"), Allow),
        ("bootstrap token lists no secrets", bootstrap, ("list", "kube-system", "", "secrets", "", ""), Deny),
        ("basic user reviews itself", authenticated("nobody"), ( "create", "", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ), Allow),
        ("anonymous reads cluster-info", user("system:anonymous", &["system:unauthenticated"]), ("get", "kube-public", "", "configmaps", "", "cluster-info"), Allow),
        ("anonymous reads nothing else", user("system:anonymous", &["system:unauthenticated"]), ("get", "kube-public", "", "configmaps", "", "other"), Deny),
    ];
    for (name, user, request, want) in cases {
        assert_eq!(
            policy.authorize(&resource_attrs(&user, request)),
            want,
            "{name}"
        );
    }
}

#[test]
fn non_resource_requests() {
    use Decision::{Allow, Deny};
    let policy = policy();
    let anonymous = user("system:anonymous", &["system:unauthenticated"]);
    #[rustfmt::skip]
    let cases: Vec<(&str, UserInfo, &str, &str, Decision)> = vec![
        ("anyone checks health", anonymous.clone(), "get", "/healthz", Allow),
        ("anyone reads the version", anonymous.clone(), "get", "/version", Allow),
        ("anonymous cannot discover", anonymous.clone(), "get", "/api", Deny),
        ("authenticated discover", authenticated("u"), "get", "/apis/apps/v1", Allow),
        ("prefix rule needs the prefix", authenticated("u"), "get", "/apisx", Deny),
        ("discovery is read-only", authenticated("u"), "post", "/api", Deny),
        ("metrics need monitoring", authenticated("u"), "get", "/metrics", Deny),
        ("monitoring reads metrics", user("m", &["system:monitoring"]), "get", "/metrics", Allow),
        ("monitoring reads checks", user("m", &["system:monitoring"]), "get", "/readyz/etcd", Allow),
        ("exact URL rule", user("dave", &["scalers"]), "get", "/metrics", Allow),
        ("wildcard URL rule", user("dave", &["scalers"]), "get", "/debug/pprof/heap", Allow),
        ("masters reach any path", user("root", &["system:masters"]), "delete", "/logs/x", Allow),
    ];
    for (name, user, verb, path, want) in cases {
        assert_eq!(
            policy.authorize(&path_attrs(&user, verb, path)),
            want,
            "{name}"
        );
    }
}

#[test]
fn aggregation_follows_label_changes() {
    let mut policy = policy();
    let alice = authenticated("alice");
    let erin = authenticated("erin");
    let widgets: Request = ("list", "dev", "example.com", "widgets", "", "");
    assert_eq!(
        policy.authorize(&resource_attrs(&alice, widgets)),
        Decision::Deny
    );
    policy.upsert(
        "clusterroles",
        json!({
            "metadata": {"name": "widget-viewer", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}],
        }),
    );
    // view aggregates the new role; admin aggregates edit, which aggregates view.
    assert_eq!(
        policy.authorize(&resource_attrs(&alice, widgets)),
        Decision::Allow
    );
    assert_eq!(
        policy.authorize(&resource_attrs(&erin, widgets)),
        Decision::Allow
    );
    policy.remove("clusterroles", "", "widget-viewer");
    assert_eq!(
        policy.authorize(&resource_attrs(&alice, widgets)),
        Decision::Deny
    );
    assert_eq!(
        policy.authorize(&resource_attrs(&erin, widgets)),
        Decision::Deny
    );

    // matchExpressions select too, and a selector cycle ends.
    policy.upsert(
        "clusterroles",
        json!({
            "metadata": {"name": "a", "labels": {"team": "x"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "team", "operator": "In", "values": ["x", "y"]}]}]},
        }),
    );
    policy.upsert(
        "clusterroles",
        json!({
            "metadata": {"name": "b", "labels": {"team": "y"}},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }),
    );
    assert_eq!(
        policy.aggregated_rules("a"),
        Some(vec![
            json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]})
        ])
    );
    assert_eq!(policy.aggregated_rules("b"), None);
}

#[test]
fn removing_a_binding_revokes_access() {
    let mut policy = policy();
    let bob = authenticated("bob");
    let request: Request = ("get", "dev", "", "secrets", "", "s");
    assert_eq!(
        policy.authorize(&resource_attrs(&bob, request)),
        Decision::Allow
    );
    policy.remove("rolebindings", "dev", "bob-edit");
    assert_eq!(
        policy.authorize(&resource_attrs(&bob, request)),
        Decision::Deny
    );
    // A binding to a role that does not exist grants nothing.
    policy.upsert(
        "rolebindings",
        role_binding(
            "dev",
            "dangling",
            "Role",
            "missing",
            vec![subject("User", "bob", "")],
        ),
    );
    assert_eq!(
        policy.authorize(&resource_attrs(&bob, request)),
        Decision::Deny
    );
}

#[test]
fn rules_for_lists_what_a_user_may_do() {
    let policy = policy();
    let (resource_rules, non_resource_rules) = policy.rules_for(&user("carol", &[]), "dev");
    assert_eq!(
        resource_rules,
        [
            json!({"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"], "verbs": ["get"]})
        ]
    );
    assert!(non_resource_rules.is_empty());
    // Elsewhere carol has nothing.
    assert_eq!(
        policy.rules_for(&user("carol", &[]), "prod"),
        (vec![], vec![])
    );

    let (resource_rules, non_resource_rules) =
        policy.rules_for(&user("root", &["system:masters"]), "");
    assert!(
        resource_rules.contains(&json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}))
    );
    assert!(non_resource_rules.contains(&json!({"nonResourceURLs": ["*"], "verbs": ["*"]})));
}

#[test]
fn forbidden_messages_match_kube_apiserver() {
    let bob = user("bob", &[]);
    let anonymous = user("system:anonymous", &[]);
    let cases: Vec<(Attributes, &str)> = vec![
        (
            resource_attrs(&bob, ("list", "default", "", "pods", "", "")),
            r#"pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default""#,
        ),
        (
            resource_attrs(&bob, ("list", "", "", "nodes", "", "")),
            r#"nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope"#,
        ),
        (
            resource_attrs(&bob, ("get", "default", "", "pods", "log", "web")),
            r#"pods "web" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "default""#,
        ),
        (
            resource_attrs(&bob, ("create", "default", "apps", "deployments", "", "")),
            r#"deployments.apps is forbidden: User "bob" cannot create resource "deployments" in API group "apps" in the namespace "default""#,
        ),
        (
            resource_attrs(&bob, ("get", "", RBAC_GROUP, "clusterroles", "", "admin")),
            r#"clusterroles.rbac.authorization.k8s.io "admin" is forbidden: User "bob" cannot get resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope"#,
        ),
        (
            path_attrs(&anonymous, "get", "/"),
            r#"forbidden: User "system:anonymous" cannot get path "/""#,
        ),
    ];
    for (attrs, want) in cases {
        assert_eq!(forbidden_message(&attrs), want);
    }
}

#[test]
fn bootstrap_policy_is_consistent() {
    let objects = bootstrap_policy();
    let mut names = BTreeSet::new();
    for (plural, object) in &objects {
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap();
        assert!(
            names.insert((*plural, namespace, name)),
            "duplicate {plural} {namespace}/{name}"
        );
        let kind = object["kind"].as_str().unwrap();
        assert_eq!(format!("{}s", kind.to_lowercase()), *plural, "{name}");
        if !name.starts_with("kubeadm:") {
            assert_eq!(
                object["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults",
                "{name}"
            );
            assert_eq!(
                object["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
                "true",
                "{name}"
            );
        }
    }
    // Every binding refers to a role that exists, in its namespace for Roles.
    for (plural, object) in &objects {
        let role_ref = &object["roleRef"];
        if role_ref.is_null() {
            continue;
        }
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let target = match role_ref["kind"].as_str().unwrap() {
            "ClusterRole" => ("clusterroles", ""),
            _ => ("roles", namespace),
        };
        let role = role_ref["name"].as_str().unwrap();
        assert!(
            names.contains(&(target.0, target.1, role)),
            "{plural} refers to missing {role}"
        );
        assert!(
            !object["subjects"].as_array().unwrap().is_empty(),
            "{plural} without subjects"
        );
    }
    // The aggregated roles come filled in, each a superset of the next.
    let rules = |name: &str| -> Vec<Value> {
        let (_, role) = objects
            .iter()
            .find(|(_, o)| o["metadata"]["name"] == name)
            .unwrap();
        assert!(role["aggregationRule"].is_object(), "{name}");
        role["rules"].as_array().unwrap().clone()
    };
    let (admin, edit, view) = (rules("admin"), rules("edit"), rules("view"));
    assert!(view.len() >= 10 && edit.len() > view.len() && admin.len() > edit.len());
    assert!(view.iter().all(|r| edit.contains(r)));
    assert!(edit.iter().all(|r| admin.contains(r)));
    // The controllers hakube runs each have a role and a binding to their service account.
    for controller in [
        "daemon-set-controller",
        "deployment-controller",
        "disruption-controller",
        "endpoint-controller",
        "endpointslice-controller",
        "generic-garbage-collector",
        "namespace-controller",
        "node-controller",
        "replicaset-controller",
        "service-account-controller",
        "statefulset-controller",
    ] {
        let name = format!("system:controller:{controller}");
        assert!(
            names.contains(&("clusterroles", "", name.as_str())),
            "{name}"
        );
        let (_, binding) = objects
            .iter()
            .find(|(p, o)| *p == "clusterrolebindings" && o["metadata"]["name"] == name.as_str())
            .unwrap();
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": controller, "namespace": "kube-system"}])
        );
    }
}
