//! Compares the body a client sent with its typed round-trip: fields the typed struct dropped are
//! unknown fields, and fields the round-trip added (zero values of required Go fields) are dropped
//! again so the stored object holds only what the client sent, normalised.

use serde_json::{Map, Value};

use super::go_type::{Seg, render_path};

/// Removes `null` members, which Go's decoder treats as absent, so the typed decode does not
/// reject them. Keys listed in `raw_top` (raw extensions) and `fieldsV1` keep their content as is.
pub(crate) fn strip_nulls(value: &mut Value, raw_top: &[&str]) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        for (k, v) in map.iter_mut() {
            if !raw_top.contains(&k.as_str()) {
                strip_nested(v);
            }
        }
    }
}

fn strip_nested(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            for (k, v) in map.iter_mut() {
                if k != "fieldsV1" {
                    strip_nested(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nested),
        _ => {}
    }
}

/// Keeps the round-tripped values of the fields present in `input`, in the input's order, and
/// records each input field the round-trip dropped as unknown.
pub(crate) fn reconcile(
    input: &Value,
    output: Value,
    path: &mut Vec<Seg>,
    unknown: &mut Vec<String>,
) -> Value {
    match (input, output) {
        (Value::Object(given), Value::Object(mut typed)) => {
            let mut kept = Map::new();
            for (k, v) in given {
                path.push(Seg::Key(k.clone()));
                match typed.remove(k) {
                    Some(t) => {
                        kept.insert(k.clone(), reconcile(v, t, path, unknown));
                    }
                    None => unknown.push(render_path(path)),
                }
                path.pop();
            }
            Value::Object(kept)
        }
        (Value::Array(given), Value::Array(typed)) if given.len() == typed.len() => {
            let items = given
                .iter()
                .zip(typed)
                .enumerate()
                .map(|(i, (g, t))| {
                    path.push(Seg::Index(i));
                    let v = reconcile(g, t, path, unknown);
                    path.pop();
                    v
                })
                .collect();
            Value::Array(items)
        }
        (_, typed) => typed,
    }
}
