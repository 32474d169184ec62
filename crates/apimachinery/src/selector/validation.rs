//! Label key and value validation (kube's rules and wording, shared with `schema::names`), and
//! the Go-style quoting selector messages use.

/// Why `key` is not a valid label key (a qualified name with an optional DNS subdomain prefix),
/// one message per problem; empty when it is valid. The rules live with the other name checks
/// in `schema::names`.
pub fn label_key_errors(key: &str) -> Vec<String> {
    crate::schema::is_qualified_name(key)
}

/// Why `value` is not a valid label value; empty when it is valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    crate::schema::is_label_value(value)
}

/// A string quoted as Go's `%q` prints it, so messages built from user input match kube's.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list of strings as Go's `encoding/json` writes it (`null` when empty, as a nil slice is),
/// which is how kube prints a bad `values` list.
pub fn go_json_strings(values: &[String]) -> String {
    if values.is_empty() {
        return "null".to_string();
    }
    let json = serde_json::to_string(values).unwrap_or_default();
    // Go escapes these three for safe embedding in HTML; serde_json does not.
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
