//! The k8s-openapi type behind each kind the documents describe; its `JsonSchema` impl supplies the
//! schema with Kubernetes' own descriptions and component names (`io.k8s.api.apps.v1.Deployment`).

use std::borrow::Cow;

use k8s_openapi::api::admissionregistration::v1 as admissionregistration_v1;
use k8s_openapi::api::apps::v1 as apps_v1;
use k8s_openapi::api::authentication::v1 as authentication_v1;
use k8s_openapi::api::authorization::v1 as authorization_v1;
use k8s_openapi::api::autoscaling::v1 as autoscaling_v1;
use k8s_openapi::api::autoscaling::v2 as autoscaling_v2;
use k8s_openapi::api::batch::v1 as batch_v1;
use k8s_openapi::api::certificates::v1 as certificates_v1;
use k8s_openapi::api::coordination::v1 as coordination_v1;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_openapi::api::discovery::v1 as discovery_v1;
use k8s_openapi::api::events::v1 as events_v1;
use k8s_openapi::api::flowcontrol::v1 as flowcontrol_v1;
use k8s_openapi::api::networking::v1 as networking_v1;
use k8s_openapi::api::node::v1 as node_v1;
use k8s_openapi::api::policy::v1 as policy_v1;
use k8s_openapi::api::rbac::v1 as rbac_v1;
use k8s_openapi::api::scheduling::v1 as scheduling_v1;
use k8s_openapi::api::storage::v1 as storage_v1;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions_v1;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration_v1;
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// A kind whose schema k8s-openapi can generate.
#[derive(Clone, Copy)]
pub(crate) struct KindSchema {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The component name, `io.k8s.api.apps.v1.Deployment`.
    pub name: fn() -> Cow<'static, str>,
    /// Adds the kind's schema (and everything it references) to the generator's definitions.
    pub generate: fn(&mut SchemaGenerator) -> Schema,
}

macro_rules! kinds {
    ($($group:literal $version:literal $module:ident [$($kind:ident),* $(,)?])*) => {
        /// Every kind with a schema. It reaches beyond `RESOURCES` to the common GA kinds, so a
        /// resource added to the registry usually needs no change here.
        pub(crate) static KINDS: &[KindSchema] = &[$($(KindSchema {
            group: $group,
            version: $version,
            kind: stringify!($kind),
            name: <$module::$kind as JsonSchema>::schema_name,
            generate: SchemaGenerator::subschema_for::<$module::$kind>,
        },)*)*];
    };
}

kinds! {
    "" "v1" core_v1 [
        Binding, ComponentStatus, ConfigMap, Endpoints, Event, LimitRange, Namespace, Node,
        PersistentVolume, PersistentVolumeClaim, Pod, PodTemplate, ReplicationController,
        ResourceQuota, Secret, Service, ServiceAccount,
    ]
    "admissionregistration.k8s.io" "v1" admissionregistration_v1 [
        MutatingWebhookConfiguration, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
        ValidatingWebhookConfiguration,
    ]
    "apiextensions.k8s.io" "v1" apiextensions_v1 [CustomResourceDefinition]
    "apiregistration.k8s.io" "v1" apiregistration_v1 [APIService]
    "apps" "v1" apps_v1 [ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet]
    "authentication.k8s.io" "v1" authentication_v1 [SelfSubjectReview, TokenRequest, TokenReview]
    "authorization.k8s.io" "v1" authorization_v1 [
        LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview,
        SubjectAccessReview,
    ]
    "autoscaling" "v1" autoscaling_v1 [HorizontalPodAutoscaler, Scale]
    "autoscaling" "v2" autoscaling_v2 [HorizontalPodAutoscaler]
    "batch" "v1" batch_v1 [CronJob, Job]
    "certificates.k8s.io" "v1" certificates_v1 [CertificateSigningRequest]
    "coordination.k8s.io" "v1" coordination_v1 [Lease]
    "discovery.k8s.io" "v1" discovery_v1 [EndpointSlice]
    "events.k8s.io" "v1" events_v1 [Event]
    "flowcontrol.apiserver.k8s.io" "v1" flowcontrol_v1 [FlowSchema, PriorityLevelConfiguration]
    "networking.k8s.io" "v1" networking_v1 [
        IPAddress, Ingress, IngressClass, NetworkPolicy, ServiceCIDR,
    ]
    "node.k8s.io" "v1" node_v1 [RuntimeClass]
    "policy" "v1" policy_v1 [Eviction, PodDisruptionBudget]
    "rbac.authorization.k8s.io" "v1" rbac_v1 [ClusterRole, ClusterRoleBinding, Role, RoleBinding]
    "scheduling.k8s.io" "v1" scheduling_v1 [PriorityClass]
    "storage.k8s.io" "v1" storage_v1 [
        CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment,
    ]
}

/// The schema source of one kind, if k8s-openapi has it.
pub(crate) fn find(group: &str, version: &str, kind: &str) -> Option<&'static KindSchema> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
}
