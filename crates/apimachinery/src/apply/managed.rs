//! `metadata.managedFields`: one entry per manager and operation, read from and written to the
//! object, in kube's order and with kube's identities.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::set::FieldSet;

/// Whether an entry records an apply or other writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedFieldsEntry {
    pub manager: String,
    pub operation: Operation,
    /// The version the manager wrote at (`v1`, `apps/v1`).
    pub api_version: String,
    /// When the manager last changed the object, RFC 3339 in UTC; kube leaves it out when an
    /// apply changed nothing the first time a manager applied.
    pub time: Option<String>,
    /// `""` for the main resource, else `status` or `scale`.
    pub subresource: String,
    pub fields: FieldSet,
}

impl ManagedFieldsEntry {
    /// kube's identity of a manager: the entry without its fields and time, and, for appliers,
    /// without the version, so an applier is one manager whatever version it applies at. kube
    /// writes it as JSON, and sorts conflicting managers by that text.
    pub fn identity(&self) -> String {
        let mut text = format!(
            "{{\"manager\":{},\"operation\":\"{}\"",
            Value::String(self.manager.clone()),
            self.operation.as_str()
        );
        if self.operation == Operation::Update && !self.api_version.is_empty() {
            text += &format!(
                ",\"apiVersion\":{}",
                Value::String(self.api_version.clone())
            );
        }
        if !self.subresource.is_empty() {
            text += &format!(
                ",\"subresource\":{}",
                Value::String(self.subresource.clone())
            );
        }
        text + "}"
    }

    /// The manager as conflict messages name it: `"kubectl"`, `"kubectl-edit" using v1`,
    /// `"kube-controller-manager" with subresource "status" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut text = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            text += &format!(
                " with subresource {}",
                Value::String(self.subresource.clone())
            );
        }
        if self.operation == Operation::Update {
            text += &format!(" using {}", self.api_version);
        }
        text
    }

    /// The entry as kube writes it, fields in the order of its Go type.
    pub fn to_json(&self) -> Value {
        let mut entry = Map::new();
        if !self.manager.is_empty() {
            entry.insert("manager".into(), json!(self.manager));
        }
        entry.insert("operation".into(), json!(self.operation.as_str()));
        entry.insert("apiVersion".into(), json!(self.api_version));
        if let Some(time) = &self.time {
            entry.insert("time".into(), json!(time));
        }
        entry.insert("fieldsType".into(), json!("FieldsV1"));
        entry.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            entry.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(entry)
    }

    /// Reads entry number `index`, with kube's complaints about a malformed one.
    pub fn from_json(entry: &Value, index: usize) -> Result<Self, String> {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".into()),
        };
        if text("apiVersion").is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => {
                return Err(format!(
                    "missing fieldsType in managed fields entry {index}"
                ));
            }
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {index}"
                ));
            }
        }
        let fields = match entry.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(v) => {
                FieldSet::from_fields_v1(v).map_err(|e| format!("error decoding set: {e}"))?
            }
        };
        Ok(ManagedFieldsEntry {
            manager: text("manager").to_string(),
            operation,
            api_version: text("apiVersion").to_string(),
            time: entry
                .get("time")
                .and_then(Value::as_str)
                .map(str::to_string),
            subresource: text("subresource").to_string(),
            fields,
        })
    }
}

/// Reads an object's `metadata.managedFields`, in their order; none is an empty list.
pub fn managed_fields(object: &Value) -> Result<Vec<ManagedFieldsEntry>, String> {
    match object.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(entries)) => entries
            .iter()
            .enumerate()
            .map(|(index, entry)| ManagedFieldsEntry::from_json(entry, index))
            .collect(),
        Some(_) => Err("managedFields must be a list".into()),
    }
}

/// The entries by identity. A later entry with the same identity replaces an earlier one, as
/// in kube.
#[derive(Debug, Clone, Default)]
pub(crate) struct Managers(pub BTreeMap<String, ManagedFieldsEntry>);

/// kube keeps at most this many Update entries; older ones merge into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;

