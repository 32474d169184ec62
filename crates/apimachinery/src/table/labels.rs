//! Label maps and label selectors written out as text, the way SELECTOR and NODE SELECTOR cells
//! show them: `app=web,tier in (a,b)`.

use serde_json::Value;

use super::object;

/// A label map as `k1=v1,k2=v2`, sorted by key; `<none>` when empty.
pub(super) fn format_labels(v: &Value, path: &[&str]) -> String {
    let pairs = object::string_map(v, path);
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `LabelSelector` in its canonical text form, its requirements sorted by key. An absent or
/// empty selector gives `""`; `None` means it is invalid (an unknown operator, or values where
/// the operator takes none). Label key and value syntax is not checked: the API server validated
/// it on write.
pub(super) fn selector_string(selector: &Value) -> Option<String> {
    let mut requirements: Vec<(&str, String)> = object::string_map(selector, &["matchLabels"])
        .into_iter()
        .map(|(k, v)| (k, format!("{k}={v}")))
        .collect();
    for expr in object::items(selector, &["matchExpressions"]) {
        let key = object::text(expr, &["key"]);
        let mut values: Vec<&str> = object::items(expr, &["values"])
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .collect();
        values.sort_unstable();
        let text = match object::text(expr, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => return None,
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return None,
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        };
        requirements.push((key, text));
    }
    // Stable, so a key required twice keeps the order it was written in.
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    Some(
        requirements
            .into_iter()
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A selector for display: `<none>` when it selects everything, `<error>` when invalid.
pub(super) fn format_selector(selector: &Value) -> String {
    match selector_string(selector) {
        None => "<error>".to_string(),
        Some(s) if s.is_empty() => "<none>".to_string(),
        Some(s) => s,
    }
}
