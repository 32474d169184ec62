//! A short report of which spec fields an update changed, in the shape of the `cmp.Diff` output
//! kube-apiserver appends to "may not change" errors.

use serde_json::Value;

use super::equivalent;

fn go_field_name(json_name: &str) -> String {
    let mut chars = json_name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `  core.PodSpec{` then one `- old` / `+ new` pair per changed field, then `  }`.
pub(crate) fn spec_diff(type_name: &str, old: &Value, new: &Value) -> String {
    let mut keys: Vec<&String> = Vec::new();
    for side in [old, new] {
        if let Some(map) = side.as_object() {
            for k in map.keys() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    keys.sort();
    let mut out = format!("  {type_name}{{\n");
    for k in keys {
        let (before, after) = (
            old.get(k.as_str()).unwrap_or(&Value::Null),
            new.get(k.as_str()).unwrap_or(&Value::Null),
        );
        if equivalent(before, after) {
            continue;
        }
        let name = go_field_name(k);
        out.push_str(&format!("- \t{name}: {before},\n+ \t{name}: {after},\n"));
    }
    out.push_str("  }\n");
    out
}
