//! Which fields of which kinds strategic merge patch merges instead of replacing: the
//! `patchStrategy` and `patchMergeKey` tags of the Kubernetes API types, as a data table.
//!
//! Only fields that carry a strategy, and the object fields leading to them, are listed: a list
//! not listed is replaced whole and an object not listed is merged key by key, which is what kube
//! does for untagged fields. The `retainKeys` strategy is left out on purpose: it only tells
//! clients to send a `$retainKeys` directive, and the server honours that directive wherever it
//! appears.

use MergeStrategy::{MergeByKey, MergeScalars, Replace};
use Type::*;

/// How strategic merge patch combines a field's value with the patch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// A list of objects merged element by element, matching elements whose merge key field
    /// (`name` for containers, `containerPort` for ports) is equal.
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (`finalizers`): the patch's items are added, and
    /// `$deleteFromPrimitiveList/<field>` removes items.
    MergeScalars,
    /// An object replaced whole by the patch's instead of merged (`patchStrategy: replace`).
    Replace,
}

/// A Kubernetes API type, as far as strategic merge cares. Several kinds share a type where their
/// tagged fields sit at the same places (every workload has `spec.template` and
/// `status.conditions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    /// Any kind: only its `metadata` matters.
    Object,
    ObjectMeta,
    Pod,
    PodSpec,
    PodStatus,
    Container,
    PodTemplateSpec,
    PodTemplate,
    /// Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController and Job.
    Workload,
    WorkloadSpec,
    CronJob,
    CronJobSpec,
    JobTemplateSpec,
    /// Kinds whose status is tagged only in `conditions` (Namespace, PersistentVolumeClaim).
    WithConditions,
    ConditionsStatus,
    Service,
    ServiceSpec,
    Node,
    NodeSpec,
    NodeStatus,
    ServiceAccount,
    PodDisruptionBudget,
    PodDisruptionBudgetSpec,
    ControllerRevision,
}

/// One field of a type: its strategy, if tagged, and the type of its value (or of its list's
/// elements) when fields further down are tagged.
struct Field {
    owner: Type,
    name: &'static str,
    strategy: Option<MergeStrategy>,
    child: Option<Type>,
}

const fn field(owner: Type, name: &'static str, strategy: MergeStrategy) -> Field {
    Field {
        owner,
        name,
        strategy: Some(strategy),
        child: None,
    }
}

const fn list(owner: Type, name: &'static str, key: &'static str, element: Type) -> Field {
    Field {
        owner,
        name,
        strategy: Some(MergeStrategy::MergeByKey(key)),
        child: Some(element),
    }
}

const fn object(owner: Type, name: &'static str, child: Type) -> Field {
    Field {
        owner,
        name,
        strategy: None,
        child: Some(child),
    }
}

