//! The k8s-openapi struct behind each kind the server decodes: a typed round-trip through it and
//! its JSON schema, which names Go struct and field types for decode errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, coordination, core, discovery, policy, rbac,
    storage,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One decodable kind.
pub(crate) struct TypedKind {
    pub group: &'static str,
    pub kind: &'static str,
    /// Parses JSON text into the typed struct and encodes it back, dropping unknown fields.
    pub roundtrip: fn(&str) -> Result<Value, serde_json::Error>,
    /// The kind's JSON schema with `$defs` named after the OpenAPI definitions.
    schema: fn() -> Value,
}

fn roundtrip<T: DeserializeOwned + Serialize>(text: &str) -> Result<Value, serde_json::Error> {
    let typed: T = serde_json::from_str(text)?;
    serde_json::to_value(typed)
}

fn schema_of<T: schemars::JsonSchema>() -> Value {
    let root = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    serde_json::to_value(root).unwrap_or(Value::Null)
}

macro_rules! kinds {
    ($(($group:literal, $kind:literal, $ty:ty)),* $(,)?) => {
        &[$(TypedKind {
            group: $group,
            kind: $kind,
            roundtrip: roundtrip::<$ty>,
            schema: schema_of::<$ty>,
        }),*]
    };
}

static KINDS: &[TypedKind] = kinds![
    ("", "Binding", core::v1::Binding),
    ("", "ConfigMap", core::v1::ConfigMap),
    ("", "Endpoints", core::v1::Endpoints),
    ("", "Event", core::v1::Event),
    ("", "Namespace", core::v1::Namespace),
    ("", "Node", core::v1::Node),
    ("", "Pod", core::v1::Pod),
    ("", "Secret", core::v1::Secret),
    ("", "Service", core::v1::Service),
    ("", "ServiceAccount", core::v1::ServiceAccount),
    ("apps", "ControllerRevision", apps::v1::ControllerRevision),
    ("apps", "DaemonSet", apps::v1::DaemonSet),
    ("apps", "Deployment", apps::v1::Deployment),
    ("apps", "ReplicaSet", apps::v1::ReplicaSet),
    ("apps", "StatefulSet", apps::v1::StatefulSet),
    (
        "authentication.k8s.io",
        "SelfSubjectReview",
        authentication::v1::SelfSubjectReview
    ),
    (
        "authentication.k8s.io",
        "TokenRequest",
        authentication::v1::TokenRequest
    ),
    (
        "authentication.k8s.io",
        "TokenReview",
        authentication::v1::TokenReview
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectAccessReview",
        authorization::v1::SelfSubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectRulesReview",
        authorization::v1::SelfSubjectRulesReview
    ),
    (
        "authorization.k8s.io",
        "SubjectAccessReview",
        authorization::v1::SubjectAccessReview
    ),
    ("autoscaling", "Scale", autoscaling::v1::Scale),
    ("coordination.k8s.io", "Lease", coordination::v1::Lease),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        discovery::v1::EndpointSlice
    ),
    ("policy", "Eviction", policy::v1::Eviction),
    (
        "policy",
        "PodDisruptionBudget",
        policy::v1::PodDisruptionBudget
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        rbac::v1::ClusterRole
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        rbac::v1::ClusterRoleBinding
    ),
    ("rbac.authorization.k8s.io", "Role", rbac::v1::Role),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        rbac::v1::RoleBinding
    ),
    ("storage.k8s.io", "StorageClass", storage::v1::StorageClass),
];

/// The typed kind for a group and kind, if k8s-openapi knows it.
pub(crate) fn find(group: &str, kind: &str) -> Option<&'static TypedKind> {
    KINDS.iter().find(|k| k.group == group && k.kind == kind)
}

/// Every group and kind with a typed decoder, for coverage tests.
#[cfg(test)]
pub(crate) fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.group, k.kind))
}

impl TypedKind {
    /// The schema, generated once per kind: building it walks every nested type.
    pub fn schema(&self) -> Arc<Value> {
        static CACHE: OnceLock<Mutex<HashMap<&'static str, Arc<Value>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = self.kind;
        if let Some(found) = cache.lock().ok().and_then(|c| c.get(key).cloned()) {
            return found;
        }
        let built = Arc::new((self.schema)());
        if let Ok(mut c) = cache.lock() {
            c.insert(key, built.clone());
        }
        built
    }
}
