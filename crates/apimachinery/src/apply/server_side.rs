//! Server-side apply: merge the applied configuration into the live object, drop what the
//! manager applied before and no longer applies, and settle ownership, refusing to take fields
//! from other managers unless forced.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::{ApplyError, Conflict};
use super::fields::{compare, field_set, remove_fields, with_skeleton};
use super::managed::{ManagedFieldsEntry, Managers, Operation, without_managed_fields};
use super::merge::merge;
use super::schema::Schema;
use super::set::FieldSet;
use super::update::track_changes;
use super::{FieldManager, strip_meta};

/// The annotation client-side `kubectl apply` keeps its configuration in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Applies `applied` (the request body) to `live` (the stored object, `None` to create) as
/// `fm.manager`, and returns the object to store, with its `managedFields`.
///
/// The result is `live` with the configuration merged in, minus the fields the manager applied
/// last time, no longer applies, and no other manager owns. The manager's Apply entry becomes
/// exactly the configuration's fields. A field the configuration changes that another manager
/// owns is a conflict; with `force` it moves to this manager instead. Defaulting and validation
/// of the result are the caller's, as is checking that the request named a field manager
/// (kube requires one for apply).
///
/// Like kube, the manager `kubectl` gets two allowances for objects once managed by client-side
/// apply: conflicts on fields the last-applied annotation shows it set are forced, and that
/// annotation is kept in step with the configuration.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    force: bool,
    fm: &FieldManager<'_>,
) -> Result<Value, ApplyError> {
    check_request(applied, fm)?;
    let schema = Schema::new(fm.kind);
    let mut managers = match live {
        Some(live) => Managers::decode_object(live)
            .map_err(|e| ApplyError::Invalid(format!("failed to decode managed fields: {e}")))?,
        None => Managers::default(),
    };
    let live = live.map_or_else(|| Value::Object(Map::new()), without_managed_fields);
    if managers.is_empty() {
        // An object nobody tracked yet: what it holds is put down to `before-first-apply`, so
        // the first apply conflicts with the fields it would change.
        let before = FieldManager {
            manager: "before-first-apply",
            ..*fm
        };
        let empty = Value::Object(Map::new());
        managers = track_changes(&schema, managers, &empty, &live, &before);
    }

    let outcome = match apply_once(&schema, managers.clone(), &live, applied, force, fm) {
        Err(Rejection::Conflicts(conflicts)) if fm.manager == "kubectl" => {
            match allowed_by_last_applied(&schema, &live, fm) {
                Some(allowed)
                    if conflicts
                        .values()
                        .all(|(_, s)| s.difference(&allowed).is_empty()) =>
                {
                    apply_once(&schema, managers, &live, applied, true, fm)
                }
                Some(allowed) => Err(Rejection::Conflicts(
                    conflicts
                        .into_iter()
                        .map(|(id, (who, set))| (id, (who, set.difference(&allowed))))
                        .filter(|(_, (_, set))| !set.is_empty())
                        .collect(),
                )),
                None => Err(Rejection::Conflicts(conflicts)),
            }
        }
        other => other,
    };
    let (mut object, mut managers) = outcome.map_err(Rejection::into_error)?;

    let id = applier(fm).identity();
    if let Some(mut entry) = managers.0.remove(&id) {
        entry.fields = strip_meta(&entry.fields);
        if object != live {
            entry.time = Some(fm.now.to_string());
        }
        if !entry.fields.is_empty() {
            managers.insert(entry);
        }
    }
    if fm.manager == "kubectl" {
        sync_last_applied(&mut object, applied);
    }
    managers.store(&mut object);
    Ok(object)
}

/// Conflicting fields by manager identity, with the manager as messages print it.
type Conflicts = BTreeMap<String, (String, FieldSet)>;

enum Rejection {
    Conflicts(Conflicts),
    Error(ApplyError),
}

impl Rejection {
    fn into_error(self) -> ApplyError {
        match self {
            Rejection::Error(e) => e,
            Rejection::Conflicts(conflicts) => ApplyError::Conflicts(
                conflicts
                    .into_values()
                    .flat_map(|(manager, set)| {
                        set.ordered().into_iter().map(move |path| Conflict {
                            manager: manager.clone(),
                            field: path.to_string(),
                        })
                    })
                    .collect(),
            ),
        }
    }
}

/// The Apply entry of `fm`, without fields or time.
fn applier(fm: &FieldManager<'_>) -> ManagedFieldsEntry {
    ManagedFieldsEntry {
        manager: fm.manager.to_string(),
        operation: Operation::Apply,
        api_version: fm.api_version.to_string(),
        time: None,
        subresource: fm.subresource.to_string(),
        fields: FieldSet::new(),
    }
}

