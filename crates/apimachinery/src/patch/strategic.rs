//! Strategic merge patch (`application/strategic-merge-patch+json`) as kube-apiserver applies it:
//! objects merge key by key, lists merge by their declared merge key or are replaced, and the
//! `$patch`, `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`
//! directives steer the merge.
//!
//! Element order follows kube exactly, quirks included: without a `$setElementOrder`, items the
//! patch adds to a merged list land before the remaining items of the object that sort after
//! them, not at the end.
//!
//! Where kube keeps directive keys or nulls in a value it copies from the patch, and relies on
//! decoding into a typed object to drop them, this module drops them itself, since the result is
//! stored as JSON.

use serde_json::{Map, Value};

use super::PatchError;
use super::go_value::{go_type, go_value};
use super::list_order::{ElementKind, element_kind, expect_map, key_value, order_items, partition};
use super::strategy::{MergeStrategy, Type};

pub(super) const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// The type being merged, when the strategy table knows it; unknown parts merge untagged.
type Schema = Option<Type>;

/// Applies a strategic merge patch to an object of `kind` (`Deployment`, `Pod`...). Kinds without
/// tagged fields, and unknown ones, still merge `metadata.finalizers` and
/// `metadata.ownerReferences` by their keys.
pub fn strategic_merge(doc: &Value, patch: &Value, kind: &str) -> Result<Value, PatchError> {
    let original = as_document(doc)?;
    let patch = as_document(patch)?;
    merge_map(original, patch, Some(Type::of_kind(kind))).map(Value::Object)
}

/// kube decodes both sides into maps; `null` decodes as an empty one.
fn as_document(v: &Value) -> Result<Map<String, Value>, PatchError> {
    match v {
        Value::Object(map) => Ok(map.clone()),
        Value::Null => Ok(Map::new()),
        _ => Err(PatchError::InvalidDocument),
    }
}

fn lookup(schema: Schema, field: &str) -> (Option<MergeStrategy>, Schema) {
    schema.map_or((None, None), |t| t.field(field))
}

fn merge_key(strategy: Option<MergeStrategy>) -> Option<&'static str> {
    match strategy {
        Some(MergeStrategy::MergeByKey(key)) => Some(key),
        _ => None,
    }
}

/// Merges one object level. Directives go first: a `$patch` decides the whole level,
/// `$retainKeys` prunes the object, and each `$setElementOrder` settles its list; then every
/// remaining patch key is merged by its field's strategy.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(clean_map(patch))
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(PatchError::UnknownDirective {
                directive: go_value(directive),
                map: go_value(&Value::Object(patch)),
            }),
        };
    }
    retain_keys(&mut original, &mut patch)?;
    apply_element_orders(&mut original, &mut patch, schema)?;

    for (key, patch_value) in patch {
        let (key, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            let field = field_of(&key, DELETE_FROM_PRIMITIVE_LIST)
                .ok_or(PatchError::BadDeleteFromPrimitiveList)?;
            (field, true)
        } else {
            (key, false)
        };
        // A null deletes the field, even under a deletion-list key.
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(current) = original.remove(&key) else {
            if !delete_list && let Some(v) = clean(patch_value) {
                original.insert(key, v);
            }
            continue;
        };
        let merged = match (current, patch_value) {
            (Value::Object(current), Value::Object(p)) => {
                let (strategy, child) = lookup(schema, &key);
                if strategy == Some(MergeStrategy::Replace) {
                    Some(Value::Object(clean_map(p)))
                } else {
                    Some(Value::Object(merge_map(current, p, child)?))
                }
            }
            (Value::Array(current), Value::Array(p)) => {
                let (strategy, child) = lookup(schema, &key);
                Some(Value::Array(merge_list_field(
                    current,
                    p,
                    child,
                    strategy,
                    delete_list,
                )?))
            }
            // kube replaces a scalar by the patch's even under a deletion-list key.
            (current, p) if go_type(&current) == go_type(&p) => clean(p),
            (current, _) if delete_list => Some(current),
            (_, p) => clean(p),
        };
        if let Some(v) = merged {
            original.insert(key, v);
        }
    }
    Ok(original)
}

/// The field a `$setElementOrder/<field>` or `$deleteFromPrimitiveList/<field>` key is about.
fn field_of(key: &str, prefix: &str) -> Option<String> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Some(field.to_string()),
        _ => None,
    }
}

/// `$retainKeys: [a, b]`: drops every other key from the object, after checking that the patch
/// itself sets no key outside the list.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retained) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retained) = retained else {
        return Err(PatchError::BadRetainKeys);
    };
    let keeps = |k: &str| retained.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive =
            k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !directive && !keeps(k) {
            return Err(PatchError::BadRetainKeys);
        }
    }
    original.retain(|k, _| keeps(k));
    Ok(())
}

fn expect_list(v: &Value) -> Result<&Vec<Value>, PatchError> {
    v.as_array().ok_or(PatchError::WrongType {
        expected: "[]interface {}",
        actual: go_type(v),
    })
}

