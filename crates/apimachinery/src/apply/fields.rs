//! Walks over objects that know the kind's list and map types: the set of fields an object sets,
//! the comparison of two objects (what a write added, changed and removed), and the removal of a
//! set of fields from an object.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::path::{FieldPath, PathElement};
use super::schema::{ListType, Schema};
use super::set::FieldSet;

/// The dotted schema path of a field below `names`.
fn child_names(names: &str, field: &str) -> String {
    if names.is_empty() {
        field.to_string()
    } else {
        format!("{names}.{field}")
    }
}

/// An empty object or list, or null: kube treats two such values as a leaf, to keep the
/// difference between empty and absent.
fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// The path element naming `item` in a list of type `list`, or kube's complaint about it.
pub(crate) fn item_element(list: ListType, item: &Value) -> Result<PathElement, String> {
    match list {
        ListType::Map(keys) => {
            let Value::Object(fields) = item else {
                return Err(if item.is_null() {
                    "associative list with keys may not have a null element".to_string()
                } else {
                    "associative list with keys may not have non-map elements".to_string()
                });
            };
            let mut key = Vec::new();
            for k in keys {
                if let Some(v) = fields.get(k.name) {
                    key.push((k.name.to_string(), v.clone()));
                } else if let Some(default) = k.default {
                    key.push((k.name.to_string(), Value::String(default.to_string())));
                }
            }
            if key.is_empty() {
                let names: Vec<String> = keys.iter().map(|k| format!("{:?}", k.name)).collect();
                return Err(format!(
                    "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                    names.join(" ")
                ));
            }
            Ok(PathElement::key(key))
        }
        ListType::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".to_string())
            }
            Value::Array(_) => {
                Err("not supported: associative list with lists as elements".to_string())
            }
            Value::Null => Err(
                "associative list without keys has an element that's an explicit null".to_string(),
            ),
            scalar => Ok(PathElement::Value(scalar.clone())),
        },
        ListType::Atomic => Err("invalid indexing of non-associative list".to_string()),
    }
}

/// The elements naming each item of a granular list, with kube's message for the first item
/// that has none (`.spec.containers: element 0: ...`).
fn item_elements(
    list: ListType,
    items: &[Value],
    at: &FieldPath,
) -> Result<Vec<PathElement>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| item_element(list, item).map_err(|e| format!("{at}: element {i}: {e}")))
        .collect()
}

/// Computes the fields an object sets (kube's `ToFieldSet`): every scalar, every atomic list or
/// object, every empty object or null, and every item of a keyed or set list along with what
/// it sets. With `strict`, a list with two items of one key is an error, as it is in an
/// applied configuration; stored objects may have such duplicates, and then own the item whole.
pub(crate) fn field_set(
    schema: &Schema<'_>,
    object: &Value,
    strict: bool,
) -> Result<FieldSet, String> {
    let mut out = FieldSet::new();
    collect(
        schema,
        object,
        &mut FieldPath::default(),
        "",
        strict,
        &mut out,
    )?;
    Ok(out)
}