/// The merge, prune and ownership steps, before kube strips metadata from the applier's set.
fn apply_once(
    schema: &Schema<'_>,
    mut managers: Managers,
    live: &Value,
    applied: &Value,
    force: bool,
    fm: &FieldManager<'_>,
) -> Result<(Value, Managers), Rejection> {
    let invalid = |e: String| {
        Rejection::Error(ApplyError::Invalid(format!(
            "failed to create typed patch object ({}): {e}",
            describe_object(applied)
        )))
    };
    let reset = fm.reset_fields();
    let applied_set = field_set(schema, applied, true)
        .map_err(invalid)?
        .without_subtrees(&reset);
    let merged = merge(schema, live, applied);

    let mut entry = applier(fm);
    let id = entry.identity();
    let previous = managers.0.remove(&id);
    entry.time = previous.as_ref().and_then(|p| p.time.clone());
    entry.fields = applied_set;
    managers.insert(entry);
    let merged = match previous {
        Some(last) if !last.fields.is_empty() => {
            prune(schema, &merged, &managers, &last.fields).map_err(invalid)?
        }
        _ => merged,
    };

    let skeleton = schema.skeleton();
    let cmp = compare(
        schema,
        &with_skeleton(live, &skeleton),
        &with_skeleton(&merged, &skeleton),
    )
    .without_subtrees(&reset);
    let changed = cmp.changed();
    let conflicts: Conflicts = managers
        .0
        .iter()
        .filter(|(other, _)| **other != id)
        .map(|(other, e)| {
            (
                other.clone(),
                (e.describe(), e.fields.intersection(&changed)),
            )
        })
        .filter(|(_, (_, set))| !set.is_empty())
        .collect();
    if !force && !conflicts.is_empty() {
        return Err(Rejection::Conflicts(conflicts));
    }
    for (other, entry) in managers.0.iter_mut() {
        if *other != id {
            entry.fields = entry.fields.difference(&changed).difference(&cmp.removed);
        }
    }
    managers.drop_empty();
    Ok((merged, managers))
}

/// Removes from `merged` what the applier owned last time (`last`) unless someone, the
/// applier's new configuration included, still owns it. Owning a field below another counts as
/// owning that one too, so removing a field never takes away what another manager owns below
/// it.
fn prune(
    schema: &Schema<'_>,
    merged: &Value,
    managers: &Managers,
    last: &FieldSet,
) -> Result<Value, String> {
    let last = last.with_parent_fields();
    let fields_of = |v: &Value| field_set(schema, v, false).map(|s| s.with_parent_fields());
    let merged_set = fields_of(merged)?;
    let owned = managers
        .0
        .values()
        .fold(FieldSet::new(), |all, e| all.union(&e.fields))
        .with_parent_fields();

    // First drop all the applier owned last time, then put back whatever anyone still owns.
    let without_last = remove_fields(schema, merged, &last);
    let unowned = merged_set.difference(&fields_of(&without_last)?.union(&owned));
    let kept = remove_fields(schema, merged, &unowned);
    // Only what the applier owned last time may go: fields nobody ever owned stay.
    let gone = merged_set
        .difference(&fields_of(&kept)?)
        .intersection(&last);
    Ok(remove_fields(schema, merged, &gone))
}

/// The fields the live object's last-applied annotation shows `kubectl apply` set and that
/// still hold those values: conflicts on them are ones the user made by switching from
/// client-side to server-side apply. `None` when there is no usable annotation.
fn allowed_by_last_applied(
    schema: &Schema<'_>,
    live: &Value,
    fm: &FieldManager<'_>,
) -> Option<FieldSet> {
    let text = live
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|t| !t.is_empty())?;
    let last: Value = serde_json::from_str(text).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(fm.api_version) {
        return None;
    }
    let set = field_set(schema, &last, true).ok()?;
    let cmp = compare(schema, &last, live);
    Some(
        set.difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// Rewrites an existing last-applied annotation with the applied configuration, as kube does
/// for `kubectl apply --server-side`, so a later client-side apply computes from it.
fn sync_last_applied(object: &mut Value, applied: &Value) {
    let Some(annotations) = object
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if annotations
        .get(LAST_APPLIED)
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return;
    }
    let mut config = applied.clone();
    if let Some(Value::Object(own)) = config
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        own.remove(LAST_APPLIED);
    }
    // kube encodes with a JSON encoder that ends the text with a newline.
    annotations.insert(LAST_APPLIED.into(), Value::String(format!("{config}\n")));
}

/// kube's checks on an apply request before any merging.
fn check_request(applied: &Value, fm: &FieldManager<'_>) -> Result<(), ApplyError> {
    let text = |key: &str| applied.get(key).and_then(Value::as_str).unwrap_or_default();
    if !applied.is_object() || text("apiVersion") != fm.api_version || text("kind") != fm.kind {
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {}",
            group_version_kind(text("apiVersion"), text("kind"))
        )));
    }
    match applied.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        )),
    }
}

/// `apps/v1, Kind=Deployment`, or `/v1, Kind=ConfigMap` for the core group, as Go prints a
/// GroupVersionKind. An apiVersion Go cannot parse gives the empty one.
fn group_version_kind(api_version: &str, kind: &str) -> String {
    let (group, version, kind) = match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [version] => ("", *version, kind),
        [group, version] => (*group, *version, kind),
        _ => ("", "", ""),
    };
    format!("{group}/{version}, Kind={kind}")
}

/// `default/web; apps/v1, Kind=Deployment`: how kube names the object in apply errors.
fn describe_object(object: &Value) -> String {
    let meta = |key: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    format!(
        "{}/{}; {}",
        meta("namespace"),
        meta("name"),
        group_version_kind(text("apiVersion"), text("kind"))
    )
}