/// Handles each `$setElementOrder/<field>`: merges the field's list (if the patch has one) and
/// then orders it as the directive says, with the object's other items kept in their places.
fn apply_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let order = expect_list(&order)?.clone();
        let field = field_of(&key, SET_ELEMENT_ORDER).ok_or(PatchError::BadSetElementOrder)?;
        let current = original.get(&field).map(expect_list).transpose()?.cloned();
        let patched = patch.get(&field).map(expect_list).transpose()?.cloned();
        let (strategy, child) = lookup(schema, &field);
        let key_field = merge_key(strategy);
        check_order(patched.as_deref().unwrap_or_default(), &order, key_field)?;
        let merged = match (&current, &patched) {
            (Some(current), None) => current.clone(),
            (None, Some(patched)) => clean_list(patched.clone()),
            (Some(current), Some(patched)) => {
                merge_list_field(current.clone(), patched.clone(), child, strategy, false)?
            }
            (None, None) => continue,
        };
        let current = current.unwrap_or_default();
        let patched = patched.unwrap_or_default();
        let (in_order, server_only) = partition(merged, &order, key_field)?;
        let kind = element_kind(&[&current, &patched])?;
        let ordered = order_items(in_order, server_only, &order, &current, key_field, kind)?;
        original.insert(field.clone(), Value::Array(ordered));
        patch.remove(&field);
    }
    Ok(())
}

/// Checks that the patch's items appear in the `$setElementOrder` list, in the same relative
/// order (deletions aside).
fn check_order(patched: &[Value], order: &[Value], key: Option<&str>) -> Result<(), PatchError> {
    if order.is_empty() || patched.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = match key {
        Some(_) => {
            let mut kept = Vec::new();
            for item in patched {
                let map = expect_map(item)?;
                if map.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                    kept.push(item);
                }
            }
            kept
        }
        None => patched.iter().collect(),
    };
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if kept[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if same_key(kept[p], &order[o], key)? {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() && o >= order.len() {
        return Err(PatchError::SetElementOrderMismatch {
            patch: go_value(&Value::Array(patched.to_vec())),
            order: go_value(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

/// Whether two elements are "the same item": equal merge keys, or equal values for scalars.
fn same_key(a: &Value, b: &Value, key: Option<&str>) -> Result<bool, PatchError> {
    match key {
        None => Ok(a == b),
        Some(key) => Ok(key_value(a, key)? == key_value(b, key)?),
    }
}

/// Merges a list field by its strategy: merged lists (and deletion lists) element-wise, any other
/// list replaced by the patch's.
fn merge_list_field(
    current: Vec<Value>,
    patched: Vec<Value>,
    child: Schema,
    strategy: Option<MergeStrategy>,
    delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    match strategy {
        Some(MergeStrategy::MergeByKey(_) | MergeStrategy::MergeScalars) => {}
        _ if delete_list => {}
        _ => return Ok(clean_list(patched)),
    }
    merge_list(current, patched, child, merge_key(strategy), delete_list)
}

/// Merges a list that has merge semantics (or is a deletion list) and returns it in kube's order.
fn merge_list(
    current: Vec<Value>,
    patched: Vec<Value>,
    child: Schema,
    key: Option<&'static str>,
    delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if current.is_empty() && patched.is_empty() {
        return Ok(current);
    }
    let kind = element_kind(&[&current, &patched])?;
    let (base, patched, merged) = if kind == ElementKind::Scalar {
        if delete_list {
            return Ok(current
                .into_iter()
                .filter(|v| !patched.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::new();
        for v in current.iter().chain(patched.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (current, patched, merged)
    } else {
        let name = key.ok_or_else(|| {
            PatchError::NoMergeKeyDeclared(child.map_or("object".to_string(), Type::name))
        })?;
        let (base, patched) = apply_list_directives(current, patched, name)?;
        let merged = merge_elements(base.clone(), &patched, name, child)?;
        (base, patched, merged)
    };
    let (from_patch, server_only) = partition(merged, &patched, key)?;
    order_items(from_patch, server_only, &patched, &base, key, kind)
}

/// Applies `$patch` elements: `delete` removes the object's items with that merge key,
/// `replace` makes the patch's other items the whole list. Returns the object's list and the
/// patch's remaining items.
fn apply_list_directives(
    mut current: Vec<Value>,
    patched: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patched {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let doomed = key_value(&item, key)?.clone();
                let mut kept = Vec::with_capacity(current.len());
                for v in current {
                    if expect_map(&v)?.get(key) != Some(&doomed) {
                        kept.push(v);
                    }
                }
                current = kept;
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(PatchError::MergeDirectiveInList),
            _ => {
                return Err(PatchError::UnknownDirective {
                    directive: go_value(directive),
                    map: go_value(&item),
                });
            }
        }
    }
    if replace {
        Ok((clean_list(plain), Vec::new()))
    } else {
        Ok((current, plain))
    }
}

/// Merges each patch item into the object's item with the same key, or appends it.
fn merge_elements(
    mut current: Vec<Value>,
    patched: &[Value],
    key: &str,
    child: Schema,
) -> Result<Vec<Value>, PatchError> {
    for item in patched {
        let wanted = key_value(item, key)?;
        let mut found = None;
        for (i, v) in current.iter().enumerate() {
            if expect_map(v)?.get(key) == Some(wanted) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                // Checked to be an object while searching.
                let existing = match std::mem::take(&mut current[i]) {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                let patch_map = expect_map(item)?.clone();
                current[i] = Value::Object(merge_map(existing, patch_map, child)?);
            }
            None => {
                if let Some(v) = clean(item.clone()) {
                    current.push(v);
                }
            }
        }
    }
    Ok(current)
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE
        || k == RETAIN_KEYS
        || k.starts_with(SET_ELEMENT_ORDER)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// A patch value ready to be stored: objects carrying `$patch` are dropped (kube keeps no such
/// value), other directive keys and null members removed at every depth.
fn clean(v: Value) -> Option<Value> {
    match v {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => Some(Value::Object(clean_map(map))),
        Value::Array(items) => Some(Value::Array(clean_list(items))),
        other => Some(other),
    }
}

fn clean_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
        .collect()
}

fn clean_list(items: Vec<Value>) -> Vec<Value> {
    items.into_iter().filter_map(clean).collect()
}
