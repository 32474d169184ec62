//! Field paths and field errors as Kubernetes' `field` package words them, and the Go-syntax
//! renderings (`%#v`) of the values some of its errors print.

use serde_json::Value;

use crate::selector::go_quote;
use crate::status::Cause;

/// `parent.name`, or `name` at the root.
pub(crate) fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// `parent[3]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]`, a map entry.
pub(crate) fn key(parent: &str, k: &str) -> String {
    format!("{parent}[{k}]")
}

/// A value as Go's field errors print simple values: strings quoted, numbers and booleans bare.
pub(crate) fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn cause(reason: &str, field: &str, message: String) -> Cause {
    Cause {
        reason: reason.to_string(),
        field: field.to_string(),
        message,
    }
}

/// `Invalid value: "x": detail`.
pub(crate) fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    invalid_shown(field, &shown(value), detail)
}

/// `Invalid value: <already rendered>: detail`, for Go-syntax values.
pub(crate) fn invalid_shown(field: &str, rendered: &str, detail: &str) -> Cause {
    let message = if detail.is_empty() {
        format!("Invalid value: {rendered}")
    } else {
        format!("Invalid value: {rendered}: {detail}")
    };
    cause("FieldValueInvalid", field, message)
}

/// `Required value`, with an optional detail.
pub(crate) fn required(field: &str, detail: &str) -> Cause {
    Cause::required(field, detail)
}

/// `Forbidden: detail`.
pub(crate) fn forbidden(field: &str, detail: &str) -> Cause {
    Cause::forbidden(field, detail)
}

/// `Duplicate value: "x"`.
pub(crate) fn duplicate(field: &str, value: &Value) -> Cause {
    duplicate_shown(field, &shown(value))
}

/// `Duplicate value: <already rendered>`.
pub(crate) fn duplicate_shown(field: &str, rendered: &str) -> Cause {
    cause(
        "FieldValueDuplicate",
        field,
        format!("Duplicate value: {rendered}"),
    )
}

/// `Not found: "x"`.
pub(crate) fn not_found(field: &str, value: &Value) -> Cause {
    cause(
        "FieldValueNotFound",
        field,
        format!("Not found: {}", shown(value)),
    )
}

/// `Unsupported value: "x": supported values: "a", "b"`.
pub(crate) fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Cause {
    not_supported_shown(field, &shown(value), supported)
}

/// [`not_supported`] with an already rendered value.
pub(crate) fn not_supported_shown(field: &str, rendered: &str, supported: &[&str]) -> Cause {
    let listed: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
    cause(
        "FieldValueNotSupported",
        field,
        format!(
            "Unsupported value: {rendered}: supported values: {}",
            listed.join(", ")
        ),
    )
}

/// `Too long: may not be more than N bytes`.
pub(crate) fn too_long(field: &str, max: usize) -> Cause {
    cause(
        "FieldValueTooLong",
        field,
        format!("Too long: may not be more than {max} bytes"),
    )
}

/// The message Kubernetes gives for a negative count.
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
/// The message Kubernetes gives for a changed immutable field.
pub(crate) const IMMUTABLE: &str = "field is immutable";

/// Adds `must be greater than or equal to 0` when a present number is negative.
pub(crate) fn nonnegative(errs: &mut Vec<Cause>, field: &str, value: Option<&Value>) {
    if let Some(n) = value.and_then(Value::as_i64)
        && n < 0
    {
        errs.push(invalid(field, &Value::from(n), NEGATIVE));
    }
}

/// A string member, empty when absent.
pub(crate) fn str_of<'a>(obj: &'a Value, name: &str) -> &'a str {
    obj.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A list member, empty when absent.
pub(crate) fn list_of<'a>(obj: &'a Value, name: &str) -> &'a [Value] {
    obj.get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A present, non-null member.
pub(crate) fn present<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// `map[string]string{"a":"1", "b":"2"}`, or `map[string]string(nil)` for an absent map.
pub(crate) fn go_string_map(value: Option<&Value>) -> String {
    match value.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let shown: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v.as_str().unwrap_or(""))))
                .collect();
            format!("map[string]string{{{}}}", shown.join(", "))
        }
    }
}

/// `[]string{"a", "b"}`, or `[]string(nil)`.
pub(crate) fn go_string_slice(value: Option<&Value>) -> String {
    match value.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(items) => {
            let shown: Vec<String> = items
                .iter()
                .map(|v| go_quote(v.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", shown.join(", "))
        }
    }
}

/// A label selector as `%#v` prints `metav1.LabelSelector`.
pub(crate) fn go_label_selector(selector: &Value) -> String {
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(items) => {
            let shown: Vec<String> = items
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(str_of(r, "key")),
                        go_quote(str_of(r, "operator")),
                        go_string_slice(r.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", shown.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(selector.get("matchLabels")),
        expressions
    )
}

/// An IntOrString as `%#v` prints `intstr.IntOrString`.
pub(crate) fn go_int_or_string(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => {
            format!(
                "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
                go_quote(s)
            )
        }
        Some(Value::Number(n)) => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            n.as_i64().unwrap_or(0)
        ),
        _ => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_string(),
    }
}

/// A timestamp as Go's `time.Time` prints itself: `2024-01-02 03:04:05 +0000 UTC`.
pub(crate) fn go_time(value: &str) -> String {
    match value.strip_suffix('Z') {
        Some(t) => format!("{} +0000 UTC", t.replacen('T', " ", 1)),
        None => value.to_string(),
    }
}
