//! Reading fields of an object's JSON without a typed model. A missing field reads as its zero
//! value (`""`, `0`, empty), as it does in the Go structs the printers were written against.

use std::time::SystemTime;

use serde_json::Value;

use super::age::{self, Timestamp};

static NULL: Value = Value::Null;

/// The value at `path`, or `null` when any step is missing.
pub(super) fn field<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .try_fold(v, |cur, key| cur.get(key))
        .unwrap_or(&NULL)
}

/// Whether the field at `path` is present and not `null`: a Go pointer that is not nil.
pub(super) fn is_set(v: &Value, path: &[&str]) -> bool {
    !field(v, path).is_null()
}

pub(super) fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    field(v, path).as_str().unwrap_or("")
}

pub(super) fn int(v: &Value, path: &[&str]) -> i64 {
    let value = field(v, path);
    value
        .as_i64()
        .or_else(|| value.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

/// An optional integer with the default kube's defaulting would have filled in (`replicas: 1`).
pub(super) fn int_or(v: &Value, path: &[&str], default: i64) -> i64 {
    if is_set(v, path) {
        int(v, path)
    } else {
        default
    }
}

pub(super) fn flag(v: &Value, path: &[&str]) -> bool {
    field(v, path).as_bool().unwrap_or(false)
}

pub(super) fn items<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    field(v, path).as_array().map_or(&[], Vec::as_slice)
}

/// The number of entries of a map or list field.
pub(super) fn count(v: &Value, path: &[&str]) -> i64 {
    let value = field(v, path);
    let n = match value {
        Value::Object(map) => map.len(),
        Value::Array(list) => list.len(),
        _ => 0,
    };
    n as i64
}

/// The string entries of a map field (labels, annotations, a node selector), sorted by key.
pub(super) fn string_map<'a>(v: &'a Value, path: &[&str]) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = field(v, path)
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// The NAME cell.
pub(super) fn name(obj: &Value) -> Value {
    Value::from(text(obj, &["metadata", "name"]))
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(super) fn age(obj: &Value, now: SystemTime) -> Value {
    Value::from(since(obj, &["metadata", "creationTimestamp"], now))
}

/// Time since the timestamp at `path`, `<unknown>` when it is missing.
pub(super) fn since(v: &Value, path: &[&str], now: SystemTime) -> String {
    age::since(Timestamp::from_value(field(v, path)), now)
}

/// `<none>` for an empty string, as kube prints absent optional values.
pub(super) fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}
