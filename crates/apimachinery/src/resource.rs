//! The registry of resources the API server serves: one `ResourceInfo` per resource, the facts
//! that discovery, routing, storage keys, RBAC and printing all read.

/// A subresource a resource offers, as it appears in discovery (`pods/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// The URL segment after the object's name: `status`, `scale`, `binding`...
    pub name: &'static str,
    /// The kind the subresource reads and writes (`Scale` for `scale`, the parent's kind for `status`).
    pub kind: &'static str,
    /// The group and version of that kind, when it is not the parent's (`autoscaling/v1` for Scale).
    pub group_version: Option<&'static str>,
    pub verbs: &'static [&'static str],
}

/// One served resource: its names, scope, verbs and where its objects live in etcd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; `""` is the core group served under `/api`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The plural, lower-case name used in URLs and RBAC rules (`deployments`).
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The path under `/registry/` where kube-apiserver keeps these objects (`minions` for nodes,
    /// `services/specs` for services). Empty for resources that are never stored (reviews).
    pub storage: &'static str,
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for the core group: the object's `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, or `pods` for the core group: the name kubectl prints in messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether objects of this resource are kept in etcd (reviews are answered, never stored).
    pub fn is_stored(&self) -> bool {
        !self.storage.is_empty()
    }

    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// The etcd key prefix that holds every object of this resource, ending in `/`.
    pub fn key_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{}/", self.storage, ns),
            _ => format!("/registry/{}/", self.storage),
        }
    }

    /// The etcd key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{}", self.key_prefix(namespace), name)
    }
}

/// The verbs of an ordinary stored resource.
pub const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const CREATE: &[&str] = &["create"];
const GET: &[&str] = &["get"];

const fn status(kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        kind,
        group_version: None,
        verbs: GET_PATCH_UPDATE,
    }
}

const SCALE: Subresource = Subresource {
    name: "scale",
    kind: "Scale",
    group_version: Some("autoscaling/v1"),
    verbs: GET_PATCH_UPDATE,
};

const fn resource(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    storage: &'static str,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage,
    }
}

const ALL: &[&str] = &["all"];

