//! The system:controller:* roles for the controllers hakube runs, the kube-system and kube-public
//! Roles kube-apiserver creates, and kubeadm's bootstrap-token bindings.

use serde_json::Value;

use super::bootstrap::{
    APPS, BATCH, COORDINATION, CORE, DISCOVERY, EXTENSIONS, Origin, POLICY, READ, RuleBuilder,
    Subject, cluster_role, cluster_role_binding, events_rule, r, role, role_binding,
};

const KUBE_SYSTEM: &str = "kube-system";
const KUBE_PUBLIC: &str = "kube-public";
const KUBEADM_NODE_TOKEN_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

/// Each controller's service account in kube-system and the rules of its
/// `system:controller:<name>` ClusterRole.
#[rustfmt::skip]
fn controllers() -> Vec<(&'static str, Vec<RuleBuilder>)> {
    let apps_ext = &[APPS, EXTENSIONS];
    vec![
        (
            "cronjob-controller",
            vec![
                r(&["get", "list", "update", "watch"], &[BATCH], "cronjobs"),
                r(
                    &[
                        "create", "delete", "get", "list", "patch", "update", "watch",
                    ],
                    &[BATCH],
                    "jobs",
                ),
                r(&["update"], &[BATCH], "cronjobs/status"),
                r(&["update"], &[BATCH], "cronjobs/finalizers"),
                r(&["delete", "list"], &[CORE], "pods"),
                events_rule(),
            ],
        ),
        (
            "daemon-set-controller",
            vec![
                r(READ, apps_ext, "daemonsets"),
                r(&["update"], apps_ext, "daemonsets/status"),
                r(&["update"], apps_ext, "daemonsets/finalizers"),
                r(&["list", "watch"], &[CORE], "nodes"),
                r(&["create", "delete", "list", "patch", "watch"], &[CORE], "pods"),
                r(&["create"], &[CORE], "pods/binding"),
                r(
                    &[
                        "create", "delete", "get", "list", "patch", "update", "watch",
                    ],
                    &[APPS],
                    "controllerrevisions",
                ),
                events_rule(),
            ],
        ),
        (
            "deployment-controller",
            vec![
                r(&["get", "list", "update", "watch"], apps_ext, "deployments"),
                r(&["update"], apps_ext, "deployments/status"),
                r(&["update"], apps_ext, "deployments/finalizers"),
                r(
                    &[
                        "create", "delete", "get", "list", "patch", "update", "watch",
                    ],
                    apps_ext,
                    "replicasets",
                ),
                r(&["get", "list", "update", "watch"], &[CORE], "pods"),
                events_rule(),
            ],
        ),
        (
            "disruption-controller",
            vec![
                r(READ, apps_ext, "deployments"),
                r(READ, apps_ext, "replicasets"),
                r(READ, &[CORE], "replicationcontrollers"),
                r(READ, &[POLICY], "poddisruptionbudgets"),
                r(READ, &[APPS], "statefulsets"),
                r(&["update"], &[POLICY], "poddisruptionbudgets/status"),
                r(&["patch", "update"], &[CORE], "pods/status"),
                r(&["get"], &["*"], "*/scale"),
                events_rule(),
            ],
        ),
        (
            "endpoint-controller",
            vec![
                r(READ, &[CORE], "pods services"),
                r(&["create", "delete", "get", "list", "update"], &[CORE], "endpoints"),
                r(&["create"], &[CORE], "endpoints/restricted"),
                events_rule(),
            ],
        ),
        (
            "endpointslice-controller",
            vec![
                r(READ, &[CORE], "nodes pods services"),
                r(&["update"], &[CORE], "services/finalizers"),
                r(&["create", "delete", "get", "list", "update"], &[DISCOVERY], "endpointslices"),
                events_rule(),
            ],
        ),
        (
            "generic-garbage-collector",
            vec![
                r(&["delete", "get", "list", "patch", "update", "watch"], &["*"], "*"),
                events_rule(),
            ],
        ),
        (
            "job-controller",
            vec![
                r(&["get", "list", "patch", "update", "watch"], &[BATCH], "jobs"),
                r(&["update"], &[BATCH], "jobs/status"),
                r(&["update"], &[BATCH], "jobs/finalizers"),
                r(&["create", "delete", "list", "patch", "watch"], &[CORE], "pods"),
                events_rule(),
            ],
        ),
        (
            "namespace-controller",
            vec![
                r(&["delete", "get", "list", "watch"], &[CORE], "namespaces"),
                r(&["update"], &[CORE], "namespaces/finalize namespaces/status"),
                r(&["delete", "deletecollection", "get", "list"], &["*"], "*"),
            ],
        ),
        (
            "node-controller",
            vec![
                r(&["delete", "get", "list", "patch", "update"], &[CORE], "nodes"),
                r(&["patch", "update"], &[CORE], "nodes/status"),
                r(&["patch", "update"], &[CORE], "pods/status"),
                r(&["delete", "get", "list"], &[CORE], "pods"),
                events_rule(),
            ],
        ),
        (
            "pod-garbage-collector",
            vec![
                r(&["delete", "list", "watch"], &[CORE], "pods"),
                r(&["get", "list"], &[CORE], "nodes"),
                r(&["patch"], &[CORE], "pods/status"),
            ],
        ),
        (
            "replicaset-controller",
            vec![
                r(&["get", "list", "update", "watch"], apps_ext, "replicasets"),
                r(&["update"], apps_ext, "replicasets/status"),
                r(&["update"], apps_ext, "replicasets/finalizers"),
                r(&["create", "delete", "list", "patch", "watch"], &[CORE], "pods"),
                events_rule(),
            ],
        ),
        (
            "root-ca-cert-publisher",
            vec![
                r(&["create", "update"], &[CORE], "configmaps"),
                events_rule(),
            ],
        ),
        (
            "service-account-controller",
            vec![r(&["create"], &[CORE], "serviceaccounts"), events_rule()],
        ),
        (
            "statefulset-controller",
            vec![
                r(&["list", "watch"], &[CORE], "pods"),
                r(READ, &[APPS], "statefulsets"),
                r(&["update"], &[APPS], "statefulsets/status"),
                r(&["update"], &[APPS], "statefulsets/finalizers"),
                r(&["create", "delete", "get", "patch", "update"], &[CORE], "pods"),
                r(
                    &[
                        "create", "delete", "get", "list", "patch", "update", "watch",
                    ],
                    &[APPS],
                    "controllerrevisions",
                ),
                r(&["create", "get", "list", "watch"], &[CORE], "persistentvolumeclaims"),
                events_rule(),
                r(&["delete", "update"], &[CORE], "persistentvolumeclaims"),
                r(&["update"], &[CORE], "pods/finalizers"),
            ],
        ),
    ]
}

