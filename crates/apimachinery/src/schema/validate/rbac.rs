//! RBAC checks: policy rules, role references and binding subjects.

use serde_json::Value;

use super::field::{
    child, index, invalid, invalid_shown, list_of, not_supported, required, str_of,
};
use crate::schema::names;
use crate::status::Cause;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Rules of a Role (`namespaced`) or ClusterRole.
pub(crate) fn role(errs: &mut Vec<Cause>, obj: &Value, namespaced: bool) {
    for (i, rule) in list_of(obj, "rules").iter().enumerate() {
        let p = index("rules", i);
        if list_of(rule, "verbs").is_empty() {
            errs.push(required(
                &child(&p, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = list_of(rule, "nonResourceURLs");
        if !urls.is_empty() {
            let shown = super::field::go_string_slice(rule.get("nonResourceURLs"));
            if namespaced {
                errs.push(invalid_shown(
                    &child(&p, "nonResourceURLs"),
                    &shown,
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let mixed = ["apiGroups", "resources", "resourceNames"]
                .iter()
                .any(|f| !list_of(rule, f).is_empty());
            if mixed {
                errs.push(invalid_shown(
                    &child(&p, "nonResourceURLs"),
                    &shown,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if list_of(rule, "apiGroups").is_empty() {
            errs.push(required(
                &child(&p, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if list_of(rule, "resources").is_empty() {
            errs.push(required(
                &child(&p, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
        if !list_of(rule, "resourceNames").is_empty() && list_of(rule, "resources").len() > 1 {
            errs.push(required(
                &child(&p, "resourceNames"),
                "resource names cannot apply to multiple resources",
            ));
        }
    }
}

/// The role reference and subjects of a RoleBinding (`namespaced`) or ClusterRoleBinding.
pub(crate) fn binding(errs: &mut Vec<Cause>, obj: &Value, namespaced: bool) {
    let empty = Value::Null;
    let role_ref = obj.get("roleRef").unwrap_or(&empty);
    let group = str_of(role_ref, "apiGroup");
    if group != RBAC_GROUP {
        errs.push(not_supported(
            "roleRef.apiGroup",
            &Value::String(group.into()),
            &[RBAC_GROUP],
        ));
    }
    let kind = str_of(role_ref, "kind");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(not_supported(
            "roleRef.kind",
            &Value::String(kind.into()),
            kinds,
        ));
    }
    let name = str_of(role_ref, "name");
    if name.is_empty() {
        errs.push(required("roleRef.name", ""));
    } else {
        for msg in names::is_valid_path_segment_name(name) {
            errs.push(invalid("roleRef.name", &Value::String(name.into()), &msg));
        }
    }
    for (i, subject) in list_of(obj, "subjects").iter().enumerate() {
        subject_checks(errs, subject, namespaced, &index("subjects", i));
    }
}

fn subject_checks(errs: &mut Vec<Cause>, subject: &Value, namespaced: bool, path: &str) {
    let name = str_of(subject, "name");
    let group = str_of(subject, "apiGroup");
    if name.is_empty() {
        errs.push(required(&child(path, "name"), ""));
    }
    match str_of(subject, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in names::is_dns1123_subdomain(name) {
                    errs.push(invalid(
                        &child(path, "name"),
                        &Value::String(name.into()),
                        &msg,
                    ));
                }
            }
            if !group.is_empty() {
                errs.push(not_supported(
                    &child(path, "apiGroup"),
                    &Value::String(group.into()),
                    &[""],
                ));
            }
            if !namespaced && str_of(subject, "namespace").is_empty() {
                errs.push(required(&child(path, "namespace"), ""));
            }
        }
        kind @ ("User" | "Group") => {
            if name.is_empty() {
                let what = if kind == "User" { "user" } else { "group" };
                errs.push(invalid(
                    &child(path, "name"),
                    &Value::String(String::new()),
                    &format!("{what} name cannot be empty"),
                ));
            }
            if group != RBAC_GROUP {
                errs.push(not_supported(
                    &child(path, "apiGroup"),
                    &Value::String(group.into()),
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errs.push(not_supported(
            &child(path, "kind"),
            &Value::String(other.into()),
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

/// A binding's role reference never changes.
pub(crate) fn binding_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    let empty = Value::Null;
    let (new, before) = (
        obj.get("roleRef").unwrap_or(&empty),
        old.get("roleRef").unwrap_or(&empty),
    );
    let fields = ["apiGroup", "kind", "name"];
    if fields.iter().any(|f| str_of(new, f) != str_of(before, f)) {
        let shown = format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            crate::selector::go_quote(str_of(new, "apiGroup")),
            crate::selector::go_quote(str_of(new, "kind")),
            crate::selector::go_quote(str_of(new, "name"))
        );
        errs.push(invalid_shown("roleRef", &shown, "cannot change roleRef"));
    }
}
