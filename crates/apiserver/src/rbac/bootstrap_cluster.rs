//! The default ClusterRoles and ClusterRoleBindings kube-apiserver 1.33 creates, as data.

use serde_json::Value;

use super::bootstrap::*;

#[rustfmt::skip]
fn node_rules() -> Vec<RuleBuilder> {
    vec![
        r(&["create"], &[AUTHENTICATION], "tokenreviews"),
        r(&["create"], &[AUTHORIZATION], "localsubjectaccessreviews subjectaccessreviews"),
        r(READ, &[CORE], "services"),
        r(&["create", "get", "list", "watch"], &[CORE], "nodes"),
        r(&["patch", "update"], &[CORE], "nodes/status"),
        r(&["patch", "update"], &[CORE], "nodes"),
        r(&["create", "patch", "update"], &[CORE], "events"),
        r(READ, &[CORE], "pods"),
        r(&["create", "delete"], &[CORE], "pods"),
        r(&["patch", "update"], &[CORE], "pods/status"),
        r(&["create"], &[CORE], "pods/eviction"),
        r(READ, &[CORE], "configmaps secrets"),
        r(&["get"], &[CORE], "persistentvolumeclaims persistentvolumes"),
        r(&["get"], &[CORE], "endpoints"),
        r(&["create", "get", "list", "watch"], &[CERTIFICATES], "certificatesigningrequests"),
        r(&["create", "delete", "get", "patch", "update"], &[COORDINATION], "leases"),
        r(&["get"], &[STORAGE], "volumeattachments"),
        r(&["create"], &[CORE], "serviceaccounts/token"),
        r(&["get", "patch", "update"], &[CORE], "persistentvolumeclaims/status"),
        r(READ, &[STORAGE], "csidrivers"),
        r(&["create", "delete", "get", "patch", "update"], &[STORAGE], "csinodes"),
        r(READ, &["node.k8s.io"], "runtimeclasses"),
    ]
}

#[rustfmt::skip]
fn kube_scheduler_rules() -> Vec<RuleBuilder> {
    vec![
        events_rule(),
        r(&["create"], &[COORDINATION], "leases"),
        r(&["get", "list", "update", "watch"], &[COORDINATION], "leases").names("kube-scheduler"),
        r(READ_WRITE, &[COORDINATION], "leasecandidates"),
        r(READ, &[CORE], "nodes"),
        r(&["delete", "get", "list", "watch"], &[CORE], "pods"),
        r(&["create"], &[CORE], "bindings pods/binding"),
        r(&["patch", "update"], &[CORE], "pods/status"),
        r(READ, &[CORE], "replicationcontrollers services"),
        r(READ, &[APPS, EXTENSIONS], "replicasets"),
        r(READ, &[APPS], "statefulsets"),
        r(READ, &[POLICY], "poddisruptionbudgets"),
        r(READ, &[CORE], "persistentvolumeclaims persistentvolumes"),
        r(&["create"], &[AUTHENTICATION], "tokenreviews"),
        r(&["create"], &[AUTHORIZATION], "subjectaccessreviews"),
        r(READ, &[STORAGE], "csinodes"),
        r(READ, &[STORAGE], "volumeattachments"),
        r(READ, &[CORE], "namespaces"),
        r(READ, &[STORAGE], "csidrivers"),
        r(READ, &[STORAGE], "csistoragecapacities"),
    ]
}

