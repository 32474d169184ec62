//! The `paths` of one group-version document: for each served resource its collection, object,
//! all-namespaces and subresource URLs, with one operation per verb. kubectl reads two things
//! here: explain finds a resource's kind in the `x-kubernetes-group-version-kind` of an operation
//! on its collection or object path, and `--validate` looks for a `fieldValidation` query
//! parameter on each PATCH operation of a kind.

use serde_json::{Map, Value, json};

use super::kinds;
use super::params;
use super::schemas::{
    API_RESOURCE_LIST, DELETE_OPTIONS, Gvk, PATCH, STATUS, gvk_value, list_name, reference,
};
use crate::resource::{ResourceInfo, Subresource};

const OBJECT_TYPES: &[&str] = &["application/json", "application/yaml"];
const LIST_TYPES: &[&str] = &[
    "application/json",
    "application/json;stream=watch",
    "application/yaml",
];
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
const TEXT_TYPES: &[&str] = &["application/json", "text/plain"];

const OK: &[(&str, &str)] = &[("200", "OK")];
const WRITTEN: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const DELETED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

/// The paths of one group-version, keyed by URL template.
pub(crate) fn build(
    group: &str,
    version: &str,
    resources: &[&'static ResourceInfo],
) -> Map<String, Value> {
    let names = Names::new(group, version);
    let mut paths = Map::new();
    let discovery = Operation {
        id: format!("get{}APIResources", names.group_version),
        description: format!("Get the resources {} serves.", names.prefix),
        action: None,
        gvk: None,
        params: Vec::new(),
        body: None,
        responses: responses(OK, OBJECT_TYPES, &reference(API_RESOURCE_LIST)),
    };
    paths.insert(
        format!("{}/", names.prefix),
        json!({"get": discovery.into_value()}),
    );
    for resource in resources {
        resource_paths(&mut paths, &names, resource);
    }
    paths
}

/// The spellings of a group-version in URLs and operation ids.
struct Names {
    /// `/api/v1` or `/apis/apps/v1`.
    prefix: String,
    /// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
    group_version: String,
}

impl Names {
    fn new(group: &str, version: &str) -> Self {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let group_name: String = if group.is_empty() {
            "Core".into()
        } else {
            group
                .trim_end_matches(".k8s.io")
                .split('.')
                .map(capitalize)
                .collect()
        };
        Names {
            prefix,
            group_version: format!("{group_name}{}", capitalize(version)),
        }
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One operation of a path.
struct Operation {
    id: String,
    description: String,
    /// `x-kubernetes-action`: get, list, post, put, patch, delete, deletecollection or connect.
    action: Option<&'static str>,
    gvk: Option<Value>,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
}

impl Operation {
    fn into_value(self) -> Value {
        let mut op = Map::new();
        op.insert("operationId".into(), self.id.into());
        op.insert("description".into(), self.description.into());
        if !self.params.is_empty() {
            op.insert("parameters".into(), self.params.into());
        }
        if let Some(body) = self.body {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses);
        if let Some(action) = self.action {
            op.insert("x-kubernetes-action".into(), action.into());
        }
        if let Some(gvk) = self.gvk {
            op.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
        Value::Object(op)
    }
}

fn content(types: &[&str], schema: &Value) -> Value {
    let map: Map<String, Value> = types
        .iter()
        .map(|t| (t.to_string(), json!({ "schema": schema })))
        .collect();
    Value::Object(map)
}

fn responses(codes: &[(&str, &str)], types: &[&str], schema: &Value) -> Value {
    let mut map = Map::new();
    for (code, description) in codes {
        map.insert(
            code.to_string(),
            json!({"description": description, "content": content(types, schema)}),
        );
    }
    map.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(map)
}

fn body(types: &[&str], schema_name: &str) -> Value {
    json!({"required": true, "content": content(types, &reference(schema_name))})
}

/// A path item: its shared parameters and its operations by HTTP method.
fn path_item(shared: Vec<Value>, operations: Vec<(&str, Operation)>) -> Value {
    let mut item = Map::new();
    if !shared.is_empty() {
        item.insert("parameters".into(), shared.into());
    }
    for (method, op) in operations {
        item.insert(method.into(), op.into_value());
    }
    Value::Object(item)
}

fn resource_paths(paths: &mut Map<String, Value>, names: &Names, r: &ResourceInfo) {
    // A resource without a schema is left out; a unit test keeps RESOURCES and the kind table in
    // step.
    let Some(source) = kinds::find(r.group, r.version, r.kind) else {
        return;
    };
    let schema = (source.name)().into_owned();
    let gv = &names.group_version;
    let kind = r.kind;
    let gvk = || Some(gvk_value((r.group, r.version, kind)));
    let (scope_path, scope) = if r.namespaced {
        (
            format!("{}/namespaces/{{namespace}}", names.prefix),
            "Namespaced",
        )
    } else {
        (names.prefix.clone(), "")
    };
    let scope_params = |with_name: bool| {
        let mut shared = Vec::new();
        if with_name {
            shared.push(params::name(kind));
        }
        if r.namespaced {
            shared.push(params::namespace());
        }
        shared
    };
    let with_pretty = |mut shared: Vec<Value>| {
        shared.push(params::pretty());
        shared
    };
    let list = |id: String| Operation {
        id,
        description: format!("List or watch {kind} objects."),
        action: Some("list"),
        gvk: gvk(),
        params: params::list(),
        body: None,
        responses: responses(OK, LIST_TYPES, &reference(&list_name(&schema))),
    };

    let collection = format!("{scope_path}/{}", r.plural);
    let mut ops = Vec::new();
    if r.has_verb("list") {
        ops.push(("get", list(format!("list{gv}{scope}{kind}"))));
    }
    if r.has_verb("create") {
        ops.push((
            "post",
            Operation {
                id: format!("create{gv}{scope}{kind}"),
                description: format!("Create a {kind}."),
                action: Some("post"),
                gvk: gvk(),
                params: params::write(),
                body: Some(body(&["*/*"], &schema)),
                responses: responses(CREATED, OBJECT_TYPES, &reference(&schema)),
            },
        ));
    }
    if r.has_verb("deletecollection") {
        ops.push((
            "delete",
            Operation {
                id: format!("delete{gv}Collection{scope}{kind}"),
                description: format!("Delete every {kind} a selector picks."),
                action: Some("deletecollection"),
                gvk: gvk(),
                params: params::delete_collection(),
                body: Some(body(&["*/*"], DELETE_OPTIONS)),
                responses: responses(OK, OBJECT_TYPES, &reference(STATUS)),
            },
        ));
    }
    if !ops.is_empty() {
        paths.insert(
            collection.clone(),
            path_item(with_pretty(scope_params(false)), ops),
        );
    }
    if r.namespaced && r.has_verb("list") {
        paths.insert(
            format!("{}/{}", names.prefix, r.plural),
            path_item(
                vec![params::pretty()],
                vec![("get", list(format!("list{gv}{kind}ForAllNamespaces")))],
            ),
        );
    }

    let object = format!("{collection}/{{name}}");
    let mut ops = Vec::new();
    let target = Target {
        gv,
        scope,
        kind,
        suffix: "",
        schema: &schema,
        gvk: (r.group, r.version, kind),
    };
    for verb in r.verbs {
        if let Some(op) = object_operation(&target, verb) {
            ops.push(op);
        }
    }
    if !ops.is_empty() {
        paths.insert(
            object.clone(),
            path_item(with_pretty(scope_params(true)), ops),
        );
    }

    for sub in r.subresources {
        let path = format!("{object}/{}", sub.name);
        let suffix = capitalize(sub.name);
        let (group, version) = sub_group_version(r, sub);
        let sub_schema = kinds::find(group, version, sub.kind).map(|k| (k.name)().into_owned());
        match (sub.name, sub_schema) {
            ("log", _) => {
                let op = Operation {
                    id: format!("read{gv}{scope}{kind}{suffix}"),
                    description: format!("Read the log of a {kind}'s container."),
                    action: Some("get"),
                    gvk: gvk(),
                    params: params::log(),
                    body: None,
                    responses: responses(OK, TEXT_TYPES, &json!({"type": "string"})),
                };
                paths.insert(
                    path,
                    path_item(with_pretty(scope_params(true)), vec![("get", op)]),
                );
            }
            (_, Some(sub_schema)) => {
                let target = Target {
                    gv,
                    scope,
                    kind,
                    suffix: &suffix,
                    schema: &sub_schema,
                    gvk: (group, version, sub.kind),
                };
                let ops: Vec<_> = sub
                    .verbs
                    .iter()
                    .filter_map(|verb| object_operation(&target, verb))
                    .collect();
                paths.insert(path, path_item(with_pretty(scope_params(true)), ops));
            }
            (_, None) => {
                let sub_gvk = (group, version, sub.kind);
                let mut shared = scope_params(true);
                shared.extend(params::connect(sub.name));
                let ops = connect_operations(gv, scope, kind, &suffix, "", sub_gvk, sub.verbs);
                paths.insert(path.clone(), path_item(shared, ops));
                if sub.name == "proxy" {
                    let mut shared = scope_params(true);
                    shared.push(params::proxy_path());
                    let ops = connect_operations(
                        gv, scope, kind, &suffix, "WithPath", sub_gvk, sub.verbs,
                    );
                    paths.insert(format!("{path}/{{path}}"), path_item(shared, ops));
                }
            }
        }
    }
}

/// The group and version of a subresource's kind: its own, or its parent's.
fn sub_group_version<'a>(r: &'a ResourceInfo, sub: &'a Subresource) -> (&'a str, &'a str) {
    match sub.group_version {
        Some(gv) => gv.split_once('/').unwrap_or(("", gv)),
        None => (r.group, r.version),
    }
}

/// An object path or a subresource that reads and writes a whole object.
struct Target<'a> {
    gv: &'a str,
    scope: &'a str,
    kind: &'a str,
    /// The capitalised subresource name in operation ids, `Status`; empty for the object itself.
    suffix: &'a str,
    /// The component the operations read and write.
    schema: &'a str,
    gvk: Gvk<'a>,
}

fn object_operation(t: &Target<'_>, verb: &str) -> Option<(&'static str, Operation)> {
    let Target {
        gv,
        scope,
        kind,
        suffix,
        schema,
        gvk,
    } = *t;
    let what = if suffix.is_empty() {
        format!("the named {kind}")
    } else {
        format!("the {} of the named {kind}", suffix.to_lowercase())
    };
    let (method, id, action, description, params, body, responses) = match verb {
        "get" => (
            "get",
            "read",
            "get",
            format!("Read {what}."),
            Vec::new(),
            None,
            responses(OK, OBJECT_TYPES, &reference(schema)),
        ),
        "update" => (
            "put",
            "replace",
            "put",
            format!("Replace {what}."),
            params::write(),
            Some(body(&["*/*"], schema)),
            responses(WRITTEN, OBJECT_TYPES, &reference(schema)),
        ),
        "patch" => (
            "patch",
            "patch",
            "patch",
            format!("Partially update {what}."),
            params::patch(),
            Some(body(PATCH_TYPES, PATCH)),
            responses(WRITTEN, OBJECT_TYPES, &reference(schema)),
        ),
        "delete" if suffix.is_empty() => (
            "delete",
            "delete",
            "delete",
            format!("Delete {what}."),
            params::delete(),
            Some(body(&["*/*"], DELETE_OPTIONS)),
            responses(DELETED, OBJECT_TYPES, &reference(STATUS)),
        ),
        // `create` on an object path is a subresource such as `binding` or `eviction`.
        "create" if !suffix.is_empty() => (
            "post",
            "create",
            "post",
            format!("Create {what}."),
            params::write(),
            Some(body(&["*/*"], schema)),
            responses(CREATED, OBJECT_TYPES, &reference(schema)),
        ),
        _ => return None,
    };
    let op = Operation {
        id: format!("{id}{gv}{scope}{kind}{suffix}"),
        description,
        action: Some(action),
        gvk: Some(gvk_value(gvk)),
        params,
        body,
        responses,
    };
    Some((method, op))
}

/// The operations of a connect subresource (`exec`, `attach`, `portforward`, `proxy`): streams,
/// not objects.
fn connect_operations(
    gv: &str,
    scope: &str,
    kind: &str,
    suffix: &str,
    tail: &str,
    gvk: Gvk<'_>,
    verbs: &[&str],
) -> Vec<(&'static str, Operation)> {
    let mut ops = Vec::new();
    for verb in verbs {
        let (method, word) = match *verb {
            "get" => ("get", "Get"),
            "create" => ("post", "Post"),
            "update" => ("put", "Put"),
            "patch" => ("patch", "Patch"),
            "delete" => ("delete", "Delete"),
            _ => continue,
        };
        let op = Operation {
            id: format!("connect{gv}{word}{scope}{kind}{suffix}{tail}"),
            description: format!(
                "Connect {} requests to {} of a {kind}.",
                method.to_uppercase(),
                suffix.to_lowercase()
            ),
            action: Some("connect"),
            gvk: Some(gvk_value(gvk)),
            params: Vec::new(),
            body: None,
            responses: responses(OK, &["*/*"], &json!({"type": "string"})),
        };
        ops.push((method, op));
    }
    ops
}
