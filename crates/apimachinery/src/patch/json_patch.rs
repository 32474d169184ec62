//! JSON patch (RFC 6902, `application/json-patch+json`) as kube-apiserver applies it.
//!
//! kube applies JSON patches with the evanphx/json-patch v4 library, whose behaviour differs from
//! the RFC in a few places that clients have come to rely on; this module follows the library:
//! - `replace` and `test` of a missing object key do not fail: `replace` adds the key, and `test`
//!   passes when the expected value is `null`;
//! - `copy` from a missing object key copies `null`;
//! - negative array indices count from the end (`/items/-1` is the last element);
//! - an operation without a `value` uses `null`.
//!
//! Paths use JSON pointer escaping (`~1` is `/`, `~0` is `~`) and `-` appends to an array.

use serde_json::Value;

use super::PatchError;
use crate::selector::go_quote;

/// Applies a JSON patch document (a list of operations) to `doc`, all or nothing.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: &[Value] = match patch {
        Value::Array(ops) => ops,
        // Go decodes `null` into an empty patch.
        Value::Null => &[],
        other => {
            return Err(PatchError::MalformedJsonPatch(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_kind(other)
            )));
        }
    };
    if let Some(bad) = ops.iter().find(|op| !op.is_object() && !op.is_null()) {
        return Err(PatchError::MalformedJsonPatch(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            json_kind(bad)
        )));
    }
    let mut doc = doc.clone();
    for op in ops {
        apply(&mut doc, op).map_err(PatchError::JsonPatchFailed)?;
    }
    Ok(doc)
}

/// The word Go's decoder uses for a JSON value's type in its errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

const MISSING: &str = "missing value";

fn apply(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    // An absent `value` reads as null, as the library's does.
    let value = op.get("value").cloned().unwrap_or(Value::Null);
    match kind {
        "add" => {
            let path = pointer(op, "path")
                .map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
            let (parent, key) = locate(doc, &path).ok_or_else(|| {
                format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
            })?;
            insert(parent, &key, value).map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let path = pointer(op, "path")
                .map_err(|_| format!("remove operation failed to decode path: {MISSING}"))?;
            let (parent, key) = locate(doc, &path).ok_or_else(|| {
                format!(
                    "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
                )
            })?;
            take(parent, &key)
                .map(drop)
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            let path = pointer(op, "path")
                .map_err(|e| format!("replace operation failed to decode path: {e}"))?;
            if path.is_empty() {
                if !value.is_object() && !value.is_array() {
                    return Err("replace operation value must be object or array".to_string());
                }
                *doc = value;
                return Ok(());
            }
            let (parent, key) = locate(doc, &path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
            })?;
            if get(parent, &key).is_err() {
                return Err(format!(
                    "replace operation does not apply: doc is missing key: {path}: {MISSING}"
                ));
            }
            overwrite(parent, &key, value)
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "move" => {
            let from = pointer(op, "from")
                .map_err(|e| format!("move operation failed to decode from: {e}"))?;
            let (parent, key) = locate(doc, &from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            get(parent, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let moved =
                take(parent, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let path = pointer(op, "path")
                .map_err(|e| format!("move operation failed to decode path: {e}"))?;
            let (parent, key) = locate(doc, &path).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing destination path: {path}: {MISSING}"
                )
            })?;
            insert(parent, &key, moved)
                .map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "copy" => {
            let from = pointer(op, "from")
                .map_err(|e| format!("copy operation failed to decode from: {e}"))?;
            let (parent, key) = locate(doc, &from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
                )
            })?;
            let copied = get(parent, &key)
                .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
                .unwrap_or(Value::Null);
            let path = pointer(op, "path")
                .map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
            let (parent, key) = locate(doc, &path).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing destination path: {path}: {MISSING}"
                )
            })?;
            insert(parent, &key, copied)
                .map_err(|e| format!("error while adding value during copy: {e}"))
        }
        "test" => {
            let path = pointer(op, "path")
                .map_err(|e| format!("test operation failed to decode path: {e}"))?;
            let failed = || format!("testing value {path} failed: test failed");
            if path.is_empty() {
                return if *doc == value { Ok(()) } else { Err(failed()) };
            }
            let (parent, key) = locate(doc, &path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: {MISSING}")
            })?;
            let actual = get(parent, &key)
                .map_err(|e| format!("error in test for path: '{path}': {e}"))?
                .unwrap_or(Value::Null);
            let expected = op.get("value");
            // The library treats an absent value and a null one alike, on both sides.
            let same = match (&actual, expected) {
                (Value::Null, None | Some(Value::Null)) => true,
                (_, None) => false,
                (actual, Some(expected)) => actual == expected,
            };
            if same { Ok(()) } else { Err(failed()) }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// Reads the `path` or `from` member of an operation; the error is the decoder's or "missing".
fn pointer(op: &Value, member: &str) -> Result<String, String> {
    match op.get(member) {
        None | Some(Value::Null) => Err(format!(
            "operation{} missing {member} field: {MISSING}",
            if member == "path" { "" } else { "," }
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_kind(other)
        )),
    }
}

/// Decodes one pointer segment: `~1` is `/` and `~0` is `~`, read left to right.
fn unescape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('~', Some('1')) => {
                out.push('/');
                chars.next();
            }
            ('~', Some('0')) => {
                out.push('~');
                chars.next();
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// Finds the object or array holding the pointer's last segment, and that segment. Like the
/// library, the part before the first `/` is ignored and an empty pointer has no parent.
fn locate<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let segments: Vec<&str> = path.split('/').collect();
    let (last, middle) = segments.split_last()?;
    let middle = middle.get(1..)?;
    let mut current = doc;
    for segment in middle {
        let segment = unescape(segment);
        let next = match current {
            Value::Object(map) => map.get_mut(&segment),
            Value::Array(items) => {
                let i = index(items.len(), &segment, false).ok()?;
                items.get_mut(i)
            }
            _ => None,
        }?;
        if !next.is_object() && !next.is_array() {
            return None;
        }
        current = next;
    }
    Some((current, unescape(last)))
}

/// An array position from a pointer segment, negative counting from the end. `room` allows the
/// position just past the end, where `add` inserts.
fn index(len: usize, segment: &str, room: bool) -> Result<usize, String> {
    let i: i64 = segment.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {}: {why}", go_quote(segment))
    })?;
    let size = len as i64 + i64::from(room);
    let invalid = || format!("Unable to access invalid index: {i}: invalid index referenced");
    if i >= size || i < -size {
        return Err(invalid());
    }
    Ok(if i < 0 { i + size } else { i } as usize)
}

/// The value at `key`; `Ok(None)` for a missing object key, which the library does not treat as
/// an error.
fn get(parent: &Value, key: &str) -> Result<Option<Value>, String> {
    match parent {
        Value::Object(map) => Ok(map.get(key).cloned()),
        Value::Array(items) => Ok(Some(items[index(items.len(), key, false)?].clone())),
        _ => Err(MISSING.to_string()),
    }
}

fn insert(parent: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) if key == "-" => {
            items.push(value);
            Ok(())
        }
        Value::Array(items) => {
            let i = index(items.len(), key, true).map_err(|e| {
                if e.starts_with("strconv") {
                    format!("value was not a proper array index: '{key}': {e}")
                } else {
                    e
                }
            })?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn overwrite(parent: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = index(items.len(), key, false)?;
            items[i] = value;
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn take(parent: &mut Value, key: &str) -> Result<Value, String> {
    match parent {
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        Value::Array(items) => {
            let i = index(items.len(), key, false)?;
            Ok(items.remove(i))
        }
        _ => Err(MISSING.to_string()),
    }
}