#[rustfmt::skip]
pub(super) fn cluster_roles() -> Vec<Value> {
    use Origin::Kubernetes as K;
    let approver = |name: &str, signer: &'static str| {
        cluster_role(
            K,
            name,
            vec![r(&["approve"], &[CERTIFICATES], "signers").names(signer)],
        )
    };
    vec![
        aggregated_cluster_role("admin", &[], AGGREGATE_TO_ADMIN),
        cluster_role(
            K,
            "cluster-admin",
            vec![r(&["*"], &["*"], "*"), urls(&["*"], "*")],
        ),
        aggregated_cluster_role("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        labelled_cluster_role(
            K,
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                r(&["create"], &[AUTHORIZATION], "localsubjectaccessreviews"),
                r(READ_WRITE, &[RBAC], "rolebindings roles"),
            ],
        ),
        labelled_cluster_role(
            K,
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            vec![
                r(READ, &[CORE], "pods/attach pods/exec pods/portforward pods/proxy secrets \
                    services/proxy"),
                r(&["impersonate"], &[CORE], "serviceaccounts"),
                r(WRITE, &[CORE], "pods pods/attach pods/exec pods/portforward pods/proxy"),
                r(&["create"], &[CORE], "pods/eviction"),
                r(WRITE, &[CORE], "configmaps events persistentvolumeclaims \
                    replicationcontrollers replicationcontrollers/scale secrets serviceaccounts \
                    services services/proxy"),
                r(&["create"], &[CORE], "serviceaccounts/token"),
                r(WRITE, &[APPS], "daemonsets deployments deployments/rollback deployments/scale \
                    replicasets replicasets/scale statefulsets statefulsets/scale"),
                r(WRITE, &[AUTOSCALING], "horizontalpodautoscalers"),
                r(WRITE, &[BATCH], "cronjobs jobs"),
                r(WRITE, &[EXTENSIONS], "daemonsets deployments deployments/rollback \
                    deployments/scale ingresses networkpolicies replicasets replicasets/scale \
                    replicationcontrollers/scale"),
                r(WRITE, &[POLICY], "poddisruptionbudgets"),
                r(WRITE, &[NETWORKING], "ingresses networkpolicies"),
                r(READ_WRITE, &[COORDINATION], "leases"),
            ],
        ),
        labelled_cluster_role(
            K,
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            vec![
                r(READ, &[CORE], "configmaps endpoints persistentvolumeclaims \
                    persistentvolumeclaims/status pods replicationcontrollers \
                    replicationcontrollers/scale serviceaccounts services services/status"),
                r(READ, &[CORE], "bindings events limitranges namespaces/status pods/log \
                    pods/status replicationcontrollers/status resourcequotas \
                    resourcequotas/status"),
                r(READ, &[CORE], "namespaces"),
                r(READ, &[DISCOVERY], "endpointslices"),
                r(READ, &[APPS], "controllerrevisions daemonsets daemonsets/status deployments \
                    deployments/scale deployments/status replicasets replicasets/scale \
                    replicasets/status statefulsets statefulsets/scale statefulsets/status"),
                r(READ, &[AUTOSCALING], "horizontalpodautoscalers horizontalpodautoscalers/status"),
                r(READ, &[BATCH], "cronjobs cronjobs/status jobs jobs/status"),
                r(READ, &[EXTENSIONS], "daemonsets daemonsets/status deployments \
                    deployments/scale deployments/status ingresses ingresses/status \
                    networkpolicies replicasets replicasets/scale replicasets/status \
                    replicationcontrollers/scale"),
                r(READ, &[POLICY], "poddisruptionbudgets poddisruptionbudgets/status"),
                r(READ, &[NETWORKING], "ingresses ingresses/status networkpolicies"),
            ],
        ),
        cluster_role(
            K,
            "system:auth-delegator",
            vec![
                r(&["create"], &[AUTHENTICATION], "tokenreviews"),
                r(&["create"], &[AUTHORIZATION], "subjectaccessreviews"),
            ],
        ),
        cluster_role(
            K,
            "system:basic-user",
            vec![
                r(&["create"], &[AUTHORIZATION], "selfsubjectaccessreviews \
                    selfsubjectrulesreviews"),
                r(&["create"], &[AUTHENTICATION], "selfsubjectreviews"),
            ],
        ),
        cluster_role(
            K,
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![r(&["create"], &[CERTIFICATES], "certificatesigningrequests/nodeclient")],
        ),
        cluster_role(
            K,
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![r(&["create"], &[CERTIFICATES], "certificatesigningrequests/selfnodeclient")],
        ),
        approver(
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "kubernetes.io/kube-apiserver-client",
        ),
        approver(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "kubernetes.io/kube-apiserver-client-kubelet",
        ),
        approver(
            "system:certificates.k8s.io:kubelet-serving-approver",
            "kubernetes.io/kubelet-serving",
        ),
        approver(
            "system:certificates.k8s.io:legacy-unknown-approver",
            "kubernetes.io/legacy-unknown",
        ),
        cluster_role(
            K,
            "system:discovery",
            vec![urls(
                &["get"],
                "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version \
                    /version/",
            )],
        ),
        cluster_role(
            K,
            "system:heapster",
            vec![
                r(READ, &[CORE], "events namespaces nodes pods"),
                r(READ, &[EXTENSIONS], "deployments"),
            ],
        ),
        cluster_role(
            K,
            "system:kube-aggregator",
            vec![r(READ, &[CORE], "endpoints services")],
        ),
        cluster_role(
            K,
            "system:kube-controller-manager",
            vec![
                events_rule(),
                r(&["create"], &[COORDINATION], "leases"),
                r(&["get", "update"], &[COORDINATION], "leases").names("kube-controller-manager"),
                r(&["create"], &[CORE], "secrets serviceaccounts"),
                r(&["delete"], &[CORE], "secrets"),
                r(&["get"], &[CORE], "configmaps namespaces secrets serviceaccounts"),
                r(&["update"], &[CORE], "secrets serviceaccounts"),
                r(&["create"], &[AUTHENTICATION], "tokenreviews"),
                r(&["create"], &[AUTHORIZATION], "subjectaccessreviews"),
                r(&["list", "watch"], &["*"], "*"),
                r(&["create"], &[CORE], "serviceaccounts/token"),
            ],
        ),
        cluster_role(
            K,
            "system:kube-dns",
            vec![r(&["list", "watch"], &[CORE], "endpoints services")],
        ),
        cluster_role(K, "system:kube-scheduler", kube_scheduler_rules()),
        cluster_role(
            K,
            "system:kubelet-api-admin",
            vec![
                r(READ, &[CORE], "nodes"),
                r(&["proxy"], &[CORE], "nodes"),
                r(&["*"], &[CORE], "nodes/log nodes/metrics nodes/proxy nodes/stats"),
            ],
        ),
        cluster_role(
            K,
            "system:monitoring",
            vec![urls(
                &["get"],
                "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/*",
            )],
        ),
        cluster_role(K, "system:node", node_rules()),
        cluster_role(
            K,
            "system:node-bootstrapper",
            vec![r(&["create", "get", "list", "watch"], &[CERTIFICATES], "certificatesigningrequests")],
        ),
        cluster_role(
            K,
            "system:node-problem-detector",
            vec![
                r(&["get"], &[CORE], "nodes"),
                r(&["patch"], &[CORE], "nodes/status"),
                events_rule(),
            ],
        ),
        cluster_role(
            K,
            "system:node-proxier",
            vec![
                r(&["list", "watch"], &[CORE], "endpoints services"),
                r(READ, &[CORE], "nodes"),
                events_rule(),
                r(&["list", "watch"], &[DISCOVERY], "endpointslices"),
            ],
        ),
        cluster_role(
            K,
            "system:persistent-volume-provisioner",
            vec![
                r(&["create", "delete", "get", "list", "watch"], &[CORE], "persistentvolumes"),
                r(&["get", "list", "update", "watch"], &[CORE], "persistentvolumeclaims"),
                r(READ, &[STORAGE], "storageclasses"),
                r(&["watch"], &[CORE], "events"),
                events_rule(),
            ],
        ),
        cluster_role(
            K,
            "system:public-info-viewer",
            vec![urls(&["get"], "/healthz /livez /readyz /version /version/")],
        ),
        cluster_role(
            K,
            "system:service-account-issuer-discovery",
            vec![urls(
                &["get"],
                "/.well-known/openid-configuration /.well-known/openid-configuration/ \
                    /openid/v1/jwks /openid/v1/jwks/",
            )],
        ),
        cluster_role(
            K,
            "system:volume-scheduler",
            vec![
                r(READ_UPDATE, &[CORE], "persistentvolumes"),
                r(READ, &[STORAGE], "storageclasses"),
                r(READ_UPDATE, &[CORE], "persistentvolumeclaims"),
            ],
        ),
        aggregated_cluster_role("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
    ]
}