fn collect(
    schema: &Schema<'_>,
    value: &Value,
    path: &mut FieldPath,
    names: &str,
    strict: bool,
    out: &mut FieldSet,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if !path.0.is_empty() && schema.atomic_object(names) {
                out.insert(path.clone());
                return Ok(());
            }
            for (key, child) in map {
                let child_names = child_names(names, key);
                path.0.push(PathElement::Field(key.clone()));
                collect(schema, child, path, &child_names, strict, out)?;
                if is_empty_container(Some(child)) && !child.is_array() {
                    out.insert(path.clone());
                }
                path.0.pop();
            }
        }
        Value::Array(items) => {
            let list = schema.list_type(names);
            if list == ListType::Atomic {
                out.insert(path.clone());
                return Ok(());
            }
            let elements = item_elements(list, items, path)?;
            let mut seen: BTreeMap<&PathElement, usize> = BTreeMap::new();
            for element in &elements {
                *seen.entry(element).or_default() += 1;
            }
            for (element, item) in elements.iter().zip(items) {
                if seen[element] > 1 {
                    if strict {
                        return Err(format!("{path}: duplicate entries for key {element}"));
                    }
                    // A duplicated item is owned whole, once.
                    out.insert(path.child(element.clone()));
                    continue;
                }
                path.0.push(element.clone());
                collect(schema, item, path, names, strict, out)?;
                out.insert(path.clone());
                path.0.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
    Ok(())
}

/// What a write changed (kube's `Comparison`): fields it added, fields whose value it changed,
/// and fields it removed. A field that appears as a whole (an added object, a new list item)
/// is added along with everything below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Added or modified: the fields whose values the write set.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    /// Drops every path at or below one of `prefixes` (kube's reset fields).
    pub fn without_subtrees(self, prefixes: &[FieldPath]) -> Comparison {
        Comparison {
            added: self.added.without_subtrees(prefixes),
            modified: self.modified.without_subtrees(prefixes),
            removed: self.removed.without_subtrees(prefixes),
        }
    }
}

/// Compares the object before a write with the object after it.
pub(crate) fn compare(schema: &Schema<'_>, old: &Value, new: &Value) -> Comparison {
    let mut cmp = Comparison::default();
    compare_node(
        schema,
        Some(old),
        Some(new),
        &mut FieldPath::default(),
        "",
        &mut cmp,
    );
    cmp
}

#[derive(PartialEq)]
enum Shape {
    Object,
    List,
    Scalar,
}

fn shape(v: Option<&Value>) -> Option<Shape> {
    match v? {
        Value::Null => None,
        Value::Object(_) => Some(Shape::Object),
        Value::Array(_) => Some(Shape::List),
        _ => Some(Shape::Scalar),
    }
}

fn compare_node(
    schema: &Schema<'_>,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut FieldPath,
    names: &str,
    cmp: &mut Comparison,
) {
    let leaf = |cmp: &mut Comparison, path: &FieldPath| match (old, new) {
        (None, _) => cmp.added.insert(path.clone()),
        (_, None) => cmp.removed.insert(path.clone()),
        (Some(a), Some(b)) if a != b => cmp.modified.insert(path.clone()),
        _ => {}
    };
    let (old_shape, new_shape) = (shape(old), shape(new));
    // A null on one side takes the shape of the other: kube reads it as an empty value.
    let node_shape = match (old_shape, new_shape) {
        (Some(a), Some(b)) if a != b => None,
        (a, b) => b.or(a),
    };
    let both_empty = is_empty_container(old) && is_empty_container(new);
    match node_shape {
        Some(Shape::Object) if !both_empty && !schema.atomic_object(names) => {
            let empty = Map::new();
            let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
            let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
            let keys = old_map
                .keys()
                .chain(new_map.keys().filter(|k| !old_map.contains_key(*k)));
            for key in keys {
                let child_names = child_names(names, key);
                path.0.push(PathElement::Field(key.clone()));
                compare_node(
                    schema,
                    old_map.get(key),
                    new_map.get(key),
                    path,
                    &child_names,
                    cmp,
                );
                path.0.pop();
            }
        }
        Some(Shape::List) if !both_empty && schema.list_type(names) != ListType::Atomic => {
            let list = schema.list_type(names);
            let empty = Vec::new();
            let old_items = old.and_then(Value::as_array).unwrap_or(&empty);
            let new_items = new.and_then(Value::as_array).unwrap_or(&empty);
            let (Ok(old_keys), Ok(new_keys)) = (
                item_elements(list, old_items, path),
                item_elements(list, new_items, path),
            ) else {
                // Items without identities cannot be told apart: the list is a leaf.
                leaf(cmp, path);
                return;
            };
            compare_items(
                schema,
                (&old_keys, old_items),
                (&new_keys, new_items),
                path,
                names,
                cmp,
            );
        }
        _ => {
            leaf(cmp, path);
            return;
        }
    }
    if old.is_none() {
        cmp.added.insert(path.clone());
    } else if new.is_none() {
        cmp.removed.insert(path.clone());
    }
}