/// The tags of k8s.io/api 1.33 (and metav1) that the served kinds reach.
static FIELDS: &[Field] = &[
    // metav1.ObjectMeta
    field(ObjectMeta, "finalizers", MergeScalars),
    field(ObjectMeta, "ownerReferences", MergeByKey("uid")),
    // Every kind's metadata.
    object(Object, "metadata", ObjectMeta),
    object(Pod, "metadata", ObjectMeta),
    object(PodTemplateSpec, "metadata", ObjectMeta),
    object(PodTemplate, "metadata", ObjectMeta),
    object(Workload, "metadata", ObjectMeta),
    object(CronJob, "metadata", ObjectMeta),
    object(JobTemplateSpec, "metadata", ObjectMeta),
    object(WithConditions, "metadata", ObjectMeta),
    object(Service, "metadata", ObjectMeta),
    object(Node, "metadata", ObjectMeta),
    object(ServiceAccount, "metadata", ObjectMeta),
    object(PodDisruptionBudget, "metadata", ObjectMeta),
    object(ControllerRevision, "metadata", ObjectMeta),
    // core/v1 Pod
    object(Pod, "spec", PodSpec),
    object(Pod, "status", PodStatus),
    list(PodSpec, "containers", "name", Container),
    list(PodSpec, "initContainers", "name", Container),
    // EphemeralContainer embeds the same tagged fields as Container.
    list(PodSpec, "ephemeralContainers", "name", Container),
    field(PodSpec, "volumes", MergeByKey("name")),
    field(PodSpec, "imagePullSecrets", MergeByKey("name")),
    field(PodSpec, "hostAliases", MergeByKey("ip")),
    field(
        PodSpec,
        "topologySpreadConstraints",
        MergeByKey("topologyKey"),
    ),
    field(PodSpec, "schedulingGates", MergeByKey("name")),
    field(PodSpec, "resourceClaims", MergeByKey("name")),
    field(Container, "ports", MergeByKey("containerPort")),
    field(Container, "env", MergeByKey("name")),
    field(Container, "volumeMounts", MergeByKey("mountPath")),
    field(Container, "volumeDevices", MergeByKey("devicePath")),
    field(PodStatus, "conditions", MergeByKey("type")),
    field(PodStatus, "hostIPs", MergeByKey("ip")),
    field(PodStatus, "podIPs", MergeByKey("ip")),
    field(PodStatus, "resourceClaimStatuses", MergeByKey("name")),
    // Pod templates, wherever they sit.
    object(PodTemplateSpec, "spec", PodSpec),
    object(PodTemplate, "template", PodTemplateSpec),
    object(Workload, "spec", WorkloadSpec),
    object(Workload, "status", ConditionsStatus),
    object(WorkloadSpec, "template", PodTemplateSpec),
    object(CronJob, "spec", CronJobSpec),
    object(CronJobSpec, "jobTemplate", JobTemplateSpec),
    object(JobTemplateSpec, "spec", WorkloadSpec),
    // Statuses whose only tagged field is `conditions`.
    object(WithConditions, "status", ConditionsStatus),
    field(ConditionsStatus, "conditions", MergeByKey("type")),
    // core/v1 Service
    object(Service, "spec", ServiceSpec),
    object(Service, "status", ConditionsStatus),
    field(ServiceSpec, "ports", MergeByKey("port")),
    // core/v1 Node
    object(Node, "spec", NodeSpec),
    object(Node, "status", NodeStatus),
    field(NodeSpec, "podCIDRs", MergeScalars),
    field(NodeStatus, "conditions", MergeByKey("type")),
    field(NodeStatus, "addresses", MergeByKey("type")),
    // core/v1 ServiceAccount
    field(ServiceAccount, "secrets", MergeByKey("name")),
    // policy/v1 PodDisruptionBudget
    object(PodDisruptionBudget, "spec", PodDisruptionBudgetSpec),
    object(PodDisruptionBudget, "status", ConditionsStatus),
    field(PodDisruptionBudgetSpec, "selector", Replace),
    // apps/v1 ControllerRevision: `data` is an opaque RawExtension with no schema to merge by,
    // so the patch's value replaces it.
    field(ControllerRevision, "data", Replace),
];

/// The type at the root of each kind with tagged fields; any other kind is [`Type::Object`].
static KINDS: &[(&str, Type)] = &[
    ("Pod", Pod),
    ("PodTemplate", PodTemplate),
    ("Deployment", Workload),
    ("ReplicaSet", Workload),
    ("StatefulSet", Workload),
    ("DaemonSet", Workload),
    ("ReplicationController", Workload),
    ("Job", Workload),
    ("CronJob", CronJob),
    ("Namespace", WithConditions),
    ("PersistentVolumeClaim", WithConditions),
    ("Service", Service),
    ("Node", Node),
    ("ServiceAccount", ServiceAccount),
    ("PodDisruptionBudget", PodDisruptionBudget),
    ("ControllerRevision", ControllerRevision),
];

impl Type {
    /// The root type of a kind.
    pub(super) fn of_kind(kind: &str) -> Type {
        KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(Object, |(_, t)| *t)
    }

    /// A field's strategy and the type below it; `(None, None)` for an untagged field.
    pub(super) fn field(self, name: &str) -> (Option<MergeStrategy>, Option<Type>) {
        FIELDS
            .iter()
            .find(|f| f.owner == self && f.name == name)
            .map_or((None, None), |f| (f.strategy, f.child))
    }

    /// A short name for messages.
    pub(super) fn name(self) -> String {
        format!("{self:?}")
    }
}

/// The strategy of the field at `path` in objects of `kind`: field names joined by dots, list
/// positions left out (`spec.template.spec.containers.env` in a Deployment). `None` means the
/// field has no strategy: replaced if a list, merged key by key if an object.
pub fn merge_strategy(kind: &str, path: &str) -> Option<MergeStrategy> {
    let mut ty = Some(Type::of_kind(kind));
    let mut strategy = None;
    for name in path.split('.') {
        (strategy, ty) = ty?.field(name);
    }
    strategy
}