pub(super) fn controller_roles() -> Vec<Value> {
    controllers()
        .into_iter()
        .map(|(name, rules)| {
            cluster_role(
                Origin::Kubernetes,
                &format!("system:controller:{name}"),
                rules,
            )
        })
        .collect()
}

/// `system:controller:<name>` bound to service account kube-system/<name>.
pub(super) fn controller_role_bindings() -> Vec<Value> {
    controllers()
        .into_iter()
        .map(|(name, _)| {
            let role = format!("system:controller:{name}");
            cluster_role_binding(
                Origin::Kubernetes,
                &role,
                &role,
                &[Subject::ServiceAccount(KUBE_SYSTEM, name)],
            )
        })
        .collect()
}

#[rustfmt::skip]
pub(super) fn namespace_roles() -> Vec<Value> {
    use Origin::{Kubeadm, Kubernetes as K};
    let configmap_reader = |namespace: &str, name: &str, configmap: &'static str| {
        role(
            Kubeadm,
            namespace,
            name,
            vec![r(&["get"], &[CORE], "configmaps").names(configmap)],
        )
    };
    vec![
        role(
            K,
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
            vec![r(READ, &[CORE], "configmaps").names("extension-apiserver-authentication")],
        ),
        role(
            K,
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            vec![
                r(&["watch"], &[CORE], "configmaps"),
                r(&["get", "update"], &[CORE], "configmaps").names("kube-controller-manager"),
                r(&["create", "get", "list", "update", "watch"], &[COORDINATION], "leases"),
            ],
        ),
        role(
            K,
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            vec![
                r(&["watch"], &[CORE], "configmaps"),
                r(&["get", "update"], &[CORE], "configmaps").names("kube-scheduler"),
            ],
        ),
        role(
            K,
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            vec![r(READ, &[CORE], "secrets")],
        ),
        role(
            K,
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            vec![r(&["create", "get", "list", "watch"], &[CORE], "configmaps")],
        ),
        role(
            K,
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            vec![
                r(&["delete", "get", "list", "watch"], &[CORE], "secrets"),
                events_rule(),
            ],
        ),
        role(
            K,
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            vec![
                r(READ, &[CORE], "configmaps"),
                r(&["update"], &[CORE], "configmaps").names("cluster-info"),
                events_rule(),
            ],
        ),
        // kubeadm: joining nodes read the cluster-info ConfigMap before they have credentials.
        configmap_reader(
            KUBE_PUBLIC,
            "kubeadm:bootstrap-signer-clusterinfo",
            "cluster-info",
        ),
    ]
}