impl Managers {
    pub fn decode(list: &Value) -> Result<Managers, String> {
        let entries = match list {
            Value::Null => return Ok(Managers::default()),
            Value::Array(entries) => entries,
            _ => return Err("managedFields must be a list".into()),
        };
        let mut managers = Managers::default();
        for (index, entry) in entries.iter().enumerate() {
            let entry = ManagedFieldsEntry::from_json(entry, index)?;
            managers.0.insert(entry.identity(), entry);
        }
        Ok(managers)
    }

    pub fn decode_object(object: &Value) -> Result<Managers, String> {
        match object.pointer("/metadata/managedFields") {
            Some(list) => Managers::decode(list),
            None => Ok(Managers::default()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, entry: ManagedFieldsEntry) {
        self.0.insert(entry.identity(), entry);
    }

    /// Drops entries left without fields.
    pub fn drop_empty(&mut self) {
        self.0.retain(|_, e| !e.fields.is_empty());
    }

    /// Merges the oldest Update entries into one `ancient-changes` entry per version until at
    /// most [`MAX_UPDATE_MANAGERS`] remain.
    pub fn cap_updates(&mut self) {
        let mut updaters: Vec<(Option<String>, String)> = self
            .0
            .iter()
            .filter(|(_, e)| e.operation == Operation::Update)
            .map(|(id, e)| (e.time.clone(), id.clone()))
            .collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        // Oldest first; an entry without a time counts as the oldest.
        updaters.sort();
        let mut remaining = updaters.len();
        let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
        for (_, id) in updaters {
            if remaining <= MAX_UPDATE_MANAGERS {
                break;
            }
            let Some(entry) = self.0.get(&id).cloned() else {
                continue;
            };
            let version = entry.api_version.clone();
            let Some(first) = first_of_version.get(&version) else {
                first_of_version.insert(version, id);
                continue;
            };
            let mut bucket = ManagedFieldsEntry {
                manager: "ancient-changes".into(),
                operation: Operation::Update,
                api_version: version,
                time: None,
                subresource: String::new(),
                fields: FieldSet::new(),
            };
            let bucket_id = bucket.identity();
            if let Some(existing) = self.0.remove(&bucket_id) {
                bucket.fields = existing.fields;
            } else if let Some(first) = self.0.remove(first) {
                bucket.fields = first.fields;
            }
            self.0.remove(&id);
            bucket.fields = bucket.fields.union(&entry.fields);
            bucket.time = entry.time;
            self.0.insert(bucket_id, bucket);
            remaining -= 1;
        }
    }

    /// The entries in kube's order: appliers first, then by time, manager, version and
    /// subresource.
    pub fn encode(&self) -> Vec<Value> {
        let mut entries: Vec<&ManagedFieldsEntry> = self.0.values().collect();
        entries.sort_by(|a, b| {
            (
                a.operation,
                &a.time,
                &a.manager,
                &a.api_version,
                &a.subresource,
            )
                .cmp(&(
                    b.operation,
                    &b.time,
                    &b.manager,
                    &b.api_version,
                    &b.subresource,
                ))
        });
        entries
            .into_iter()
            .map(ManagedFieldsEntry::to_json)
            .collect()
    }

    /// Writes the entries into `object`'s metadata, or removes `managedFields` when none are left.
    pub fn store(&self, object: &mut Value) {
        let Value::Object(root) = object else {
            return;
        };
        let metadata = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(metadata) = metadata else {
            return;
        };
        if self.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(self.encode()));
        }
    }
}

/// Whether a request's `managedFields` asks to clear them: an empty list, or a list of one
/// empty entry.
pub(crate) fn is_reset(list: &Value) -> bool {
    match list {
        Value::Array(entries) => match entries.as_slice() {
            [] => true,
            [only] => only.as_object().is_some_and(Map::is_empty),
            _ => false,
        },
        _ => false,
    }
}

/// `object` without `metadata.managedFields`.
pub(crate) fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.remove("managedFields");
    }
    object
}
