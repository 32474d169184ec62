//! Field ownership for writes other than apply (create, update, patch): the fields a write
//! changes move to its manager's Update entry.

use serde_json::{Map, Value};

use super::fields::{compare, with_skeleton};
use super::managed::{ManagedFieldsEntry, Managers, Operation, is_reset, without_managed_fields};
use super::schema::Schema;
use super::{FieldManager, strip_meta};

/// Records a non-apply write in `new`'s `managedFields`. `old` is the stored object, `None` for
/// a create; `new` is the object about to be stored.
///
/// The fields the write added or changed leave every other entry and join `fm.manager`'s
/// Update entry, whose time becomes `fm.now`; fields it removed leave every entry; entries left
/// empty go. A write that changes nothing changes no entry.
///
/// Which entries the write starts from follows kube: a subresource write starts from `old`'s;
/// a main-resource write starts from those in `new` when it carries some (a client may edit
/// them, and `[]` or `[{}]` clears them), else from `old`'s. Entries that cannot be read are
/// treated as none, as kube does. An update (an `old` with a uid) that starts from no entries
/// records none: kube tracks fields from creation or from the first apply on.
pub fn record_update(old: Option<&Value>, new: &mut Value, fm: &FieldManager<'_>) {
    let stored = || {
        old.and_then(|o| Managers::decode_object(o).ok())
            .unwrap_or_default()
    };
    let managers = if !fm.subresource.is_empty() {
        stored()
    } else {
        match new.pointer("/metadata/managedFields") {
            Some(list) if is_reset(list) => Managers::default(),
            Some(list) => match Managers::decode(list) {
                Ok(managers) if !managers.is_empty() => managers,
                _ => stored(),
            },
            None => stored(),
        }
    };
    *new = without_managed_fields(new);
    // kube starts tracking on create, or on the first apply: an update of an object that has
    // no entries records none (which is how `[{}]` strips them for good).
    let existing = old
        .and_then(|o| o.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .is_some_and(|uid| !uid.is_empty());
    if managers.is_empty() && existing {
        return;
    }
    let old = old.map_or_else(|| Value::Object(Map::new()), without_managed_fields);
    track_changes(&Schema::new(fm.kind), managers, &old, new, fm).store(new);
}

/// Moves the fields `new` adds or changes over `old` to `fm`'s Update entry, and drops the
/// fields it removes from every entry.
pub(crate) fn track_changes(
    schema: &Schema<'_>,
    mut managers: Managers,
    old: &Value,
    new: &Value,
    fm: &FieldManager<'_>,
) -> Managers {
    let skeleton = schema.skeleton();
    let cmp = compare(
        schema,
        &with_skeleton(old, &skeleton),
        &with_skeleton(new, &skeleton),
    )
    .without_subtrees(&fm.reset_fields());
    let changed = cmp.changed();
    for entry in managers.0.values_mut() {
        entry.fields = entry.fields.difference(&changed).difference(&cmp.removed);
    }
    managers.drop_empty();

    let mine = strip_meta(&changed);
    if !mine.is_empty() {
        let mut entry = ManagedFieldsEntry {
            manager: fm.manager.to_string(),
            operation: Operation::Update,
            api_version: fm.api_version.to_string(),
            time: Some(fm.now.to_string()),
            subresource: fm.subresource.to_string(),
            fields: mine,
        };
        if let Some(previous) = managers.0.remove(&entry.identity()) {
            entry.fields = entry.fields.union(&previous.fields);
        }
        managers.insert(entry);
    }
    managers.cap_updates();
    managers
}
