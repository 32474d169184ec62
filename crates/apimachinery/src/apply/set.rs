//! A set of field paths, and the nested fieldsV1 JSON kube stores it as in `managedFields`:
//! `{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`, where a key maps to the fields below it
//! and `"."` says the field itself is in the set too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{FieldPath, PathElement};

/// Field paths, each a member on its own: owning `.metadata.labels.app` does not imply owning
/// `.metadata.labels`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    paths: BTreeSet<FieldPath>,
}

/// The set as a tree, the shape fieldsV1 and kube's iteration order follow.
#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<PathElement, Node>,
}

impl FieldSet {
    pub fn new() -> Self {
        FieldSet::default()
    }

    pub fn insert(&mut self, path: FieldPath) {
        self.paths.insert(path);
    }

    pub fn remove(&mut self, path: &FieldPath) -> bool {
        self.paths.remove(path)
    }

    pub fn contains(&self, path: &FieldPath) -> bool {
        self.paths.contains(path)
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// The paths in path order.
    pub fn iter(&self) -> impl Iterator<Item = &FieldPath> {
        self.paths.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            paths: self.paths.union(&other.paths).cloned().collect(),
        }
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            paths: self.paths.difference(&other.paths).cloned().collect(),
        }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            paths: self.paths.intersection(&other.paths).cloned().collect(),
        }
    }

    /// The paths strictly below `prefix`, with the prefix taken off.
    pub fn under(&self, prefix: &PathElement) -> FieldSet {
        // Paths under one first step sort together, right after the step itself.
        let start = FieldPath(vec![prefix.clone()]);
        FieldSet {
            paths: self
                .paths
                .range(start..)
                .take_while(|p| p.0.first() == Some(prefix))
                .filter(|p| p.0.len() > 1)
                .map(|p| FieldPath(p.0[1..].to_vec()))
                .collect(),
        }
    }

    /// Drops every path at or below one of `prefixes`.
    pub fn without_subtrees(&self, prefixes: &[FieldPath]) -> FieldSet {
        FieldSet {
            paths: self
                .paths
                .iter()
                .filter(|p| !prefixes.iter().any(|prefix| p.starts_with(&prefix.0)))
                .cloned()
                .collect(),
        }
    }

    /// The set plus every field that has members below it: owning `.spec.replicas` also counts
    /// as owning `.spec` when deciding what to keep. List items are not added this way.
    pub(crate) fn with_parent_fields(&self) -> FieldSet {
        let mut out = self.clone();
        for path in &self.paths {
            for end in 1..path.0.len() {
                if matches!(path.0[end - 1], PathElement::Field(_)) {
                    out.paths.insert(FieldPath(path.0[..end].to_vec()));
                }
            }
        }
        out
    }

    fn tree(&self) -> Node {
        let mut root = Node::default();
        for path in &self.paths {
            let mut node = &mut root;
            for element in &path.0 {
                node = node.children.entry(element.clone()).or_default();
            }
            node.member = true;
        }
        root
    }

    /// The paths in kube's iteration order: at each level the members first, then what lies
    /// below each child. Conflict messages list paths in this order.
    pub fn ordered(&self) -> Vec<FieldPath> {
        fn walk(node: &Node, prefix: &mut Vec<PathElement>, out: &mut Vec<FieldPath>) {
            for (element, child) in &node.children {
                if child.member {
                    let mut path = prefix.clone();
                    path.push(element.clone());
                    out.push(FieldPath(path));
                }
            }
            for (element, child) in &node.children {
                if !child.children.is_empty() {
                    prefix.push(element.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
        }
        let mut out = Vec::with_capacity(self.paths.len());
        walk(&self.tree(), &mut Vec::new(), &mut out);
        out
    }

    /// The fieldsV1 JSON of the set. Keys go in kube's order: `"."` first, then fields, keys,
    /// values and indices, so the text matches kube's where the JSON map keeps insertion order.
    pub fn to_fields_v1(&self) -> Value {
        fn emit(node: &Node, with_self: bool) -> Value {
            let mut out = Map::new();
            if with_self && node.member {
                out.insert(".".into(), Value::Object(Map::new()));
            }
            for (element, child) in &node.children {
                let value = if child.children.is_empty() {
                    Value::Object(Map::new())
                } else {
                    emit(child, true)
                };
                out.insert(element.to_fields_v1_key(), value);
            }
            Value::Object(out)
        }
        emit(&self.tree(), false)
    }

    /// Reads fieldsV1 JSON. Keys of unknown kinds are skipped, as kube skips them; anything
    /// else malformed is an error.
    pub fn from_fields_v1(fields: &Value) -> Result<FieldSet, String> {
        fn read(
            map: &Map<String, Value>,
            prefix: &mut Vec<PathElement>,
            out: &mut FieldSet,
        ) -> Result<(), String> {
            for (key, value) in map {
                if key == "." {
                    continue;
                }
                let Some(element) = PathElement::from_fields_v1_key(key)? else {
                    continue;
                };
                let Value::Object(child) = value else {
                    return Err(format!("expected an object under {key:?}"));
                };
                prefix.push(element);
                // `{}` and `{".": {}, ...}` both make the field a member.
                if child.is_empty() || child.contains_key(".") {
                    out.insert(FieldPath(prefix.clone()));
                }
                read(child, prefix, out)?;
                prefix.pop();
            }
            Ok(())
        }
        let Value::Object(map) = fields else {
            return Err("fieldsV1 must be an object".to_string());
        };
        let mut out = FieldSet::new();
        read(map, &mut Vec::new(), &mut out)?;
        Ok(out)
    }
}

impl FromIterator<FieldPath> for FieldSet {
    fn from_iter<I: IntoIterator<Item = FieldPath>>(iter: I) -> Self {
        FieldSet {
            paths: iter.into_iter().collect(),
        }
    }
}