#[rustfmt::skip]
pub(super) fn namespace_role_bindings() -> Vec<Value> {
    use Origin::{Kubeadm, Kubernetes as K};
    use Subject::{ServiceAccount, User};
    vec![
        role_binding(
            K,
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            &[
                User("system:kube-controller-manager"),
                User("system:kube-scheduler"),
            ],
        ),
        role_binding(
            K,
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            "system::leader-locking-kube-controller-manager",
            &[
                User("system:kube-controller-manager"),
                ServiceAccount(KUBE_SYSTEM, "kube-controller-manager"),
                ServiceAccount(KUBE_SYSTEM, "leader-election-controller"),
            ],
        ),
        role_binding(
            K,
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            "system::leader-locking-kube-scheduler",
            &[
                User("system:kube-scheduler"),
                ServiceAccount(KUBE_SYSTEM, "kube-scheduler"),
            ],
        ),
        role_binding(
            K,
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            &[ServiceAccount(KUBE_SYSTEM, "bootstrap-signer")],
        ),
        role_binding(
            K,
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            "system:controller:cloud-provider",
            &[ServiceAccount(KUBE_SYSTEM, "cloud-provider")],
        ),
        role_binding(
            K,
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            "system:controller:token-cleaner",
            &[ServiceAccount(KUBE_SYSTEM, "token-cleaner")],
        ),
        role_binding(
            K,
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            &[ServiceAccount(KUBE_SYSTEM, "bootstrap-signer")],
        ),
        role_binding(
            Kubeadm,
            KUBE_PUBLIC,
            "kubeadm:bootstrap-signer-clusterinfo",
            "kubeadm:bootstrap-signer-clusterinfo",
            &[User("system:anonymous")],
        ),
    ]
}

pub(super) fn kubeadm_cluster_roles() -> Vec<Value> {
    vec![cluster_role(
        Origin::Kubeadm,
        "kubeadm:get-nodes",
        vec![r(&["get"], &[CORE], "nodes")],
    )]
}

/// kubeadm's bindings for nodes joining with a bootstrap token (group
/// `system:bootstrappers:kubeadm:default-node-token`): read nodes, ask for a client certificate
/// and have it approved, and later rotate it as `system:nodes`.
#[rustfmt::skip]
pub(super) fn kubeadm_cluster_role_bindings() -> Vec<Value> {
    use Subject::Group;
    let bind = |name: &str, role: &str, subjects: &[Subject]| {
        cluster_role_binding(Origin::Kubeadm, name, role, subjects)
    };
    vec![
        bind(
            "kubeadm:get-nodes",
            "kubeadm:get-nodes",
            &[Group(KUBEADM_NODE_TOKEN_GROUP)],
        ),
        bind(
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            &[Group(KUBEADM_NODE_TOKEN_GROUP)],
        ),
        bind(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            &[Group(KUBEADM_NODE_TOKEN_GROUP)],
        ),
        bind(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            &[Group("system:nodes")],
        ),
    ]
}
