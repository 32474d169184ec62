//! Strategic-merge-patch metadata of the served types: which lists merge by which key, and which
//! fields keep only the keys a patch names. k8s-openapi's schemas leave these out, yet kubectl's
//! client-side `apply` reads them from OpenAPI v3 (`x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key`), so a schema without them would turn every list atomic.

/// How a field of a type merges in a strategic merge patch (the Go `patchStrategy` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchMeta {
    /// `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    pub strategy: &'static str,
    /// The field that identifies an element of a merged list of objects (`name`, `type`...);
    /// `None` for lists of scalars and for non-list fields.
    pub merge_key: Option<&'static str>,
}

const fn merge(key: &'static str) -> PatchMeta {
    PatchMeta {
        strategy: "merge",
        merge_key: Some(key),
    }
}

const fn merge_retain(key: &'static str) -> PatchMeta {
    PatchMeta {
        strategy: "merge,retainKeys",
        merge_key: Some(key),
    }
}

const fn only(strategy: &'static str) -> PatchMeta {
    PatchMeta {
        strategy,
        merge_key: None,
    }
}

const CORE: &str = "io.k8s.api.core.v1.";
const APPS: &str = "io.k8s.api.apps.v1.";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";

/// (type prefix, type, field, metadata), as Kubernetes 1.33 tags its Go types.
const TABLE: &[(&str, &str, &str, PatchMeta)] = &[
    (META, "ObjectMeta", "finalizers", only("merge")),
    (META, "ObjectMeta", "ownerReferences", merge("uid")),
    (META, "LabelSelectorRequirement", "key", merge("key")),
    (CORE, "Container", "env", merge("name")),
    (CORE, "Container", "ports", merge("containerPort")),
    (CORE, "Container", "volumeDevices", merge("devicePath")),
    (CORE, "Container", "volumeMounts", merge("mountPath")),
    (CORE, "EphemeralContainer", "env", merge("name")),
    (CORE, "EphemeralContainer", "ports", merge("containerPort")),
    (
        CORE,
        "EphemeralContainer",
        "volumeDevices",
        merge("devicePath"),
    ),
    (
        CORE,
        "EphemeralContainer",
        "volumeMounts",
        merge("mountPath"),
    ),
    (
        CORE,
        "ContainerStatus",
        "allocatedResourcesStatus",
        merge("name"),
    ),
    (CORE, "ContainerStatus", "volumeMounts", merge("mountPath")),
    (CORE, "PodSpec", "containers", merge("name")),
    (CORE, "PodSpec", "ephemeralContainers", merge("name")),
    (CORE, "PodSpec", "hostAliases", merge("ip")),
    (CORE, "PodSpec", "imagePullSecrets", merge("name")),
    (CORE, "PodSpec", "initContainers", merge("name")),
    (CORE, "PodSpec", "resourceClaims", merge_retain("name")),
    (CORE, "PodSpec", "schedulingGates", merge("name")),
    (
        CORE,
        "PodSpec",
        "topologySpreadConstraints",
        merge("topologyKey"),
    ),
    (CORE, "PodSpec", "volumes", merge_retain("name")),
    (CORE, "PodStatus", "conditions", merge("type")),
    (CORE, "PodStatus", "hostIPs", merge("ip")),
    (CORE, "PodStatus", "podIPs", merge("ip")),
    (
        CORE,
        "PodStatus",
        "resourceClaimStatuses",
        merge_retain("name"),
    ),
    (CORE, "ServiceSpec", "ports", merge("port")),
    (CORE, "ServiceStatus", "conditions", merge("type")),
    (CORE, "ServiceAccount", "secrets", merge("name")),
    (CORE, "NodeSpec", "podCIDRs", only("merge")),
    (CORE, "NodeStatus", "addresses", merge("type")),
    (CORE, "NodeStatus", "conditions", merge("type")),
    (CORE, "NamespaceStatus", "conditions", merge("type")),
    (
        CORE,
        "PersistentVolumeClaimStatus",
        "conditions",
        merge("type"),
    ),
    (
        CORE,
        "ReplicationControllerStatus",
        "conditions",
        merge("type"),
    ),
    (CORE, "ComponentStatus", "conditions", merge("type")),
    (APPS, "DeploymentSpec", "strategy", only("retainKeys")),
    (APPS, "DeploymentStatus", "conditions", merge("type")),
    (APPS, "DaemonSetStatus", "conditions", merge("type")),
    (APPS, "ReplicaSetStatus", "conditions", merge("type")),
    (APPS, "StatefulSetStatus", "conditions", merge("type")),
    (
        "io.k8s.api.policy.v1.",
        "PodDisruptionBudgetSpec",
        "selector",
        only("replace"),
    ),
    (
        "io.k8s.api.policy.v1.",
        "PodDisruptionBudgetStatus",
        "conditions",
        merge("type"),
    ),
    (
        "io.k8s.api.storage.v1.",
        "CSINodeSpec",
        "drivers",
        merge("name"),
    ),
];

/// The patch metadata of `field` in the component named `schema`
/// (`io.k8s.api.core.v1.PodSpec`, `containers`), if the field has any.
pub fn patch_meta(schema: &str, field: &str) -> Option<PatchMeta> {
    TABLE
        .iter()
        .find(|(prefix, ty, f, _)| {
            *f == field && schema.strip_prefix(prefix).is_some_and(|rest| rest == *ty)
        })
        .map(|entry| entry.3)
}

/// Every entry, as (component name, field, metadata), for annotating a set of schemas.
pub(crate) fn entries() -> impl Iterator<Item = (String, &'static str, PatchMeta)> {
    TABLE
        .iter()
        .map(|(prefix, ty, field, meta)| (format!("{prefix}{ty}"), *field, *meta))
}