/// Every resource served, in the order discovery lists groups (core first, as kube-apiserver does).
pub static RESOURCES: &[ResourceInfo] = &[
    // core/v1
    ResourceInfo {
        short_names: &["cm"],
        ..resource(
            "",
            "ConfigMap",
            "configmaps",
            "configmap",
            true,
            "configmaps",
        )
    },
    ResourceInfo {
        short_names: &["ep"],
        ..resource(
            "",
            "Endpoints",
            "endpoints",
            "endpoints",
            true,
            "services/endpoints",
        )
    },
    ResourceInfo {
        short_names: &["ev"],
        ..resource("", "Event", "events", "event", true, "events")
    },
    ResourceInfo {
        short_names: &["ns"],
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        subresources: &[
            Subresource {
                name: "finalize",
                kind: "Namespace",
                group_version: None,
                verbs: &["update"],
            },
            status("Namespace"),
        ],
        ..resource(
            "",
            "Namespace",
            "namespaces",
            "namespace",
            false,
            "namespaces",
        )
    },
    ResourceInfo {
        short_names: &["no"],
        subresources: &[
            Subresource {
                name: "proxy",
                kind: "NodeProxyOptions",
                group_version: None,
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            status("Node"),
        ],
        ..resource("", "Node", "nodes", "node", false, "minions")
    },
    ResourceInfo {
        short_names: &["po"],
        categories: ALL,
        subresources: &[
            Subresource {
                name: "attach",
                kind: "PodAttachOptions",
                group_version: None,
                verbs: &["create", "get"],
            },
            Subresource {
                name: "binding",
                kind: "Binding",
                group_version: None,
                verbs: CREATE,
            },
            Subresource {
                name: "eviction",
                kind: "Eviction",
                group_version: Some("policy/v1"),
                verbs: CREATE,
            },
            Subresource {
                name: "exec",
                kind: "PodExecOptions",
                group_version: None,
                verbs: &["create", "get"],
            },
            Subresource {
                name: "log",
                kind: "Pod",
                group_version: None,
                verbs: GET,
            },
            Subresource {
                name: "portforward",
                kind: "PodPortForwardOptions",
                group_version: None,
                verbs: &["create", "get"],
            },
            Subresource {
                name: "proxy",
                kind: "PodProxyOptions",
                group_version: None,
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            status("Pod"),
        ],
        ..resource("", "Pod", "pods", "pod", true, "pods")
    },
    ResourceInfo {
        short_names: &[],
        ..resource("", "Secret", "secrets", "secret", true, "secrets")
    },
    ResourceInfo {
        short_names: &["sa"],
        subresources: &[Subresource {
            name: "token",
            kind: "TokenRequest",
            group_version: Some("authentication.k8s.io/v1"),
            verbs: CREATE,
        }],
        ..resource(
            "",
            "ServiceAccount",
            "serviceaccounts",
            "serviceaccount",
            true,
            "serviceaccounts",
        )
    },
    ResourceInfo {
        short_names: &["svc"],
        categories: ALL,
        verbs: &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        subresources: &[
            Subresource {
                name: "proxy",
                kind: "ServiceProxyOptions",
                group_version: None,
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            status("Service"),
        ],
        ..resource("", "Service", "services", "service", true, "services/specs")
    },
    // apps/v1
    ResourceInfo {
        categories: ALL,
        ..resource(
            "apps",
            "ControllerRevision",
            "controllerrevisions",
            "controllerrevision",
            true,
            "controllerrevisions",
        )
    },
    ResourceInfo {
        short_names: &["ds"],
        categories: ALL,
        subresources: &[status("DaemonSet")],
        ..resource(
            "apps",
            "DaemonSet",
            "daemonsets",
            "daemonset",
            true,
            "daemonsets",
        )
    },
    ResourceInfo {
        short_names: &["deploy"],
        categories: ALL,
        subresources: &[SCALE, status("Deployment")],
        ..resource(
            "apps",
            "Deployment",
            "deployments",
            "deployment",
            true,
            "deployments",
        )
    },
    ResourceInfo {
        short_names: &["rs"],
        categories: ALL,
        subresources: &[SCALE, status("ReplicaSet")],
        ..resource(
            "apps",
            "ReplicaSet",
            "replicasets",
            "replicaset",
            true,
            "replicasets",
        )
    },
    ResourceInfo {
        short_names: &["sts"],
        categories: ALL,
        subresources: &[SCALE, status("StatefulSet")],
        ..resource(
            "apps",
            "StatefulSet",
            "statefulsets",
            "statefulset",
            true,
            "statefulsets",
        )
    },
    // authentication.k8s.io/v1
    ResourceInfo {
        verbs: CREATE,
        ..resource(
            "authentication.k8s.io",
            "SelfSubjectReview",
            "selfsubjectreviews",
            "selfsubjectreview",
            false,
            "",
        )
    },
    ResourceInfo {
        verbs: CREATE,
        ..resource(
            "authentication.k8s.io",
            "TokenReview",
            "tokenreviews",
            "tokenreview",
            false,
            "",
        )
    },
    // authorization.k8s.io/v1
    ResourceInfo {
        verbs: CREATE,
        ..resource(
            "authorization.k8s.io",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            false,
            "",
        )
    },
    ResourceInfo {
        verbs: CREATE,
        ..resource(
            "authorization.k8s.io",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            "selfsubjectrulesreview",
            false,
            "",
        )
    },
    ResourceInfo {
        verbs: CREATE,
        ..resource(
            "authorization.k8s.io",
            "SubjectAccessReview",
            "subjectaccessreviews",
            "subjectaccessreview",
            false,
            "",
        )
    },
    // coordination.k8s.io/v1
    resource(
        "coordination.k8s.io",
        "Lease",
        "leases",
        "lease",
        true,
        "leases",
    ),
    // discovery.k8s.io/v1
    resource(
        "discovery.k8s.io",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        "endpointslices",
    ),
    // policy/v1
    ResourceInfo {
        short_names: &["pdb"],
        subresources: &[status("PodDisruptionBudget")],
        ..resource(
            "policy",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            true,
            "poddisruptionbudgets",
        )
    },
    // rbac.authorization.k8s.io/v1
    resource(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        false,
        "clusterrolebindings",
    ),
    resource(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        false,
        "clusterroles",
    ),
    resource(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        true,
        "rolebindings",
    ),
    resource(
        "rbac.authorization.k8s.io",
        "Role",
        "roles",
        "role",
        true,
        "roles",
    ),
    // storage.k8s.io/v1
    ResourceInfo {
        short_names: &["sc"],
        ..resource(
            "storage.k8s.io",
            "StorageClass",
            "storageclasses",
            "storageclass",
            false,
            "storageclasses",
        )
    },
];

/// The API groups in discovery order, each with its one served version.
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}

/// The resources of one group and version, in discovery order.
pub fn resources_of(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceInfo> {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// Looks a resource up by group and URL plural, as a request path names it.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource up by the `apiVersion` and `kind` an object carries.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.api_version() == api_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kube_apiserver_layout() {
        let cases = [
            ("", "nodes", None, "n1", "/registry/minions/n1"),
            (
                "",
                "services",
                Some("default"),
                "web",
                "/registry/services/specs/default/web",
            ),
            (
                "",
                "endpoints",
                Some("default"),
                "web",
                "/registry/services/endpoints/default/web",
            ),
            (
                "apps",
                "deployments",
                Some("prod"),
                "api",
                "/registry/deployments/prod/api",
            ),
            (
                "rbac.authorization.k8s.io",
                "clusterroles",
                None,
                "view",
                "/registry/clusterroles/view",
            ),
        ];
        for (group, plural, ns, name, key) in cases {
            let info = find(group, "v1", plural).expect(plural);
            assert_eq!(info.key(ns, name), key);
        }
    }

    #[test]
    fn every_resource_is_unique_and_well_formed() {
        for (i, a) in RESOURCES.iter().enumerate() {
            assert_eq!(a.plural, a.plural.to_lowercase());
            for b in &RESOURCES[i + 1..] {
                assert!(
                    !(a.group == b.group && a.plural == b.plural),
                    "{} twice",
                    a.plural
                );
            }
            assert!(find_kind(&a.api_version(), a.kind).is_some());
        }
        assert_eq!(groups()[0], "");
    }
}
