//! Merging an applied configuration into the live object: objects merge field by field, keyed
//! and set lists merge item by item, and atomic lists, atomic objects and scalars take the
//! applied value.
//!
//! Item order follows kube: items the configuration names come in its order, and live items it
//! does not name stay where they were relative to those around them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value};

use super::fields::item_element;
use super::path::PathElement;
use super::schema::{ListType, Schema};

/// Merges `applied` into `live`. A null in the configuration removes the field: kube keeps the
/// null, and the typed object it decodes into drops it.
pub(crate) fn merge(schema: &Schema<'_>, live: &Value, applied: &Value) -> Value {
    merge_node(schema, Some(live), Some(applied), "").unwrap_or_else(|| Value::Object(Map::new()))
}

fn merge_node(
    schema: &Schema<'_>,
    live: Option<&Value>,
    applied: Option<&Value>,
    names: &str,
) -> Option<Value> {
    let (live, applied) = match (live, applied) {
        (live, None) => return live.cloned(),
        (_, Some(Value::Null)) => return None,
        (None, Some(applied)) => return Some(without_nulls(applied)),
        (Some(live), Some(applied)) => (live, applied),
    };
    match (live, applied) {
        (Value::Object(l), Value::Object(a))
            if names.is_empty() || !schema.atomic_object(names) =>
        {
            let mut out = Map::new();
            for (key, value) in l {
                let merged = merge_node(schema, Some(value), a.get(key), &child(names, key));
                if let Some(merged) = merged {
                    out.insert(key.clone(), merged);
                }
            }
            for (key, value) in a.iter().filter(|(k, _)| !l.contains_key(*k)) {
                if let Some(merged) = merge_node(schema, None, Some(value), &child(names, key)) {
                    out.insert(key.clone(), merged);
                }
            }
            Some(Value::Object(out))
        }
        (Value::Array(l), Value::Array(a)) if !l.is_empty() || !a.is_empty() => {
            let list = schema.list_type(names);
            if list == ListType::Atomic {
                return Some(without_nulls(applied));
            }
            match merge_items(schema, list, l, a, names) {
                Some(items) => Some(Value::Array(items)),
                // Items without identities: the configuration's list wins whole.
                None => Some(without_nulls(applied)),
            }
        }
        _ => Some(without_nulls(applied)),
    }
}

fn child(names: &str, key: &str) -> String {
    if names.is_empty() {
        key.to_string()
    } else {
        format!("{names}.{key}")
    }
}

/// A configuration value with its null fields dropped, as decoding it into a typed object would.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Merges the items of a keyed or set list; `None` when an item has no identity.
///
/// The walk takes live items the configuration does not name as they come, merges items both
/// name where the configuration puts them, and skips a shared live item until its turn in the
/// configuration's order comes.
fn merge_items(
    schema: &Schema<'_>,
    list: ListType,
    live: &[Value],
    applied: &[Value],
    names: &str,
) -> Option<Vec<Value>> {
    let live_keys: Vec<PathElement> = live
        .iter()
        .map(|i| item_element(list, i))
        .collect::<Result<_, _>>()
        .ok()?;
    let applied_keys: Vec<PathElement> = applied
        .iter()
        .map(|i| item_element(list, i))
        .collect::<Result<_, _>>()
        .ok()?;
    // A key held by several live items merges with none of them.
    let mut live_by_key: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
    for (key, item) in live_keys.iter().zip(live) {
        live_by_key
            .entry(key)
            .and_modify(|v| *v = None)
            .or_insert(Some(item));
    }
    let applied_by_key: BTreeMap<&PathElement, &Value> = applied_keys.iter().zip(applied).collect();
    let mut shared: VecDeque<&PathElement> = applied_keys
        .iter()
        .filter(|k| live_by_key.contains_key(k))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(live.len().max(applied.len()));
    let push = |key: &PathElement, live_item: Option<&Value>, out: &mut Vec<Value>| {
        let applied_item = applied_by_key.get(key).copied();
        if let Some(item) = merge_node(schema, live_item, applied_item, names) {
            out.push(item);
        }
    };

    let (mut l, mut a) = (0, 0);
    while l < live_keys.len() || a < applied_keys.len() {
        if l < live_keys.len() && a < applied_keys.len() {
            let key = &live_keys[l];
            if *key == applied_keys[a] {
                merged.insert(key);
                push(key, live_by_key[key], &mut out);
                l += 1;
                a += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if applied_by_key.contains_key(key) && next_shared.is_some_and(|n| n != key) {
                // Shared, but the configuration places another shared item first.
                l += 1;
                continue;
            }
        }
        if l < live_keys.len() {
            let key = &live_keys[l];
            if !applied_by_key.contains_key(key) {
                push(key, Some(&live[l]), &mut out);
                l += 1;
                continue;
            }
            if merged.contains(key) {
                l += 1;
            }
        }
        if a < applied_keys.len() {
            let key = &applied_keys[a];
            merged.insert(key);
            push(key, live_by_key.get(key).copied().flatten(), &mut out);
            a += 1;
            if next_shared == Some(key) {
                next_shared = shared.pop_front();
            }
        }
    }
    Some(out)
}
