//! Walks a kind's JSON schema along a JSON path to name things the way Go's JSON decoder does in
//! kube-apiserver's errors: the enclosing struct, the dotted field path and the Go type.

use serde_json::Value;

/// One step of a JSON path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Renders `spec.template.spec.containers[0].name`, the field path form Kubernetes prints.
pub(crate) fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Where a JSON path lands in Go terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoField {
    /// The Go struct holding the field (`DeploymentSpec`).
    pub struct_name: String,
    /// Field names from the root, without indexes or map keys (`spec.template.spec.containers.image`).
    pub field_path: String,
    /// The Go type decoded into (`int32`, `[]v1.Container`, `map[string]string`).
    pub type_name: String,
}

/// The last two dotted parts of an OpenAPI definition name: `v1.Container`, `resource.Quantity`.
fn short_def(def: &str) -> String {
    let parts: Vec<&str> = def.rsplitn(3, '.').collect();
    match parts.as_slice() {
        [name, pkg, ..] => format!("{pkg}.{name}"),
        _ => def.to_string(),
    }
}

/// Follows a `$ref`, returning the target and the definition name it came from.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or(r);
            match root.get("$defs").and_then(|d| d.get(name)) {
                Some(target) => (target, Some(name)),
                None => (schema, None),
            }
        }
        None => (schema, None),
    }
}

/// The Go type name for a schema node.
pub(crate) fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return short_def(r.rsplit('/').next().unwrap_or(r));
    }
    let format = schema.get("format").and_then(Value::as_str);
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => match schema.get("items") {
            Some(items) => format!("[]{}", type_name(items)),
            None => "[]interface {}".to_string(),
        },
        Some("object") => match schema.get("additionalProperties") {
            Some(v) if v.is_object() => format!("map[string]{}", type_name(v)),
            _ => "map[string]interface {}".to_string(),
        },
        Some("integer") => match format {
            Some("int32") => "int32".to_string(),
            Some("int64") => "int64".to_string(),
            _ => "int".to_string(),
        },
        Some("number") => "float64".to_string(),
        Some("boolean") => "bool".to_string(),
        Some("string") if format == Some("byte") => "[]uint8".to_string(),
        Some("string") => "string".to_string(),
        _ => "interface {}".to_string(),
    }
}

/// Describes the field at `path` of an object of `kind`, or `None` when the schema has no such
/// field (raw extensions, unknown fields).
pub(crate) fn describe(root: &Value, kind: &str, path: &[Seg]) -> Option<GoField> {
    let mut current = root;
    let mut current_struct = kind.to_string();
    let mut struct_name = kind.to_string();
    let mut fields: Vec<&str> = Vec::new();
    for seg in path {
        let (schema, def) = resolve(root, current);
        if let Some(def) = def {
            current_struct = def.rsplit('.').next().unwrap_or(def).to_string();
        }
        current = match seg {
            Seg::Key(k) => {
                if let Some(prop) = schema.get("properties").and_then(|p| p.get(k.as_str())) {
                    struct_name = current_struct.clone();
                    fields.push(k);
                    prop
                } else {
                    schema.get("additionalProperties")?
                }
            }
            Seg::Index(_) => schema.get("items")?,
        };
    }
    Some(GoField {
        struct_name,
        field_path: fields.join("."),
        type_name: type_name(current),
    })
}

/// Calls `f` with the path and value of every `Quantity` in `value`.
pub(crate) fn for_each_quantity(
    root: &Value,
    schema: &Value,
    value: &Value,
    path: &mut Vec<Seg>,
    f: &mut dyn FnMut(&[Seg], &Value),
) {
    let (schema, def) = resolve(root, schema);
    if def == Some("io.k8s.apimachinery.pkg.api.resource.Quantity") {
        f(path, value);
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties");
            let extra = schema.get("additionalProperties");
            for (k, v) in map {
                let child = props.and_then(|p| p.get(k.as_str())).or(extra);
                if let Some(child) = child {
                    path.push(Seg::Key(k.clone()));
                    for_each_quantity(root, child, v, path, f);
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            if let Some(child) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    for_each_quantity(root, child, v, path, f);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}
