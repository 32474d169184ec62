//! How strategic merge orders a merged list, as kube does: the patch's items by the patch (or by
//! `$setElementOrder`), the object's other items by the object, then the two interleaved.
//! Also the element checks both merging and ordering rely on.

use serde_json::{Map, Value};

use super::PatchError;
use super::go_value::{go_type, go_value};
use super::strategic::DIRECTIVE;

/// A list element as an object, or kube's type error.
pub(super) fn expect_map(v: &Value) -> Result<&Map<String, Value>, PatchError> {
    v.as_object().ok_or(PatchError::WrongType {
        expected: "map[string]interface {}",
        actual: go_type(v),
    })
}

/// The merge key's value in a list element, which must have it.
pub(super) fn key_value<'a>(item: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    let map = expect_map(item)?;
    map.get(key).ok_or_else(|| PatchError::MissingMergeKey {
        map: go_value(item),
        key: key.to_string(),
    })
}

/// What a list holds: objects (merged by key) or scalars (merged as a set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ElementKind {
    Map,
    Scalar,
}

/// The one element type the lists share, as kube insists on.
pub(super) fn element_kind(lists: &[&[Value]]) -> Result<ElementKind, PatchError> {
    let mut seen: Option<&'static str> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let ty = go_type(item);
        match seen {
            None if item.is_array() => return Err(PatchError::ListOfLists),
            None => seen = Some(ty),
            Some(prev) if prev != ty => {
                let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(PatchError::MixedElementTypes(go_value(&Value::Array(all))));
            }
            Some(_) => {}
        }
    }
    match seen {
        None => Err(PatchError::EmptyLists),
        Some("map[string]interface {}") => Ok(ElementKind::Map),
        Some(_) => Ok(ElementKind::Scalar),
    }
}

/// Splits `items` into those present in `list` (by merge key or value) and the rest, each part
/// in its original order.
pub(super) fn partition(
    items: Vec<Value>,
    list: &[Value],
    key: Option<&str>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    for item in items {
        let found = match key {
            None => list.contains(&item),
            Some(key) => {
                let wanted = key_value(&item, key)?;
                let mut found = false;
                for v in list {
                    if expect_map(v)?.get(key) == Some(wanted) {
                        found = true;
                        break;
                    }
                }
                found
            }
        };
        if found {
            present.push(item);
        } else {
            absent.push(item);
        }
    }
    Ok((present, absent))
}

/// Where an item sits in `list`, comparing merge keys for objects.
fn position(list: &[Value], item: &Value, key: Option<&str>, kind: ElementKind) -> Option<usize> {
    match (kind, key) {
        (ElementKind::Map, Some(key)) => {
            let wanted = item.get(key);
            list.iter().position(|v| v.get(key) == wanted)
        }
        _ => list.iter().position(|v| v == item),
    }
}

/// Sorts the patch's items by `patch_order` and the object's remaining items by `server_order`,
/// then interleaves them the way kube does.
pub(super) fn order_items(
    from_patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
    kind: ElementKind,
) -> Result<Vec<Value>, PatchError> {
    let from_patch = sort_by_list(from_patch, patch_order, key, kind)?;
    let server_only = sort_by_list(server_only, server_order, key, kind)?;
    Ok(interleave(server_only, from_patch, server_order, key, kind))
}

/// Stable sort of `items` by their positions in `order`; `$patch: delete` items go last. Every
/// object on either side must carry the merge key.
fn sort_by_list(
    items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
    kind: ElementKind,
) -> Result<Vec<Value>, PatchError> {
    let mut items = items;
    let mut deletions = Vec::new();
    if let (ElementKind::Map, Some(key)) = (kind, key) {
        for v in items.iter().chain(order) {
            key_value(v, key)?;
        }
        let (kept, doomed): (Vec<Value>, Vec<Value>) = items
            .into_iter()
            .partition(|v| v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"));
        items = kept;
        deletions = doomed;
    }
    items.sort_by_key(|v| position(order, v, key, kind).unwrap_or(usize::MAX));
    items.extend(deletions);
    Ok(items)
}

/// Merges the object's remaining items (`left`) into the patch's (`right`), keeping each side's
/// order. An object item goes first only when both items are known to the object and it came
/// first there; otherwise the patch's item goes first.
fn interleave(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    key: Option<&str>,
    kind: ElementKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, key, kind), position(server_order, r, key, kind)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}
