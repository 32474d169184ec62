//! Table printers: the columns kubectl shows for every served resource.
//!
//! `kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the Table's
//! columns as they come. kube-apiserver fills those columns with its built-in printers, or with a
//! default of name and creation time where a resource has none; we reproduce both, column for
//! column and cell for cell, for every resource in [`crate::resource::RESOURCES`].
//!
//! The server always prints the wide (`-o wide`, `priority: 1`) columns too; kubectl hides them
//! unless asked. Cells take the JSON type kube-apiserver gives them, which is not always the
//! declared column type: a secret's `Data` column is declared `string` yet holds a number.

mod age;
mod apps;
mod core;
mod labels;
mod object;
mod other;
mod pod;
mod rbac;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use self::age::Timestamp;

/// One column of a Table, as `columnDefinitions` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The heading, as kube-apiserver spells it (`Nominated Node`); kubectl upper-cases it.
    pub name: &'static str,
    /// The column's declared `type`: `string`, `integer`, `boolean` or `date`.
    pub kind: &'static str,
    /// `name` for the column that holds the object's name, else empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 for columns kubectl always shows, 1 for those only `-o wide` shows.
    pub priority: u8,
}

impl Column {
    const fn new(name: &'static str, kind: &'static str, description: &'static str) -> Column {
        Column {
            name,
            kind,
            format: "",
            description,
            priority: 0,
        }
    }

    const fn text(name: &'static str, description: &'static str) -> Column {
        Column::new(name, "string", description)
    }

    /// The same column, shown only by `kubectl get -o wide`.
    const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }

    /// The column as a `columnDefinitions` entry.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The object's name: the first column of nearly every table.
const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: "Name of the object, unique within its namespace or, for cluster-wide objects, the cluster.",
    priority: 0,
};
/// Time since creation, in Kubernetes' short human-readable form.
const AGE: Column = Column::text("Age", "How long ago the object was created.");
const CONTAINERS: Column =
    Column::text("Containers", "Names of the containers in the pod template.").wide();
const IMAGES: Column =
    Column::text("Images", "Images of the containers in the pod template.").wide();

/// How one resource prints: its columns, and the cells of one object's row.
struct Printer {
    group: &'static str,
    plural: &'static str,
    columns: &'static [Column],
    row: fn(&Value, SystemTime) -> Vec<Value>,
    /// Conditions attached to the row; only pods have them (a finished pod is `Completed`).
    conditions: fn(&Value) -> Option<Value>,
}

impl Printer {
    const fn new(
        group: &'static str,
        plural: &'static str,
        columns: &'static [Column],
        row: fn(&Value, SystemTime) -> Vec<Value>,
    ) -> Printer {
        Printer {
            group,
            plural,
            columns,
            row,
            conditions: no_conditions,
        }
    }
}

fn no_conditions(_: &Value) -> Option<Value> {
    None
}

/// The table kube-apiserver falls back to for resources without a printer of their own.
const DEFAULT: Printer = Printer::new("", "", DEFAULT_COLUMNS, default_row);

const DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Created At", "date", "When the object was created, in UTC."),
];

fn default_row(obj: &Value, _now: SystemTime) -> Vec<Value> {
    let created = Timestamp::from_value(object::field(obj, &["metadata", "creationTimestamp"]));
    vec![
        object::name(obj),
        Value::from(created.unwrap_or(Timestamp::ZERO).rfc3339()),
    ]
}

fn find(group: &str, plural: &str) -> Option<&'static Printer> {
    [
        core::PRINTERS,
        pod::PRINTERS,
        apps::PRINTERS,
        rbac::PRINTERS,
        other::PRINTERS,
    ]
    .into_iter()
    .flatten()
    .find(|p| p.group == group && p.plural == plural)
}

fn printer(group: &str, plural: &str) -> &'static Printer {
    find(group, plural).unwrap_or(&DEFAULT)
}

/// Columns for a resource (group, plural), e.g. `("", "pods")`, wide ones included.
pub fn columns(group: &str, plural: &str) -> Vec<Column> {
    printer(group, plural).columns.to_vec()
}

/// One row's cells for one object (the full JSON object as stored or served); `now` is the
/// server's clock, against which ages are measured.
pub fn cells(group: &str, plural: &str, obj: &Value, now: SystemTime) -> Vec<Value> {
    (printer(group, plural).row)(obj, now)
}

/// Whether `includeObject` has a value kube-apiserver accepts; the server answers 400 otherwise.
/// The empty string means the default, `Metadata`.
pub fn is_include_object(value: &str) -> bool {
    matches!(value, "" | "None" | "Metadata" | "Object")
}

/// The whole `meta.k8s.io/v1` Table for `objects`.
///
/// `list_meta` is the list's metadata (`resourceVersion`, `continue`, `remainingItemCount`); for
/// a single object, pass its `resourceVersion`. `include_object` is `None`, `Metadata` (the
/// default, also for `""`: each row carries a PartialObjectMetadata) or `Object` (the whole
/// object); validate it first with [`is_include_object`].
pub fn table(
    group: &str,
    plural: &str,
    objects: &[Value],
    list_meta: Value,
    include_object: &str,
    now: SystemTime,
) -> Value {
    let printer = printer(group, plural);
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array((printer.row)(obj, now)));
            if let Some(conditions) = (printer.conditions)(obj) {
                row.insert("conditions".into(), conditions);
            }
            row.insert("object".into(), row_object(obj, include_object));
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": table_meta(&list_meta),
        "columnDefinitions": printer.columns.iter().map(Column::to_json).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// The Table's ListMeta: Go omits empty strings and an absent count.
fn table_meta(list_meta: &Value) -> Value {
    let mut meta = Map::new();
    for key in ["resourceVersion", "continue"] {
        let value = object::text(list_meta, &[key]);
        if !value.is_empty() {
            meta.insert(key.into(), Value::from(value));
        }
    }
    let remaining = object::field(list_meta, &["remainingItemCount"]);
    if !remaining.is_null() {
        meta.insert("remainingItemCount".into(), remaining.clone());
    }
    Value::Object(meta)
}

fn row_object(obj: &Value, include_object: &str) -> Value {
    match include_object {
        "None" => Value::Null,
        "Object" => obj.clone(),
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object::field(obj, &["metadata"]).clone(),
        }),
    }
}
