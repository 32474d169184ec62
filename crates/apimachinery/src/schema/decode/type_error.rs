//! Turns a serde type error from the typed decode into the text Go's JSON decoder gives inside
//! kube-apiserver (`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
//! of type int32`), by finding the JSON path at the error's byte offset.

use serde_json::Value;

use super::formats;
use super::go_type::{self, Seg};

/// Finds the path of the innermost value around byte `target` of compact JSON text.
pub(crate) fn path_at(text: &str, target: usize) -> Vec<Seg> {
    let b = text.as_bytes();
    let mut target = target.min(b.len().saturating_sub(1));
    // serde reports some type errors before consuming the offending value, with the offset on
    // the separator in front of it.
    let at_separator = matches!(b.get(target), Some(b':' | b','));
    let at_list_of_containers =
        b.get(target) == Some(&b'[') && matches!(b.get(target + 1), Some(b'{' | b'['));
    if at_separator || at_list_of_containers {
        target += 1;
    }
    let mut scan = Scanner {
        b,
        i: 0,
        target,
        found: None,
    };
    let mut path = Vec::new();
    scan.value(&mut path);
    scan.found.unwrap_or_default()
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    target: usize,
    found: Option<Vec<Seg>>,
}

impl Scanner<'_> {
    fn value(&mut self, path: &mut Vec<Seg>) {
        let start = self.i;
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                while self.b.get(self.i).is_some_and(|c| *c != b'}') {
                    let key = self.string();
                    self.i += 1; // ':'
                    path.push(Seg::Key(key));
                    self.value(path);
                    path.pop();
                    if self.b.get(self.i) == Some(&b',') {
                        self.i += 1;
                    }
                }
                self.i += 1;
            }
            Some(b'[') => {
                self.i += 1;
                let mut index = 0;
                while self.b.get(self.i).is_some_and(|c| *c != b']') {
                    path.push(Seg::Index(index));
                    self.value(path);
                    path.pop();
                    index += 1;
                    if self.b.get(self.i) == Some(&b',') {
                        self.i += 1;
                    }
                }
                self.i += 1;
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']'))
                {
                    self.i += 1;
                }
            }
            None => return,
        }
        if self.found.is_none() && start <= self.target && self.target < self.i {
            self.found = Some(path.clone());
        }
    }

    /// Reads a JSON string starting at the opening quote.
    fn string(&mut self) -> String {
        let start = self.i;
        self.i += 1;
        while let Some(c) = self.b.get(self.i) {
            match c {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        let raw = std::str::from_utf8(&self.b[start..self.i.min(self.b.len())]).unwrap_or("\"\"");
        serde_json::from_str(raw).unwrap_or_default()
    }
}

/// How Go's decoder names the JSON value it could not store: `string`, `number 1.5`, `object`.
fn go_value_kind(unexpected: &str, into_integer: bool) -> String {
    let literal = unexpected
        .split('`')
        .nth(1)
        .map(str::to_string)
        .unwrap_or_default();
    if unexpected.starts_with("string") {
        "string".into()
    } else if unexpected.starts_with("integer") || unexpected.starts_with("floating point") {
        if into_integer && !literal.is_empty() {
            format!("number {literal}")
        } else {
            "number".into()
        }
    } else if unexpected.starts_with("boolean") {
        "bool".into()
    } else if unexpected.starts_with("map") {
        "object".into()
    } else if unexpected.starts_with("sequence") {
        "array".into()
    } else {
        unexpected.to_string()
    }
}

/// The decode error text for a failed typed decode of `text`, as Go would word it.
pub(crate) fn describe(
    err: &serde_json::Error,
    text: &str,
    schema: &Value,
    kind: &str,
    body: &Value,
) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    let path = path_at(text, err.column().saturating_sub(1));
    let Some(field) = go_type::describe(schema, kind, &path) else {
        return message;
    };
    let is_integer = field.type_name.starts_with("int") || field.type_name.starts_with("uint");
    let cannot = |value: String| {
        if field.field_path.is_empty() {
            format!(
                "json: cannot unmarshal {value} into Go value of type {}",
                field.type_name
            )
        } else {
            format!(
                "json: cannot unmarshal {value} into Go struct field {}.{} of type {}",
                field.struct_name, field.field_path, field.type_name
            )
        }
    };
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let unexpected = rest.split(", expected").next().unwrap_or(rest);
        return cannot(go_value_kind(unexpected, is_integer));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let unexpected = rest.split(", expected").next().unwrap_or(rest);
        return cannot(go_value_kind(unexpected, is_integer));
    }
    let value = pointer(body, &path).and_then(Value::as_str).unwrap_or("");
    match field.type_name.as_str() {
        "v1.Time" | "v1.MicroTime" => format!(
            "parsing time \"{value}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"{value}\" as \"2006\""
        ),
        "[]uint8" => match formats::decode_base64(value) {
            Err(at) => format!("illegal base64 data at input byte {at}"),
            Ok(_) => message,
        },
        _ => message,
    }
}

/// The value at a path, if any.
pub(crate) fn pointer<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}
