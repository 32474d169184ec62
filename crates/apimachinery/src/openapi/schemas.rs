//! The `components.schemas` of one group-version document: k8s-openapi's schemas, generated with
//! OpenAPI 3.0 settings (so a `$ref` with a sibling `description` becomes the
//! `allOf: [{"$ref": ...}]` wrapper kube-openapi emits), then finished the way kube-apiserver
//! finishes them: `List` kinds, `x-kubernetes-group-version-kind` on top-level kinds, and patch
//! metadata.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::{kinds, patch_meta};

/// Where `$ref`s point inside a document.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";

pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(crate) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const CORE_EVENT: &str = "io.k8s.api.core.v1.Event";
const GVK_EXTENSION: &str = "x-kubernetes-group-version-kind";

/// A group, version and kind, as `(group, version, kind)`.
pub(crate) type Gvk<'a> = (&'a str, &'a str, &'a str);

/// The extension value naming one kind: exactly the three keys, because kubectl explain compares
/// an operation's value with a schema's list entries for deep equality.
pub(crate) fn gvk_value((group, version, kind): Gvk<'_>) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

/// The component name of a kind's `List`, `io.k8s.api.apps.v1.DeploymentList`.
pub(crate) fn list_name(item: &str) -> String {
    format!("{item}List")
}

/// What one document describes.
pub(crate) struct Needs<'a> {
    /// Kinds whose schemas the document must hold (tagged with their group-version-kind).
    pub kinds: Vec<Gvk<'a>>,
    /// Kinds that also get a `<Kind>List` schema.
    pub lists: Vec<Gvk<'a>>,
    /// Every served group-version, `("", "v1")` included: DeleteOptions and WatchEvent are tagged
    /// with each of them, as kube-apiserver tags them in every document.
    pub served: Vec<(&'a str, &'a str)>,
}

/// The schemas of one document, keyed by component name.
pub(crate) fn build(needs: &Needs<'_>) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    for &(group, version, kind) in &needs.kinds {
        if let Some(source) = kinds::find(group, version, kind) {
            (source.generate)(&mut generator);
        }
    }
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::WatchEvent<Value>>();
    generator.subschema_for::<meta::APIResourceList>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::ListMeta>();
    let mut schemas = generator.take_definitions(true);

    for &(group, version, kind) in &needs.lists {
        let Some(source) = kinds::find(group, version, kind) else {
            continue;
        };
        let item = (source.name)().into_owned();
        let list = list_schema(&item, kind, schemas.get(&item));
        let name = list_name(&item);
        schemas.insert(name.clone(), list);
        tag(
            &mut schemas,
            &name,
            (group, version, &format!("{kind}List")),
        );
    }
    // Every top-level kind is tagged wherever it appears, as kube-apiserver does: the
    // PersistentVolumeClaim inside a StatefulSet's claim templates is tagged in apps/v1 too.
    for source in kinds::KINDS {
        let name = (source.name)();
        let Some(schema) = schemas.get_mut(name.as_ref()) else {
            continue;
        };
        // k8s-openapi makes `metadata` required because its Rust field is not optional;
        // Kubernetes requires it of no top-level kind but the core Event.
        if name != CORE_EVENT {
            drop_required(schema, "metadata");
        }
        tag(
            &mut schemas,
            &name,
            (source.group, source.version, source.kind),
        );
    }
    tag_meta(&mut schemas, &needs.served);
    for (schema, field, meta) in patch_meta::entries() {
        let property = schemas
            .get_mut(&schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field))
            .and_then(Value::as_object_mut);
        if let Some(property) = property {
            property.insert("x-kubernetes-patch-strategy".into(), meta.strategy.into());
            if let Some(key) = meta.merge_key {
                property.insert("x-kubernetes-patch-merge-key".into(), key.into());
            }
        }
    }
    schemas
}

/// `apiVersion`, `kind`, `metadata` and `items`, as Kubernetes lists every kind.
fn list_schema(item: &str, kind: &str, item_schema: Option<&Value>) -> Value {
    let type_meta = |field: &str| {
        item_schema
            .and_then(|s| s.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}))
    };
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": type_meta("apiVersion"),
            "items": {
                "description": format!("The {kind} objects in the list."),
                "type": "array",
                "items": reference(item),
            },
            "kind": type_meta("kind"),
            "metadata": {
                "description": "Standard list metadata: the resource version and continue token \
                                of the list.",
                "allOf": [reference(LIST_META)],
            },
        },
        "required": ["items"],
    })
}

fn tag(schemas: &mut Map<String, Value>, name: &str, gvk: Gvk<'_>) {
    let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else {
        return;
    };
    let value = gvk_value(gvk);
    let list = schema
        .entry(GVK_EXTENSION)
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = list
        && !list.contains(&value)
    {
        list.push(value);
    }
}

/// The meta kinds every group serves: `DeleteOptions` and `WatchEvent` under each group-version,
/// `Status` and `APIResourceList` under the core group.
fn tag_meta(schemas: &mut Map<String, Value>, served: &[(&str, &str)]) {
    if let Some(status) = schemas.get_mut(STATUS) {
        drop_required(status, "metadata");
    }
    tag(schemas, STATUS, ("", "v1", "Status"));
    tag(schemas, API_RESOURCE_LIST, ("", "v1", "APIResourceList"));
    for (name, kind) in [
        (DELETE_OPTIONS, "DeleteOptions"),
        (WATCH_EVENT, "WatchEvent"),
    ] {
        tag(schemas, name, ("", "v1", kind));
        for &(group, version) in served {
            tag(schemas, name, (group, version, kind));
        }
    }
}

fn drop_required(schema: &mut Value, field: &str) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(required)) = object.get_mut("required") {
        required.retain(|f| f != field);
        if required.is_empty() {
            object.remove("required");
        }
    }
}
