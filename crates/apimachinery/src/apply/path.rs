//! Field paths as server-side apply names them: one [`PathElement`] per step, ordered the way
//! kube orders them, written as fieldsV1 keys (`f:`, `k:`, `v:`, `i:`) and as the dotted form
//! conflict messages show (`.spec.containers[name="app"].image`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

/// One step into an object.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object (`f:replicas`).
    Field(String),
    /// The item of a keyed list whose key fields have these values, sorted by field name
    /// (`k:{"containerPort":80,"protocol":"TCP"}`).
    Key(Vec<(String, Value)>),
    /// The item of a set-like list of scalars that equals this value (`v:"kubernetes"`).
    Value(Value),
    /// A position in a list. kube writes it only for lists no schema describes, which the
    /// served kinds never have; it is read and written for completeness.
    Index(usize),
}

impl PathElement {
    pub fn field(name: &str) -> Self {
        PathElement::Field(name.to_string())
    }

    /// A key element from key fields in any order.
    pub fn key(mut fields: Vec<(String, Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The fieldsV1 key: `f:name`, `k:{...}`, `v:...` or `i:3`.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                // The fields are sorted already; writing the text by hand keeps that order
                // whichever map type serde_json was built with.
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                    .collect();
                format!("k:{{{}}}", parts.join(","))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a fieldsV1 key. `Ok(None)` is a key of a kind this version does not know, which
    /// kube skips rather than rejects.
    pub fn from_fields_v1_key(key: &str) -> Result<Option<Self>, String> {
        let Some((kind, rest)) = key.split_at_checked(2) else {
            return Err("key must be 2 characters long:".to_string());
        };
        if !kind.ends_with(':') {
            return Err(format!("missing colon: {key}"));
        }
        let element = match kind {
            "f:" => PathElement::Field(rest.to_string()),
            "v:" => PathElement::Value(serde_json::from_str(rest).map_err(|e| e.to_string())?),
            "k:" => {
                let fields: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| e.to_string())?;
                PathElement::key(fields.into_iter().collect())
            }
            "i:" => PathElement::Index(rest.parse().map_err(|e| format!("{e}"))?),
            _ => return Ok(None),
        };
        Ok(Some(element))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let order = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

/// `.name`, `[name="app"]`, `[="x"]` or `[3]`: how kube prints a step in conflict messages.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", show_value(value)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", show_value(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object's root, ordered step by step.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<PathElement>);

impl FieldPath {
    /// A path of field names only: `FieldPath::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> Self {
        FieldPath(names.iter().map(|n| PathElement::field(n)).collect())
    }

    pub fn child(&self, element: PathElement) -> Self {
        let mut path = self.clone();
        path.0.push(element);
        path
    }

    pub fn starts_with(&self, prefix: &[PathElement]) -> bool {
        self.0.starts_with(prefix)
    }
}

/// `.spec.template.spec.containers[name="app"].image`.
impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|e| write!(f, "{e}"))
    }
}

/// A value as kube prints it inside a path: strings quoted, numbers and booleans bare.
fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            // Go prints a whole float64 without a fraction.
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(show_value).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", show_value(v)))
            .collect(),
    }
}

/// kube's total order over values, used to sort set items and keys: numbers (compared by
/// value, integers and floats alike), then strings, booleans, lists, objects and null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let whole = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            match (whole(x), whole(y)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => {
                    let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
                }
            }
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (x, y) in x.iter().zip(y) {
                let order = compare_values(x, y);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|a, b| a.0.cmp(b.0));
            ys.sort_by(|a, b| a.0.cmp(b.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let order = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if order != Ordering::Equal {
                    return order;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}