type Items<'a> = (&'a [PathElement], &'a [Value]);

/// Compares the items of a granular list by identity. An identity held by several items on one
/// side is compared as a whole, as kube does.
fn compare_items(
    schema: &Schema<'_>,
    old: Items<'_>,
    new: Items<'_>,
    path: &mut FieldPath,
    names: &str,
    cmp: &mut Comparison,
) {
    let mut groups: Vec<(&PathElement, Vec<&Value>, Vec<&Value>)> = Vec::new();
    let mut index: BTreeMap<&PathElement, usize> = BTreeMap::new();
    for (side, (keys, items)) in [old, new].into_iter().enumerate() {
        for (key, item) in keys.iter().zip(items) {
            let i = *index.entry(key).or_insert_with(|| {
                groups.push((key, Vec::new(), Vec::new()));
                groups.len() - 1
            });
            if side == 0 {
                groups[i].1.push(item);
            } else {
                groups[i].2.push(item);
            }
        }
    }
    for (key, olds, news) in groups {
        let item_path = path.child(key.clone());
        path.0.push(key.clone());
        match (olds.len(), news.len()) {
            (o, n) if o <= 1 && n <= 1 => {
                compare_node(
                    schema,
                    olds.first().copied(),
                    news.first().copied(),
                    path,
                    names,
                    cmp,
                );
            }
            (o, n) if o >= 2 && n >= 2 => {
                if olds != news {
                    cmp.modified.insert(item_path);
                }
            }
            (o, _) if o >= 2 => {
                if let Some(item) = news.first() {
                    compare_node(schema, None, Some(item), path, names, cmp);
                }
                cmp.removed.insert(item_path);
            }
            _ => {
                if let Some(item) = olds.first() {
                    compare_node(schema, Some(item), None, path, names, cmp);
                }
                cmp.added.insert(item_path);
            }
        }
        path.0.pop();
    }
}

/// Removes the fields of `set` from `object` (kube's `RemoveItems`). A removed field takes what
/// lies below it along; an object or list left empty by the removal goes too, as it does when
/// kube turns the result back into a typed object.
pub(crate) fn remove_fields(schema: &Schema<'_>, object: &Value, set: &FieldSet) -> Value {
    remove_below(schema, object, set, "").unwrap_or_else(|| Value::Object(Map::new()))
}

fn remove_below(schema: &Schema<'_>, value: &Value, set: &FieldSet, names: &str) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.is_empty() || (!names.is_empty() && schema.atomic_object(names)) {
                return None;
            }
            let mut out = Map::new();
            for (key, child) in map {
                let element = PathElement::Field(key.clone());
                if set.contains(&FieldPath(vec![element.clone()])) {
                    continue;
                }
                let below = set.under(&element);
                if below.is_empty() {
                    out.insert(key.clone(), child.clone());
                } else if let Some(kept) =
                    remove_below(schema, child, &below, &child_names(names, key))
                {
                    out.insert(key.clone(), kept);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let list = schema.list_type(names);
            if items.is_empty() || list == ListType::Atomic {
                return None;
            }
            let mut out = Vec::new();
            for item in items {
                let Ok(element) = item_element(list, item) else {
                    out.push(item.clone());
                    continue;
                };
                if set.contains(&FieldPath(vec![element.clone()])) {
                    continue;
                }
                let below = set.under(&element);
                if below.is_empty() {
                    out.push(item.clone());
                } else if let Some(kept) = remove_below(schema, item, &below, names) {
                    out.push(kept);
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        scalar => Some(scalar.clone()),
    }
}

/// Fills in the fields of `skeleton` that `object` lacks, recursively, for comparison only.
pub(crate) fn with_skeleton(object: &Value, skeleton: &Value) -> Value {
    match (object, skeleton) {
        (Value::Object(map), Value::Object(fill)) => {
            let mut out = map.clone();
            for (key, value) in fill {
                let merged = match map.get(key) {
                    Some(existing) => with_skeleton(existing, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        _ => object.clone(),
    }
}
