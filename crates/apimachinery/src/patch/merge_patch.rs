//! JSON merge patch (RFC 7386, `application/merge-patch+json`): objects merge key by key, `null`
//! deletes, anything else replaces.

use serde_json::{Map, Value};

/// Applies a JSON merge patch to `doc`.
///
/// One refinement over the RFC, taken from the library kube-apiserver uses: nulls are dropped from
/// objects nested in an array the patch brings in. kube would drop them anyway when it decodes the
/// result into a typed object, and storing them would leave `null` members that kube never shows.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return without_nulls(patch.clone());
    };
    let mut target = match doc {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            let merged = merge_patch(target.get(key).unwrap_or(&Value::Null), value);
            target.insert(key.clone(), merged);
        }
    }
    Value::Object(target)
}

/// Drops null members of every object inside `v`; nulls that are array elements stay.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}