#[rustfmt::skip]
pub(super) fn cluster_role_bindings() -> Vec<Value> {
    use Origin::Kubernetes as K;
    use Subject::{Group, ServiceAccount, User};
    let bind = |role: &str, subjects: &[Subject]| cluster_role_binding(K, role, role, subjects);
    vec![
        bind("cluster-admin", &[Group("system:masters")]),
        bind("system:basic-user", &[Group("system:authenticated")]),
        bind("system:discovery", &[Group("system:authenticated")]),
        bind(
            "system:kube-controller-manager",
            &[User("system:kube-controller-manager")],
        ),
        bind(
            "system:kube-dns",
            &[ServiceAccount("kube-system", "kube-dns")],
        ),
        bind("system:kube-scheduler", &[User("system:kube-scheduler")]),
        bind("system:monitoring", &[Group("system:monitoring")]),
        // Kubernetes leaves this binding empty (its Node authorizer grants nodes their access);
        // hakube has no Node authorizer, so nodes are bound to the role directly.
        bind("system:node", &[Group("system:nodes")]),
        bind("system:node-proxier", &[User("system:kube-proxy")]),
        bind(
            "system:public-info-viewer",
            &[
                Group("system:authenticated"),
                Group("system:unauthenticated"),
            ],
        ),
        bind(
            "system:service-account-issuer-discovery",
            &[Group("system:serviceaccounts")],
        ),
        bind("system:volume-scheduler", &[User("system:kube-scheduler")]),
    ]
}
